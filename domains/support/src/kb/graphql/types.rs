//! GraphQL types of the knowledge base.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, InputObject, Object};
use auth::graphql::loaders::UserLoader;
use auth::graphql::types::UserNode;
use chrono::{DateTime, Utc};
use kernel::pagination::PageConnection;
use kernel::{Principal, Viewer};

use crate::graphql::types::id;
use crate::kb::model::{
    ArticleKey, ArticleView, Category, CategoryKey, KbArticleStatus, SearchHit,
};
use crate::kb::policy::may_write;

/// The signed-in caller, if any; never an error, since reads are public.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    ctx.data_opt::<Viewer>().and_then(Viewer::principal)
}

/// A [`Category`] row as the GraphQL `KbCategory`.
pub struct KbCategoryNode(pub Category);

/// A section of the public knowledge base, e.g. "Billing"; readable by
/// anyone, signed in or not, and written by staff (`support:kb.write`).
#[Object(name = "KbCategory")]
impl KbCategoryNode {
    /// Stable identifier of the category; pass it as `categoryId` to the
    /// article filters and mutations.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Unique URL slug, e.g. `billing`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// The category's heading as readers see it (at most 120 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the category covers, as plain text (at most 2,000 characters;
    /// may be empty).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Display order; lists are sorted by it, ascending.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// When the category was created, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the category's name, slug, description or position last changed, in UTC.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// An [`ArticleView`] (an article with its category) as the GraphQL `KbArticle`.
pub struct KbArticleNode(pub ArticleView);

/// A help article of the knowledge base. Published articles are public
/// (signed in or not) and searchable; drafts are seen only by staff who
/// write the knowledge base (`support:kb.write`).
#[Object(name = "KbArticle")]
impl KbArticleNode {
    /// Stable identifier of the article; pass it to the article mutations.
    async fn id(&self) -> ID {
        id(self.0.article.id)
    }

    /// Unique URL slug, e.g. `reset-your-password`; `kbArticle(slug:)` finds it.
    async fn slug(&self) -> &str {
        &self.0.article.slug
    }

    /// Heading of the article as readers see it (at most 200 characters).
    async fn title(&self) -> &str {
        &self.0.article.title
    }

    /// The article's content as Markdown source (at most 200,000
    /// characters); render it to HTML with a sanitizing renderer.
    async fn body_markdown(&self) -> &str {
        &self.0.article.body_markdown
    }

    /// `DRAFT` (staff only) or `PUBLISHED` (public).
    async fn status(&self) -> KbArticleStatus {
        self.0.article.status
    }

    /// The category the article is filed under; null when it has none (e.g.
    /// its category was deleted).
    async fn category(&self) -> Option<KbCategoryNode> {
        self.0.category.clone().map(KbCategoryNode)
    }

    /// Who wrote it; only staff who write the knowledge base see it (null for everyone else).
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let Some(author) = self.0.article.author_id else {
            return Ok(None);
        };
        if !may_write(viewer(ctx)) {
            return Ok(None);
        }
        let Some(loader) = ctx.data_opt::<DataLoader<UserLoader>>() else {
            return Ok(None);
        };
        Ok(loader.load_one(author).await?.map(UserNode))
    }

    /// When it was (last) published, in UTC; null for drafts.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.article.published_at
    }

    /// When the article was created, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.article.created_at
    }

    /// When the article's title, body, category, slug or status last changed, in UTC.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.article.updated_at
    }
}

/// Cost of `KbSearchHit.snippet`: `ts_headline` over the article's body.
pub const SNIPPET_COST: usize = 5;

/// A [`SearchHit`] as the GraphQL `KbSearchHit`.
pub struct KbSearchHitNode(pub SearchHit);

/// One result of `searchKnowledgeBase`: a published article, how well it
/// matched and where.
#[Object(name = "KbSearchHit")]
impl KbSearchHitNode {
    /// The published article.
    async fn article(&self) -> KbArticleNode {
        KbArticleNode(self.0.article.clone())
    }

    /// Relevance (PostgreSQL `ts_rank_cd`; title matches weigh more than body
    /// matches); results come highest first. Only comparable within one search.
    async fn rank(&self) -> f64 {
        // The shortest decimal form of the `real`, e.g. 0.4 rather than 0.4000000059604645.
        let rank = self.0.rank;
        rank.to_string().parse().unwrap_or(f64::from(rank))
    }

    /// Up to two fragments of the body as plain text, markdown roughly stripped
    /// and HTML-escaped, with the matched words wrapped in `<mark>`...`</mark>`
    /// (the only markup; safe to render as HTML). The body's beginning when only
    /// the title matched.
    #[graphql(complexity = "SNIPPET_COST")]
    async fn snippet(&self) -> &str {
        &self.0.snippet
    }
}

/// A page of knowledge base categories.
pub type KbCategoryConnection = PageConnection<CategoryKey, KbCategoryNode>;
/// A page of knowledge base articles.
pub type KbArticleConnection = PageConnection<ArticleKey, KbArticleNode>;

/// Filters of `kbArticles`; all given filters apply.
#[derive(InputObject, Default)]
pub struct KbArticleFilter {
    /// Only articles of this category.
    pub category_id: Option<ID>,
    /// Only articles of the category with this slug.
    pub category_slug: Option<String>,
    /// Only this status. Honoured only for staff who write the knowledge base;
    /// everyone else always gets published articles only.
    pub status: Option<KbArticleStatus>,
}

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

/// A category of knowledge base articles.
pub struct KbCategoryNode(pub Category);

#[Object(name = "KbCategory")]
impl KbCategoryNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Unique URL slug, e.g. `billing`.
    async fn slug(&self) -> &str {
        &self.0.slug
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Description (may be empty).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Display order; lists are sorted by it, ascending.
    async fn position(&self) -> i32 {
        self.0.position
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A knowledge base article.
pub struct KbArticleNode(pub ArticleView);

#[Object(name = "KbArticle")]
impl KbArticleNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.article.id)
    }

    /// Unique URL slug, e.g. `reset-your-password`; `kbArticle(slug:)` finds it.
    async fn slug(&self) -> &str {
        &self.0.article.slug
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.article.title
    }

    /// Body, in markdown.
    async fn body_markdown(&self) -> &str {
        &self.0.article.body_markdown
    }

    /// DRAFT or PUBLISHED.
    async fn status(&self) -> KbArticleStatus {
        self.0.article.status
    }

    /// The category, if it has one.
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

    /// When it was published; null for drafts.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.article.published_at
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.article.created_at
    }

    /// When it last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.article.updated_at
    }
}

/// Cost of `KbSearchHit.snippet`: `ts_headline` over the article's body.
pub const SNIPPET_COST: usize = 5;

/// One result of `searchKnowledgeBase`.
pub struct KbSearchHitNode(pub SearchHit);

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

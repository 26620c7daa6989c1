//! The knowledge base over GraphQL: public reads (published articles need no
//! sign-in), full-text search, and staff writes guarded by `support:kb.write`.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object};
use auth::graphql::loaders::UserLoader;
use auth::graphql::types::UserNode;
use chrono::{DateTime, Utc};
use kernel::ids::parse_id;
use kernel::pagination::{TotalCount, page_size};
use kernel::{AppError, Deps, Principal, RequirePermission, Viewer, caller};

use crate::kb::{
    ArticleChanges, ArticleCursor, ArticleFilter, ArticleStatus, ArticleView, Category,
    CategoryChanges, CategoryCursor, KnowledgeBase, NewArticle, NewCategory, SearchHit, may_write,
};

/// The knowledge base service: the installed one, else one on the server's pool.
fn knowledge_base(ctx: &Context<'_>) -> Result<Arc<KnowledgeBase>, AppError> {
    if let Some(service) = ctx.data_opt::<Arc<KnowledgeBase>>() {
        return Ok(service.clone());
    }
    ctx.data_opt::<Deps>()
        .map(|deps| Arc::new(KnowledgeBase::new(deps.db.clone())))
        .ok_or_else(|| {
            AppError::internal(std::io::Error::other(
                "the knowledge base has no database in the schema data",
            ))
        })
}

/// The signed-in caller, if any; never an error, since reads are public.
fn viewer<'a>(ctx: &Context<'a>) -> Option<&'a Principal> {
    ctx.data_opt::<Viewer>().and_then(Viewer::principal)
}

fn max_page(ctx: &Context<'_>) -> usize {
    ctx.data_opt::<Deps>()
        .map_or(100, |deps| deps.max_page_size)
}

fn id(value: uuid::Uuid) -> ID {
    ID(value.to_string())
}

/// Whether a knowledge base article is public.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum KbArticleStatus {
    /// Visible only to staff who write the knowledge base.
    Draft,
    /// Visible to everyone, signed in or not.
    Published,
}

impl From<ArticleStatus> for KbArticleStatus {
    fn from(status: ArticleStatus) -> Self {
        match status {
            ArticleStatus::Draft => Self::Draft,
            ArticleStatus::Published => Self::Published,
        }
    }
}

impl From<KbArticleStatus> for ArticleStatus {
    fn from(status: KbArticleStatus) -> Self {
        match status {
            KbArticleStatus::Draft => Self::Draft,
            KbArticleStatus::Published => Self::Published,
        }
    }
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
        self.0.article.status().into()
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
    async fn snippet(&self) -> &str {
        &self.0.snippet
    }
}

/// A page of knowledge base categories.
pub type KbCategoryConnection = Connection<String, KbCategoryNode, TotalCount, EmptyFields>;
/// A page of knowledge base articles.
pub type KbArticleConnection = Connection<String, KbArticleNode, TotalCount, EmptyFields>;

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

/// Knowledge base queries; readable without signing in.
#[derive(Default)]
pub struct KnowledgeBaseQuery;

#[Object]
impl KnowledgeBaseQuery {
    /// Knowledge base categories by position (then creation order). Public.
    async fn kb_categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most the server's maximum page size).")]
        first: Option<i32>,
        #[graphql(desc = "Cursor of the last category of the previous page.")] after: Option<
            String,
        >,
    ) -> async_graphql::Result<KbCategoryConnection> {
        let limit = page_size(first, max_page(ctx))?;
        let cursor = after.as_deref().map(CategoryCursor::decode).transpose()?;
        let page = knowledge_base(ctx)?.categories(cursor, limit).await?;
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            page.has_next,
            TotalCount {
                total_count: page.total,
            },
        );
        connection
            .edges
            .extend(page.rows.into_iter().map(|category| {
                Edge::new(
                    CategoryCursor::of(&category).encode(),
                    KbCategoryNode(category),
                )
            }));
        Ok(connection)
    }

    /// Knowledge base articles, most recently published first (drafts by
    /// creation time). Everyone sees published articles without signing in;
    /// staff who write the knowledge base also see drafts and may filter on status.
    async fn kb_articles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which articles; all given filters apply.")] filter: Option<
            KbArticleFilter,
        >,
        #[graphql(desc = "Page size (default 20, at most the server's maximum page size).")]
        first: Option<i32>,
        #[graphql(desc = "Cursor of the last article of the previous page.")] after: Option<String>,
    ) -> async_graphql::Result<KbArticleConnection> {
        let limit = page_size(first, max_page(ctx))?;
        let filter = filter.unwrap_or_default();
        let filter = ArticleFilter {
            category_id: filter
                .category_id
                .as_ref()
                .map(|id| parse_id(id, "filter.categoryId"))
                .transpose()?,
            category_slug: filter.category_slug.map(|slug| slug.trim().to_string()),
            status: filter.status.map(ArticleStatus::from),
        };
        let cursor = after.as_deref().map(ArticleCursor::decode).transpose()?;
        let page = knowledge_base(ctx)?
            .articles(viewer(ctx), &filter, cursor, limit)
            .await?;
        let mut connection = Connection::with_additional_fields(
            after.is_some(),
            page.has_next,
            TotalCount {
                total_count: page.total,
            },
        );
        connection.edges.extend(page.rows.into_iter().map(|view| {
            Edge::new(
                ArticleCursor::of(&view.article).encode(),
                KbArticleNode(view),
            )
        }));
        Ok(connection)
    }

    /// One knowledge base article by slug. Published articles are public;
    /// drafts are NOT_FOUND except for staff who write the knowledge base.
    async fn kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's slug, e.g. `reset-your-password`.")] slug: String,
    ) -> async_graphql::Result<KbArticleNode> {
        Ok(KbArticleNode(
            knowledge_base(ctx)?
                .article_by_slug(viewer(ctx), &slug)
                .await?,
        ))
    }

    /// Full-text search over published knowledge base articles (English
    /// stemming), best match first: title matches rank above body matches,
    /// ties go to the most recently published. A blank query is BAD_USER_INPUT.
    async fn search_knowledge_base(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "What to look for, at most 200 characters, in web-search syntax: words, \"quoted phrases\", `or`, `-excluded`."
        )]
        query: String,
        #[graphql(desc = "How many results (default 20, at most the server's maximum page size).")]
        first: Option<i32>,
    ) -> async_graphql::Result<Vec<KbSearchHitNode>> {
        let limit = page_size(first, max_page(ctx))?;
        Ok(knowledge_base(ctx)?
            .search(&query, limit)
            .await?
            .into_iter()
            .map(KbSearchHitNode)
            .collect())
    }
}

/// Input of `createKbCategory`.
#[derive(InputObject)]
pub struct CreateKbCategoryInput {
    /// Display name (at most 120 characters).
    pub name: String,
    /// URL slug: lower-case letters and digits in words separated by single
    /// hyphens, at most 100 characters. Generated from the name when omitted
    /// (`-2`, `-3`, ... appended when taken); a given slug that is taken is CONFLICT.
    pub slug: Option<String>,
    /// Description (at most 2000 characters).
    pub description: Option<String>,
    /// Display order; after the last category when omitted.
    pub position: Option<i32>,
}

/// Input of `updateKbCategory`; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateKbCategoryInput {
    /// The category.
    pub category_id: ID,
    /// Display name.
    pub name: Option<String>,
    /// New URL slug (same rules as when creating; the old slug stops working).
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Display order.
    pub position: Option<i32>,
}

/// Input of `createKbArticle`; the article starts as a DRAFT.
#[derive(InputObject)]
pub struct CreateKbArticleInput {
    /// Title (at most 200 characters).
    pub title: String,
    /// Body, in markdown.
    pub body_markdown: String,
    /// The category.
    pub category_id: ID,
    /// URL slug: lower-case letters and digits in words separated by single
    /// hyphens, at most 100 characters. Generated from the title when omitted
    /// (`-2`, `-3`, ... appended when taken); a given slug that is taken is CONFLICT.
    pub slug: Option<String>,
}

/// Input of `updateKbArticle`; omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateKbArticleInput {
    /// The article.
    pub article_id: ID,
    /// Title (the slug stays unless `slug` is given).
    pub title: Option<String>,
    /// Body, in markdown.
    pub body_markdown: Option<String>,
    /// Category (null leaves the article without one).
    pub category_id: MaybeUndefined<ID>,
    /// New URL slug (same rules as when creating; the old slug stops working).
    pub slug: Option<String>,
}

/// Knowledge base mutations; staff with `support:kb.write` only.
#[derive(Default)]
pub struct KnowledgeBaseMutation;

#[Object]
impl KnowledgeBaseMutation {
    /// Creates a knowledge base category (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn create_kb_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new category.")] input: CreateKbCategoryInput,
    ) -> async_graphql::Result<KbCategoryNode> {
        let input = NewCategory {
            name: input.name,
            slug: input.slug,
            description: input.description,
            position: input.position,
        };
        Ok(KbCategoryNode(
            knowledge_base(ctx)?
                .create_category(caller(ctx)?, input)
                .await?,
        ))
    }

    /// Changes a knowledge base category (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn update_kb_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category and the changes.")] input: UpdateKbCategoryInput,
    ) -> async_graphql::Result<KbCategoryNode> {
        let id = parse_id(&input.category_id, "input.categoryId")?;
        let changes = CategoryChanges {
            name: input.name,
            slug: input.slug,
            description: input.description,
            position: input.position,
        };
        Ok(KbCategoryNode(
            knowledge_base(ctx)?
                .update_category(caller(ctx)?, id, changes)
                .await?,
        ))
    }

    /// Deletes a knowledge base category and answers it as it was; its
    /// articles stay, without a category (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn delete_kb_category(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The category.")] id: ID,
    ) -> async_graphql::Result<KbCategoryNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbCategoryNode(
            knowledge_base(ctx)?
                .delete_category(caller(ctx)?, id)
                .await?,
        ))
    }

    /// Creates a DRAFT knowledge base article written by you (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn create_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new article.")] input: CreateKbArticleInput,
    ) -> async_graphql::Result<KbArticleNode> {
        let input = NewArticle {
            category_id: Some(parse_id(&input.category_id, "input.categoryId")?),
            title: input.title,
            body_markdown: input.body_markdown,
            slug: input.slug,
        };
        Ok(KbArticleNode(
            knowledge_base(ctx)?
                .create_article(caller(ctx)?, input)
                .await?,
        ))
    }

    /// Changes a knowledge base article's title, body, category or slug (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn update_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article and the changes.")] input: UpdateKbArticleInput,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&input.article_id, "input.articleId")?;
        let category_id = match &input.category_id {
            MaybeUndefined::Undefined => None,
            MaybeUndefined::Null => Some(None),
            MaybeUndefined::Value(category) => Some(Some(parse_id(category, "input.categoryId")?)),
        };
        let changes = ArticleChanges {
            title: input.title,
            body_markdown: input.body_markdown,
            category_id,
            slug: input.slug,
        };
        Ok(KbArticleNode(
            knowledge_base(ctx)?
                .update_article(caller(ctx)?, id, changes)
                .await?,
        ))
    }

    /// Publishes a knowledge base article: from now on anyone can read it and
    /// find it by search. Publishing a published article changes nothing (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn publish_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article.")] id: ID,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbArticleNode(
            knowledge_base(ctx)?
                .publish_article(caller(ctx)?, id)
                .await?,
        ))
    }

    /// Turns a knowledge base article back into a DRAFT, hidden from the public (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn unpublish_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article.")] id: ID,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbArticleNode(
            knowledge_base(ctx)?
                .unpublish_article(caller(ctx)?, id)
                .await?,
        ))
    }

    /// Deletes a knowledge base article for good and answers it as it was (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn delete_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article.")] id: ID,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbArticleNode(
            knowledge_base(ctx)?
                .delete_article(caller(ctx)?, id)
                .await?,
        ))
    }
}

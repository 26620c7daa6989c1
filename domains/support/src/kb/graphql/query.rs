//! Knowledge base queries.

use async_graphql::{Context, Object};
use kernel::RequestMeta;
use kernel::ids::parse_id;
use kernel::pagination::{PageRequest, max_page_size, page_size};

use super::knowledge_base;
use super::types::{
    KbArticleConnection, KbArticleFilter, KbArticleNode, KbCategoryConnection, KbCategoryNode,
    KbSearchHitNode, viewer,
};
use crate::kb::model::{ArticleFilter, Category};

/// Knowledge base queries, merged into `SupportQuery`; readable without signing in.
#[derive(Default)]
pub struct KbQuery;

#[Object]
impl KbQuery {
    /// Knowledge base categories by position (then creation order). Public.
    #[graphql(complexity = "kernel::cost::page(first, child_complexity)")]
    async fn kb_categories(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Page size (default 20, at most the server's maximum page size).")]
        first: Option<i32>,
        #[graphql(desc = "`pageInfo.endCursor` of the previous page; omitted for the first page.")]
        after: Option<String>,
    ) -> async_graphql::Result<KbCategoryConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let categories = knowledge_base(ctx)
            .categories(page.after, page.limit)
            .await?;
        Ok(page.connection(categories, Category::key, KbCategoryNode))
    }

    /// Knowledge base articles, most recently published first (drafts by
    /// creation time). Everyone sees published articles without signing in;
    /// staff who write the knowledge base also see drafts and may filter on status.
    #[graphql(complexity = "kernel::cost::page(first, child_complexity)")]
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
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let filter = filter.unwrap_or_default();
        let filter = ArticleFilter {
            category_id: filter
                .category_id
                .as_ref()
                .map(|id| parse_id(id, "filter.categoryId"))
                .transpose()?,
            category_slug: filter.category_slug.map(|slug| slug.trim().to_string()),
            status: filter.status,
        };
        let articles = knowledge_base(ctx)
            .articles(viewer(ctx), &filter, page.after, page.limit)
            .await?;
        Ok(page.connection(articles, |view| view.article.key(), KbArticleNode))
    }

    /// One knowledge base article by slug. Published articles are public;
    /// drafts are NOT_FOUND except for staff who write the knowledge base.
    async fn kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The article's slug, e.g. `reset-your-password`.")] slug: String,
    ) -> async_graphql::Result<KbArticleNode> {
        Ok(KbArticleNode(
            knowledge_base(ctx)
                .article_by_slug(viewer(ctx), &slug)
                .await?,
        ))
    }

    /// Full-text search over published knowledge base articles (English
    /// stemming), best match first: title matches rank above body matches,
    /// ties go to the most recently published. A blank query is BAD_USER_INPUT.
    // One statement more than a page: the rate-limit counter.
    #[graphql(complexity = "kernel::cost::page(first, child_complexity) + kernel::cost::STATEMENT")]
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
        let limit = page_size(first, max_page_size(ctx))?;
        let meta = ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default();
        Ok(knowledge_base(ctx)
            .search(viewer(ctx), &meta, &query, limit)
            .await?
            .into_iter()
            .map(KbSearchHitNode)
            .collect())
    }
}

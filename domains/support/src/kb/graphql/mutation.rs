//! Knowledge base mutations.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use kernel::ids::parse_id;
use kernel::{RequirePermission, caller};

use super::knowledge_base;
use super::types::{KbArticleNode, KbCategoryNode};
use crate::kb::model::{ArticleChanges, CategoryChanges, NewArticle, NewCategory};

/// A new knowledge base category (`createKbCategory`).
#[derive(InputObject)]
pub struct CreateKbCategoryInput {
    /// Display name (at most 120 characters).
    pub name: String,
    /// URL slug: lower-case letters and digits in words separated by single
    /// hyphens, at most 100 characters. Generated from the name when omitted
    /// (`-2`, `-3`, ... appended when taken); a given slug that is taken is CONFLICT.
    pub slug: Option<String>,
    /// What the category covers, as plain text (at most 2,000 characters);
    /// empty when omitted.
    pub description: Option<String>,
    /// Display order; after the last category when omitted.
    pub position: Option<i32>,
}

/// Changes to a knowledge base category (`updateKbCategory`); omitted
/// fields keep their value.
#[derive(InputObject)]
pub struct UpdateKbCategoryInput {
    /// `KbCategory.id` of the category to change.
    pub category_id: ID,
    /// New heading (at most 120 characters).
    pub name: Option<String>,
    /// New URL slug (same rules as when creating; the old slug stops working).
    pub slug: Option<String>,
    /// New plain-text description (at most 2,000 characters); an empty string clears it.
    pub description: Option<String>,
    /// New place in the list; categories sort by it, ascending.
    pub position: Option<i32>,
}

/// A new knowledge base article (`createKbArticle`); it starts as a `DRAFT`.
#[derive(InputObject)]
pub struct CreateKbArticleInput {
    /// Title (at most 200 characters).
    pub title: String,
    /// Content as Markdown source (required, at most 200,000 characters).
    pub body_markdown: String,
    /// `KbCategory.id` of the category to file the article under.
    pub category_id: ID,
    /// URL slug: lower-case letters and digits in words separated by single
    /// hyphens, at most 100 characters. Generated from the title when omitted
    /// (`-2`, `-3`, ... appended when taken); a given slug that is taken is CONFLICT.
    pub slug: Option<String>,
}

/// Changes to a knowledge base article (`updateKbArticle`); omitted fields
/// keep their value, and a published article stays published.
#[derive(InputObject)]
pub struct UpdateKbArticleInput {
    /// `KbArticle.id` of the article to change.
    pub article_id: ID,
    /// New title, at most 200 characters (the slug stays unless `slug` is given).
    pub title: Option<String>,
    /// New content as Markdown source (at most 200,000 characters).
    pub body_markdown: Option<String>,
    /// Category (null leaves the article without one).
    pub category_id: MaybeUndefined<ID>,
    /// New URL slug (same rules as when creating; the old slug stops working).
    pub slug: Option<String>,
}

/// Knowledge base mutations, merged into `SupportMutation`; staff with `support:kb.write` only.
#[derive(Default)]
pub struct KbMutation;

#[Object]
impl KbMutation {
    /// Creates a knowledge base category (staff: `support:kb.write`); it is
    /// public at once.
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
            knowledge_base(ctx)
                .create_category(caller(ctx)?, input)
                .await?,
        ))
    }

    /// Changes a knowledge base category (staff: `support:kb.write`).
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
            knowledge_base(ctx)
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
        #[graphql(desc = "`KbCategory.id` of the category; its articles are kept.")] id: ID,
    ) -> async_graphql::Result<KbCategoryNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbCategoryNode(
            knowledge_base(ctx)
                .delete_category(caller(ctx)?, id)
                .await?,
        ))
    }

    /// Creates a `DRAFT` knowledge base article written by you (staff:
    /// `support:kb.write`); publish it with `publishKbArticle`.
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
            knowledge_base(ctx)
                .create_article(caller(ctx)?, input)
                .await?,
        ))
    }

    /// Changes a knowledge base article's title, body, category or slug
    /// (staff: `support:kb.write`); a published article's changes are public at once.
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
            knowledge_base(ctx)
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
        #[graphql(desc = "`KbArticle.id` of the draft to make public.")] id: ID,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbArticleNode(
            knowledge_base(ctx)
                .publish_article(caller(ctx)?, id)
                .await?,
        ))
    }

    /// Turns a knowledge base article back into a DRAFT, hidden from the public (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn unpublish_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`KbArticle.id` of the published article to hide.")] id: ID,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbArticleNode(
            knowledge_base(ctx)
                .unpublish_article(caller(ctx)?, id)
                .await?,
        ))
    }

    /// Deletes a knowledge base article for good and answers it as it was (staff).
    #[graphql(guard = "RequirePermission(\"support:kb.write\")")]
    async fn delete_kb_article(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`KbArticle.id` of the article; deleting cannot be undone.")] id: ID,
    ) -> async_graphql::Result<KbArticleNode> {
        let id = parse_id(&id, "id")?;
        Ok(KbArticleNode(
            knowledge_base(ctx).delete_article(caller(ctx)?, id).await?,
        ))
    }
}

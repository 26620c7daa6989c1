//! Rows of the knowledge base tables and the inputs of its use cases.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::db_enum;
use kernel::schema::{kb_articles, kb_categories};
use uuid::Uuid;

db_enum! {
    /// Whether a knowledge base article is public.
    KbArticleStatus {
        /// Visible only to staff who write the knowledge base.
        Draft = "draft",
        /// Visible to everyone, signed in or not.
        Published = "published",
    }
}

/// A category of articles.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = kb_categories, check_for_backend(diesel::pg::Pg))]
pub struct Category {
    /// Id.
    pub id: Uuid,
    /// Unique URL slug.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Description (plain text or markdown).
    pub description: String,
    /// Display order, ascending.
    pub position: i32,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

/// Sort key of the category list, ascending: (position, id).
pub type CategoryKey = (i32, Uuid);

impl Category {
    /// This category's place in the category list.
    pub fn key(&self) -> CategoryKey {
        (self.position, self.id)
    }
}

/// An article, without its generated search vector.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
#[diesel(table_name = kb_articles, check_for_backend(diesel::pg::Pg))]
pub struct Article {
    /// Id.
    pub id: Uuid,
    /// Category, if any.
    pub category_id: Option<Uuid>,
    /// Unique URL slug.
    pub slug: String,
    /// Title.
    pub title: String,
    /// Body (markdown).
    pub body_markdown: String,
    /// Draft or published.
    pub status: KbArticleStatus,
    /// Who wrote it.
    pub author_id: Option<Uuid>,
    /// When it was (last) published; `None` for drafts.
    pub published_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl Article {
    /// The sort key of article lists: publication time, or creation time for drafts.
    pub fn sort_at(&self) -> DateTime<Utc> {
        self.published_at.unwrap_or(self.created_at)
    }

    /// This article's place in article lists.
    pub fn key(&self) -> ArticleKey {
        (self.sort_at(), self.id)
    }
}

/// Sort key of article lists, descending: (publication or creation time, id).
pub type ArticleKey = (DateTime<Utc>, Uuid);

/// An article with its category.
#[derive(Debug, Clone)]
pub struct ArticleView {
    /// The article.
    pub article: Article,
    /// Its category, if any.
    pub category: Option<Category>,
}

/// One search result.
#[derive(Debug, Clone)]
pub struct SearchHit {
    /// The published article.
    pub article: ArticleView,
    /// `ts_rank_cd` of the article for the query; higher is better.
    pub rank: f32,
    /// Fragments of the body as plain text (HTML-escaped, markdown roughly
    /// stripped) with the matches wrapped in `<mark>`...`</mark>`.
    pub snippet: String,
}

/// Filters of the article list.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only the category with this slug.
    pub category_slug: Option<String>,
    /// Only this status; honoured for staff with `support:kb.write` only
    /// (everyone else sees published articles only).
    pub status: Option<KbArticleStatus>,
}

/// Fields of a new category.
#[derive(Debug, Clone, Default)]
pub struct NewCategory {
    /// Display name.
    pub name: String,
    /// Slug; generated from the name when `None`.
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Display order; after the last category when `None`.
    pub position: Option<i32>,
}

/// Changes to a category; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct CategoryChanges {
    /// Display name.
    pub name: Option<String>,
    /// Slug (validated; the old one stops working).
    pub slug: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Display order.
    pub position: Option<i32>,
}

/// Fields of a new article; it starts as a draft.
#[derive(Debug, Clone, Default)]
pub struct NewArticle {
    /// Title.
    pub title: String,
    /// Body (markdown).
    pub body_markdown: String,
    /// Category.
    pub category_id: Option<Uuid>,
    /// Slug; generated from the title when `None`.
    pub slug: Option<String>,
}

/// Changes to an article; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct ArticleChanges {
    /// Title (the slug stays unless `slug` is given).
    pub title: Option<String>,
    /// Body (markdown).
    pub body_markdown: Option<String>,
    /// Category (`Some(None)` leaves the article without one).
    pub category_id: Option<Option<Uuid>>,
    /// Slug (validated; the old one stops working).
    pub slug: Option<String>,
}

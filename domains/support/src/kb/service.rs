//! The knowledge base's use cases, one transaction each: reads for everyone,
//! writes for staff with `support:kb.write`.

use std::collections::HashSet;
use std::time::Duration;

use auth::rate_limit::{self, Budget};

use chrono::Utc;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::error::violated_constraint;
use kernel::pagination::Page;
use kernel::schema::{kb_articles, kb_categories};
use kernel::validate::required_text;
use kernel::{AppError, Db, ErrorCode, FieldError, Principal, RequestMeta};
use uuid::Uuid;

use super::model::{
    Article, ArticleChanges, ArticleFilter, ArticleKey, ArticleView, Category, CategoryChanges,
    CategoryKey, KbArticleStatus, NewArticle, NewCategory, SearchHit,
};
use super::policy::KB_WRITE;
use super::repo::{self, with_category};
use super::slug::{given_slug, slug_candidate, slugify};

/// Longest category name.
const NAME_MAX_CHARS: usize = 120;
/// Longest category description.
const DESCRIPTION_MAX_CHARS: usize = 2_000;
/// Longest article title.
const TITLE_MAX_CHARS: usize = 200;
/// Longest article body (markdown).
const BODY_MAX_CHARS: usize = 200_000;

/// Trimmed text of at most `max` characters.
fn optional_text(value: &str, field: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.chars().count() > max {
        return Err(FieldError {
            field: field.into(),
            message: format!("Use at most {max} characters"),
        });
    }
    Ok(value.to_string())
}

/// Collects field errors into one `BAD_USER_INPUT`.
struct Checks(Vec<FieldError>);

impl Checks {
    fn new() -> Self {
        Self(Vec::new())
    }

    fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    /// Checks `value` when it is given.
    fn optional<T>(
        &mut self,
        value: Option<&str>,
        check: impl FnOnce(&str) -> Result<T, FieldError>,
    ) -> Option<T> {
        value.and_then(|value| self.take(check(value)))
    }

    fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(AppError::invalid_fields(self.0))
        }
    }
}

/// `CONFLICT` naming the slug field.
fn slug_taken(field: &str) -> AppError {
    AppError::invalid_field(field, "This slug is already in use").with_code(ErrorCode::Conflict)
}

/// Maps constraint violations of writes to client errors.
fn write_error(error: diesel::result::Error) -> AppError {
    match violated_constraint(&error) {
        Some("kb_articles_slug_key" | "kb_categories_slug_key") => slug_taken("input.slug"),
        Some("kb_articles_category_id_fkey") => {
            AppError::invalid_field("input.categoryId", "No such category")
        }
        _ => AppError::from(error),
    }
}

/// The table a slug belongs to.
#[derive(Debug, Clone, Copy)]
enum SlugOf {
    Category,
    Article,
}

impl SlugOf {
    fn lock_key(self) -> &'static str {
        match self {
            Self::Category => "kb_categories.slug",
            Self::Article => "kb_articles.slug",
        }
    }

    fn fallback(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::Article => "article",
        }
    }
}

/// Serialises slug writes of one table until the transaction ends, so two
/// writers never pick the same generated slug.
async fn lock_slugs(conn: &mut AsyncPgConnection, of: SlugOf) -> Result<(), AppError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
        .bind::<Text, _>(of.lock_key())
        .execute(conn)
        .await?;
    Ok(())
}

/// Evaluates `$body` with `$table` naming the table of `$of`'s slugs: both
/// tables have the same `id` and `slug` columns, and the same rules for them.
macro_rules! on_slug_table {
    ($of:expr, $table:ident => $body:expr) => {
        match $of {
            SlugOf::Category => {
                use kernel::schema::kb_categories as $table;
                $body
            }
            SlugOf::Article => {
                use kernel::schema::kb_articles as $table;
                $body
            }
        }
    };
}

/// Whether another row than `except` already uses `slug`.
async fn slug_in_use(
    conn: &mut AsyncPgConnection,
    of: SlugOf,
    slug: &str,
    except: Option<Uuid>,
) -> Result<bool, AppError> {
    let except = except.unwrap_or(Uuid::nil());
    let found: bool = on_slug_table!(of, table => {
        diesel::select(diesel::dsl::exists(
            table::table
                .filter(table::slug.eq(slug))
                .filter(table::id.ne(except)),
        ))
        .get_result(conn)
        .await?
    });
    Ok(found)
}

/// Takes the lock on `of`'s slugs and refuses `slug` (`BAD_USER_INPUT` on
/// `input.slug`) when a row other than `except` uses it.
async fn reserve_slug(
    conn: &mut AsyncPgConnection,
    of: SlugOf,
    slug: &str,
    except: Option<Uuid>,
) -> Result<(), AppError> {
    lock_slugs(conn, of).await?;
    if slug_in_use(conn, of, slug, except).await? {
        return Err(slug_taken("input.slug"));
    }
    Ok(())
}

/// The slug of a new row: `requested` once reserved, or a fresh one made
/// from `source` under the same lock.
async fn new_slug(
    conn: &mut AsyncPgConnection,
    of: SlugOf,
    requested: Option<String>,
    source: &str,
) -> Result<String, AppError> {
    match requested {
        Some(slug) => {
            reserve_slug(conn, of, &slug, None).await?;
            Ok(slug)
        }
        None => {
            lock_slugs(conn, of).await?;
            generate_slug(conn, of, source).await
        }
    }
}

/// A free slug made from `text`: its slug, else with `-2`, `-3`, ... appended.
/// Call with the table's slug lock held.
async fn generate_slug(
    conn: &mut AsyncPgConnection,
    of: SlugOf,
    text: &str,
) -> Result<String, AppError> {
    let mut base = slugify(text);
    if base.is_empty() {
        base = of.fallback().to_string();
    }
    // Every candidate starts with the base's first 80 characters.
    let prefix = format!("{}%", &base[..base.len().min(80)]);
    let taken: Vec<String> = on_slug_table!(of, table => {
        table::table
            .filter(table::slug.like(prefix))
            .select(table::slug)
            .load(conn)
            .await?
    });
    let taken: HashSet<String> = taken.into_iter().collect();
    let mut n = 1;
    loop {
        let candidate = slug_candidate(&base, n);
        if !taken.contains(&candidate) {
            return Ok(candidate);
        }
        n += 1;
    }
}

async fn category(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Category>, AppError> {
    Ok(kb_categories::table
        .find(id)
        .select(Category::as_select())
        .first(conn)
        .await
        .optional()?)
}

async fn find_category(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Category, AppError> {
    category(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("category"))
}

/// An article for writing, locked until the transaction ends.
async fn lock_article(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Article, AppError> {
    kb_articles::table
        .find(id)
        .for_update()
        .select(Article::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("article"))
}

/// `BAD_USER_INPUT` on `field` unless the category exists.
async fn check_category(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    field: &str,
) -> Result<Category, AppError> {
    category(conn, id)
        .await?
        .ok_or_else(|| AppError::invalid_field(field, "No such category"))
}

/// The knowledge base's use cases, one transaction each.
#[derive(Clone)]
pub struct KnowledgeBase {
    db: Db,
    search_per_ip_per_minute: u32,
}

impl KnowledgeBase {
    /// A knowledge base on the pool; anonymous callers may search
    /// `search_per_ip_per_minute` times a minute from one address.
    pub fn new(db: Db, search_per_ip_per_minute: u32) -> Self {
        Self {
            db,
            search_per_ip_per_minute,
        }
    }

    async fn conn(&self) -> Result<kernel::DbConn, AppError> {
        Ok(self.db.get().await?)
    }

    /// Categories by position, then creation order; public.
    pub async fn categories(
        &self,
        after: Option<CategoryKey>,
        limit: usize,
    ) -> Result<Page<Category>, AppError> {
        let mut conn = self.conn().await?;
        repo::categories(&mut conn, after, limit).await
    }

    /// Articles the viewer may read (see [`repo::articles`]).
    pub async fn articles(
        &self,
        viewer: Option<&Principal>,
        filter: &ArticleFilter,
        after: Option<ArticleKey>,
        limit: usize,
    ) -> Result<Page<ArticleView>, AppError> {
        let mut conn = self.conn().await?;
        repo::articles(&mut conn, viewer, filter, after, limit).await
    }

    /// The article with this slug, when the viewer may read it; `NOT_FOUND` otherwise.
    pub async fn article_by_slug(
        &self,
        viewer: Option<&Principal>,
        slug: &str,
    ) -> Result<ArticleView, AppError> {
        let mut conn = self.conn().await?;
        repo::article_by_slug(&mut conn, viewer, slug).await
    }

    /// Published articles matching `query`, best first (see [`repo::search`]).
    /// Without a viewer, each search counts against the caller's address
    /// (`RATE_LIMITED` past `search_per_ip_per_minute`): full-text ranking and
    /// snippets are the most expensive public read.
    pub async fn search(
        &self,
        viewer: Option<&Principal>,
        meta: &RequestMeta,
        query: &str,
        limit: usize,
    ) -> Result<Vec<SearchHit>, AppError> {
        let mut conn = self.conn().await?;
        if viewer.is_none() {
            let budget = Budget {
                key: format!("kb-search:ip:{}", meta.ip.as_deref().unwrap_or("unknown")),
                limit: self.search_per_ip_per_minute,
                window: Duration::from_secs(60),
            };
            rate_limit::consume(&mut conn, &budget).await?;
        }
        repo::search(&mut conn, query, limit).await
    }

    /// Creates a category (`support:kb.write`).
    pub async fn create_category(
        &self,
        principal: &Principal,
        input: NewCategory,
    ) -> Result<Category, AppError> {
        principal.require(KB_WRITE)?;
        let mut checks = Checks::new();
        let name = checks.take(required_text(&input.name, "input.name", NAME_MAX_CHARS));
        let slug = checks.optional(input.slug.as_deref(), |slug| given_slug(slug, "input.slug"));
        let description = checks.take(optional_text(
            input.description.as_deref().unwrap_or_default(),
            "input.description",
            DESCRIPTION_MAX_CHARS,
        ));
        checks.finish()?;
        let (Some(name), Some(description)) = (name, description) else {
            return Err(AppError::bad_input("Some fields are invalid"));
        };
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let slug = new_slug(conn, SlugOf::Category, slug, &name).await?;
            let position = match input.position {
                Some(position) => position,
                None => {
                    let last: Option<i32> = kb_categories::table
                        .select(diesel::dsl::max(kb_categories::position))
                        .first(conn)
                        .await?;
                    last.map_or(0, |last| last.saturating_add(1))
                }
            };
            diesel::insert_into(kb_categories::table)
                .values((
                    kb_categories::id.eq(Uuid::now_v7()),
                    kb_categories::slug.eq(&slug),
                    kb_categories::name.eq(&name),
                    kb_categories::description.eq(&description),
                    kb_categories::position.eq(position),
                ))
                .returning(Category::as_returning())
                .get_result(conn)
                .await
                .map_err(write_error)
        })
        .await
    }

    /// Changes a category (`support:kb.write`).
    pub async fn update_category(
        &self,
        principal: &Principal,
        id: Uuid,
        changes: CategoryChanges,
    ) -> Result<Category, AppError> {
        principal.require(KB_WRITE)?;
        let mut checks = Checks::new();
        let name = checks.optional(changes.name.as_deref(), |name| {
            required_text(name, "input.name", NAME_MAX_CHARS)
        });
        let slug = checks.optional(changes.slug.as_deref(), |slug| {
            given_slug(slug, "input.slug")
        });
        let description = checks.optional(changes.description.as_deref(), |description| {
            optional_text(description, "input.description", DESCRIPTION_MAX_CHARS)
        });
        checks.finish()?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            find_category(conn, id).await?;
            if let Some(slug) = &slug {
                reserve_slug(conn, SlugOf::Category, slug, Some(id)).await?;
            }
            diesel::update(kb_categories::table.find(id))
                .set((
                    name.map(|name| kb_categories::name.eq(name)),
                    slug.map(|slug| kb_categories::slug.eq(slug)),
                    description.map(|description| kb_categories::description.eq(description)),
                    changes
                        .position
                        .map(|position| kb_categories::position.eq(position)),
                    kb_categories::updated_at.eq(Utc::now()),
                ))
                .returning(Category::as_returning())
                .get_result(conn)
                .await
                .map_err(write_error)
        })
        .await
    }

    /// Deletes a category; its articles stay, without a category (`support:kb.write`).
    pub async fn delete_category(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<Category, AppError> {
        principal.require(KB_WRITE)?;
        let mut conn = self.conn().await?;
        diesel::delete(kb_categories::table.find(id))
            .returning(Category::as_returning())
            .get_result(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("category"))
    }

    /// Creates a draft article written by the caller (`support:kb.write`).
    pub async fn create_article(
        &self,
        principal: &Principal,
        input: NewArticle,
    ) -> Result<ArticleView, AppError> {
        principal.require(KB_WRITE)?;
        let mut checks = Checks::new();
        let title = checks.take(required_text(&input.title, "input.title", TITLE_MAX_CHARS));
        let body = checks.take(required_text(
            &input.body_markdown,
            "input.bodyMarkdown",
            BODY_MAX_CHARS,
        ));
        let slug = checks.optional(input.slug.as_deref(), |slug| given_slug(slug, "input.slug"));
        checks.finish()?;
        let (Some(title), Some(body)) = (title, body) else {
            return Err(AppError::bad_input("Some fields are invalid"));
        };
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let category = match input.category_id {
                Some(id) => Some(check_category(conn, id, "input.categoryId").await?),
                None => None,
            };
            let slug = new_slug(conn, SlugOf::Article, slug, &title).await?;
            let article = diesel::insert_into(kb_articles::table)
                .values((
                    kb_articles::id.eq(Uuid::now_v7()),
                    kb_articles::category_id.eq(input.category_id),
                    kb_articles::slug.eq(&slug),
                    kb_articles::title.eq(&title),
                    kb_articles::body_markdown.eq(&body),
                    kb_articles::status.eq(KbArticleStatus::Draft),
                    kb_articles::author_id.eq(principal.user_id),
                ))
                .returning(Article::as_returning())
                .get_result(conn)
                .await
                .map_err(write_error)?;
            Ok(ArticleView { article, category })
        })
        .await
    }

    /// Changes an article's title, body, category or slug (`support:kb.write`).
    pub async fn update_article(
        &self,
        principal: &Principal,
        id: Uuid,
        changes: ArticleChanges,
    ) -> Result<ArticleView, AppError> {
        principal.require(KB_WRITE)?;
        let mut checks = Checks::new();
        let title = checks.optional(changes.title.as_deref(), |title| {
            required_text(title, "input.title", TITLE_MAX_CHARS)
        });
        let body = checks.optional(changes.body_markdown.as_deref(), |body| {
            required_text(body, "input.bodyMarkdown", BODY_MAX_CHARS)
        });
        let slug = checks.optional(changes.slug.as_deref(), |slug| {
            given_slug(slug, "input.slug")
        });
        checks.finish()?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            lock_article(conn, id).await?;
            if let Some(Some(category)) = changes.category_id {
                check_category(conn, category, "input.categoryId").await?;
            }
            if let Some(slug) = &slug {
                reserve_slug(conn, SlugOf::Article, slug, Some(id)).await?;
            }
            let article = diesel::update(kb_articles::table.find(id))
                .set((
                    title.map(|title| kb_articles::title.eq(title)),
                    body.map(|body| kb_articles::body_markdown.eq(body)),
                    slug.map(|slug| kb_articles::slug.eq(slug)),
                    changes
                        .category_id
                        .map(|category| kb_articles::category_id.eq(category)),
                    kb_articles::updated_at.eq(Utc::now()),
                ))
                .returning(Article::as_returning())
                .get_result(conn)
                .await
                .map_err(write_error)?;
            with_category(conn, article).await
        })
        .await
    }

    /// Publishes an article: everyone can read it from now on. Publishing a
    /// published article changes nothing (`support:kb.write`).
    pub async fn publish_article(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<ArticleView, AppError> {
        self.set_status(principal, id, KbArticleStatus::Published)
            .await
    }

    /// Turns an article back into a draft, hidden from the public (`support:kb.write`).
    pub async fn unpublish_article(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<ArticleView, AppError> {
        self.set_status(principal, id, KbArticleStatus::Draft).await
    }

    async fn set_status(
        &self,
        principal: &Principal,
        id: Uuid,
        status: KbArticleStatus,
    ) -> Result<ArticleView, AppError> {
        principal.require(KB_WRITE)?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let current = lock_article(conn, id).await?;
            if current.status == status {
                return with_category(conn, current).await;
            }
            let published_at = match status {
                KbArticleStatus::Published => Some(Utc::now()),
                KbArticleStatus::Draft => None,
            };
            let article = diesel::update(kb_articles::table.find(id))
                .set((
                    kb_articles::status.eq(status),
                    kb_articles::published_at.eq(published_at),
                    kb_articles::updated_at.eq(Utc::now()),
                ))
                .returning(Article::as_returning())
                .get_result(conn)
                .await?;
            with_category(conn, article).await
        })
        .await
    }

    /// Deletes an article for good (`support:kb.write`).
    pub async fn delete_article(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<ArticleView, AppError> {
        principal.require(KB_WRITE)?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let article: Article = diesel::delete(kb_articles::table.find(id))
                .returning(Article::as_returning())
                .get_result(conn)
                .await
                .optional()?
                .ok_or_else(|| AppError::not_found("article"))?;
            with_category(conn, article).await
        })
        .await
    }
}

//! Knowledge base: categories and articles for the public site and staff.
//!
//! Published articles are readable by anyone, signed in or not; drafts only by
//! staff holding `support:kb.write` (everyone else gets `NOT_FOUND`). Staff with
//! that permission write categories and articles. Slugs are generated from
//! names and titles when not given (lower-case ASCII words joined by `-`, made
//! unique with `-2`, `-3`, ...) and validated when given. Search is PostgreSQL
//! full-text search over published articles, ranked with `ts_rank_cd` on the
//! generated `kb_articles.search` column (title weighted A, body B).

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Float4, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::error::violated_constraint;
pub use kernel::pagination::Page;
use kernel::pagination::{decode_cursor, encode_cursor};
use kernel::schema::{kb_articles, kb_categories};
use kernel::validate::required_text;
use kernel::{AppError, Db, ErrorCode, FieldError, Principal};
use uuid::Uuid;

/// The permission to write categories and articles and to read drafts.
pub const KB_WRITE: &str = "support:kb.write";

/// Longest slug.
pub const SLUG_MAX_CHARS: usize = 100;

/// Longest category name.
const NAME_MAX_CHARS: usize = 120;
/// Longest category description.
const DESCRIPTION_MAX_CHARS: usize = 2_000;
/// Longest article title.
const TITLE_MAX_CHARS: usize = 200;
/// Longest article body (markdown).
const BODY_MAX_CHARS: usize = 200_000;
/// Longest search query.
const QUERY_MAX_CHARS: usize = 200;

/// Whether the viewer (anonymous when `None`) may write the knowledge base and read drafts.
pub fn may_write(viewer: Option<&Principal>) -> bool {
    viewer.is_some_and(|principal| principal.has(KB_WRITE))
}

// ---------------------------------------------------------------------------
// Rows
// ---------------------------------------------------------------------------

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
    /// `draft` or `published`.
    pub status: String,
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
    /// The article's status.
    pub fn status(&self) -> ArticleStatus {
        ArticleStatus::from_db(&self.status).unwrap_or(ArticleStatus::Draft)
    }

    /// The sort key of article lists: publication time, or creation time for drafts.
    fn sort_at(&self) -> DateTime<Utc> {
        self.published_at.unwrap_or(self.created_at)
    }
}

/// Whether an article is public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArticleStatus {
    /// Visible to staff with `support:kb.write` only.
    Draft,
    /// Visible to everyone.
    Published,
}

impl ArticleStatus {
    /// Database form.
    pub fn as_db(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Published => "published",
        }
    }

    /// Parses the database form.
    pub fn from_db(value: &str) -> Option<Self> {
        match value {
            "draft" => Some(Self::Draft),
            "published" => Some(Self::Published),
            _ => None,
        }
    }
}

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

// ---------------------------------------------------------------------------
// Inputs
// ---------------------------------------------------------------------------

/// Filters of the article list.
#[derive(Debug, Clone, Default)]
pub struct ArticleFilter {
    /// Only this category.
    pub category_id: Option<Uuid>,
    /// Only the category with this slug.
    pub category_slug: Option<String>,
    /// Only this status; honoured for staff with `support:kb.write` only
    /// (everyone else sees published articles only).
    pub status: Option<ArticleStatus>,
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

// ---------------------------------------------------------------------------
// Cursors
// ---------------------------------------------------------------------------

/// Position in the category list: (position, id), ascending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CategoryCursor {
    /// Position of the last category seen.
    pub position: i32,
    /// Id of the last category seen.
    pub id: Uuid,
}

impl CategoryCursor {
    /// The cursor after `category`.
    pub fn of(category: &Category) -> Self {
        Self {
            position: category.position,
            id: category.id,
        }
    }

    /// Opaque form.
    pub fn encode(&self) -> String {
        encode_cursor(&format!("{}|{}", self.position, self.id))
    }

    /// Parses [`CategoryCursor::encode`]; `BAD_USER_INPUT` on `after` otherwise.
    pub fn decode(cursor: &str) -> Result<Self, AppError> {
        let key = decode_cursor(cursor)?;
        key.split_once('|')
            .and_then(|(position, id)| {
                Some(Self {
                    position: position.parse().ok()?,
                    id: Uuid::parse_str(id).ok()?,
                })
            })
            .ok_or_else(bad_cursor)
    }
}

/// Position in the article list: (publication or creation time, id), descending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArticleCursor {
    /// Sort time of the last article seen.
    pub at: DateTime<Utc>,
    /// Id of the last article seen.
    pub id: Uuid,
}

impl ArticleCursor {
    /// The cursor after `article`.
    pub fn of(article: &Article) -> Self {
        Self {
            at: article.sort_at(),
            id: article.id,
        }
    }

    /// Opaque form.
    pub fn encode(&self) -> String {
        encode_cursor(&format!(
            "{}|{}",
            self.at.to_rfc3339_opts(SecondsFormat::Micros, true),
            self.id
        ))
    }

    /// Parses [`ArticleCursor::encode`]; `BAD_USER_INPUT` on `after` otherwise.
    pub fn decode(cursor: &str) -> Result<Self, AppError> {
        let key = decode_cursor(cursor)?;
        key.split_once('|')
            .and_then(|(at, id)| {
                Some(Self {
                    at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
                    id: Uuid::parse_str(id).ok()?,
                })
            })
            .ok_or_else(bad_cursor)
    }
}

fn bad_cursor() -> AppError {
    AppError::invalid_field("after", "Not a valid cursor")
}

// ---------------------------------------------------------------------------
// Slugs and validation
// ---------------------------------------------------------------------------

/// Folds common Latin letters with diacritics to ASCII; `None` for anything else.
fn fold(ch: char) -> Option<&'static str> {
    Some(match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => "c",
        'ď' | 'đ' | 'ð' | 'Ď' | 'Đ' | 'Ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => "e",
        'ğ' | 'Ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'Į' | 'İ' => {
            "i"
        }
        'ł' | 'Ł' => "l",
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => "o",
        'œ' | 'Œ' => "oe",
        'ř' | 'Ř' => "r",
        'ś' | 'š' | 'ş' | 'Ś' | 'Š' | 'Ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'Ť' | 'Ţ' => "t",
        'þ' | 'Þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' | 'Ų' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
        _ => return None,
    })
}

/// A slug made from free text: lower-case ASCII letters and digits, words
/// joined by single `-`, at most [`SLUG_MAX_CHARS`]; empty when the text has
/// no usable characters. Apostrophes join words ("What's new" is `whats-new`).
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    let mut pending_dash = false;
    let push = |c: char, slug: &mut String, pending_dash: &mut bool| {
        if c.is_ascii_alphanumeric() {
            if *pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            *pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            *pending_dash = true;
        }
    };
    for ch in text.chars() {
        if matches!(ch, '\'' | '’' | '‘') {
            continue;
        }
        match fold(ch) {
            Some(ascii) => ascii
                .chars()
                .for_each(|c| push(c, &mut slug, &mut pending_dash)),
            None => push(ch, &mut slug, &mut pending_dash),
        }
    }
    truncate_slug(&slug, SLUG_MAX_CHARS)
}

/// `slug` cut to at most `max` characters, without a trailing `-`.
fn truncate_slug(slug: &str, max: usize) -> String {
    // Slugs are ASCII, so bytes are characters.
    let cut = &slug[..slug.len().min(max)];
    cut.trim_end_matches('-').to_string()
}

/// The `n`th candidate for `base`: `base` itself, then `base-2`, `base-3`, ...,
/// the base shortened so that the whole stays within [`SLUG_MAX_CHARS`].
pub fn slug_candidate(base: &str, n: u32) -> String {
    if n <= 1 {
        return base.to_string();
    }
    let suffix = format!("-{n}");
    let mut slug = truncate_slug(base, SLUG_MAX_CHARS - suffix.len());
    slug.push_str(&suffix);
    slug
}

/// Whether `slug` matches `^[a-z0-9]+(-[a-z0-9]+)*$` and has at most [`SLUG_MAX_CHARS`].
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// Validates a slug given by a client.
fn given_slug(slug: &str, field: &str) -> Result<String, FieldError> {
    let slug = slug.trim();
    if slug.len() > SLUG_MAX_CHARS {
        return Err(FieldError {
            field: field.into(),
            message: format!("Use at most {SLUG_MAX_CHARS} characters"),
        });
    }
    if !is_valid_slug(slug) {
        return Err(FieldError {
            field: field.into(),
            message: "Use lower-case letters and digits in words separated by single hyphens, e.g. reset-your-password".into(),
        });
    }
    Ok(slug.to_string())
}

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

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

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

/// Whether another row than `except` already uses `slug`.
async fn slug_in_use(
    conn: &mut AsyncPgConnection,
    of: SlugOf,
    slug: &str,
    except: Option<Uuid>,
) -> Result<bool, AppError> {
    let except = except.unwrap_or(Uuid::nil());
    let found: bool = match of {
        SlugOf::Category => {
            diesel::select(diesel::dsl::exists(
                kb_categories::table
                    .filter(kb_categories::slug.eq(slug))
                    .filter(kb_categories::id.ne(except)),
            ))
            .get_result(conn)
            .await?
        }
        SlugOf::Article => {
            diesel::select(diesel::dsl::exists(
                kb_articles::table
                    .filter(kb_articles::slug.eq(slug))
                    .filter(kb_articles::id.ne(except)),
            ))
            .get_result(conn)
            .await?
        }
    };
    Ok(found)
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
    let taken: Vec<String> = match of {
        SlugOf::Category => {
            kb_categories::table
                .filter(kb_categories::slug.like(prefix))
                .select(kb_categories::slug)
                .load(conn)
                .await?
        }
        SlugOf::Article => {
            kb_articles::table
                .filter(kb_articles::slug.like(prefix))
                .select(kb_articles::slug)
                .load(conn)
                .await?
        }
    };
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

async fn find_category(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Category, AppError> {
    kb_categories::table
        .find(id)
        .select(Category::as_select())
        .first(conn)
        .await
        .optional()?
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
    kb_categories::table
        .find(id)
        .select(Category::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::invalid_field(field, "No such category"))
}

async fn with_category(
    conn: &mut AsyncPgConnection,
    article: Article,
) -> Result<ArticleView, AppError> {
    let category = match article.category_id {
        Some(id) => kb_categories::table
            .find(id)
            .select(Category::as_select())
            .first(conn)
            .await
            .optional()?,
        None => None,
    };
    Ok(ArticleView { article, category })
}

/// The sort key of article lists, as SQL.
const SORT_AT: &str = "coalesce(kb_articles.published_at, kb_articles.created_at)";

/// Ranked search over published articles. `$1` is the query text, `$2` the
/// page size. The snippet is computed for the page's rows only: markdown links
/// and images keep their text, HTML tags and line markers (headings, quotes,
/// list bullets) and emphasis characters are dropped, the rest is HTML-escaped,
/// then `ts_headline` wraps the matches in `<mark>`.
const SEARCH_SQL: &str = r#"
WITH q AS (SELECT websearch_to_tsquery('english', $1) AS query),
hits AS (
    SELECT a.id, a.category_id, a.slug, a.title, a.body_markdown, a.status, a.author_id,
           a.published_at, a.created_at, a.updated_at,
           ts_rank_cd(a.search, q.query) AS rank
    FROM kb_articles a, q
    WHERE a.status = 'published' AND a.search @@ q.query
    ORDER BY rank DESC, a.published_at DESC, a.id DESC
    LIMIT $2
)
SELECT hits.*,
       ts_headline(
           'english',
           replace(replace(replace(
               regexp_replace(
                   regexp_replace(
                       regexp_replace(
                           regexp_replace(hits.body_markdown, '!?\[([^\]]*)\]\([^)]*\)', '\1', 'g'),
                           '<[^>]*>', ' ', 'g'),
                       '^[ \t]{0,3}(#{1,6}|>|[-*+]|[0-9]+[.)])[ \t]+', '', 'gn'),
                   '[*`~]+|\m_+|_+\M', '', 'g'),
               '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
           q.query,
           'StartSel=<mark>, StopSel=</mark>, MaxWords=35, MinWords=15, ShortWord=3, MaxFragments=2, FragmentDelimiter=" … "'
       ) AS snippet
FROM hits, q
ORDER BY hits.rank DESC, hits.published_at DESC, hits.id DESC
"#;

#[derive(QueryableByName)]
struct HitRow {
    #[diesel(embed)]
    article: Article,
    #[diesel(sql_type = Float4)]
    rank: f32,
    #[diesel(sql_type = Text)]
    snippet: String,
}

// ---------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------

/// The knowledge base's use cases, one transaction each.
#[derive(Clone)]
pub struct KnowledgeBase {
    db: Db,
}

impl KnowledgeBase {
    /// A knowledge base on the pool.
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    async fn conn(&self) -> Result<kernel::DbConn, AppError> {
        Ok(self.db.get().await?)
    }

    /// Categories by position, then creation order; public.
    pub async fn categories(
        &self,
        after: Option<CategoryCursor>,
        limit: usize,
    ) -> Result<Page<Category>, AppError> {
        let mut conn = self.conn().await?;
        let total: i64 = kb_categories::table.count().get_result(&mut conn).await?;
        let mut query = kb_categories::table.into_boxed();
        if let Some(after) = after {
            query = query.filter(
                kb_categories::position
                    .gt(after.position)
                    .or(kb_categories::position
                        .eq(after.position)
                        .and(kb_categories::id.gt(after.id))),
            );
        }
        let rows: Vec<Category> = query
            .order((kb_categories::position.asc(), kb_categories::id.asc()))
            .limit(limit as i64 + 1)
            .select(Category::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// Articles the viewer may read, newest publication first (drafts by
    /// creation time): published ones for everyone, drafts too for staff with
    /// `support:kb.write`, who may also filter on status.
    pub async fn articles(
        &self,
        viewer: Option<&Principal>,
        filter: &ArticleFilter,
        after: Option<ArticleCursor>,
        limit: usize,
    ) -> Result<Page<ArticleView>, AppError> {
        let status = if may_write(viewer) {
            filter.status
        } else {
            Some(ArticleStatus::Published)
        };
        let build = || {
            let mut query = kb_articles::table
                .left_join(kb_categories::table)
                .into_boxed();
            if let Some(status) = status {
                query = query.filter(kb_articles::status.eq(status.as_db()));
            }
            if let Some(category) = filter.category_id {
                query = query.filter(kb_articles::category_id.eq(category));
            }
            if let Some(slug) = &filter.category_slug {
                query = query.filter(kb_categories::slug.eq(slug.clone()));
            }
            query
        };
        let mut conn = self.conn().await?;
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        if let Some(after) = after {
            page = page.filter(
                sql::<Bool>(&format!("({SORT_AT}, kb_articles.id) < ("))
                    .bind::<Timestamptz, _>(after.at)
                    .sql(", ")
                    .bind::<diesel::sql_types::Uuid, _>(after.id)
                    .sql(")"),
            );
        }
        let mut rows: Vec<(Article, Option<Category>)> = page
            .order((sql::<Timestamptz>(SORT_AT).desc(), kb_articles::id.desc()))
            .limit(limit as i64 + 1)
            .select((Article::as_select(), Option::<Category>::as_select()))
            .load(&mut conn)
            .await?;
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        Ok(Page {
            rows: rows
                .into_iter()
                .map(|(article, category)| ArticleView { article, category })
                .collect(),
            total,
            has_next,
        })
    }

    /// The article with this slug, when the viewer may read it; `NOT_FOUND` otherwise.
    pub async fn article_by_slug(
        &self,
        viewer: Option<&Principal>,
        slug: &str,
    ) -> Result<ArticleView, AppError> {
        let mut conn = self.conn().await?;
        let mut query = kb_articles::table
            .left_join(kb_categories::table)
            .filter(kb_articles::slug.eq(slug.trim()))
            .into_boxed();
        if !may_write(viewer) {
            query = query.filter(kb_articles::status.eq(ArticleStatus::Published.as_db()));
        }
        let (article, category) = query
            .select((Article::as_select(), Option::<Category>::as_select()))
            .first::<(Article, Option<Category>)>(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("article"))?;
        Ok(ArticleView { article, category })
    }

    /// Published articles matching `query` (web-search syntax: words, "quoted
    /// phrases", `or`, `-excluded`), best first, with highlighted snippets.
    /// A blank query is `BAD_USER_INPUT`.
    pub async fn search(&self, query: &str, limit: usize) -> Result<Vec<SearchHit>, AppError> {
        let query: String = query
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let query = query.trim();
        if query.is_empty() {
            return Err(AppError::invalid_field(
                "query",
                "Enter words to search for",
            ));
        }
        if query.chars().count() > QUERY_MAX_CHARS {
            return Err(AppError::invalid_field(
                "query",
                format!("Use at most {QUERY_MAX_CHARS} characters"),
            ));
        }
        let mut conn = self.conn().await?;
        let rows: Vec<HitRow> = diesel::sql_query(SEARCH_SQL)
            .bind::<Text, _>(query)
            .bind::<BigInt, _>(limit as i64)
            .load(&mut conn)
            .await?;
        let category_ids: Vec<Uuid> = rows
            .iter()
            .filter_map(|row| row.article.category_id)
            .collect();
        let categories: Vec<Category> = if category_ids.is_empty() {
            Vec::new()
        } else {
            kb_categories::table
                .filter(kb_categories::id.eq_any(&category_ids))
                .select(Category::as_select())
                .load(&mut conn)
                .await?
        };
        Ok(rows
            .into_iter()
            .map(|row| {
                let category = row
                    .article
                    .category_id
                    .and_then(|id| categories.iter().find(|c| c.id == id).cloned());
                SearchHit {
                    article: ArticleView {
                        article: row.article,
                        category,
                    },
                    rank: row.rank,
                    snippet: row.snippet,
                }
            })
            .collect())
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
        let slug = input
            .slug
            .as_deref()
            .and_then(|slug| checks.take(given_slug(slug, "input.slug")));
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
            lock_slugs(conn, SlugOf::Category).await?;
            let slug = match slug {
                Some(slug) => {
                    if slug_in_use(conn, SlugOf::Category, &slug, None).await? {
                        return Err(slug_taken("input.slug"));
                    }
                    slug
                }
                None => generate_slug(conn, SlugOf::Category, &name).await?,
            };
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
        let name = changes
            .name
            .as_deref()
            .and_then(|name| checks.take(required_text(name, "input.name", NAME_MAX_CHARS)));
        let slug = changes
            .slug
            .as_deref()
            .and_then(|slug| checks.take(given_slug(slug, "input.slug")));
        let description = changes.description.as_deref().and_then(|description| {
            checks.take(optional_text(
                description,
                "input.description",
                DESCRIPTION_MAX_CHARS,
            ))
        });
        checks.finish()?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            find_category(conn, id).await?;
            if let Some(slug) = &slug {
                lock_slugs(conn, SlugOf::Category).await?;
                if slug_in_use(conn, SlugOf::Category, slug, Some(id)).await? {
                    return Err(slug_taken("input.slug"));
                }
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
        let slug = input
            .slug
            .as_deref()
            .and_then(|slug| checks.take(given_slug(slug, "input.slug")));
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
            lock_slugs(conn, SlugOf::Article).await?;
            let slug = match slug {
                Some(slug) => {
                    if slug_in_use(conn, SlugOf::Article, &slug, None).await? {
                        return Err(slug_taken("input.slug"));
                    }
                    slug
                }
                None => generate_slug(conn, SlugOf::Article, &title).await?,
            };
            let article = diesel::insert_into(kb_articles::table)
                .values((
                    kb_articles::id.eq(Uuid::now_v7()),
                    kb_articles::category_id.eq(input.category_id),
                    kb_articles::slug.eq(&slug),
                    kb_articles::title.eq(&title),
                    kb_articles::body_markdown.eq(&body),
                    kb_articles::status.eq(ArticleStatus::Draft.as_db()),
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
        let title = changes
            .title
            .as_deref()
            .and_then(|title| checks.take(required_text(title, "input.title", TITLE_MAX_CHARS)));
        let body = changes.body_markdown.as_deref().and_then(|body| {
            checks.take(required_text(body, "input.bodyMarkdown", BODY_MAX_CHARS))
        });
        let slug = changes
            .slug
            .as_deref()
            .and_then(|slug| checks.take(given_slug(slug, "input.slug")));
        checks.finish()?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            lock_article(conn, id).await?;
            if let Some(Some(category)) = changes.category_id {
                check_category(conn, category, "input.categoryId").await?;
            }
            if let Some(slug) = &slug {
                lock_slugs(conn, SlugOf::Article).await?;
                if slug_in_use(conn, SlugOf::Article, slug, Some(id)).await? {
                    return Err(slug_taken("input.slug"));
                }
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
        self.set_status(principal, id, ArticleStatus::Published)
            .await
    }

    /// Turns an article back into a draft, hidden from the public (`support:kb.write`).
    pub async fn unpublish_article(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<ArticleView, AppError> {
        self.set_status(principal, id, ArticleStatus::Draft).await
    }

    async fn set_status(
        &self,
        principal: &Principal,
        id: Uuid,
        status: ArticleStatus,
    ) -> Result<ArticleView, AppError> {
        principal.require(KB_WRITE)?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let current = lock_article(conn, id).await?;
            if current.status() == status {
                return with_category(conn, current).await;
            }
            let published_at = match status {
                ArticleStatus::Published => Some(Utc::now()),
                ArticleStatus::Draft => None,
            };
            let article = diesel::update(kb_articles::table.find(id))
                .set((
                    kb_articles::status.eq(status.as_db()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_ascii_words_joined_by_hyphens() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(
            slugify("  Resetting   your password  "),
            "resetting-your-password"
        );
        assert_eq!(slugify("What's new in v2.0?"), "whats-new-in-v2-0");
        assert_eq!(
            slugify("Café déjà vu — Über Straße"),
            "cafe-deja-vu-uber-strasse"
        );
        assert_eq!(slugify("--a--b--"), "a-b");
        assert_eq!(slugify("日本語"), "");
        let long = slugify(&"word ".repeat(60));
        assert!(
            long.len() <= SLUG_MAX_CHARS && is_valid_slug(&long),
            "{long}"
        );
        for text in ["Hello, World!", "What's new in v2.0?", "Café déjà vu"] {
            assert!(is_valid_slug(&slugify(text)));
        }
    }

    #[test]
    fn candidates_append_a_counter_within_the_length_limit() {
        assert_eq!(slug_candidate("faq", 1), "faq");
        assert_eq!(slug_candidate("faq", 2), "faq-2");
        assert_eq!(slug_candidate("faq", 13), "faq-13");
        let base = format!("{}-b", "a".repeat(97));
        assert_eq!(base.len(), 99);
        let candidate = slug_candidate(&base, 2);
        assert_eq!(candidate, format!("{}-2", "a".repeat(97)));
        assert!(is_valid_slug(&candidate));
        let full = "a".repeat(100);
        assert_eq!(slug_candidate(&full, 10).len(), 100);
    }

    #[test]
    fn given_slugs_must_match_the_pattern() {
        for good in ["a", "faq", "reset-your-password", "v2-0", "a1-b2-c3"] {
            assert!(is_valid_slug(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "Hello",
            "a_b",
            "a b",
            "é",
            &"a".repeat(101),
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
        assert_eq!(
            given_slug(" faq ", "input.slug").ok().as_deref(),
            Some("faq")
        );
        let error = given_slug("Bad Slug", "input.slug").expect_err("invalid");
        assert_eq!(error.field, "input.slug");
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T10:00:00.123456Z")
            .expect("time")
            .with_timezone(&Utc);
        let cursor = ArticleCursor {
            at,
            id: Uuid::now_v7(),
        };
        assert_eq!(ArticleCursor::decode(&cursor.encode()).ok(), Some(cursor));
        let cursor = CategoryCursor {
            position: -3,
            id: Uuid::now_v7(),
        };
        assert_eq!(CategoryCursor::decode(&cursor.encode()).ok(), Some(cursor));
        assert!(ArticleCursor::decode("zz").is_err());
        assert!(ArticleCursor::decode(&encode_cursor("nonsense")).is_err());
        assert!(CategoryCursor::decode(&encode_cursor("x|y")).is_err());
    }
}

//! Reads of the knowledge base: what a viewer (anonymous when `None`) may
//! read. These are the functions other crates may call.

use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Float4, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::pagination::Page;
use kernel::schema::{kb_articles, kb_categories};
use kernel::{AppError, Principal};
use uuid::Uuid;

use super::model::{
    Article, ArticleFilter, ArticleKey, ArticleView, Category, CategoryKey, KbArticleStatus,
    SearchHit,
};
use super::policy::may_write;

/// Longest search query.
const QUERY_MAX_CHARS: usize = 200;

/// The sort key of article lists, as SQL.
const SORT_AT: &str = "coalesce(kb_articles.published_at, kb_articles.created_at)";

/// Ranked search over published articles. `$1` is the query text, `$2` the
/// page size, `$3` the published status. The snippet is computed for the page's rows only: markdown links
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
    WHERE a.status = $3 AND a.search @@ q.query
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

/// The article with its category.
pub(crate) async fn with_category(
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

/// Categories by position, then creation order; public.
pub async fn categories(
    conn: &mut AsyncPgConnection,
    after: Option<CategoryKey>,
    limit: usize,
) -> Result<Page<Category>, AppError> {
    let total: i64 = kb_categories::table.count().get_result(conn).await?;
    let mut query = kb_categories::table.into_boxed();
    if let Some((position, id)) = after {
        query = query.filter(
            kb_categories::position
                .gt(position)
                .or(kb_categories::position
                    .eq(position)
                    .and(kb_categories::id.gt(id))),
        );
    }
    let rows: Vec<Category> = query
        .order((kb_categories::position.asc(), kb_categories::id.asc()))
        .limit(limit as i64 + 1)
        .select(Category::as_select())
        .load(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit, total))
}

/// Articles the viewer may read, newest publication first (drafts by
/// creation time): published ones for everyone, drafts too for staff with
/// `support:kb.write`, who may also filter on status.
pub async fn articles(
    conn: &mut AsyncPgConnection,
    viewer: Option<&Principal>,
    filter: &ArticleFilter,
    after: Option<ArticleKey>,
    limit: usize,
) -> Result<Page<ArticleView>, AppError> {
    let status = if may_write(viewer) {
        filter.status
    } else {
        Some(KbArticleStatus::Published)
    };
    let build = || {
        let mut query = kb_articles::table
            .left_join(kb_categories::table)
            .into_boxed();
        if let Some(status) = status {
            query = query.filter(kb_articles::status.eq(status));
        }
        if let Some(category) = filter.category_id {
            query = query.filter(kb_articles::category_id.eq(category));
        }
        if let Some(slug) = &filter.category_slug {
            query = query.filter(kb_categories::slug.eq(slug.clone()));
        }
        query
    };
    let total: i64 = build().count().get_result(conn).await?;
    let mut page = build();
    if let Some((at, id)) = after {
        page = page.filter(
            sql::<Bool>(&format!("({SORT_AT}, kb_articles.id) < ("))
                .bind::<Timestamptz, _>(at)
                .sql(", ")
                .bind::<diesel::sql_types::Uuid, _>(id)
                .sql(")"),
        );
    }
    let mut rows: Vec<(Article, Option<Category>)> = page
        .order((sql::<Timestamptz>(SORT_AT).desc(), kb_articles::id.desc()))
        .limit(limit as i64 + 1)
        .select((Article::as_select(), Option::<Category>::as_select()))
        .load(conn)
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
    conn: &mut AsyncPgConnection,
    viewer: Option<&Principal>,
    slug: &str,
) -> Result<ArticleView, AppError> {
    let mut query = kb_articles::table
        .left_join(kb_categories::table)
        .filter(kb_articles::slug.eq(slug.trim()))
        .into_boxed();
    if !may_write(viewer) {
        query = query.filter(kb_articles::status.eq(KbArticleStatus::Published));
    }
    let (article, category) = query
        .select((Article::as_select(), Option::<Category>::as_select()))
        .first::<(Article, Option<Category>)>(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("article"))?;
    Ok(ArticleView { article, category })
}

/// Published articles matching `query` (web-search syntax: words, "quoted
/// phrases", `or`, `-excluded`), best first, with highlighted snippets.
/// A blank query is `BAD_USER_INPUT`.
pub async fn search(
    conn: &mut AsyncPgConnection,
    query: &str,
    limit: usize,
) -> Result<Vec<SearchHit>, AppError> {
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
    let rows: Vec<HitRow> = diesel::sql_query(SEARCH_SQL)
        .bind::<Text, _>(query)
        .bind::<BigInt, _>(limit as i64)
        .bind::<Text, _>(KbArticleStatus::Published)
        .load(conn)
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
            .load(conn)
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

//! Positions in the knowledge base's lists, as opaque cursors.

use chrono::{DateTime, SecondsFormat, Utc};
use kernel::AppError;
use kernel::pagination::{decode_cursor, encode_cursor};
use uuid::Uuid;

use super::model::{Article, Category};

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

#[cfg(test)]
mod tests {
    use super::*;

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

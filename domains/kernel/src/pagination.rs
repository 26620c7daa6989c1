//! Cursor pagination shared by every list.

use async_graphql::connection::{Connection, Edge, EmptyFields};

use crate::error::AppError;

/// The extra field of every connection.
#[derive(async_graphql::SimpleObject, Debug, Clone, Copy)]
pub struct TotalCount {
    /// Rows matching the filter, over all pages.
    pub total_count: i64,
}

/// One page of rows, the total matching, and whether more follow.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The rows.
    pub rows: Vec<T>,
    /// Rows matching the filter, over all pages.
    pub total: i64,
    /// Whether another page follows.
    pub has_next: bool,
}

impl<T> Page<T> {
    /// A page from rows fetched with `limit + 1`: the extra row only tells
    /// that another page follows.
    pub fn from_overfetch(mut rows: Vec<T>, limit: usize, total: i64) -> Self {
        let has_next = rows.len() > limit;
        rows.truncate(limit);
        Self {
            rows,
            total,
            has_next,
        }
    }
}

impl<T> Page<T> {
    /// This page as a Relay connection with `totalCount`: `key` gives a row's
    /// sort key (encoded into its cursor), `node` its GraphQL node.
    pub fn into_connection<N: async_graphql::OutputType>(
        self,
        after_given: bool,
        key: impl Fn(&T) -> String,
        node: impl Fn(T) -> N,
    ) -> Connection<String, N, TotalCount, EmptyFields> {
        let mut connection = Connection::with_additional_fields(
            after_given,
            self.has_next,
            TotalCount {
                total_count: self.total,
            },
        );
        connection.edges.extend(
            self.rows
                .into_iter()
                .map(|row| Edge::new(encode_cursor(&key(&row)), node(row))),
        );
        connection
    }
}

/// Page size when the client does not ask for one.
pub const DEFAULT_PAGE_SIZE: usize = 20;

/// Validates `first` against the configured maximum page size.
pub fn page_size(first: Option<i32>, max_page_size: usize) -> Result<usize, AppError> {
    match first {
        None => Ok(DEFAULT_PAGE_SIZE.min(max_page_size)),
        Some(n) if n < 1 => Err(AppError::invalid_field("first", "Must be at least 1")),
        Some(n) if n as usize > max_page_size => Err(AppError::invalid_field(
            "first",
            format!("Must be at most {max_page_size}"),
        )),
        Some(n) => Ok(n as usize),
    }
}

/// Encodes an opaque cursor from a sort key.
pub fn encode_cursor(key: &str) -> String {
    hex_encode(key.as_bytes())
}

/// Decodes a cursor made by [`encode_cursor`]; `BAD_USER_INPUT` on anything else.
pub fn decode_cursor(cursor: &str) -> Result<String, AppError> {
    hex_decode(cursor)
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or_else(|| AppError::invalid_field("after", "Not a valid cursor"))
}

fn hex_encode(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overfetched_row_only_signals_the_next_page() {
        let page = Page::from_overfetch(vec![1, 2, 3], 2, 7);
        assert_eq!(page.rows, [1, 2]);
        assert!(page.has_next);
        assert!(!Page::from_overfetch(vec![1, 2], 2, 2).has_next);
    }

    #[test]
    fn page_size_is_bounded() {
        assert_eq!(page_size(None, 100).ok(), Some(DEFAULT_PAGE_SIZE));
        assert_eq!(page_size(Some(100), 100).ok(), Some(100));
        assert!(page_size(Some(101), 100).is_err());
        assert!(page_size(Some(0), 100).is_err());
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let cursor = encode_cursor("2026-11-25|42");
        assert_eq!(
            decode_cursor(&cursor).ok().as_deref(),
            Some("2026-11-25|42")
        );
        assert!(decode_cursor("zz").is_err());
        assert!(decode_cursor("abc").is_err());
    }
}

//! Cursor pagination shared by every list.
//!
//! A list reads its `first`/`after` arguments into one [`PageRequest<K>`],
//! where `K` is the list's sort key (a `Uuid`, an `i64` sequence, a
//! `(DateTime<Utc>, Uuid)` pair, ...), and answers with a [`PageConnection`]
//! whose edges carry a [`Cursor<K>`] of each row's key. On the wire a cursor
//! is an opaque, URL-safe, versioned string; anything that does not decode to
//! the list's key shape is `BAD_USER_INPUT` on `after`.

use std::fmt;

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::domain::Deps;
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

/// A Relay connection of one list: edges with a [`Cursor<K>`] each, and `totalCount`.
pub type PageConnection<K, N> = Connection<Cursor<K>, N, TotalCount, EmptyFields>;

/// The `first`/`after` arguments of a list, checked and decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRequest<K> {
    /// How many rows the page holds at most.
    pub limit: usize,
    /// The sort key of the last row of the previous page, if any.
    pub after: Option<K>,
}

impl<K: Serialize + DeserializeOwned> PageRequest<K> {
    /// Reads a list's `first` (checked against the configured maximum page
    /// size, see [`page_size`]) and `after` (a cursor of this list's key shape);
    /// `BAD_USER_INPUT` on `first` or `after` otherwise.
    pub fn new(
        first: Option<i32>,
        after: Option<&str>,
        max_page_size: usize,
    ) -> Result<Self, AppError> {
        let limit = page_size(first, max_page_size)?;
        let after = after
            .map(|cursor| {
                Cursor::<K>::decode_cursor(cursor)
                    .map(|cursor| cursor.0)
                    .map_err(|invalid| AppError::invalid_field("after", invalid.to_string()))
            })
            .transpose()?;
        Ok(Self { limit, after })
    }

    /// The connection answering this request: `key` gives a row's sort key
    /// (the cursor of its edge), `node` its GraphQL node.
    pub fn connection<T, N: async_graphql::OutputType>(
        &self,
        page: Page<T>,
        key: impl Fn(&T) -> K,
        node: impl Fn(T) -> N,
    ) -> PageConnection<K, N>
    where
        K: Send + Sync,
    {
        let mut connection = Connection::with_additional_fields(
            self.after.is_some(),
            page.has_next,
            TotalCount {
                total_count: page.total,
            },
        );
        connection.edges.extend(
            page.rows
                .into_iter()
                .map(|row| Edge::new(Cursor(key(&row)), node(row))),
        );
        connection
    }
}

/// A position in a list: the sort key `K` of a row, as an opaque cursor.
///
/// Encoded as `v1.` followed by the unpadded URL-safe base64 of the key's
/// JSON form; the version prefix lets the format change later while refusing
/// cursors of another version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cursor<K>(pub K);

/// Prefix of every cursor of the current format.
const CURSOR_VERSION: &str = "v1.";

/// A cursor that is not one of this list's: garbage, tampered with, of
/// another version or of another list's key shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidCursor;

impl fmt::Display for InvalidCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Not a valid cursor")
    }
}

impl<K: Serialize + DeserializeOwned> CursorType for Cursor<K> {
    type Error = InvalidCursor;

    fn decode_cursor(s: &str) -> Result<Self, InvalidCursor> {
        let payload = s.strip_prefix(CURSOR_VERSION).ok_or(InvalidCursor)?;
        let json = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidCursor)?;
        serde_json::from_slice(&json)
            .map(Cursor)
            .map_err(|_| InvalidCursor)
    }

    fn encode_cursor(&self) -> String {
        // Serializing plain keys (ids, numbers, times, tuples of them) cannot
        // fail; were it to, the empty payload decodes as an invalid cursor.
        let json = serde_json::to_vec(&self.0).unwrap_or_default();
        format!("{CURSOR_VERSION}{}", URL_SAFE_NO_PAD.encode(json))
    }
}

/// The configured largest page ([`Deps::max_page_size`]); 100 in a schema
/// built without [`Deps`], as in unit tests.
pub fn max_page_size(ctx: &async_graphql::Context<'_>) -> usize {
    ctx.data_opt::<Deps>()
        .map_or(100, |deps| deps.max_page_size)
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use uuid::Uuid;

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

    fn request<K: Serialize + DeserializeOwned>(
        after: Option<&str>,
    ) -> Result<PageRequest<K>, AppError> {
        PageRequest::new(None, after, 100)
    }

    fn round_trip<K: Serialize + DeserializeOwned + Clone + PartialEq + fmt::Debug>(key: K) {
        let cursor = Cursor(key.clone()).encode_cursor();
        assert!(cursor.starts_with(CURSOR_VERSION), "{cursor}");
        assert!(
            cursor
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)),
            "URL-safe: {cursor}"
        );
        assert_eq!(
            request::<K>(Some(&cursor)).ok().and_then(|page| page.after),
            Some(key)
        );
    }

    fn refused<K: Serialize + DeserializeOwned>(cursor: &str) {
        let error = request::<K>(Some(cursor)).err().expect("refused");
        let fields = error.fields();
        assert_eq!(error.code(), crate::error::ErrorCode::BadUserInput);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].field, "after");
        assert_eq!(fields[0].message, "Not a valid cursor");
    }

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn every_key_shape_round_trips() {
        round_trip(Uuid::now_v7());
        round_trip(i64::MAX);
        round_trip(-7_i64);
        round_trip((-3_i32, Uuid::now_v7()));
        round_trip((at("2026-11-25T10:00:00.123456Z"), Uuid::now_v7()));
        round_trip((at("2026-11-25T10:00:00.123456789+05:30"), Uuid::nil()));
        round_trip((0.607_927_1_f32, Uuid::now_v7()));
    }

    #[test]
    fn a_request_reads_first_and_after() {
        let page = request::<Uuid>(None).expect("no cursor");
        assert_eq!(page.limit, DEFAULT_PAGE_SIZE);
        assert_eq!(page.after, None);
        let error = PageRequest::<Uuid>::new(Some(101), None, 100).expect_err("too large");
        assert_eq!(error.fields()[0].field, "first");
        assert_eq!(error.fields()[0].message, "Must be at most 100");
        let error = PageRequest::<Uuid>::new(Some(0), None, 100).expect_err("too small");
        assert_eq!(error.fields()[0].message, "Must be at least 1");
    }

    #[test]
    fn garbage_tampered_and_foreign_cursors_are_refused() {
        let id = Uuid::now_v7();
        let cursor = Cursor(id).encode_cursor();
        refused::<Uuid>("");
        refused::<Uuid>("zz");
        refused::<Uuid>("v1.");
        refused::<Uuid>("v1.!!!!");
        refused::<Uuid>(&format!("{cursor}x"));
        refused::<Uuid>(&cursor.replacen('v', "w", 1));
        // The old hex cursors and a later version are refused, never misread.
        let old_hex: String = id
            .to_string()
            .bytes()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        refused::<Uuid>(&old_hex);
        refused::<Uuid>(&cursor.replacen("v1.", "v2.", 1));
        // The payload is JSON of the wrong shape or not JSON at all.
        let payload = |json: &str| format!("v1.{}", URL_SAFE_NO_PAD.encode(json));
        refused::<Uuid>(&payload("\"not-a-uuid\""));
        refused::<Uuid>(&payload("{"));
        refused::<i64>(&payload("1.5"));
        refused::<(DateTime<Utc>, Uuid)>(&payload("[\"yesterday\", null]"));
        // Another list's cursor: a ticket's (an id) is no article position,
        // an audit sequence no category position.
        refused::<(DateTime<Utc>, Uuid)>(&cursor);
        refused::<(i32, Uuid)>(&Cursor(42_i64).encode_cursor());
        refused::<Uuid>(&Cursor((1_i32, id)).encode_cursor());
    }

    #[test]
    fn a_connection_carries_each_row_key_as_its_cursor() {
        let ids = [Uuid::now_v7(), Uuid::now_v7()];
        let page = Page::from_overfetch(ids.to_vec(), 1, 2);
        let request = request::<Uuid>(Some(&Cursor(ids[1]).encode_cursor())).expect("request");
        let connection = request.connection(page, |id| *id, |id| id.to_string());
        assert!(connection.has_previous_page);
        assert!(connection.has_next_page);
        assert_eq!(connection.additional_fields.total_count, 2);
        let cursors: Vec<_> = connection.edges.iter().map(|edge| edge.cursor.0).collect();
        assert_eq!(cursors, [ids[0]]);
    }
}

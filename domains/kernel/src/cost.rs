//! The query cost model: what an operation's complexity counts.
//!
//! async-graphql computes an operation's complexity before anything runs and
//! refuses it above `GRAPHQL_MAX_COMPLEXITY`. By default every field costs 1
//! plus its selection, which counts a page of 100 rows like one row. Fields
//! that return many rows or do real work say so with
//! `#[graphql(complexity = "...")]` and these functions, so that the cost of
//! a request follows the work it causes:
//!
//! - a page (`first`, [`DEFAULT_PAGE_SIZE`] when omitted) costs
//!   [`page`]: its two statements (count and rows) plus its selection once per row;
//! - a list that is not paged (a ticket's comments, a project's members)
//!   costs [`list`]: its selection [`LIST_ROWS`] times;
//! - a field that runs statements of its own for every parent row adds
//!   [`STATEMENT`] per statement (`Ticket.attachments`, `Project.files`).
//!
//! This computed complexity is also what a request costs a partner's budget.

use crate::pagination::DEFAULT_PAGE_SIZE;

/// Cost of one SQL statement a field runs on its own for each parent row.
pub const STATEMENT: usize = 10;

/// Rows assumed for a list that is not paged, whose length the data decides.
pub const LIST_ROWS: usize = 10;

/// Rows a page of `first` may hold: `first`, or [`DEFAULT_PAGE_SIZE`] when
/// omitted. A `first` below 1 counts as 1 (the list refuses it before any work);
/// one above the configured maximum is counted as asked (the list refuses it
/// too, unless the operation is already too complex).
pub fn rows(first: Option<i32>) -> usize {
    first.map_or(DEFAULT_PAGE_SIZE, |first| {
        usize::try_from(first).unwrap_or(0).max(1)
    })
}

/// Complexity of a page: the count and the rows ([`STATEMENT`] each) plus
/// `child` (the cost of the selection) once per row [`rows`] allows.
pub fn page(first: Option<i32>, child: usize) -> usize {
    rows(first)
        .saturating_mul(child)
        .saturating_add(2 * STATEMENT)
}

/// Complexity of a list that is not paged: the field plus `child`
/// [`LIST_ROWS`] times.
pub fn list(child: usize) -> usize {
    LIST_ROWS.saturating_mul(child).saturating_add(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_costs_its_selection_per_row_and_the_default_page_when_first_is_omitted() {
        assert_eq!(page(Some(100), 3), 2 * STATEMENT + 300);
        assert_eq!(page(Some(1), 3), 2 * STATEMENT + 3);
        assert_eq!(page(None, 3), page(Some(DEFAULT_PAGE_SIZE as i32), 3));
        assert_eq!(page(Some(0), 3), page(Some(1), 3));
        assert_eq!(page(Some(-5), 3), page(Some(1), 3));
        assert_eq!(page(Some(i32::MAX), usize::MAX), usize::MAX);
        assert_eq!(list(2), 1 + 2 * LIST_ROWS);
    }
}

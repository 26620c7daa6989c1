//! Reads of the `files` table. Other crates reach files only through these
//! functions and the service; the owner's [`OwnerAccess`] says whether
//! staff-only files are included.
//!
//! [`OwnerAccess`]: crate::owner::OwnerAccess

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::AppError;
use kernel::pagination::Page;
use kernel::schema::files;
use uuid::Uuid;

use crate::model::{FileOwnerKind, FileRow, OwnerRef};

/// One file by id, whoever owns it (callers check the owner's access).
pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<FileRow>, AppError> {
    Ok(files::table
        .find(id)
        .select(FileRow::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Files of one owner, oldest first.
pub async fn of_owner(
    conn: &mut AsyncPgConnection,
    owner: OwnerRef,
    include_internal: bool,
) -> Result<Vec<FileRow>, AppError> {
    let mut query = files::table
        .filter(files::owner_kind.eq(owner.kind))
        .filter(files::owner_id.eq(owner.id))
        .into_boxed();
    if !include_internal {
        query = query.filter(files::internal.eq(false));
    }
    Ok(query
        .order(files::id.asc())
        .select(FileRow::as_select())
        .load(conn)
        .await?)
}

/// Files of any of `owners` (of one kind each group), newest first, one page.
pub async fn page_of_owners(
    conn: &mut AsyncPgConnection,
    owners: &[OwnerRef],
    include_internal: bool,
    after: Option<Uuid>,
    limit: usize,
) -> Result<Page<FileRow>, AppError> {
    let filtered = || {
        let mut query = files::table.into_boxed();
        // One `owner_id = ANY(...)` per kind present; no owner, no rows.
        let mut any_owner: Option<
            Box<
                dyn BoxableExpression<
                        files::table,
                        diesel::pg::Pg,
                        SqlType = diesel::sql_types::Bool,
                    >,
            >,
        > = None;
        for kind in FileOwnerKind::ALL {
            let ids: Vec<Uuid> = owners
                .iter()
                .filter(|owner| owner.kind == *kind)
                .map(|owner| owner.id)
                .collect();
            if ids.is_empty() {
                continue;
            }
            let this = files::owner_kind.eq(*kind).and(files::owner_id.eq_any(ids));
            any_owner = Some(match any_owner {
                None => Box::new(this),
                Some(before) => Box::new(before.or(this)),
            });
        }
        query = match any_owner {
            Some(condition) => query.filter(condition),
            None => query.filter(files::id.is_null()),
        };
        if !include_internal {
            query = query.filter(files::internal.eq(false));
        }
        query
    };
    let total: i64 = filtered().count().get_result(conn).await?;
    let mut query = filtered();
    if let Some(after) = after {
        query = query.filter(files::id.lt(after));
    }
    let rows: Vec<FileRow> = query
        .order(files::id.desc())
        .limit(limit as i64 + 1)
        .select(FileRow::as_select())
        .load(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit, total))
}

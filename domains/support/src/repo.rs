//! Scoped reads of tickets: the only functions other crates may call.
//!
//! Which tickets a caller sees is the organization rule of
//! `auth::visibility`: staff all, a client its organization's, a partner those
//! of the clients it referred, a freelancer none. A ticket outside the scope
//! is `NOT_FOUND`.

use diesel::dsl::{not, sql};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::pagination::Page;
use kernel::schema::{ticket_comments, ticket_events, tickets};
use kernel::{AccessScope, AppError};
use uuid::Uuid;

use crate::model::{Ticket, TicketComment, TicketEvent, TicketPriority, TicketStatus};

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only these statuses.
    pub statuses: Vec<TicketStatus>,
    /// Only these priorities.
    pub priorities: Vec<TicketPriority>,
    /// Only this assignee.
    pub assignee_id: Option<Uuid>,
    /// Only this project.
    pub project_id: Option<Uuid>,
    /// Only this organization.
    pub organization_id: Option<Uuid>,
    /// Only breached (true) or not breached (false) tickets.
    pub breached: Option<bool>,
    /// Full-text search over subject and body.
    pub search: Option<String>,
}

/// The statuses in which a ticket is done.
pub(crate) const DONE: [TicketStatus; 2] = [TicketStatus::Resolved, TicketStatus::Closed];

/// Tickets a scope may read.
fn visible_tickets(scope: AccessScope) -> tickets::BoxedQuery<'static, Pg> {
    let query = tickets::table.into_boxed();
    match auth::visibility::visible_organization_ids(scope) {
        Some(organizations) => query.filter(tickets::organization_id.eq_any(organizations)),
        None => query,
    }
}

/// A ticket the scope may see, or `NOT_FOUND`.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    scope: AccessScope,
    id: Uuid,
) -> Result<Ticket, AppError> {
    visible_tickets(scope)
        .filter(tickets::id.eq(id))
        .select(Ticket::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("ticket"))
}

/// Tickets the scope may see, newest first, after the ticket `after`.
pub async fn list_visible(
    conn: &mut AsyncPgConnection,
    scope: AccessScope,
    filter: &TicketFilter,
    after: Option<Uuid>,
    limit: usize,
) -> Result<Page<Ticket>, AppError> {
    let build = || {
        let mut query = visible_tickets(scope);
        if !filter.statuses.is_empty() {
            query = query.filter(tickets::status.eq_any(filter.statuses.clone()));
        }
        if !filter.priorities.is_empty() {
            query = query.filter(tickets::priority.eq_any(filter.priorities.clone()));
        }
        if let Some(assignee) = filter.assignee_id {
            query = query.filter(tickets::assignee_id.eq(assignee));
        }
        if let Some(project) = filter.project_id {
            query = query.filter(tickets::project_id.eq(project));
        }
        if let Some(org) = filter.organization_id {
            query = query.filter(tickets::organization_id.eq(org));
        }
        if let Some(breached) = filter.breached {
            let condition = sql::<Bool>(
                "(sla_breached_at IS NOT NULL \
                  OR (first_responded_at IS NULL AND first_response_due_at < now()) \
                  OR (status <> ALL(",
            )
            .bind::<Array<Text>, _>(DONE.map(TicketStatus::as_db).to_vec())
            .sql(") AND resolution_due_at < now()))");
            query = if breached {
                query.filter(condition)
            } else {
                query.filter(not(condition))
            };
        }
        if let Some(search) = filter
            .search
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            query = query.filter(
                sql::<Bool>("search @@ websearch_to_tsquery('simple', ")
                    .bind::<Text, _>(search.to_string())
                    .sql(")"),
            );
        }
        query
    };
    let total: i64 = build().count().get_result(conn).await?;
    let mut page = build();
    if let Some(after) = after {
        page = page.filter(tickets::id.lt(after));
    }
    let rows: Vec<Ticket> = page
        .order(tickets::id.desc())
        .limit(limit as i64 + 1)
        .select(Ticket::as_select())
        .load(conn)
        .await?;
    Ok(Page::from_overfetch(rows, limit, total))
}

/// Comments of tickets (the caller already sees them), oldest first; internal
/// notes only when `include_internal`.
pub async fn comments_of(
    conn: &mut AsyncPgConnection,
    ticket_ids: &[Uuid],
    include_internal: bool,
) -> Result<Vec<TicketComment>, AppError> {
    let mut query = ticket_comments::table
        .filter(ticket_comments::ticket_id.eq_any(ticket_ids))
        .into_boxed();
    if !include_internal {
        query = query.filter(ticket_comments::internal.eq(false));
    }
    Ok(query
        .order((ticket_comments::created_at.asc(), ticket_comments::id.asc()))
        .select(TicketComment::as_select())
        .load(conn)
        .await?)
}

/// One comment of a ticket the scope may see, or `None`; internal notes only
/// when `include_internal`.
pub async fn find_visible_comment(
    conn: &mut AsyncPgConnection,
    scope: AccessScope,
    comment_id: Uuid,
    include_internal: bool,
) -> Result<Option<TicketComment>, AppError> {
    let comment: Option<TicketComment> = ticket_comments::table
        .find(comment_id)
        .select(TicketComment::as_select())
        .first(conn)
        .await
        .optional()?;
    let Some(comment) = comment.filter(|c| include_internal || !c.internal) else {
        return Ok(None);
    };
    match find_visible(conn, scope, comment.ticket_id).await {
        Ok(_) => Ok(Some(comment)),
        Err(error) if error.code() == kernel::ErrorCode::NotFound => Ok(None),
        Err(error) => Err(error),
    }
}

/// The histories of tickets, by ticket, each oldest first (not scoped: the
/// caller checked the tickets).
pub async fn histories(
    conn: &mut AsyncPgConnection,
    ticket_ids: &[Uuid],
) -> Result<Vec<TicketEvent>, AppError> {
    Ok(ticket_events::table
        .filter(ticket_events::ticket_id.eq_any(ticket_ids))
        .order((
            ticket_events::ticket_id.asc(),
            ticket_events::occurred_at.asc(),
            ticket_events::id.asc(),
        ))
        .select(TicketEvent::as_select())
        .load(conn)
        .await?)
}

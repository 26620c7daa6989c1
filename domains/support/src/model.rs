//! Rows of the support tables.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::schema::{ticket_comments, ticket_events, tickets};
use uuid::Uuid;

/// A support ticket.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
pub struct Ticket {
    /// Id.
    pub id: Uuid,
    /// Human-friendly number.
    pub number: i64,
    /// The client organization.
    pub organization_id: Uuid,
    /// Project, if any.
    pub project_id: Option<Uuid>,
    /// Who opened it.
    pub requester_id: Uuid,
    /// Staff member on it.
    pub assignee_id: Option<Uuid>,
    /// Subject.
    pub subject: String,
    /// First message.
    pub body: String,
    /// low, normal, high, urgent.
    pub priority: String,
    /// open, in_progress, waiting_on_client, resolved, closed.
    pub status: String,
    /// First response due (denormalised from the SLA computation).
    pub first_response_due_at: Option<DateTime<Utc>>,
    /// Resolution due (None while paused).
    pub resolution_due_at: Option<DateTime<Utc>>,
    /// First public staff reply.
    pub first_responded_at: Option<DateTime<Utc>>,
    /// Resolved at.
    pub resolved_at: Option<DateTime<Utc>>,
    /// When the breach warning went out.
    pub sla_warned_at: Option<DateTime<Utc>>,
    /// When the breach was marked.
    pub sla_breached_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A message in a ticket's thread.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = ticket_comments, check_for_backend(diesel::pg::Pg))]
pub struct TicketComment {
    /// Id.
    pub id: Uuid,
    /// Ticket.
    pub ticket_id: Uuid,
    /// Author.
    pub author_id: Uuid,
    /// Text.
    pub body: String,
    /// Staff-only note.
    pub internal: bool,
    /// Written at.
    pub created_at: DateTime<Utc>,
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = ticket_events, check_for_backend(diesel::pg::Pg))]
pub struct TicketEvent {
    /// Id.
    pub id: Uuid,
    /// Ticket.
    pub ticket_id: Uuid,
    /// created, status_changed, priority_changed, assigned, staff_reply, client_reply, internal_note.
    pub kind: String,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// Details (`{"to": "resolved"}`, `{"priority": "high"}`).
    pub data: serde_json::Value,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

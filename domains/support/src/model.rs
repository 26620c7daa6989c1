//! Rows of the ticket tables and the vocabularies they hold.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use kernel::db_enum;
use kernel::schema::{ticket_comments, ticket_events, tickets};
use uuid::Uuid;

db_enum! {
    /// How urgent a ticket is; it sets the SLA targets.
    TicketPriority {
        /// Can wait: the loosest SLA targets, counted in days.
        Low = "low",
        /// Ordinary requests; the default for new tickets.
        Normal = "normal",
        /// Within the business day.
        High = "high",
        /// Now (wall-clock targets).
        Urgent = "urgent",
    }
}

db_enum! {
    /// Where a ticket stands.
    TicketStatus {
        /// New or reopened.
        Open = "open",
        /// Staff are on it.
        InProgress = "in_progress",
        /// Waiting for the client; the resolution clock is paused.
        WaitingOnClient = "waiting_on_client",
        /// Staff consider it solved: the resolution clock stops here.
        Resolved = "resolved",

        /// Done for good.
        Closed = "closed",
    }
}

db_enum! {
    /// What an entry of a ticket's history records (`ticket_events.kind`).
    HistoryKind {
        /// The ticket was opened (`{"priority": ...}`).
        Created = "created",
        /// The status changed (`{"from": ..., "to": ...}`).
        StatusChanged = "status_changed",
        /// The priority changed (`{"from": ..., "to": ...}`).
        PriorityChanged = "priority_changed",
        /// The assignee changed (`{"assigneeId": ...}`).
        Assigned = "assigned",
        /// A public reply by staff (`{"commentId": ...}`).
        StaffReply = "staff_reply",
        /// A reply by the client (`{"commentId": ...}`).
        ClientReply = "client_reply",
        /// A staff-only note (`{"commentId": ...}`).
        InternalNote = "internal_note",
        /// The SLA scan warned before a breach.
        SlaWarned = "sla_warned",
        /// The SLA scan marked a breach.
        SlaBreached = "sla_breached",
    }
}

impl TicketStatus {
    /// Whether this status stops the resolution clock (not the first-response clock).
    pub fn pauses_resolution(self) -> bool {
        matches!(self, Self::WaitingOnClient)
    }

    /// Whether the ticket is resolved or closed.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed)
    }

    /// The words for emails, e.g. `waiting on client`.
    pub fn words(self) -> String {
        self.as_db().replace('_', " ")
    }
}

/// A support ticket.
#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Identifiable)]
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
    /// Priority.
    pub priority: TicketPriority,
    /// Status.
    pub status: TicketStatus,
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
    /// What happened.
    pub kind: HistoryKind,
    /// Who.
    pub actor_id: Option<Uuid>,
    /// Details (`{"to": "resolved"}`, `{"priority": "high"}`).
    pub data: serde_json::Value,
    /// When.
    pub occurred_at: DateTime<Utc>,
}

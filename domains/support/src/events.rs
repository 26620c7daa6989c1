//! What the support domain publishes on the bus, as one typed change.

use kernel::events::{Audience, Change};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Ticket, TicketPriority, TicketStatus};
use crate::sla::SlaState;

/// Topic of one ticket's changes.
pub fn ticket_topic(ticket_id: Uuid) -> String {
    format!("support.ticket.{ticket_id}")
}

/// Topic of the ticket queue (every ticket's changes).
pub const QUEUE_TOPIC: &str = "support.tickets";

/// Where a ticket stands after a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketFacts {
    /// The ticket.
    pub ticket_id: Uuid,
    /// Its client organization: who may see the change.
    pub organization_id: Uuid,
    /// Its status.
    pub status: TicketStatus,
    /// Its priority.
    pub priority: TicketPriority,
    /// Its assignee.
    pub assignee_id: Option<Uuid>,
}

impl From<&Ticket> for TicketFacts {
    fn from(ticket: &Ticket) -> Self {
        Self {
            ticket_id: ticket.id,
            organization_id: ticket.organization_id,
            status: ticket.status,
            priority: ticket.priority,
            assignee_id: ticket.assignee_id,
        }
    }
}

/// A change on a ticket, published on the ticket's topic and on the queue.
/// Its audience is the ticket's organization; internal notes reach staff only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum TicketChange {
    /// The ticket was opened.
    #[serde(rename = "ticket.created")]
    Created(TicketFacts),
    /// A reply or an internal note was added.
    #[serde(rename = "ticket.comment_added", rename_all = "camelCase")]
    CommentAdded {
        /// The ticket after the comment.
        ticket: TicketFacts,
        /// The comment.
        comment_id: Uuid,
        /// Whether it is a staff-only note.
        internal: bool,
    },
    /// The status changed.
    #[serde(rename = "ticket.status_changed")]
    StatusChanged(TicketFacts),
    /// The priority changed.
    #[serde(rename = "ticket.priority_changed")]
    PriorityChanged(TicketFacts),
    /// The assignee changed.
    #[serde(rename = "ticket.assigned")]
    Assigned(TicketFacts),
    /// The SLA scan found the ticket at risk or breached.
    #[serde(rename = "ticket.sla_changed", rename_all = "camelCase")]
    SlaChanged {
        /// The ticket.
        ticket: TicketFacts,
        /// Its SLA state now.
        sla_state: SlaState,
    },
}

impl TicketChange {
    /// The ticket after the change.
    pub fn ticket(&self) -> &TicketFacts {
        match self {
            Self::Created(ticket)
            | Self::StatusChanged(ticket)
            | Self::PriorityChanged(ticket)
            | Self::Assigned(ticket)
            | Self::CommentAdded { ticket, .. }
            | Self::SlaChanged { ticket, .. } => ticket,
        }
    }
}

impl Change for TicketChange {
    fn audience(&self) -> Audience {
        Audience {
            organization_id: Some(self.ticket().organization_id),
            staff_only: matches!(self, Self::CommentAdded { internal: true, .. }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> TicketFacts {
        TicketFacts {
            ticket_id: Uuid::from_u128(1),
            organization_id: Uuid::from_u128(2),
            status: TicketStatus::WaitingOnClient,
            priority: TicketPriority::High,
            assignee_id: None,
        }
    }

    #[test]
    fn internal_notes_are_for_staff_and_every_change_names_its_organization() {
        let note = TicketChange::CommentAdded {
            ticket: facts(),
            comment_id: Uuid::from_u128(3),
            internal: true,
        };
        assert_eq!(
            note.audience(),
            Audience {
                organization_id: Some(Uuid::from_u128(2)),
                staff_only: true,
            }
        );
        for change in [
            TicketChange::Created(facts()),
            TicketChange::CommentAdded {
                ticket: facts(),
                comment_id: Uuid::from_u128(3),
                internal: false,
            },
            TicketChange::SlaChanged {
                ticket: facts(),
                sla_state: SlaState::Breached,
            },
        ] {
            assert!(!change.audience().staff_only, "{change:?}");
            assert_eq!(change.audience().organization_id, Some(Uuid::from_u128(2)));
        }
    }

    #[test]
    fn a_change_round_trips_through_the_bus_form() {
        let change = TicketChange::SlaChanged {
            ticket: facts(),
            sla_state: SlaState::AtRisk,
        };
        let event = kernel::events::Event::of(QUEUE_TOPIC, None, &change);
        assert_eq!(event.data["kind"], "ticket.sla_changed");
        assert_eq!(event.data["ticket"]["status"], "waiting_on_client");
        assert_eq!(event.decode::<TicketChange>(), Some(change));
    }
}

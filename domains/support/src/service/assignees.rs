//! Assignees who lose the right to a ticket's internal notes lose the ticket.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::schema::tickets;
use kernel::{AppError, RequestMeta};
use serde_json::json;
use uuid::Uuid;

use super::{TicketService, record_event};
use crate::events::{TicketChange, TicketFacts};
use crate::model::{HistoryKind, Ticket};
use crate::policy;

impl TicketService {
    /// Unassigns every ticket of `user_id` unless their role holds
    /// [`policy::ASSIGNEE`] now (it may have been given back since): one
    /// history entry and one audit entry, by `actor`, per ticket. Answers
    /// how many tickets were released; running it again releases none.
    pub async fn release_tickets_of(
        &self,
        user_id: Uuid,
        actor: Option<Uuid>,
        reason: &str,
    ) -> Result<usize, AppError> {
        let mut conn = self.db.get().await?;
        let changes = conn
            .transaction::<_, AppError, _>(async |conn| {
                if !auth::repo::permission_holders(conn, &[user_id], policy::ASSIGNEE)
                    .await?
                    .is_empty()
                {
                    return Ok(Vec::new());
                }
                let now = Utc::now();
                let released: Vec<Ticket> =
                    diesel::update(tickets::table.filter(tickets::assignee_id.eq(user_id)))
                        .set((
                            tickets::assignee_id.eq(None::<Uuid>),
                            tickets::updated_at.eq(now),
                        ))
                        .returning(Ticket::as_returning())
                        .get_results(conn)
                        .await?;
                let mut changes = Vec::with_capacity(released.len());
                for ticket in &released {
                    record_event(
                        conn,
                        ticket.id,
                        HistoryKind::Assigned,
                        actor,
                        json!({ "assigneeId": null, "reason": reason }),
                        now,
                    )
                    .await?;
                    auth::audit::AuditEvent::new("ticket.unassigned", "ticket")
                        .of(ticket.id)
                        .by(actor)
                        .diff(json!({
                            "before": { "assigneeId": user_id },
                            "after": { "assigneeId": null },
                            "reason": reason,
                        }))
                        .record(conn, &RequestMeta::default())
                        .await?;
                    changes.push(TicketChange::Assigned(TicketFacts::from(ticket)));
                }
                Ok(changes)
            })
            .await?;
        self.publish(actor, &changes);
        Ok(changes.len())
    }
}

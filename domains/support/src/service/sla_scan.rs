//! The periodic SLA scan: warnings before breaches, and each breach marked once.

use chrono::Utc;
use diesel::sql_types::{Array, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::AppError;
use serde_json::json;

use super::{TicketService, record_event};
use crate::events::{TicketChange, TicketFacts};
use crate::model::{HistoryKind, Ticket, TicketStatus};
use crate::notify::{self, SLA_WARNING};
use crate::repo::DONE;
use crate::sla::SlaState;

/// Marks tickets at risk: `$1` the statuses without a running clock.
const WARN_SQL: &str = "UPDATE tickets t SET sla_warned_at = now()
     FROM sla_policies p
     WHERE p.priority = t.priority AND t.sla_warned_at IS NULL AND t.sla_breached_at IS NULL
       AND t.status <> ALL($1)
       AND ((t.first_responded_at IS NULL AND t.first_response_due_at - make_interval(mins => p.warn_before_minutes) <= now())
         OR t.resolution_due_at - make_interval(mins => p.warn_before_minutes) <= now())
     RETURNING t.*";

/// Marks breaches once: `$1` the done statuses, `$2` the paused one.
const BREACH_SQL: &str = "UPDATE tickets SET sla_breached_at = now()
     WHERE sla_breached_at IS NULL AND status <> ALL($1)
       AND ((first_responded_at IS NULL AND first_response_due_at <= now())
         OR (status <> $2 AND resolution_due_at <= now()))
     RETURNING *";

impl TicketService {
    /// Warns before breaches and marks each breach once; answers (warned, breached) tickets.
    pub async fn scan_sla(&self) -> Result<(usize, usize), AppError> {
        let done: Vec<&str> = DONE.map(TicketStatus::as_db).to_vec();
        let mut quiet = done.clone();
        quiet.push(TicketStatus::WaitingOnClient.as_db());
        let mut conn = self.db.get().await?;
        let changes = conn
            .transaction::<_, AppError, _>(async |conn| {
                let warned: Vec<Ticket> = diesel::sql_query(WARN_SQL)
                    .bind::<Array<Text>, _>(&quiet)
                    .load(conn)
                    .await?;
                let breached: Vec<Ticket> = diesel::sql_query(BREACH_SQL)
                    .bind::<Array<Text>, _>(&done)
                    .bind::<Text, _>(TicketStatus::WaitingOnClient)
                    .load(conn)
                    .await?;
                let admins = notify::admins(conn).await?;
                let mut changes = Vec::new();
                for (tickets, state) in [(warned, SlaState::AtRisk), (breached, SlaState::Breached)]
                {
                    let (word, kind) = match state {
                        SlaState::Breached => ("breached", HistoryKind::SlaBreached),
                        _ => ("at risk", HistoryKind::SlaWarned),
                    };
                    for ticket in &tickets {
                        let mut recipients = admins.clone();
                        recipients.extend(ticket.assignee_id);
                        notify::email_users(
                            conn,
                            &recipients,
                            None,
                            SLA_WARNING,
                            &format!("SLA {word}: #{} {}", ticket.number, ticket.subject),
                            &format!(
                                "The SLA of ticket #{} ({} priority) is {word}.\n",
                                ticket.number,
                                ticket.priority.as_db()
                            ),
                        )
                        .await?;
                        record_event(conn, ticket.id, kind, None, json!({}), Utc::now()).await?;
                        changes.push(TicketChange::SlaChanged {
                            ticket: TicketFacts::from(ticket),
                            sla_state: state,
                        });
                    }
                }
                Ok(changes)
            })
            .await?;
        self.publish(None, &changes);
        let breached = changes
            .iter()
            .filter(|change| {
                matches!(
                    change,
                    TicketChange::SlaChanged {
                        sla_state: SlaState::Breached,
                        ..
                    }
                )
            })
            .count();
        Ok((changes.len() - breached, breached))
    }
}

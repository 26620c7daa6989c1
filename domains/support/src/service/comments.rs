//! Replies and internal notes.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::schema::{ticket_comments, tickets};
use kernel::validate::required;
use kernel::{AppError, Principal};
use serde_json::json;
use uuid::Uuid;

use super::{TicketService, record_event, refresh_sla};
use crate::events::{TicketChange, TicketFacts};
use crate::model::{HistoryKind, TicketComment, TicketStatus};
use crate::notify::{self, TICKET_REPLY};
use crate::policy;
use crate::repo;

impl TicketService {
    /// Adds a reply or (staff only) an internal note. A client reply to a
    /// ticket waiting on the client reopens it, which resumes the SLA clock.
    pub async fn comment(
        &self,
        principal: &Principal,
        ticket_id: Uuid,
        body: &str,
        internal: bool,
    ) -> Result<TicketComment, AppError> {
        let body = required(body, "input.body", 20_000)?;
        let kind = policy::comment_kind(principal, internal)?;
        let mut conn = self.db.get().await?;
        let ticket = repo::find_visible(&mut conn, principal.scope(), ticket_id).await?;
        let actor = Some(principal.user_id);
        let (comment, changes) = conn
            .transaction::<_, AppError, _>(async |conn| {
                let now = Utc::now();
                let comment: TicketComment = diesel::insert_into(ticket_comments::table)
                    .values((
                        ticket_comments::id.eq(Uuid::now_v7()),
                        ticket_comments::ticket_id.eq(ticket_id),
                        ticket_comments::author_id.eq(principal.user_id),
                        ticket_comments::body.eq(&body),
                        ticket_comments::internal.eq(internal),
                        ticket_comments::created_at.eq(now),
                    ))
                    .returning(TicketComment::as_returning())
                    .get_result(conn)
                    .await?;
                record_event(
                    conn,
                    ticket_id,
                    kind,
                    actor,
                    json!({ "commentId": comment.id }),
                    now,
                )
                .await?;
                let reopened = policy::reopens(kind, ticket.status);
                if reopened {
                    diesel::update(tickets::table.find(ticket_id))
                        .set(tickets::status.eq(TicketStatus::Open))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        ticket_id,
                        HistoryKind::StatusChanged,
                        actor,
                        json!({ "from": ticket.status, "to": TicketStatus::Open }),
                        now,
                    )
                    .await?;
                }
                let summary = format!("#{} {}", ticket.number, ticket.subject);
                match kind {
                    // Clients are never sent internal notes: only the assignee
                    // hears of them, while they may still read them.
                    HistoryKind::InternalNote => {
                        if let Some(assignee) = ticket.assignee_id {
                            notify::email_holders(
                                conn,
                                &[assignee],
                                policy::TICKET_INTERNAL,
                                actor,
                                TICKET_REPLY,
                                &format!("Internal note on {summary}"),
                                &format!("{body}\n"),
                            )
                            .await?;
                        }
                    }
                    HistoryKind::StaffReply => {
                        notify::email_users(
                            conn,
                            &[ticket.requester_id],
                            actor,
                            TICKET_REPLY,
                            &format!("New reply on {summary}"),
                            &format!("{body}\n"),
                        )
                        .await?;
                    }
                    _ => {
                        let recipients = match ticket.assignee_id {
                            Some(assignee) => vec![assignee],
                            None => notify::admins(conn).await?,
                        };
                        notify::email_holders(
                            conn,
                            &recipients,
                            policy::TICKET_MANAGE,
                            actor,
                            TICKET_REPLY,
                            &format!("Client reply on {summary}"),
                            &format!("{body}\n"),
                        )
                        .await?;
                    }
                }
                let ticket = refresh_sla(conn, ticket_id).await?;
                let facts = TicketFacts::from(&ticket);
                let mut changes = vec![TicketChange::CommentAdded {
                    ticket: facts,
                    comment_id: comment.id,
                    internal: comment.internal,
                }];
                if reopened {
                    changes.push(TicketChange::StatusChanged(facts));
                }
                Ok((comment, changes))
            })
            .await?;
        self.publish(actor, &changes);
        Ok(comment)
    }

    /// Comments of tickets the caller already sees, oldest first; internal
    /// notes only when `include_internal`.
    pub async fn comments_of(
        &self,
        ticket_ids: &[Uuid],
        include_internal: bool,
    ) -> Result<Vec<TicketComment>, AppError> {
        let mut conn = self.db.get().await?;
        repo::comments_of(&mut conn, ticket_ids, include_internal).await
    }

    /// One comment the caller may read (for live events), or `None`.
    pub async fn comment_by_id(
        &self,
        principal: &Principal,
        comment_id: Uuid,
    ) -> Result<Option<TicketComment>, AppError> {
        let mut conn = self.db.get().await?;
        repo::find_visible_comment(
            &mut conn,
            principal.scope(),
            comment_id,
            policy::sees_internal(principal),
        )
        .await
    }
}

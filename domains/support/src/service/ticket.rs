//! Opening and changing tickets.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::schema::tickets;
use kernel::validate::required;
use kernel::{AppError, Principal};
use serde_json::json;
use uuid::Uuid;

use super::{TicketService, record_event, refresh_sla};
use crate::events::{TicketChange, TicketFacts};
use crate::model::{HistoryKind, Ticket, TicketPriority, TicketStatus};
use crate::notify::{self, TICKET_ASSIGNED, TICKET_CREATED, TICKET_STATUS};
use crate::policy::{self, Opener};

/// Input of `createTicket`.
#[derive(Debug, Clone)]
pub struct TicketDraft {
    /// Subject.
    pub subject: String,
    /// First message.
    pub body: String,
    /// Priority (default normal).
    pub priority: Option<TicketPriority>,
    /// Project of the organization, if any.
    pub project_id: Option<Uuid>,
    /// For staff: the client organization (clients always open for their own).
    pub organization_id: Option<Uuid>,
}

/// Changes staff make to a ticket.
#[derive(Debug, Clone, Default)]
pub struct TicketUpdate {
    /// New status.
    pub status: Option<TicketStatus>,
    /// New priority.
    pub priority: Option<TicketPriority>,
    /// New assignee (`Some(None)` unassigns).
    pub assignee_id: Option<Option<Uuid>>,
}

impl TicketService {
    /// Opens a ticket: clients for their organization, staff for any.
    pub async fn create(
        &self,
        principal: &Principal,
        input: TicketDraft,
    ) -> Result<Ticket, AppError> {
        let opener = policy::opener(principal)?;
        let subject = required(&input.subject, "input.subject", 200)?;
        let body = required(&input.body, "input.body", 20_000)?;
        let priority = input.priority.unwrap_or(TicketPriority::Normal);
        let mut conn = self.db.get().await?;
        let organization_id = match opener {
            Opener::OwnOrganization(own) => own,
            Opener::AnyOrganization => match (input.organization_id, input.project_id) {
                (Some(org), _) => org,
                (None, Some(project)) => ::projects::repo::organization_of(&mut conn, project)
                    .await?
                    .ok_or_else(|| AppError::invalid_field("input.projectId", "No such project"))?,
                (None, None) => {
                    return Err(AppError::invalid_field(
                        "input.organizationId",
                        "Name the client organization",
                    ));
                }
            },
        };
        if !auth::repo::organization_kind(&mut conn, organization_id)
            .await?
            .is_some_and(policy::may_own_tickets)
        {
            return Err(AppError::invalid_field(
                "input.organizationId",
                "Tickets belong to a client organization",
            ));
        }
        if let Some(project) = input.project_id {
            ::projects::repo::find_visible(&mut conn, principal.scope(), project)
                .await
                .ok()
                .filter(|p| p.organization_id == organization_id)
                .ok_or_else(|| {
                    AppError::invalid_field(
                        "input.projectId",
                        "No such project of this organization",
                    )
                })?;
        }
        let ticket = conn
            .transaction::<_, AppError, _>(async |conn| {
                let now = Utc::now();
                let ticket: Ticket = diesel::insert_into(tickets::table)
                    .values((
                        tickets::id.eq(Uuid::now_v7()),
                        tickets::organization_id.eq(organization_id),
                        tickets::project_id.eq(input.project_id),
                        tickets::requester_id.eq(principal.user_id),
                        tickets::subject.eq(&subject),
                        tickets::body.eq(&body),
                        tickets::priority.eq(priority),
                        tickets::created_at.eq(now),
                    ))
                    .returning(Ticket::as_returning())
                    .get_result(conn)
                    .await?;
                record_event(
                    conn,
                    ticket.id,
                    HistoryKind::Created,
                    Some(principal.user_id),
                    json!({ "priority": priority }),
                    now,
                )
                .await?;
                let ticket = refresh_sla(conn, ticket.id).await?;
                let admins = notify::admins(conn).await?;
                let summary = format!("#{} {}", ticket.number, ticket.subject);
                notify::email_users(
                    conn,
                    &admins,
                    Some(principal.user_id),
                    TICKET_CREATED,
                    &format!("New ticket {summary}"),
                    &format!(
                        "A new {} ticket was opened:\n\n{summary}\n\n{body}\n",
                        priority.as_db()
                    ),
                )
                .await?;
                notify::email_users(
                    conn,
                    &[principal.user_id],
                    None,
                    TICKET_CREATED,
                    &format!("We received your ticket {summary}"),
                    &format!("Thank you. Your ticket {summary} is open; we will reply soon.\n"),
                )
                .await?;
                Ok(ticket)
            })
            .await?;
        self.publish(
            Some(principal.user_id),
            &[TicketChange::Created(TicketFacts::from(&ticket))],
        );
        Ok(ticket)
    }

    /// Changes status, priority or assignee (staff).
    pub async fn update(
        &self,
        principal: &Principal,
        id: Uuid,
        update: TicketUpdate,
    ) -> Result<Ticket, AppError> {
        policy::may_change(principal)?;
        let mut conn = self.db.get().await?;
        if let Some(Some(assignee)) = update.assignee_id
            && auth::repo::permission_holders(&mut conn, &[assignee], policy::ASSIGNEE)
                .await?
                .is_empty()
        {
            return Err(AppError::invalid_field(
                "input.assigneeId",
                "Tickets are assigned to staff",
            ));
        }
        let (ticket, changes) = conn
            .transaction::<_, AppError, _>(async |conn| {
                let current: Ticket = tickets::table
                    .find(id)
                    .for_update()
                    .select(Ticket::as_select())
                    .first(conn)
                    .await
                    .optional()?
                    .ok_or_else(|| AppError::not_found("ticket"))?;
                let now = Utc::now();
                let actor = Some(principal.user_id);
                let mut changes: Vec<fn(TicketFacts) -> TicketChange> = Vec::new();
                if let Some(status) = update.status.filter(|s| *s != current.status) {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::status.eq(status))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        id,
                        HistoryKind::StatusChanged,
                        actor,
                        json!({ "from": current.status, "to": status }),
                        now,
                    )
                    .await?;
                    notify::email_users(
                        conn,
                        &[current.requester_id],
                        actor,
                        TICKET_STATUS,
                        &format!("Ticket #{} is now {}", current.number, status.words()),
                        &format!(
                            "Your ticket #{} {} changed from {} to {}.\n",
                            current.number,
                            current.subject,
                            current.status.words(),
                            status.words()
                        ),
                    )
                    .await?;
                    changes.push(TicketChange::StatusChanged);
                }
                if let Some(priority) = update.priority.filter(|p| *p != current.priority) {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::priority.eq(priority))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        id,
                        HistoryKind::PriorityChanged,
                        actor,
                        json!({ "from": current.priority, "to": priority }),
                        now,
                    )
                    .await?;
                    changes.push(TicketChange::PriorityChanged);
                }
                if let Some(assignee) = update.assignee_id.filter(|a| *a != current.assignee_id) {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::assignee_id.eq(assignee))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        id,
                        HistoryKind::Assigned,
                        actor,
                        json!({ "assigneeId": assignee }),
                        now,
                    )
                    .await?;
                    if let Some(assignee) = assignee {
                        notify::email_users(
                            conn,
                            &[assignee],
                            actor,
                            TICKET_ASSIGNED,
                            &format!("Ticket #{} is assigned to you", current.number),
                            &format!(
                                "You now own ticket #{} {}.\n",
                                current.number, current.subject
                            ),
                        )
                        .await?;
                    }
                    changes.push(TicketChange::Assigned);
                }
                let ticket = refresh_sla(conn, id).await?;
                let facts = TicketFacts::from(&ticket);
                let changes: Vec<TicketChange> =
                    changes.into_iter().map(|change| change(facts)).collect();
                Ok((ticket, changes))
            })
            .await?;
        self.publish(Some(principal.user_id), &changes);
        Ok(ticket)
    }
}

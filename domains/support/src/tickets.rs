//! Ticket use cases, one transaction each; notifications and events ride along.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::Bool;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::events::{Audience, Event, EventBus};
use kernel::pagination::Page;
use kernel::schema::{organizations, projects, ticket_comments, ticket_events, tickets, users};
use kernel::validate::required;
use kernel::{AccessScope, AppError, Db, Principal};
use serde_json::json;
use uuid::Uuid;

use crate::model::{Ticket, TicketComment, TicketEvent};
use crate::notify;
use crate::sla::{SlaSnapshot, SlaState};
use crate::sla_store::SlaRules;

/// Topic of one ticket's events.
pub fn ticket_topic(ticket_id: Uuid) -> String {
    format!("support.ticket.{ticket_id}")
}

/// Topic of the ticket queue (every ticket's summary events).
pub const QUEUE_TOPIC: &str = "support.tickets";

/// Priorities and statuses as stored.
pub const PRIORITIES: [&str; 4] = ["low", "normal", "high", "urgent"];
/// Statuses as stored.
pub const STATUSES: [&str; 5] = [
    "open",
    "in_progress",
    "waiting_on_client",
    "resolved",
    "closed",
];

/// Input of `createTicket`.
#[derive(Debug, Clone)]
pub struct NewTicket {
    /// Subject.
    pub subject: String,
    /// First message.
    pub body: String,
    /// Priority (default normal).
    pub priority: Option<String>,
    /// Project of the organization, if any.
    pub project_id: Option<Uuid>,
    /// For staff: the client organization (clients always open for their own).
    pub organization_id: Option<Uuid>,
}

/// Changes staff make to a ticket.
#[derive(Debug, Clone, Default)]
pub struct TicketUpdate {
    /// New status.
    pub status: Option<String>,
    /// New priority.
    pub priority: Option<String>,
    /// New assignee (`Some(None)` unassigns).
    pub assignee_id: Option<Option<Uuid>>,
}

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    /// Only these statuses.
    pub statuses: Vec<String>,
    /// Only these priorities.
    pub priorities: Vec<String>,
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

/// The support desk's ticket service.
pub struct TicketService {
    db: Db,
    bus: Arc<dyn EventBus>,
}

fn one_of(value: &str, allowed: &[&str], field: &str) -> Result<String, AppError> {
    if allowed.contains(&value) {
        Ok(value.to_string())
    } else {
        Err(AppError::invalid_field(
            field,
            format!("Must be one of {}", allowed.join(", ")),
        ))
    }
}

/// Tickets a scope may read.
fn visible_tickets(scope: AccessScope) -> tickets::BoxedQuery<'static, Pg> {
    let query = tickets::table.into_boxed();
    match scope {
        AccessScope::Staff => query,
        AccessScope::ClientOrg(org) => query.filter(tickets::organization_id.eq(org)),
        AccessScope::Partner(partner) => query.filter(
            tickets::organization_id.eq_any(
                organizations::table
                    .filter(organizations::referred_by_partner_id.eq(partner))
                    .select(organizations::id),
            ),
        ),
        // Freelancers work on projects, not on the support desk.
        AccessScope::Assigned(_) => query.filter(sql::<Bool>("false")),
    }
}

async fn record_event(
    conn: &mut AsyncPgConnection,
    ticket: Uuid,
    kind: &str,
    actor: Option<Uuid>,
    data: serde_json::Value,
    at: DateTime<Utc>,
) -> Result<(), AppError> {
    diesel::insert_into(ticket_events::table)
        .values((
            ticket_events::id.eq(Uuid::now_v7()),
            ticket_events::ticket_id.eq(ticket),
            ticket_events::kind.eq(kind),
            ticket_events::actor_id.eq(actor),
            ticket_events::data.eq(data),
            ticket_events::occurred_at.eq(at),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

impl TicketService {
    /// A service on the pool, publishing to the bus.
    pub fn new(db: Db, bus: Arc<dyn EventBus>) -> Self {
        Self { db, bus }
    }

    /// The pool.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The bus, for subscriptions.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }

    fn publish(&self, ticket: &Ticket, kind: &str, actor: Option<Uuid>, extra: serde_json::Value) {
        let mut data = json!({
            "ticketId": ticket.id,
            "organizationId": ticket.organization_id,
            "status": ticket.status,
            "priority": ticket.priority,
            "assigneeId": ticket.assignee_id,
        });
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        let audience = Audience {
            organization_id: Some(ticket.organization_id),
            staff_only: data.get("internal").and_then(|v| v.as_bool()) == Some(true),
        };
        self.bus.publish(Event::untyped(
            ticket_topic(ticket.id),
            kind,
            actor,
            audience,
            data.clone(),
        ));
        self.bus
            .publish(Event::untyped(QUEUE_TOPIC, kind, actor, audience, data));
    }

    /// Recomputes the ticket's SLA facts from its history and stores them.
    async fn refresh_sla(
        conn: &mut AsyncPgConnection,
        ticket_id: Uuid,
    ) -> Result<Ticket, AppError> {
        let rules = SlaRules::load(conn).await?;
        let events = history(conn, ticket_id).await?;
        let snapshot = rules.compute(&events, Utc::now())?;
        Ok(diesel::update(tickets::table.find(ticket_id))
            .set((
                tickets::first_response_due_at.eq(Some(snapshot.first_response_due_at)),
                tickets::resolution_due_at.eq(snapshot.resolution_due_at),
                tickets::first_responded_at.eq(snapshot.first_responded_at),
                tickets::resolved_at.eq(snapshot.resolved_at),
                tickets::updated_at.eq(Utc::now()),
            ))
            .returning(Ticket::as_returning())
            .get_result(conn)
            .await?)
    }

    /// Opens a ticket: clients for their organization, staff for any.
    pub async fn create(
        &self,
        principal: &Principal,
        input: NewTicket,
    ) -> Result<Ticket, AppError> {
        principal.require("support:ticket.create")?;
        let subject = required(&input.subject, "input.subject", 200)?;
        let body = required(&input.body, "input.body", 20_000)?;
        let priority = one_of(
            input.priority.as_deref().unwrap_or("normal"),
            &PRIORITIES,
            "input.priority",
        )?;
        let mut conn = self.db.get().await?;
        let organization_id = match principal.scope() {
            AccessScope::ClientOrg(own) => own,
            AccessScope::Staff => match (input.organization_id, input.project_id) {
                (Some(org), _) => org,
                (None, Some(project)) => projects::table
                    .find(project)
                    .select(projects::organization_id)
                    .first(&mut conn)
                    .await
                    .optional()?
                    .ok_or_else(|| AppError::invalid_field("input.projectId", "No such project"))?,
                (None, None) => {
                    return Err(AppError::invalid_field(
                        "input.organizationId",
                        "Name the client organization",
                    ));
                }
            },
            _ => return Err(AppError::forbidden("You may not open tickets")),
        };
        let kind: Option<String> = organizations::table
            .find(organization_id)
            .select(organizations::kind)
            .first(&mut conn)
            .await
            .optional()?;
        if kind.as_deref() != Some("client") {
            return Err(AppError::invalid_field(
                "input.organizationId",
                "Tickets belong to a client organization",
            ));
        }
        if let Some(project) = input.project_id {
            ::projects::service::find_visible(&mut conn, principal.scope(), project)
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
                        tickets::priority.eq(&priority),
                        tickets::created_at.eq(now),
                    ))
                    .returning(Ticket::as_returning())
                    .get_result(conn)
                    .await?;
                record_event(
                    conn,
                    ticket.id,
                    "created",
                    Some(principal.user_id),
                    json!({ "priority": priority }),
                    now,
                )
                .await?;
                let ticket = Self::refresh_sla(conn, ticket.id).await?;
                let admins = notify::admins(conn).await?;
                let summary = format!("#{} {}", ticket.number, ticket.subject);
                notify::email_users(
                    conn,
                    &admins,
                    Some(principal.user_id),
                    "ticket_created",
                    &format!("New ticket {summary}"),
                    &format!("A new {priority} ticket was opened:\n\n{summary}\n\n{body}\n"),
                )
                .await?;
                notify::email_users(
                    conn,
                    &[principal.user_id],
                    None,
                    "ticket_created",
                    &format!("We received your ticket {summary}"),
                    &format!("Thank you. Your ticket {summary} is open; we will reply soon.\n"),
                )
                .await?;
                Ok(ticket)
            })
            .await?;
        self.publish(
            &ticket,
            "ticket.created",
            Some(principal.user_id),
            json!({}),
        );
        Ok(ticket)
    }

    /// A ticket the caller may see, or `NOT_FOUND`.
    pub async fn ticket(&self, principal: &Principal, id: Uuid) -> Result<Ticket, AppError> {
        let mut conn = self.db.get().await?;
        find_visible(&mut conn, principal.scope(), id).await
    }

    /// Changes status, priority or assignee (staff).
    pub async fn update(
        &self,
        principal: &Principal,
        id: Uuid,
        update: TicketUpdate,
    ) -> Result<Ticket, AppError> {
        principal.require("support:ticket.manage")?;
        let status = update
            .status
            .as_deref()
            .map(|s| one_of(s, &STATUSES, "input.status"))
            .transpose()?;
        let priority = update
            .priority
            .as_deref()
            .map(|p| one_of(p, &PRIORITIES, "input.priority"))
            .transpose()?;
        let mut conn = self.db.get().await?;
        if let Some(Some(assignee)) = update.assignee_id {
            let role: Option<String> = users::table
                .find(assignee)
                .select(users::role)
                .first(&mut conn)
                .await
                .optional()?;
            if !role
                .and_then(|r| kernel::Role::from_db(&r))
                .is_some_and(kernel::Role::is_staff)
            {
                return Err(AppError::invalid_field(
                    "input.assigneeId",
                    "Tickets are assigned to staff",
                ));
            }
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
                let mut changes = Vec::new();
                if let Some(status) = status.filter(|s| *s != current.status) {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::status.eq(&status))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        id,
                        "status_changed",
                        Some(principal.user_id),
                        json!({ "from": current.status, "to": status }),
                        now,
                    )
                    .await?;
                    notify::email_users(
                        conn,
                        &[current.requester_id],
                        Some(principal.user_id),
                        "ticket_status",
                        &format!(
                            "Ticket #{} is now {}",
                            current.number,
                            status.replace('_', " ")
                        ),
                        &format!(
                            "Your ticket #{} {} changed from {} to {}.\n",
                            current.number,
                            current.subject,
                            current.status.replace('_', " "),
                            status.replace('_', " ")
                        ),
                    )
                    .await?;
                    changes.push("ticket.status_changed");
                }
                if let Some(priority) = priority.filter(|p| *p != current.priority) {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::priority.eq(&priority))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        id,
                        "priority_changed",
                        Some(principal.user_id),
                        json!({ "from": current.priority, "to": priority }),
                        now,
                    )
                    .await?;
                    changes.push("ticket.priority_changed");
                }
                if let Some(assignee) = update.assignee_id.filter(|a| *a != current.assignee_id) {
                    diesel::update(tickets::table.find(id))
                        .set(tickets::assignee_id.eq(assignee))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        id,
                        "assigned",
                        Some(principal.user_id),
                        json!({ "assigneeId": assignee }),
                        now,
                    )
                    .await?;
                    if let Some(assignee) = assignee {
                        notify::email_users(
                            conn,
                            &[assignee],
                            Some(principal.user_id),
                            "ticket_assigned",
                            &format!("Ticket #{} is assigned to you", current.number),
                            &format!(
                                "You now own ticket #{} {}.\n",
                                current.number, current.subject
                            ),
                        )
                        .await?;
                    }
                    changes.push("ticket.assigned");
                }
                let ticket = Self::refresh_sla(conn, id).await?;
                Ok((ticket, changes))
            })
            .await?;
        for kind in changes {
            self.publish(&ticket, kind, Some(principal.user_id), json!({}));
        }
        Ok(ticket)
    }

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
        if internal && !principal.has("support:ticket.internal") {
            return Err(AppError::forbidden("Only staff write internal notes"));
        }
        let staff = principal.has("support:ticket.manage");
        if !staff && !principal.has("support:ticket.create") {
            return Err(AppError::forbidden("You may not reply to tickets"));
        }
        let mut conn = self.db.get().await?;
        let ticket = find_visible(&mut conn, principal.scope(), ticket_id).await?;
        let (comment, ticket, reopened) = conn
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
                let kind = match (internal, staff) {
                    (true, _) => "internal_note",
                    (false, true) => "staff_reply",
                    (false, false) => "client_reply",
                };
                record_event(
                    conn,
                    ticket_id,
                    kind,
                    Some(principal.user_id),
                    json!({ "commentId": comment.id }),
                    now,
                )
                .await?;
                let mut reopened = false;
                if kind == "client_reply" && ticket.status == "waiting_on_client" {
                    diesel::update(tickets::table.find(ticket_id))
                        .set(tickets::status.eq("open"))
                        .execute(conn)
                        .await?;
                    record_event(
                        conn,
                        ticket_id,
                        "status_changed",
                        Some(principal.user_id),
                        json!({ "from": "waiting_on_client", "to": "open" }),
                        now,
                    )
                    .await?;
                    reopened = true;
                }
                let summary = format!("#{} {}", ticket.number, ticket.subject);
                match kind {
                    // Clients are never sent internal notes: only the assignee hears of them.
                    "internal_note" => {
                        if let Some(assignee) = ticket.assignee_id {
                            notify::email_users(
                                conn,
                                &[assignee],
                                Some(principal.user_id),
                                "ticket_reply",
                                &format!("Internal note on {summary}"),
                                &format!("{body}\n"),
                            )
                            .await?;
                        }
                    }
                    "staff_reply" => {
                        notify::email_users(
                            conn,
                            &[ticket.requester_id],
                            Some(principal.user_id),
                            "ticket_reply",
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
                        notify::email_users(
                            conn,
                            &recipients,
                            Some(principal.user_id),
                            "ticket_reply",
                            &format!("Client reply on {summary}"),
                            &format!("{body}\n"),
                        )
                        .await?;
                    }
                }
                let ticket = Self::refresh_sla(conn, ticket_id).await?;
                Ok((comment, ticket, reopened))
            })
            .await?;
        self.publish(
            &ticket,
            "ticket.comment_added",
            Some(principal.user_id),
            json!({ "commentId": comment.id, "internal": comment.internal }),
        );
        if reopened {
            self.publish(
                &ticket,
                "ticket.status_changed",
                Some(principal.user_id),
                json!({}),
            );
        }
        Ok(comment)
    }

    /// Comments of tickets, oldest first; internal notes only when `include_internal`.
    pub async fn comments_of(
        &self,
        ticket_ids: &[Uuid],
        include_internal: bool,
    ) -> Result<Vec<TicketComment>, AppError> {
        let mut conn = self.db.get().await?;
        let mut query = ticket_comments::table
            .filter(ticket_comments::ticket_id.eq_any(ticket_ids))
            .into_boxed();
        if !include_internal {
            query = query.filter(ticket_comments::internal.eq(false));
        }
        Ok(query
            .order((ticket_comments::created_at.asc(), ticket_comments::id.asc()))
            .select(TicketComment::as_select())
            .load(&mut conn)
            .await?)
    }

    /// One comment of a visible ticket (for subscription events).
    pub async fn comment_by_id(
        &self,
        principal: &Principal,
        comment_id: Uuid,
    ) -> Result<Option<TicketComment>, AppError> {
        let mut conn = self.db.get().await?;
        let comment: Option<TicketComment> = ticket_comments::table
            .find(comment_id)
            .select(TicketComment::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        let Some(comment) = comment else {
            return Ok(None);
        };
        if comment.internal && !principal.has("support:ticket.internal") {
            return Ok(None);
        }
        if find_visible(&mut conn, principal.scope(), comment.ticket_id)
            .await
            .is_err()
        {
            return Ok(None);
        }
        Ok(Some(comment))
    }

    /// The SLA of a ticket now.
    pub async fn sla(&self, ticket_id: Uuid) -> Result<SlaSnapshot, AppError> {
        let mut conn = self.db.get().await?;
        let rules = SlaRules::load(&mut conn).await?;
        let events = history(&mut conn, ticket_id).await?;
        rules.compute(&events, Utc::now())
    }

    /// Tickets the caller may see, newest first.
    pub async fn list(
        &self,
        principal: &Principal,
        filter: &TicketFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<Ticket>, AppError> {
        let mut conn = self.db.get().await?;
        let scope = principal.scope();
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
                      OR (status NOT IN ('resolved', 'closed') AND resolution_due_at < now()))",
                );
                query = if breached {
                    query.filter(condition)
                } else {
                    query.filter(diesel::dsl::not(condition))
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
                        .bind::<diesel::sql_types::Text, _>(search.to_string())
                        .sql(")"),
                );
            }
            query
        };
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        if let Some(after) = after {
            page = page.filter(tickets::id.lt(after));
        }
        let rows: Vec<Ticket> = page
            .order(tickets::id.desc())
            .limit(limit as i64 + 1)
            .select(Ticket::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// Warns before breaches and marks each breach once; answers (warned, breached) tickets.
    pub async fn scan_sla(&self) -> Result<(usize, usize), AppError> {
        let mut conn = self.db.get().await?;
        let (warned, breached) = conn
            .transaction::<_, AppError, _>(async |conn| {
                let warned: Vec<Ticket> = diesel::sql_query(
                    "UPDATE tickets t SET sla_warned_at = now()
                     FROM sla_policies p
                     WHERE p.priority = t.priority AND t.sla_warned_at IS NULL AND t.sla_breached_at IS NULL
                       AND t.status NOT IN ('resolved', 'closed', 'waiting_on_client')
                       AND ((t.first_responded_at IS NULL AND t.first_response_due_at - make_interval(mins => p.warn_before_minutes) <= now())
                         OR t.resolution_due_at - make_interval(mins => p.warn_before_minutes) <= now())
                     RETURNING t.*",
                )
                .load::<TicketRow>(conn)
                .await?
                .into_iter()
                .map(Ticket::from)
                .collect();
                let breached: Vec<Ticket> = diesel::sql_query(
                    "UPDATE tickets SET sla_breached_at = now()
                     WHERE sla_breached_at IS NULL AND status NOT IN ('resolved', 'closed')
                       AND ((first_responded_at IS NULL AND first_response_due_at <= now())
                         OR (status <> 'waiting_on_client' AND resolution_due_at <= now()))
                     RETURNING *",
                )
                .load::<TicketRow>(conn)
                .await?
                .into_iter()
                .map(Ticket::from)
                .collect();
                let admins = notify::admins(conn).await?;
                for (tickets, word) in [(&warned, "at risk"), (&breached, "breached")] {
                    for ticket in tickets.iter() {
                        let mut recipients = admins.clone();
                        recipients.extend(ticket.assignee_id);
                        notify::email_users(conn, &recipients, None, "sla_warning",
                            &format!("SLA {word}: #{} {}", ticket.number, ticket.subject),
                            &format!("The SLA of ticket #{} ({} priority) is {word}.\n", ticket.number, ticket.priority)).await?;
                        let kind = if word == "breached" { "sla_breached" } else { "sla_warned" };
                        record_event(conn, ticket.id, kind, None, json!({}), Utc::now()).await?;
                    }
                }
                Ok((warned, breached))
            })
            .await?;
        for ticket in &warned {
            self.publish(
                ticket,
                "ticket.sla_changed",
                None,
                json!({ "slaState": "AT_RISK" }),
            );
        }
        for ticket in &breached {
            self.publish(
                ticket,
                "ticket.sla_changed",
                None,
                json!({ "slaState": "BREACHED" }),
            );
        }
        Ok((warned.len(), breached.len()))
    }

    /// Notification preferences of the caller: the categories turned off.
    pub async fn muted_categories(&self, principal: &Principal) -> Result<Vec<String>, AppError> {
        let mut conn = self.db.get().await?;
        notify::muted(&mut conn, principal.user_id).await
    }

    /// Turns one category of email on or off for the caller.
    pub async fn set_notification(
        &self,
        principal: &Principal,
        category: &str,
        email: bool,
    ) -> Result<(), AppError> {
        let mut conn = self.db.get().await?;
        notify::set_preference(&mut conn, principal.user_id, category, email).await
    }

    /// Whether the SLA state is one a client may see (all are; kept for symmetry with internal data).
    pub fn state_name(state: &SlaState) -> &'static str {
        match state {
            SlaState::OnTrack => "ON_TRACK",
            SlaState::AtRisk => "AT_RISK",
            SlaState::Breached => "BREACHED",
            SlaState::Met => "MET",
        }
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

async fn history(
    conn: &mut AsyncPgConnection,
    ticket_id: Uuid,
) -> Result<Vec<TicketEvent>, AppError> {
    Ok(ticket_events::table
        .filter(ticket_events::ticket_id.eq(ticket_id))
        .order((ticket_events::occurred_at.asc(), ticket_events::id.asc()))
        .select(TicketEvent::as_select())
        .load(conn)
        .await?)
}

/// A ticket row read by a raw `RETURNING *`.
#[derive(QueryableByName)]
#[diesel(table_name = tickets, check_for_backend(diesel::pg::Pg))]
struct TicketRow {
    id: Uuid,
    number: i64,
    organization_id: Uuid,
    project_id: Option<Uuid>,
    requester_id: Uuid,
    assignee_id: Option<Uuid>,
    subject: String,
    body: String,
    priority: String,
    status: String,
    first_response_due_at: Option<DateTime<Utc>>,
    resolution_due_at: Option<DateTime<Utc>>,
    first_responded_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    sla_warned_at: Option<DateTime<Utc>>,
    sla_breached_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TicketRow> for Ticket {
    fn from(row: TicketRow) -> Self {
        Ticket {
            id: row.id,
            number: row.number,
            organization_id: row.organization_id,
            project_id: row.project_id,
            requester_id: row.requester_id,
            assignee_id: row.assignee_id,
            subject: row.subject,
            body: row.body,
            priority: row.priority,
            status: row.status,
            first_response_due_at: row.first_response_due_at,
            resolution_due_at: row.resolution_due_at,
            first_responded_at: row.first_responded_at,
            resolved_at: row.resolved_at,
            sla_warned_at: row.sla_warned_at,
            sla_breached_at: row.sla_breached_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }
}

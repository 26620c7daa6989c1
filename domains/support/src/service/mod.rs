//! Ticket use cases, one transaction each. Each use case collects the
//! [`TicketChange`]s it causes and publishes them after its commit; emails
//! ride along in the transaction through the outbox.

mod assignees;
mod comments;
mod sla_scan;
mod ticket;

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::events::{Event, EventBus};
use kernel::notifications::Catalog;
use kernel::pagination::Page;
use kernel::schema::{ticket_events, tickets};
use kernel::{AppError, Db, Principal};
use uuid::Uuid;

pub use ticket::{TicketDraft, TicketUpdate};

use crate::events::{QUEUE_TOPIC, TicketChange, ticket_topic};
use crate::model::{HistoryKind, Ticket, TicketEvent};
use crate::repo::{self, TicketFilter};
use crate::sla::{SlaRules, SlaSnapshot};

/// The support desk's ticket service.
pub struct TicketService {
    db: Db,
    bus: Arc<dyn EventBus>,
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

    /// Publishes committed changes on each ticket's topic and on the queue.
    fn publish(&self, actor: Option<Uuid>, changes: &[TicketChange]) {
        for change in changes {
            self.bus.publish(Event::of(
                ticket_topic(change.ticket().ticket_id),
                actor,
                change,
            ));
            self.bus.publish(Event::of(QUEUE_TOPIC, actor, change));
        }
    }

    /// A ticket the caller may see, or `NOT_FOUND`.
    pub async fn ticket(&self, principal: &Principal, id: Uuid) -> Result<Ticket, AppError> {
        let mut conn = self.db.get().await?;
        repo::find_visible(&mut conn, principal.scope(), id).await
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
        repo::list_visible(&mut conn, principal.scope(), filter, after, limit).await
    }

    /// The SLAs of tickets now (the caller sees them), from one read of the
    /// rules and one of their histories, however many tickets.
    pub async fn slas(&self, ticket_ids: &[Uuid]) -> Result<HashMap<Uuid, SlaSnapshot>, AppError> {
        let mut conn = self.db.get().await?;
        let rules = SlaRules::load(&mut conn).await?;
        let mut histories: HashMap<Uuid, Vec<TicketEvent>> = HashMap::new();
        for event in repo::histories(&mut conn, ticket_ids).await? {
            histories.entry(event.ticket_id).or_default().push(event);
        }
        let now = Utc::now();
        ticket_ids
            .iter()
            .map(|id| {
                let history = histories.get(id).map_or(&[][..], Vec::as_slice);
                Ok((*id, rules.compute(history, now)?))
            })
            .collect()
    }

    /// Notification preferences of the caller: the categories turned off.
    pub async fn muted_categories(&self, principal: &Principal) -> Result<Vec<String>, AppError> {
        let mut conn = self.db.get().await?;
        kernel::notifications::muted(&mut conn, principal.user_id).await
    }

    /// Turns one category of email (of any domain in `catalog`) on or off for the caller.
    pub async fn set_notification(
        &self,
        principal: &Principal,
        catalog: &Catalog,
        category: &str,
        email: bool,
    ) -> Result<(), AppError> {
        let category = catalog.find(category)?;
        let mut conn = self.db.get().await?;
        kernel::notifications::set(&mut conn, principal.user_id, category, email).await
    }
}

/// Appends an entry to a ticket's history.
async fn record_event(
    conn: &mut AsyncPgConnection,
    ticket: Uuid,
    kind: HistoryKind,
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

/// Recomputes the ticket's SLA facts from its history and stores them.
async fn refresh_sla(conn: &mut AsyncPgConnection, ticket_id: Uuid) -> Result<Ticket, AppError> {
    let rules = SlaRules::load(conn).await?;
    let events = repo::histories(conn, &[ticket_id]).await?;
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

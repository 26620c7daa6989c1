//! GraphQL of tickets: queries, mutations, live events.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::dataloader::DataLoader;
use async_graphql::{
    Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject, Subscription,
};
use auth::graphql::loaders::{OrganizationLoader, UserLoader};
use auth::graphql::types::{OrganizationNode, UserNode};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use kernel::events::Delivery;
use kernel::ids::parse_id;
use kernel::pagination::{TotalCount, decode_cursor, page_size};
use kernel::{AppError, Deps, Principal, RequirePermission, SignedIn, caller};
use uuid::Uuid;

use crate::model::{Ticket, TicketComment};
use crate::sla::SlaSnapshot;
use crate::tickets::{
    NewTicket, QUEUE_TOPIC, TicketFilter, TicketService, TicketUpdate, ticket_topic,
};

fn service<'a>(ctx: &Context<'a>) -> &'a Arc<TicketService> {
    ctx.data_unchecked::<Arc<TicketService>>()
}

fn id(value: Uuid) -> ID {
    ID(value.to_string())
}

use kernel::db_enum;

db_enum! {
    /// How urgent a ticket is; it sets the SLA targets.
    TicketPriority {
        /// Within days.
        Low = "low",
        /// The default.
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
        /// Solved.
        Resolved = "resolved",
        /// Done for good.
        Closed = "closed",
    }
}

/// SLA state of a ticket.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaStateValue {
    /// Within targets.
    OnTrack,
    /// Close to a target.
    AtRisk,
    /// A target was missed.
    Breached,
    /// Resolved within its targets.
    Met,
}

impl From<&crate::sla::SlaState> for SlaStateValue {
    fn from(state: &crate::sla::SlaState) -> Self {
        match state {
            crate::sla::SlaState::OnTrack => Self::OnTrack,
            crate::sla::SlaState::AtRisk => Self::AtRisk,
            crate::sla::SlaState::Breached => Self::Breached,
            crate::sla::SlaState::Met => Self::Met,
        }
    }
}

/// The SLA of a ticket, computed from its history on business hours.
pub struct SlaNode(pub SlaSnapshot);

#[Object(name = "TicketSla")]
impl SlaNode {
    /// When the first public staff reply is due.
    async fn first_response_due_at(&self) -> DateTime<Utc> {
        self.0.first_response_due_at
    }

    /// When staff first replied publicly.
    async fn first_responded_at(&self) -> Option<DateTime<Utc>> {
        self.0.first_responded_at
    }

    /// When resolution is due; null while the clock is paused (waiting on the client).
    async fn resolution_due_at(&self) -> Option<DateTime<Utc>> {
        self.0.resolution_due_at
    }

    /// Business seconds left on the resolution clock.
    async fn resolution_remaining_seconds(&self) -> i64 {
        self.0.resolution_remaining.num_seconds()
    }

    /// Seconds the resolution clock has been paused.
    async fn paused_seconds(&self) -> i64 {
        self.0.paused_seconds
    }

    /// ON_TRACK, AT_RISK, BREACHED or MET.
    async fn state(&self) -> SlaStateValue {
        SlaStateValue::from(&self.0.state)
    }
}

/// A support ticket of a client organization.
pub struct TicketNode(pub Ticket);

#[Object(name = "Ticket")]
impl TicketNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Number for humans, e.g. in email subjects.
    async fn number(&self) -> i64 {
        self.0.number
    }

    /// Subject.
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The first message.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Priority.
    async fn priority(&self) -> TicketPriority {
        TicketPriority::from_db(&self.0.priority).unwrap_or(TicketPriority::Normal)
    }

    /// Status.
    async fn status(&self) -> TicketStatus {
        TicketStatus::from_db(&self.0.status).unwrap_or(TicketStatus::Open)
    }

    /// The client organization.
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationNode>> {
        Ok(ctx
            .data_unchecked::<DataLoader<OrganizationLoader>>()
            .load_one(self.0.organization_id)
            .await?
            .map(OrganizationNode))
    }

    /// The project, if any.
    async fn project_id(&self) -> Option<ID> {
        self.0.project_id.map(id)
    }

    /// Who opened it.
    async fn requester(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(self.0.requester_id)
            .await?
            .map(UserNode))
    }

    /// The staff member on it.
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let Some(assignee) = self.0.assignee_id else {
            return Ok(None);
        };
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(assignee)
            .await?
            .map(UserNode))
    }

    /// The thread, oldest first. Internal notes appear only for staff.
    async fn comments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TicketCommentNode>> {
        let staff = caller(ctx)?.has("support:ticket.internal");
        let loader = ctx.data_unchecked::<DataLoader<CommentsLoader>>();
        let key = CommentsKey {
            ticket_id: self.0.id,
            include_internal: staff,
        };
        Ok(loader
            .load_one(key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(TicketCommentNode)
            .collect())
    }

    /// The SLA now.
    async fn sla(&self, ctx: &Context<'_>) -> async_graphql::Result<SlaNode> {
        Ok(SlaNode(service(ctx).sla(self.0.id).await?))
    }

    /// Files attached to the ticket, oldest first (staff-only files for staff only).
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<files::graphql::types::FileNode>> {
        files::graphql::attachments(ctx, files::OwnerRef::ticket(self.0.id)).await
    }

    /// Opened at.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A reply or internal note.
pub struct TicketCommentNode(pub TicketComment);

#[Object(name = "TicketComment")]
impl TicketCommentNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Text.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Whether it is a staff-only internal note.
    async fn internal(&self) -> bool {
        self.0.internal
    }

    /// Who wrote it.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(self.0.author_id)
            .await?
            .map(UserNode))
    }

    /// Written at.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Key of the comments loader: internal notes are loaded only for staff.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CommentsKey {
    ticket_id: Uuid,
    include_internal: bool,
}

/// Comments of tickets, batched.
pub struct CommentsLoader(pub Arc<TicketService>);

impl async_graphql::dataloader::Loader<CommentsKey> for CommentsLoader {
    type Value = Vec<TicketComment>;
    type Error = async_graphql::Error;

    async fn load(
        &self,
        keys: &[CommentsKey],
    ) -> Result<std::collections::HashMap<CommentsKey, Vec<TicketComment>>, Self::Error> {
        let ids: Vec<Uuid> = keys.iter().map(|key| key.ticket_id).collect();
        let comments = self
            .0
            .comments_of(&ids, true)
            .await
            .map_err(async_graphql::Error::from)?;
        Ok(keys
            .iter()
            .map(|key| {
                let rows = comments
                    .iter()
                    .filter(|c| {
                        c.ticket_id == key.ticket_id && (key.include_internal || !c.internal)
                    })
                    .cloned()
                    .collect();
                (*key, rows)
            })
            .collect())
    }
}

/// Filters of `tickets`.
#[derive(InputObject, Default)]
pub struct TicketFilterInput {
    /// Only these statuses.
    pub status: Option<Vec<TicketStatus>>,
    /// Only these priorities.
    pub priority: Option<Vec<TicketPriority>>,
    /// Only this assignee.
    pub assignee_id: Option<ID>,
    /// Only this project.
    pub project_id: Option<ID>,
    /// Only this client organization.
    pub organization_id: Option<ID>,
    /// Only tickets that breached (true) or did not (false) an SLA target.
    pub breached: Option<bool>,
    /// Words in the subject or body.
    pub search: Option<String>,
}

/// A page of tickets.
pub type TicketConnection = Connection<String, TicketNode, TotalCount, EmptyFields>;

/// Ticket queries.
#[derive(Default)]
pub struct SupportQuery;

#[Object]
impl SupportQuery {
    /// Tickets you may see, newest first: staff all, clients their organization's.
    #[graphql(guard = "SignedIn")]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        filter: Option<TicketFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<TicketConnection> {
        let max = ctx
            .data_opt::<Deps>()
            .map_or(100, |deps| deps.max_page_size);
        let limit = page_size(first, max)?;
        let filter = filter.unwrap_or_default();
        let parse = |value: &Option<ID>, field: &str| {
            value.as_ref().map(|v| parse_id(v, field)).transpose()
        };
        let filter = TicketFilter {
            statuses: filter
                .status
                .unwrap_or_default()
                .into_iter()
                .map(|s| s.as_db().to_string())
                .collect(),
            priorities: filter
                .priority
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.as_db().to_string())
                .collect(),
            assignee_id: parse(&filter.assignee_id, "filter.assigneeId")?,
            project_id: parse(&filter.project_id, "filter.projectId")?,
            organization_id: parse(&filter.organization_id, "filter.organizationId")?,
            breached: filter.breached,
            search: filter.search,
        };
        let after_id = after
            .as_deref()
            .map(|cursor| {
                decode_cursor(cursor).and_then(|key| {
                    Uuid::parse_str(&key)
                        .map_err(|_| AppError::invalid_field("after", "Not a valid cursor"))
                })
            })
            .transpose()?;
        let page = service(ctx)
            .list(caller(ctx)?, &filter, after_id, limit)
            .await?;
        Ok(page.into_connection(after.is_some(), |row| row.id.to_string(), TicketNode))
    }

    /// One ticket you may see, with its thread and SLA.
    #[graphql(guard = "SignedIn")]
    async fn ticket(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<TicketNode> {
        let id = parse_id(&id, "id")?;
        Ok(TicketNode(service(ctx).ticket(caller(ctx)?, id).await?))
    }

    /// Email categories you turned off (ticket_created, ticket_reply, ticket_status, ticket_assigned, sla_warning).
    #[graphql(guard = "SignedIn")]
    async fn muted_notifications(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(service(ctx).muted_categories(caller(ctx)?).await?)
    }
}

/// Input of `createTicket`.
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// Subject.
    pub subject: String,
    /// What happened.
    pub body: String,
    /// Priority (default NORMAL).
    pub priority: Option<TicketPriority>,
    /// A project of the organization.
    pub project_id: Option<ID>,
    /// Staff only: the client organization.
    pub organization_id: Option<ID>,
}

/// Input of `updateTicket`.
#[derive(InputObject)]
pub struct UpdateTicketInput {
    /// The ticket.
    pub ticket_id: ID,
    /// New status.
    pub status: Option<TicketStatus>,
    /// New priority (re-targets the SLA, keeping elapsed time).
    pub priority: Option<TicketPriority>,
    /// New assignee (null unassigns).
    pub assignee_id: MaybeUndefined<ID>,
}

/// Input of `addTicketComment`.
#[derive(InputObject)]
pub struct AddTicketCommentInput {
    /// The ticket.
    pub ticket_id: ID,
    /// Text.
    pub body: String,
    /// Staff-only note, never shown or sent to the client.
    #[graphql(default)]
    pub internal: bool,
}

/// Ticket mutations.
#[derive(Default)]
pub struct SupportMutation;

#[Object]
impl SupportMutation {
    /// Opens a ticket: clients for their organization, staff for any.
    #[graphql(guard = "RequirePermission(\"support:ticket.create\")")]
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        input: CreateTicketInput,
    ) -> async_graphql::Result<TicketNode> {
        let input = NewTicket {
            subject: input.subject,
            body: input.body,
            priority: input.priority.map(|p| p.as_db().to_string()),
            project_id: input
                .project_id
                .as_ref()
                .map(|v| parse_id(v, "input.projectId"))
                .transpose()?,
            organization_id: input
                .organization_id
                .as_ref()
                .map(|v| parse_id(v, "input.organizationId"))
                .transpose()?,
        };
        Ok(TicketNode(service(ctx).create(caller(ctx)?, input).await?))
    }

    /// Changes status, priority or assignee (staff).
    #[graphql(guard = "RequirePermission(\"support:ticket.manage\")")]
    async fn update_ticket(
        &self,
        ctx: &Context<'_>,
        input: UpdateTicketInput,
    ) -> async_graphql::Result<TicketNode> {
        let ticket = parse_id(&input.ticket_id, "input.ticketId")?;
        let update = TicketUpdate {
            status: input.status.map(|s| s.as_db().to_string()),
            priority: input.priority.map(|p| p.as_db().to_string()),
            assignee_id: match &input.assignee_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(parse_id(v, "input.assigneeId")?)),
            },
        };
        Ok(TicketNode(
            service(ctx).update(caller(ctx)?, ticket, update).await?,
        ))
    }

    /// Replies on a ticket, or (staff) adds an internal note.
    #[graphql(guard = "SignedIn")]
    async fn add_ticket_comment(
        &self,
        ctx: &Context<'_>,
        input: AddTicketCommentInput,
    ) -> async_graphql::Result<TicketCommentNode> {
        let ticket = parse_id(&input.ticket_id, "input.ticketId")?;
        Ok(TicketCommentNode(
            service(ctx)
                .comment(caller(ctx)?, ticket, &input.body, input.internal)
                .await?,
        ))
    }

    /// Turns one category of email on or off for you.
    #[graphql(guard = "SignedIn")]
    async fn set_notification_preference(
        &self,
        ctx: &Context<'_>,
        category: String,
        email: bool,
    ) -> async_graphql::Result<bool> {
        service(ctx)
            .set_notification(caller(ctx)?, &category, email)
            .await?;
        Ok(email)
    }
}

/// What happened on a ticket.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketEventKind {
    /// Opened.
    Created,
    /// A reply or (staff only) an internal note.
    CommentAdded,
    /// Status changed.
    StatusChanged,
    /// Priority changed.
    PriorityChanged,
    /// Assignee changed.
    Assigned,
    /// The SLA became at risk or breached.
    SlaChanged,
    /// Updates may have been missed; reload.
    Refetch,
}

/// A change on a ticket, for live views.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TicketEventNode {
    /// What happened.
    pub kind: TicketEventKind,
    /// The ticket.
    pub ticket_id: Option<ID>,
    /// Who did it.
    pub actor_id: Option<ID>,
    /// Status after the change.
    pub status: Option<TicketStatus>,
    /// SLA state, for SLA_CHANGED.
    pub sla_state: Option<SlaStateValue>,
    #[graphql(skip)]
    pub comment_id: Option<Uuid>,
    #[graphql(skip)]
    pub principal: Principal,
}

#[async_graphql::ComplexObject]
impl TicketEventNode {
    /// The comment, for COMMENT_ADDED (internal notes only reach staff).
    async fn comment(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<TicketCommentNode>> {
        let Some(comment) = self.comment_id else {
            return Ok(None);
        };
        Ok(service(ctx)
            .comment_by_id(&self.principal, comment)
            .await?
            .map(TicketCommentNode))
    }
}

fn to_node(principal: &Principal, delivery: Delivery) -> Option<TicketEventNode> {
    let event = match delivery {
        Delivery::Gap => {
            return Some(TicketEventNode {
                kind: TicketEventKind::Refetch,
                ticket_id: None,
                actor_id: None,
                status: None,
                sla_state: None,
                comment_id: None,
                principal: principal.clone(),
            });
        }
        Delivery::Event(event) => event,
    };
    let text = |key: &str| {
        event
            .data
            .get(key)
            .and_then(|v| v.as_str())
            .map(str::to_string)
    };
    let staff = principal.has("support:ticket.internal");
    // Internal notes never reach clients, not even as a bare event.
    if event
        .data
        .get("internal")
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
        && !staff
    {
        return None;
    }
    let visible = match principal.scope() {
        kernel::AccessScope::Staff => true,
        kernel::AccessScope::ClientOrg(org) => {
            text("organizationId").and_then(|v| Uuid::parse_str(&v).ok()) == Some(org)
        }
        _ => false,
    };
    if !visible {
        return None;
    }
    let kind = match event.kind() {
        "ticket.created" => TicketEventKind::Created,
        "ticket.comment_added" => TicketEventKind::CommentAdded,
        "ticket.status_changed" => TicketEventKind::StatusChanged,
        "ticket.priority_changed" => TicketEventKind::PriorityChanged,
        "ticket.assigned" => TicketEventKind::Assigned,
        "ticket.sla_changed" => TicketEventKind::SlaChanged,
        _ => return None,
    };
    Some(TicketEventNode {
        kind,
        ticket_id: text("ticketId").map(ID),
        actor_id: event.actor_id.map(id),
        status: text("status").as_deref().and_then(TicketStatus::from_db),
        sla_state: match text("slaState").as_deref() {
            Some("AT_RISK") => Some(SlaStateValue::AtRisk),
            Some("BREACHED") => Some(SlaStateValue::Breached),
            _ => None,
        },
        comment_id: text("commentId").and_then(|v| Uuid::parse_str(&v).ok()),
        principal: principal.clone(),
    })
}

/// Ticket subscriptions.
#[derive(Default)]
pub struct SupportSubscription;

#[Subscription]
impl SupportSubscription {
    /// Changes on one ticket: comments, status, assignment, SLA. Clients never
    /// receive internal notes. Ends when the access token expires.
    #[graphql(guard = "SignedIn")]
    async fn ticket_events(
        &self,
        ctx: &Context<'_>,
        ticket_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = TicketEventNode> + use<>> {
        let principal = caller(ctx)?.clone();
        let ticket = parse_id(&ticket_id, "ticketId")?;
        let service = service(ctx).clone();
        service.ticket(&principal, ticket).await?;
        let expires_in = (principal.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default();
        Ok(service
            .bus()
            .subscribe(&ticket_topic(ticket))
            .filter_map(move |delivery| std::future::ready(to_node(&principal, delivery)))
            .take_until(tokio::time::sleep(expires_in)))
    }

    /// Changes on every ticket you may see, for the queue view.
    #[graphql(guard = "SignedIn")]
    async fn ticket_list_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = TicketEventNode> + use<>> {
        let principal = caller(ctx)?.clone();
        if !matches!(
            principal.scope(),
            kernel::AccessScope::Staff | kernel::AccessScope::ClientOrg(_)
        ) {
            return Err(AppError::forbidden("The ticket queue is for staff and clients").into());
        }
        let expires_in = (principal.expires_at - Utc::now())
            .to_std()
            .unwrap_or_default();
        Ok(service(ctx)
            .bus()
            .subscribe(QUEUE_TOPIC)
            .filter_map(move |delivery| std::future::ready(to_node(&principal, delivery)))
            .take_until(tokio::time::sleep(expires_in)))
    }
}

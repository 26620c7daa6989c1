//! The support domain's subscription root: live ticket changes through
//! `kernel::live`, admitted by the audience each change carries.

use async_graphql::{Context, Enum, ID, SimpleObject, Subscription};
use futures_util::{Stream, StreamExt};
use kernel::ids::parse_id;
use kernel::live::{Live, live_changes};
use kernel::{AppError, Principal, SignedIn, caller};
use uuid::Uuid;

use super::types::{TicketCommentNode, id, service};
use crate::events::{QUEUE_TOPIC, TicketChange, ticket_topic};
use crate::model::TicketStatus;
use crate::policy;
use crate::sla::SlaState;

/// What happened on a ticket.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketEventKind {
    /// The ticket was opened.
    Created,
    /// A reply or (staff only) an internal note.
    CommentAdded,
    /// The status moved, e.g. to `RESOLVED`; see `status`.
    StatusChanged,
    /// The priority moved, which re-targets the SLA.
    PriorityChanged,
    /// A staff member took the ticket, or it was unassigned.
    Assigned,
    /// The SLA became at risk or breached.
    SlaChanged,
    /// Updates may have been missed; reload.
    Refetch,
}

/// A change on a ticket, for live views: ids and the new status; read the
/// ticket for the rest, or reload on `REFETCH`.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct TicketEventNode {
    /// Which change this is; on `REFETCH`, reload and ignore the other fields.
    pub kind: TicketEventKind,
    /// `Ticket.id` of the ticket that changed; null for `REFETCH`.
    pub ticket_id: Option<ID>,
    /// `User.id` of who made the change, so a client can skip its own echo;
    /// null for `REFETCH` and for the SLA scan.
    pub actor_id: Option<ID>,
    /// The ticket's status after the change; null for `REFETCH`.
    pub status: Option<TicketStatus>,
    /// The new SLA state, for `SLA_CHANGED`; null otherwise.
    pub sla_state: Option<SlaState>,
    #[graphql(skip)]
    pub comment_id: Option<Uuid>,
    #[graphql(skip)]
    pub principal: Principal,
}

#[async_graphql::ComplexObject]
impl TicketEventNode {
    /// The comment, for `COMMENT_ADDED` (internal notes only reach staff);
    /// null for other kinds.
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

impl TicketEventNode {
    /// The GraphQL form of a live item the subscriber was admitted to.
    fn from_live(item: Live<TicketChange>, principal: &Principal) -> Self {
        let mut node = Self {
            kind: TicketEventKind::Refetch,
            ticket_id: None,
            actor_id: None,
            status: None,
            sla_state: None,
            comment_id: None,
            principal: principal.clone(),
        };
        let Live::Change {
            actor_id, change, ..
        } = item
        else {
            return node;
        };
        let ticket = *change.ticket();
        node.ticket_id = Some(id(ticket.ticket_id));
        node.actor_id = actor_id.map(id);
        node.status = Some(ticket.status);
        node.kind = match change {
            TicketChange::Created(_) => TicketEventKind::Created,
            TicketChange::CommentAdded { comment_id, .. } => {
                node.comment_id = Some(comment_id);
                TicketEventKind::CommentAdded
            }
            TicketChange::StatusChanged(_) => TicketEventKind::StatusChanged,
            TicketChange::PriorityChanged(_) => TicketEventKind::PriorityChanged,
            TicketChange::Assigned(_) => TicketEventKind::Assigned,
            TicketChange::SlaChanged { sla_state, .. } => {
                node.sla_state = Some(sla_state);
                TicketEventKind::SlaChanged
            }
        };
        node
    }
}

/// The changes of `topic` that `principal` may see.
async fn ticket_stream(
    ctx: &Context<'_>,
    principal: Principal,
    topic: &str,
) -> async_graphql::Result<impl Stream<Item = TicketEventNode> + use<>> {
    let service = service(ctx);
    let mut conn = service.db().get().await.map_err(AppError::from)?;
    let organizations =
        auth::visibility::load_organization_set(&mut conn, principal.scope()).await?;
    drop(conn);
    let access = policy::live_access(&principal, organizations);
    Ok(
        live_changes::<TicketChange>(service.bus().as_ref(), topic, &principal, access)
            .map(move |item| TicketEventNode::from_live(item, &principal)),
    )
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
        #[graphql(desc = "`Ticket.id` of a ticket you may see (`NOT_FOUND` otherwise).")]
        ticket_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = TicketEventNode> + use<>> {
        let principal = caller(ctx)?.clone();
        let ticket = parse_id(&ticket_id, "ticketId")?;
        service(ctx).ticket(&principal, ticket).await?;
        ticket_stream(ctx, principal, &ticket_topic(ticket)).await
    }

    /// Changes on every ticket you may see, for the queue view: staff and
    /// clients (partners watch single tickets; `FORBIDDEN` for others). Ends
    /// when the access token expires.
    #[graphql(guard = "SignedIn")]
    async fn ticket_list_events(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = TicketEventNode> + use<>> {
        let principal = caller(ctx)?.clone();
        if !policy::may_watch_queue(&principal) {
            return Err(AppError::forbidden("The ticket queue is for staff and clients").into());
        }
        ticket_stream(ctx, principal, QUEUE_TOPIC).await
    }
}

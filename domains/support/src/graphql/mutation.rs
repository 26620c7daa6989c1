//! The support domain's mutation root.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, MergedObject, Object};
use kernel::ids::parse_id;
use kernel::notifications::Catalog;
use kernel::{RequirePermission, SignedIn, caller};

use super::types::{TicketCommentNode, TicketNode, service};
use crate::kb::graphql::mutation::KbMutation;
use crate::model::{TicketPriority, TicketStatus};
use crate::service::{TicketDraft, TicketUpdate};
use crate::sla::graphql::mutation::SlaMutation;

/// Every support mutation: tickets, SLAs, the knowledge base.
#[derive(MergedObject, Default)]
pub struct SupportMutation(TicketMutation, SlaMutation, KbMutation);

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
    /// New assignee: staff who read internal notes (null unassigns).
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
pub struct TicketMutation;

#[Object]
impl TicketMutation {
    /// Opens a ticket: clients for their organization, staff for any.
    #[graphql(guard = "RequirePermission(\"support:ticket.create\")")]
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        input: CreateTicketInput,
    ) -> async_graphql::Result<TicketNode> {
        let input = TicketDraft {
            subject: input.subject,
            body: input.body,
            priority: input.priority,
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
        Ok(TicketNode(
            service(ctx).create(caller(ctx)?, input).await?,
            None,
        ))
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
            status: input.status,
            priority: input.priority,
            assignee_id: match &input.assignee_id {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(v) => Some(Some(parse_id(v, "input.assigneeId")?)),
            },
        };
        Ok(TicketNode(
            service(ctx).update(caller(ctx)?, ticket, update).await?,
            None,
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
        let catalog = ctx.data_unchecked::<Catalog>();
        service(ctx)
            .set_notification(caller(ctx)?, catalog, &category, email)
            .await?;
        Ok(email)
    }
}

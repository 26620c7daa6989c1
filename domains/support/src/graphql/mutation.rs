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

/// A new support request (`createTicket`).
#[derive(InputObject)]
pub struct CreateTicketInput {
    /// One-line summary (required, at most 200 characters).
    pub subject: String,
    /// The request itself, as plain text (required, at most 20,000 characters).
    pub body: String,
    /// How urgent it is; `NORMAL` when omitted. It sets the SLA targets.
    pub priority: Option<TicketPriority>,
    /// `Project.id` of a project of the organization the ticket is about; none when omitted.
    pub project_id: Option<ID>,
    /// Staff only: the client organization the ticket is for (or the
    /// project's, when omitted); clients always open for their own.
    pub organization_id: Option<ID>,
}

/// Staff changes to a ticket (`updateTicket`); omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateTicketInput {
    /// `Ticket.id` of the ticket to change.
    pub ticket_id: ID,
    /// Where the ticket now stands; the requester is emailed about a change.
    pub status: Option<TicketStatus>,
    /// New priority (re-targets the SLA, keeping elapsed time).
    pub priority: Option<TicketPriority>,
    /// New assignee: staff who read internal notes (null unassigns).
    pub assignee_id: MaybeUndefined<ID>,
}

/// A reply or internal note on a ticket (`addTicketComment`).
#[derive(InputObject)]
pub struct AddTicketCommentInput {
    /// `Ticket.id` of the ticket to reply on.
    pub ticket_id: ID,
    /// The message, as plain text (required, at most 20,000 characters).
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
    /// Opens a ticket: clients for their organization, staff for any client
    /// organization (`support:ticket.create`; partners and freelancers may
    /// not). Starts the SLA clocks, emails the admins and a receipt to the
    /// requester (category `ticket_created`), and publishes a `CREATED` event.
    #[graphql(guard = "RequirePermission(\"support:ticket.create\")")]
    async fn create_ticket(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Subject, body, priority, and the project or organization.")]
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

    /// Changes status, priority or assignee (staff: `support:ticket.manage`).
    /// Each change is recorded in the ticket's history, emailed (the
    /// requester on a status change, `ticket_status`; the new assignee,
    /// `ticket_assigned`) and published as a ticket event.
    #[graphql(guard = "RequirePermission(\"support:ticket.manage\")")]
    async fn update_ticket(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The ticket and the fields to change.")] input: UpdateTicketInput,
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

    /// Replies on a ticket, or (staff) adds an internal note. A staff reply
    /// is emailed to the requester, a client reply to the assignee (or the
    /// admins), a note only to the assignee (category `ticket_reply`). A
    /// client reply to a ticket `WAITING_ON_CLIENT` reopens it. Publishes a
    /// `COMMENT_ADDED` event; partners and freelancers may not comment.
    #[graphql(guard = "SignedIn")]
    async fn add_ticket_comment(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The ticket, the message and whether it is internal.")]
        input: AddTicketCommentInput,
    ) -> async_graphql::Result<TicketCommentNode> {
        let ticket = parse_id(&input.ticket_id, "input.ticketId")?;
        Ok(TicketCommentNode(
            service(ctx)
                .comment(caller(ctx)?, ticket, &input.body, input.internal)
                .await?,
        ))
    }

    /// Turns one category of notification email on or off for you; answers
    /// whether it is now on. Emails outside the categories (sign-in codes,
    /// invitations, password resets) are always sent.
    #[graphql(guard = "SignedIn")]
    async fn set_notification_preference(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "The category's name, e.g. `ticket_reply` (today `ticket_created`, `ticket_reply`, `ticket_status`, `ticket_assigned`, `sla_warning`); an unknown one is `BAD_USER_INPUT` naming the known ones."
        )]
        category: String,
        #[graphql(desc = "True to receive these emails, false to stop them.")] email: bool,
    ) -> async_graphql::Result<bool> {
        let catalog = ctx.data_unchecked::<Catalog>();
        service(ctx)
            .set_notification(caller(ctx)?, catalog, &category, email)
            .await?;
        Ok(email)
    }
}

//! GraphQL types of tickets.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object};
use auth::graphql::loaders::{OrganizationLoader, UserLoader};
use auth::graphql::types::{OrganizationNode, UserNode};
use chrono::{DateTime, Utc};
use kernel::{AppError, caller};
use uuid::Uuid;

use crate::loaders::{CommentsKey, CommentsLoader};
use crate::model::{Ticket, TicketComment, TicketPriority, TicketStatus};
use crate::policy;
use crate::service::TicketService;
use crate::sla::SlaSnapshot;
use crate::sla::graphql::types::SlaNode;

/// The ticket service the domain installed.
pub(crate) fn service<'a>(ctx: &Context<'a>) -> &'a Arc<TicketService> {
    ctx.data_unchecked::<Arc<TicketService>>()
}

/// An id on the wire.
pub(crate) fn id(value: Uuid) -> ID {
    ID(value.to_string())
}

/// Cost of `Ticket.sla` besides its selection: the SLA engine walks the
/// ticket's history through the business calendar.
pub const SLA_COST: usize = 10;

/// A [`Ticket`] row as the GraphQL `Ticket`, with its SLA when a page
/// computed the SLAs of all its tickets at once.
pub struct TicketNode(pub Ticket, pub Option<SlaSnapshot>);

/// A support request of a client organization, with its thread, its SLA and
/// its attachments. Staff see every ticket, clients their organization's,
/// partners (read-only) those of the clients they referred; freelancers none.
#[Object(name = "Ticket")]
impl TicketNode {
    /// Stable identifier of the ticket; pass it to `ticket`, `ticketEvents`
    /// and the ticket mutations.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Number for humans, e.g. `#1042` in email subjects: unique and
    /// increasing across all organizations.
    async fn number(&self) -> i64 {
        self.0.number
    }

    /// One-line summary of the request (at most 200 characters).
    async fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The requester's first message, as plain text (at most 20,000
    /// characters); replies are in `comments`.
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// How urgent the ticket is; it sets the SLA targets.
    async fn priority(&self) -> TicketPriority {
        self.0.priority
    }

    /// Where the ticket stands, from `OPEN` to `CLOSED`.
    async fn status(&self) -> TicketStatus {
        self.0.status
    }

    /// The client organization the ticket belongs to; null only if it can no
    /// longer be read.
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

    /// `Project.id` of the project the ticket is about; null when it is about
    /// none.
    async fn project_id(&self) -> Option<ID> {
        self.0.project_id.map(id)
    }

    /// The user who opened it (a client, or staff on the client's behalf);
    /// null only if the account can no longer be read.
    async fn requester(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(self.0.requester_id)
            .await?
            .map(UserNode))
    }

    /// The staff member who owns it; null while unassigned.
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
    #[graphql(complexity = "kernel::cost::list(child_complexity)")]
    async fn comments(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<TicketCommentNode>> {
        let key = CommentsKey {
            ticket_id: self.0.id,
            include_internal: policy::sees_internal(caller(ctx)?),
        };
        Ok(ctx
            .data_unchecked::<DataLoader<CommentsLoader>>()
            .load_one(key)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(TicketCommentNode)
            .collect())
    }

    /// First-response and resolution targets and how far along the clocks
    /// are, computed now on the ticket's business calendar.
    #[graphql(complexity = "SLA_COST + child_complexity")]
    async fn sla(&self, ctx: &Context<'_>) -> async_graphql::Result<SlaNode> {
        if let Some(snapshot) = self.1 {
            return Ok(SlaNode(snapshot));
        }
        let snapshot = service(ctx)
            .slas(&[self.0.id])
            .await?
            .remove(&self.0.id)
            .ok_or_else(|| AppError::internal("no SLA computed for a ticket"))?;
        Ok(SlaNode(snapshot))
    }

    /// Files attached to the ticket, oldest first (staff-only files for staff only).
    // Two statements of its own per ticket (the access check, the files).
    #[graphql(complexity = "2 * kernel::cost::STATEMENT + kernel::cost::list(child_complexity)")]
    async fn attachments(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<files::graphql::types::FileNode>> {
        files::graphql::attachments(ctx, files::OwnerRef::ticket(self.0.id)).await
    }

    /// When the ticket was opened, in UTC; the SLA clocks start here.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the ticket last changed (status, priority, assignee or a new
    /// comment), in UTC.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A [`TicketComment`] row as the GraphQL `TicketComment`.
pub struct TicketCommentNode(pub TicketComment);

/// A message in a ticket's thread: a public reply (emailed to the other
/// side) or a staff-only internal note, which clients and partners never see.
#[Object(name = "TicketComment")]
impl TicketCommentNode {
    /// Stable identifier of the comment within the whole ticket system.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// The message, as plain text (at most 20,000 characters).
    async fn body(&self) -> &str {
        &self.0.body
    }

    /// Whether it is a staff-only internal note.
    async fn internal(&self) -> bool {
        self.0.internal
    }

    /// The user who wrote it; null only if the account can no longer be read.
    async fn author(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        Ok(ctx
            .data_unchecked::<DataLoader<UserLoader>>()
            .load_one(self.0.author_id)
            .await?
            .map(UserNode))
    }

    /// When it was posted, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

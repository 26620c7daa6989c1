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

/// A support ticket of a client organization, with its SLA when a page
/// computed the SLAs of all its tickets at once.
pub struct TicketNode(pub Ticket, pub Option<SlaSnapshot>);

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
        self.0.priority
    }

    /// Status.
    async fn status(&self) -> TicketStatus {
        self.0.status
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

    /// The SLA now.
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

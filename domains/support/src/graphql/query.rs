//! The support domain's query root.

use std::collections::HashMap;

use async_graphql::{Context, ID, InputObject, MergedObject, Object};
use kernel::ids::parse_id;
use kernel::pagination::{PageConnection, PageRequest, max_page_size};
use kernel::{SignedIn, caller};
use uuid::Uuid;

use super::types::{TicketNode, service};
use crate::kb::graphql::query::KbQuery;
use crate::model::{TicketPriority, TicketStatus};
use crate::repo::TicketFilter;
use crate::sla::graphql::query::SlaQuery;

/// Every support query: tickets, SLAs, the knowledge base.
#[derive(MergedObject, Default)]
pub struct SupportQuery(TicketQuery, SlaQuery, KbQuery);

/// Which tickets `tickets` lists; every given filter must match (omitted
/// ones match every ticket you may see).
#[derive(InputObject, Default)]
pub struct TicketFilterInput {
    /// Only tickets in one of these statuses; every status when omitted or empty.
    pub status: Option<Vec<TicketStatus>>,
    /// Only tickets of one of these priorities; every priority when omitted or empty.
    pub priority: Option<Vec<TicketPriority>>,
    /// Only tickets owned by this staff member (a `User.id`).
    pub assignee_id: Option<ID>,
    /// Only tickets about this project (a `Project.id`).
    pub project_id: Option<ID>,
    /// Only tickets of this client organization (an `Organization.id`).
    pub organization_id: Option<ID>,
    /// Only tickets that breached (true) or did not (false) an SLA target.
    pub breached: Option<bool>,
    /// Full-text search over subject and body in web-search syntax (words
    /// all required, `"a phrase"`, `-excluded`, `or`); words match whole,
    /// without stemming.
    pub search: Option<String>,
}

/// Whether the page's tickets are asked for their SLA, through `edges` or
/// `nodes`: then one batched read computes them all.
fn selects_sla(ctx: &Context<'_>) -> bool {
    let page = ctx.look_ahead();
    page.field("edges").field("node").field("sla").exists()
        || page.field("nodes").field("sla").exists()
}

/// A page of tickets.
pub type TicketConnection = PageConnection<Uuid, TicketNode>;

/// Ticket queries.
#[derive(Default)]
pub struct TicketQuery;

#[Object]
impl TicketQuery {
    /// Tickets you may see, newest first: staff all, clients their
    /// organization's, partners those of the clients they referred.
    #[graphql(
        guard = "SignedIn",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn tickets(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which tickets to list; every one you may see when omitted.")]
        filter: Option<TicketFilterInput>,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<TicketConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let filter = filter.unwrap_or_default();
        let parse = |value: &Option<ID>, field: &str| {
            value.as_ref().map(|v| parse_id(v, field)).transpose()
        };
        let filter = TicketFilter {
            statuses: filter.status.unwrap_or_default(),
            priorities: filter.priority.unwrap_or_default(),
            assignee_id: parse(&filter.assignee_id, "filter.assigneeId")?,
            project_id: parse(&filter.project_id, "filter.projectId")?,
            organization_id: parse(&filter.organization_id, "filter.organizationId")?,
            breached: filter.breached,
            search: filter.search,
        };
        let tickets = service(ctx)
            .list(caller(ctx)?, &filter, page.after, page.limit)
            .await?;
        let slas = if selects_sla(ctx) {
            let ids: Vec<Uuid> = tickets.rows.iter().map(|row| row.id).collect();
            service(ctx).slas(&ids).await?
        } else {
            HashMap::new()
        };
        Ok(page.connection(
            tickets,
            |row| row.id,
            |row| {
                let sla = slas.get(&row.id).copied();
                TicketNode(row, sla)
            },
        ))
    }

    /// One ticket you may see, with its thread and SLA; any other id is `NOT_FOUND`.
    #[graphql(guard = "SignedIn")]
    async fn ticket(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The ticket's `Ticket.id`.")] id: ID,
    ) -> async_graphql::Result<TicketNode> {
        let id = parse_id(&id, "id")?;
        Ok(TicketNode(
            service(ctx).ticket(caller(ctx)?, id).await?,
            None,
        ))
    }

    /// Names of the notification email categories you turned off with
    /// `setNotificationPreference` (of `ticket_created`, `ticket_reply`,
    /// `ticket_status`, `ticket_assigned`, `sla_warning`); empty when you get
    /// them all.
    #[graphql(guard = "SignedIn")]
    async fn muted_notifications(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(service(ctx).muted_categories(caller(ctx)?).await?)
    }
}

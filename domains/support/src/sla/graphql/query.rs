//! SLA queries.

use std::sync::Arc;

use async_graphql::{Context, Object};
use kernel::{SignedIn, caller};

use super::types::{CalendarNode, SlaPolicyNode};
use crate::sla::SlaAdmin;

pub(crate) fn admin<'a>(ctx: &Context<'a>) -> &'a Arc<SlaAdmin> {
    ctx.data_unchecked::<Arc<SlaAdmin>>()
}

/// SLA queries, merged into `SupportQuery`.
#[derive(Default)]
pub struct SlaQuery;

#[Object]
impl SlaQuery {
    /// Targets per ticket priority, one policy each; any signed-in user.
    #[graphql(guard = "SignedIn")]
    async fn sla_policies(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SlaPolicyNode>> {
        caller(ctx)?;
        Ok(admin(ctx)
            .policies()
            .await?
            .into_iter()
            .map(SlaPolicyNode::from)
            .collect())
    }

    /// The business calendar SLA clocks run on; any signed-in user.
    #[graphql(guard = "SignedIn")]
    async fn business_calendar(&self, ctx: &Context<'_>) -> async_graphql::Result<CalendarNode> {
        Ok(admin(ctx).calendar().await?.into())
    }
}

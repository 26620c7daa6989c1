//! How the support desk reacts to other domains' changes: handlers of the
//! outbox jobs they enqueue in the transaction of the change.

use std::sync::Arc;

use auth::events::{ROLE_CHANGED, RoleChanged};
use kernel::outbox::{JobError, JobHandler, async_trait};

use crate::service::TicketService;

/// Runs [`ROLE_CHANGED`] jobs: an assignee whose new role no longer reads
/// internal notes loses their tickets.
pub struct RoleChangedHandler(pub Arc<TicketService>);

#[async_trait]
impl JobHandler for RoleChangedHandler {
    fn kind(&self) -> &'static str {
        ROLE_CHANGED
    }

    async fn handle(&self, payload: &serde_json::Value) -> Result<(), JobError> {
        let change =
            RoleChanged::decode(payload).ok_or_else(|| JobError::permanent("not a role change"))?;
        let released = self
            .0
            .release_tickets_of(change.user_id, change.actor_id, "role_changed")
            .await
            .map_err(|error| {
                error.log_if_internal();
                JobError::retryable(error.message().to_string())
            })?;
        if released > 0 {
            tracing::info!(user = %change.user_id, released, "tickets unassigned after a role change");
        }
        Ok(())
    }
}

//! Changes other domains react to durably: auth enqueues them as outbox jobs
//! in the transaction of the change, and the domain that reacts registers the
//! job's handler through `Domain::jobs`, so auth depends on none of them.
//! (Open websockets hear of the same changes live through
//! `kernel::events::SessionChange`, published after commit.)

use diesel_async::AsyncPgConnection;
use kernel::{AppError, Role};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Job kind of a [`RoleChanged`]; support handles it (an assignee who lost
/// the right to internal notes loses their tickets).
pub const ROLE_CHANGED: &str = "auth.role_changed";

/// A user's role changed (`changeUserRole`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoleChanged {
    /// The user.
    pub user_id: Uuid,
    /// The role before.
    pub from: Role,
    /// The role after.
    pub to: Role,
    /// Who changed it.
    pub actor_id: Option<Uuid>,
}

impl RoleChanged {
    /// Enqueues the change; call it inside the transaction of the change.
    pub async fn enqueue(&self, conn: &mut AsyncPgConnection) -> Result<(), AppError> {
        // A derived `Serialize` of ids and roles cannot fail.
        let payload = serde_json::to_value(self).unwrap_or_default();
        kernel::outbox::enqueue(conn, ROLE_CHANGED, payload).await?;
        Ok(())
    }

    /// The change a job carries, or `None` for another shape.
    pub fn decode(payload: &serde_json::Value) -> Option<Self> {
        Self::deserialize(payload).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_reads_back_from_its_payload() {
        let change = RoleChanged {
            user_id: Uuid::from_u128(1),
            from: Role::Employee,
            to: Role::Freelancer,
            actor_id: Some(Uuid::from_u128(2)),
        };
        let payload = serde_json::to_value(&change).expect("payload");
        assert_eq!(payload["userId"], Uuid::from_u128(1).to_string());
        assert_eq!(RoleChanged::decode(&payload), Some(change));
        assert_eq!(
            RoleChanged::decode(&serde_json::json!({ "userId": 1 })),
            None
        );
    }
}

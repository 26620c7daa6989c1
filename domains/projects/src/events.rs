//! What the projects domain publishes on the bus, as one typed change.

use kernel::events::{Audience, Change};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::{Task, TaskStatus};

/// The bus topic of a project's board.
pub fn board_topic(project_id: Uuid) -> String {
    format!("projects.board.{project_id}")
}

/// Where a task stands after a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskFacts {
    /// The task.
    pub task_id: Uuid,
    /// Its column.
    pub status: TaskStatus,
    /// Its order key in the column.
    pub order_key: String,
    /// Its version.
    pub version: i64,
}

impl From<&Task> for TaskFacts {
    fn from(task: &Task) -> Self {
        Self {
            task_id: task.id,
            status: task.status,
            order_key: task.order_key.clone(),
            version: i64::from(task.version),
        }
    }
}

/// A change on a project's board. Subscribers were authorized for the project
/// when they subscribed, so the audience names no organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind")]
pub enum BoardChange {
    /// A task was added.
    #[serde(rename = "task.created")]
    TaskCreated(TaskFacts),
    /// A task's fields changed.
    #[serde(rename = "task.updated")]
    TaskUpdated(TaskFacts),
    /// A task changed column or position.
    #[serde(rename = "task.moved")]
    TaskMoved(TaskFacts),
    /// A task was deleted.
    #[serde(rename = "task.deleted")]
    TaskDeleted(TaskFacts),
    /// Someone left the project: their board streams end.
    #[serde(rename = "member.removed", rename_all = "camelCase")]
    MemberRemoved {
        /// The former member.
        user_id: Uuid,
    },
}

impl Change for BoardChange {
    fn audience(&self) -> Audience {
        Audience::default()
    }
}

//! Use cases of the projects domain, one transaction each. Reads take the
//! caller's scope; rows outside it are `NOT_FOUND`.

use std::sync::Arc;

use chrono::NaiveDate;
use kernel::events::{Event, EventBus};
pub use kernel::pagination::Page;
use kernel::{AppError, Db};
use uuid::Uuid;

use crate::events::BoardChange;

pub use crate::events::board_topic;

mod project;
mod task;

pub use project::{NewProjectInput, ProjectChanges, ProjectFilter};
pub use task::{MoveTaskInput, NewTaskInput, TaskChanges, WorkloadRow};

/// The projects domain's service.
pub struct ProjectsService {
    db: Db,
    bus: Arc<dyn EventBus>,
}

fn check_dates(start: Option<NaiveDate>, due: Option<NaiveDate>) -> Result<(), AppError> {
    if let (Some(start), Some(due)) = (start, due)
        && due < start
    {
        return Err(AppError::invalid_field(
            "input.dueDate",
            "The due date is before the start date",
        ));
    }
    Ok(())
}

impl ProjectsService {
    /// A service on the pool, publishing to the bus.
    pub fn new(db: Db, bus: Arc<dyn EventBus>) -> Self {
        Self { db, bus }
    }

    async fn conn(&self) -> Result<kernel::DbConn, AppError> {
        Ok(self.db.get().await?)
    }

    fn publish(&self, project_id: Uuid, actor: Uuid, change: &BoardChange) {
        self.bus
            .publish(Event::of(board_topic(project_id), Some(actor), change));
    }

    /// The bus, for subscriptions.
    pub fn bus(&self) -> &Arc<dyn EventBus> {
        &self.bus
    }
}

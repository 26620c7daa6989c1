//! Rows of the projects tables.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use kernel::db_enum;
use kernel::schema::{milestones, project_members, projects, tasks};
use uuid::Uuid;

db_enum! {
    /// Where a project stands.
    ProjectStatus {
        /// Agreed, not started.
        Planned = "planned",
        /// Work is in progress.
        Active = "active",
        /// Work is paused, e.g. waiting for the client.
        OnHold = "on_hold",
        /// Delivered to the client.
        Completed = "completed",
        /// Stopped for good.
        Cancelled = "cancelled",
    }
}

db_enum! {
    /// A Kanban column.
    TaskStatus {
        /// Not started yet: the first column.
        Todo = "todo",
        /// Being worked on.
        InProgress = "in_progress",
        /// Waiting for review.
        InReview = "in_review",
        /// Finished: the last column; done tasks leave `myTasks` and workloads.
        Done = "done",
    }
}

db_enum! {
    /// How urgent a task is.
    TaskPriority {
        /// Whenever there is time.
        Low = "low",
        /// Normal work; the default for new tasks.
        Medium = "medium",
        /// Should be done before medium work.
        High = "high",
        /// Needs attention now, before anything else.
        Urgent = "urgent",
    }
}

db_enum! {
    /// Where a milestone stands.
    MilestoneStatus {
        /// Not started yet; new milestones start here.
        Pending = "pending",
        /// Being worked on.
        InProgress = "in_progress",
        /// Reached: its work is delivered.
        Completed = "completed",
        /// Dropped: it will not be reached.
        Cancelled = "cancelled",

    }
}

/// A project of one client organization.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = projects, check_for_backend(diesel::pg::Pg))]
pub struct Project {
    /// Id.
    pub id: Uuid,
    /// The client organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Description (markdown).
    pub description: String,
    /// Status.
    pub status: ProjectStatus,
    /// Start.
    pub start_date: Option<NaiveDate>,
    /// Due.
    pub due_date: Option<NaiveDate>,
    /// Archived at.
    pub archived_at: Option<DateTime<Utc>>,
    /// Creator.
    pub created_by: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A member of a project.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = project_members, check_for_backend(diesel::pg::Pg))]
pub struct ProjectMember {
    /// Project.
    pub project_id: Uuid,
    /// User.
    pub user_id: Uuid,
    /// Role on the project, e.g. "designer".
    pub project_role: String,
    /// Added at.
    pub added_at: DateTime<Utc>,
}

/// A milestone.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = milestones, check_for_backend(diesel::pg::Pg))]
pub struct Milestone {
    /// Id.
    pub id: Uuid,
    /// Project.
    pub project_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// Due.
    pub due_date: Option<NaiveDate>,
    /// Status.
    pub status: MilestoneStatus,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A task on the board.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = tasks, check_for_backend(diesel::pg::Pg))]
pub struct Task {
    /// Id.
    pub id: Uuid,
    /// Project.
    pub project_id: Uuid,
    /// Milestone.
    pub milestone_id: Option<Uuid>,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Column.
    pub status: TaskStatus,
    /// Priority.
    pub priority: TaskPriority,
    /// Assignee.
    pub assignee_id: Option<Uuid>,
    /// Due.
    pub due_date: Option<NaiveDate>,
    /// Fractional-index key within the column.
    pub order_key: String,
    /// Optimistic-concurrency version.
    pub version: i32,
    /// Creator.
    pub created_by: Option<Uuid>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T>(all: &[T], as_db: fn(T) -> &'static str, from_db: fn(&str) -> Option<T>)
    where
        T: Copy + PartialEq + std::fmt::Debug + serde::Serialize,
    {
        for &value in all {
            assert_eq!(from_db(as_db(value)), Some(value));
            assert_eq!(
                serde_json::to_value(value).expect("serialize"),
                serde_json::Value::from(as_db(value))
            );
        }
    }

    #[test]
    fn stored_vocabularies_round_trip() {
        round_trips(
            ProjectStatus::ALL,
            ProjectStatus::as_db,
            ProjectStatus::from_db,
        );
        round_trips(TaskStatus::ALL, TaskStatus::as_db, TaskStatus::from_db);
        round_trips(
            TaskPriority::ALL,
            TaskPriority::as_db,
            TaskPriority::from_db,
        );
        round_trips(
            MilestoneStatus::ALL,
            MilestoneStatus::as_db,
            MilestoneStatus::from_db,
        );
        assert_eq!(ProjectStatus::OnHold.as_db(), "on_hold");
        assert_eq!(TaskStatus::InReview.as_db(), "in_review");
    }
}

impl TaskPriority {
    /// Higher is more urgent.
    pub fn urgency(self) -> i16 {
        match self {
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
            Self::Urgent => 4,
        }
    }
}

/// Where a page of `myTasks` ends: its order is due date (undated last),
/// then urgency (most urgent first), then id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MyTasksKey {
    /// The due date, or 9999-12-31 for undated tasks.
    pub due: NaiveDate,
    /// [`TaskPriority::urgency`].
    pub urgency: i16,
    /// The task.
    pub id: Uuid,
}

impl MyTasksKey {
    /// The sort date of undated tasks (the SQL uses the same literal).
    pub const UNDATED: NaiveDate = match NaiveDate::from_ymd_opt(9999, 12, 31) {
        Some(date) => date,
        None => panic!("9999-12-31 is a date"),
    };

    /// Minus the urgency, in SQL (ascending is most urgent first).
    pub const LESS_URGENT_SQL: &'static str = "(CASE tasks.priority WHEN 'urgent' THEN -4 \
        WHEN 'high' THEN -3 WHEN 'medium' THEN -2 ELSE -1 END)::smallint";

    /// The key of a task.
    pub fn of(task: &Task) -> Self {
        Self {
            due: task.due_date.unwrap_or(Self::UNDATED),
            urgency: task.priority.urgency(),
            id: task.id,
        }
    }
}

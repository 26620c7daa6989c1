//! Rows of the projects tables.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use kernel::schema::{files, milestones, project_members, projects, tasks};
use uuid::Uuid;

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
    /// planned, active, on_hold, completed, cancelled.
    pub status: String,
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
    /// pending, in_progress, completed, cancelled.
    pub status: String,
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
    /// Column: todo, in_progress, in_review, done.
    pub status: String,
    /// low, medium, high, urgent.
    pub priority: String,
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

/// An uploaded file.
#[derive(Debug, Clone, Queryable, Selectable, Identifiable)]
#[diesel(table_name = files, check_for_backend(diesel::pg::Pg))]
pub struct FileRow {
    /// Id.
    pub id: Uuid,
    /// Project, for project files.
    pub project_id: Option<Uuid>,
    /// Task.
    pub task_id: Option<Uuid>,
    /// Uploader.
    pub uploaded_by: Uuid,
    /// Sanitised filename.
    pub filename: String,
    /// Declared content type.
    pub content_type: String,
    /// Declared size.
    pub size_bytes: i64,
    /// Object key in storage.
    pub storage_key: String,
    /// pending, quarantined, available, rejected.
    pub status: String,
    /// Why it was rejected.
    pub rejection_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Checked at.
    pub completed_at: Option<DateTime<Utc>>,
    /// Ticket, for ticket attachments.
    pub ticket_id: Option<Uuid>,
}

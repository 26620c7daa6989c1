//! GraphQL types of the projects domain.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, Object, SimpleObject};
use auth::graphql::loaders::{OrganizationLoader, UserLoader};
use auth::graphql::types::{OrganizationNode, UserNode};
use chrono::{DateTime, NaiveDate, Utc};

use super::loaders::{MembersLoader, MilestoneLoader, ProjectMilestonesLoader};
use crate::model::{
    Milestone, MilestoneStatus, Project, ProjectMember, ProjectStatus, Task, TaskPriority,
    TaskStatus,
};
use crate::policy::COLUMNS;
use crate::service::ProjectsService;
use files::OwnerRef;

fn id(value: uuid::Uuid) -> ID {
    ID(value.to_string())
}

/// A client project.
pub struct ProjectNode(pub Project);

#[Object(name = "Project")]
impl ProjectNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Description (markdown).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Status.
    async fn status(&self) -> ProjectStatus {
        self.0.status
    }

    /// Start date.
    async fn start_date(&self) -> Option<NaiveDate> {
        self.0.start_date
    }

    /// Due date.
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }

    /// When it was archived; archived projects are hidden from lists by default.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The client organization.
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationNode>> {
        let loader = ctx.data_unchecked::<DataLoader<OrganizationLoader>>();
        Ok(loader
            .load_one(self.0.organization_id)
            .await?
            .map(OrganizationNode))
    }

    /// People working on the project.
    #[graphql(complexity = "kernel::cost::list(child_complexity)")]
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProjectMemberNode>> {
        let loader = ctx.data_unchecked::<DataLoader<MembersLoader>>();
        Ok(loader
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(ProjectMemberNode)
            .collect())
    }

    /// Milestones, soonest due first.
    #[graphql(complexity = "kernel::cost::list(child_complexity)")]
    async fn milestones(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<MilestoneNode>> {
        let loader = ctx.data_unchecked::<DataLoader<ProjectMilestonesLoader>>();
        Ok(loader
            .load_one(self.0.id)
            .await?
            .unwrap_or_default()
            .into_iter()
            .map(MilestoneNode)
            .collect())
    }

    /// Files of the project and of its tasks, newest first (staff-only
    /// files for staff only).
    // Two statements of its own per project (its tasks, the access check).
    #[graphql(
        complexity = "kernel::cost::page(first, child_complexity) + 2 * kernel::cost::STATEMENT"
    )]
    async fn files(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<files::graphql::types::FileConnection> {
        let db = &ctx.data_unchecked::<kernel::Deps>().db;
        let tasks = crate::attachments::task_owners(db, self.0.id).await?;
        files::graphql::files_page(ctx, OwnerRef::project(self.0.id), &tasks, first, after).await
    }

    /// The Kanban board: every column with its tasks in order.
    // Three statements of its own per project (tasks, assignees, milestones).
    #[graphql(complexity = "3 * kernel::cost::STATEMENT + kernel::cost::list(child_complexity)")]
    async fn board(&self, ctx: &Context<'_>) -> async_graphql::Result<Board> {
        let tasks = ctx
            .data_unchecked::<Arc<ProjectsService>>()
            .board(self.0.id)
            .await?;
        let user_ids: std::collections::BTreeSet<uuid::Uuid> =
            tasks.iter().filter_map(|task| task.assignee_id).collect();
        let milestone_ids: std::collections::BTreeSet<uuid::Uuid> =
            tasks.iter().filter_map(|task| task.milestone_id).collect();
        let (users, milestones) = futures_util::try_join!(
            ctx.data_unchecked::<DataLoader<UserLoader>>()
                .load_many(user_ids),
            ctx.data_unchecked::<DataLoader<MilestoneLoader>>()
                .load_many(milestone_ids),
        )?;
        let refs = Arc::new(BoardRefs { users, milestones });
        let mut columns: Vec<BoardColumn> = COLUMNS
            .iter()
            .map(|&status| BoardColumn {
                status,
                tasks: Vec::new(),
            })
            .collect();
        for task in tasks {
            if let Some(column) = columns
                .iter_mut()
                .find(|column| column.status == task.status)
            {
                column.tasks.push(TaskNode(task, Some(refs.clone())));
            }
        }
        Ok(Board { columns })
    }
}

/// A Kanban board.
#[derive(SimpleObject)]
pub struct Board {
    /// Columns in display order: TODO, IN_PROGRESS, IN_REVIEW, DONE.
    pub columns: Vec<BoardColumn>,
}

/// One column of the board.
#[derive(SimpleObject)]
pub struct BoardColumn {
    /// The column.
    pub status: TaskStatus,
    /// Its tasks, top to bottom.
    pub tasks: Vec<TaskNode>,
}

/// Someone working on a project.
pub struct ProjectMemberNode(pub ProjectMember);

#[Object(name = "ProjectMember")]
impl ProjectMemberNode {
    /// The person.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.user_id).await?.map(UserNode))
    }

    /// Their role on this project, e.g. "designer".
    async fn project_role(&self) -> &str {
        &self.0.project_role
    }

    /// When they joined.
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
}

/// A milestone of a project.
pub struct MilestoneNode(pub Milestone);

#[Object(name = "Milestone")]
impl MilestoneNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Description.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Due date.
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }

    /// Status.
    async fn status(&self) -> MilestoneStatus {
        self.0.status
    }
}

/// A task on a project's board.
pub struct TaskNode(pub Task, pub Option<Arc<BoardRefs>>);

/// Assignees and milestones of a whole board, loaded once for all its tasks so
/// that each task's fields do not go through the loaders one by one.
pub struct BoardRefs {
    users: std::collections::HashMap<uuid::Uuid, auth::model::User>,
    milestones: std::collections::HashMap<uuid::Uuid, Milestone>,
}

#[Object(name = "Task")]
impl TaskNode {
    /// Id.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// The project.
    async fn project_id(&self) -> ID {
        id(self.0.project_id)
    }

    /// Title.
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Description (markdown).
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Column.
    async fn status(&self) -> TaskStatus {
        self.0.status
    }

    /// Priority.
    async fn priority(&self) -> TaskPriority {
        self.0.priority
    }

    /// Who works on it.
    async fn assignee(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let Some(assignee) = self.0.assignee_id else {
            return Ok(None);
        };
        if let Some(refs) = &self.1 {
            return Ok(refs.users.get(&assignee).cloned().map(UserNode));
        }
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(assignee).await?.map(UserNode))
    }

    /// Due date.
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }

    /// The milestone it belongs to.
    async fn milestone(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<MilestoneNode>> {
        let Some(milestone) = self.0.milestone_id else {
            return Ok(None);
        };
        if let Some(refs) = &self.1 {
            return Ok(refs.milestones.get(&milestone).cloned().map(MilestoneNode));
        }
        let loader = ctx.data_unchecked::<DataLoader<MilestoneLoader>>();
        Ok(loader.load_one(milestone).await?.map(MilestoneNode))
    }

    /// Position within the column (compare byte-wise).
    async fn order_key(&self) -> &str {
        &self.0.order_key
    }

    /// Version for `expectedVersion` in `moveTask` and `updateTask`.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// Created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Last changed.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// Open work of one person.
pub struct WorkloadNode(pub crate::service::WorkloadRow);

#[Object(name = "Workload")]
impl WorkloadNode {
    /// The person.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.user_id).await?.map(UserNode))
    }

    /// Tasks not done.
    async fn open_tasks(&self) -> i64 {
        self.0.open_tasks
    }

    /// Open tasks due within the range.
    async fn due_soon(&self) -> i64 {
        self.0.due_soon
    }

    /// Open tasks past their due date.
    async fn overdue(&self) -> i64 {
        self.0.overdue
    }
}

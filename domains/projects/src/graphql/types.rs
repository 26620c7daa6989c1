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

/// A [`Project`] row as the GraphQL `Project`.
pub struct ProjectNode(pub Project);

/// Work the agency does for one client organization: members, milestones,
/// a Kanban board and files. Staff see every project, clients their
/// organization's, freelancers those they are members of, partners (read-only)
/// those of the clients they referred.
#[Object(name = "Project")]
impl ProjectNode {
    /// Stable identifier of the project; pass it to `project`, `boardEvents`
    /// and the project mutations.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// The project's title as shown to the client (at most 200 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What the project delivers, as Markdown; empty when none was written.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Where the project stands, from `PLANNED` to `COMPLETED` or `CANCELLED`.
    async fn status(&self) -> ProjectStatus {
        self.0.status
    }

    /// Calendar day the work starts (no time zone); null when not planned yet.
    async fn start_date(&self) -> Option<NaiveDate> {
        self.0.start_date
    }

    /// Calendar day the work is due (no time zone, never before
    /// `startDate`); null when there is no deadline.
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }

    /// When it was archived, in UTC; null while active. Archived projects are
    /// hidden from lists by default and their tasks can no longer change.
    async fn archived_at(&self) -> Option<DateTime<Utc>> {
        self.0.archived_at
    }

    /// When the project was created, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The client organization the project is for; null only if you may no
    /// longer read it.
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

    /// Agency staff and freelancers working on the project, with their
    /// project roles; only members can be assigned tasks.
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

    /// Milestones, soonest due first (undated last).
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
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<files::graphql::types::FileConnection> {
        let db = &ctx.data_unchecked::<kernel::Deps>().db;
        let tasks = crate::attachments::task_owners(db, self.0.id).await?;
        files::graphql::files_page(ctx, OwnerRef::project(self.0.id), &tasks, first, after).await
    }

    /// The Kanban board: every column with its tasks in order, the whole
    /// project at once (no paging).
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

/// A project's Kanban board as it is now; `boardEvents` reports later changes.
#[derive(SimpleObject)]
pub struct Board {
    /// Columns in display order: TODO, IN_PROGRESS, IN_REVIEW, DONE.
    pub columns: Vec<BoardColumn>,
}

/// One column of the board: the tasks of one status.
#[derive(SimpleObject)]
pub struct BoardColumn {
    /// The status every task in this column has; moving a task here sets it.
    pub status: TaskStatus,
    /// Its tasks, top to bottom (ascending `orderKey`).
    pub tasks: Vec<TaskNode>,
}

/// A [`ProjectMember`] row as the GraphQL `ProjectMember`.
pub struct ProjectMemberNode(pub ProjectMember);

/// An employee or freelancer working on a project; only members can be
/// assigned its tasks, and freelancers see only projects they are members of.
#[Object(name = "ProjectMember")]
impl ProjectMemberNode {
    /// The member's account; null only if it can no longer be read.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.user_id).await?.map(UserNode))
    }

    /// Their role on this project in the agency's words, e.g. "designer"
    /// (at most 80 characters); it grants no permissions.
    async fn project_role(&self) -> &str {
        &self.0.project_role
    }

    /// When they were added to the project, in UTC.
    async fn added_at(&self) -> DateTime<Utc> {
        self.0.added_at
    }
}

/// A [`Milestone`] row as the GraphQL `Milestone`.
pub struct MilestoneNode(pub Milestone);

/// A checkpoint of a project that tasks can be grouped under, e.g. "Beta
/// launch". Seen by whoever sees the project; changed by admins.
#[Object(name = "Milestone")]
impl MilestoneNode {
    /// Stable identifier of the milestone; pass it as `milestoneId` to the
    /// task and milestone mutations.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// Short title shown on the project's timeline (at most 200 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// What reaching the milestone means, as Markdown; empty when none was written.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// Calendar day the milestone is due (no time zone); null when undated.
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }

    /// Whether the milestone is pending, in progress, reached or dropped.
    async fn status(&self) -> MilestoneStatus {
        self.0.status
    }
}

/// A [`Task`] row as the GraphQL `Task`, with the board's preloaded references.
pub struct TaskNode(pub Task, pub Option<Arc<BoardRefs>>);

/// Assignees and milestones of a whole board, loaded once for all its tasks so
/// that each task's fields do not go through the loaders one by one.
pub struct BoardRefs {
    users: std::collections::HashMap<uuid::Uuid, auth::model::User>,
    milestones: std::collections::HashMap<uuid::Uuid, Milestone>,
}

/// A card on a project's Kanban board. Seen by whoever sees the project;
/// written by staff and by freelancers who are members of the project.
#[Object(name = "Task")]
impl TaskNode {
    /// Stable identifier of the task; pass it to `task` and the task mutations.
    async fn id(&self) -> ID {
        id(self.0.id)
    }

    /// `Project.id` of the project whose board holds the task.
    async fn project_id(&self) -> ID {
        id(self.0.project_id)
    }

    /// One-line summary shown on the card (at most 300 characters).
    async fn title(&self) -> &str {
        &self.0.title
    }

    /// Details of the work, as Markdown; empty when none was written.
    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The board column the task is in; change it with `moveTask`.
    async fn status(&self) -> TaskStatus {
        self.0.status
    }

    /// How urgent the task is, `LOW` to `URGENT`; `MEDIUM` unless set.
    async fn priority(&self) -> TaskPriority {
        self.0.priority
    }

    /// The project member who works on it; null when unassigned.
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

    /// Calendar day the task is due (no time zone); null when undated.
    async fn due_date(&self) -> Option<NaiveDate> {
        self.0.due_date
    }

    /// The milestone of the same project it counts towards; null when none.
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

    /// Position within the column: tasks sort by it ascending, compared
    /// byte-wise; the server computes it (see `moveTask`).
    async fn order_key(&self) -> &str {
        &self.0.order_key
    }

    /// Version for `expectedVersion` in `moveTask` and `updateTask`; grows by
    /// one with every change.
    async fn version(&self) -> i32 {
        self.0.version
    }

    /// When the task was created, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// When the task last changed (fields, column or position), in UTC.
    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }
}

/// A workload row as the GraphQL `Workload`.
pub struct WorkloadNode(pub crate::service::WorkloadRow);

/// Open work of one assignee across every active (not archived) project,
/// for staff planning (`workload`).
#[Object(name = "Workload")]
impl WorkloadNode {
    /// The assignee; null only if the account can no longer be read.
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.user_id).await?.map(UserNode))
    }

    /// Tasks assigned to them that are not `DONE`.
    async fn open_tasks(&self) -> i64 {
        self.0.open_tasks
    }

    /// Open tasks due between `from` and `to`, both days included.
    async fn due_soon(&self) -> i64 {
        self.0.due_soon
    }

    /// Open tasks due before today (UTC).
    async fn overdue(&self) -> i64 {
        self.0.overdue
    }
}

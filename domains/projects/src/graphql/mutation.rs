//! Mutations of the projects domain.

use async_graphql::{Context, ID, InputObject, MaybeUndefined, Object};
use chrono::NaiveDate;
use kernel::ids::parse_id;
use kernel::{RequirePermission, SignedIn, caller};

use super::query::service;
use super::types::{MilestoneNode, ProjectMemberNode, ProjectNode, TaskNode};
use crate::model::{MilestoneStatus, ProjectStatus, TaskPriority, TaskStatus};
use crate::service::{
    MoveTaskInput as Move, NewProjectInput, NewTaskInput, ProjectChanges, TaskChanges,
};

/// Projects mutations.
#[derive(Default)]
pub struct ProjectsMutation;

fn optional_id(
    value: &MaybeUndefined<ID>,
    field: &str,
) -> async_graphql::Result<Option<Option<uuid::Uuid>>> {
    Ok(match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(id) => Some(Some(parse_id(id, field)?)),
    })
}

fn optional_date(value: MaybeUndefined<NaiveDate>) -> Option<Option<NaiveDate>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(date) => Some(Some(date)),
    }
}

/// A new project for a client organization (`createProject`).
#[derive(InputObject)]
pub struct CreateProjectInput {
    /// `Organization.id` of the client the project is for (must be a `CLIENT`).
    pub organization_id: ID,
    /// The project's title (required, at most 200 characters).
    pub name: String,
    /// What the project delivers, as Markdown; empty when omitted.
    pub description: Option<String>,
    /// Where the project starts out; `PLANNED` when omitted.
    pub status: Option<ProjectStatus>,
    /// Calendar day the work starts; none when omitted.
    pub start_date: Option<NaiveDate>,
    /// Calendar day the work is due, not before `startDate`; none when omitted.
    pub due_date: Option<NaiveDate>,
}

/// Changes to a project (`updateProject`); omitted fields keep their value,
/// null clears dates.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    /// `Project.id` of the project to change.
    pub project_id: ID,
    /// New title (at most 200 characters).
    pub name: Option<String>,
    /// New Markdown description; an empty string clears it.
    pub description: Option<String>,
    /// New status, e.g. `ON_HOLD` to pause the work.
    pub status: Option<ProjectStatus>,
    /// New start day; null clears it.
    pub start_date: MaybeUndefined<NaiveDate>,
    /// New due day, not before the start day; null clears it.
    pub due_date: MaybeUndefined<NaiveDate>,
}

/// Who joins which project, as what (`addProjectMember`).
#[derive(InputObject)]
pub struct AddProjectMemberInput {
    /// `Project.id` of the project to join.
    pub project_id: ID,
    /// `User.id` of an employee or freelancer (other roles are `BAD_USER_INPUT`).
    pub user_id: ID,
    /// Their role on the project, e.g. "designer" (required, at most 80 characters).
    pub project_role: String,
}

/// Who leaves which project (`removeProjectMember`).
#[derive(InputObject)]
pub struct RemoveProjectMemberInput {
    /// `Project.id` of the project to leave.
    pub project_id: ID,
    /// `User.id` of the employee or freelancer who leaves.
    pub user_id: ID,
}

/// A new milestone of a project (`createMilestone`); it starts `PENDING`.
#[derive(InputObject)]
pub struct CreateMilestoneInput {
    /// `Project.id` of the project the milestone belongs to.
    pub project_id: ID,
    /// Short title, e.g. "Beta launch" (required, at most 200 characters).
    pub name: String,
    /// What reaching it means, as Markdown; empty when omitted.
    pub description: Option<String>,
    /// Calendar day it is due; undated when omitted.
    pub due_date: Option<NaiveDate>,
}

/// Changes to a milestone (`updateMilestone`); omitted fields keep their value.
#[derive(InputObject)]
pub struct UpdateMilestoneInput {
    /// `Milestone.id` of the milestone to change.
    pub milestone_id: ID,
    /// New title (at most 200 characters).
    pub name: Option<String>,
    /// New Markdown description; an empty string clears it.
    pub description: Option<String>,
    /// New due day (null clears it).
    pub due_date: MaybeUndefined<NaiveDate>,
    /// New state, e.g. `COMPLETED` once reached.
    pub status: Option<MilestoneStatus>,
}

/// A new task on a project's board (`createTask`).
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// `Project.id` of the board to add the task to (not archived).
    pub project_id: ID,
    /// One-line summary (required, at most 300 characters).
    pub title: String,
    /// Details of the work, as Markdown; empty when omitted.
    pub description: Option<String>,
    /// Column (default TODO); the task goes to its end.
    pub status: Option<TaskStatus>,
    /// Priority (default MEDIUM).
    pub priority: Option<TaskPriority>,
    /// Assignee: a member of the project.
    pub assignee_id: Option<ID>,
    /// Calendar day the task is due; undated when omitted.
    pub due_date: Option<NaiveDate>,
    /// `Milestone.id` of a milestone of the same project; none when omitted.
    pub milestone_id: Option<ID>,
}

/// Changes to a task's fields (`updateTask`); omitted fields keep their
/// value, null clears.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    /// `Task.id` of the task to change.
    pub task_id: ID,
    /// New one-line summary (at most 300 characters).
    pub title: Option<String>,
    /// New Markdown details; an empty string clears them.
    pub description: Option<String>,
    /// New urgency, `LOW` to `URGENT`.
    pub priority: Option<TaskPriority>,
    /// Assignee, a member of the project (null unassigns).
    pub assignee_id: MaybeUndefined<ID>,
    /// Due date (null clears).
    pub due_date: MaybeUndefined<NaiveDate>,
    /// Milestone (null clears).
    pub milestone_id: MaybeUndefined<ID>,
    /// The `Task.version` you saw; a stale one is `CONFLICT` (nothing
    /// changes); omitted, the change applies whatever the current version.
    pub expected_version: Option<i32>,
}

/// Where a task goes on its board (`moveTask`): a column, and its neighbours there.
#[derive(InputObject)]
pub struct MoveTaskInput {
    /// `Task.id` of the card being dragged.
    pub task_id: ID,
    /// The column to move it to (may be its current one, to reorder).
    pub to_status: TaskStatus,
    /// The task it now follows (the one above it), if any.
    pub after_task_id: Option<ID>,
    /// The task it now precedes (the one below it), if any.
    pub before_task_id: Option<ID>,
    /// The version you saw (`Task.version`): when given and stale, the move
    /// is refused with `CONFLICT`; omitted, the task moves whatever its
    /// current version.
    pub expected_version: Option<i32>,
}

#[Object]
impl ProjectsMutation {
    /// Creates a project for a client organization (admins and super-admins:
    /// `projects:project.manage`); it has no members yet.
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn create_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The client, title, description, status and dates.")]
        input: CreateProjectInput,
    ) -> async_graphql::Result<ProjectNode> {
        let input = NewProjectInput {
            organization_id: parse_id(&input.organization_id, "input.organizationId")?,
            name: input.name,
            description: input.description,
            status: input.status,
            start_date: input.start_date,
            due_date: input.due_date,
        };
        Ok(ProjectNode(
            service(ctx).create_project(caller(ctx)?, input).await?,
        ))
    }

    /// Changes a project's title, description, status or dates (admins and
    /// super-admins: `projects:project.manage`).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project and the fields to change.")] input: UpdateProjectInput,
    ) -> async_graphql::Result<ProjectNode> {
        let id = parse_id(&input.project_id, "input.projectId")?;
        let changes = ProjectChanges {
            name: input.name,
            description: input.description,
            status: input.status,
            start_date: optional_date(input.start_date),
            due_date: optional_date(input.due_date),
        };
        Ok(ProjectNode(
            service(ctx)
                .update_project(caller(ctx)?, id, changes)
                .await?,
        ))
    }

    /// Archives a project (admins and super-admins); it keeps its history and
    /// leaves the lists, and its tasks can no longer change (`CONFLICT`).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn archive_project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`Project.id` of the project that leaves the lists.")] project_id: ID,
    ) -> async_graphql::Result<ProjectNode> {
        let id = parse_id(&project_id, "projectId")?;
        Ok(ProjectNode(
            service(ctx).archive_project(caller(ctx)?, id).await?,
        ))
    }

    /// Adds an employee or freelancer to a project, or changes their project
    /// role (admins and super-admins); a freelancer sees the project from then on.
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project, the person and their project role.")]
        input: AddProjectMemberInput,
    ) -> async_graphql::Result<ProjectMemberNode> {
        let project = parse_id(&input.project_id, "input.projectId")?;
        let user = parse_id(&input.user_id, "input.userId")?;
        Ok(ProjectMemberNode(
            service(ctx)
                .add_member(caller(ctx)?, project, user, &input.project_role)
                .await?,
        ))
    }

    /// Removes a member from a project (admins and super-admins); their open
    /// tasks of it are unassigned (a `TASK_UPDATED` board event each), and a
    /// freelancer's `boardEvents` stream of it ends.
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn remove_project_member(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which member leaves which project.")] input: RemoveProjectMemberInput,
    ) -> async_graphql::Result<bool> {
        let project = parse_id(&input.project_id, "input.projectId")?;
        let user = parse_id(&input.user_id, "input.userId")?;
        Ok(service(ctx)
            .remove_member(caller(ctx)?, project, user)
            .await?)
    }

    /// Adds a milestone to a project (admins and super-admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn create_milestone(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project, title, description and due day.")]
        input: CreateMilestoneInput,
    ) -> async_graphql::Result<MilestoneNode> {
        let project = parse_id(&input.project_id, "input.projectId")?;
        Ok(MilestoneNode(
            service(ctx)
                .create_milestone(
                    caller(ctx)?,
                    project,
                    &input.name,
                    input.description,
                    input.due_date,
                )
                .await?,
        ))
    }

    /// Changes a milestone's title, description, due day or status (admins
    /// and super-admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn update_milestone(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The milestone and the fields to change.")] input: UpdateMilestoneInput,
    ) -> async_graphql::Result<MilestoneNode> {
        let id = parse_id(&input.milestone_id, "input.milestoneId")?;
        Ok(MilestoneNode(
            service(ctx)
                .update_milestone(
                    caller(ctx)?,
                    id,
                    input.name,
                    input.description,
                    optional_date(input.due_date),
                    input.status,
                )
                .await?,
        ))
    }

    /// Creates a task at the end of its column (staff; freelancers on
    /// projects they are members of; `FORBIDDEN` for clients and partners).
    /// Publishes a `TASK_CREATED` board event.
    #[graphql(guard = "SignedIn")]
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The board and the task's fields.")] input: CreateTaskInput,
    ) -> async_graphql::Result<TaskNode> {
        let input = NewTaskInput {
            project_id: parse_id(&input.project_id, "input.projectId")?,
            title: input.title,
            description: input.description,
            status: input.status,
            priority: input.priority,
            assignee_id: input
                .assignee_id
                .as_ref()
                .map(|id| parse_id(id, "input.assigneeId"))
                .transpose()?,
            due_date: input.due_date,
            milestone_id: input
                .milestone_id
                .as_ref()
                .map(|id| parse_id(id, "input.milestoneId"))
                .transpose()?,
        };
        Ok(TaskNode(
            service(ctx).create_task(caller(ctx)?, input).await?,
            None,
        ))
    }

    /// Changes a task's fields (not its column: use `moveTask`); the same
    /// writers as `createTask`. Publishes a `TASK_UPDATED` board event.
    #[graphql(guard = "SignedIn")]
    async fn update_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task, the fields to change and the version you saw.")]
        input: UpdateTaskInput,
    ) -> async_graphql::Result<TaskNode> {
        let id = parse_id(&input.task_id, "input.taskId")?;
        let changes = TaskChanges {
            title: input.title,
            description: input.description,
            priority: input.priority,
            assignee_id: optional_id(&input.assignee_id, "input.assigneeId")?,
            due_date: optional_date(input.due_date),
            milestone_id: optional_id(&input.milestone_id, "input.milestoneId")?,
        };
        Ok(TaskNode(
            service(ctx)
                .update_task(caller(ctx)?, id, changes, input.expected_version)
                .await?,
            None,
        ))
    }

    /// Deletes a task for good; answers it as it was. The same writers as
    /// `createTask`. Publishes a `TASK_DELETED` board event.
    #[graphql(guard = "SignedIn")]
    async fn delete_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`Task.id` of the task; deleting cannot be undone.")] task_id: ID,
    ) -> async_graphql::Result<TaskNode> {
        let id = parse_id(&task_id, "taskId")?;
        Ok(TaskNode(
            service(ctx).delete_task(caller(ctx)?, id).await?,
            None,
        ))
    }

    /// Moves a task (drag and drop): to a column, between the tasks you name.
    /// The server computes the order key; `CONFLICT` when `expectedVersion`
    /// is stale. The same writers as `createTask`. Publishes a `TASK_MOVED`
    /// board event.
    #[graphql(guard = "SignedIn")]
    async fn move_task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task, its column and neighbours, and the version you saw.")]
        input: MoveTaskInput,
    ) -> async_graphql::Result<TaskNode> {
        let input = Move {
            task_id: parse_id(&input.task_id, "input.taskId")?,
            to_status: input.to_status,
            after_task_id: input
                .after_task_id
                .as_ref()
                .map(|id| parse_id(id, "input.afterTaskId"))
                .transpose()?,
            before_task_id: input
                .before_task_id
                .as_ref()
                .map(|id| parse_id(id, "input.beforeTaskId"))
                .transpose()?,
            expected_version: input.expected_version,
        };
        Ok(TaskNode(
            service(ctx).move_task(caller(ctx)?, input).await?,
            None,
        ))
    }
}

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

/// Input of `createProject`.
#[derive(InputObject)]
pub struct CreateProjectInput {
    /// The client organization.
    pub organization_id: ID,
    /// Name.
    pub name: String,
    /// Description (markdown).
    pub description: Option<String>,
    /// Status (default PLANNED).
    pub status: Option<ProjectStatus>,
    /// Start date.
    pub start_date: Option<NaiveDate>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
}

/// Input of `updateProject`; omitted fields keep their value, null clears dates.
#[derive(InputObject)]
pub struct UpdateProjectInput {
    /// The project.
    pub project_id: ID,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: Option<ProjectStatus>,
    /// Start date.
    pub start_date: MaybeUndefined<NaiveDate>,
    /// Due date.
    pub due_date: MaybeUndefined<NaiveDate>,
}

/// Input of `addProjectMember`.
#[derive(InputObject)]
pub struct AddProjectMemberInput {
    /// The project.
    pub project_id: ID,
    /// An employee or freelancer.
    pub user_id: ID,
    /// Their role on the project, e.g. "designer".
    pub project_role: String,
}

/// Input of `removeProjectMember`.
#[derive(InputObject)]
pub struct RemoveProjectMemberInput {
    /// The project.
    pub project_id: ID,
    /// The member.
    pub user_id: ID,
}

/// Input of `createMilestone`.
#[derive(InputObject)]
pub struct CreateMilestoneInput {
    /// The project.
    pub project_id: ID,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
}

/// Input of `updateMilestone`.
#[derive(InputObject)]
pub struct UpdateMilestoneInput {
    /// The milestone.
    pub milestone_id: ID,
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Due date (null clears it).
    pub due_date: MaybeUndefined<NaiveDate>,
    /// Status.
    pub status: Option<MilestoneStatus>,
}

/// Input of `createTask`.
#[derive(InputObject)]
pub struct CreateTaskInput {
    /// The project.
    pub project_id: ID,
    /// Title.
    pub title: String,
    /// Description (markdown).
    pub description: Option<String>,
    /// Column (default TODO); the task goes to its end.
    pub status: Option<TaskStatus>,
    /// Priority (default MEDIUM).
    pub priority: Option<TaskPriority>,
    /// Assignee: a member of the project.
    pub assignee_id: Option<ID>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
    /// Milestone of the same project.
    pub milestone_id: Option<ID>,
}

/// Input of `updateTask`; omitted fields keep their value, null clears.
#[derive(InputObject)]
pub struct UpdateTaskInput {
    /// The task.
    pub task_id: ID,
    /// Title.
    pub title: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Priority.
    pub priority: Option<TaskPriority>,
    /// Assignee, a member of the project (null unassigns).
    pub assignee_id: MaybeUndefined<ID>,
    /// Due date (null clears).
    pub due_date: MaybeUndefined<NaiveDate>,
    /// Milestone (null clears).
    pub milestone_id: MaybeUndefined<ID>,
    /// The version you saw; a stale one is CONFLICT.
    pub expected_version: Option<i32>,
}

/// Input of `moveTask`.
#[derive(InputObject)]
pub struct MoveTaskInput {
    /// The task.
    pub task_id: ID,
    /// Target column.
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
    /// Creates a project for a client organization (admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn create_project(
        &self,
        ctx: &Context<'_>,
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

    /// Changes a project (admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn update_project(
        &self,
        ctx: &Context<'_>,
        input: UpdateProjectInput,
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

    /// Archives a project (admins); it keeps its history and leaves the lists.
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn archive_project(
        &self,
        ctx: &Context<'_>,
        project_id: ID,
    ) -> async_graphql::Result<ProjectNode> {
        let id = parse_id(&project_id, "projectId")?;
        Ok(ProjectNode(
            service(ctx).archive_project(caller(ctx)?, id).await?,
        ))
    }

    /// Adds an employee or freelancer to a project, or changes their project role (admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn add_project_member(
        &self,
        ctx: &Context<'_>,
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

    /// Removes a member from a project (admins); their open tasks of it are unassigned.
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn remove_project_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveProjectMemberInput,
    ) -> async_graphql::Result<bool> {
        let project = parse_id(&input.project_id, "input.projectId")?;
        let user = parse_id(&input.user_id, "input.userId")?;
        Ok(service(ctx)
            .remove_member(caller(ctx)?, project, user)
            .await?)
    }

    /// Adds a milestone (admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn create_milestone(
        &self,
        ctx: &Context<'_>,
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

    /// Changes a milestone (admins).
    #[graphql(guard = "RequirePermission(\"projects:project.manage\")")]
    async fn update_milestone(
        &self,
        ctx: &Context<'_>,
        input: UpdateMilestoneInput,
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

    /// Creates a task at the end of its column (staff; freelancers on their projects).
    #[graphql(guard = "SignedIn")]
    async fn create_task(
        &self,
        ctx: &Context<'_>,
        input: CreateTaskInput,
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

    /// Changes a task's fields (not its column: use `moveTask`).
    #[graphql(guard = "SignedIn")]
    async fn update_task(
        &self,
        ctx: &Context<'_>,
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

    /// Deletes a task; answers it as it was.
    #[graphql(guard = "SignedIn")]
    async fn delete_task(&self, ctx: &Context<'_>, task_id: ID) -> async_graphql::Result<TaskNode> {
        let id = parse_id(&task_id, "taskId")?;
        Ok(TaskNode(
            service(ctx).delete_task(caller(ctx)?, id).await?,
            None,
        ))
    }

    /// Moves a task (drag and drop): to a column, between the tasks you name.
    /// The server computes the order key; `CONFLICT` when `expectedVersion` is stale.
    #[graphql(guard = "SignedIn")]
    async fn move_task(
        &self,
        ctx: &Context<'_>,
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

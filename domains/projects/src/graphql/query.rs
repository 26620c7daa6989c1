//! Queries of the projects domain.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::NaiveDate;
use kernel::ids::parse_id;
use kernel::pagination::{PageConnection, PageRequest, max_page_size};
use kernel::{RequirePermission, SignedIn, caller};
use uuid::Uuid;

use super::types::{ProjectNode, TaskNode, WorkloadNode};
use crate::model::{MyTasksKey, ProjectStatus};
use crate::service::{ProjectFilter, ProjectsService};

/// Projects queries.
#[derive(Default)]
pub struct ProjectsQuery;

/// Which projects `projects` lists; every given filter must match (omitted
/// ones match every project you may see).
#[derive(InputObject, Default)]
pub struct ProjectFilterInput {
    /// Only projects in one of these statuses; every status when omitted or empty.
    pub status: Option<Vec<ProjectStatus>>,
    /// Only projects of this client organization (an `Organization.id`).
    pub organization_id: Option<ID>,
    /// Name contains this text (case-insensitive).
    pub search: Option<String>,
    /// Include archived projects (default false).
    pub include_archived: Option<bool>,
}

pub(crate) fn service<'a>(ctx: &Context<'a>) -> &'a Arc<ProjectsService> {
    ctx.data_unchecked::<Arc<ProjectsService>>()
}

/// A page of projects.
pub type ProjectConnection = PageConnection<Uuid, ProjectNode>;
/// A page of tasks.
pub type TaskConnection = PageConnection<MyTasksKey, TaskNode>;

#[Object]
impl ProjectsQuery {
    /// Projects you may see, newest first: staff all, clients their
    /// organization's, freelancers those they are members of, partners those of
    /// clients they referred.
    #[graphql(
        guard = "SignedIn",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn projects(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which projects to list; every unarchived one you may see when omitted.")]
        filter: Option<ProjectFilterInput>,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<ProjectConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let filter = filter.unwrap_or_default();
        let filter = ProjectFilter {
            statuses: filter.status.unwrap_or_default(),
            organization_id: filter
                .organization_id
                .as_ref()
                .map(|id| parse_id(id, "filter.organizationId"))
                .transpose()?,
            search: filter.search,
            include_archived: filter.include_archived.unwrap_or(false),
        };
        let projects = service(ctx)
            .projects(caller(ctx)?, &filter, page.after, page.limit)
            .await?;
        Ok(page.connection(projects, |row| row.id, ProjectNode))
    }

    /// One project you may see (see `projects`), archived ones included; any
    /// other id is `NOT_FOUND`.
    #[graphql(guard = "SignedIn")]
    async fn project(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The project's `Project.id`.")] id: ID,
    ) -> async_graphql::Result<ProjectNode> {
        let id = parse_id(&id, "id")?;
        Ok(ProjectNode(service(ctx).project(caller(ctx)?, id).await?))
    }

    /// One task of a project you may see; any other id is `NOT_FOUND`.
    #[graphql(guard = "SignedIn")]
    async fn task(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The task's `Task.id`.")] id: ID,
    ) -> async_graphql::Result<TaskNode> {
        let id = parse_id(&id, "id")?;
        Ok(TaskNode(service(ctx).task(caller(ctx)?, id).await?, None))
    }

    /// Tasks assigned to you in projects you may see, open ones unless
    /// `includeDone`: soonest due first (undated last), then most urgent.
    #[graphql(
        guard = "SignedIn",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn my_tasks(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Whether `DONE` tasks are listed too; false when omitted.")]
        include_done: Option<bool>,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<TaskConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let tasks = service(ctx)
            .my_tasks(
                caller(ctx)?,
                include_done.unwrap_or(false),
                page.after,
                page.limit,
            )
            .await?;
        Ok(page.connection(tasks, MyTasksKey::of, |task| TaskNode(task, None)))
    }

    /// Open work per assignee, most open tasks first: open tasks, tasks due
    /// between `from` and `to`, and overdue tasks; staff only (super-admins,
    /// admins, employees: `projects:workload.read`).
    #[graphql(guard = "RequirePermission(\"projects:workload.read\")")]
    async fn workload(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "First day of the range `dueSoon` counts (inclusive).")] from: NaiveDate,
        #[graphql(desc = "Last day of the range `dueSoon` counts (inclusive; not before `from`).")]
        to: NaiveDate,
    ) -> async_graphql::Result<Vec<WorkloadNode>> {
        Ok(service(ctx)
            .workload(caller(ctx)?, from, to)
            .await?
            .into_iter()
            .map(WorkloadNode)
            .collect())
    }
}

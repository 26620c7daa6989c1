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

/// Filters of `projects`.
#[derive(InputObject, Default)]
pub struct ProjectFilterInput {
    /// Only these statuses.
    pub status: Option<Vec<ProjectStatus>>,
    /// Only this client organization.
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
        filter: Option<ProjectFilterInput>,
        first: Option<i32>,
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

    /// One project you may see.
    #[graphql(guard = "SignedIn")]
    async fn project(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<ProjectNode> {
        let id = parse_id(&id, "id")?;
        Ok(ProjectNode(service(ctx).project(caller(ctx)?, id).await?))
    }

    /// One task of a project you may see.
    #[graphql(guard = "SignedIn")]
    async fn task(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<TaskNode> {
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
        include_done: Option<bool>,
        first: Option<i32>,
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

    /// Open work per assignee: open tasks, tasks due between `from` and `to`, and overdue tasks (staff).
    #[graphql(guard = "RequirePermission(\"projects:workload.read\")")]
    async fn workload(
        &self,
        ctx: &Context<'_>,
        from: NaiveDate,
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

//! Projects, their members and milestones.

use auth::model::OrganizationKind;
use chrono::{NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::schema::{milestones, project_members, projects, tasks};
use kernel::validate::required;
use kernel::{AppError, Principal};
use uuid::Uuid;

use crate::events::BoardChange;
use crate::model::{
    Milestone, MilestoneStatus, Project, ProjectMember, ProjectStatus, Task, TaskStatus,
};
use crate::policy::may_be_member;
use crate::repo::{find_visible, visible_projects};

use super::{Page, ProjectsService, check_dates};

/// Filters of the project list.
#[derive(Debug, Clone, Default)]
pub struct ProjectFilter {
    /// Only these statuses.
    pub statuses: Vec<ProjectStatus>,
    /// Only this client organization.
    pub organization_id: Option<Uuid>,
    /// Name contains.
    pub search: Option<String>,
    /// Include archived projects.
    pub include_archived: bool,
}

/// Fields of a new project.
#[derive(Debug, Clone)]
pub struct NewProjectInput {
    /// Client organization.
    pub organization_id: Uuid,
    /// Name.
    pub name: String,
    /// Description.
    pub description: Option<String>,
    /// Status (default planned).
    pub status: Option<ProjectStatus>,
    /// Start date.
    pub start_date: Option<NaiveDate>,
    /// Due date.
    pub due_date: Option<NaiveDate>,
}

/// Changes to a project; `None` keeps the value.
#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = projects)]
pub struct ProjectChanges {
    /// Name.
    pub name: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Status.
    pub status: Option<ProjectStatus>,
    /// Start date (`Some(None)` clears it).
    pub start_date: Option<Option<NaiveDate>>,
    /// Due date (`Some(None)` clears it).
    pub due_date: Option<Option<NaiveDate>>,
}

impl ProjectsService {
    /// A project the caller may see, or `NOT_FOUND`.
    pub async fn project(&self, principal: &Principal, id: Uuid) -> Result<Project, AppError> {
        let mut conn = self.conn().await?;
        find_visible(&mut conn, principal.scope(), id).await
    }

    /// Projects the caller may see, newest first.
    pub async fn projects(
        &self,
        principal: &Principal,
        filter: &ProjectFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<Project>, AppError> {
        let mut conn = self.conn().await?;
        let scope = principal.scope();
        let build = || {
            let mut query = visible_projects(scope);
            if !filter.statuses.is_empty() {
                query = query.filter(projects::status.eq_any(filter.statuses.clone()));
            }
            if let Some(org) = filter.organization_id {
                query = query.filter(projects::organization_id.eq(org));
            }
            if let Some(search) = filter
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let escaped = search
                    .replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_");
                query = query.filter(projects::name.ilike(format!("%{escaped}%")));
            }
            if !filter.include_archived {
                query = query.filter(projects::archived_at.is_null());
            }
            query
        };
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        if let Some(after) = after {
            page = page.filter(projects::id.lt(after));
        }
        let rows: Vec<Project> = page
            .order(projects::id.desc())
            .limit(limit as i64 + 1)
            .select(Project::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// Creates a project for a client organization (admins).
    pub async fn create_project(
        &self,
        principal: &Principal,
        input: NewProjectInput,
    ) -> Result<Project, AppError> {
        principal.require("projects:project.manage")?;
        let name = required(&input.name, "input.name", 200)?;
        check_dates(input.start_date, input.due_date)?;
        let status = input.status.unwrap_or(ProjectStatus::Planned);
        let mut conn = self.conn().await?;
        let kind = auth::repo::organization_kind(&mut conn, input.organization_id).await?;
        if kind != Some(OrganizationKind::Client) {
            return Err(AppError::invalid_field(
                "input.organizationId",
                "Projects belong to a client organization",
            ));
        }
        Ok(diesel::insert_into(projects::table)
            .values((
                projects::id.eq(Uuid::now_v7()),
                projects::organization_id.eq(input.organization_id),
                projects::name.eq(name),
                projects::description.eq(input.description.unwrap_or_default()),
                projects::status.eq(status),
                projects::start_date.eq(input.start_date),
                projects::due_date.eq(input.due_date),
                projects::created_by.eq(principal.user_id),
            ))
            .returning(Project::as_returning())
            .get_result(&mut conn)
            .await?)
    }

    /// Changes a project (admins).
    pub async fn update_project(
        &self,
        principal: &Principal,
        id: Uuid,
        mut changes: ProjectChanges,
    ) -> Result<Project, AppError> {
        principal.require("projects:project.manage")?;
        if let Some(name) = &changes.name {
            changes.name = Some(required(name, "input.name", 200)?);
        }
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let current = find_visible(conn, principal.scope(), id).await?;
            let start = changes.start_date.unwrap_or(current.start_date);
            let due = changes.due_date.unwrap_or(current.due_date);
            check_dates(start, due)?;
            Ok(diesel::update(projects::table.find(id))
                .set((&changes, projects::updated_at.eq(Utc::now())))
                .returning(Project::as_returning())
                .get_result(conn)
                .await?)
        })
        .await
    }

    /// Archives a project: hidden from lists, kept with its history (admins).
    pub async fn archive_project(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<Project, AppError> {
        principal.require("projects:project.manage")?;
        let mut conn = self.conn().await?;
        find_visible(&mut conn, principal.scope(), id).await?;
        Ok(diesel::update(projects::table.find(id))
            .set((
                projects::archived_at.eq(Utc::now()),
                projects::updated_at.eq(Utc::now()),
            ))
            .returning(Project::as_returning())
            .get_result(&mut conn)
            .await?)
    }

    /// Adds an employee or freelancer to a project, or changes their project role (admins).
    pub async fn add_member(
        &self,
        principal: &Principal,
        project_id: Uuid,
        user_id: Uuid,
        project_role: &str,
    ) -> Result<ProjectMember, AppError> {
        principal.require("projects:project.manage")?;
        let project_role = required(project_role, "input.projectRole", 80)?;
        let mut conn = self.conn().await?;
        find_visible(&mut conn, principal.scope(), project_id).await?;
        let role = auth::repo::user_role(&mut conn, user_id)
            .await?
            .ok_or_else(|| AppError::invalid_field("input.userId", "No such user"))?;
        if !may_be_member(role) {
            return Err(AppError::invalid_field(
                "input.userId",
                "Only agency staff and freelancers can be project members",
            ));
        }
        Ok(diesel::insert_into(project_members::table)
            .values((
                project_members::project_id.eq(project_id),
                project_members::user_id.eq(user_id),
                project_members::project_role.eq(&project_role),
            ))
            .on_conflict((project_members::project_id, project_members::user_id))
            .do_update()
            .set(project_members::project_role.eq(&project_role))
            .returning(ProjectMember::as_returning())
            .get_result(&mut conn)
            .await?)
    }

    /// Removes a member (admins); their open tasks of the project lose
    /// their assignee in the same transaction (only members are assignees).
    pub async fn remove_member(
        &self,
        principal: &Principal,
        project_id: Uuid,
        user_id: Uuid,
    ) -> Result<bool, AppError> {
        principal.require("projects:project.manage")?;
        let mut conn = self.conn().await?;
        find_visible(&mut conn, principal.scope(), project_id).await?;
        let unassigned = conn
            .transaction::<_, AppError, _>(async |conn| {
                let removed = diesel::delete(
                    project_members::table
                        .filter(project_members::project_id.eq(project_id))
                        .filter(project_members::user_id.eq(user_id)),
                )
                .execute(conn)
                .await?;
                if removed == 0 {
                    return Err(AppError::not_found("project member"));
                }
                Ok(diesel::update(
                    tasks::table
                        .filter(tasks::project_id.eq(project_id))
                        .filter(tasks::assignee_id.eq(user_id))
                        .filter(tasks::status.ne(TaskStatus::Done)),
                )
                .set((
                    tasks::assignee_id.eq(None::<Uuid>),
                    tasks::version.eq(tasks::version + 1),
                    tasks::updated_at.eq(Utc::now()),
                ))
                .returning(Task::as_returning())
                .get_results::<Task>(conn)
                .await?)
            })
            .await?;
        self.publish(
            project_id,
            principal.user_id,
            &BoardChange::MemberRemoved { user_id },
        );
        for task in &unassigned {
            self.publish(
                project_id,
                principal.user_id,
                &BoardChange::TaskUpdated(task.into()),
            );
        }
        Ok(true)
    }

    /// Members of several projects, for the dataloader.
    pub async fn members_of(&self, project_ids: &[Uuid]) -> Result<Vec<ProjectMember>, AppError> {
        let mut conn = self.conn().await?;
        Ok(project_members::table
            .filter(project_members::project_id.eq_any(project_ids))
            .order(project_members::added_at.asc())
            .select(ProjectMember::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Milestones of several projects, for the dataloader.
    pub async fn milestones_of(&self, project_ids: &[Uuid]) -> Result<Vec<Milestone>, AppError> {
        let mut conn = self.conn().await?;
        Ok(milestones::table
            .filter(milestones::project_id.eq_any(project_ids))
            .order((
                milestones::due_date.asc().nulls_last(),
                milestones::id.asc(),
            ))
            .select(Milestone::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Milestones by id, for the dataloader.
    pub async fn milestones_by_id(&self, ids: &[Uuid]) -> Result<Vec<Milestone>, AppError> {
        let mut conn = self.conn().await?;
        Ok(milestones::table
            .filter(milestones::id.eq_any(ids))
            .select(Milestone::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Creates a milestone (admins).
    pub async fn create_milestone(
        &self,
        principal: &Principal,
        project_id: Uuid,
        name: &str,
        description: Option<String>,
        due_date: Option<NaiveDate>,
    ) -> Result<Milestone, AppError> {
        principal.require("projects:project.manage")?;
        let name = required(name, "input.name", 200)?;
        let mut conn = self.conn().await?;
        find_visible(&mut conn, principal.scope(), project_id).await?;
        Ok(diesel::insert_into(milestones::table)
            .values((
                milestones::id.eq(Uuid::now_v7()),
                milestones::project_id.eq(project_id),
                milestones::name.eq(name),
                milestones::description.eq(description.unwrap_or_default()),
                milestones::due_date.eq(due_date),
            ))
            .returning(Milestone::as_returning())
            .get_result(&mut conn)
            .await?)
    }

    /// Changes a milestone (admins).
    pub async fn update_milestone(
        &self,
        principal: &Principal,
        id: Uuid,
        name: Option<String>,
        description: Option<String>,
        due_date: Option<Option<NaiveDate>>,
        status: Option<MilestoneStatus>,
    ) -> Result<Milestone, AppError> {
        principal.require("projects:project.manage")?;
        let mut conn = self.conn().await?;
        let milestone: Milestone = milestones::table
            .find(id)
            .select(Milestone::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("milestone"))?;
        find_visible(&mut conn, principal.scope(), milestone.project_id).await?;
        let name = name
            .map(|name| required(&name, "input.name", 200))
            .transpose()?;
        Ok(diesel::update(milestones::table.find(id))
            .set((
                name.map(|name| milestones::name.eq(name)),
                description.map(|d| milestones::description.eq(d)),
                due_date.map(|d| milestones::due_date.eq(d)),
                status.map(|s| milestones::status.eq(s)),
                milestones::updated_at.eq(Utc::now()),
            ))
            .returning(Milestone::as_returning())
            .get_result(&mut conn)
            .await?)
    }
}

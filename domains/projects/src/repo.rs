//! Scoped reads of projects: the functions other crates may call (files,
//! support) and the visibility rule this crate's use cases share.

use diesel::dsl::exists;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::schema::{project_members, projects};
use kernel::{AccessScope, AppError};
use uuid::Uuid;

use crate::model::Project;

/// Projects a scope may read, as a boxed query.
pub(crate) fn visible_projects(scope: AccessScope) -> projects::BoxedQuery<'static, Pg> {
    let query = projects::table.into_boxed();
    match scope {
        // Freelancers reach projects through membership, not organizations.
        AccessScope::Assigned(user) => query.filter(exists(
            project_members::table
                .filter(project_members::project_id.eq(projects::id))
                .filter(project_members::user_id.eq(user)),
        )),
        _ => match auth::visibility::visible_organization_ids(scope) {
            Some(organizations) => query.filter(projects::organization_id.eq_any(organizations)),
            None => query,
        },
    }
}

/// The organization a project belongs to, whoever asks (staff flows that
/// name a project on behalf of its client); `None` when there is no such project.
pub async fn organization_of(
    conn: &mut AsyncPgConnection,
    project_id: Uuid,
) -> Result<Option<Uuid>, AppError> {
    Ok(projects::table
        .find(project_id)
        .select(projects::organization_id)
        .first(conn)
        .await
        .optional()?)
}

/// The project if the scope may see it, else `NOT_FOUND`.
pub async fn find_visible(
    conn: &mut AsyncPgConnection,
    scope: AccessScope,
    id: Uuid,
) -> Result<Project, AppError> {
    visible_projects(scope)
        .filter(projects::id.eq(id))
        .select(Project::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("project"))
}

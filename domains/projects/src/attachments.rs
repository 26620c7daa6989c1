//! Projects and tasks as owners of files: the files domain asks here who may
//! see and attach files of a project or a task. Reads only this domain's tables.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use files::{FileOwner, FileOwnerKind, OwnerAccess, OwnerRef};
use kernel::domain::BoxFuture;
use kernel::schema::tasks;
use kernel::{AccessScope, AppError, AppResult, Db, Principal};
use uuid::Uuid;

use crate::repo::find_visible;

/// What a principal who sees a project may do with its files: staff see and
/// add staff-only files; partners only read.
fn project_access(scope: AccessScope) -> OwnerAccess {
    OwnerAccess {
        may_attach: !matches!(scope, AccessScope::Partner(_)),
        staff: matches!(scope, AccessScope::Staff),
        within: None,
    }
}

/// Files of projects.
#[derive(Debug, Default)]
pub struct ProjectFiles;

impl FileOwner for ProjectFiles {
    fn kind(&self) -> FileOwnerKind {
        FileOwnerKind::Project
    }

    fn access<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        principal: &'a Principal,
        id: Uuid,
    ) -> BoxFuture<'a, AppResult<OwnerAccess>> {
        Box::pin(async move {
            find_visible(conn, principal.scope(), id).await?;
            Ok(project_access(principal.scope()))
        })
    }
}

/// Files of tasks: as the task's project allows.
#[derive(Debug, Default)]
pub struct TaskFiles;

impl FileOwner for TaskFiles {
    fn kind(&self) -> FileOwnerKind {
        FileOwnerKind::Task
    }

    fn access<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        principal: &'a Principal,
        id: Uuid,
    ) -> BoxFuture<'a, AppResult<OwnerAccess>> {
        Box::pin(async move {
            let project: Uuid = tasks::table
                .find(id)
                .select(tasks::project_id)
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| AppError::not_found("task"))?;
            find_visible(conn, principal.scope(), project)
                .await
                .map_err(|error| error.unless_server_failure(|| AppError::not_found("task")))?;
            Ok(OwnerAccess {
                within: Some(OwnerRef::project(project)),
                ..project_access(principal.scope())
            })
        })
    }
}

/// The tasks of a project as file owners (their files are listed with the
/// project's).
pub async fn task_owners(db: &Db, project_id: Uuid) -> AppResult<Vec<OwnerRef>> {
    let mut conn = db.get().await?;
    let ids: Vec<Uuid> = tasks::table
        .filter(tasks::project_id.eq(project_id))
        .select(tasks::id)
        .load(&mut conn)
        .await?;
    Ok(ids.into_iter().map(OwnerRef::task).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_see_staff_only_files_and_partners_only_read() {
        let org = Uuid::now_v7();
        assert!(project_access(AccessScope::Staff).staff);
        assert!(!project_access(AccessScope::ClientOrg(org)).staff);
        assert!(project_access(AccessScope::ClientOrg(org)).may_attach);
        assert!(project_access(AccessScope::Assigned(org)).may_attach);
        assert!(!project_access(AccessScope::Assigned(org)).staff);
        assert!(!project_access(AccessScope::Partner(org)).may_attach);
    }
}

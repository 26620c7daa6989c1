//! Reads of the auth tables: the only functions other crates may call to learn
//! about users and organizations (on their own connection, inside their own
//! transaction). Which organizations a principal may see is
//! [`crate::visibility`]'s rule.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::schema::{organizations, role_permissions, users};
use kernel::{AppError, Role};
use uuid::Uuid;

use crate::model::{Organization, OrganizationKind, User, UserStatus};

/// The user with this id.
pub async fn find_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<User>, AppError> {
    Ok(users::table
        .find(id)
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The organization with this id.
pub async fn find_organization(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<Organization>, AppError> {
    Ok(organizations::table
        .find(id)
        .select(Organization::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// Users by id, in no particular order (no scope: callers already hold the ids).
pub async fn users_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<User>, AppError> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .select(User::as_select())
        .load(conn)
        .await?)
}

/// Organizations by id, in no particular order.
pub async fn organizations_by_ids(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<Organization>, AppError> {
    Ok(organizations::table
        .filter(organizations::id.eq_any(ids))
        .select(Organization::as_select())
        .load(conn)
        .await?)
}

/// The role of a user, or `None` when there is no such user; e.g. "may this
/// user be assigned to a task".
pub async fn user_role(conn: &mut AsyncPgConnection, id: Uuid) -> Result<Option<Role>, AppError> {
    Ok(users::table
        .find(id)
        .select(users::role)
        .first(conn)
        .await
        .optional()?)
}

/// The kind of an organization, or `None` when there is no such organization;
/// e.g. "projects and tickets belong to a client organization".
pub async fn organization_kind(
    conn: &mut AsyncPgConnection,
    id: Uuid,
) -> Result<Option<OrganizationKind>, AppError> {
    Ok(organizations::table
        .find(id)
        .select(organizations::kind)
        .first(conn)
        .await
        .optional()?)
}

/// Ids and email addresses of the active users among `ids` (disabled and
/// invited users get no notifications).
pub async fn active_user_emails(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, String)>, AppError> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .filter(users::status.eq(UserStatus::Active))
        .select((users::id, users::email))
        .load(conn)
        .await?)
}

/// Those of `ids` whose role holds `permission` now (e.g. "may this
/// assignee still read internal notes?").
pub async fn permission_holders(
    conn: &mut AsyncPgConnection,
    ids: &[Uuid],
    permission: &str,
) -> Result<Vec<Uuid>, AppError> {
    Ok(users::table
        .filter(users::id.eq_any(ids))
        .filter(
            users::role.eq_any(
                role_permissions::table
                    .filter(role_permissions::permission.eq(permission))
                    .select(role_permissions::role),
            ),
        )
        .select(users::id)
        .load(conn)
        .await?)
}

/// Ids of the active admins and super-admins of the agency.
pub async fn active_admin_ids(conn: &mut AsyncPgConnection) -> Result<Vec<Uuid>, AppError> {
    Ok(users::table
        .filter(users::role.eq_any([Role::Admin, Role::SuperAdmin]))
        .filter(users::status.eq(UserStatus::Active))
        .select(users::id)
        .load(conn)
        .await?)
}

/// The user with this email, compared without case (sign-in, password reset).
pub(crate) async fn find_user_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<Option<User>, AppError> {
    Ok(users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(crate::service::normalize_email(email)),
        )
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

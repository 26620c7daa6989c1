//! Roles, disabling, the user list and operators' accounts.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::pagination::Page;
use kernel::schema::{organizations, users};
use kernel::validate::required_text;
use kernel::{AppError, Principal, RequestMeta, Role};
use serde_json::json;
use uuid::Uuid;

use super::{
    AuthService, CLI_FIELDS, SessionSelector, bad_password, escape_like, insert_user,
    lock_organization_named, lock_user, map_unique, revoke_sessions, validate_email,
};
use crate::audit::AuditEvent;
use crate::events::RoleChanged;
use crate::model::{NewUser, Organization, OrganizationKind, RevokeReason, User, UserStatus};
use crate::password::check_strength;
use crate::policy::{joinable_by_name, may_grant, may_manage, organization_kind_for};
use crate::repo::{self, find_organization};
use kernel::events::SessionChange;

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only this status.
    pub status: Option<UserStatus>,
    /// Only this organization.
    pub organization_id: Option<Uuid>,
    /// Email or name contains this text.
    pub search: Option<String>,
}

impl AuthService {
    /// Changes a user's role. Nobody changes their own role; only a
    /// super-admin creates or changes admins.
    pub async fn change_role(
        &self,
        principal: &Principal,
        user_id: Uuid,
        role: Role,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        principal.require("auth:user.manage")?;
        if user_id == principal.user_id {
            return Err(AppError::forbidden("You cannot change your own role"));
        }
        let mut conn = self.conn().await?;
        let updated = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let target = lock_user(conn, user_id).await?;
                if !may_manage(principal.role, target.role) || !may_grant(principal.role, role) {
                    return Err(AppError::forbidden(
                        "You may not give this role to this user",
                    ));
                }
                let organization = find_organization(conn, target.organization_id)
                    .await?
                    .ok_or_else(|| AppError::not_found("organization"))?;
                if organization.kind != organization_kind_for(role) {
                    return Err(AppError::invalid_field(
                        "role",
                        "This role does not fit the user's organization",
                    ));
                }
                let updated: User = diesel::update(users::table.find(user_id))
                    .set((
                        users::role.eq(role),
                        users::updated_at.eq(Utc::now()),
                    ))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                AuditEvent::new("user.role_changed", "user")
                .of(user_id)
                .by(principal.user_id)
                .diff(
                    json!({ "before": { "role": target.role.as_db() }, "after": { "role": updated.role.as_db() } }),
                )
                .record(conn, meta)
                .await?;
                if updated.role != target.role {
                    RoleChanged {
                        user_id,
                        from: target.role,
                        to: updated.role,
                        actor_id: Some(principal.user_id),
                    }
                    .enqueue(conn)
                    .await?;
                }
                Ok(updated)
            })
            .await?;
        self.publish_session_change(
            Some(principal.user_id),
            SessionChange::UserChanged { user_id },
        );
        Ok(updated)
    }

    /// Disables (revoking every session at once) or re-enables a user.
    pub async fn set_disabled(
        &self,
        principal: &Principal,
        user_id: Uuid,
        disabled: bool,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        principal.require("auth:user.manage")?;
        if user_id == principal.user_id {
            return Err(AppError::forbidden("You cannot disable or enable yourself"));
        }
        let mut conn = self.conn().await?;
        let updated = conn.transaction::<_, AppError, _>(async move |conn| {
                let target = lock_user(conn, user_id).await?;
                if !may_manage(principal.role, target.role) {
                    return Err(AppError::forbidden("You may not manage this user"));
                }
                let status = if disabled {
                    UserStatus::Disabled
                } else if target.password_hash.is_some() {
                    UserStatus::Active
                } else {
                    UserStatus::Invited
                };
                let updated: User = diesel::update(users::table.find(user_id))
                    .set((users::status.eq(status), users::updated_at.eq(Utc::now())))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                let revoked = if disabled {
                    revoke_sessions(conn, SessionSelector::AllOf(user_id), RevokeReason::UserDisabled).await?
                } else {
                    0
                };
                AuditEvent::new(if disabled { "user.disabled" } else { "user.enabled" }, "user").of(user_id).by(principal.user_id).diff(json!({ "before": { "status": target.status }, "after": { "status": status }, "sessionsRevoked": revoked })).record(conn, meta)
                .await?;
                Ok(updated)
        })
        .await?;
        if disabled {
            self.publish_session_change(
                Some(principal.user_id),
                SessionChange::Revoked {
                    user_id,
                    session_id: None,
                },
            );
        }
        Ok(updated)
    }

    /// Users matching the filter, newest first (staff with `auth:user.read`).
    pub async fn list_users(
        &self,
        principal: &Principal,
        filter: &UserFilter,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<User>, AppError> {
        principal.require("auth:user.read")?;
        let mut conn = self.conn().await?;
        let build = || {
            let mut query = users::table.into_boxed();
            if let Some(role) = filter.role {
                query = query.filter(users::role.eq(role));
            }
            if let Some(status) = filter.status {
                query = query.filter(users::status.eq(status));
            }
            if let Some(org) = filter.organization_id {
                query = query.filter(users::organization_id.eq(org));
            }
            if let Some(search) = filter
                .search
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
            {
                let pattern = format!("%{}%", escape_like(search));
                query = query.filter(
                    users::email
                        .ilike(pattern.clone())
                        .or(users::name.ilike(pattern)),
                );
            }
            query
        };
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        if let Some(after) = after {
            page = page.filter(users::id.lt(after));
        }
        let rows: Vec<User> = page
            .order(users::id.desc())
            .limit(limit as i64 + 1)
            .select(User::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// One user: yourself, or anyone for staff with `auth:user.read`; otherwise `NOT_FOUND`.
    pub async fn get_user(&self, principal: &Principal, user_id: Uuid) -> Result<User, AppError> {
        if user_id != principal.user_id && !principal.has("auth:user.read") {
            return Err(AppError::not_found("user"));
        }
        let mut conn = self.conn().await?;
        repo::find_user(&mut conn, user_id)
            .await?
            .ok_or_else(|| AppError::not_found("user"))
    }

    /// Users by id, for the dataloader (no scope: callers already hold the ids).
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>, AppError> {
        let mut conn = self.conn().await?;
        repo::users_by_ids(&mut conn, ids).await
    }

    /// Creates an active user for operators and scripts; `fluxorae
    /// create-user` calls it. Where the user goes is `organization`: an
    /// existing organization by id, a name (a new organization, or an
    /// existing one only while it has no users and no referring partner), or
    /// the agency for staff and freelancers.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
        organization: OrganizationChoice<'_>,
        meta: &RequestMeta,
    ) -> Result<(User, Organization), AppError> {
        let email = validate_email(email, "email")?;
        check_strength(password, &[&email]).map_err(|m| bad_password("password", m))?;
        let kind = organization_kind_for(role);
        let target = match organization {
            OrganizationChoice::Agency if kind != OrganizationKind::Agency => {
                return Err(AppError::invalid_field(
                    "org",
                    "Clients and partners need --org or --org-id",
                ));
            }
            OrganizationChoice::Agency => Target::Agency,
            OrganizationChoice::Id(id) => Target::Id(id),
            OrganizationChoice::Name(name) => Target::Name(
                required_text(name, "org", 160).map_err(|e| AppError::invalid_fields(vec![e]))?,
            ),
        };
        let hash = self.hasher.hash(password).await?;
        let name = email.split('@').next().unwrap_or_default().to_string();
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let (organization, field) = match target {
                Target::Agency => (agency_organization(conn, meta).await?, "org"),
                Target::Id(id) => {
                    let organization = find_organization(conn, id).await?.ok_or_else(|| {
                        AppError::invalid_field("org-id", "No organization has this id")
                    })?;
                    (organization, "org-id")
                }
                Target::Name(name) => (organization_by_name(conn, &name, kind, meta).await?, "org"),
            };
            if organization.kind != kind {
                return Err(AppError::invalid_field(
                    field,
                    format!(
                        "{} is an organization of kind {}, not {}",
                        organization.name,
                        organization.kind.as_db(),
                        kind.as_db()
                    ),
                ));
            }
            let user = insert_user(
                conn,
                NewUser {
                    id: Uuid::now_v7(),
                    organization_id: organization.id,
                    email: &email,
                    name: &name,
                    phone: None,
                    role,
                    status: UserStatus::Active,
                    password_hash: Some(&hash),
                },
                CLI_FIELDS,
            )
            .await?;
            AuditEvent::new("user.created", "user")
                .of(user.id)
                .diff(json!({
                    "after": { "email": user.email, "role": user.role.as_db(), "organizationId": organization.id },
                    "via": "cli",
                }))
                .record(conn, meta)
                .await?;
            Ok((user, organization))
        })
        .await
    }
}

/// Where `create_user` puts the new user (`fluxorae create-user`'s `--org`,
/// `--org-id`, or neither).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrganizationChoice<'a> {
    /// The agency organization (staff and freelancers), created on first use.
    Agency,
    /// An existing organization, by id: the operator checked it is the right one.
    Id(Uuid),
    /// A name: a new organization of that name, or the existing one only while
    /// it has no users and no referring partner ([`joinable_by_name`]).
    Name(&'a str),
}

enum Target {
    Agency,
    Id(Uuid),
    Name(String),
}

const AGENCY_NAME: &str = "Fluxorae Agency";

/// The agency organization (the oldest, should there be several), created
/// under its default name on first use. Only operators create agency
/// organizations, so nobody outside can have placed one here.
async fn agency_organization(
    conn: &mut AsyncPgConnection,
    meta: &RequestMeta,
) -> Result<Organization, AppError> {
    let existing = organizations::table
        .filter(organizations::kind.eq(OrganizationKind::Agency))
        .order((organizations::created_at.asc(), organizations::id.asc()))
        .select(Organization::as_select())
        .first(conn)
        .await
        .optional()?;
    match existing {
        Some(agency) => Ok(agency),
        None => new_organization(conn, AGENCY_NAME, OrganizationKind::Agency, meta).await,
    }
}

/// The organization named `name` (compared without case): a new one when
/// none has the name, the existing one only when [`joinable_by_name`];
/// otherwise a `CONFLICT` on `org` that says why and names the id to pass
/// with `--org-id` once the operator has checked it.
async fn organization_by_name(
    conn: &mut AsyncPgConnection,
    name: &str,
    kind: OrganizationKind,
    meta: &RequestMeta,
) -> Result<Organization, AppError> {
    let Some(organization) = lock_organization_named(conn, name).await? else {
        return new_organization(conn, name, kind, meta).await;
    };
    let users: i64 = users::table
        .filter(users::organization_id.eq(organization.id))
        .count()
        .get_result(conn)
        .await?;
    if joinable_by_name(users, organization.referred_by_partner_id.is_some()) {
        return Ok(organization);
    }
    let mut reasons = Vec::new();
    if users > 0 {
        reasons.push(format!(
            "has {users} user{}",
            if users == 1 { "" } else { "s" }
        ));
    }
    if let Some(partner) = organization.referred_by_partner_id {
        let partner = find_organization(conn, partner).await?.map_or_else(
            || partner.to_string(),
            |partner| format!("{:?}", partner.name),
        );
        reasons.push(format!(
            "was referred by the partner organization {partner}"
        ));
    }
    Err(AppError::invalid_field(
        "org",
        format!(
            "An organization named {:?} already exists and {}; create-user joins an existing \
             organization by name only while it has no users and no referrer. Check that it is \
             the right organization, then pass --org-id {}",
            organization.name,
            reasons.join(" and "),
            organization.id
        ),
    )
    .with_code(kernel::ErrorCode::Conflict))
}

async fn new_organization(
    conn: &mut AsyncPgConnection,
    name: &str,
    kind: OrganizationKind,
    meta: &RequestMeta,
) -> Result<Organization, AppError> {
    let organization: Organization = diesel::insert_into(organizations::table)
        .values((
            organizations::id.eq(Uuid::now_v7()),
            organizations::name.eq(name),
            organizations::kind.eq(kind),
        ))
        .returning(Organization::as_returning())
        .get_result(conn)
        .await
        .map_err(|error| map_unique(error, CLI_FIELDS))?;
    AuditEvent::new("organization.created", "organization")
        .of(organization.id)
        .diff(json!({ "after": { "name": organization.name, "kind": organization.kind }, "via": "cli" }))
        .record(conn, meta)
        .await?;
    Ok(organization)
}

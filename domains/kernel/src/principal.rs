//! Who is calling, what they may do, and which rows they may see.

use std::collections::BTreeSet;

use async_graphql::{Context, Enum, Guard};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::AppError;

/// The six roles of the business.
#[derive(
    Enum,
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Role {
    /// Runs the platform; the only role that may create or change admins.
    SuperAdmin,
    /// Runs the agency: users, clients, billing.
    Admin,
    /// Agency staff who run projects and support: sees every organization's
    /// projects and tickets, internal notes included.
    Employee,

    /// A user of a client organization.
    Client,
    /// An outside contributor, seeing only the projects they are a member of.
    Freelancer,
    /// A partner organization's user, seeing the clients they referred, read-only.
    Partner,
}

impl Role {
    /// Every role, in order of decreasing privilege.
    pub const ALL: [Role; 6] = [
        Role::SuperAdmin,
        Role::Admin,
        Role::Employee,
        Role::Client,
        Role::Freelancer,
        Role::Partner,
    ];

    /// The database and token form, e.g. `super_admin`.
    pub fn as_db(self) -> &'static str {
        match self {
            Role::SuperAdmin => "super_admin",
            Role::Admin => "admin",
            Role::Employee => "employee",
            Role::Client => "client",
            Role::Freelancer => "freelancer",
            Role::Partner => "partner",
        }
    }

    /// Parses the database form.
    pub fn from_db(value: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_db() == value)
    }

    /// Parses the command-line form, e.g. `super-admin`.
    pub fn from_cli(value: &str) -> Option<Role> {
        Role::from_db(&value.replace('-', "_"))
    }

    /// Whether the role belongs to the agency's own staff.
    pub fn is_staff(self) -> bool {
        matches!(self, Role::SuperAdmin | Role::Admin | Role::Employee)
    }
}

// `users.role` and `role_permissions.role` hold the database form.
crate::db_text!(Role);

/// A permission a domain declares, with the roles that get it by default.
///
/// Roles map to permissions as data (table `role_permissions`, seeded by
/// migration); this declaration feeds documentation and the RBAC tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permission {
    /// Name such as `auth:user.invite`.
    pub name: &'static str,
    /// What it allows.
    pub description: &'static str,
}

/// An authenticated caller, resolved once per request or websocket connection.
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user.
    pub user_id: Uuid,
    /// The user's role.
    pub role: Role,
    /// The user's organization.
    pub org_id: Uuid,
    /// Permissions granted through the role.
    pub permissions: BTreeSet<String>,
    /// The session the access token belongs to.
    pub session_id: Uuid,
    /// When the access token expires; subscriptions end then.
    pub expires_at: DateTime<Utc>,
}

impl Principal {
    /// Whether the caller holds `permission`.
    pub fn has(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// `Ok` when the caller holds `permission`, `FORBIDDEN` otherwise.
    pub fn require(&self, permission: &str) -> Result<(), AppError> {
        if self.has(permission) {
            Ok(())
        } else {
            Err(AppError::forbidden("You do not have permission to do this"))
        }
    }

    /// The rows this caller may read.
    pub fn scope(&self) -> AccessScope {
        match self.role {
            Role::SuperAdmin | Role::Admin | Role::Employee => AccessScope::Staff,
            Role::Client => AccessScope::ClientOrg(self.org_id),
            Role::Freelancer => AccessScope::Assigned(self.user_id),
            Role::Partner => AccessScope::Partner(self.org_id),
        }
    }
}

/// Which rows a caller may read. Only a [`Principal`] produces one, so every
/// repository read that takes a scope is scoped by construction. A row outside
/// the scope is answered as `NOT_FOUND`, never `FORBIDDEN`, so ids cannot be probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccessScope {
    /// Agency staff: every row.
    Staff,
    /// A client user: rows of this client organization.
    ClientOrg(Uuid),
    /// A freelancer: rows of projects this user is a member of.
    Assigned(Uuid),
    /// A partner user: rows of client organizations referred by this partner organization.
    Partner(Uuid),
}

/// The caller of a request: anonymous or authenticated. An invalid token never
/// becomes anonymous; the transport rejects it with `UNAUTHENTICATED`.
#[derive(Debug, Clone, Default)]
pub enum Viewer {
    /// No credentials were presented.
    #[default]
    Anonymous,
    /// Valid credentials.
    User(Principal),
}

impl Viewer {
    /// The principal, when authenticated.
    pub fn principal(&self) -> Option<&Principal> {
        match self {
            Viewer::Anonymous => None,
            Viewer::User(principal) => Some(principal),
        }
    }
}

/// Turns an access token into a principal; implemented by the auth domain.
#[async_trait::async_trait]
pub trait Authenticator: Send + Sync + 'static {
    /// Verifies the token and its session; `UNAUTHENTICATED` when either is
    /// invalid, and only then: when the session cannot be checked now (the
    /// database is down) it is `SERVICE_UNAVAILABLE`, which transports answer
    /// with 503 so that clients keep their session and retry.
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AppError>;
}

/// The authenticated caller of this request, or `UNAUTHENTICATED`.
pub fn caller<'a>(ctx: &Context<'a>) -> Result<&'a Principal, AppError> {
    ctx.data_opt::<Viewer>()
        .and_then(Viewer::principal)
        .ok_or_else(|| AppError::unauthenticated("Sign in to do this"))
}

/// Field guard: the caller is signed in.
pub struct SignedIn;

impl Guard for SignedIn {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        caller(ctx)?;
        Ok(())
    }
}

/// Field guard: the caller is signed in and holds the permission.
///
/// A field guard replaces any object guard in async-graphql, so this guard
/// implies authentication on its own.
pub struct RequirePermission(pub &'static str);

impl Guard for RequirePermission {
    async fn check(&self, ctx: &Context<'_>) -> async_graphql::Result<()> {
        caller(ctx)?.require(self.0)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal_with(role: Role) -> Principal {
        Principal {
            user_id: Uuid::from_u128(1),
            role,
            org_id: Uuid::from_u128(2),
            permissions: BTreeSet::from(["auth:user.read".to_string()]),
            session_id: Uuid::from_u128(3),
            expires_at: Utc::now(),
        }
    }

    #[test]
    fn roles_round_trip_through_their_database_and_cli_forms() {
        for role in Role::ALL {
            assert_eq!(Role::from_db(role.as_db()), Some(role));
            assert_eq!(Role::from_cli(&role.as_db().replace('_', "-")), Some(role));
        }
        assert_eq!(Role::from_cli("root"), None);
    }

    #[test]
    fn each_role_gets_the_scope_of_its_rows() {
        assert_eq!(principal_with(Role::Employee).scope(), AccessScope::Staff);
        assert_eq!(
            principal_with(Role::Client).scope(),
            AccessScope::ClientOrg(Uuid::from_u128(2))
        );
        assert_eq!(
            principal_with(Role::Freelancer).scope(),
            AccessScope::Assigned(Uuid::from_u128(1))
        );
        assert_eq!(
            principal_with(Role::Partner).scope(),
            AccessScope::Partner(Uuid::from_u128(2))
        );
    }

    #[test]
    fn missing_permission_is_forbidden() {
        let principal = principal_with(Role::Client);
        assert!(principal.require("auth:user.read").is_ok());
        let error = principal
            .require("auth:user.disable")
            .expect_err("forbidden");
        assert_eq!(error.code(), crate::error::ErrorCode::Forbidden);
    }
}

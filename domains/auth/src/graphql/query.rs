//! Queries of the auth domain.

use std::sync::Arc;

use async_graphql::connection::{Connection, EmptyFields};
use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use kernel::ids::parse_id;
use kernel::pagination::{decode_cursor, page_size};
use kernel::{AppError, Deps, RequirePermission, Role, SignedIn, caller};
use uuid::Uuid;

use super::types::{AuditChainCheck, AuditEntryNode, OrganizationNode, TotalCount, UserNode};
use crate::audit::AuditFilter;
use crate::model::{OrganizationKind, UserStatus};
use crate::service::{AuthService, UserFilter};

/// Auth queries.
#[derive(Default)]
pub struct AuthQuery;

/// Filters of `users`.
#[derive(InputObject, Default)]
pub struct UserFilterInput {
    /// Only this role.
    pub role: Option<Role>,
    /// Only this status.
    pub status: Option<UserStatus>,
    /// Only users of this organization.
    pub organization_id: Option<ID>,
    /// Email or name contains this text (case-insensitive).
    pub search: Option<String>,
}

/// Filters of `auditLog`.
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Only entries by this user.
    pub actor_id: Option<ID>,
    /// Only this action, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// Only this entity type, e.g. `user`.
    pub entity_type: Option<String>,
    /// Only this entity id.
    pub entity_id: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
}

pub(crate) fn service<'a>(ctx: &Context<'a>) -> &'a Arc<AuthService> {
    ctx.data_unchecked::<Arc<AuthService>>()
}

fn max_page(ctx: &Context<'_>) -> usize {
    ctx.data_opt::<Deps>()
        .map_or(100, |deps| deps.max_page_size)
}

fn uuid_cursor(after: Option<String>) -> Result<Option<Uuid>, AppError> {
    after
        .map(|cursor| {
            decode_cursor(&cursor).and_then(|key| {
                Uuid::parse_str(&key)
                    .map_err(|_| AppError::invalid_field("after", "Not a valid cursor"))
            })
        })
        .transpose()
}

/// A page of users.
pub type UserConnection = Connection<String, UserNode, TotalCount, EmptyFields>;
/// A page of organizations.
pub type OrganizationConnection = Connection<String, OrganizationNode, TotalCount, EmptyFields>;
/// A page of audit entries.
pub type AuditEntryConnection = Connection<String, AuditEntryNode, TotalCount, EmptyFields>;

#[Object]
impl AuthQuery {
    /// The signed-in user, with `permissions` and `sessions`.
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<UserNode> {
        let viewer = caller(ctx)?;
        Ok(UserNode(
            service(ctx).get_user(viewer, viewer.user_id).await?,
        ))
    }

    /// One user: yourself, or anyone for staff.
    #[graphql(guard = "SignedIn")]
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<UserNode> {
        let id = parse_id(&id, "id")?;
        Ok(UserNode(service(ctx).get_user(caller(ctx)?, id).await?))
    }

    /// Users, newest first (staff).
    #[graphql(guard = "RequirePermission(\"auth:user.read\")")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilterInput>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let limit = page_size(first, max_page(ctx))?;
        let filter = filter.unwrap_or_default();
        let filter = UserFilter {
            role: filter.role,
            status: filter.status,
            organization_id: filter
                .organization_id
                .as_ref()
                .map(|id| parse_id(id, "filter.organizationId"))
                .transpose()?,
            search: filter.search,
        };
        let after_id = uuid_cursor(after.clone())?;
        let page = service(ctx)
            .list_users(caller(ctx)?, &filter, after_id, limit)
            .await?;
        Ok(page.into_connection(after.is_some(), |row| row.id.to_string(), UserNode))
    }

    /// One organization you may see.
    #[graphql(guard = "SignedIn")]
    async fn organization(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<OrganizationNode> {
        let id = parse_id(&id, "id")?;
        Ok(OrganizationNode(
            service(ctx).get_organization(caller(ctx)?, id).await?,
        ))
    }

    /// Organizations you may see: staff all; others their own (partners also the clients they referred).
    #[graphql(guard = "SignedIn")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        kind: Option<OrganizationKind>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<OrganizationConnection> {
        let limit = page_size(first, max_page(ctx))?;
        let after_id = uuid_cursor(after.clone())?;
        let page = service(ctx)
            .list_organizations(caller(ctx)?, kind, after_id, limit)
            .await?;
        Ok(page.into_connection(after.is_some(), |row| row.id.to_string(), OrganizationNode))
    }

    /// The audit log, newest first (admins).
    #[graphql(guard = "RequirePermission(\"auth:audit.read\")")]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditLogFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditEntryConnection> {
        let limit = page_size(first, max_page(ctx))?;
        let filter = filter.unwrap_or_default();
        let filter = AuditFilter {
            actor_id: filter
                .actor_id
                .as_ref()
                .map(|id| parse_id(id, "filter.actorId"))
                .transpose()?,
            action: filter.action,
            entity_type: filter.entity_type,
            entity_id: filter.entity_id,
            from: filter.from,
            to: filter.to,
        };
        let before = after
            .as_deref()
            .map(|cursor| {
                decode_cursor(cursor).and_then(|key| {
                    key.parse::<i64>()
                        .map_err(|_| AppError::invalid_field("after", "Not a valid cursor"))
                })
            })
            .transpose()?;
        let page = service(ctx)
            .audit_log(caller(ctx)?, &filter, before, limit)
            .await?;
        Ok(page.into_connection(after.is_some(), |row| row.seq.to_string(), AuditEntryNode))
    }

    /// Re-computes the audit log's hash chain and reports the first entry that does not match (admins).
    #[graphql(guard = "RequirePermission(\"auth:audit.read\")")]
    async fn verify_audit_log(&self, ctx: &Context<'_>) -> async_graphql::Result<AuditChainCheck> {
        let check = service(ctx).verify_audit_chain(caller(ctx)?).await?;
        Ok(AuditChainCheck {
            valid: check.first_broken_seq.is_none(),
            checked_entries: check.checked,
            first_broken_seq: check.first_broken_seq,
        })
    }
}

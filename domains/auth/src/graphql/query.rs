//! Queries of the auth domain.

use std::sync::Arc;

use async_graphql::{Context, ID, InputObject, Object};
use chrono::{DateTime, Utc};
use kernel::ids::parse_id;
use kernel::pagination::{PageConnection, PageRequest, max_page_size};
use kernel::{RequirePermission, Role, SignedIn, caller};
use uuid::Uuid;

use super::types::{
    AuditChainCheck, AuditEntryNode, OrganizationNode, OrganizationReferralNode, UserNode,
};
use crate::audit::AuditFilter;
use crate::model::{OrganizationKind, ReferralStatus, UserStatus};
use crate::service::{AuthService, UserFilter};

/// Auth queries.
#[derive(Default)]
pub struct AuthQuery;

/// Which users `users` lists; every given filter must match (omitted ones
/// match everyone).
#[derive(InputObject, Default)]
pub struct UserFilterInput {
    /// Only users holding this role.
    pub role: Option<Role>,
    /// Only users in this status, e.g. `INVITED` for invitations not yet accepted.
    pub status: Option<UserStatus>,
    /// Only users of this organization.
    pub organization_id: Option<ID>,
    /// Email or name contains this text (case-insensitive).
    pub search: Option<String>,
}

/// Which entries `auditLog` lists; every given filter must match (omitted
/// ones match every entry).
#[derive(InputObject, Default)]
pub struct AuditLogFilter {
    /// Only entries by this user (a `User.id`).
    pub actor_id: Option<ID>,
    /// Only this action, e.g. `auth.login_failed`.
    pub action: Option<String>,
    /// Only this entity type, e.g. `user`.
    pub entity_type: Option<String>,
    /// Only entries about the entity with this id (as in `AuditEntry.entityId`).
    pub entity_id: Option<String>,
    /// Only entries that happened at or after this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Only entries that happened before this time (exclusive).
    pub to: Option<DateTime<Utc>>,
}

pub(crate) fn service<'a>(ctx: &Context<'a>) -> &'a Arc<AuthService> {
    ctx.data_unchecked::<Arc<AuthService>>()
}

/// A page of users.
pub type UserConnection = PageConnection<Uuid, UserNode>;
/// A page of organizations.
pub type OrganizationConnection = PageConnection<Uuid, OrganizationNode>;
/// A page of referrals.
pub type OrganizationReferralConnection = PageConnection<Uuid, OrganizationReferralNode>;
/// A page of audit entries.
pub type AuditEntryConnection = PageConnection<i64, AuditEntryNode>;

#[Object]
impl AuthQuery {
    /// The signed-in user, with `permissions` and `sessions`; any signed-in
    /// role (`UNAUTHENTICATED` without a token).
    #[graphql(guard = "SignedIn")]
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<UserNode> {
        let viewer = caller(ctx)?;
        Ok(UserNode(
            service(ctx).get_user(viewer, viewer.user_id).await?,
        ))
    }

    /// One user: yourself, or anyone for staff; another user's id is
    /// `NOT_FOUND` for everyone else.
    #[graphql(guard = "SignedIn")]
    async fn user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user's `User.id`.")] id: ID,
    ) -> async_graphql::Result<UserNode> {
        let id = parse_id(&id, "id")?;
        Ok(UserNode(service(ctx).get_user(caller(ctx)?, id).await?))
    }

    /// Users of every organization, newest first; staff only (super-admins,
    /// admins, employees: `auth:user.read`).
    #[graphql(
        guard = "RequirePermission(\"auth:user.read\")",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which users to list; all when omitted.")] filter: Option<UserFilterInput>,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
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
        let users = service(ctx)
            .list_users(caller(ctx)?, &filter, page.after, page.limit)
            .await?;
        Ok(page.connection(users, |row| row.id, UserNode))
    }

    /// One organization you may see (see `organizations`); any other id is `NOT_FOUND`.
    #[graphql(guard = "SignedIn")]
    async fn organization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The organization's `Organization.id`.")] id: ID,
    ) -> async_graphql::Result<OrganizationNode> {
        let id = parse_id(&id, "id")?;
        Ok(OrganizationNode(
            service(ctx).get_organization(caller(ctx)?, id).await?,
        ))
    }

    /// Organizations you may see, newest first: staff all; others their own
    /// (partners also the clients they referred).
    #[graphql(
        guard = "SignedIn",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only organizations of this kind; every kind when omitted.")] kind: Option<
            OrganizationKind,
        >,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<OrganizationConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let organizations = service(ctx)
            .list_organizations(caller(ctx)?, kind, page.after, page.limit)
            .await?;
        Ok(page.connection(organizations, |row| row.id, OrganizationNode))
    }

    /// Partners' referrals of client organizations, newest first: admins see
    /// every one (the pending ones are theirs to decide), partners their own
    /// organization's.
    #[graphql(
        guard = "SignedIn",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn organization_referrals(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Only referrals in this state, e.g. `PENDING` for an admin's queue; all when omitted."
        )]
        status: Option<ReferralStatus>,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<OrganizationReferralConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
        let referrals = service(ctx)
            .list_referrals(caller(ctx)?, status, page.after, page.limit)
            .await?;
        Ok(page.connection(referrals, |row| row.id, OrganizationReferralNode))
    }

    /// The audit log, newest first; admins and super-admins only (`auth:audit.read`).
    #[graphql(
        guard = "RequirePermission(\"auth:audit.read\")",
        complexity = "kernel::cost::page(first, child_complexity)"
    )]
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which entries to list; the whole log when omitted.")] filter: Option<
            AuditLogFilter,
        >,
        #[graphql(
            desc = "Rows per page, 1 to the largest page the server allows (`GRAPHQL_MAX_PAGE_SIZE`, 100 by default); 20 when omitted."
        )]
        first: Option<i32>,
        #[graphql(
            desc = "`pageInfo.endCursor` of the previous page; omitted for the first page. A cursor of another list is `BAD_USER_INPUT`."
        )]
        after: Option<String>,
    ) -> async_graphql::Result<AuditEntryConnection> {
        let page = PageRequest::new(first, after.as_deref(), max_page_size(ctx))?;
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
        let entries = service(ctx)
            .audit_log(caller(ctx)?, &filter, page.after, page.limit)
            .await?;
        Ok(page.connection(entries, |row| row.seq, AuditEntryNode))
    }

    /// Re-computes the whole audit log's hash chain and reports the first
    /// entry that does not match; admins and super-admins only
    /// (`auth:audit.read`). Reads every entry, so it is slow on a long log.
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

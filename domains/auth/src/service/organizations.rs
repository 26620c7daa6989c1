//! Organizations: creation and the scoped reads (referrals are in `referrals`).

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::pagination::Page;
use kernel::schema::organizations;
use kernel::validate::required_text;
use kernel::{AppError, Principal, RequestMeta};
use serde_json::json;
use uuid::Uuid;

use super::{AuthService, INPUT_FIELDS, map_unique};
use crate::audit::AuditEvent;
use crate::model::{Organization, OrganizationKind};
use crate::repo::{self, find_organization};
use crate::visibility::visible_organization_ids;

impl AuthService {
    /// Organizations by id, for the dataloader.
    pub async fn organizations_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Organization>, AppError> {
        let mut conn = self.conn().await?;
        repo::organizations_by_ids(&mut conn, ids).await
    }

    /// Creates a client or partner organization (admins).
    pub async fn create_organization(
        &self,
        principal: &Principal,
        name: &str,
        kind: OrganizationKind,
        referred_by: Option<Uuid>,
        meta: &RequestMeta,
    ) -> Result<Organization, AppError> {
        principal.require("auth:organization.manage")?;
        let name = required_text(name, "input.name", 160)
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        if kind == OrganizationKind::Agency {
            return Err(AppError::invalid_field(
                "input.kind",
                "There is only one agency organization",
            ));
        }
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
                if let Some(partner) = referred_by {
                    let partner_org = find_organization(conn, partner).await?;
                    if kind != OrganizationKind::Client || partner_org.as_ref().map(|o| o.kind) != Some(OrganizationKind::Partner) {
                        return Err(AppError::invalid_field("input.referredByPartnerId", "Only client organizations are referred, and only by a partner organization"));
                    }
                }
                let organization: Organization = diesel::insert_into(organizations::table)
                    .values((
                        organizations::id.eq(Uuid::now_v7()),
                        organizations::name.eq(&name),
                        organizations::kind.eq(kind),
                        organizations::referred_by_partner_id.eq(referred_by),
                    ))
                    .returning(Organization::as_returning())
                    .get_result(conn)
                    .await
                    .map_err(|error| map_unique(error, INPUT_FIELDS))?;
                AuditEvent::new("organization.created", "organization").of(organization.id).by(principal.user_id).diff(json!({ "after": { "name": organization.name, "kind": organization.kind, "referredByPartnerId": organization.referred_by_partner_id } })).record(conn, meta)
                .await?;
                Ok(organization)
        })
        .await
    }

    /// Organizations the caller may see, by name.
    pub async fn list_organizations(
        &self,
        principal: &Principal,
        kind: Option<OrganizationKind>,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<Organization>, AppError> {
        let mut conn = self.conn().await?;
        let build = || {
            let mut query = readable_organizations(principal);
            if let Some(kind) = kind {
                query = query.filter(organizations::kind.eq(kind));
            }
            query
        };
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        if let Some(after) = after {
            page = page.filter(organizations::id.gt(after));
        }
        let rows: Vec<Organization> = page
            .order(organizations::id.asc())
            .limit(limit as i64 + 1)
            .select(Organization::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// One organization within the caller's scope, or `NOT_FOUND`.
    pub async fn get_organization(
        &self,
        principal: &Principal,
        id: Uuid,
    ) -> Result<Organization, AppError> {
        let mut conn = self.conn().await?;
        readable_organizations(principal)
            .filter(organizations::id.eq(id))
            .select(Organization::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("organization"))
    }
}

/// The organizations `principal` may read: its own, and those the one
/// visibility rule gives its scope (every one for staff, a partner's referred
/// clients).
fn readable_organizations(principal: &Principal) -> organizations::BoxedQuery<'static, Pg> {
    let query = organizations::table.into_boxed();
    match visible_organization_ids(principal.scope()) {
        None => query,
        Some(visible) => query.filter(
            organizations::id
                .eq(principal.org_id)
                .or(organizations::id.eq_any(visible)),
        ),
    }
}

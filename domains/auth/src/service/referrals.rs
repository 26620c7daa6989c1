//! Partners' referrals of client organizations, and the admins' decisions on
//! those that name an organization that already exists.
//!
//! A new name is created at once as a client organization referred by the
//! partner (an approved referral). An existing name only records a pending
//! referral: the partner sees nothing of that organization until an admin
//! approves, so a partner cannot claim a company's data by typing its name.

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::error::violated_constraint;
use kernel::pagination::Page;
use kernel::schema::{organization_referrals, organizations};
use kernel::validate::required_text;
use kernel::{AppError, ErrorCode, Principal, RequestMeta};
use serde_json::json;
use uuid::Uuid;

use super::{AuthService, INPUT_FIELDS, lock_organization_named, map_unique};
use crate::audit::AuditEvent;
use crate::model::{Organization, OrganizationKind, OrganizationReferral, ReferralStatus};
use crate::repo::find_organization;

/// Permission to approve and decline referrals (admins).
pub const REVIEW_REFERRALS: &str = "auth:referral.review";
/// Permission to refer client organizations (partners).
pub const REFER_ORGANIZATIONS: &str = "auth:organization.refer";

/// A decision on a pending referral.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Approve,
    Decline,
}

impl AuthService {
    /// A partner refers a client organization by name: a new name becomes a
    /// client organization referred by the partner's own organization at
    /// once; an existing client organization gets a pending referral for an
    /// admin to approve or decline.
    pub async fn refer_client_organization(
        &self,
        principal: &Principal,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<OrganizationReferral, AppError> {
        principal.require(REFER_ORGANIZATIONS)?;
        let name = required_text(name, "input.name", 160)
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        let partner_id = principal.org_id;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let Some(existing) = lock_organization_named(conn, &name).await? else {
                let organization: Organization = diesel::insert_into(organizations::table)
                    .values((
                        organizations::id.eq(Uuid::now_v7()),
                        organizations::name.eq(&name),
                        organizations::kind.eq(OrganizationKind::Client),
                        organizations::referred_by_partner_id.eq(partner_id),
                    ))
                    .returning(Organization::as_returning())
                    .get_result(conn)
                    .await
                    .map_err(|error| map_unique(error, INPUT_FIELDS))?;
                let referral = insert_referral(
                    conn,
                    principal,
                    organization.id,
                    &name,
                    ReferralStatus::Approved,
                )
                .await?;
                AuditEvent::new("organization.referred", "organization")
                    .of(organization.id)
                    .by(principal.user_id)
                    .diff(json!({
                        "after": {
                            "name": organization.name,
                            "kind": organization.kind,
                            "referredByPartnerId": partner_id,
                        },
                        "referralId": referral.id,
                    }))
                    .record(conn, meta)
                    .await?;
                return Ok(referral);
            };
            if existing.referred_by_partner_id == Some(partner_id) {
                return Err(AppError::invalid_field(
                    "input.name",
                    "Your organization already referred this organization",
                )
                .with_code(ErrorCode::Conflict));
            }
            if existing.kind != OrganizationKind::Client {
                return Err(AppError::invalid_field(
                    "input.name",
                    "Only client organizations are referred",
                ));
            }
            let referral =
                insert_referral(conn, principal, existing.id, &name, ReferralStatus::Pending)
                    .await?;
            AuditEvent::new("organization.referral_requested", "organization_referral")
                .of(referral.id)
                .by(principal.user_id)
                .diff(json!({
                    "after": {
                        "status": referral.status,
                        "partnerId": partner_id,
                        "organizationId": existing.id,
                        "name": referral.name,
                    },
                }))
                .record(conn, meta)
                .await?;
            Ok(referral)
        })
        .await
    }

    /// Approves a pending referral (admins): the partner becomes the
    /// organization's referrer, replacing any earlier one.
    pub async fn approve_referral(
        &self,
        principal: &Principal,
        referral_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<OrganizationReferral, AppError> {
        self.decide(principal, referral_id, Decision::Approve, None, meta)
            .await
    }

    /// Declines a pending referral (admins), with an optional note; nothing
    /// else changes.
    pub async fn decline_referral(
        &self,
        principal: &Principal,
        referral_id: Uuid,
        note: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<OrganizationReferral, AppError> {
        self.decide(principal, referral_id, Decision::Decline, note, meta)
            .await
    }

    async fn decide(
        &self,
        principal: &Principal,
        referral_id: Uuid,
        decision: Decision,
        note: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<OrganizationReferral, AppError> {
        principal.require(REVIEW_REFERRALS)?;
        let note = note
            .map(str::trim)
            .filter(|note| !note.is_empty())
            .map(|note| required_text(note, "note", 500))
            .transpose()
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let referral: OrganizationReferral = organization_referrals::table
                .find(referral_id)
                .for_update()
                .select(OrganizationReferral::as_select())
                .first(conn)
                .await
                .optional()?
                .ok_or_else(|| AppError::not_found("referral"))?;
            if referral.status != ReferralStatus::Pending {
                return Err(AppError::conflict(format!(
                    "This referral was already {}",
                    referral.status.as_db()
                )));
            }
            let (status, action, diff) = match decision {
                Decision::Approve => {
                    let organization = find_organization(conn, referral.organization_id)
                        .await?
                        .ok_or_else(|| AppError::not_found("organization"))?;
                    if organization.kind != OrganizationKind::Client {
                        return Err(AppError::invalid_field(
                            "referralId",
                            "Only client organizations are referred",
                        ));
                    }
                    diesel::update(organizations::table.find(organization.id))
                        .set((
                            organizations::referred_by_partner_id.eq(referral.partner_id),
                            organizations::updated_at.eq(Utc::now()),
                        ))
                        .execute(conn)
                        .await?;
                    (
                        ReferralStatus::Approved,
                        "organization.referral_approved",
                        json!({
                            "organizationId": organization.id,
                            "before": { "status": referral.status, "referredByPartnerId": organization.referred_by_partner_id },
                            "after": { "status": ReferralStatus::Approved, "referredByPartnerId": referral.partner_id },
                        }),
                    )
                }
                Decision::Decline => (
                    ReferralStatus::Declined,
                    "organization.referral_declined",
                    json!({
                        "organizationId": referral.organization_id,
                        "before": { "status": referral.status },
                        "after": { "status": ReferralStatus::Declined, "note": note },
                    }),
                ),
            };
            let decided: OrganizationReferral =
                diesel::update(organization_referrals::table.find(referral.id))
                    .set((
                        organization_referrals::status.eq(status),
                        organization_referrals::decided_by.eq(principal.user_id),
                        organization_referrals::decided_at.eq(Utc::now()),
                        organization_referrals::note.eq(note.as_deref()),
                    ))
                    .returning(OrganizationReferral::as_returning())
                    .get_result(conn)
                    .await?;
            AuditEvent::new(action, "organization_referral")
                .of(decided.id)
                .by(principal.user_id)
                .diff(diff)
                .record(conn, meta)
                .await?;
            Ok(decided)
        })
        .await
    }

    /// Referrals, newest first: every one for reviewers, the caller's own
    /// organization's for partners; `FORBIDDEN` for anyone else.
    pub async fn list_referrals(
        &self,
        principal: &Principal,
        status: Option<ReferralStatus>,
        after: Option<Uuid>,
        limit: usize,
    ) -> Result<Page<OrganizationReferral>, AppError> {
        let partner = if principal.has(REVIEW_REFERRALS) {
            None
        } else {
            principal.require(REFER_ORGANIZATIONS)?;
            Some(principal.org_id)
        };
        let build = || {
            let mut query = organization_referrals::table.into_boxed();
            if let Some(partner) = partner {
                query = query.filter(organization_referrals::partner_id.eq(partner));
            }
            if let Some(status) = status {
                query = query.filter(organization_referrals::status.eq(status));
            }
            query
        };
        let mut conn = self.conn().await?;
        let total: i64 = build().count().get_result(&mut conn).await?;
        let mut page = build();
        if let Some(after) = after {
            page = page.filter(organization_referrals::id.lt(after));
        }
        let rows: Vec<OrganizationReferral> = page
            .order(organization_referrals::id.desc())
            .limit(limit as i64 + 1)
            .select(OrganizationReferral::as_select())
            .load(&mut conn)
            .await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }
}

async fn insert_referral(
    conn: &mut AsyncPgConnection,
    principal: &Principal,
    organization_id: Uuid,
    name: &str,
    status: ReferralStatus,
) -> Result<OrganizationReferral, AppError> {
    let decided_at = (status != ReferralStatus::Pending).then(Utc::now);
    diesel::insert_into(organization_referrals::table)
        .values((
            organization_referrals::id.eq(Uuid::now_v7()),
            organization_referrals::partner_id.eq(principal.org_id),
            organization_referrals::organization_id.eq(organization_id),
            organization_referrals::name.eq(name),
            organization_referrals::status.eq(status),
            organization_referrals::requested_by.eq(principal.user_id),
            organization_referrals::decided_at.eq(decided_at),
        ))
        .returning(OrganizationReferral::as_returning())
        .get_result(conn)
        .await
        .map_err(|error| match violated_constraint(&error) {
            Some("organization_referrals_pending_key") => AppError::invalid_field(
                "input.name",
                "Your referral of this organization is waiting for the agency's approval",
            )
            .with_code(ErrorCode::Conflict),
            _ => error.into(),
        })
}

//! GraphQL types of the auth domain.

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::{ComplexObject, Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use kernel::{AppError, Role, caller};

use super::loaders::{OrganizationLoader, UserLoader};
use crate::audit::AuditEntry;
use crate::model::{
    MfaMethod, Organization, OrganizationKind, OrganizationReferral, OtpChannel, ReferralStatus,
    Session, User, UserStatus,
};
use crate::service::{AuthService, IssuedSession, MfaChallenge};

/// A [`User`] row as the GraphQL `User` (documented on its `#[Object]` impl).
pub struct UserNode(pub User);

fn require_self(ctx: &Context<'_>, user_id: uuid::Uuid) -> Result<(), AppError> {
    if caller(ctx)?.user_id == user_id {
        Ok(())
    } else {
        Err(AppError::forbidden("Only the user can see this"))
    }
}

/// A person who signs in: agency staff (super-admins, admins, employees), a
/// client organization's user, a freelancer or a partner organization's user.
/// You may read yourself (`me`, `user`); staff read everyone (`users`); others
/// meet users only where a field links them (assignees, authors, members).
#[Object(name = "User")]
impl UserNode {
    /// Stable identifier of the account; pass it as `id` to `user` and as
    /// `userId` to the user-management mutations.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Email address (unique, case-insensitive).
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// The person's name as shown in the apps and in emails (at most 120
    /// characters), chosen at registration or invitation.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Mobile number in E.164 (e.g. `+919812345678`), used for SMS login
    /// codes; null when none is set, and null for anyone but the user and staff.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<&str>, AppError> {
        let viewer = caller(ctx)?;
        if viewer.user_id == self.0.id || viewer.role.is_staff() {
            Ok(self.0.phone.as_deref())
        } else {
            Ok(None)
        }
    }

    /// Role, which decides the permissions (see `permissions`) and which
    /// organizations and rows the user may see.
    async fn role(&self) -> Role {
        self.0.role
    }

    /// Whether the user can sign in: `ACTIVE`, `INVITED` (no password chosen
    /// yet) or `DISABLED` (every session revoked).
    async fn status(&self) -> UserStatus {
        self.0.status
    }

    /// The organization the user belongs to: the agency for staff and
    /// freelancers, their company for clients and partners.
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationNode>> {
        let loader = ctx.data_unchecked::<DataLoader<OrganizationLoader>>();
        Ok(loader
            .load_one(self.0.organization_id)
            .await?
            .map(OrganizationNode))
    }

    /// Permissions granted by the role, as `domain:resource.action` strings
    /// (e.g. `support:ticket.assign`); only for the user themself (`FORBIDDEN`
    /// for anyone else), so that frontends can build role-aware navigation.
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        require_self(ctx, self.0.id)?;
        let service = ctx.data_unchecked::<Arc<AuthService>>();
        Ok(service
            .permissions_of(self.0.role)
            .await?
            .into_iter()
            .collect())
    }

    /// Sessions that are neither expired nor revoked, newest first; only for
    /// the user themself (`FORBIDDEN` for anyone else).
    #[graphql(complexity = "kernel::cost::STATEMENT + kernel::cost::list(child_complexity)")]
    async fn sessions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SessionNode>> {
        require_self(ctx, self.0.id)?;
        let current = caller(ctx)?.session_id;
        let service = ctx.data_unchecked::<Arc<AuthService>>();
        Ok(service
            .active_sessions(self.0.id)
            .await?
            .into_iter()
            .map(|session| SessionNode {
                current: session.id == current,
                session,
            })
            .collect())
    }

    /// Second-factor settings; only for the user themself (`FORBIDDEN` for
    /// anyone else).
    async fn mfa(&self, ctx: &Context<'_>) -> async_graphql::Result<MfaSettings> {
        require_self(ctx, self.0.id)?;
        Ok(MfaSettings {
            totp_enabled: self.0.totp_enabled,
            otp_channel: self.0.otp_channel,
        })
    }

    /// When the account was created (invited or registered), in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// Second-factor settings of a user.
#[derive(SimpleObject)]
pub struct MfaSettings {
    /// Whether an authenticator app code is required at login.
    pub totp_enabled: bool,
    /// Where a one-time code is sent at login, when TOTP is off.
    pub otp_channel: Option<OtpChannel>,
}

/// An [`Organization`] row as the GraphQL `Organization`.
pub struct OrganizationNode(pub Organization);

/// The agency, a client organization, or a partner organization. Staff see
/// every organization; other users see their own, and partners also the
/// client organizations they referred.
#[Object(name = "Organization")]
impl OrganizationNode {
    /// Stable identifier of the organization; pass it to `organization`, to
    /// `inviteUser` and to the `organizationId` filters.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Company name, at most 160 characters; unique among organizations,
    /// compared without case.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether this is the agency, a client or a partner.
    async fn kind(&self) -> OrganizationKind {
        self.0.kind
    }

    /// The partner organization that referred this client; null for clients
    /// nobody referred, and for the agency and partners.
    async fn referred_by_partner_id(&self) -> Option<ID> {
        self.0.referred_by_partner_id.map(|id| ID(id.to_string()))
    }

    /// When the organization was created, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// An [`OrganizationReferral`] row as the GraphQL `OrganizationReferral`.
pub struct OrganizationReferralNode(pub OrganizationReferral);

/// A partner's referral of a client organization. A new name is approved at
/// once; an organization that already existed waits for an admin
/// (`approveOrganizationReferral`, `declineOrganizationReferral`). Admins see
/// every referral, partners their own organization's.
#[Object(name = "OrganizationReferral")]
impl OrganizationReferralNode {
    /// Id; pass it to `approveOrganizationReferral` or `declineOrganizationReferral`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The client's company name as the partner typed it (at most 160 characters).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// `PENDING` while an admin has to decide, then `APPROVED` or `DECLINED`.
    async fn status(&self) -> ReferralStatus {
        self.0.status
    }

    /// The referring partner organization; null only if it can no longer be read.
    async fn partner(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OrganizationNode>> {
        let loader = ctx.data_unchecked::<DataLoader<OrganizationLoader>>();
        Ok(loader
            .load_one(self.0.partner_id)
            .await?
            .map(OrganizationNode))
    }

    /// The client organization referred; null while you may not see it (for
    /// the partner, until the referral is approved).
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationNode>> {
        let service = ctx.data_unchecked::<Arc<AuthService>>();
        match service
            .get_organization(caller(ctx)?, self.0.organization_id)
            .await
        {
            Ok(organization) => Ok(Some(OrganizationNode(organization))),
            Err(error) if error.code() == kernel::ErrorCode::NotFound => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    /// The partner's user who referred it; null only if the account can no
    /// longer be read.
    async fn requested_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(self.0.requested_by).await?.map(UserNode))
    }

    /// The admin who decided; shown to staff only, and null for a new
    /// organization (approved at once).
    async fn decided_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserNode>> {
        let Some(decided_by) = self.0.decided_by else {
            return Ok(None);
        };
        if !caller(ctx)?.role.is_staff() {
            return Ok(None);
        }
        let loader = ctx.data_unchecked::<DataLoader<UserLoader>>();
        Ok(loader.load_one(decided_by).await?.map(UserNode))
    }

    /// When an admin approved or declined it, in UTC; for a new organization
    /// (approved at once) the time of the referral; null while pending.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    /// The admin's note on the decision (at most 500 characters); null when
    /// none was given.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// When the partner referred it, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A [`Session`] row as the GraphQL `Session`, with whether it is the caller's.
pub struct SessionNode {
    /// The row.
    pub session: Session,
    /// Whether the request came from this session.
    pub current: bool,
}

/// A signed-in device or browser: one login and its refresh tokens. Only the
/// user themself sees their sessions (`me { sessions }`).
#[Object(name = "Session")]
impl SessionNode {
    /// Identifier of the session; pass it to `revokeSession` to sign that
    /// device out.
    async fn id(&self) -> ID {
        ID(self.session.id.to_string())
    }

    /// Whether this is the session making the request.
    async fn current(&self) -> bool {
        self.current
    }

    /// Client IP address at sign-in (IPv4 or IPv6 text); null when unknown.
    async fn ip(&self) -> Option<&str> {
        self.session.ip.as_deref()
    }

    /// The `User-Agent` header sent at sign-in (at most 512 bytes); null when
    /// none was sent.
    async fn user_agent(&self) -> Option<&str> {
        self.session.user_agent.as_deref()
    }

    /// When the user signed in on this device, in UTC.
    async fn created_at(&self) -> DateTime<Utc> {
        self.session.created_at
    }

    /// When the session last signed in or refreshed its tokens, in UTC.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.session.last_used_at
    }

    /// When the session ends at the latest, in UTC (`SESSION_TTL_DAYS` after
    /// sign-in, 30 days by default); signing out or a revocation ends it earlier.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.session.expires_at
    }
}

/// Tokens of a new or refreshed session.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuthPayload {
    /// Bearer token (a signed JWT) for `Authorization` (and websocket
    /// `connection_init`); valid for `expiresIn` seconds.
    pub access_token: String,
    /// Opaque token for `refreshSession`; single use, rotated every time.
    pub refresh_token: String,
    /// Seconds until the access token expires (15 minutes by default,
    /// `ACCESS_TOKEN_TTL_SECS`); refresh before then.
    pub expires_in: i64,
    /// Always `Bearer`: the scheme to put before the token in `Authorization`.
    pub token_type: &'static str,
    /// The session these tokens belong to; see `me { sessions }`.
    pub session_id: ID,
    #[graphql(skip)]
    pub user: User,
}

#[ComplexObject]
impl AuthPayload {
    /// The user the tokens act as.
    async fn user(&self) -> UserNode {
        UserNode(self.user.clone())
    }
}

impl From<IssuedSession> for AuthPayload {
    fn from(session: IssuedSession) -> Self {
        Self {
            access_token: session.access_token,
            refresh_token: session.refresh_token,
            expires_in: (session.access_expires_at - Utc::now())
                .num_seconds()
                .max(0),
            token_type: "Bearer",
            session_id: ID(session.session_id.to_string()),
            user: session.user,
        }
    }
}

/// A second factor is required to finish signing in.
#[derive(SimpleObject)]
pub struct MfaChallengeNode {
    /// Pass it to `verifyMfa` with the code.
    pub challenge_id: ID,
    /// `TOTP` (authenticator app), `EMAIL` or `SMS` (a code was just sent).
    pub method: MfaMethod,
    /// When the challenge ends, in UTC (10 minutes after `login`); then sign
    /// in again.
    pub expires_at: DateTime<Utc>,
}

impl From<MfaChallenge> for MfaChallengeNode {
    fn from(challenge: MfaChallenge) -> Self {
        Self {
            challenge_id: ID(challenge.challenge_id.to_string()),
            method: challenge.method,
            expires_at: challenge.expires_at,
        }
    }
}

/// Result of `login`: tokens, or an MFA challenge when the user has a second factor.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct LoginPayload {
    /// Bearer token; null when `mfaRequired`.
    pub access_token: Option<String>,
    /// Refresh token; null when `mfaRequired`.
    pub refresh_token: Option<String>,
    /// Seconds until the access token expires; null when `mfaRequired`.
    pub expires_in: Option<i64>,
    /// Whether `verifyMfa` must follow.
    pub mfa_required: bool,
    /// The challenge to answer, when `mfaRequired`.
    pub mfa_challenge: Option<MfaChallengeNode>,
    #[graphql(skip)]
    pub user: Option<User>,
}

#[ComplexObject]
impl LoginPayload {
    /// The signed-in user; null when `mfaRequired`.
    async fn user(&self) -> Option<UserNode> {
        self.user.clone().map(UserNode)
    }
}

/// An [`AuditEntry`] row as the GraphQL `AuditEntry`.
pub struct AuditEntryNode(pub AuditEntry);

/// An entry of the tamper-evident audit log: who did what to which entity,
/// from where. Entries are never changed or deleted; each one's hash covers
/// the previous one's. Admins only (`auth:audit.read`).
#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    /// Position in the hash chain: increasing, without gaps; the list's sort key.
    async fn seq(&self) -> i64 {
        self.0.seq
    }

    /// Unique identifier of the entry, for references from outside the log.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When the action happened, in UTC.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// The user who acted (null for the system, the CLI, or a failed anonymous attempt).
    async fn actor_id(&self) -> Option<ID> {
        self.0.actor_id.map(|id| ID(id.to_string()))
    }

    /// What happened, e.g. `auth.login`, `user.role_changed`.
    async fn action(&self) -> &str {
        &self.0.action
    }

    /// Kind of entity changed, e.g. `user`.
    async fn entity_type(&self) -> &str {
        &self.0.entity_type
    }

    /// Id of the entity changed.
    async fn entity_id(&self) -> Option<&str> {
        self.0.entity_id.as_deref()
    }

    /// Client IP address of the request that acted; null for the system and the CLI.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }

    /// `User-Agent` of the request that acted (at most 512 bytes); null for
    /// the system and the CLI.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }

    /// Before/after values (`{"before": …, "after": …}`) or details of the
    /// action, as a JSON object.
    async fn diff(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.diff.clone())
    }

    /// SHA-256 of this entry and the previous entry's hash, as 64 lowercase
    /// hex digits; `verifyAuditLog` re-computes it.
    async fn hash(&self) -> String {
        hex::encode(&self.0.hash)
    }
}

/// Result of re-computing the audit log's hash chain.
#[derive(SimpleObject)]
pub struct AuditChainCheck {
    /// Whether every entry's hash and link match.
    pub valid: bool,
    /// How many entries were re-computed (the whole log).
    pub checked_entries: i64,
    /// `seq` of the first entry whose hash or link does not match; null when
    /// the chain is intact.
    pub first_broken_seq: Option<i64>,
}

/// A new TOTP secret to add to an authenticator app; confirm with `confirmTotp`.
#[derive(SimpleObject)]
pub struct TotpEnrollmentNode {
    /// The secret in base32 for manual entry; shown once, never readable later.
    pub secret: String,
    /// The `otpauth://totp/…` key URI (issuer, account, secret; SHA-1,
    /// 6 digits, 30 seconds) that authenticator apps import.
    pub otpauth_uri: String,
    /// `otpauthUri` as an SVG QR code, ready to embed in a page.
    pub qr_code_svg: String,
}

pub use kernel::pagination::TotalCount;

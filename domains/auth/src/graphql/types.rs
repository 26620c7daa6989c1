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

/// A person who signs in: agency staff, a client's user, a freelancer or a partner.
pub struct UserNode(pub User);

fn require_self(ctx: &Context<'_>, user_id: uuid::Uuid) -> Result<(), AppError> {
    if caller(ctx)?.user_id == user_id {
        Ok(())
    } else {
        Err(AppError::forbidden("Only the user can see this"))
    }
}

#[Object(name = "User")]
impl UserNode {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Email address (unique, case-insensitive).
    async fn email(&self) -> &str {
        &self.0.email
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Mobile number in E.164; visible to the user and to staff.
    async fn phone(&self, ctx: &Context<'_>) -> Result<Option<&str>, AppError> {
        let viewer = caller(ctx)?;
        if viewer.user_id == self.0.id || viewer.role.is_staff() {
            Ok(self.0.phone.as_deref())
        } else {
            Ok(None)
        }
    }

    /// Role, which decides the permissions.
    async fn role(&self) -> Role {
        self.0.role
    }

    /// Account status.
    async fn status(&self) -> UserStatus {
        self.0.status
    }

    /// The organization the user belongs to.
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

    /// Permissions granted by the role; only for the user themself, so that
    /// frontends can build role-aware navigation.
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        require_self(ctx, self.0.id)?;
        let service = ctx.data_unchecked::<Arc<AuthService>>();
        Ok(service
            .permissions_of(self.0.role)
            .await?
            .into_iter()
            .collect())
    }

    /// Active sessions, newest first; only for the user themself.
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

    /// Second-factor settings; only for the user themself.
    async fn mfa(&self, ctx: &Context<'_>) -> async_graphql::Result<MfaSettings> {
        require_self(ctx, self.0.id)?;
        Ok(MfaSettings {
            totp_enabled: self.0.totp_enabled,
            otp_channel: self.0.otp_channel,
        })
    }

    /// When the account was created.
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

/// The agency, a client organization, or a partner organization.
pub struct OrganizationNode(pub Organization);

#[Object(name = "Organization")]
impl OrganizationNode {
    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Name (unique, case-insensitive).
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Kind.
    async fn kind(&self) -> OrganizationKind {
        self.0.kind
    }

    /// The partner organization that referred this client, if any.
    async fn referred_by_partner_id(&self) -> Option<ID> {
        self.0.referred_by_partner_id.map(|id| ID(id.to_string()))
    }

    /// When it was created.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A partner's referral of a client organization. A new name is approved at
/// once; an organization that already existed waits for an admin
/// (`approveOrganizationReferral`, `declineOrganizationReferral`).
pub struct OrganizationReferralNode(pub OrganizationReferral);

#[Object(name = "OrganizationReferral")]
impl OrganizationReferralNode {
    /// Id; pass it to `approveOrganizationReferral` or `declineOrganizationReferral`.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// The name as the partner typed it.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Pending, approved or declined.
    async fn status(&self) -> ReferralStatus {
        self.0.status
    }

    /// The referring partner organization.
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

    /// The partner's user who referred it.
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

    /// When it was decided.
    async fn decided_at(&self) -> Option<DateTime<Utc>> {
        self.0.decided_at
    }

    /// The admin's note on the decision.
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }

    /// When the partner referred it.
    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }
}

/// A signed-in device or browser.
pub struct SessionNode {
    /// The row.
    pub session: Session,
    /// Whether the request came from this session.
    pub current: bool,
}

#[Object(name = "Session")]
impl SessionNode {
    /// Id; pass it to `revokeSession`.
    async fn id(&self) -> ID {
        ID(self.session.id.to_string())
    }

    /// Whether this is the session making the request.
    async fn current(&self) -> bool {
        self.current
    }

    /// IP address at sign-in.
    async fn ip(&self) -> Option<&str> {
        self.session.ip.as_deref()
    }

    /// Browser or client at sign-in.
    async fn user_agent(&self) -> Option<&str> {
        self.session.user_agent.as_deref()
    }

    /// Signed in at.
    async fn created_at(&self) -> DateTime<Utc> {
        self.session.created_at
    }

    /// Last token refresh.
    async fn last_used_at(&self) -> DateTime<Utc> {
        self.session.last_used_at
    }

    /// Ends at the latest.
    async fn expires_at(&self) -> DateTime<Utc> {
        self.session.expires_at
    }
}

/// Tokens of a new or refreshed session.
#[derive(SimpleObject)]
#[graphql(complex)]
pub struct AuthPayload {
    /// Bearer token for `Authorization` (and websocket `connection_init`).
    pub access_token: String,
    /// Opaque token for `refreshSession`; single use, rotated every time.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// The session; see `me { sessions }`.
    pub session_id: ID,
    #[graphql(skip)]
    pub user: User,
}

#[ComplexObject]
impl AuthPayload {
    /// The signed-in user.
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
    /// When the challenge ends.
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

/// An entry of the tamper-evident audit log.
pub struct AuditEntryNode(pub AuditEntry);

#[Object(name = "AuditEntry")]
impl AuditEntryNode {
    /// Position in the hash chain.
    async fn seq(&self) -> i64 {
        self.0.seq
    }

    /// Id.
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// When it happened.
    async fn occurred_at(&self) -> DateTime<Utc> {
        self.0.occurred_at
    }

    /// Who acted (null for the system, the CLI, or a failed anonymous attempt).
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

    /// Client IP address.
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }

    /// Client user agent.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }

    /// Before/after values or details, as JSON.
    async fn diff(&self) -> async_graphql::Json<serde_json::Value> {
        async_graphql::Json(self.0.diff.clone())
    }

    /// SHA-256 of this entry and the previous hash, hex.
    async fn hash(&self) -> String {
        hex::encode(&self.0.hash)
    }
}

/// Result of re-computing the audit log's hash chain.
#[derive(SimpleObject)]
pub struct AuditChainCheck {
    /// Whether every entry's hash and link match.
    pub valid: bool,
    /// Entries checked.
    pub checked_entries: i64,
    /// The first entry that does not match, if any.
    pub first_broken_seq: Option<i64>,
}

/// A new TOTP secret to add to an authenticator app; confirm with `confirmTotp`.
#[derive(SimpleObject)]
pub struct TotpEnrollmentNode {
    /// The secret in base32 for manual entry.
    pub secret: String,
    /// `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_code_svg: String,
}

pub use kernel::pagination::TotalCount;

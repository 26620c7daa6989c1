//! The auth use cases, one transaction each; GraphQL and REST both call these.
//! One `impl AuthService` per group: sign-in and sessions, registration and
//! invitations, passwords, users and roles, organizations, the audit log.

mod accounts;
mod audit_log;
mod organizations;
mod passwords;
mod referrals;
mod registration;
mod sign_in;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use kernel::error::violated_constraint;
use kernel::events::{Event, EventBus, SESSIONS_TOPIC, SessionChange};
use kernel::schema::{one_time_tokens, role_permissions, sessions, users};
use kernel::{AppError, Authenticator, Db, ErrorCode, Principal, RequestMeta, Role};
use uuid::Uuid;

use crate::config::AuthConfig;
use crate::mfa::secrets::SecretBox;
use crate::mfa::sms::SmsSender;
use crate::model::{
    MfaMethod, NewUser, Organization, RevokeReason, Session, TokenPurpose, User, UserStatus,
};
use crate::password::PasswordHasherPool;
use crate::rate_limit::{self, Budget};
use crate::tokens::{AccessTokens, hash_token};

pub use accounts::{OrganizationChoice, UserFilter};
pub use registration::{Invitation, Registration};

/// A signed-in session: what login, refresh, MFA and invitations answer with.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// Short-lived JWT.
    pub access_token: String,
    /// When the access token expires.
    pub access_expires_at: DateTime<Utc>,
    /// Opaque refresh token; rotated on every use.
    pub refresh_token: String,
    /// When the session ends at the latest.
    pub session_expires_at: DateTime<Utc>,
    /// The session.
    pub session_id: Uuid,
    /// The user.
    pub user: User,
}

/// A pending second factor after a correct password.
#[derive(Debug, Clone)]
pub struct MfaChallenge {
    /// Pass it to `verifyMfa` with the code.
    pub challenge_id: Uuid,
    /// The second factor asked for.
    pub method: MfaMethod,
    /// When the challenge ends.
    pub expires_at: DateTime<Utc>,
}

/// What a correct password leads to.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    /// Signed in.
    Signed(Box<IssuedSession>),
    /// A second factor is required.
    MfaRequired(MfaChallenge),
}

type RolePermissions = HashMap<Role, BTreeSet<String>>;

struct PermissionCache {
    loaded: RwLock<Option<(Instant, RolePermissions)>>,
}

const PERMISSION_CACHE_TTL: Duration = Duration::from_secs(30);

/// The auth domain's service.
pub struct AuthService {
    db: Db,
    bus: Arc<dyn EventBus>,
    config: Arc<AuthConfig>,
    tokens: AccessTokens,
    hasher: PasswordHasherPool,
    totp_secrets: SecretBox,
    permissions: PermissionCache,
    sms: Arc<dyn SmsSender>,
}

pub(crate) fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Checks the shape of an email address; `field` names it in the error.
pub fn validate_email(email: &str, field: &str) -> Result<String, AppError> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(email.to_string())
    } else {
        Err(AppError::invalid_field(
            field,
            "Enter a valid email address",
        ))
    }
}

fn bad_password(field: &str, message: String) -> AppError {
    AppError::invalid_field(field, message)
}

/// The key of a per-address budget: IPv6 clients by their /64.
fn ip_key(prefix: &str, meta: &RequestMeta) -> String {
    let address = meta
        .ip
        .as_deref()
        .map_or_else(|| "unknown".to_string(), rate_limit::address_key);
    format!("{prefix}:ip:{address}")
}

impl AuthService {
    /// A service on the pool with the given configuration, publishing session
    /// changes to `bus`.
    pub fn new(
        db: Db,
        bus: Arc<dyn EventBus>,
        config: AuthConfig,
        sms: Arc<dyn SmsSender>,
    ) -> Result<Self, String> {
        let tokens = AccessTokens::new(&config)?;
        let hasher = PasswordHasherPool::new(config.password_hashing, config.password_queue_limit)
            .map_err(|_| "invalid password hashing parameters".to_string())?;
        let totp_secrets = SecretBox::new(&config.totp_keys, &config.totp_active_kid)?;
        Ok(Self {
            db,
            bus,
            config: Arc::new(config),
            tokens,
            hasher,
            totp_secrets,
            permissions: PermissionCache {
                loaded: RwLock::new(None),
            },
            sms,
        })
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn totp_secrets(&self) -> &SecretBox {
        &self.totp_secrets
    }

    pub(crate) fn sms(&self) -> &dyn SmsSender {
        self.sms.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &AuthConfig {
        &self.config
    }

    async fn conn(&self) -> Result<kernel::DbConn, AppError> {
        Ok(self.db.get().await?)
    }

    /// Tells the user's open websockets that their sign-in changed, so they
    /// re-validate at once; call it after the change commits.
    fn publish_session_change(&self, actor_id: Option<Uuid>, change: SessionChange) {
        self.bus
            .publish(Event::of(SESSIONS_TOPIC, actor_id, &change));
    }

    /// Permissions granted to `role`, from the `role_permissions` table (cached briefly).
    pub async fn permissions_of(&self, role: Role) -> Result<BTreeSet<String>, AppError> {
        if let Ok(guard) = self.permissions.loaded.read()
            && let Some((loaded_at, map)) = guard.as_ref()
            && loaded_at.elapsed() < PERMISSION_CACHE_TTL
        {
            return Ok(map.get(&role).cloned().unwrap_or_default());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<(Role, String)> = role_permissions::table
            .select((role_permissions::role, role_permissions::permission))
            .load(&mut conn)
            .await?;
        let mut map = RolePermissions::new();
        for (role, permission) in rows {
            map.entry(role).or_default().insert(permission);
        }
        let granted = map.get(&role).cloned().unwrap_or_default();
        if let Ok(mut guard) = self.permissions.loaded.write() {
            *guard = Some((Instant::now(), map));
        }
        Ok(granted)
    }

    async fn consume(
        &self,
        conn: &mut AsyncPgConnection,
        key: String,
        limit: u32,
        window: Duration,
    ) -> Result<(), AppError> {
        rate_limit::consume(conn, &Budget { key, limit, window }).await
    }

    /// Prunes old rate-limit windows; call periodically.
    pub async fn prune_rate_limits(&self) -> Result<usize, AppError> {
        let mut conn = self.conn().await?;
        rate_limit::prune(&mut conn).await
    }

    /// A usable one-time token: unused, unexpired, and its user still in the
    /// state the purpose needs (invited for an invitation, active for a reset),
    /// so disabling a user also voids their pending links.
    async fn redeem_token(
        &self,
        conn: &mut AsyncPgConnection,
        token: &str,
        purpose: TokenPurpose,
        field: &str,
    ) -> Result<(Uuid, User), AppError> {
        let found: Option<(Uuid, User)> = one_time_tokens::table
            .inner_join(users::table.on(users::id.eq(one_time_tokens::user_id)))
            .filter(one_time_tokens::token_hash.eq(hash_token(token)))
            .filter(one_time_tokens::purpose.eq(purpose))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(Utc::now()))
            .filter(users::status.eq(purpose.required_status()))
            .select((one_time_tokens::id, User::as_select()))
            .first(conn)
            .await
            .optional()?;
        found.ok_or_else(|| invalid_token(field))
    }
}

#[async_trait::async_trait]
impl Authenticator for AuthService {
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AppError> {
        let claims = self.tokens.verify(access_token)?;
        self.check_session(claims)
            .await
            .map_err(|error| match error.code() {
                ErrorCode::Unauthenticated => error,
                // Whatever kept us from reading the session, it says nothing
                // about the token: the client must keep it and retry.
                _ => error.into_unavailable(),
            })
    }
}

impl AuthService {
    /// The principal of a verified token's session; `UNAUTHENTICATED` only
    /// when the session or its user is no longer valid.
    async fn check_session(
        &self,
        claims: crate::tokens::AccessClaims,
    ) -> Result<Principal, AppError> {
        let mut conn = self.conn().await?;
        let row: Option<(Session, Role, UserStatus, Uuid)> = sessions::table
            .inner_join(users::table)
            .filter(sessions::id.eq(claims.sid))
            .filter(users::id.eq(claims.sub))
            .select((
                Session::as_select(),
                users::role,
                users::status,
                users::organization_id,
            ))
            .first(&mut conn)
            .await
            .optional()?;
        drop(conn);
        let revoked = || AppError::unauthenticated("This session has ended; sign in again");
        let (session, role, status, org_id) = row.ok_or_else(revoked)?;
        if session.revoked_at.is_some()
            || session.expires_at <= Utc::now()
            || status != UserStatus::Active
        {
            return Err(revoked());
        }
        Ok(Principal {
            user_id: claims.sub,
            role,
            org_id,
            permissions: self.permissions_of(role).await?,
            session_id: claims.sid,
            expires_at: DateTime::from_timestamp(claims.exp, 0).unwrap_or_else(Utc::now),
        })
    }
}

fn invalid_token(field: &str) -> AppError {
    AppError::invalid_field(field, "This link is invalid or has expired")
}

/// Input paths of the fields a unique constraint can blame, per use case.
#[derive(Clone, Copy)]
struct UniqueFields {
    organization_name: &'static str,
    email: &'static str,
}

const REGISTER_FIELDS: UniqueFields = UniqueFields {
    organization_name: "companyName",
    email: "email",
};
const CLI_FIELDS: UniqueFields = UniqueFields {
    organization_name: "org",
    email: "email",
};
const INPUT_FIELDS: UniqueFields = UniqueFields {
    organization_name: "input.name",
    email: "input.email",
};

fn map_unique(error: diesel::result::Error, fields: UniqueFields) -> AppError {
    match violated_constraint(&error) {
        Some("organizations_name_key") => AppError::invalid_field(
            fields.organization_name,
            "An organization with this name is already registered",
        )
        .with_code(kernel::ErrorCode::Conflict),
        Some("users_email_key") => {
            AppError::invalid_field(fields.email, "An account with this email already exists")
                .with_code(kernel::ErrorCode::Conflict)
        }
        _ => error.into(),
    }
}

fn escape_like(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

async fn insert_user(
    conn: &mut AsyncPgConnection,
    user: NewUser<'_>,
    fields: UniqueFields,
) -> Result<User, AppError> {
    diesel::insert_into(users::table)
        .values(&user)
        .returning(User::as_returning())
        .get_result(conn)
        .await
        .map_err(|error| map_unique(error, fields))
}

/// The organization named `name` (names are unique without case), locked
/// for the rest of the transaction.
async fn lock_organization_named(
    conn: &mut AsyncPgConnection,
    name: &str,
) -> Result<Option<Organization>, AppError> {
    Ok(kernel::schema::organizations::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(")
                .bind::<diesel::sql_types::Text, _>(name)
                .sql(")"),
        )
        .for_update()
        .select(Organization::as_select())
        .first(conn)
        .await
        .optional()?)
}

/// The user of `id`; `NOT_FOUND` when there is none.
pub(crate) async fn load_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<User, AppError> {
    crate::repo::find_user(conn, id)
        .await?
        .ok_or_else(|| AppError::not_found("user"))
}

/// [`load_user`], locked until the transaction ends.
pub(crate) async fn lock_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<User, AppError> {
    users::table
        .find(id)
        .for_update()
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?
        .ok_or_else(|| AppError::not_found("user"))
}

pub(crate) enum SessionSelector {
    One(Uuid),
    AllOf(Uuid),
}

pub(crate) async fn revoke_sessions(
    conn: &mut AsyncPgConnection,
    which: SessionSelector,
    reason: RevokeReason,
) -> Result<usize, AppError> {
    let now = Utc::now();
    let changes = (
        sessions::revoked_at.eq(now),
        sessions::revoked_reason.eq(reason),
    );
    let active = sessions::revoked_at.is_null();
    Ok(match which {
        SessionSelector::One(id) => {
            diesel::update(sessions::table.find(id).filter(active))
                .set(changes)
                .execute(conn)
                .await?
        }
        SessionSelector::AllOf(user) => {
            diesel::update(
                sessions::table
                    .filter(sessions::user_id.eq(user))
                    .filter(active),
            )
            .set(changes)
            .execute(conn)
            .await?
        }
    })
}

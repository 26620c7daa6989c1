//! The auth use cases, one transaction each; GraphQL and REST both call these.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::error::violated_constraint;
use kernel::pagination::Page;
use kernel::schema::{
    one_time_tokens, organizations, refresh_tokens, role_permissions, sessions, users,
};
use kernel::validate::required_text;
use kernel::{AccessScope, AppError, Authenticator, Db, FieldError, Principal, RequestMeta, Role};
use serde_json::json;
use uuid::Uuid;

use crate::audit::{self, AuditEvent};
use crate::config::AuthConfig;
use crate::mfa::sms::SmsSender;
use crate::model::{NewUser, Organization, Session, User};
use crate::password::{PasswordHasherPool, check_strength};
use crate::policy::{OrganizationKind, may_grant, may_manage, organization_kind_for};
use crate::rate_limit::{self, Budget};
use crate::tokens::{AccessTokens, hash_token, new_opaque_token};

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
    /// `totp`, `email` or `sms`.
    pub method: String,
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

/// Input of `register`.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Email.
    pub email: String,
    /// Password.
    pub password: String,
    /// The person's name.
    pub name: String,
    /// Name of the client organization to create.
    pub company_name: String,
}

/// Input of `inviteUser`.
#[derive(Debug, Clone)]
pub struct Invitation {
    /// Email to send the invitation to.
    pub email: String,
    /// The person's name.
    pub name: String,
    /// Role to give.
    pub role: Role,
    /// Organization to join.
    pub organization_id: Uuid,
}

/// Filters of the user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this role.
    pub role: Option<Role>,
    /// Only this status.
    pub status: Option<String>,
    /// Only this organization.
    pub organization_id: Option<Uuid>,
    /// Email or name contains this text.
    pub search: Option<String>,
}

type RolePermissions = HashMap<String, BTreeSet<String>>;

struct PermissionCache {
    loaded: RwLock<Option<(Instant, RolePermissions)>>,
}

const PERMISSION_CACHE_TTL: Duration = Duration::from_secs(30);

/// The auth domain's service.
pub struct AuthService {
    db: Db,
    config: Arc<AuthConfig>,
    tokens: AccessTokens,
    hasher: PasswordHasherPool,
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

fn ip_key(prefix: &str, meta: &RequestMeta) -> String {
    format!("{prefix}:ip:{}", meta.ip.as_deref().unwrap_or("unknown"))
}

impl AuthService {
    /// A service on the pool with the given configuration.
    pub fn new(db: Db, config: AuthConfig, sms: Arc<dyn SmsSender>) -> Result<Self, String> {
        let tokens = AccessTokens::new(&config)?;
        let hasher = PasswordHasherPool::new(config.password_hashing)
            .map_err(|_| "invalid password hashing parameters".to_string())?;
        Ok(Self {
            db,
            config: Arc::new(config),
            tokens,
            hasher,
            permissions: PermissionCache {
                loaded: RwLock::new(None),
            },
            sms,
        })
    }

    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    pub(crate) fn hasher(&self) -> &PasswordHasherPool {
        &self.hasher
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

    /// Permissions granted to `role`, from the `role_permissions` table (cached briefly).
    pub async fn permissions_of(&self, role: Role) -> Result<BTreeSet<String>, AppError> {
        if let Ok(guard) = self.permissions.loaded.read()
            && let Some((loaded_at, map)) = guard.as_ref()
            && loaded_at.elapsed() < PERMISSION_CACHE_TTL
        {
            return Ok(map.get(role.as_db()).cloned().unwrap_or_default());
        }
        let mut conn = self.conn().await?;
        let rows: Vec<(String, String)> = role_permissions::table
            .select((role_permissions::role, role_permissions::permission))
            .load(&mut conn)
            .await?;
        let mut map = RolePermissions::new();
        for (role, permission) in rows {
            map.entry(role).or_default().insert(permission);
        }
        let granted = map.get(role.as_db()).cloned().unwrap_or_default();
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

    // ---- sign-in flows -------------------------------------------------

    /// Opens a session for `user` inside the caller's transaction.
    pub(crate) async fn open_session_in(
        &self,
        conn: &mut AsyncPgConnection,
        user: &User,
        meta: &RequestMeta,
    ) -> Result<(Uuid, String, DateTime<Utc>), AppError> {
        let session_id = Uuid::now_v7();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.refresh_ttl).map_err(AppError::internal)?;
        diesel::insert_into(sessions::table)
            .values((
                sessions::id.eq(session_id),
                sessions::user_id.eq(user.id),
                sessions::ip.eq(&meta.ip),
                sessions::user_agent.eq(&meta.user_agent),
                sessions::expires_at.eq(expires_at),
            ))
            .execute(conn)
            .await?;
        let refresh_token = new_opaque_token();
        diesel::insert_into(refresh_tokens::table)
            .values((
                refresh_tokens::id.eq(Uuid::now_v7()),
                refresh_tokens::session_id.eq(session_id),
                refresh_tokens::token_hash.eq(hash_token(&refresh_token)),
            ))
            .execute(conn)
            .await?;
        Ok((session_id, refresh_token, expires_at))
    }

    pub(crate) fn issue_session(
        &self,
        user: User,
        session: (Uuid, String, DateTime<Utc>),
    ) -> Result<IssuedSession, AppError> {
        let (session_id, refresh_token, session_expires_at) = session;
        let (access_token, access_expires_at) =
            self.tokens.issue(user.id, session_id, Utc::now())?;
        Ok(IssuedSession {
            access_token,
            access_expires_at,
            refresh_token,
            session_expires_at,
            session_id,
            user,
        })
    }

    /// Creates a client user in a new client organization (open registration).
    pub async fn register(
        &self,
        input: Registration,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        if !self.config.open_registration {
            return Err(AppError::forbidden("Registration is by invitation only"));
        }
        let mut conn = self.conn().await?;
        let limit = self.config.rate_limits.register_per_ip_per_hour;
        self.consume(
            &mut conn,
            ip_key("register", meta),
            limit,
            Duration::from_secs(3600),
        )
        .await?;

        let email = validate_email(&input.email, "email")?;
        let mut problems = Vec::new();
        let name = required_text(&input.name, "name", 120)
            .map_err(|e| problems.push(e))
            .ok();
        let company = required_text(&input.company_name, "companyName", 160)
            .map_err(|e| problems.push(e))
            .ok();
        if let Err(message) = check_strength(&input.password, &[&email, &input.name]) {
            problems.push(FieldError {
                field: "password".into(),
                message,
            });
        }
        let (Some(name), Some(company)) = (name, company) else {
            return Err(AppError::invalid_fields(problems));
        };
        if !problems.is_empty() {
            return Err(AppError::invalid_fields(problems));
        }
        let password_hash = self.hasher.hash(&input.password).await?;
        let user = conn
            .transaction::<_, AppError, _>(async move |conn| {
                    let org_id = Uuid::now_v7();
                    diesel::insert_into(organizations::table)
                        .values((
                            organizations::id.eq(org_id),
                            organizations::name.eq(&company),
                            organizations::kind.eq(OrganizationKind::Client.as_db()),
                        ))
                        .execute(conn)
                        .await
                        .map_err(|error| map_unique(error, REGISTER_FIELDS))?;
                    let user = insert_user(
                        conn,
                        NewUser {
                            id: Uuid::now_v7(),
                            organization_id: org_id,
                            email: &email,
                            name: &name,
                            phone: None,
                            role: Role::Client.as_db(),
                            status: "active",
                            password_hash: Some(&password_hash),
                        },
                        REGISTER_FIELDS,
                    )
                    .await?;
                    audit::record(conn, meta, AuditEvent {
                        actor_id: Some(user.id),
                        action: "user.registered",
                        entity_type: "user",
                        entity_id: Some(user.id.to_string()),
                        diff: json!({ "after": { "email": email, "role": "client", "organizationId": org_id, "organizationName": company } }),
                    })
                    .await?;
                    Ok(user)
            })
            .await?;
        let session = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let session = self.open_session_in(conn, &user, meta).await?;
                audit::record(
                    conn,
                    meta,
                    AuditEvent {
                        actor_id: Some(user.id),
                        action: "auth.login",
                        entity_type: "session",
                        entity_id: Some(session.0.to_string()),
                        diff: json!({ "method": "registration" }),
                    },
                )
                .await?;
                Ok((user, session))
            })
            .await?;
        self.issue_session(session.0, session.1)
    }

    /// Checks email and password; answers the same way for unknown accounts.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, AppError> {
        let mut conn = self.conn().await?;
        let limits = self.config.rate_limits;
        self.consume(
            &mut conn,
            ip_key("login", meta),
            limits.login_per_ip_per_minute,
            Duration::from_secs(60),
        )
        .await?;
        rate_limit::check_lockout(&mut conn, email, &limits).await?;

        let user = find_user_by_email(&mut conn, email).await?;
        let usable = user.as_ref().filter(|user| user.status == "active");
        let matched = self
            .hasher
            .verify(
                password,
                usable.and_then(|user| user.password_hash.as_deref()),
            )
            .await?;
        let Some(user) = usable.filter(|_| matched).cloned() else {
            rate_limit::record_login_failure(&mut conn, email).await?;
            let user_id = user.as_ref().map(|user| user.id);
            audit::record(
                &mut conn,
                meta,
                AuditEvent {
                    actor_id: user_id,
                    action: "auth.login_failed",
                    entity_type: "user",
                    entity_id: user_id.map(|id| id.to_string()),
                    diff: json!({ "email": normalize_email(email) }),
                },
            )
            .await?;
            return Err(AppError::unauthenticated("Email or password is incorrect"));
        };
        rate_limit::clear_login_failures(&mut conn, email).await?;

        if user.mfa_required() {
            let challenge = self.start_challenge(&mut conn, &user, meta).await?;
            return Ok(LoginOutcome::MfaRequired(challenge));
        }
        let signed_in = &user;
        let session = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let session = self.open_session_in(conn, signed_in, meta).await?;
                audit::record(
                    conn,
                    meta,
                    AuditEvent {
                        actor_id: Some(signed_in.id),
                        action: "auth.login",
                        entity_type: "session",
                        entity_id: Some(session.0.to_string()),
                        diff: json!({ "method": "password" }),
                    },
                )
                .await?;
                Ok(session)
            })
            .await?;
        Ok(LoginOutcome::Signed(Box::new(
            self.issue_session(user, session)?,
        )))
    }

    /// Rotates a refresh token. Presenting a token that was already rotated
    /// means it was stolen or replayed: the whole session is revoked.
    pub async fn refresh(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        enum Outcome {
            Rotated(Box<User>, (Uuid, String, DateTime<Utc>)),
            Reused,
            Invalid,
        }
        let mut conn = self.conn().await?;
        let presented = hash_token(refresh_token);
        let outcome = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let found: Option<(Uuid, Option<DateTime<Utc>>, Session)> = refresh_tokens::table
                    .inner_join(sessions::table)
                    .filter(refresh_tokens::token_hash.eq(&presented))
                    .select((
                        refresh_tokens::id,
                        refresh_tokens::rotated_at,
                        Session::as_select(),
                    ))
                    .for_update()
                    .first(conn)
                    .await
                    .optional()?;
                let Some((token_id, rotated_at, session)) = found else {
                    return Ok(Outcome::Invalid);
                };
                if session.revoked_at.is_some() || session.expires_at <= Utc::now() {
                    return Ok(Outcome::Invalid);
                }
                if rotated_at.is_some() {
                    revoke_sessions(
                        conn,
                        SessionSelector::One(session.id),
                        "refresh_token_reuse",
                    )
                    .await?;
                    audit::record(
                        conn,
                        meta,
                        AuditEvent {
                            actor_id: Some(session.user_id),
                            action: "auth.refresh_reuse",
                            entity_type: "session",
                            entity_id: Some(session.id.to_string()),
                            diff: json!({ "revoked": true }),
                        },
                    )
                    .await?;
                    return Ok(Outcome::Reused);
                }
                let user: User = users::table
                    .find(session.user_id)
                    .select(User::as_select())
                    .first(conn)
                    .await?;
                if user.status != "active" {
                    return Ok(Outcome::Invalid);
                }
                diesel::update(refresh_tokens::table.find(token_id))
                    .set(refresh_tokens::rotated_at.eq(Utc::now()))
                    .execute(conn)
                    .await?;
                let next = new_opaque_token();
                diesel::insert_into(refresh_tokens::table)
                    .values((
                        refresh_tokens::id.eq(Uuid::now_v7()),
                        refresh_tokens::session_id.eq(session.id),
                        refresh_tokens::token_hash.eq(hash_token(&next)),
                    ))
                    .execute(conn)
                    .await?;
                diesel::update(sessions::table.find(session.id))
                    .set(sessions::last_used_at.eq(Utc::now()))
                    .execute(conn)
                    .await?;
                Ok(Outcome::Rotated(
                    Box::new(user),
                    (session.id, next, session.expires_at),
                ))
            })
            .await?;
        match outcome {
            Outcome::Rotated(user, session) => self.issue_session(*user, session),
            Outcome::Reused => Err(AppError::unauthenticated(
                "This refresh token was already used; the session has been signed out",
            )),
            Outcome::Invalid => Err(AppError::unauthenticated(
                "Invalid or expired refresh token",
            )),
        }
    }

    /// Ends the caller's current session.
    pub async fn logout(&self, principal: &Principal, meta: &RequestMeta) -> Result<(), AppError> {
        self.revoke_session(principal, principal.session_id, meta)
            .await
    }

    /// Ends the session that `refresh_token` belongs to (REST logout with a cookie).
    pub async fn logout_refresh_token(
        &self,
        refresh_token: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let mut conn = self.conn().await?;
        let presented = hash_token(refresh_token);
        let session: Option<Session> = refresh_tokens::table
            .inner_join(sessions::table)
            .filter(refresh_tokens::token_hash.eq(&presented))
            .select(Session::as_select())
            .first(&mut conn)
            .await
            .optional()?;
        let Some(session) = session else {
            return Ok(());
        };
        conn.transaction::<_, AppError, _>(async move |conn| {
            revoke_sessions(conn, SessionSelector::One(session.id), "logout").await?;
            audit::record(
                conn,
                meta,
                AuditEvent {
                    actor_id: Some(session.user_id),
                    action: "auth.logout",
                    entity_type: "session",
                    entity_id: Some(session.id.to_string()),
                    diff: json!({}),
                },
            )
            .await
        })
        .await
    }

    /// Revokes one of the caller's own sessions; another user's is `NOT_FOUND`.
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: Uuid,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let owned: Option<Session> = sessions::table
                .find(session_id)
                .filter(sessions::user_id.eq(principal.user_id))
                .select(Session::as_select())
                .first(conn)
                .await
                .optional()?;
            let Some(session) = owned else {
                return Err(AppError::not_found("session"));
            };
            let reason = if session.id == principal.session_id {
                "logout"
            } else {
                "revoked_by_user"
            };
            revoke_sessions(conn, SessionSelector::One(session.id), reason).await?;
            audit::record(
                conn,
                meta,
                AuditEvent {
                    actor_id: Some(principal.user_id),
                    action: "auth.logout",
                    entity_type: "session",
                    entity_id: Some(session.id.to_string()),
                    diff: json!({ "reason": reason }),
                },
            )
            .await
        })
        .await
    }

    /// Active sessions of a user, newest first.
    pub async fn active_sessions(&self, user_id: Uuid) -> Result<Vec<Session>, AppError> {
        let mut conn = self.conn().await?;
        Ok(sessions::table
            .filter(sessions::user_id.eq(user_id))
            .filter(sessions::revoked_at.is_null())
            .filter(sessions::expires_at.gt(Utc::now()))
            .order(sessions::created_at.desc())
            .select(Session::as_select())
            .load(&mut conn)
            .await?)
    }

    // ---- password reset ------------------------------------------------

    /// Sends a reset link when the account exists; the answer never says whether it does.
    pub async fn request_password_reset(
        &self,
        email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let mut conn = self.conn().await?;
        let limits = self.config.rate_limits;
        self.consume(
            &mut conn,
            ip_key("reset", meta),
            limits.reset_per_ip_per_hour,
            Duration::from_secs(3600),
        )
        .await?;
        let normalized = normalize_email(email);
        // Quietly ignore over-budget requests for one account: answering
        // RATE_LIMITED here would tell that the account exists.
        let account_budget = Budget {
            key: format!("reset:account:{normalized}"),
            limit: limits.reset_per_account_per_hour,
            window: Duration::from_secs(3600),
        };
        if rate_limit::consume(&mut conn, &account_budget)
            .await
            .is_err()
        {
            return Ok(());
        }
        let Some(user) = find_user_by_email(&mut conn, email)
            .await?
            .filter(|user| user.status == "active")
        else {
            return Ok(());
        };
        let token = new_opaque_token();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.reset_ttl).map_err(AppError::internal)?;
        let link = format!("{}/reset-password?token={token}", self.config.app_url);
        conn.transaction::<_, AppError, _>(async move |conn| {
                diesel::update(
                    one_time_tokens::table
                        .filter(one_time_tokens::user_id.eq(user.id))
                        .filter(one_time_tokens::purpose.eq("password_reset"))
                        .filter(one_time_tokens::used_at.is_null()),
                )
                .set(one_time_tokens::used_at.eq(Utc::now()))
                .execute(conn)
                .await?;
                diesel::insert_into(one_time_tokens::table)
                    .values((
                        one_time_tokens::id.eq(Uuid::now_v7()),
                        one_time_tokens::purpose.eq("password_reset"),
                        one_time_tokens::user_id.eq(user.id),
                        one_time_tokens::token_hash.eq(hash_token(&token)),
                        one_time_tokens::expires_at.eq(expires_at),
                    ))
                    .execute(conn)
                    .await?;
                kernel::mailer::enqueue_email(
                    conn,
                    &kernel::mailer::Email {
                        to: user.email.clone(),
                        subject: "Reset your Fluxorae password".into(),
                        text: format!(
                            "Hello {},\n\nSomeone asked to reset the password of your Fluxorae account. \
                             If it was you, open this link within an hour:\n\n{link}\n\n\
                             If it was not you, ignore this email; your password stays as it is.\n",
                            user.name
                        ),
                        html: None,
                    },
                )
                .await?;
                audit::record(conn, meta, AuditEvent {
                    actor_id: None,
                    action: "auth.password_reset_requested",
                    entity_type: "user",
                    entity_id: Some(user.id.to_string()),
                    diff: json!({}),
                })
                .await
        })
        .await
    }

    /// Sets a new password with a reset token and signs out every session.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let mut conn = self.conn().await?;
        let (token_id, user) = self
            .redeem_token(&mut conn, token, "password_reset", "token")
            .await?;
        check_strength(new_password, &[&user.email, &user.name])
            .map_err(|m| bad_password("newPassword", m))?;
        let hash = self.hasher.hash(new_password).await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let used = diesel::update(
                one_time_tokens::table
                    .find(token_id)
                    .filter(one_time_tokens::used_at.is_null()),
            )
            .set(one_time_tokens::used_at.eq(Utc::now()))
            .execute(conn)
            .await?;
            if used == 0 {
                return Err(invalid_token("token"));
            }
            diesel::update(users::table.find(user.id))
                .set((
                    users::password_hash.eq(&hash),
                    users::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            let revoked =
                revoke_sessions(conn, SessionSelector::AllOf(user.id), "password_reset").await?;
            audit::record(
                conn,
                meta,
                AuditEvent {
                    actor_id: Some(user.id),
                    action: "auth.password_reset",
                    entity_type: "user",
                    entity_id: Some(user.id.to_string()),
                    diff: json!({ "sessionsRevoked": revoked }),
                },
            )
            .await
        })
        .await
    }

    /// A usable one-time token: unused, unexpired, and its user still in the
    /// state the purpose needs (invited for an invitation, active for a reset),
    /// so disabling a user also voids their pending links.
    async fn redeem_token(
        &self,
        conn: &mut AsyncPgConnection,
        token: &str,
        purpose: &str,
        field: &str,
    ) -> Result<(Uuid, User), AppError> {
        let required_status = if purpose == "invitation" {
            "invited"
        } else {
            "active"
        };
        let found: Option<(Uuid, User)> = one_time_tokens::table
            .inner_join(users::table.on(users::id.eq(one_time_tokens::user_id)))
            .filter(one_time_tokens::token_hash.eq(hash_token(token)))
            .filter(one_time_tokens::purpose.eq(purpose))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(Utc::now()))
            .filter(users::status.eq(required_status))
            .select((one_time_tokens::id, User::as_select()))
            .first(conn)
            .await
            .optional()?;
        found.ok_or_else(|| invalid_token(field))
    }

    // ---- invitations and user management -------------------------------

    /// Invites a user with a role into an organization; the email carries a one-time link.
    pub async fn invite_user(
        &self,
        principal: &Principal,
        input: Invitation,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        principal.require("auth:user.invite")?;
        if !may_grant(principal.role, input.role) {
            return Err(AppError::forbidden(
                "You may not invite users with this role",
            ));
        }
        let email = validate_email(&input.email, "input.email")?;
        let name = required_text(&input.name, "input.name", 120)
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        let token = new_opaque_token();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.invitation_ttl).map_err(AppError::internal)?;
        let link = format!("{}/accept-invitation?token={token}", self.config.app_url);
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
                let organization = find_organization(conn, input.organization_id)
                    .await?
                    .ok_or_else(|| AppError::invalid_field("input.organizationId", "No such organization"))?;
                let expected = organization_kind_for(input.role);
                if OrganizationKind::from_db(&organization.kind) != Some(expected) {
                    return Err(AppError::invalid_field(
                        "input.organizationId",
                        format!("A {} belongs to an organization of kind {}", input.role.as_db(), expected.as_db()),
                    ));
                }
                let user = insert_user(conn, NewUser {
                    id: Uuid::now_v7(),
                    organization_id: organization.id,
                    email: &email,
                    name: &name,
                    phone: None,
                    role: input.role.as_db(),
                    status: "invited",
                    password_hash: None,
                }, INPUT_FIELDS)
                .await?;
                diesel::insert_into(one_time_tokens::table)
                    .values((
                        one_time_tokens::id.eq(Uuid::now_v7()),
                        one_time_tokens::purpose.eq("invitation"),
                        one_time_tokens::user_id.eq(user.id),
                        one_time_tokens::token_hash.eq(hash_token(&token)),
                        one_time_tokens::created_by.eq(principal.user_id),
                        one_time_tokens::expires_at.eq(expires_at),
                    ))
                    .execute(conn)
                    .await?;
                kernel::mailer::enqueue_email(conn, &kernel::mailer::Email {
                    to: user.email.clone(),
                    subject: format!("You are invited to {} on Fluxorae", organization.name),
                    text: format!(
                        "Hello {},\n\nYou have been invited to join {} on Fluxorae. \
                         Choose your password here within 7 days:\n\n{link}\n",
                        user.name, organization.name
                    ),
                    html: None,
                })
                .await?;
                audit::record(conn, meta, AuditEvent {
                    actor_id: Some(principal.user_id),
                    action: "user.invited",
                    entity_type: "user",
                    entity_id: Some(user.id.to_string()),
                    diff: json!({ "after": { "email": user.email, "role": user.role, "organizationId": user.organization_id, "status": "invited" } }),
                })
                .await?;
                Ok(user)
        })
        .await
    }

    /// Accepts an invitation: sets the password, activates the user, signs in.
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        let mut conn = self.conn().await?;
        let (token_id, user) = self
            .redeem_token(&mut conn, token, "invitation", "input.token")
            .await?;
        let name = match name {
            Some(name) => required_text(name, "input.name", 120)
                .map_err(|e| AppError::invalid_fields(vec![e]))?,
            None => user.name.clone(),
        };
        check_strength(password, &[&user.email, &name])
            .map_err(|m| bad_password("input.password", m))?;
        let hash = self.hasher.hash(password).await?;
        let (user, session) = conn
            .transaction::<_, AppError, _>(async move |conn| {
                    let used = diesel::update(one_time_tokens::table.find(token_id).filter(one_time_tokens::used_at.is_null()))
                        .set(one_time_tokens::used_at.eq(Utc::now()))
                        .execute(conn)
                        .await?;
                    if used == 0 {
                        return Err(invalid_token("input.token"));
                    }
                    let user: User = diesel::update(users::table.find(user.id))
                        .set((
                            users::password_hash.eq(&hash),
                            users::name.eq(&name),
                            users::status.eq("active"),
                            users::updated_at.eq(Utc::now()),
                        ))
                        .returning(User::as_returning())
                        .get_result(conn)
                        .await?;
                    audit::record(conn, meta, AuditEvent {
                        actor_id: Some(user.id),
                        action: "user.invitation_accepted",
                        entity_type: "user",
                        entity_id: Some(user.id.to_string()),
                        diff: json!({ "before": { "status": "invited" }, "after": { "status": "active" } }),
                    })
                    .await?;
                    let session = self.open_session_in(conn, &user, meta).await?;
                    Ok((user, session))
            })
            .await?;
        self.issue_session(user, session)
    }

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
        conn.transaction::<_, AppError, _>(async move |conn| {
                let target = lock_user(conn, user_id).await?;
                if !may_manage(principal.role, target.role()) || !may_grant(principal.role, role) {
                    return Err(AppError::forbidden("You may not give this role to this user"));
                }
                let organization = find_organization(conn, target.organization_id).await?.ok_or_else(|| AppError::not_found("organization"))?;
                if OrganizationKind::from_db(&organization.kind) != Some(organization_kind_for(role)) {
                    return Err(AppError::invalid_field("role", "This role does not fit the user's organization"));
                }
                let updated: User = diesel::update(users::table.find(user_id))
                    .set((users::role.eq(role.as_db()), users::updated_at.eq(Utc::now())))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                audit::record(conn, meta, AuditEvent {
                    actor_id: Some(principal.user_id),
                    action: "user.role_changed",
                    entity_type: "user",
                    entity_id: Some(user_id.to_string()),
                    diff: json!({ "before": { "role": target.role }, "after": { "role": updated.role } }),
                })
                .await?;
                Ok(updated)
        })
        .await
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
        conn.transaction::<_, AppError, _>(async move |conn| {
                let target = lock_user(conn, user_id).await?;
                if !may_manage(principal.role, target.role()) {
                    return Err(AppError::forbidden("You may not manage this user"));
                }
                let status = if disabled {
                    "disabled"
                } else if target.password_hash.is_some() {
                    "active"
                } else {
                    "invited"
                };
                let updated: User = diesel::update(users::table.find(user_id))
                    .set((users::status.eq(status), users::updated_at.eq(Utc::now())))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                let revoked = if disabled {
                    revoke_sessions(conn, SessionSelector::AllOf(user_id), "user_disabled").await?
                } else {
                    0
                };
                audit::record(conn, meta, AuditEvent {
                    actor_id: Some(principal.user_id),
                    action: if disabled { "user.disabled" } else { "user.enabled" },
                    entity_type: "user",
                    entity_id: Some(user_id.to_string()),
                    diff: json!({ "before": { "status": target.status }, "after": { "status": status }, "sessionsRevoked": revoked }),
                })
                .await?;
                Ok(updated)
        })
        .await
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
                query = query.filter(users::role.eq(role.as_db()));
            }
            if let Some(status) = &filter.status {
                query = query.filter(users::status.eq(status.clone()));
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
        users::table
            .find(user_id)
            .select(User::as_select())
            .first(&mut conn)
            .await
            .optional()?
            .ok_or_else(|| AppError::not_found("user"))
    }

    /// Users by id, for the dataloader (no scope: callers already hold the ids).
    pub async fn users_by_ids(&self, ids: &[Uuid]) -> Result<Vec<User>, AppError> {
        let mut conn = self.conn().await?;
        Ok(users::table
            .filter(users::id.eq_any(ids))
            .select(User::as_select())
            .load(&mut conn)
            .await?)
    }

    /// Organizations by id, for the dataloader.
    pub async fn organizations_by_ids(&self, ids: &[Uuid]) -> Result<Vec<Organization>, AppError> {
        let mut conn = self.conn().await?;
        Ok(organizations::table
            .filter(organizations::id.eq_any(ids))
            .select(Organization::as_select())
            .load(&mut conn)
            .await?)
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
                    if kind != OrganizationKind::Client || partner_org.as_ref().map(|o| o.kind.as_str()) != Some("partner") {
                        return Err(AppError::invalid_field("input.referredByPartnerId", "Only client organizations are referred, and only by a partner organization"));
                    }
                }
                let organization: Organization = diesel::insert_into(organizations::table)
                    .values((
                        organizations::id.eq(Uuid::now_v7()),
                        organizations::name.eq(&name),
                        organizations::kind.eq(kind.as_db()),
                        organizations::referred_by_partner_id.eq(referred_by),
                    ))
                    .returning(Organization::as_returning())
                    .get_result(conn)
                    .await
                    .map_err(|error| map_unique(error, INPUT_FIELDS))?;
                audit::record(conn, meta, AuditEvent {
                    actor_id: Some(principal.user_id),
                    action: "organization.created",
                    entity_type: "organization",
                    entity_id: Some(organization.id.to_string()),
                    diff: json!({ "after": { "name": organization.name, "kind": organization.kind, "referredByPartnerId": organization.referred_by_partner_id } }),
                })
                .await?;
                Ok(organization)
        })
        .await
    }

    /// A partner refers a new client organization: it is created as a client
    /// organization referred by the partner's own organization.
    pub async fn refer_client_organization(
        &self,
        principal: &Principal,
        name: &str,
        meta: &RequestMeta,
    ) -> Result<Organization, AppError> {
        principal.require("auth:organization.refer")?;
        let name = required_text(name, "input.name", 160)
            .map_err(|e| AppError::invalid_fields(vec![e]))?;
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async |conn| {
            let organization: Organization = diesel::insert_into(organizations::table)
                .values((
                    organizations::id.eq(Uuid::now_v7()),
                    organizations::name.eq(&name),
                    organizations::kind.eq(OrganizationKind::Client.as_db()),
                    organizations::referred_by_partner_id.eq(principal.org_id),
                ))
                .returning(Organization::as_returning())
                .get_result(conn)
                .await
                .map_err(|error| map_unique(error, INPUT_FIELDS))?;
            audit::record(conn, meta, AuditEvent {
                actor_id: Some(principal.user_id),
                action: "organization.referred",
                entity_type: "organization",
                entity_id: Some(organization.id.to_string()),
                diff: json!({ "after": { "name": organization.name, "kind": "client", "referredByPartnerId": principal.org_id } }),
            })
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
        let scope = principal.scope();
        let own = principal.org_id;
        let build = || {
            let mut query = organizations::table.into_boxed();
            match scope {
                AccessScope::Staff => {}
                AccessScope::ClientOrg(org) => query = query.filter(organizations::id.eq(org)),
                AccessScope::Assigned(_) => query = query.filter(organizations::id.eq(own)),
                AccessScope::Partner(partner) => {
                    query = query.filter(
                        organizations::id
                            .eq(partner)
                            .or(organizations::referred_by_partner_id.eq(partner)),
                    )
                }
            }
            if let Some(kind) = kind {
                query = query.filter(organizations::kind.eq(kind.as_db()));
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
        let organization = find_organization(&mut conn, id)
            .await?
            .ok_or_else(|| AppError::not_found("organization"))?;
        let visible = match principal.scope() {
            AccessScope::Staff => true,
            AccessScope::ClientOrg(org) => org == id,
            AccessScope::Assigned(_) => principal.org_id == id,
            AccessScope::Partner(partner) => {
                partner == id || organization.referred_by_partner_id == Some(partner)
            }
        };
        if visible {
            Ok(organization)
        } else {
            Err(AppError::not_found("organization"))
        }
    }

    // ---- operators -----------------------------------------------------

    /// Creates an active user (and the organization, when missing) for operators
    /// and scripts; `fluxorae create-user` calls it.
    pub async fn create_user(
        &self,
        email: &str,
        password: &str,
        role: Role,
        organization_name: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<(User, Organization), AppError> {
        let email = validate_email(email, "email")?;
        check_strength(password, &[&email]).map_err(|m| bad_password("password", m))?;
        let kind = organization_kind_for(role);
        let organization_name = match (organization_name, kind) {
            (Some(name), _) => {
                required_text(name, "org", 160).map_err(|e| AppError::invalid_fields(vec![e]))?
            }
            (None, OrganizationKind::Agency) => "Fluxorae Agency".to_string(),
            (None, _) => {
                return Err(AppError::invalid_field(
                    "org",
                    "Clients and partners need an organization name",
                ));
            }
        };
        let hash = self.hasher.hash(password).await?;
        let name = email.split('@').next().unwrap_or_default().to_string();
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
                let existing: Option<Organization> = organizations::table
                    .filter(diesel::dsl::sql::<diesel::sql_types::Bool>("lower(name) = lower(").bind::<diesel::sql_types::Text, _>(&organization_name).sql(")"))
                    .select(Organization::as_select())
                    .first(conn)
                    .await
                    .optional()?;
                let organization = match existing {
                    Some(organization) if OrganizationKind::from_db(&organization.kind) != Some(kind) => {
                        return Err(AppError::invalid_field("org", format!("{} is an organization of kind {}, not {}", organization.name, organization.kind, kind.as_db())));
                    }
                    Some(organization) => organization,
                    None => {
                        let organization: Organization = diesel::insert_into(organizations::table)
                            .values((
                                organizations::id.eq(Uuid::now_v7()),
                                organizations::name.eq(&organization_name),
                                organizations::kind.eq(kind.as_db()),
                            ))
                            .returning(Organization::as_returning())
                            .get_result(conn)
                            .await?;
                        audit::record(conn, meta, AuditEvent {
                            actor_id: None,
                            action: "organization.created",
                            entity_type: "organization",
                            entity_id: Some(organization.id.to_string()),
                            diff: json!({ "after": { "name": organization.name, "kind": organization.kind }, "via": "cli" }),
                        })
                        .await?;
                        organization
                    }
                };
                let user = insert_user(conn, NewUser {
                    id: Uuid::now_v7(),
                    organization_id: organization.id,
                    email: &email,
                    name: &name,
                    phone: None,
                    role: role.as_db(),
                    status: "active",
                    password_hash: Some(&hash),
                }, REGISTER_FIELDS)
                .await?;
                audit::record(conn, meta, AuditEvent {
                    actor_id: None,
                    action: "user.created",
                    entity_type: "user",
                    entity_id: Some(user.id.to_string()),
                    diff: json!({ "after": { "email": user.email, "role": user.role, "organizationId": organization.id }, "via": "cli" }),
                })
                .await?;
                Ok((user, organization))
        })
        .await
    }

    /// Audit entries, newest first.
    pub async fn audit_log(
        &self,
        principal: &Principal,
        filter: &audit::AuditFilter,
        before_seq: Option<i64>,
        limit: usize,
    ) -> Result<Page<audit::AuditEntry>, AppError> {
        principal.require("auth:audit.read")?;
        let mut conn = self.conn().await?;
        let (rows, total) = audit::list(&mut conn, filter, before_seq, limit as i64).await?;
        Ok(Page::from_overfetch(rows, limit, total))
    }

    /// Re-computes the audit chain.
    pub async fn verify_audit_chain(
        &self,
        principal: &Principal,
    ) -> Result<audit::ChainCheck, AppError> {
        principal.require("auth:audit.read")?;
        let mut conn = self.conn().await?;
        audit::verify_chain(&mut conn).await
    }

    /// Prunes old rate-limit windows; call periodically.
    pub async fn prune_rate_limits(&self) -> Result<usize, AppError> {
        let mut conn = self.conn().await?;
        rate_limit::prune(&mut conn).await
    }
}

#[async_trait::async_trait]
impl Authenticator for AuthService {
    async fn authenticate(&self, access_token: &str) -> Result<Principal, AppError> {
        let claims = self.tokens.verify(access_token)?;
        let mut conn = self.conn().await?;
        let row: Option<(Session, String, String, Uuid)> = sessions::table
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
        if session.revoked_at.is_some() || session.expires_at <= Utc::now() || status != "active" {
            return Err(revoked());
        }
        let role =
            Role::from_db(&role).ok_or_else(|| AppError::internal("unknown role in database"))?;
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

pub(crate) async fn find_user_by_email(
    conn: &mut AsyncPgConnection,
    email: &str,
) -> Result<Option<User>, AppError> {
    Ok(users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Bool>("lower(email) = ")
                .bind::<diesel::sql_types::Text, _>(normalize_email(email)),
        )
        .select(User::as_select())
        .first(conn)
        .await
        .optional()?)
}

async fn find_organization(
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

async fn lock_user(conn: &mut AsyncPgConnection, id: Uuid) -> Result<User, AppError> {
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
    reason: &str,
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

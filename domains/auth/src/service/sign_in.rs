//! Sign-in, refresh-token rotation, logout and the session list.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::schema::{refresh_tokens, sessions};
use kernel::{AppError, Principal, RequestMeta};
use serde_json::json;
use uuid::Uuid;

use super::{
    AuthService, IssuedSession, LoginOutcome, SessionSelector, ip_key, load_user, normalize_email,
    revoke_sessions, validate_email,
};
use crate::audit::AuditEvent;
use crate::model::{RevokeReason, Session, User, UserStatus};
use crate::rate_limit;
use crate::repo::find_user_by_email;
use crate::tokens::{hash_token, new_opaque_token};
use kernel::events::SessionChange;

impl AuthService {
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

    /// Checks email and password; answers the same way for unknown accounts.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        meta: &RequestMeta,
    ) -> Result<LoginOutcome, AppError> {
        // The email becomes part of rate-limit keys and audit entries: a
        // malformed or overlong one is refused before anything is written.
        let email = &validate_email(email, "email")?;
        let mut conn = self.conn().await?;
        self.consume(
            &mut conn,
            ip_key("login", meta),
            self.config.rate_limits.login_per_ip_per_minute,
            Duration::from_secs(60),
        )
        .await?;

        let user = find_user_by_email(&mut conn, email).await?;
        let usable = user
            .as_ref()
            .filter(|user| user.status == UserStatus::Active);
        let matched = self
            .check_password(
                &mut conn,
                email,
                password,
                usable.and_then(|user| user.password_hash.as_deref()),
            )
            .await?;
        let Some(user) = usable.filter(|_| matched).cloned() else {
            let failed = AuditEvent::new("auth.login_failed", "user")
                .diff(json!({ "email": normalize_email(email) }));
            // An unknown email has no entity and no actor.
            let failed = match &user {
                Some(user) => failed.of(user.id).by(user.id),
                None => failed,
            };
            failed.record(&mut conn, meta).await?;
            return Err(AppError::unauthenticated("Email or password is incorrect"));
        };

        if user.mfa_required() {
            let challenge = self.start_challenge(&mut conn, &user, meta).await?;
            return Ok(LoginOutcome::MfaRequired(challenge));
        }
        let signed_in = &user;
        let session = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let session = self.open_session_in(conn, signed_in, meta).await?;
                AuditEvent::new("auth.login", "session")
                    .of(session.0)
                    .by(signed_in.id)
                    .diff(json!({ "method": "password" }))
                    .record(conn, meta)
                    .await?;
                Ok(session)
            })
            .await?;
        Ok(LoginOutcome::Signed(Box::new(
            self.issue_session(user, session)?,
        )))
    }

    /// Checks `password` against `hash` (`None`: a dummy hash, answering false)
    /// on the account's one budget of password checks, shared by login and
    /// every re-check of the password: the check is counted before Argon2 runs,
    /// handed back when it never ran, and a match clears the failures.
    pub(crate) async fn check_password(
        &self,
        conn: &mut AsyncPgConnection,
        email: &str,
        password: &str,
        hash: Option<&str>,
    ) -> Result<bool, AppError> {
        let reserved =
            rate_limit::reserve_password_check(conn, email, &self.config.rate_limits).await?;
        let matched = match self.hasher.verify(password, hash).await {
            Ok(matched) => matched,
            Err(error) => {
                rate_limit::release(conn, &reserved).await?;
                return Err(error);
            }
        };
        if matched {
            rate_limit::clear_login_failures(conn, email).await?;
        }
        Ok(matched)
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
            Reused(Session),
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
                        RevokeReason::RefreshTokenReuse,
                    )
                    .await?;
                    AuditEvent::new("auth.refresh_reuse", "session")
                        .of(session.id)
                        .by(session.user_id)
                        .diff(json!({ "revoked": true }))
                        .record(conn, meta)
                        .await?;
                    return Ok(Outcome::Reused(session));
                }
                let user = load_user(conn, session.user_id).await?;
                if user.status != UserStatus::Active {
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
            Outcome::Reused(session) => {
                self.publish_session_change(
                    None,
                    SessionChange::Revoked {
                        user_id: session.user_id,
                        session_id: Some(session.id),
                    },
                );
                Err(AppError::unauthenticated(
                    "This refresh token was already used; the session has been signed out",
                ))
            }
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
        conn.transaction::<_, AppError, _>(async |conn| {
            revoke_sessions(conn, SessionSelector::One(session.id), RevokeReason::Logout).await?;
            AuditEvent::new("auth.logout", "session")
                .of(session.id)
                .by(session.user_id)
                .record(conn, meta)
                .await
        })
        .await?;
        self.publish_session_change(
            Some(session.user_id),
            SessionChange::Revoked {
                user_id: session.user_id,
                session_id: Some(session.id),
            },
        );
        Ok(())
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
                RevokeReason::Logout
            } else {
                RevokeReason::RevokedByUser
            };
            revoke_sessions(conn, SessionSelector::One(session.id), reason).await?;
            AuditEvent::new("auth.logout", "session")
                .of(session.id)
                .by(principal.user_id)
                .diff(json!({ "reason": reason }))
                .record(conn, meta)
                .await
        })
        .await?;
        self.publish_session_change(
            Some(principal.user_id),
            SessionChange::Revoked {
                user_id: principal.user_id,
                session_id: Some(session_id),
            },
        );
        Ok(())
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
}

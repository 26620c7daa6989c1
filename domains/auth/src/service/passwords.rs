//! Password reset by emailed link; the request and the mail are split so that
//! the request does the same work for every address (see [`crate::jobs`]).

use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use kernel::outbox;
use kernel::schema::{one_time_tokens, users};
use kernel::{AppError, RequestMeta};
use serde_json::json;
use uuid::Uuid;

use super::{
    AuthService, SessionSelector, bad_password, invalid_token, ip_key, normalize_email,
    revoke_sessions,
};
use crate::audit::AuditEvent;
use crate::jobs;
use crate::model::{RevokeReason, TokenPurpose, UserStatus};
use crate::password::check_strength;
use crate::rate_limit::{self, Budget};
use crate::repo::find_user_by_email;
use crate::tokens::{hash_token, new_opaque_token};
use kernel::events::SessionChange;

impl AuthService {
    /// Asks for a reset link. The answer and the request's work are the same
    /// for every address: it only counts the budgets and enqueues a
    /// [`jobs::PASSWORD_RESET`] job, which mails the link when the address has
    /// an active account ([`Self::mail_password_reset`]).
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
        match rate_limit::consume(&mut conn, &account_budget).await {
            Err(error) if error.code() == kernel::ErrorCode::RateLimited => return Ok(()),
            result => result?,
        }
        outbox::enqueue(
            &mut conn,
            jobs::PASSWORD_RESET,
            json!({ "email": email.trim(), "meta": jobs::meta_payload(meta) }),
        )
        .await?;
        Ok(())
    }

    /// The [`jobs::PASSWORD_RESET`] job: when `email` has an active account,
    /// voids its earlier reset links and mails a new one; otherwise nothing.
    pub async fn mail_password_reset(
        &self,
        email: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let token = new_opaque_token();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config.reset_ttl).map_err(AppError::internal)?;
        let link = format!("{}/reset-password?token={token}", self.config.app_url);
        let mut conn = self.conn().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let Some(user) = find_user_by_email(conn, email)
                .await?
                .filter(|user| user.status == UserStatus::Active)
            else {
                return Ok(());
            };
            diesel::update(
                one_time_tokens::table
                    .filter(one_time_tokens::user_id.eq(user.id))
                    .filter(one_time_tokens::purpose.eq(TokenPurpose::PasswordReset))
                    .filter(one_time_tokens::used_at.is_null()),
            )
            .set(one_time_tokens::used_at.eq(Utc::now()))
            .execute(conn)
            .await?;
            diesel::insert_into(one_time_tokens::table)
                .values((
                    one_time_tokens::id.eq(Uuid::now_v7()),
                    one_time_tokens::purpose.eq(TokenPurpose::PasswordReset),
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
            AuditEvent::new("auth.password_reset_requested", "user")
                .of(user.id)
                .record(conn, meta)
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
            .redeem_token(&mut conn, token, TokenPurpose::PasswordReset, "token")
            .await?;
        check_strength(new_password, &[&user.email, &user.name])
            .map_err(|m| bad_password("newPassword", m))?;
        let hash = self.hasher.hash(new_password).await?;
        let user_id = user.id;
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
            let revoked = revoke_sessions(
                conn,
                SessionSelector::AllOf(user.id),
                RevokeReason::PasswordReset,
            )
            .await?;
            AuditEvent::new("auth.password_reset", "user")
                .of(user.id)
                .by(user.id)
                .diff(json!({ "sessionsRevoked": revoked }))
                .record(conn, meta)
                .await
        })
        .await?;
        self.publish_session_change(
            Some(user_id),
            SessionChange::Revoked {
                user_id,
                session_id: None,
            },
        );
        Ok(())
    }
}

//! Second factors: TOTP enrolment, recovery codes, email and SMS one-time codes,
//! and the challenge a correct password opens.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use kernel::schema::{mfa_challenges, recovery_codes, sessions, users};
use kernel::{AppError, Principal, RequestMeta};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::totp;
use crate::audit::AuditEvent;
use crate::model::{MfaMethod, OtpChannel, User, UserStatus};
use crate::rate_limit::{self, Budget};
use crate::service::{AuthService, IssuedSession, MfaChallenge, load_user, lock_user};

/// What a user needs to add the account to an authenticator app.
#[derive(Debug, Clone)]
pub struct TotpEnrollment {
    /// The secret in base32, for manual entry.
    pub secret: String,
    /// `otpauth://` URI.
    pub otpauth_uri: String,
    /// The URI as a QR code (SVG).
    pub qr_code_svg: String,
}

type ChallengeRow = (
    MfaMethod,
    Option<Vec<u8>>,
    i32,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Uuid,
);

/// Code checks one account may make in an hour (login challenges, and proving
/// the second factor before changing or removing it).
const CODE_CHECKS_PER_HOUR: u32 = 30;

/// How long after a sign-in that passed the second factor its session may
/// change that factor without another code.
const FRESH_SIGN_IN_MINUTES: i64 = 10;

fn code_check_budget(user: Uuid) -> Budget {
    Budget {
        key: format!("mfa-check:account:{user}"),
        limit: CODE_CHECKS_PER_HOUR,
        window: std::time::Duration::from_secs(3600),
    }
}

fn code_hash(challenge_id: Uuid, code: &str) -> Vec<u8> {
    Sha256::digest(format!("{challenge_id}:{}", code.trim()).as_bytes()).to_vec()
}

fn recovery_hash(code: &str) -> Vec<u8> {
    totp::hash_recovery_code(code).to_vec()
}

fn six_digit_code() -> String {
    format!("{:06}", rand::random_range(0..1_000_000u32))
}

fn unix_now() -> u64 {
    Utc::now().timestamp().max(0) as u64
}

fn invalid_code() -> AppError {
    AppError::unauthenticated("The code is not valid")
}

impl AuthService {
    /// Opens the challenge after a correct password, sending a code by email or SMS when that is the factor.
    pub(crate) async fn start_challenge(
        &self,
        conn: &mut AsyncPgConnection,
        user: &User,
        meta: &RequestMeta,
    ) -> Result<MfaChallenge, AppError> {
        let method = if user.totp_enabled {
            MfaMethod::Totp
        } else {
            user.otp_channel.unwrap_or(OtpChannel::Email).into()
        };
        if method != MfaMethod::Totp {
            let budget = Budget {
                key: format!("otp:account:{}", user.id),
                limit: self.config().rate_limits.otp_per_account_per_hour,
                window: std::time::Duration::from_secs(3600),
            };
            rate_limit::consume(conn, &budget).await?;
        }
        let challenge_id = Uuid::now_v7();
        let expires_at = Utc::now()
            + chrono::Duration::from_std(self.config().mfa_challenge_ttl)
                .map_err(AppError::internal)?;
        let code = (method != MfaMethod::Totp).then(six_digit_code);
        let minutes = self.config().mfa_challenge_ttl.as_secs() / 60;
        let sent_code = code.clone();
        conn.transaction::<_, AppError, _>(async move |conn| {
            let code = sent_code;
            diesel::insert_into(mfa_challenges::table)
                .values((
                    mfa_challenges::id.eq(challenge_id),
                    mfa_challenges::user_id.eq(user.id),
                    mfa_challenges::method.eq(method),
                    mfa_challenges::code_hash
                        .eq(code.as_deref().map(|c| code_hash(challenge_id, c))),
                    mfa_challenges::ip.eq(&meta.ip),
                    mfa_challenges::user_agent.eq(&meta.user_agent),
                    mfa_challenges::expires_at.eq(expires_at),
                ))
                .execute(conn)
                .await?;
            if let (Some(code), MfaMethod::Email) = (code.as_deref(), method) {
                kernel::mailer::enqueue_email(
                    conn,
                    &kernel::mailer::Email {
                        to: user.email.clone(),
                        subject: "Your Fluxorae sign-in code".into(),
                        text: format!(
                            "Your sign-in code is {code}. It expires in {minutes} minutes.\n\n\
                             If you did not try to sign in, change your password."
                        ),
                        html: None,
                    },
                )
                .await?;
            }
            AuditEvent::new("auth.mfa_challenged", "user")
                .of(user.id)
                .by(user.id)
                .diff(json!({ "method": method }))
                .record(conn, meta)
                .await
        })
        .await?;
        if let (Some(code), MfaMethod::Sms) = (code, method) {
            let phone = user
                .phone
                .as_deref()
                .ok_or_else(|| AppError::internal("SMS factor without a phone number"))?;
            self.sms()
                .send_code(phone, &code)
                .await
                .map_err(AppError::internal)?;
        }
        Ok(MfaChallenge {
            challenge_id,
            method,
            expires_at,
        })
    }

    /// Completes a login with the code of its challenge (or a recovery code).
    pub async fn verify_mfa(
        &self,
        challenge_id: Uuid,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<IssuedSession, AppError> {
        enum Outcome {
            Passed(Box<User>, (Uuid, String, DateTime<Utc>)),
            Failed,
        }
        let max_attempts = self.config().otp_max_attempts;
        let mut conn = self.db().get().await?;
        // Besides the attempts of one challenge, an account gets a bounded
        // number of code checks an hour, so new challenges cannot be used to
        // keep guessing.
        let owner: Option<Uuid> = mfa_challenges::table
            .find(challenge_id)
            .select(mfa_challenges::user_id)
            .first(&mut conn)
            .await
            .optional()?;
        if let Some(owner) = owner {
            rate_limit::consume(&mut conn, &code_check_budget(owner)).await?;
        }
        let outcome = conn
            .transaction::<_, AppError, _>(async move |conn| {
                let row: Option<ChallengeRow> = mfa_challenges::table
                    .find(challenge_id)
                    .for_update()
                    .select((
                        mfa_challenges::method,
                        mfa_challenges::code_hash,
                        mfa_challenges::attempts,
                        mfa_challenges::expires_at,
                        mfa_challenges::consumed_at,
                        mfa_challenges::user_id,
                    ))
                    .first(conn)
                    .await
                    .optional()?;
                let Some((method, stored, attempts, expires_at, consumed_at, user_id)) = row else {
                    return Ok(Outcome::Failed);
                };
                if consumed_at.is_some() || expires_at <= Utc::now() || attempts >= max_attempts {
                    return Ok(Outcome::Failed);
                }
                diesel::update(mfa_challenges::table.find(challenge_id))
                    .set(mfa_challenges::attempts.eq(attempts + 1))
                    .execute(conn)
                    .await?;
                let user = lock_user(conn, user_id).await?;
                if user.status != UserStatus::Active {
                    return Ok(Outcome::Failed);
                }
                let mut passed = false;
                let mut factor = method.as_db();
                if method == MfaMethod::Totp {
                    if let Some(step) = self.totp_step(&user, code)? {
                        diesel::update(users::table.find(user.id))
                            .set(users::totp_last_step.eq(step as i64))
                            .execute(conn)
                            .await?;
                        passed = true;
                    }
                } else if let Some(stored) = stored {
                    passed = stored.ct_eq(&code_hash(challenge_id, code)).into();
                }
                if !passed && use_recovery_code(conn, user.id, code).await? {
                    passed = true;
                    factor = "recovery_code";
                }
                if !passed {
                    AuditEvent::new("auth.mfa_failed", "user")
                        .of(user.id)
                        .by(user.id)
                        .diff(json!({ "method": method, "attempt": attempts + 1 }))
                        .record(conn, meta)
                        .await?;
                    return Ok(Outcome::Failed);
                }
                diesel::update(mfa_challenges::table.find(challenge_id))
                    .set(mfa_challenges::consumed_at.eq(Utc::now()))
                    .execute(conn)
                    .await?;
                let session = self.open_session_in(conn, &user, meta).await?;
                diesel::update(sessions::table.find(session.0))
                    .set(sessions::second_factor_at.eq(Utc::now()))
                    .execute(conn)
                    .await?;
                AuditEvent::new("auth.login", "session")
                    .of(session.0)
                    .by(user.id)
                    .diff(json!({ "method": "password+mfa", "factor": factor }))
                    .record(conn, meta)
                    .await?;
                Ok(Outcome::Passed(Box::new(user), session))
            })
            .await?;
        match outcome {
            Outcome::Passed(user, session) => self.issue_session(*user, session),
            Outcome::Failed => Err(invalid_code()),
        }
    }

    /// Starts TOTP enrolment after re-authentication with the password: a new
    /// secret, not yet required until confirmed. An authenticator app replaces
    /// email or SMS codes, so with those on it also needs a fresh sign-in.
    pub async fn enroll_totp(
        &self,
        principal: &Principal,
        password: &str,
    ) -> Result<TotpEnrollment, AppError> {
        let mut conn = self.db().get().await?;
        let user = load_user(&mut conn, principal.user_id).await?;
        self.recheck_password(&mut conn, &user, password).await?;
        if user.totp_enabled {
            return Err(AppError::conflict(
                "Two-factor authentication is already on; turn it off first",
            ));
        }
        self.prove_second_factor(&mut conn, principal, &user, None)
            .await?;
        let secret = totp::generate_secret();
        let encoded = totp::base32_encode(&secret);
        diesel::update(users::table.find(user.id))
            .set(users::totp_secret.eq(self.totp_secrets().seal(user.id, &secret)))
            .execute(&mut conn)
            .await?;
        let uri = totp::otpauth_uri(&self.config().totp_issuer, &user.email, &secret);
        let qr = totp::qr_code_svg(&uri).map_err(AppError::internal)?;
        Ok(TotpEnrollment {
            secret: encoded,
            otpauth_uri: uri,
            qr_code_svg: qr,
        })
    }

    /// Confirms enrolment with a first code; answers fresh recovery codes, shown once.
    pub async fn confirm_totp(
        &self,
        principal: &Principal,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<Vec<String>, AppError> {
        let mut conn = self.db().get().await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let user = lock_user(conn, principal.user_id).await?;
            if user.totp_enabled {
                return Err(AppError::conflict(
                    "Two-factor authentication is already on",
                ));
            }
            if user.totp_secret.is_none() {
                return Err(AppError::bad_input("Start enrolment first"));
            }
            let step = self
                .totp_step(&user, code)?
                .ok_or_else(|| AppError::invalid_field("code", "The code is not valid"))?;
            diesel::update(users::table.find(user.id))
                .set((
                    users::totp_enabled.eq(true),
                    users::totp_last_step.eq(step as i64),
                    users::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            let codes = replace_recovery_codes(conn, user.id).await?;
            record_totp_switch(conn, user.id, true, meta).await?;
            Ok(codes)
        })
        .await
    }

    /// Turns TOTP off after re-authentication with the password and a current code.
    pub async fn disable_totp(
        &self,
        principal: &Principal,
        password: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> Result<(), AppError> {
        let mut conn = self.db().get().await?;
        let user = load_user(&mut conn, principal.user_id).await?;
        rate_limit::consume(&mut conn, &code_check_budget(user.id)).await?;
        self.recheck_password(&mut conn, &user, password).await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
            let user = lock_user(conn, principal.user_id).await?;
            if !user.totp_enabled {
                return Err(AppError::conflict("Two-factor authentication is not on"));
            }
            let valid = self.totp_step(&user, code)?.is_some()
                || use_recovery_code(conn, user.id, code).await?;
            if !valid {
                return Err(AppError::invalid_field("code", "The code is not valid"));
            }
            diesel::update(users::table.find(user.id))
                .set((
                    users::totp_enabled.eq(false),
                    users::totp_secret.eq(None::<String>),
                    users::totp_last_step.eq(None::<i64>),
                    users::updated_at.eq(Utc::now()),
                ))
                .execute(conn)
                .await?;
            delete_recovery_codes(conn, user.id).await?;
            record_totp_switch(conn, user.id, false, meta).await
        })
        .await
    }

    /// Requires (or stops requiring) a one-time code by email or SMS at login;
    /// re-authenticates with the password and, when a second factor is on,
    /// with that factor (`code`, or a fresh sign-in).
    pub async fn set_otp_channel(
        &self,
        principal: &Principal,
        channel: Option<OtpChannel>,
        phone: Option<&str>,
        password: &str,
        code: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<User, AppError> {
        let mut conn = self.db().get().await?;
        let user = load_user(&mut conn, principal.user_id).await?;
        self.recheck_password(&mut conn, &user, password).await?;
        let phone = match phone.map(str::trim).filter(|p| !p.is_empty()) {
            Some(phone) => Some(validate_phone(phone)?),
            None => user.phone.clone(),
        };
        if channel == Some(OtpChannel::Sms) && phone.is_none() {
            return Err(AppError::invalid_field(
                "phone",
                "Add a mobile number to receive codes by SMS",
            ));
        }
        self.prove_second_factor(&mut conn, principal, &user, code)
            .await?;
        conn.transaction::<_, AppError, _>(async move |conn| {
                let updated: User = diesel::update(users::table.find(user.id))
                    .set((users::otp_channel.eq(channel), users::phone.eq(&phone), users::updated_at.eq(Utc::now())))
                    .returning(User::as_returning())
                    .get_result(conn)
                    .await?;
                AuditEvent::new("auth.mfa_channel_changed", "user").of(user.id).by(user.id).diff(json!({ "before": { "otpChannel": user.otp_channel }, "after": { "otpChannel": updated.otp_channel } })).record(conn, meta)
                .await?;
                Ok(updated)
        })
        .await
    }

    /// The TOTP step `code` matches for `user`, if any. A stored secret the
    /// configured keys cannot read is an internal error: refused, and logged.
    fn totp_step(&self, user: &User, code: &str) -> Result<Option<u64>, AppError> {
        let Some(stored) = user.totp_secret.as_deref() else {
            return Ok(None);
        };
        let secret = self
            .totp_secrets()
            .open(user.id, stored)
            .map_err(AppError::internal)?
            .secret;
        let last = user.totp_last_step.map(|step| step.max(0) as u64);
        Ok(totp::verify_totp(&secret, code, unix_now(), last))
    }

    /// Re-encrypts every stored TOTP secret that is not under the active key
    /// (plain ones from before encryption, or under an older key); answers
    /// how many. A secret no configured key reads is logged and left alone.
    pub async fn reseal_totp_secrets(&self) -> Result<usize, AppError> {
        let mut conn = self.db().get().await?;
        let current = format!("enc:v1:{}:%", self.totp_secrets().active_kid()).replace('_', "\\_");
        let stale: Vec<(Uuid, Option<String>)> = users::table
            .filter(users::totp_secret.is_not_null())
            .filter(users::totp_secret.not_like(current))
            .select((users::id, users::totp_secret))
            .load(&mut conn)
            .await?;
        let mut resealed = 0;
        for (user_id, stored) in stale {
            let Some(stored) = stored else { continue };
            match self.totp_secrets().reseal(user_id, &stored) {
                Ok(Some(sealed)) => {
                    // Only if unchanged since it was read: another instance or a
                    // new enrolment may have written it meanwhile.
                    resealed += diesel::update(
                        users::table
                            .find(user_id)
                            .filter(users::totp_secret.eq(&stored)),
                    )
                    .set(users::totp_secret.eq(sealed))
                    .execute(&mut conn)
                    .await?;
                }
                Ok(None) => {}
                Err(error) => {
                    tracing::warn!(%user_id, %error, "TOTP secret not re-encrypted");
                }
            }
        }
        Ok(resealed)
    }

    /// Re-authentication with the password, on the account's one budget of
    /// password checks (shared with login).
    async fn recheck_password(
        &self,
        conn: &mut AsyncPgConnection,
        user: &User,
        password: &str,
    ) -> Result<(), AppError> {
        let hash = user.password_hash.as_deref();
        if self
            .check_password(conn, &user.email, password, hash)
            .await?
        {
            Ok(())
        } else {
            Err(AppError::invalid_field(
                "password",
                "The password is not correct",
            ))
        }
    }

    /// Proof of the second factor the user has now, before it is changed or
    /// removed: a sign-in of this session that passed it in the last
    /// [`FRESH_SIGN_IN_MINUTES`], or `code` (a current TOTP code or an unused
    /// recovery code, on the account's hourly budget of code checks). Nothing
    /// to prove without a second factor. Runs outside the change's
    /// transaction, so that the checks it counts stay counted.
    async fn prove_second_factor(
        &self,
        conn: &mut AsyncPgConnection,
        principal: &Principal,
        user: &User,
        code: Option<&str>,
    ) -> Result<(), AppError> {
        if !user.mfa_required() {
            return Ok(());
        }
        let passed_at: Option<DateTime<Utc>> = sessions::table
            .find(principal.session_id)
            .select(sessions::second_factor_at)
            .first(conn)
            .await
            .optional()?
            .flatten();
        let fresh_since = Utc::now() - chrono::Duration::minutes(FRESH_SIGN_IN_MINUTES);
        if passed_at.is_some_and(|at| at > fresh_since) {
            return Ok(());
        }
        let Some(code) = code.map(str::trim).filter(|code| !code.is_empty()) else {
            return Err(AppError::forbidden(format!(
                "To change your second factor, sign in again with it (then you have \
                 {FRESH_SIGN_IN_MINUTES} minutes) or give a current code from your \
                 authenticator app or a recovery code"
            )));
        };
        rate_limit::consume(conn, &code_check_budget(user.id)).await?;
        if user.totp_enabled
            && let Some(step) = self.totp_step(user, code)?
        {
            // Only a step later than the last one used: the code is spent here.
            let spent = diesel::update(
                users::table.find(user.id).filter(
                    users::totp_last_step
                        .is_null()
                        .or(users::totp_last_step.lt(step as i64)),
                ),
            )
            .set(users::totp_last_step.eq(step as i64))
            .execute(conn)
            .await?;
            if spent > 0 {
                return Ok(());
            }
        }
        if use_recovery_code(conn, user.id, code).await? {
            return Ok(());
        }
        Err(AppError::invalid_field("code", "The code is not valid"))
    }
}

/// A phone number in E.164 (`+` and 8 to 15 digits).
pub fn validate_phone(phone: &str) -> Result<String, AppError> {
    let compact: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or_default();
    if (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(compact)
    } else {
        Err(AppError::invalid_field(
            "phone",
            "Enter the number with its country code, e.g. +919812345678",
        ))
    }
}

async fn use_recovery_code(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    code: &str,
) -> Result<bool, AppError> {
    let used = diesel::update(
        recovery_codes::table
            .filter(recovery_codes::user_id.eq(user_id))
            .filter(recovery_codes::code_hash.eq(recovery_hash(code)))
            .filter(recovery_codes::used_at.is_null()),
    )
    .set(recovery_codes::used_at.eq(Utc::now()))
    .execute(conn)
    .await?;
    Ok(used > 0)
}

/// Records that TOTP was turned on (`enabled`) or off for the user, by the user.
async fn record_totp_switch(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
    enabled: bool,
    meta: &RequestMeta,
) -> Result<(), AppError> {
    let action = if enabled {
        "auth.mfa_enabled"
    } else {
        "auth.mfa_disabled"
    };
    AuditEvent::new(action, "user")
        .of(user_id)
        .by(user_id)
        .diff(json!({ "before": { "totpEnabled": !enabled }, "after": { "totpEnabled": enabled } }))
        .record(conn, meta)
        .await
}

async fn delete_recovery_codes(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> Result<(), AppError> {
    diesel::delete(recovery_codes::table.filter(recovery_codes::user_id.eq(user_id)))
        .execute(conn)
        .await?;
    Ok(())
}

async fn replace_recovery_codes(
    conn: &mut AsyncPgConnection,
    user_id: Uuid,
) -> Result<Vec<String>, AppError> {
    delete_recovery_codes(conn, user_id).await?;
    let codes = totp::generate_recovery_codes(10);
    let rows: Vec<_> = codes
        .iter()
        .map(|code| {
            (
                recovery_codes::id.eq(Uuid::now_v7()),
                recovery_codes::user_id.eq(user_id),
                recovery_codes::code_hash.eq(recovery_hash(code)),
            )
        })
        .collect();
    diesel::insert_into(recovery_codes::table)
        .values(rows)
        .execute(conn)
        .await?;
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_need_a_country_code() {
        assert_eq!(
            validate_phone("+91 98123 45678").ok().as_deref(),
            Some("+919812345678")
        );
        assert!(validate_phone("9812345678").is_err());
        assert!(validate_phone("+91abc").is_err());
    }

    #[test]
    fn one_time_codes_are_bound_to_their_challenge() {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        assert_eq!(code_hash(a, "123456"), code_hash(a, " 123456 "));
        assert_ne!(code_hash(a, "123456"), code_hash(b, "123456"));
        assert_eq!(six_digit_code().len(), 6);
    }
}

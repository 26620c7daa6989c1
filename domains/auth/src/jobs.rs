//! The auth domain's outbox jobs: the half of a registration or a password
//! reset request that depends on whether the address has an account.
//!
//! The request itself only checks its input, hashes (registration), counts its
//! budgets and enqueues one of these jobs, the same for every address, so
//! neither its answer nor its work tells who has an account. The job looks the
//! account up and mails the owner, or the newcomer, or nobody.

use std::sync::Arc;

use kernel::outbox::{JobError, JobHandler, async_trait};
use kernel::{AppError, ErrorCode, RequestMeta};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::service::AuthService;

/// Job kind: mail a registration's confirmation link, or its address's owner.
pub const REGISTRATION: &str = "auth.registration";
/// Job kind: mail a reset link when the address has an active account.
pub const PASSWORD_RESET: &str = "auth.password_reset";

/// The request's facts for the audit entries the job writes.
pub(crate) fn meta_payload(meta: &RequestMeta) -> Value {
    json!({ "requestId": meta.request_id, "ip": meta.ip, "userAgent": meta.user_agent })
}

fn meta_of(payload: &Value) -> RequestMeta {
    let meta = &payload["meta"];
    let text = |key: &str| meta[key].as_str().map(str::to_owned);
    RequestMeta {
        request_id: text("requestId").unwrap_or_default(),
        ip: text("ip"),
        user_agent: text("userAgent"),
    }
}

/// Retry what may pass later; the message names no payload value.
fn job_error(error: AppError) -> JobError {
    error.log_if_internal();
    let message = format!("{} ({})", error.message(), error.code().as_str());
    if error.code() == ErrorCode::InternalServerError {
        JobError::retryable(message)
    } else {
        JobError::permanent(message)
    }
}

/// Runs [`REGISTRATION`] jobs.
pub struct RegistrationJob(pub Arc<AuthService>);

#[async_trait]
impl JobHandler for RegistrationJob {
    fn kind(&self) -> &'static str {
        REGISTRATION
    }

    async fn handle(&self, payload: &Value) -> Result<(), JobError> {
        let id = payload["registrationId"]
            .as_str()
            .and_then(|id| Uuid::parse_str(id).ok())
            .ok_or_else(|| JobError::permanent("payload has no registrationId"))?;
        self.0
            .mail_registration(id, &meta_of(payload))
            .await
            .map_err(job_error)
    }
}

/// Runs [`PASSWORD_RESET`] jobs.
pub struct PasswordResetJob(pub Arc<AuthService>);

#[async_trait]
impl JobHandler for PasswordResetJob {
    fn kind(&self) -> &'static str {
        PASSWORD_RESET
    }

    async fn handle(&self, payload: &Value) -> Result<(), JobError> {
        let email = payload["email"]
            .as_str()
            .ok_or_else(|| JobError::permanent("payload has no email"))?;
        self.0
            .mail_password_reset(email, &meta_of(payload))
            .await
            .map_err(job_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_facts_survive_the_payload() {
        let meta = RequestMeta {
            request_id: "req-1".into(),
            ip: Some("203.0.113.7".into()),
            user_agent: None,
        };
        let back = meta_of(&json!({ "meta": meta_payload(&meta) }));
        assert_eq!(back.request_id, "req-1");
        assert_eq!(back.ip.as_deref(), Some("203.0.113.7"));
        assert_eq!(back.user_agent, None);
    }
}

//! One error type for every use case, with stable client-facing codes.
//!
//! `AppError` deliberately does not implement `Display`: async-graphql converts
//! any `Display` type into a client error by copying its text, which would leak
//! SQL or paths. The only way to a client error is [`From<AppError>`] below,
//! which hides internal causes behind a generic message.

use async_graphql::ErrorExtensions;
use serde::Serialize;

/// Stable error codes; they reach clients in `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// No valid credentials were presented.
    Unauthenticated,
    /// Authenticated, but not allowed to do this.
    Forbidden,
    /// The row does not exist or is outside the caller's scope.
    NotFound,
    /// The input failed validation; see `extensions.fields`.
    BadUserInput,
    /// The change conflicts with the current state (duplicate, stale version).
    Conflict,
    /// Too many attempts; see `extensions.retryAfterSeconds`.
    RateLimited,
    /// Something failed on our side; details are in the server log only.
    InternalServerError,
    /// A dependency (the database) cannot be reached right now; retry after
    /// `extensions.retryAfterSeconds`. Never a verdict on the caller's
    /// credentials or rights: a client keeps its session.
    ServiceUnavailable,
}

impl ErrorCode {
    /// The wire form of the code, as clients see it in `extensions.code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::NotFound => "NOT_FOUND",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::Conflict => "CONFLICT",
            Self::RateLimited => "RATE_LIMITED",
            Self::InternalServerError => "INTERNAL_SERVER_ERROR",
            Self::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }

    /// Whether the error says "we could not answer" rather than anything
    /// about the request: such an error must never be turned into a
    /// `NOT_FOUND`, `FORBIDDEN` or `UNAUTHENTICATED` answer.
    pub fn is_server_failure(self) -> bool {
        matches!(self, Self::InternalServerError | Self::ServiceUnavailable)
    }

    /// The HTTP status that REST endpoints answer with for this code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unauthenticated => 401,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::BadUserInput => 400,
            Self::Conflict => 409,
            Self::RateLimited => 429,
            Self::InternalServerError => 500,
            Self::ServiceUnavailable => 503,
        }
    }
}

/// A problem with one input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    /// Input path of the field, e.g. `input.email`.
    pub field: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

/// The message clients see for any internal failure.
pub const INTERNAL_MESSAGE: &str = "Internal server error";

/// The message clients see while the database cannot be reached.
pub const UNAVAILABLE_MESSAGE: &str = "The service is briefly unavailable; try again shortly";

/// Seconds a client is told to wait before retrying after `SERVICE_UNAVAILABLE`.
pub const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 5;

/// An error of a use case.
#[derive(Debug)]
pub struct AppError {
    code: ErrorCode,
    message: String,
    fields: Vec<FieldError>,
    retry_after_seconds: Option<u64>,
    cause: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl AppError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after_seconds: None,
            cause: None,
        }
    }

    /// No valid credentials.
    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unauthenticated, message)
    }

    /// Not allowed.
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Forbidden, message)
    }

    /// Missing or out of scope; `what` names the kind of thing, e.g. "project".
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorCode::NotFound, format!("{what} not found"))
    }

    /// Invalid input without field details.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadUserInput, message)
    }

    /// Invalid input of one field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(ErrorCode::BadUserInput, message.clone()).with_fields(vec![FieldError {
            field: field.into(),
            message,
        }])
    }

    /// Invalid input of several fields; the message summarises them.
    pub fn invalid_fields(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [only] => only.message.clone(),
            _ => "Some fields are invalid".to_string(),
        };
        Self::new(ErrorCode::BadUserInput, message).with_fields(fields)
    }

    /// A conflicting change.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// Too many attempts; the client may retry after the given number of seconds.
    pub fn rate_limited(retry_after_seconds: u64) -> Self {
        let mut error = Self::new(
            ErrorCode::RateLimited,
            format!("Too many attempts; try again in {retry_after_seconds} seconds"),
        );
        error.retry_after_seconds = Some(retry_after_seconds);
        error
    }

    /// An internal failure; `cause` is logged, never shown.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut error = Self::new(ErrorCode::InternalServerError, INTERNAL_MESSAGE);
        error.cause = Some(cause.into());
        error
    }

    /// A dependency cannot be reached now (the database is down or
    /// restarting); `cause` is logged, never shown, and the client is told
    /// when to retry.
    pub fn unavailable(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        let mut error = Self::new(ErrorCode::ServiceUnavailable, UNAVAILABLE_MESSAGE);
        error.retry_after_seconds = Some(UNAVAILABLE_RETRY_AFTER_SECONDS);
        error.cause = Some(cause.into());
        error
    }

    /// The same failure as `SERVICE_UNAVAILABLE`, keeping its cause for the
    /// log: for checks (is this session valid?) whose failure to answer must
    /// not read as a verdict.
    pub fn into_unavailable(self) -> Self {
        if self.code == ErrorCode::ServiceUnavailable {
            return self;
        }
        let cause = self
            .cause
            .unwrap_or_else(|| format!("{} ({})", self.message, self.code.as_str()).into());
        AppError::unavailable(cause)
    }

    /// `instead()` in place of this error, unless this error is a server
    /// failure: a refusal may be hidden (as `NOT_FOUND`), an outage may not.
    pub fn unless_server_failure(self, instead: impl FnOnce() -> AppError) -> AppError {
        if self.code.is_server_failure() {
            self
        } else {
            instead()
        }
    }

    /// The same error under another code, keeping message and field details
    /// (e.g. a `CONFLICT` that names the conflicting field).
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }

    fn with_fields(mut self, fields: Vec<FieldError>) -> Self {
        self.fields = fields;
        self
    }

    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// The client-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Field details of a `BAD_USER_INPUT` error.
    pub fn fields(&self) -> &[FieldError] {
        &self.fields
    }

    /// Seconds to wait, for `RATE_LIMITED`.
    pub fn retry_after_seconds(&self) -> Option<u64> {
        self.retry_after_seconds
    }

    /// The internal cause, for logging.
    pub fn cause(&self) -> Option<&(dyn std::error::Error + Send + Sync)> {
        self.cause.as_deref()
    }

    /// Logs the internal cause once; called where the error leaves the process.
    pub fn log_if_internal(&self) {
        if let Some(cause) = &self.cause {
            tracing::error!(error = %cause, debug = ?cause, "internal error");
        }
    }

    /// The JSON body REST endpoints answer with.
    pub fn to_rest_body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "error": { "code": self.code.as_str(), "message": self.message }
        });
        if !self.fields.is_empty() {
            body["error"]["fields"] = serde_json::json!(self.fields);
        }
        if let Some(seconds) = self.retry_after_seconds {
            body["error"]["retryAfterSeconds"] = seconds.into();
        }
        body
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(error: AppError) -> Self {
        error.log_if_internal();
        let AppError {
            code,
            message,
            fields,
            retry_after_seconds,
            ..
        } = error;
        async_graphql::Error::new(message).extend_with(|_, extensions| {
            extensions.set("code", code.as_str());
            if !fields.is_empty()
                && let Ok(value) = async_graphql::to_value(&fields)
            {
                extensions.set("fields", value);
            }
            if let Some(seconds) = retry_after_seconds {
                extensions.set("retryAfterSeconds", seconds);
            }
        })
    }
}

/// REST handlers end in `?`: the error becomes its status, the JSON body of
/// [`AppError::to_rest_body`] and, when rate limited, a `Retry-After` header.
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        use axum::http::{HeaderValue, StatusCode, header};
        self.log_if_internal();
        let status = StatusCode::from_u16(self.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self.to_rest_body())).into_response();
        if let Some(seconds) = self.retry_after_seconds
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

impl From<diesel::result::Error> for AppError {
    fn from(error: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match error {
            Error::NotFound => AppError::not_found("record"),
            // The connection went away under the statement (the server
            // stopped or restarted): the database is unavailable, the
            // request itself is fine.
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            )
            | Error::BrokenTransactionManager => AppError::unavailable(error),
            other => AppError::internal(other),
        }
    }
}

/// No connection could be had: the database refuses, is restarting, or
/// every connection is busy past the pool's wait.
impl From<crate::db::PoolError> for AppError {
    fn from(error: crate::db::PoolError) -> Self {
        AppError::unavailable(error)
    }
}

/// Name of the violated unique or check constraint, when the error is one.
pub fn violated_constraint(error: &diesel::result::Error) -> Option<&str> {
    match error {
        diesel::result::Error::DatabaseError(_, info) => info.constraint_name(),
        _ => None,
    }
}

/// Result of a use case.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_errors_hide_their_cause_from_clients() {
        let error = AppError::internal(std::io::Error::other("SELECT secret FROM users"));
        let client: async_graphql::Error = error.into();
        assert_eq!(client.message, INTERNAL_MESSAGE);
        let extensions = client.extensions.expect("extensions");
        assert_eq!(
            extensions.get("code"),
            Some(&async_graphql::Value::from("INTERNAL_SERVER_ERROR"))
        );
    }

    #[test]
    fn rest_errors_answer_with_their_status_body_and_retry_after() {
        use axum::response::IntoResponse;
        let response = AppError::rate_limited(7).into_response();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(
            response
                .headers()
                .get(axum::http::header::RETRY_AFTER)
                .map(|value| value.as_bytes()),
            Some(&b"7"[..])
        );
        let response =
            AppError::internal(std::io::Error::other("disk path /secret")).into_response();
        assert_eq!(response.status().as_u16(), 500);
    }

    #[test]
    fn unavailable_answers_503_with_retry_after_and_hides_its_cause() {
        use axum::response::IntoResponse;
        let response = AppError::unavailable(std::io::Error::other("connection refused 10.0.0.3"))
            .into_response();
        assert_eq!(response.status().as_u16(), 503);
        assert!(
            response
                .headers()
                .contains_key(axum::http::header::RETRY_AFTER)
        );
        let client: async_graphql::Error =
            AppError::unavailable(std::io::Error::other("connection refused 10.0.0.3")).into();
        assert_eq!(client.message, UNAVAILABLE_MESSAGE);
        let closed = diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::ClosedConnection,
            Box::new("connection closed".to_string()),
        );
        assert_eq!(AppError::from(closed).code(), ErrorCode::ServiceUnavailable);
        assert!(ErrorCode::ServiceUnavailable.is_server_failure());
        assert!(!ErrorCode::NotFound.is_server_failure());
    }

    #[test]
    fn field_errors_carry_their_details() {
        let client: async_graphql::Error =
            AppError::invalid_field("input.email", "Enter a valid email address").into();
        let extensions = client.extensions.expect("extensions");
        let fields = extensions.get("fields").expect("fields");
        let text = fields.to_string();
        assert!(text.contains("input.email"), "{text}");
    }
}

//! REST auth endpoints for the Next.js apps and scripts. They call the same
//! service as the GraphQL mutations, with the same validation and error codes.
//!
//! Browsers (requests with an `Origin`) get the refresh token in an httpOnly,
//! Secure, SameSite=Strict cookie and never in the body; scripts get it in the
//! body. A cookie-authenticated refresh or logout must come from an allowed
//! origin and carry `X-CSRF-Token` equal to the `fluxorae_csrf` cookie
//! (double submit): a cross-site page can neither read that cookie nor set the
//! header without a CORS preflight.

// Handlers return a ready `Response` as the error of their helpers; boxing it
// would only add an allocation on the error path.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;

use auth::service::{IssuedSession, LoginOutcome, Registration};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use kernel::{AppError, Viewer};
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use crate::http::{AppState, is_json_content_type, request_meta, viewer_from_headers};

/// Name of the refresh-token cookie.
pub const REFRESH_COOKIE: &str = "fluxorae_refresh";
/// Name of the double-submit CSRF cookie (readable by the page's script).
pub const CSRF_COOKIE: &str = "fluxorae_csrf";
/// Header that must repeat the CSRF cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The `/auth/*` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/login", post(login))
        .route("/auth/mfa/verify", post(verify_mfa))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/password-reset", post(request_password_reset))
        .route("/auth/password-reset/confirm", post(confirm_password_reset))
}

fn error_response(error: &AppError) -> Response {
    error.log_if_internal();
    let status = StatusCode::from_u16(error.code().http_status())
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = (status, axum::Json(error.to_rest_body())).into_response();
    if let Some(seconds) = error.retry_after_seconds()
        && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// Parses a JSON body; non-JSON content types are refused like on `/graphql`.
fn parse_body<T: for<'de> Deserialize<'de>>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, Response> {
    if !is_json_content_type(headers.get(header::CONTENT_TYPE)) {
        return Err((
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            axum::Json(json!({ "error": { "code": "UNSUPPORTED_MEDIA_TYPE", "message": "Send JSON with `Content-Type: application/json`" } })),
        )
            .into_response());
    }
    let body = if body.is_empty() {
        &b"{}"[..]
    } else {
        &body[..]
    };
    serde_json::from_slice(body).map_err(|error| {
        error_response(&AppError::bad_input(format!(
            "The request body is not valid: {error}"
        )))
    })
}

/// Whether the request comes from a browser page, and whether that page's
/// origin is allowed. `None`: no Origin header (a script).
fn browser_origin(state: &AppState, headers: &HeaderMap) -> Option<Result<(), Response>> {
    let origin = headers
        .get(header::ORIGIN)?
        .to_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    if state
        .config
        .allowed_origins
        .iter()
        .any(|allowed| allowed == origin)
    {
        Some(Ok(()))
    } else {
        Some(Err(error_response(&AppError::forbidden(
            "This origin may not use the API with cookies",
        ))))
    }
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

fn set_cookie(response: &mut Response, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

fn session_cookies(state: &AppState, response: &mut Response, session: &IssuedSession) {
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let max_age = (session.session_expires_at - Utc::now())
        .num_seconds()
        .max(0);
    set_cookie(
        response,
        format!(
            "{REFRESH_COOKIE}={}; Path=/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}",
            session.refresh_token
        ),
    );
    set_cookie(
        response,
        format!(
            "{CSRF_COOKIE}={}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}",
            auth::tokens::new_opaque_token()
        ),
    );
}

fn clear_cookies(state: &AppState, response: &mut Response) {
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    set_cookie(
        response,
        format!("{REFRESH_COOKIE}=; Path=/auth; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    );
    set_cookie(
        response,
        format!("{CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0{secure}"),
    );
}

fn session_body(session: &IssuedSession, include_refresh_token: bool) -> Value {
    let mut body = json!({
        "accessToken": session.access_token,
        "tokenType": "Bearer",
        "expiresIn": (session.access_expires_at - Utc::now()).num_seconds().max(0),
        "sessionId": session.session_id,
        "user": {
            "id": session.user.id,
            "email": session.user.email,
            "name": session.user.name,
            "role": session.user.role().as_db().to_uppercase(),
        },
    });
    if include_refresh_token {
        body["refreshToken"] = json!(session.refresh_token);
    }
    body
}

/// Answers with a new session: cookie for browsers, body for scripts.
fn session_response(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    session: &IssuedSession,
) -> Response {
    let browser = headers.contains_key(header::ORIGIN);
    let mut response = (status, axum::Json(session_body(session, !browser))).into_response();
    if browser {
        session_cookies(state, &mut response, session);
    }
    response
}

/// Rejects a request from a browser page of an origin that is not allowed.
macro_rules! check_origin {
    ($state:expr, $headers:expr) => {
        if let Some(Err(response)) = browser_origin(&$state, &$headers) {
            return response;
        }
    };
}

/// The JSON body of a request from a script or an allowed browser origin;
/// returns the refusal from the handler otherwise.
macro_rules! json_body {
    ($state:expr, $headers:expr, $body:expr) => {{
        check_origin!($state, $headers);
        match parse_body(&$headers, &$body) {
            Ok(body) => body,
            Err(response) => return response,
        }
    }};
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    email: String,
    password: String,
    name: String,
    company_name: String,
}

async fn register(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: RegisterBody = json_body!(state, headers, body);
    let registration = Registration {
        email: body.email,
        password: body.password,
        name: body.name,
        company_name: body.company_name,
    };
    match state
        .auth()
        .register(
            registration,
            &request_meta(&headers, Some(peer), state.config.trusted_proxy_hops),
        )
        .await
    {
        Ok(session) => session_response(&state, &headers, StatusCode::CREATED, &session),
        Err(error) => error_response(&error),
    }
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: LoginBody = json_body!(state, headers, body);
    match state
        .auth()
        .login(
            &body.email,
            &body.password,
            &request_meta(&headers, Some(peer), state.config.trusted_proxy_hops),
        )
        .await
    {
        Ok(LoginOutcome::Signed(session)) => {
            session_response(&state, &headers, StatusCode::OK, &session)
        }
        Ok(LoginOutcome::MfaRequired(challenge)) => axum::Json(json!({
            "mfaRequired": true,
            "challengeId": challenge.challenge_id,
            "method": challenge.method.to_uppercase(),
            "expiresAt": challenge.expires_at,
        }))
        .into_response(),
        Err(error) => error_response(&error),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyMfaBody {
    challenge_id: uuid::Uuid,
    code: String,
}

async fn verify_mfa(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: VerifyMfaBody = json_body!(state, headers, body);
    match state
        .auth()
        .verify_mfa(
            body.challenge_id,
            &body.code,
            &request_meta(&headers, Some(peer), state.config.trusted_proxy_hops),
        )
        .await
    {
        Ok(session) => session_response(&state, &headers, StatusCode::OK, &session),
        Err(error) => error_response(&error),
    }
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: Option<String>,
}

/// The refresh token from the body, or from the cookie after the CSRF checks.
fn presented_refresh_token(
    state: &AppState,
    headers: &HeaderMap,
    body: RefreshBody,
) -> Result<String, Response> {
    if let Some(token) = body.refresh_token.filter(|token| !token.is_empty()) {
        return Ok(token);
    }
    let Some(token) = cookie(headers, REFRESH_COOKIE).filter(|token| !token.is_empty()) else {
        return Err(error_response(&AppError::unauthenticated(
            "No refresh token was presented",
        )));
    };
    match browser_origin(state, headers) {
        Some(Ok(())) => {}
        Some(Err(response)) => return Err(response),
        None => {
            return Err(error_response(&AppError::forbidden(
                "A cookie session needs an Origin header",
            )));
        }
    }
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(error_response(&AppError::forbidden(
            "Missing or wrong X-CSRF-Token",
        )));
    }
    Ok(token.to_string())
}

async fn refresh(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: RefreshBody = json_body!(state, headers, body);
    let token = match presented_refresh_token(&state, &headers, body) {
        Ok(token) => token,
        Err(response) => return response,
    };
    match state
        .auth()
        .refresh(
            &token,
            &request_meta(&headers, Some(peer), state.config.trusted_proxy_hops),
        )
        .await
    {
        Ok(session) => session_response(&state, &headers, StatusCode::OK, &session),
        Err(error) => {
            let mut response = error_response(&error);
            if headers.contains_key(header::ORIGIN) {
                clear_cookies(&state, &mut response);
            }
            response
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    check_origin!(state, headers);
    let meta = request_meta(&headers, Some(peer), state.config.trusted_proxy_hops);
    let outcome = match viewer_from_headers(&headers, state.authenticator()).await {
        Ok(Viewer::User(principal)) => state.auth().logout(&principal, &meta).await,
        Ok(Viewer::Anonymous) => {
            let body: RefreshBody = match parse_body(&headers, &body) {
                Ok(body) => body,
                Err(response) => return response,
            };
            match presented_refresh_token(&state, &headers, body) {
                Ok(token) => state.auth().logout_refresh_token(&token, &meta).await,
                Err(response) => return response,
            }
        }
        Err(error) => Err(error),
    };
    match outcome {
        Ok(()) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            if headers.contains_key(header::ORIGIN) {
                clear_cookies(&state, &mut response);
            }
            response
        }
        Err(error) => error_response(&error),
    }
}

#[derive(Deserialize)]
struct PasswordResetBody {
    email: String,
}

async fn request_password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: PasswordResetBody = json_body!(state, headers, body);
    match state
        .auth()
        .request_password_reset(
            &body.email,
            &request_meta(&headers, Some(peer), state.config.trusted_proxy_hops),
        )
        .await
    {
        Ok(()) => (StatusCode::ACCEPTED, axum::Json(json!({ "ok": true }))).into_response(),
        Err(error) => error_response(&error),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmResetBody {
    token: String,
    new_password: String,
}

async fn confirm_password_reset(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body: ConfirmResetBody = json_body!(state, headers, body);
    match state
        .auth()
        .reset_password(
            &body.token,
            &body.new_password,
            &request_meta(&headers, Some(peer), state.config.trusted_proxy_hops),
        )
        .await
    {
        Ok(()) => axum::Json(json!({ "ok": true })).into_response(),
        Err(error) => error_response(&error),
    }
}

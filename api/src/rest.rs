//! REST auth endpoints for the Next.js apps and scripts. They call the same
//! service as the GraphQL mutations, with the same validation and error codes.
//!
//! Browsers (requests with an `Origin`) get the refresh token in an httpOnly,
//! Secure, SameSite=Strict cookie and never in the body; scripts get it in the
//! body. A cookie-authenticated refresh or logout must come from an allowed
//! origin and carry `X-CSRF-Token` equal to the `fluxorae_csrf` cookie
//! (double submit): a cross-site page can neither read that cookie nor set the
//! header without a CORS preflight.

use std::convert::Infallible;
use std::net::SocketAddr;

use auth::service::{IssuedSession, LoginOutcome, Registration};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use kernel::{AppError, RequestMeta, Viewer};
use serde::Deserialize;
use serde::de::DeserializeOwned;
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
        .route("/auth/register/confirm", post(confirm_registration))
        .route("/auth/login", post(login))
        .route("/auth/mfa/verify", post(verify_mfa))
        .route("/auth/refresh", post(refresh))
        .route("/auth/logout", post(logout))
        .route("/auth/password-reset", post(request_password_reset))
        .route("/auth/password-reset/confirm", post(confirm_password_reset))
}

/// Who is calling from where, as rate limits and the audit log see it.
struct Meta(RequestMeta);

impl FromRequestParts<AppState> for Meta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Infallible> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| *peer);
        Ok(Meta(request_meta(
            &parts.headers,
            peer,
            state.config.trusted_proxy_hops,
        )))
    }
}

/// A request from a script (no `Origin`) or from a browser page of an allowed
/// origin; a page of any other origin is refused before the body is read.
struct AllowedCaller {
    browser: bool,
}

impl FromRequestParts<AppState> for AllowedCaller {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let Some(origin) = parts.headers.get(header::ORIGIN) else {
            return Ok(AllowedCaller { browser: false });
        };
        if state
            .config
            .allows_origin(origin.to_str().unwrap_or_default())
        {
            Ok(AllowedCaller { browser: true })
        } else {
            Err(AppError::forbidden(
                "This origin may not use the API with cookies",
            ))
        }
    }
}

/// A JSON body from an allowed caller; an empty body reads as `{}`.
struct JsonBody<T>(T);

/// Why a request body was refused.
enum BodyRejection {
    /// Not `application/json`, answered like on `/graphql`.
    NotJson,
    /// Too large or cut off.
    Unreadable(axum::extract::rejection::BytesRejection),
    /// A refused caller or a body that does not parse.
    Refused(AppError),
}

impl From<AppError> for BodyRejection {
    fn from(error: AppError) -> Self {
        BodyRejection::Refused(error)
    }
}

impl IntoResponse for BodyRejection {
    fn into_response(self) -> Response {
        match self {
            BodyRejection::NotJson => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                axum::Json(json!({ "error": { "code": "UNSUPPORTED_MEDIA_TYPE", "message": "Send JSON with `Content-Type: application/json`" } })),
            )
                .into_response(),
            BodyRejection::Unreadable(rejection) => rejection.into_response(),
            BodyRejection::Refused(error) => error.into_response(),
        }
    }
}

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = BodyRejection;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, BodyRejection> {
        let (mut parts, body) = request.into_parts();
        AllowedCaller::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(BodyRejection::Unreadable)?;
        parse_json(&headers, &bytes).map(JsonBody)
    }
}

/// Parses a JSON body; non-JSON content types are refused like on `/graphql`.
fn parse_json<T: DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, BodyRejection> {
    if !is_json_content_type(headers.get(header::CONTENT_TYPE)) {
        return Err(BodyRejection::NotJson);
    }
    let body = if body.is_empty() {
        &b"{}"[..]
    } else {
        &body[..]
    };
    serde_json::from_slice(body).map_err(|error| {
        AppError::bad_input(format!("The request body is not valid: {error}")).into()
    })
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
    let max_age = (session.session_expires_at - Utc::now())
        .num_seconds()
        .max(0);
    write_session_cookies(
        state,
        response,
        &session.refresh_token,
        &auth::tokens::new_opaque_token(),
        max_age,
    );
}

fn clear_cookies(state: &AppState, response: &mut Response) {
    write_session_cookies(state, response, "", "", 0);
}

// Clearing writes the same cookies empty and expired: a browser only drops a
// cookie whose path matches, so both go through here.
fn write_session_cookies(
    state: &AppState,
    response: &mut Response,
    refresh_token: &str,
    csrf_token: &str,
    max_age: i64,
) {
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    set_cookie(
        response,
        format!(
            "{REFRESH_COOKIE}={refresh_token}; Path=/auth; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        ),
    );
    set_cookie(
        response,
        format!("{CSRF_COOKIE}={csrf_token}; Path=/; SameSite=Strict; Max-Age={max_age}{secure}"),
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
            "role": session.user.role.as_db().to_uppercase(),
        },
    });
    if include_refresh_token {
        body["refreshToken"] = json!(session.refresh_token);
    }
    body
}

/// `{"ok": true}` with `status`: done, or accepted for later.
fn ok_response(status: StatusCode) -> Response {
    (status, axum::Json(json!({ "ok": true }))).into_response()
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
    Meta(meta): Meta,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<Response, AppError> {
    let registration = Registration {
        email: body.email,
        password: body.password,
        name: body.name,
        company_name: body.company_name,
    };
    state.auth().register(registration, &meta).await?;
    Ok(ok_response(StatusCode::ACCEPTED))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmRegistrationBody {
    token: String,
    company_name: Option<String>,
}

async fn confirm_registration(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    JsonBody(body): JsonBody<ConfirmRegistrationBody>,
) -> Result<Response, AppError> {
    let session = state
        .auth()
        .confirm_registration(&body.token, body.company_name.as_deref(), &meta)
        .await?;
    Ok(session_response(
        &state,
        &headers,
        StatusCode::CREATED,
        &session,
    ))
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginBody>,
) -> Result<Response, AppError> {
    Ok(
        match state
            .auth()
            .login(&body.email, &body.password, &meta)
            .await?
        {
            LoginOutcome::Signed(session) => {
                session_response(&state, &headers, StatusCode::OK, &session)
            }
            LoginOutcome::MfaRequired(challenge) => axum::Json(json!({
                "mfaRequired": true,
                "challengeId": challenge.challenge_id,
                "method": challenge.method.as_db().to_uppercase(),
                "expiresAt": challenge.expires_at,
            }))
            .into_response(),
        },
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct VerifyMfaBody {
    challenge_id: uuid::Uuid,
    code: String,
}

async fn verify_mfa(
    State(state): State<AppState>,
    Meta(meta): Meta,
    headers: HeaderMap,
    JsonBody(body): JsonBody<VerifyMfaBody>,
) -> Result<Response, AppError> {
    let session = state
        .auth()
        .verify_mfa(body.challenge_id, &body.code, &meta)
        .await?;
    Ok(session_response(&state, &headers, StatusCode::OK, &session))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct RefreshBody {
    refresh_token: Option<String>,
}

/// The refresh token from the body, or from the cookie after the CSRF checks
/// (the caller's origin is already checked).
fn presented_refresh_token(
    caller: &AllowedCaller,
    headers: &HeaderMap,
    body: RefreshBody,
) -> Result<String, AppError> {
    if let Some(token) = body.refresh_token.filter(|token| !token.is_empty()) {
        return Ok(token);
    }
    let Some(token) = cookie(headers, REFRESH_COOKIE).filter(|token| !token.is_empty()) else {
        return Err(AppError::unauthenticated("No refresh token was presented"));
    };
    if !caller.browser {
        return Err(AppError::forbidden(
            "A cookie session needs an Origin header",
        ));
    }
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    let presented = headers
        .get(CSRF_HEADER)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(presented.as_bytes())) {
        return Err(AppError::forbidden("Missing or wrong X-CSRF-Token"));
    }
    Ok(token.to_string())
}

async fn refresh(
    State(state): State<AppState>,
    caller: AllowedCaller,
    Meta(meta): Meta,
    headers: HeaderMap,
    JsonBody(body): JsonBody<RefreshBody>,
) -> Result<Response, AppError> {
    let token = presented_refresh_token(&caller, &headers, body)?;
    match state.auth().refresh(&token, &meta).await {
        Ok(session) => Ok(session_response(&state, &headers, StatusCode::OK, &session)),
        Err(error) => {
            // Only a verdict on the token ends the cookie session; an outage
            // (503) leaves the cookies for the retry.
            let signed_out = error.code() == kernel::ErrorCode::Unauthenticated;
            let mut response = error.into_response();
            if caller.browser && signed_out {
                clear_cookies(&state, &mut response);
            }
            Ok(response)
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    caller: AllowedCaller,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, BodyRejection> {
    match viewer_from_headers(&headers, state.authenticator()).await {
        Ok(Viewer::User(principal)) => state.auth().logout(&principal, &meta).await,
        // Without an access token the refresh token names the session; only
        // then is the body read.
        Ok(Viewer::Anonymous) => {
            let body: RefreshBody = parse_json(&headers, &body)?;
            let token = presented_refresh_token(&caller, &headers, body)?;
            state.auth().logout_refresh_token(&token, &meta).await
        }
        Err(error) => Err(error),
    }?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    if caller.browser {
        clear_cookies(&state, &mut response);
    }
    Ok(response)
}

#[derive(Deserialize)]
struct PasswordResetBody {
    email: String,
}

async fn request_password_reset(
    State(state): State<AppState>,
    Meta(meta): Meta,
    JsonBody(body): JsonBody<PasswordResetBody>,
) -> Result<Response, AppError> {
    state
        .auth()
        .request_password_reset(&body.email, &meta)
        .await?;
    Ok(ok_response(StatusCode::ACCEPTED))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfirmResetBody {
    token: String,
    new_password: String,
}

async fn confirm_password_reset(
    State(state): State<AppState>,
    Meta(meta): Meta,
    JsonBody(body): JsonBody<ConfirmResetBody>,
) -> Result<Response, AppError> {
    state
        .auth()
        .reset_password(&body.token, &body.new_password, &meta)
        .await?;
    Ok(ok_response(StatusCode::OK))
}

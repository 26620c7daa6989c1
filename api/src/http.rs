//! GraphQL over HTTP (POST and GET), the explorer, and health endpoints.
//!
//! The handler is written here rather than taken from async-graphql-axum, whose
//! extractor answers every error with 200 and always with
//! `application/graphql-response+json`, and parses non-JSON bodies as JSON.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use async_graphql::Variables;
use async_graphql::parser::types::{DocumentOperations, OperationType};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use kernel::{AppError, Authenticator, Db, ErrorCode, Viewer};
use serde_json::{Map, Value, json};

use crate::config::Config;
use crate::limits::RequestMeta;
use crate::schema::AppSchema;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The composed schema with its data.
    pub schema: AppSchema,
    /// The configuration the server started with.
    pub config: Arc<Config>,
    /// The database pool.
    pub db: Db,
    /// The outbox worker (emails and other durable jobs).
    pub outbox: kernel::outbox::OutboxWorker,
    /// SQL statements run so far.
    pub queries: kernel::db::QueryCounter,
    /// The event bus (websockets listen to sign-in changes on it).
    pub bus: Arc<dyn kernel::events::EventBus>,
    /// Every domain, built once.
    pub domains: Arc<crate::domains::Domains>,
    /// Persisted documents: the manifest and the automatic store.
    pub persisted: Arc<crate::persisted::PersistedDocuments>,
    /// Versions of the embedded migrations, for readiness.
    pub migration_versions: Arc<Vec<String>>,
    /// Turns true when the server starts shutting down; long-lived connections close then.
    pub shutdown: tokio::sync::watch::Sender<bool>,
}

impl AppState {
    /// The auth use cases, for the REST endpoints and the CLI.
    pub fn auth(&self) -> &Arc<auth::AuthService> {
        self.domains.auth.service()
    }

    /// Verifies access tokens for the transports.
    pub fn authenticator(&self) -> &dyn Authenticator {
        self.domains.auth.service().as_ref()
    }
}

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";
const APPLICATION_JSON: &str = "application/json";

/// The media type of a GraphQL response, chosen from the `Accept` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    /// `application/json`: GraphQL errors are answered with 200.
    Json,
    /// `application/graphql-response+json`: request errors are answered with 400.
    GraphqlResponseJson,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            MediaType::Json => "application/json; charset=utf-8",
            MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        }
    }
}

/// Picks the response media type; `None` when the client accepts neither.
pub fn negotiate(accept: Option<&HeaderValue>) -> Option<MediaType> {
    let Some(accept) = accept.and_then(|value| value.to_str().ok()) else {
        return Some(MediaType::Json);
    };
    if accept.trim().is_empty() {
        return Some(MediaType::Json);
    }
    accept
        .split(',')
        .map(|range| {
            range
                .split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase()
        })
        .find_map(|range| match range.as_str() {
            GRAPHQL_RESPONSE_JSON => Some(MediaType::GraphqlResponseJson),
            APPLICATION_JSON | "application/*" | "*/*" => Some(MediaType::Json),
            _ => None,
        })
}

/// Whether the body is declared as UTF-8 JSON; anything else (text/plain, forms,
/// multipart) is refused so that a browser cannot send a cross-site mutation
/// without a CORS preflight.
pub fn is_json_content_type(content_type: Option<&HeaderValue>) -> bool {
    let Some(content_type) = content_type.and_then(|value| value.to_str().ok()) else {
        return false;
    };
    let mut parts = content_type.split(';');
    let essence = parts.next().unwrap_or_default().trim();
    if !essence.eq_ignore_ascii_case(APPLICATION_JSON) {
        return false;
    }
    parts.all(|parameter| {
        let mut pair = parameter.splitn(2, '=');
        let name = pair.next().unwrap_or_default().trim();
        let value = pair.next().unwrap_or_default().trim().trim_matches('"');
        !name.eq_ignore_ascii_case("charset") || value.eq_ignore_ascii_case("utf-8")
    })
}

fn error_body(message: &str, code: &str) -> Value {
    json!({ "errors": [{ "message": message, "extensions": { "code": code } }] })
}

fn json_response(status: StatusCode, media: MediaType, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        body.to_string(),
    )
        .into_response()
}

fn bad_request(media: MediaType, message: &str) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        media,
        &error_body(message, "BAD_REQUEST"),
    )
}

fn unauthenticated(media: MediaType, error: &AppError) -> Response {
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        media,
        &error_body(error.message(), error.code().as_str()),
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer error=\"invalid_token\""),
    );
    response
}

/// 503 `SERVICE_UNAVAILABLE` with `Retry-After` and the request id: the
/// credentials could not be checked now (the database is down or
/// restarting). Never 401, which clients take as "signed out".
pub fn unavailable(media: MediaType, error: &AppError, request_id: &str) -> Response {
    error.log_if_internal();
    let seconds = error
        .retry_after_seconds()
        .unwrap_or(kernel::error::UNAVAILABLE_RETRY_AFTER_SECONDS);
    let body = json!({ "errors": [{
        "message": format!("{} (request id {request_id})", kernel::error::UNAVAILABLE_MESSAGE),
        "extensions": {
            "code": ErrorCode::ServiceUnavailable.as_str(),
            "requestId": request_id,
            "retryAfterSeconds": seconds,
        },
    }] });
    let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, media, &body);
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    response
}

/// The answer when the `Authorization` header gave no viewer: 401 with a
/// challenge only when the token is invalid, 503 when it could not be checked.
fn authentication_failed(media: MediaType, error: &AppError, request_id: &str) -> Response {
    if error.code() == ErrorCode::Unauthenticated {
        unauthenticated(media, error)
    } else {
        unavailable(media, error, request_id)
    }
}

/// The caller named by the `Authorization` header. No header is anonymous; a
/// malformed or invalid one is an error, never anonymous.
pub async fn viewer_from_headers(
    headers: &HeaderMap,
    authenticator: &dyn Authenticator,
) -> Result<Viewer, AppError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Viewer::Anonymous);
    };
    viewer_from_authorization(value.to_str().ok(), authenticator).await
}

/// The caller named by an `Authorization` value such as `Bearer <token>`.
pub async fn viewer_from_authorization(
    authorization: Option<&str>,
    authenticator: &dyn Authenticator,
) -> Result<Viewer, AppError> {
    let token = authorization.and_then(bearer_token).ok_or_else(|| {
        AppError::unauthenticated("Authorization must be `Bearer <access token>`")
    })?;
    Ok(Viewer::User(authenticator.authenticate(token).await?))
}

/// The token of an `Authorization: Bearer <token>` value.
pub fn bearer_token(authorization: &str) -> Option<&str> {
    authorization
        .strip_prefix("Bearer ")
        .or_else(|| authorization.strip_prefix("bearer "))
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// Identifies the request for logs, audit entries and error messages.
/// With `trusted_proxy_hops` proxies in front (`TRUSTED_PROXY_HOPS`), the
/// client is the address the outermost of them appended to `X-Forwarded-For`;
/// entries further left are whatever the client claimed and are ignored.
/// Every `X-Forwarded-For` line counts, in order: a proxy may append its
/// entry as a line of its own below the lines the client sent.
pub fn request_meta(
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
    trusted_proxy_hops: usize,
) -> RequestMeta {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    RequestMeta {
        request_id: text("x-request-id").unwrap_or_default(),
        ip: client_ip(&forwarded_for(headers), peer, trusted_proxy_hops),
        user_agent: text("user-agent").map(bounded_user_agent),
    }
}

/// The longest user agent kept with sessions and audit entries, in bytes.
const MAX_USER_AGENT_BYTES: usize = 512;

// A user agent is display-only, but it is stored with every session and audit
// entry: a client must not make rows of the header limit's size.
fn bounded_user_agent(mut agent: String) -> String {
    if agent.len() > MAX_USER_AGENT_BYTES {
        let mut end = MAX_USER_AGENT_BYTES;
        while !agent.is_char_boundary(end) {
            end -= 1;
        }
        agent.truncate(end);
    }
    agent
}

/// The `X-Forwarded-For` entries of every header line, first line first.
/// A line that is not text makes the chain unreadable: no entry is trusted.
fn forwarded_for(headers: &HeaderMap) -> Vec<String> {
    let mut entries = Vec::new();
    for line in headers.get_all("x-forwarded-for") {
        let Ok(line) = line.to_str() else {
            return Vec::new();
        };
        entries.extend(
            line.split(',')
                .map(str::trim)
                .filter(|entry| !entry.is_empty())
                .map(str::to_string),
        );
    }
    entries
}

fn client_ip(entries: &[String], peer: Option<SocketAddr>, hops: usize) -> Option<String> {
    let peer_ip = peer.map(|peer| peer.ip().to_string());
    if hops == 0 {
        return peer_ip;
    }
    match entries.len().checked_sub(hops) {
        Some(index) => entries
            .get(index)
            .and_then(|entry| entry.parse::<std::net::IpAddr>().ok())
            .map(|ip| ip.to_string())
            .or(peer_ip),
        None => peer_ip,
    }
}

/// Why request parameters cannot become an operation.
#[derive(Debug)]
pub enum ParamError {
    /// A parameter is missing or of the wrong type.
    Invalid(String),
    /// The persisted document the request names cannot run.
    Persisted(crate::persisted::Refusal),
}

impl ParamError {
    /// The message clients read.
    pub fn message(&self) -> String {
        match self {
            Self::Invalid(message) => message.clone(),
            Self::Persisted(refusal) => refusal.message(),
        }
    }

    /// The `extensions.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Invalid(_) => "BAD_REQUEST",
            Self::Persisted(refusal) => refusal.code(),
        }
    }
}

impl From<&str> for ParamError {
    fn from(message: &str) -> Self {
        Self::Invalid(message.to_string())
    }
}

fn param_error(media: MediaType, error: &ParamError) -> Response {
    json_response(
        StatusCode::BAD_REQUEST,
        media,
        &error_body(&error.message(), error.code()),
    )
}

/// Builds an operation from GraphQL-over-HTTP parameters, checking their
/// types; the document is the `query`, or the persisted one its hash names.
pub fn request_from_params(
    params: &Map<String, Value>,
    documents: &crate::persisted::PersistedDocuments,
) -> Result<async_graphql::Request, ParamError> {
    if matches!(params.get("query"), Some(query) if !query.is_string() && !query.is_null()) {
        return Err("The `query` parameter must be a string".into());
    }
    let query = documents
        .resolve(params)
        .map_err(ParamError::Persisted)?
        .ok_or("The `query` parameter is required")?;
    let mut request = async_graphql::Request::new(query);
    match params.get("operationName") {
        Some(Value::String(name)) => request = request.operation_name(name.clone()),
        Some(Value::Null) | None => {}
        Some(_) => return Err("The `operationName` parameter must be a string".into()),
    }
    match params.get("variables") {
        Some(variables @ Value::Object(_)) => {
            request = request.variables(Variables::from_json(variables.clone()));
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err("The `variables` parameter must be an object".into()),
    }
    match params.get("extensions") {
        Some(Value::Object(extensions)) => {
            for (name, value) in extensions {
                let value = async_graphql::Value::from_json(value.clone())
                    .map_err(|_| "The `extensions` parameter is not valid")?;
                request.extensions.insert(name.clone(), value);
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err("The `extensions` parameter must be an object".into()),
    }
    Ok(request)
}

/// A request error happened before execution: nothing ran, so there is no `data`.
pub fn is_request_error(response: &async_graphql::Response) -> bool {
    !response.errors.is_empty()
        && response.data == async_graphql::Value::Null
        && response.errors.iter().all(|error| error.path.is_empty())
}

/// The wire form of a response, serialised straight from async-graphql's
/// values (no intermediate `serde_json::Value`). A request error has no `data`.
#[derive(serde::Serialize)]
struct ResponseBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<&'a async_graphql::Value>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [async_graphql::ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

impl<'a> ResponseBody<'a> {
    fn of(response: &'a async_graphql::Response) -> Self {
        Self {
            data: (!is_request_error(response)).then_some(&response.data),
            errors: &response.errors,
            extensions: &response.extensions,
        }
    }
}

fn body_bytes(body: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_else(|_| {
        br#"{"errors":[{"message":"Internal server error","extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#.to_vec()
    })
}

fn graphql_response(media: MediaType, response: async_graphql::Response) -> Response {
    let status = if is_request_error(&response) && media == MediaType::GraphqlResponseJson {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut http = (
        status,
        [(header::CONTENT_TYPE, media.content_type())],
        body_bytes(&ResponseBody::of(&response)),
    )
        .into_response();
    for (name, value) in response.http_headers.iter() {
        http.headers_mut().append(name.clone(), value.clone());
    }
    http
}

async fn execute(
    state: &AppState,
    viewer: &Viewer,
    meta: &RequestMeta,
    mut request: async_graphql::Request,
) -> async_graphql::Response {
    let signed_in = viewer.principal().is_some();
    let span = tracing::Span::current();
    if let Some(principal) = viewer.principal() {
        span.record("user_id", tracing::field::display(principal.user_id));
    }
    if let Err(refused) =
        crate::limits::check_request(&mut request, &state.config.limits, signed_in)
    {
        record_error_codes(&span, &refused);
        return *refused;
    }
    let operation_name = request.operation_name.clone();
    if let Some(name) = operation_name
        .as_deref()
        .or_else(|| request.parsed_query().ok().and_then(sole_operation_name))
    {
        span.record("operation", name);
    }
    let order = request
        .parsed_query()
        .map(|document| crate::limits::RootOrder::of(document, operation_name.as_deref()))
        .unwrap_or_default();
    let mut response = state
        .schema
        .execute(request.data(viewer.clone()).data(meta.clone()))
        .await;
    order.apply(&mut response);
    let response = if state.config.limits.introspection.allows(signed_in) {
        response
    } else {
        crate::limits::without_suggestions(response)
    };
    let response = crate::limits::finish(response, Some(&meta.request_id));
    record_error_codes(&span, &response);
    response
}

/// The name of a document's only operation, when it has one and it is named.
pub fn sole_operation_name(
    document: &async_graphql::parser::types::ExecutableDocument,
) -> Option<&str> {
    let mut operations = document.operations.iter();
    let (name, _) = operations.next()?;
    if operations.next().is_some() {
        return None;
    }
    name.map(|name| name.as_str())
}

/// Puts the distinct error codes of an answer on the request's span (and so on
/// its log line).
fn record_error_codes(span: &tracing::Span, response: &async_graphql::Response) {
    if let Some(codes) = error_codes(response) {
        span.record("error_codes", codes);
    }
}

/// The distinct `extensions.code`s of an answer's errors, comma-separated in
/// the order they first appear (`UNCODED` for an error without one).
pub fn error_codes(response: &async_graphql::Response) -> Option<String> {
    let mut codes: Vec<String> = Vec::new();
    for error in &response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|extensions| extensions.get("code"))
            .and_then(|code| match code {
                async_graphql::Value::String(code) => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "UNCODED".to_string());
        if !codes.contains(&code) {
            codes.push(code);
        }
    }
    (!codes.is_empty()).then(|| codes.join(","))
}

/// `POST /graphql`.
pub async fn graphql_post(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(media) = negotiate(headers.get(header::ACCEPT)) else {
        return not_acceptable();
    };
    if !is_json_content_type(headers.get(header::CONTENT_TYPE)) {
        return json_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            media,
            &error_body(
                "Send the operation as JSON with `Content-Type: application/json`",
                "UNSUPPORTED_MEDIA_TYPE",
            ),
        );
    }
    let body: Value = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(_) => return bad_request(media, "The request body is not valid JSON"),
    };
    let meta = request_meta(&headers, Some(peer), state.config.trusted_proxy_hops);
    let viewer = match viewer_from_headers(&headers, state.authenticator()).await {
        Ok(viewer) => viewer,
        Err(error) => return authentication_failed(media, &error, &meta.request_id),
    };
    match body {
        Value::Object(params) => match request_from_params(&params, &state.persisted) {
            Ok(request) => graphql_response(media, execute(&state, &viewer, &meta, request).await),
            Err(error) => param_error(media, &error),
        },
        Value::Array(batch) => post_batch(&state, media, &viewer, &meta, batch).await,
        _ => bad_request(media, "The request body must be a JSON object"),
    }
}

async fn post_batch(
    state: &AppState,
    media: MediaType,
    viewer: &Viewer,
    meta: &RequestMeta,
    batch: Vec<Value>,
) -> Response {
    let limits = &state.config.limits;
    if !limits.allow_batch {
        return bad_request(media, "Batched operations are not enabled on this server");
    }
    if batch.is_empty() || batch.len() > limits.max_batch {
        return bad_request(
            media,
            &format!("A batch holds 1 to {} operations", limits.max_batch),
        );
    }
    let mut requests = Vec::with_capacity(batch.len());
    for item in &batch {
        let Value::Object(params) = item else {
            return bad_request(media, "Every operation of a batch must be a JSON object");
        };
        match request_from_params(params, &state.persisted) {
            Ok(request) => requests.push(request),
            Err(error) => return param_error(media, &error),
        }
    }
    let mut responses = Vec::with_capacity(requests.len());
    for request in requests {
        responses.push(execute(state, viewer, meta, request).await);
    }
    let bodies: Vec<ResponseBody<'_>> = responses.iter().map(ResponseBody::of).collect();
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, media.content_type())],
        body_bytes(&bodies),
    )
        .into_response()
}

fn not_acceptable() -> Response {
    (
        StatusCode::NOT_ACCEPTABLE,
        [(header::CONTENT_TYPE, MediaType::Json.content_type())],
        error_body(
            "Accept application/graphql-response+json or application/json",
            "NOT_ACCEPTABLE",
        )
        .to_string(),
    )
        .into_response()
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

/// Whether the operation that would run is a mutation (mutations never run over GET).
fn selects_mutation(query: &str, operation_name: Option<&str>) -> bool {
    let Ok(document) = async_graphql::parser::parse_query(query) else {
        return false;
    };
    let operation_type = match (&document.operations, operation_name) {
        (DocumentOperations::Single(operation), _) => Some(operation.node.ty),
        (DocumentOperations::Multiple(operations), Some(name)) => operations
            .iter()
            .find(|(candidate, _)| candidate.as_str() == name)
            .map(|(_, operation)| operation.node.ty),
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => operations
            .values()
            .next()
            .map(|operation| operation.node.ty),
        (DocumentOperations::Multiple(_), None) => None,
    };
    operation_type == Some(OperationType::Mutation)
}

/// `GET /graphql`: the explorer for browsers (when enabled), queries for everyone else.
pub async fn graphql_get(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(params): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    if state.config.graphiql_enabled && wants_html(&headers) && !params.contains_key("query") {
        return crate::explorer::page();
    }
    let Some(media) = negotiate(headers.get(header::ACCEPT)) else {
        return not_acceptable();
    };
    let mut json_params = Map::new();
    for (name, value) in &params {
        let value = match name.as_str() {
            "variables" | "extensions" => match serde_json::from_str(value) {
                Ok(value) => value,
                Err(_) => {
                    return bad_request(
                        media,
                        &format!("The `{name}` parameter is not valid JSON"),
                    );
                }
            },
            _ => Value::String(value.clone()),
        };
        json_params.insert(name.clone(), value);
    }
    let request = match request_from_params(&json_params, &state.persisted) {
        Ok(request) => request,
        Err(error) => return param_error(media, &error),
    };
    if selects_mutation(
        &request.query,
        params.get("operationName").map(String::as_str),
    ) {
        let mut response = json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            media,
            &error_body(
                "Mutations are only accepted over POST",
                "METHOD_NOT_ALLOWED",
            ),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return response;
    }
    let meta = request_meta(&headers, Some(peer), state.config.trusted_proxy_hops);
    let viewer = match viewer_from_headers(&headers, state.authenticator()).await {
        Ok(viewer) => viewer,
        Err(error) => return authentication_failed(media, &error, &meta.request_id),
    };
    graphql_response(media, execute(&state, &viewer, &meta, request).await)
}

/// `GET /healthz`: the process is alive.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// `GET /readyz`: the database answers and every migration is applied; 503 otherwise.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let check = async {
        let mut conn = state.db.get().await.map_err(|_| "database unreachable")?;
        let pending = kernel::db::pending_versions(&mut conn, &state.migration_versions)
            .await
            .map_err(|_| "migrations table unreadable")?;
        if pending.is_empty() {
            Ok(())
        } else {
            Err("migrations pending")
        }
    };
    match check.await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({ "status": "ready" }))).into_response(),
        Err(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            axum::Json(json!({ "status": "unavailable", "reason": reason })),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_agents_are_kept_to_a_bounded_length_on_a_character_boundary() {
        let long = format!("a{}", "€".repeat(400));
        let kept = super::bounded_user_agent(long.clone());
        assert!(kept.len() <= super::MAX_USER_AGENT_BYTES, "{}", kept.len());
        assert!(long.starts_with(&kept) && kept.len() > 500);
        assert_eq!(super::bounded_user_agent("curl/8".into()), "curl/8");
    }

    use super::*;

    fn accept(value: &str) -> Option<MediaType> {
        negotiate(Some(&HeaderValue::from_str(value).expect("header")))
    }

    fn forwarded(lines: &[&str]) -> Vec<String> {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).expect("h"));
        }
        forwarded_for(&headers)
    }

    #[test]
    fn the_client_address_comes_from_trusted_proxies_only() {
        let peer = Some(SocketAddr::from(([10, 0, 0, 5], 443)));
        let chain = forwarded(&["6.6.6.6, 203.0.113.7"]);
        assert_eq!(client_ip(&chain, peer, 0).as_deref(), Some("10.0.0.5"));
        assert_eq!(client_ip(&chain, peer, 1).as_deref(), Some("203.0.113.7"));
        assert_eq!(client_ip(&chain, peer, 2).as_deref(), Some("6.6.6.6"));
        assert_eq!(client_ip(&chain, peer, 3).as_deref(), Some("10.0.0.5"));
        assert_eq!(
            client_ip(&forwarded(&["not-an-ip"]), peer, 1).as_deref(),
            Some("10.0.0.5")
        );
        // The proxy's own line comes last, below the client's lines.
        let lines = forwarded(&["6.6.6.6", "7.7.7.7, 8.8.8.8", "203.0.113.7"]);
        assert_eq!(client_ip(&lines, peer, 1).as_deref(), Some("203.0.113.7"));
        assert_eq!(client_ip(&lines, peer, 2).as_deref(), Some("8.8.8.8"));
    }

    #[test]
    fn content_negotiation_follows_graphql_over_http() {
        assert_eq!(negotiate(None), Some(MediaType::Json));
        assert_eq!(accept("application/json"), Some(MediaType::Json));
        assert_eq!(accept("*/*"), Some(MediaType::Json));
        assert_eq!(
            accept("application/graphql-response+json, application/json;q=0.9"),
            Some(MediaType::GraphqlResponseJson)
        );
        assert_eq!(accept("text/html"), None);
    }

    #[test]
    fn only_utf8_json_bodies_are_accepted() {
        let check =
            |value: &str| is_json_content_type(Some(&HeaderValue::from_str(value).expect("h")));
        assert!(check("application/json"));
        assert!(check("application/json; charset=utf-8"));
        assert!(check("Application/JSON;charset=\"UTF-8\""));
        assert!(!check("application/json; charset=latin1"));
        assert!(!check("text/plain"));
        assert!(!check("application/x-www-form-urlencoded"));
        assert!(!check("multipart/form-data; boundary=x"));
        assert!(!is_json_content_type(None));
    }

    #[test]
    fn parameters_of_the_wrong_type_are_refused() {
        use crate::persisted::{Mode, PersistedDocuments};
        let documents = PersistedDocuments::new(Mode::Automatic, None).expect("store");
        let from =
            |value: Value| request_from_params(value.as_object().expect("object"), &documents);
        assert!(from(json!({"query": "{ __typename }", "variables": null})).is_ok());
        assert!(from(json!({"query": 1})).is_err());
        assert!(from(json!({"query": "{a}", "variables": "x"})).is_err());
        assert!(from(json!({"query": "{a}", "operationName": 0})).is_err());
        assert!(from(json!({"qeury": "{a}"})).is_err());
    }

    #[test]
    fn mutations_are_detected_for_the_selected_operation() {
        assert!(selects_mutation("mutation { x }", None));
        assert!(!selects_mutation("{ x }", None));
        assert!(selects_mutation(
            "query A { x } mutation B { y }",
            Some("B")
        ));
        assert!(!selects_mutation(
            "query A { x } mutation B { y }",
            Some("A")
        ));
    }
}

//! GraphQL subscriptions over websocket: `graphql-transport-ws` and the legacy
//! `graphql-ws` (subscriptions-transport-ws) subprotocol.
//!
//! Implemented here because async-graphql's protocol handler closes with the
//! wrong codes, replaces duplicate subscriptions silently and has no init timeout.

use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use async_graphql::Response;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use futures_util::{Stream, StreamExt};
use kernel::events::{Delivery, DeliveryStream, SESSIONS_TOPIC, SessionChange};
use kernel::{AppError, ErrorCode, Viewer};
use serde_json::{Value, json};
use tokio_stream::StreamMap;

use crate::http::{
    AppState, bearer_token, is_request_error, request_from_params, request_meta,
    viewer_from_authorization,
};
use crate::limits::RequestMeta;

/// Close codes of the graphql-transport-ws protocol.
pub mod close_code {
    /// Malformed or unexpected message.
    pub const BAD_REQUEST: u16 = 4400;
    /// Subscribe before the connection was acknowledged.
    pub const UNAUTHORIZED: u16 = 4401;
    /// `connection_init` was refused (invalid or expired token).
    pub const FORBIDDEN: u16 = 4403;
    /// Unsupported subprotocol.
    pub const SUBPROTOCOL_NOT_ACCEPTABLE: u16 = 4406;
    /// No `connection_init` within the timeout.
    pub const INIT_TIMEOUT: u16 = 4408;
    /// A subscription with this id is already running.
    pub const DUPLICATE_SUBSCRIBER: u16 = 4409;
    /// More than one `connection_init`.
    pub const TOO_MANY_INITS: u16 = 4429;
    /// The credentials of `connection_init` could not be checked now (the
    /// database is down or restarting): reconnect later with the same token.
    /// graphql-ws clients retry on it, unlike 4500.
    pub const SERVICE_UNAVAILABLE: u16 = 4503;
}

/// RFC 6455 close code for a message over the size limit.
const MESSAGE_TOO_BIG: u16 = 1009;

/// The subprotocol the client chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `graphql-transport-ws` (the graphql-ws library).
    TransportWs,
    /// `graphql-ws` (the legacy subscriptions-transport-ws library).
    LegacyWs,
}

const TRANSPORT_WS: &str = "graphql-transport-ws";
const LEGACY_WS: &str = "graphql-ws";

/// `GET /graphql/ws`: upgrades to a websocket speaking the requested subprotocol.
pub async fn graphql_ws(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> axum::response::Response {
    // Browsers always send Origin on websockets and CORS does not apply to
    // them: a page of another origin is refused here.
    if let Some(origin) = headers.get(header::ORIGIN)
        && !state
            .config
            .allows_origin(origin.to_str().unwrap_or_default())
    {
        return (
            StatusCode::FORBIDDEN,
            "This origin may not open the API's websocket",
        )
            .into_response();
    }
    let requested: Vec<String> = headers
        .get_all("sec-websocket-protocol")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(',').map(|p| p.trim().to_string()))
        .collect();
    // A client that offers no subprotocol is refused, as the graphql-ws
    // reference server does: guessing one hides a misconfigured client.
    let protocol = if requested.iter().any(|p| p == TRANSPORT_WS) {
        Some(Protocol::TransportWs)
    } else if requested.iter().any(|p| p == LEGACY_WS) {
        Some(Protocol::LegacyWs)
    } else {
        None
    };
    let meta = request_meta(&headers, Some(peer), state.config.trusted_proxy_hops);
    let max_message = state.config.body_limit_bytes;
    upgrade
        .protocols([TRANSPORT_WS, LEGACY_WS])
        .max_message_size(max_message)
        .max_frame_size(max_message)
        .on_upgrade(move |socket| async move {
            match protocol {
                Some(protocol) => Connection::new(state, protocol, meta, socket).run().await,
                None => {
                    let _ = close(
                        socket,
                        close_code::SUBPROTOCOL_NOT_ACCEPTABLE,
                        "Subprotocol not acceptable",
                    )
                    .await;
                }
            }
        })
        .into_response()
}

async fn close(mut socket: WebSocket, code: u16, reason: &str) -> Result<(), axum::Error> {
    socket
        .send(Message::Close(Some(CloseFrame {
            code,
            reason: Utf8Bytes::from(reason),
        })))
        .await
}

type ResponseStream = Pin<Box<dyn Stream<Item = Option<Response>> + Send>>;

/// The next sign-in change, or never when the connection listens to none.
async fn next_delivery(sessions: &mut Option<DeliveryStream>) -> Option<Delivery> {
    match sessions {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

/// What the loop does after handling one message.
enum Next {
    Continue,
    Close(u16, String),
    Stop,
}

struct Connection {
    state: AppState,
    protocol: Protocol,
    meta: RequestMeta,
    socket: WebSocket,
    viewer: Option<Viewer>,
    /// The bearer token from `connection_init`, re-checked while the socket is open.
    token: Option<String>,
    /// Sign-in changes on the bus, once a user is signed in.
    sessions: Option<DeliveryStream>,
    init_received: bool,
    streams: StreamMap<String, ResponseStream>,
}

impl Connection {
    fn new(state: AppState, protocol: Protocol, meta: RequestMeta, socket: WebSocket) -> Self {
        Self {
            state,
            protocol,
            meta,
            socket,
            viewer: None,
            token: None,
            sessions: None,
            init_received: false,
            streams: StreamMap::new(),
        }
    }

    async fn run(mut self) {
        let init_deadline = tokio::time::sleep(self.state.config.ws_init_timeout);
        tokio::pin!(init_deadline);
        let keepalive_every = self.state.config.ws_keepalive;
        let mut keepalive = tokio::time::interval_at(
            tokio::time::Instant::now() + keepalive_every,
            keepalive_every,
        );
        let revalidate_every = self.state.config.ws_revalidate;
        let mut revalidate = tokio::time::interval_at(
            tokio::time::Instant::now() + revalidate_every,
            revalidate_every,
        );
        // Far future until a token with an expiry is accepted.
        let expiry = tokio::time::sleep(Duration::from_secs(365 * 24 * 3600));
        tokio::pin!(expiry);

        let mut shutdown = self.state.shutdown.subscribe();
        let outcome = loop {
            let next = tokio::select! {
                _ = shutdown.changed() => {
                    Next::Close(1001, "Server shutting down".into())
                }
                message = self.socket.recv() => match message {
                    Some(Ok(Message::Text(text))) => self.on_text(text.as_str(), &mut expiry).await,
                    Some(Ok(Message::Binary(_))) => Next::Close(close_code::BAD_REQUEST, "Binary messages are not supported".into()),
                    // Over `max_message_size`: say so (1009) instead of dropping the socket.
                    Some(Err(error)) if error.to_string().contains("Space limit exceeded") => {
                        Next::Close(MESSAGE_TOO_BIG, "Message too big".into())
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Next::Stop,
                    Some(Ok(_)) => Next::Continue,
                },
                Some((id, item)) = self.streams.next(), if !self.streams.is_empty() => {
                    self.on_stream_item(id, item).await
                }
                () = &mut init_deadline, if !self.init_received => {
                    Next::Close(close_code::INIT_TIMEOUT, "Connection initialisation timeout".into())
                }
                () = &mut expiry => {
                    Next::Close(close_code::FORBIDDEN, "Access token expired".into())
                }
                _ = revalidate.tick(), if self.token.is_some() => self.revalidate().await,
                Some(delivery) = next_delivery(&mut self.sessions) => {
                    if self.concerns_me(&delivery) {
                        self.revalidate().await
                    } else {
                        Next::Continue
                    }
                }
                _ = keepalive.tick() => self.keepalive().await,
            };
            match next {
                Next::Continue => {}
                Next::Close(code, reason) => break Some((code, reason)),
                Next::Stop => break None,
            }
        };
        if let Some((code, reason)) = outcome {
            let _ = close(self.socket, code, &reason).await;
        }
    }

    /// Whether a sign-in change may concern this connection's user (a gap may
    /// have hidden one, so it counts too).
    fn concerns_me(&self, delivery: &Delivery) -> bool {
        let Some(principal) = self.viewer.as_ref().and_then(Viewer::principal) else {
            return false;
        };
        match delivery {
            Delivery::Gap => true,
            Delivery::Event(event) => event
                .decode::<SessionChange>()
                .is_some_and(|change| change.user_id() == principal.user_id),
        }
    }

    /// Re-checks the session behind the token: closes with 4403 when it ended
    /// or the user's rights changed. A database failure keeps the socket open;
    /// the next check decides.
    async fn revalidate(&mut self) -> Next {
        let (Some(token), Some(current)) = (
            self.token.clone(),
            self.viewer.as_ref().and_then(Viewer::principal).cloned(),
        ) else {
            return Next::Continue;
        };
        match self.state.authenticator().authenticate(&token).await {
            Ok(now)
                if now.role == current.role
                    && now.org_id == current.org_id
                    && now.permissions == current.permissions =>
            {
                Next::Continue
            }
            Ok(_) => Next::Close(
                close_code::FORBIDDEN,
                "Your access changed; reconnect".into(),
            ),
            Err(error) if error.code() == ErrorCode::Unauthenticated => {
                Next::Close(close_code::FORBIDDEN, "Session ended".into())
            }
            Err(error) => {
                error.log_if_internal();
                Next::Continue
            }
        }
    }

    async fn send(&mut self, message: Value) -> Next {
        match self
            .socket
            .send(Message::Text(message.to_string().into()))
            .await
        {
            Ok(()) => Next::Continue,
            Err(_) => Next::Stop,
        }
    }

    async fn keepalive(&mut self) -> Next {
        match self.protocol {
            Protocol::TransportWs => self.send(json!({ "type": "ping" })).await,
            Protocol::LegacyWs if self.viewer.is_some() => self.send(json!({ "type": "ka" })).await,
            Protocol::LegacyWs => Next::Continue,
        }
    }

    async fn on_text(&mut self, text: &str, expiry: &mut Pin<&mut tokio::time::Sleep>) -> Next {
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(text) else {
            return Next::Close(close_code::BAD_REQUEST, "Invalid message received".into());
        };
        let kind = message
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = message
            .get("id")
            .and_then(Value::as_str)
            .map(str::to_string);
        let payload = message.get("payload").cloned();
        match (self.protocol, kind) {
            (_, "connection_init") => self.on_init(payload, expiry).await,
            (Protocol::TransportWs, "ping") => {
                let mut pong = json!({ "type": "pong" });
                if let Some(payload) = payload.filter(|payload| !payload.is_null()) {
                    pong["payload"] = payload;
                }
                self.send(pong).await
            }
            (Protocol::TransportWs, "pong") => Next::Continue,
            (Protocol::TransportWs, "subscribe") | (Protocol::LegacyWs, "start") => {
                match (id, payload) {
                    (Some(id), Some(Value::Object(payload))) if !id.is_empty() => {
                        self.on_subscribe(id, &payload).await
                    }
                    _ => Next::Close(close_code::BAD_REQUEST, "Invalid message received".into()),
                }
            }
            (Protocol::TransportWs, "complete") | (Protocol::LegacyWs, "stop") => match id {
                Some(id) => {
                    self.streams.remove(&id);
                    if self.protocol == Protocol::LegacyWs {
                        return self.send(json!({ "type": "complete", "id": id })).await;
                    }
                    Next::Continue
                }
                None => Next::Close(close_code::BAD_REQUEST, "Invalid message received".into()),
            },
            (Protocol::LegacyWs, "connection_terminate") => Next::Stop,
            _ => Next::Close(
                close_code::BAD_REQUEST,
                format!("Unexpected message type {kind:?}"),
            ),
        }
    }

    async fn on_init(
        &mut self,
        payload: Option<Value>,
        expiry: &mut Pin<&mut tokio::time::Sleep>,
    ) -> Next {
        if self.init_received {
            return Next::Close(
                close_code::TOO_MANY_INITS,
                "Too many initialisation requests".into(),
            );
        }
        self.init_received = true;
        let authorization = payload
            .as_ref()
            .and_then(|payload| {
                payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
            })
            .and_then(Value::as_str);
        let viewer = match authorization {
            None => Ok(Viewer::Anonymous),
            Some(value) => viewer_from_authorization(Some(value), self.state.authenticator()).await,
        };
        match viewer {
            Ok(viewer) => {
                if let Some(principal) = viewer.principal() {
                    let left = (principal.expires_at - chrono::Utc::now())
                        .to_std()
                        .unwrap_or_default();
                    expiry.as_mut().reset(tokio::time::Instant::now() + left);
                    self.token = authorization.and_then(bearer_token).map(str::to_string);
                    self.sessions = Some(self.state.bus.subscribe(SESSIONS_TOPIC));
                }
                self.viewer = Some(viewer);
                self.send(json!({ "type": "connection_ack" })).await
            }
            Err(error) if error.code() != ErrorCode::Unauthenticated => {
                self.init_unavailable(&error).await
            }
            Err(error) => match self.protocol {
                Protocol::TransportWs => {
                    Next::Close(close_code::FORBIDDEN, error.message().to_string())
                }
                Protocol::LegacyWs => {
                    let _ = self
                        .send(json!({ "type": "connection_error", "payload": { "message": error.message() } }))
                        .await;
                    Next::Close(close_code::FORBIDDEN, error.message().to_string())
                }
            },
        }
    }

    /// `connection_init` whose token could not be checked now: an error for
    /// the legacy protocol, then a close the client retries on; never
    /// 4401/4403, which clients take as "signed out".
    async fn init_unavailable(&mut self, error: &AppError) -> Next {
        error.log_if_internal();
        let request_id = self.meta.request_id.clone();
        let seconds = error
            .retry_after_seconds()
            .unwrap_or(kernel::error::UNAVAILABLE_RETRY_AFTER_SECONDS);
        if self.protocol == Protocol::LegacyWs {
            let payload = json!({
                "message": kernel::error::UNAVAILABLE_MESSAGE,
                "extensions": {
                    "code": ErrorCode::ServiceUnavailable.as_str(),
                    "requestId": request_id,
                    "retryAfterSeconds": seconds,
                },
            });
            if let Next::Stop = self
                .send(json!({ "type": "connection_error", "payload": payload }))
                .await
            {
                return Next::Stop;
            }
        }
        Next::Close(
            close_code::SERVICE_UNAVAILABLE,
            format!("Service unavailable, retry in {seconds} s (request id {request_id})"),
        )
    }

    async fn on_subscribe(&mut self, id: String, payload: &serde_json::Map<String, Value>) -> Next {
        let Some(viewer) = self.viewer.clone() else {
            return Next::Close(close_code::UNAUTHORIZED, "Unauthorized".into());
        };
        if self.streams.len() >= self.state.config.ws_max_subscriptions {
            return Next::Close(
                close_code::BAD_REQUEST,
                format!(
                    "Too many subscriptions: at most {} per connection",
                    self.state.config.ws_max_subscriptions
                ),
            );
        }
        if self.streams.contains_key(&id) {
            return match self.protocol {
                Protocol::TransportWs => Next::Close(
                    close_code::DUPLICATE_SUBSCRIBER,
                    format!("Subscriber for {id} already exists"),
                ),
                Protocol::LegacyWs => {
                    self.send(json!({ "type": "error", "id": id, "payload": { "message": "Subscription id already in use" } }))
                        .await
                }
            };
        }
        let mut request = match request_from_params(payload, &self.state.persisted) {
            Ok(request) => request,
            Err(error) => {
                let errors =
                    json!([{ "message": error.message(), "extensions": { "code": error.code() } }]);
                return self.send_error(&id, errors).await;
            }
        };
        let signed_in = viewer.principal().is_some();
        if let Err(refused) =
            crate::limits::check_request(&mut request, &self.state.config.limits, signed_in)
        {
            let errors = serde_json::to_value(&refused.errors).unwrap_or(Value::Null);
            return self.send_error(&id, errors).await;
        }
        let request_id = self.meta.request_id.clone();
        let operation = request.operation_name.clone().or_else(|| {
            request
                .parsed_query()
                .ok()
                .and_then(crate::http::sole_operation_name)
                .map(str::to_string)
        });
        tracing::info!(
            request_id = %request_id,
            subscription_id = %id,
            operation = operation.as_deref(),
            user_id = viewer.principal().map(|principal| tracing::field::display(principal.user_id)),
            "websocket operation started"
        );
        let suggestions = self.state.config.limits.introspection.allows(signed_in);
        let stream = self
            .state
            .schema
            .execute_stream(request.data(viewer).data(self.meta.clone()))
            .map(move |response| {
                let response = if suggestions {
                    response
                } else {
                    crate::limits::without_suggestions(response)
                };
                Some(crate::limits::finish(response, Some(&request_id)))
            })
            .chain(futures_util::stream::once(async { None }));
        self.streams.insert(id, Box::pin(stream));
        Next::Continue
    }

    async fn send_error(&mut self, id: &str, errors: Value) -> Next {
        match self.protocol {
            Protocol::TransportWs => {
                self.send(json!({ "type": "error", "id": id, "payload": errors }))
                    .await
            }
            Protocol::LegacyWs => {
                let first = errors.get(0).cloned().unwrap_or(Value::Null);
                self.send(json!({ "type": "error", "id": id, "payload": first }))
                    .await
            }
        }
    }

    async fn on_stream_item(&mut self, id: String, item: Option<Response>) -> Next {
        let Some(response) = item else {
            self.streams.remove(&id);
            return self.send(json!({ "type": "complete", "id": id })).await;
        };
        if let Some(codes) = crate::http::error_codes(&response) {
            tracing::info!(
                request_id = %self.meta.request_id,
                subscription_id = %id,
                error_codes = %codes,
                "websocket operation answered with errors"
            );
        }
        if is_request_error(&response) {
            // The operation never ran: an `error` message ends the subscription,
            // and no `complete` follows.
            self.streams.remove(&id);
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            return self.send_error(&id, errors).await;
        }
        let kind = match self.protocol {
            Protocol::TransportWs => "next",
            Protocol::LegacyWs => "data",
        };
        let payload = serde_json::to_value(&response).unwrap_or(Value::Null);
        self.send(json!({ "type": kind, "id": id, "payload": payload }))
            .await
    }
}

//! graphql-transport-ws and the legacy graphql-ws subprotocol, driven by a real websocket client.

use fluxorae::ws::close_code;
use fluxorae_tests::{Persona, TestApp, WsEvent};
use serde_json::{Value, json};

const HEARTBEAT: &str = "subscription { heartbeat(intervalSeconds: 1) }";

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_streams_until_the_client_completes_it() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    assert_eq!(ws.protocol.as_deref(), Some("graphql-transport-ws"));
    ws.init(None).await;
    ws.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": HEARTBEAT } }))
        .await;
    let next = ws.next_json().await;
    assert_eq!(next["type"], "next");
    assert_eq!(next["id"], "1");
    assert!(next["payload"]["data"]["heartbeat"].is_string());
    ws.send(json!({ "type": "complete", "id": "1" })).await;
    ws.send(json!({ "type": "ping", "payload": { "n": 1 } }))
        .await;
    // Heartbeats already in flight may arrive before the pong.
    loop {
        let message = ws.next_json().await;
        if message["type"] == "pong" {
            assert_eq!(message["payload"], json!({ "n": 1 }));
            break;
        }
        assert_eq!(message["type"], "next");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_over_the_socket_answer_once_and_complete() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    ws.send(json!({ "type": "subscribe", "id": "q", "payload": { "query": "{ apiVersion }" } }))
        .await;
    let next = ws.next_json().await;
    assert_eq!(
        next["payload"]["data"]["apiVersion"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        ws.next_json().await,
        json!({ "type": "complete", "id": "q" })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn validation_errors_arrive_as_error_messages() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    ws.send(json!({ "type": "subscribe", "id": "bad", "payload": { "query": "subscription { nope }" } }))
        .await;
    let error = ws.next_json().await;
    assert_eq!(error["type"], "error");
    assert_eq!(error["id"], "bad");
    assert!(error["payload"].is_array());
    assert_eq!(
        error["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_message_closes_with_4400() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send_text("this is not json").await;
    assert_eq!(ws.expect_close().await, close_code::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread")]
async fn subscribing_before_the_ack_closes_with_4401() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": HEARTBEAT } }))
        .await;
    assert_eq!(ws.expect_close().await, close_code::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread")]
async fn no_init_within_the_timeout_closes_with_4408() {
    let app = TestApp::spawn_with(|config| {
        config.ws_init_timeout = std::time::Duration::from_millis(300);
    })
    .await;
    let mut ws = app.ws("graphql-transport-ws").await;
    assert_eq!(ws.expect_close().await, close_code::INIT_TIMEOUT);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_duplicate_subscription_id_closes_with_4409() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    let subscribe = json!({ "type": "subscribe", "id": "same", "payload": { "query": "subscription { heartbeat(intervalSeconds: 300) }" } });
    ws.send(subscribe.clone()).await;
    ws.send(subscribe).await;
    loop {
        match ws.next_event().await {
            WsEvent::Closed(code, _) => {
                assert_eq!(code, close_code::DUPLICATE_SUBSCRIBER);
                break;
            }
            WsEvent::Json(message) => assert_eq!(message["type"], "next"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_init_closes_with_4429() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    ws.send(json!({ "type": "connection_init" })).await;
    assert_eq!(ws.expect_close().await, close_code::TOO_MANY_INITS);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_token_in_connection_init_closes_with_4403() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": "Bearer forged" } }))
        .await;
    assert_eq!(ws.expect_close().await, close_code::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_sends_keepalive_pings() {
    let app = TestApp::spawn_with(|config| {
        config.ws_keepalive = std::time::Duration::from_millis(200);
    })
    .await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    assert_eq!(ws.next_json().await, json!({ "type": "ping" }));
    ws.send(json!({ "type": "pong" })).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_legacy_graphql_ws_protocol_still_works() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-ws").await;
    assert_eq!(ws.protocol.as_deref(), Some("graphql-ws"));
    ws.init(None).await;
    ws.send(json!({ "type": "start", "id": "1", "payload": { "query": HEARTBEAT } }))
        .await;
    let data = ws.next_json().await;
    assert_eq!(data["type"], "data");
    assert!(data["payload"]["data"]["heartbeat"].is_string());
    ws.send(json!({ "type": "stop", "id": "1" })).await;
    loop {
        let message = ws.next_json().await;
        if message["type"] == "complete" {
            assert_eq!(message["id"], "1");
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_subscription_ends_when_the_access_token_expires() {
    let app = TestApp::spawn_with(|config| {
        config.domains.auth.access_ttl = std::time::Duration::from_secs(2);
    })
    .await;
    let user = app.persona(kernel::Role::Employee).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(&user.token)).await;
    ws.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": HEARTBEAT } }))
        .await;
    let started = std::time::Instant::now();
    loop {
        match ws.next_event().await {
            WsEvent::Json(message) => assert_eq!(message["type"], "next", "{message}"),
            WsEvent::Closed(code, _) => {
                assert_eq!(code, close_code::FORBIDDEN);
                break;
            }
        }
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Waits (at most `seconds`) for the socket to close, skipping messages; answers the code.
async fn closes_within(ws: &mut fluxorae_tests::WsClient, seconds: u64) -> u16 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while std::time::Instant::now() < deadline {
        if let WsEvent::Closed(code, _) = ws.next_event().await {
            return code;
        }
    }
    panic!("the socket stayed open for {seconds} s");
}

/// A signed-in socket with a one-second heartbeat whose first beat arrived.
async fn heartbeat_for(app: &TestApp, token: &str) -> fluxorae_tests::WsClient {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(Some(token)).await;
    ws.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": HEARTBEAT } }))
        .await;
    assert_eq!(ws.next_json().await["type"], "next");
    ws
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_a_user_closes_their_open_socket_with_4403() {
    let app = TestApp::spawn_with(|config| {
        config.ws_revalidate = std::time::Duration::from_secs(1);
    })
    .await;
    let admin = app.persona(kernel::Role::Admin).await;
    let employee = app.persona(kernel::Role::Employee).await;
    let mut ws = heartbeat_for(&app, &employee.token).await;
    let disabled = app
        .graphql(
            Some(&admin.token),
            "mutation($id: ID!) { disableUser(userId: $id) { status } }",
            json!({ "id": employee.user_id }),
        )
        .await;
    assert_eq!(disabled["data"]["disableUser"]["status"], "DISABLED");
    assert_eq!(closes_within(&mut ws, 10).await, close_code::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn logging_out_closes_the_sessions_socket() {
    let app = TestApp::spawn_with(|config| {
        config.ws_revalidate = std::time::Duration::from_secs(1);
    })
    .await;
    let client = app.persona(kernel::Role::Client).await;
    let mut ws = heartbeat_for(&app, &client.token).await;
    // Several re-checks pass while the session is valid.
    for _ in 0..2 {
        assert_eq!(ws.next_json().await["type"], "next");
    }
    let response = app
        .http
        .post(app.url("/auth/logout"))
        .bearer_auth(&client.token)
        .json(&json!({}))
        .send()
        .await
        .expect("logout");
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(closes_within(&mut ws, 10).await, close_code::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_holds_at_most_the_configured_number_of_subscriptions() {
    let app = TestApp::spawn_with(|config| config.ws_max_subscriptions = 3).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    for id in 0..3 {
        ws.send(json!({ "type": "subscribe", "id": id.to_string(), "payload": { "query": "subscription { heartbeat(intervalSeconds: 30) }" } }))
            .await;
    }
    ws.send(json!({ "type": "subscribe", "id": "3", "payload": { "query": HEARTBEAT } }))
        .await;
    // The first three stream their first heartbeats; the fourth closes the socket.
    loop {
        match ws.next_event().await {
            WsEvent::Json(message) => assert_eq!(message["type"], "next", "{message}"),
            WsEvent::Closed(code, reason) => {
                assert_eq!(code, close_code::BAD_REQUEST);
                assert!(reason.contains("at most 3"), "{reason}");
                break;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_larger_than_the_body_limit_is_refused() {
    let app = TestApp::spawn_with(|config| config.body_limit_bytes = 4096).await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    let padding = "x".repeat(8192);
    ws.send_text(&format!(
        r#"{{"type":"subscribe","id":"big","payload":{{"query":"{{ apiVersion }} # {padding}"}}}}"#
    ))
    .await;
    assert_eq!(closes_within(&mut ws, 5).await, 1009);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_socket_cannot_open_a_subscription_that_needs_a_principal() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.init(None).await;
    ws.send(json!({ "type": "subscribe", "id": "b", "payload": { "query": "subscription { boardEvents(projectId: \"00000000-0000-0000-0000-000000000000\") { kind } }" } }))
        .await;
    let answer = ws.next_json().await;
    // A guard error arrives as a `next` with errors, a refused document as `error`.
    let code = if answer["type"] == "error" {
        answer["payload"][0]["extensions"]["code"].clone()
    } else {
        answer["payload"]["errors"][0]["extensions"]["code"].clone()
    };
    assert_eq!(code, "UNAUTHENTICATED");
}

/// A change that ends or alters a signed-in employee's access.
#[derive(Debug, Clone, Copy)]
enum Revocation {
    /// The employee logs out of the socket's session.
    Logout,
    /// The employee, signed in a second time, revokes the socket's session.
    RevokeSession,
    /// An admin disables the employee.
    DisableUser,
    /// An admin makes the employee a freelancer.
    ChangeRole,
    /// The employee resets the password from the emailed link.
    ResetPassword,
}

/// Runs `query` and expects no errors.
async fn succeeds(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let response = app.graphql(token, query, variables).await;
    assert!(response["errors"].is_null(), "{query}: {response}");
    response["data"].clone()
}

/// The token in the password-reset link last sent to `email`.
async fn emailed_reset_token(app: &TestApp, email: &str) -> String {
    let mail = app.last_email_to(email).await.expect("a reset email");
    let (_, rest) = mail.text.split_once("token=").expect("a reset link");
    rest.split_whitespace().next().expect("a token").to_string()
}

impl Revocation {
    async fn apply(self, app: &TestApp, admin: &Persona, employee: &Persona) {
        match self {
            Self::Logout => {
                succeeds(app, Some(&employee.token), "mutation { logout }", json!({})).await;
            }
            Self::RevokeSession => {
                let login = "mutation($email: String!, $password: String!) { \
                             login(input: { email: $email, password: $password }) { accessToken } }";
                let second = succeeds(
                    app,
                    None,
                    login,
                    json!({ "email": employee.email, "password": employee.password }),
                )
                .await["login"]["accessToken"]
                    .as_str()
                    .expect("a second session")
                    .to_string();
                let me = succeeds(
                    app,
                    Some(&second),
                    "{ me { sessions { id current } } }",
                    json!({}),
                )
                .await;
                let sessions = me["me"]["sessions"].as_array().expect("sessions").clone();
                let first = sessions
                    .iter()
                    .find(|session| session["current"] == false)
                    .expect("the socket's session");
                succeeds(
                    app,
                    Some(&second),
                    "mutation($id: ID!) { revokeSession(sessionId: $id) }",
                    json!({ "id": first["id"] }),
                )
                .await;
            }
            Self::DisableUser => {
                succeeds(
                    app,
                    Some(&admin.token),
                    "mutation($id: ID!) { disableUser(userId: $id) { status } }",
                    json!({ "id": employee.user_id }),
                )
                .await;
            }
            Self::ChangeRole => {
                succeeds(
                    app,
                    Some(&admin.token),
                    "mutation($id: ID!) { changeUserRole(input: { userId: $id, role: FREELANCER }) { role } }",
                    json!({ "id": employee.user_id }),
                )
                .await;
            }
            Self::ResetPassword => {
                succeeds(
                    app,
                    None,
                    "mutation($email: String!) { requestPasswordReset(input: { email: $email }) }",
                    json!({ "email": employee.email }),
                )
                .await;
                let token = emailed_reset_token(app, &employee.email).await;
                succeeds(
                    app,
                    None,
                    "mutation($token: String!) { resetPassword(input: { token: $token, newPassword: \"Copper kettle by the monsoon window\" }) }",
                    json!({ "token": token }),
                )
                .await;
            }
        }
    }
}

/// Reads `ws` for `duration`; fails when it closes.
async fn stays_open_for(ws: &mut fluxorae_tests::WsClient, duration: std::time::Duration) {
    let until = std::time::Instant::now() + duration;
    while std::time::Instant::now() < until {
        if let WsEvent::Closed(code, reason) = ws.next_event().await {
            panic!("an unrelated socket closed with {code}: {reason}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_revocation_closes_the_users_socket_at_once_and_no_one_elses() {
    // The periodic re-check never runs in this test: only the session event can close a socket.
    // No outbox worker either: the reset email waits in the outbox, where the
    // test reads its link (a sent email keeps no link there).
    let app = TestApp::spawn_with(|config| {
        config.ws_revalidate = std::time::Duration::from_secs(3600);
        config.outbox_enabled = false;
    })
    .await;
    let admin = app.persona(kernel::Role::Admin).await;
    let bystander = app.persona(kernel::Role::Employee).await;
    let mut unrelated = heartbeat_for(&app, &bystander.token).await;
    let cases = [
        (
            "logging out closes the socket of that session",
            Revocation::Logout,
        ),
        (
            "revoking the session from another one closes its socket",
            Revocation::RevokeSession,
        ),
        (
            "disabling the user closes their socket",
            Revocation::DisableUser,
        ),
        (
            "changing the user's role closes their socket",
            Revocation::ChangeRole,
        ),
        (
            "resetting the password closes the user's sockets",
            Revocation::ResetPassword,
        ),
    ];
    for (case, revocation) in cases {
        let employee = app.persona(kernel::Role::Employee).await;
        let mut ws = heartbeat_for(&app, &employee.token).await;
        revocation.apply(&app, &admin, &employee).await;
        let revoked_at = std::time::Instant::now();
        assert_eq!(
            closes_within(&mut ws, 5).await,
            close_code::FORBIDDEN,
            "{case}"
        );
        assert!(
            revoked_at.elapsed() < std::time::Duration::from_secs(3),
            "{case}: closed after {:?}",
            revoked_at.elapsed()
        );
        stays_open_for(&mut unrelated, std::time::Duration::from_millis(1500)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_failure_during_a_recheck_keeps_the_socket_and_the_next_check_decides() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn_with(|config| {
        config.ws_revalidate = std::time::Duration::from_secs(1);
    })
    .await;
    let employee = app.persona(kernel::Role::Employee).await;
    let mut ws = heartbeat_for(&app, &employee.token).await;
    // With the sessions table gone every re-check fails inside the database.
    let mut conn = app.db().await;
    diesel::sql_query("ALTER TABLE sessions RENAME TO sessions_unreachable")
        .execute(&mut conn)
        .await
        .expect("hide sessions");
    stays_open_for(&mut ws, std::time::Duration::from_secs(3)).await;
    diesel::sql_query("ALTER TABLE sessions_unreachable RENAME TO sessions")
        .execute(&mut conn)
        .await
        .expect("restore sessions");
    // Once the database answers again, a revoked session still closes the socket.
    diesel::sql_query("UPDATE sessions SET revoked_at = now()")
        .execute(&mut conn)
        .await
        .expect("revoke sessions");
    assert_eq!(closes_within(&mut ws, 10).await, close_code::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_socket_that_offers_no_subprotocol_is_closed_with_4406() {
    let app = TestApp::spawn().await;
    let mut ws = app.ws("").await;
    assert_eq!(ws.protocol, None);
    assert_eq!(
        ws.expect_close().await,
        close_code::SUBPROTOCOL_NOT_ACCEPTABLE
    );
    assert_eq!(close_code::SUBPROTOCOL_NOT_ACCEPTABLE, 4406);
}

//! A database outage is not a sign-out: while PostgreSQL is stopped, a valid
//! token or refresh cookie is answered with 503 `SERVICE_UNAVAILABLE`,
//! `Retry-After` and the request id (HTTP, REST, websocket `connection_init`),
//! never with 401 or 4401/4403, and once the database is back the same
//! credentials work. These tests run on a private cluster they stop and
//! restart. And a database error inside a visibility check is a server
//! failure, never a `NOT_FOUND` verdict.

use std::time::{Duration, Instant};

use fluxorae::ws::close_code;
use fluxorae_tests::private_cluster::PrivateCluster;
use fluxorae_tests::{TestApp, WsEvent};
use kernel::Role;
use serde_json::{Value, json};

use crate::auth_security::{Reply, gql, post_json, rest_login};

const PORTAL: &str = "https://portal.example";
const HEARTBEAT: &str = "subscription { heartbeat(intervalSeconds: 1) }";

/// Asserts the answer of a request whose credentials could not be checked:
/// 503, `Retry-After`, no challenge, and (for GraphQL) the code and the
/// request id the response header names.
fn assert_unavailable(reply: &Reply, label: &str) {
    assert_eq!(reply.status, 503, "{label}: {:?}", reply.body);
    assert!(
        reply.headers.get("www-authenticate").is_none(),
        "{label}: a challenge tells clients to sign in again"
    );
    let retry_after: u64 = reply
        .headers
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("{label}: Retry-After in {:?}", reply.headers));
    assert!(retry_after > 0, "{label}");
    let request_id = reply
        .headers
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .expect("x-request-id");
    if reply.body.get("errors").is_some() {
        let error = &reply.body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "SERVICE_UNAVAILABLE",
            "{label}"
        );
        assert_eq!(error["extensions"]["requestId"], request_id, "{label}");
        assert!(reply.body.get("data").is_none(), "{label}");
    } else {
        assert_eq!(
            reply.body["error"]["code"], "SERVICE_UNAVAILABLE",
            "{label}: {:?}",
            reply.body
        );
    }
}

/// `{ me { id } }` over GET with a bearer token.
async fn me_over_get(app: &TestApp, token: &str) -> Reply {
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ me { id } }")])
        .bearer_auth(token)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// Retries `{ me { id } }` until the database answers again (the pool drops
/// the connections the restart cut); the last reply.
async fn me_once_back(app: &TestApp, token: &str) -> Reply {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let reply = gql(app, Some(token), &[], "{ me { id } }", json!({})).await;
        if reply.status != 503 || Instant::now() > deadline {
            return reply;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of cookie `name` in the `Set-Cookie` lines of `reply`.
fn cookie_value(reply: &Reply, name: &str) -> Option<String> {
    reply.set_cookies().into_iter().find_map(|line| {
        line.split(';')
            .next()
            .and_then(|pair| pair.split_once('='))
            .filter(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    })
}

/// A cookie refresh from the portal, with the CSRF double submit.
async fn cookie_refresh(app: &TestApp, refresh: &str, csrf: &str) -> Reply {
    let cookies = format!("fluxorae_refresh={refresh}; fluxorae_csrf={csrf}");
    post_json(
        app,
        "/auth/refresh",
        &[
            ("cookie", cookies.as_str()),
            ("origin", PORTAL),
            ("x-csrf-token", csrf),
        ],
        &json!({}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn while_the_database_is_down_signed_in_http_requests_answer_503_and_keep_the_session() {
    let mut cluster = PrivateCluster::start().await;
    let app = TestApp::spawn_on(&cluster.url(), |config| {
        config.allowed_origins = vec![PORTAL.into()];
    })
    .await;
    let persona = app.persona(Role::Employee).await;
    let browser = rest_login(
        &app,
        &[("origin", PORTAL)],
        &persona.email,
        &persona.password,
    )
    .await;
    assert_eq!(browser.status, 200, "{:?}", browser.body);
    let refresh = cookie_value(&browser, "fluxorae_refresh").expect("refresh cookie");
    let csrf = cookie_value(&browser, "fluxorae_csrf").expect("csrf cookie");
    assert_eq!(
        gql(&app, Some(&persona.token), &[], "{ me { id } }", json!({}))
            .await
            .status,
        200
    );

    cluster.stop().await;
    let started = Instant::now();
    assert_unavailable(
        &gql(&app, Some(&persona.token), &[], "{ me { id } }", json!({})).await,
        "POST /graphql",
    );
    assert_unavailable(&me_over_get(&app, &persona.token).await, "GET /graphql");
    let refreshed = cookie_refresh(&app, &refresh, &csrf).await;
    assert_unavailable(&refreshed, "cookie refresh");
    assert!(
        refreshed.set_cookies().is_empty(),
        "an outage must not clear the session cookies: {:?}",
        refreshed.set_cookies()
    );
    let logout = post_json(
        &app,
        "/auth/logout",
        &[("authorization", &format!("Bearer {}", persona.token))],
        &json!({}),
    )
    .await;
    assert_unavailable(&logout, "logout with a bearer token");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "answers must not wait out the database: {:?}",
        started.elapsed()
    );

    cluster.restart().await;
    let back = me_once_back(&app, &persona.token).await;
    assert_eq!(back.status, 200, "{:?}", back.body);
    assert_eq!(
        back.body["data"]["me"]["id"],
        persona.user_id.to_string(),
        "the same token works again"
    );
    let refreshed = cookie_refresh(&app, &refresh, &csrf).await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
}

/// Sends `connection_init` with the token; the close code and reason, or
/// `None` when acknowledged.
async fn init_outcome(
    app: &TestApp,
    protocol: &str,
    token: &str,
) -> (Option<(u16, String)>, Vec<Value>) {
    let mut ws = app.ws(protocol).await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }))
        .await;
    let mut messages = Vec::new();
    loop {
        match ws.next_event().await {
            WsEvent::Closed(code, reason) => return (Some((code, reason)), messages),
            WsEvent::Json(message) if message["type"] == "connection_ack" => {
                return (None, messages);
            }
            WsEvent::Json(message) => messages.push(message),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn while_the_database_is_down_websockets_are_neither_refused_nor_closed_as_signed_out() {
    let mut cluster = PrivateCluster::start().await;
    let app = TestApp::spawn_on(&cluster.url(), |config| {
        config.ws_revalidate = Duration::from_secs(1);
    })
    .await;
    let persona = app.persona(Role::Employee).await;
    let mut open = app.ws("graphql-transport-ws").await;
    open.init(Some(&persona.token)).await;
    open.send(json!({ "type": "subscribe", "id": "1", "payload": { "query": HEARTBEAT } }))
        .await;
    assert_eq!(open.next_json().await["type"], "next");

    cluster.stop().await;
    let (closed, _) = init_outcome(&app, "graphql-transport-ws", &persona.token).await;
    let (code, reason) = closed.expect("an unverifiable init is not acknowledged");
    assert!(
        (4500..4600).contains(&code),
        "connection_init during an outage closed with {code}: {reason}"
    );
    assert!(reason.contains("request id"), "{reason}");
    let (closed, messages) = init_outcome(&app, "graphql-ws", &persona.token).await;
    let (code, _) = closed.expect("an unverifiable legacy init is not acknowledged");
    assert!(
        (4500..4600).contains(&code),
        "legacy init closed with {code}"
    );
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert_eq!(messages[0]["type"], "connection_error");
    assert_eq!(
        messages[0]["payload"]["extensions"]["code"],
        "SERVICE_UNAVAILABLE"
    );
    // The socket that was open keeps streaming through several failed re-checks.
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if let WsEvent::Closed(code, reason) = open.next_event().await {
            panic!("the open socket closed during the outage with {code}: {reason}");
        }
    }

    cluster.restart().await;
    assert_eq!(me_once_back(&app, &persona.token).await.status, 200);
    let (closed, _) = init_outcome(&app, "graphql-transport-ws", &persona.token).await;
    assert_eq!(closed, None, "the same token is acknowledged again");
    // Once the database answers, a revoked session still closes the socket.
    diesel_async::RunQueryDsl::execute(
        diesel::sql_query("UPDATE sessions SET revoked_at = now()"),
        &mut app.db().await,
    )
    .await
    .expect("revoke sessions");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "the revoked socket stayed open");
        if let WsEvent::Closed(code, _) = open.next_event().await {
            assert_eq!(code, close_code::FORBIDDEN);
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_error_while_checking_a_tasks_project_is_not_answered_as_not_found() {
    use diesel_async::RunQueryDsl;
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let project = app
        .data(
            &admin,
            "mutation($input: CreateProjectInput!) { createProject(input: $input) { id } }",
            json!({ "input": { "organizationId": client.organization_id.to_string(), "name": "Outage" } }),
        )
        .await["createProject"]["id"]
        .clone();
    let task = app
        .data(
            &admin,
            "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }",
            json!({ "input": { "projectId": project, "title": "Check me" } }),
        )
        .await["createTask"]["id"]
        .clone();
    let read = "query($id: ID!) { task(id: $id) { id } }";
    assert_eq!(
        app.error_code(&admin, read, json!({ "id": task })).await,
        "none"
    );
    // The task row reads, the visibility check of its project fails inside the database.
    diesel::sql_query("ALTER TABLE projects RENAME TO projects_unreachable")
        .execute(&mut app.db().await)
        .await
        .expect("hide projects");
    assert_eq!(
        app.error_code(&admin, read, json!({ "id": task })).await,
        "INTERNAL_SERVER_ERROR",
        "a failed check is not a verdict that the task is out of reach"
    );
}

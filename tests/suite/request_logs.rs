//! What the request log line says about a GraphQL request.

use fluxorae_tests::server_process::ServerProcess;
use fluxorae_tests::{TestApp, WsClient};
use kernel::Role;
use serde_json::{Value, json};

/// The log line that closes the request whose `x-request-id` answer was `id`.
fn request_line<'a>(lines: &'a [Value], id: &str) -> &'a Value {
    lines
        .iter()
        .find(|line| line["span"]["request_id"] == id && line["status"].is_number())
        .unwrap_or_else(|| panic!("no response line for request {id}: {lines:#?}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn each_request_is_logged_with_its_operation_name_user_and_error_codes() {
    let app = TestApp::spawn().await;
    let client_user = app.persona(Role::Client).await;
    let database_url = app.database.as_ref().expect("own database").url.clone();
    let server = ServerProcess::spawn(&database_url, &[]).await;
    let http = fluxorae_tests::http_client();
    let login: Value = http
        .post(server.url("/auth/login"))
        .json(&json!({ "email": client_user.email, "password": client_user.password }))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    let token = login["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no access token in {login}"));

    let post = |body: Value, token: Option<&str>| {
        let mut request = http.post(server.url("/graphql")).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        async move {
            let response = request.send().await.expect("graphql");
            response.headers()["x-request-id"]
                .to_str()
                .expect("ascii")
                .to_string()
        }
    };
    let named = post(
        json!({ "query": "query WhoAmI { me { email } project(id: \"not-an-id\") { name } }" }),
        Some(token),
    )
    .await;
    let chosen = post(
        json!({
            "query": "query First { apiVersion } query Second { me { email } }",
            "operationName": "Second",
        }),
        None,
    )
    .await;
    let anonymous_ok = post(json!({ "query": "{ apiVersion }" }), None).await;
    let mut socket = WsClient::connect(
        &server.url("/graphql/ws").replacen("http", "ws", 1),
        "graphql-transport-ws",
    )
    .await;
    socket.init(Some(token)).await;
    socket
        .send(json!({ "id": "beat", "type": "subscribe", "payload": {
            "query": "subscription Beat { heartbeat(intervalSeconds: 0) }",
        } }))
        .await;
    let refused = socket.next_json().await;
    assert_eq!(refused["type"], "next", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "BAD_USER_INPUT",
        "{refused}"
    );
    drop(socket);
    let lines = server.stop();

    let line = request_line(&lines, &named);
    assert_eq!(line["span"]["operation"], "WhoAmI", "{line}");
    assert_eq!(
        line["span"]["user_id"],
        client_user.user_id.to_string(),
        "{line}"
    );
    assert_eq!(line["span"]["error_codes"], "BAD_USER_INPUT", "{line}");

    let line = request_line(&lines, &chosen);
    assert_eq!(line["span"]["operation"], "Second", "{line}");
    assert!(line["span"]["user_id"].is_null(), "{line}");
    assert_eq!(line["span"]["error_codes"], "UNAUTHENTICATED", "{line}");

    let line = request_line(&lines, &anonymous_ok);
    assert!(line["span"]["operation"].is_null(), "{line}");
    assert!(line["span"]["error_codes"].is_null(), "{line}");

    let started = lines
        .iter()
        .find(|line| line["message"] == "websocket operation started")
        .unwrap_or_else(|| panic!("no websocket operation line: {lines:#?}"));
    assert_eq!(started["operation"], "Beat", "{started}");
    assert_eq!(
        started["user_id"],
        client_user.user_id.to_string(),
        "{started}"
    );
    assert!(
        lines.iter().any(
            |line| line["message"] == "websocket operation answered with errors"
                && line["subscription_id"] == "beat"
                && line["error_codes"]
                    .as_str()
                    .is_some_and(|codes| !codes.is_empty())
        ),
        "{lines:#?}"
    );
}

//! GraphQL over HTTP: content types, methods, limits, health and request ids.

use fluxorae_tests::TestApp;
use serde_json::{Value, json};

async fn post_raw(app: &TestApp, content_type: &str, body: &str) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("content-type", content_type)
        .body(body.to_string())
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_simple_query_answers_with_json_and_a_request_id() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("accept", "application/json")
        .json(&json!({ "query": "{ __typename apiVersion }" }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["data"]["__typename"], "Query");
    assert!(body.get("errors").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn posts_that_are_not_json_are_refused_so_browsers_cannot_forge_them() {
    let app = TestApp::spawn().await;
    let body = r#"{"query":"{ __typename }"}"#;
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
    ] {
        let (status, body) = post_raw(&app, content_type, body).await;
        assert_eq!(status, 415, "{content_type}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "UNSUPPORTED_MEDIA_TYPE"
        );
    }
    let (status, _) = post_raw(&app, "application/json; charset=utf-8", body).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_are_refused_over_get() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "mutation { __typename }")])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    let response = app
        .http
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }")])
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_explorer_is_served_to_browsers_only_when_enabled() {
    let app = TestApp::spawn().await;
    let page = app
        .http
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("send");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("text").contains("graphiql"));

    let app = TestApp::spawn_with(|config| config.graphiql_enabled = false).await;
    let page = app
        .http
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("send");
    assert_ne!(page.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn request_errors_use_400_with_graphql_response_json_and_omit_data() {
    let app = TestApp::spawn().await;
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": "{ notAField }" }))
        .send()
        .await
        .expect("send");
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.expect("json");
    assert!(body.get("data").is_none());
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    let (status, body) = app.post_graphql(None, "{ __typename", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_PARSE_FAILED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn depth_complexity_and_alias_limits_reject_expensive_queries() {
    let app = TestApp::spawn_with(|config| {
        config.limits.max_depth = 2;
        config.limits.max_aliases = 3;
    })
    .await;
    let deep = "{ me { organization { name } } }";
    let (_, body) = app.post_graphql(None, deep, json!({})).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );

    let aliases = "{ a: __typename b: __typename c: __typename d: __typename }";
    let (_, body) = app.post_graphql(None, aliases, json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("Too many aliases"), "{body}");

    let (_, body) = app
        .post_graphql(None, "{ a: apiVersion b: serverTime }", json!({}))
        .await;
    assert!(body.get("errors").is_none(), "{body}");

    let app = TestApp::spawn_with(|config| config.limits.max_complexity = 3).await;
    let complex = "{ a: apiVersion b: apiVersion c: serverTime d: serverTime }";
    let (_, body) = app.post_graphql(None, complex, json!({})).await;
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains("complex"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_refused_unless_enabled_and_bounded_when_enabled() {
    let app = TestApp::spawn().await;
    let batch = r#"[{"query":"{ __typename }"},{"query":"{ apiVersion }"}]"#;
    let (status, _) = post_raw(&app, "application/json", batch).await;
    assert_eq!(status, 400);

    let app = TestApp::spawn_with(|config| {
        config.limits.allow_batch = true;
        config.limits.max_batch = 2;
    })
    .await;
    let (status, body) = post_raw(&app, "application/json", batch).await;
    assert_eq!(status, 200);
    assert_eq!(body[1]["data"]["apiVersion"], env!("CARGO_PKG_VERSION"));
    let three =
        r#"[{"query":"{ __typename }"},{"query":"{ __typename }"},{"query":"{ __typename }"}]"#;
    let (status, _) = post_raw(&app, "application/json", three).await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn_with(|config| config.body_limit_bytes = 1024).await;
    let padding = "x".repeat(4096);
    let body = json!({ "query": "{ __typename }", "extensions": { "pad": padding } }).to_string();
    let (status, _) = post_raw(&app, "application/json", &body).await;
    assert_eq!(status, 413);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_token_is_unauthenticated_never_anonymous() {
    let app = TestApp::spawn().await;
    let (status, body) = app
        .post_graphql(Some("not-a-token"), "{ __typename }", json!({}))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread")]
async fn health_is_alive_and_readiness_checks_migrations() {
    let app = TestApp::spawn().await;
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert_eq!(health.status(), 200);
    let ready = app.http.get(app.url("/readyz")).send().await.expect("send");
    assert_eq!(ready.status(), 200);

    let mut conn = app.db().await;
    use diesel_async::RunQueryDsl;
    diesel::sql_query(
        "DELETE FROM __diesel_schema_migrations WHERE version = (SELECT max(version) FROM __diesel_schema_migrations)",
    )
    .execute(&mut conn)
    .await
    .expect("forget a migration");
    let ready = app.http.get(app.url("/readyz")).send().await.expect("send");
    assert_eq!(ready.status(), 503);
}

#[tokio::test(flavor = "multi_thread")]
async fn root_fields_answer_in_the_order_they_were_selected() {
    let app = TestApp::spawn().await;
    let client = app.persona(kernel::Role::Client).await;
    let query =
        "{ tickets { totalCount } me { email } projects { totalCount } version: apiVersion }";
    // The raw text: a parsed JSON map would not keep the order.
    let body = app
        .http
        .post(app.url("/graphql"))
        .bearer_auth(&client.token)
        .json(&json!({ "query": query }))
        .send()
        .await
        .expect("send")
        .text()
        .await
        .expect("text");
    let position = |key: &str| {
        body.find(&format!("\"{key}\":"))
            .unwrap_or_else(|| panic!("{key} missing: {body}"))
    };
    assert!(position("tickets") < position("me"), "{body}");
    assert!(position("me") < position("projects"), "{body}");
    assert!(position("projects") < position("version"), "{body}");
}

/// `POST /auth/login` for an unknown account with the given `X-Forwarded-For`
/// lines, in order; the status.
async fn login_forwarded_for(app: &TestApp, lines: &[&str]) -> u16 {
    let mut request = app.http.post(app.url("/auth/login")).json(&json!({
        "email": format!("nobody-{}@example.test", uuid::Uuid::new_v4().simple()),
        "password": "Wrong Password 4242",
    }));
    for line in lines {
        request = request.header("x-forwarded-for", *line);
    }
    request.send().await.expect("send").status().as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_cannot_choose_its_address_with_an_x_forwarded_for_line_of_its_own() {
    // One proxy in front; it appends the client's real address as a line of
    // its own below whatever lines the client sent.
    let app = TestApp::spawn_with(|config| {
        config.trusted_proxy_hops = 1;
        config.domains.auth.rate_limits.login_per_ip_per_minute = 3;
    })
    .await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    if 60 - now % 60 < 20 {
        // All attempts must land in one window of the per-minute budget.
        tokio::time::sleep(std::time::Duration::from_secs(60 - now % 60 + 1)).await;
    }
    let mut statuses = Vec::new();
    for attempt in 0..5 {
        let spoofed = format!("198.51.100.{attempt}");
        statuses.push(login_forwarded_for(&app, &[&spoofed, "203.0.113.7"]).await);
    }
    assert_eq!(
        statuses,
        [401, 401, 401, 429, 429],
        "the budget belongs to the address the proxy saw, whatever the client wrote above it"
    );
    // Another real client behind the same proxy has a budget of its own.
    assert_eq!(login_forwarded_for(&app, &["203.0.113.8"]).await, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_chosen_request_id_is_replaced_by_ours_and_logged_beside_it() {
    use std::process::{Command, Stdio};
    let database = fluxorae_tests::TestDatabase::create().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("free port");
    let log =
        std::env::temp_dir().join(format!("fluxorae-request-id-{}.log", uuid::Uuid::new_v4()));
    let mut server = Command::new(fluxorae_tests::fluxorae_binary())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("APP_ENV", "test")
        .env("DATABASE_URL", &database.url)
        .env("RUN_MIGRATIONS", "false")
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .env("OUTBOX_ENABLED", "false")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start fluxorae serve");
    let client = fluxorae_tests::http_client();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let response = loop {
        let sent = client
            .post(&url)
            .header("x-request-id", "chosen-by-the-client")
            .json(&json!({ "query": "{ apiVersion }" }))
            .send()
            .await;
        match sent {
            Ok(response) => break response,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(error) => panic!("the server did not answer: {error}"),
        }
    };
    assert_eq!(response.status(), 200);
    let ours = response.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let _ = Command::new("kill")
        .args(["-TERM", &server.id().to_string()])
        .status();
    let _ = server.wait();
    assert_ne!(ours, "chosen-by-the-client");
    assert!(uuid::Uuid::parse_str(&ours).is_ok(), "{ours}");
    let lines = std::fs::read_to_string(&log).expect("read log");
    let _ = std::fs::remove_file(&log);
    let logged = lines
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .find(|line| line["span"]["client_request_id"] == "chosen-by-the-client")
        .unwrap_or_else(|| panic!("no log line names the client's request id:\n{lines}"));
    assert_eq!(logged["span"]["request_id"], ours.as_str(), "{logged}");
}

#[tokio::test(flavor = "multi_thread")]
async fn answers_that_carry_tokens_may_not_be_stored_by_any_cache() {
    let app = TestApp::spawn().await;
    let persona = app.persona(kernel::Role::Client).await;
    let credentials = json!({ "email": persona.email, "password": persona.password });
    let login = app
        .http
        .post(app.url("/auth/login"))
        .json(&credentials)
        .send()
        .await
        .expect("send");
    assert_eq!(login.status(), 200);
    let cache_control = |response: &reqwest::Response| {
        response
            .headers()
            .get("cache-control")
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    };
    assert_eq!(
        cache_control(&login).as_deref(),
        Some("no-store"),
        "REST login"
    );
    let body: Value = login.json().await.expect("json");
    let refresh = app
        .http
        .post(app.url("/auth/refresh"))
        .json(&json!({ "refreshToken": body["refreshToken"] }))
        .send()
        .await
        .expect("send");
    assert_eq!(refresh.status(), 200);
    assert_eq!(
        cache_control(&refresh).as_deref(),
        Some("no-store"),
        "REST refresh"
    );
    let graphql = app
        .http
        .post(app.url("/graphql"))
        .json(&json!({
            "query": "mutation($input: LoginInput!) { login(input: $input) { accessToken } }",
            "variables": { "input": credentials },
        }))
        .send()
        .await
        .expect("send");
    assert_eq!(
        cache_control(&graphql).as_deref(),
        Some("no-store"),
        "GraphQL login"
    );
    let body: Value = graphql.json().await.expect("json");
    assert!(body["data"]["login"]["accessToken"].is_string(), "{body}");
    // Not an HTTPS deployment: no HSTS unless configured.
    let plain = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert!(plain.headers().get("strict-transport-security").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_https_deployment_sends_strict_transport_security_as_configured() {
    let app = TestApp::spawn_with(|config| {
        config.hsts_max_age_secs = 63_072_000;
        config.hsts_include_subdomains = true;
    })
    .await;
    for path in ["/healthz", "/graphql?query=%7B__typename%7D"] {
        let response = app.http.get(app.url(path)).send().await.expect("send");
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=63072000; includeSubDomains",
            "{path}"
        );
    }
}

//! Cross-origin access: real preflights as browsers send them, and the origin
//! check on the websocket.

use fluxorae_tests::TestApp;
use serde_json::json;

const PORTAL: &str = "https://portal.example.test";
const STRANGER: &str = "https://evil.example.test";

async fn app() -> TestApp {
    TestApp::spawn_with(|config| config.allowed_origins = vec![PORTAL.into()]).await
}

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.http
        .request(reqwest::Method::OPTIONS, app.url(path))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "content-type,authorization",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test(flavor = "multi_thread")]
async fn allowed_origins_pass_the_preflight_with_credentials_and_a_cache() {
    let app = app().await;
    for path in ["/graphql", "/auth/login", "/auth/refresh"] {
        let response = preflight(&app, path, PORTAL).await;
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], PORTAL, "{path}");
        assert_eq!(headers["access-control-allow-credentials"], "true");
        assert_eq!(headers["access-control-max-age"], "600");
        let allowed = headers["access-control-allow-headers"]
            .to_str()
            .expect("ascii")
            .to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"));
        assert!(
            headers["access-control-allow-methods"]
                .to_str()
                .expect("ascii")
                .contains("POST")
        );
    }
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("origin", PORTAL)
        .json(&json!({ "query": "{ apiVersion }" }))
        .send()
        .await
        .expect("post");
    assert_eq!(response.headers()["access-control-allow-origin"], PORTAL);
    assert!(
        response.headers()["access-control-expose-headers"]
            .to_str()
            .expect("ascii")
            .contains("x-request-id")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn other_origins_get_no_cors_headers() {
    let app = app().await;
    let response = preflight(&app, "/graphql", STRANGER).await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("origin", STRANGER)
        .json(&json!({ "query": "{ apiVersion }" }))
        .send()
        .await
        .expect("post");
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_websocket_refuses_pages_of_other_origins() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let app = app().await;
    let open = |origin: &'static str| {
        let mut request = app
            .url("/graphql/ws")
            .replacen("http://", "ws://", 1)
            .into_client_request()
            .expect("request");
        request.headers_mut().insert(
            "sec-websocket-protocol",
            "graphql-transport-ws".parse().expect("header"),
        );
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("header"));
        tokio_tungstenite::connect_async(request)
    };
    match open(STRANGER).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 403);
        }
        other => panic!(
            "a foreign page opened the socket: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }
    let (_, response) = open(PORTAL).await.expect("the portal opens the socket");
    assert_eq!(response.status(), 101);
}

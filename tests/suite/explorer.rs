//! The explorer served from the binary: its page, its assets and its policy,
//! and a headless chromium that uses it with the network cut off.

use std::path::PathBuf;

use fluxorae_tests::TestApp;
use kernel::Role;
use serde_json::Value;

async fn explorer_page(app: &TestApp) -> reqwest::Response {
    app.http
        .get(app.url("/graphql"))
        .header("accept", "text/html")
        .send()
        .await
        .expect("send")
}

/// The `src`/`href` of every asset the page links.
fn linked_assets(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|part| part.starts_with("/graphql/explorer/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_links_only_its_own_assets_under_a_nonce_policy() {
    let app = TestApp::spawn().await;
    let page = explorer_page(&app).await;
    assert_eq!(page.status(), 200);
    let policy = page.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    let html = page.text().await.expect("text");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    let nonce = policy
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    assert_eq!(
        html.matches(&format!("nonce=\"{nonce}\"")).count(),
        html.matches("<script").count() + html.matches("<link").count(),
        "every script and style sheet carries the nonce"
    );
    assert!(!policy.contains("unsafe-inline") && !policy.contains("unsafe-eval"));

    let assets = linked_assets(&html);
    assert_eq!(assets.len(), 9, "{assets:?}");
    for asset in &assets {
        let response = app.http.get(app.url(asset)).send().await.expect("send");
        assert_eq!(response.status(), 200, "{asset}");
        assert!(
            response.headers()["cache-control"]
                .to_str()
                .expect("ascii")
                .contains("immutable")
        );
        assert!(!response.bytes().await.expect("body").is_empty());
    }
    let stale = assets[0].replacen("/graphql/explorer/", "/graphql/explorer/0", 1);
    let response = app.http.get(app.url(&stale)).send().await.expect("send");
    assert_eq!(response.status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_response_carries_a_content_security_policy() {
    let app = TestApp::spawn_with(|config| config.graphiql_enabled = false).await;
    let refused = explorer_page(&app).await;
    assert_ne!(refused.status(), 200);
    assert_eq!(
        refused.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    let health = app
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("send");
    assert!(health.headers().contains_key("content-security-policy"));
}

fn browser_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_offline_reads_the_docs_and_runs_a_query() {
    let dir = browser_script();
    assert!(
        dir.join("node_modules/playwright-core").exists(),
        "browser test tools missing: run scripts/ensure-tools.sh --test"
    );
    let app = TestApp::spawn().await;
    let client = app.persona(Role::Client).await;
    let output = tokio::process::Command::new("node")
        .arg(dir.join("explorer.mjs"))
        .env("EXPLORER_URL", app.url("/graphql"))
        .env("EXPLORER_TOKEN", &client.token)
        .env(
            "EXPLORER_QUERY",
            "query Probe { me { email role } explorerCheck: apiVersion }",
        )
        .output()
        .await
        .expect("run node: run scripts/ensure-tools.sh --test");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "browser script failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    assert!(report.get("error").is_none(), "{report:#}");
    assert_eq!(report["status"], 200);
    assert_eq!(report["outside"], Value::Array(vec![]), "{report:#}");
    assert_eq!(report["violations"], Value::Array(vec![]), "{report:#}");
    assert_eq!(report["pageErrors"], Value::Array(vec![]), "{report:#}");
    let docs = report["docs"].as_str().expect("docs text");
    assert!(docs.contains("me"), "{docs}");
    let result = report["result"].as_str().expect("result text");
    assert!(result.contains(&client.email), "{result}");
    assert!(result.contains("CLIENT"), "{result}");
}

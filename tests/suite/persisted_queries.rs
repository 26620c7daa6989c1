//! Automatic persisted queries and trusted documents, over POST and GET, the
//! way Apollo Client and GraphQL Code Generator's clients send them.

use fluxorae::persisted::{Mode, document_hash};
use fluxorae_tests::TestApp;
use serde_json::{Value, json};

const DOCUMENT: &str = "query Version { apiVersion }";

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> (u16, Value) {
    let response = app
        .http
        .post(app.url("/graphql"))
        .header("accept", "application/graphql-response+json")
        .json(&body)
        .send()
        .await
        .expect("send");
    let status = response.status().as_u16();
    (status, response.json().await.expect("json"))
}

async fn get(app: &TestApp, extensions: &Value) -> Value {
    app.http
        .get(app.url("/graphql"))
        .header("accept", "application/json")
        .query(&[("extensions", extensions.to_string())])
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_hash_is_sent_once_in_full_then_runs_by_hash_over_post_and_get() {
    let app = TestApp::spawn().await;
    let hash = document_hash(DOCUMENT);

    let (status, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let body = get(&app, &persisted(&hash)).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );

    let (status, body) = post(
        &app,
        json!({ "query": DOCUMENT, "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let version = body["data"]["apiVersion"].clone();
    assert!(version.is_string(), "{body}");

    let (_, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(body["data"]["apiVersion"], version);
    let body = get(&app, &persisted(&hash)).await;
    assert_eq!(body["data"]["apiVersion"], version);

    let (status, body) = post(
        &app,
        json!({ "query": "{ serverTime }", "extensions": persisted(&hash) }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_REQUEST");
}

#[tokio::test(flavor = "multi_thread")]
async fn trusted_documents_mode_runs_only_the_manifest() {
    let hash = document_hash(DOCUMENT);
    let manifest = std::env::temp_dir().join(format!(
        "fluxorae-persisted-{}.json",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::write(&manifest, json!({ hash.clone(): DOCUMENT }).to_string()).expect("write");
    let path = manifest.clone();
    let app = TestApp::spawn_with(move |config| {
        config.persisted_queries = Mode::Only;
        config.persisted_queries_manifest = Some(path);
    })
    .await;

    let (status, body) = post(&app, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"]["apiVersion"].is_string());
    let (_, body) = post(&app, json!({ "documentId": format!("sha256:{hash}") })).await;
    assert!(body["data"]["apiVersion"].is_string(), "{body}");

    let (status, body) = post(&app, json!({ "query": "{ apiVersion }" })).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
    assert!(body.get("data").is_none());
    let ad_hoc = "{ serverTime }";
    let (_, body) = post(
        &app,
        json!({ "query": ad_hoc, "extensions": persisted(&document_hash(ad_hoc)) }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_ALLOWED"
    );
    let _ = std::fs::remove_file(manifest);
}

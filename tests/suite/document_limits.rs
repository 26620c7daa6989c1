//! Limits on a document before it runs: tokens, aliases, data depth, and the
//! introspection rule that lets every tool's introspection query through.

use fluxorae_tests::TestApp;
use serde_json::{Value, json};

/// Every introspection document graphql-js builds (all option combinations),
/// written by tests/conformance/introspection-documents.mjs.
fn introspection_documents() -> Vec<(String, String)> {
    let documents: serde_json::Map<String, Value> =
        serde_json::from_str(include_str!("introspection-documents.json")).expect("json");
    documents
        .into_iter()
        .map(|(name, document)| (name, document.as_str().expect("text").to_string()))
        .collect()
}

async fn post(app: &TestApp, query: &str) -> Value {
    app.post_graphql(None, query, json!({})).await.1
}

#[tokio::test(flavor = "multi_thread")]
async fn the_introspection_documents_of_graphql_js_are_answered_with_the_schema() {
    let app = TestApp::spawn().await;
    let documents = introspection_documents();
    assert!(documents.len() >= 32, "{}", documents.len());
    for (name, document) in documents {
        let body = post(&app, &document).await;
        assert!(body.get("errors").is_none(), "{name}: {body}");
        let types = body["data"]["__schema"]["types"].as_array().expect("types");
        assert!(
            types.iter().any(|ty| ty["name"] == "Query"),
            "{name}: no Query type"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn circular_introspection_is_refused_by_list_nesting() {
    let app = TestApp::spawn().await;
    let circular = "{ __schema { types { fields { type { fields { type { fields { type { name } } } } } } } } }";
    let body = post(&app, circular).await;
    assert_eq!(
        body["errors"][0]["message"],
        "Maximum introspection depth exceeded"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    assert!(body.get("data").is_none());

    let two_levels = "{ __schema { types { fields { type { fields { name } } } } } }";
    assert!(post(&app, two_levels).await.get("errors").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_data_graph_keeps_its_depth_limit() {
    let app = TestApp::spawn_with(|config| config.limits.max_depth = 2).await;
    let body = post(&app, "{ me { organization { name } } }").await;
    assert_eq!(
        body["errors"][0]["message"],
        "Query is nested too deep: 3 levels, the limit is 2"
    );
    let through_fragment = "{ ...Root } fragment Root on Query { me { organization { id } } }";
    let body = post(&app, through_fragment).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // Introspection is held by its own rule, not by the data depth.
    let type_ref = "{ __type(name: \"Query\") { fields { type { ofType { ofType { name } } } } } }";
    assert!(post(&app, type_ref).await.get("errors").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_document_over_the_token_limit_is_refused_before_parsing() {
    let app = TestApp::spawn().await;
    let copies = format!("{{ {} }}", "me { email } ".repeat(500));
    let body = post(&app, &copies).await;
    assert_eq!(
        body["errors"][0]["message"],
        "Document too large: more than 2000 tokens"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // The limit is a setting, and a broken document that is too large is
    // refused for its size without being parsed.
    let app = TestApp::spawn_with(|config| config.limits.max_tokens = 10).await;
    let body = post(&app, "{ a b c d e f g h i j k l").await;
    assert_eq!(
        body["errors"][0]["message"],
        "Document too large: more than 10 tokens"
    );
    assert!(post(&app, "{ __typename }").await.get("errors").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn introspection_and_suggestions_follow_the_switch() {
    use fluxorae::config::Introspection;
    let schema_query = "{ __schema { queryType { name } } }";
    let typo = "{ apiVersio }";

    let app = TestApp::spawn_with(|config| config.limits.introspection = Introspection::Off).await;
    let client = app.persona(kernel::Role::Client).await;
    let body = app
        .post_graphql(Some(&client.token), schema_query, json!({}))
        .await
        .1;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INTROSPECTION_DISABLED"
    );
    assert!(body.get("data").is_none());
    let hidden =
        "query { ...Introspect } fragment Introspect on Query { __type(name: \"User\") { name } }";
    let body = post(&app, hidden).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INTROSPECTION_DISABLED"
    );
    assert_eq!(
        post(&app, "{ __typename }").await["data"]["__typename"],
        "Query"
    );
    let body = app
        .post_graphql(Some(&client.token), typo, json!({}))
        .await
        .1;
    assert_eq!(
        body["errors"][0]["message"],
        "Unknown field \"apiVersio\" on type \"Query\"."
    );

    let app = TestApp::spawn_with(|config| {
        config.limits.introspection = Introspection::Authenticated;
    })
    .await;
    let client = app.persona(kernel::Role::Client).await;
    let body = post(&app, schema_query).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "INTROSPECTION_DISABLED"
    );
    assert_eq!(
        body["errors"][0]["message"],
        "Introspection needs a signed-in caller"
    );
    let body = app
        .post_graphql(Some(&client.token), schema_query, json!({}))
        .await
        .1;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "Query");
    let anonymous = post(&app, typo).await;
    assert!(
        !anonymous["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("Did you mean"),
        "{anonymous}"
    );
    let signed_in = app
        .post_graphql(Some(&client.token), typo, json!({}))
        .await
        .1;
    assert!(
        signed_in["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("Did you mean \"apiVersion\""),
        "{signed_in}"
    );
}

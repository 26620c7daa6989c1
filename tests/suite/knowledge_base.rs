//! The knowledge base as the public site and the ops console use it: staff
//! write, drafts stay private, published articles need no sign-in, search ranks
//! and highlights, slugs are generated and checked, lists page.

use fluxorae_tests::{Persona, TestApp, error_fields};
use kernel::Role;
use serde_json::{Value, json};

const CREATE_CATEGORY: &str = "mutation($input: CreateKbCategoryInput!) { createKbCategory(input: $input) { id slug name position } }";
const CREATE_ARTICLE: &str = "mutation($input: CreateKbArticleInput!) { createKbArticle(input: $input) { id slug status publishedAt category { slug } author { id } } }";
const PUBLISH: &str = "mutation($id: ID!) { publishKbArticle(id: $id) { id status publishedAt } }";
const UNPUBLISH: &str =
    "mutation($id: ID!) { unpublishKbArticle(id: $id) { id status publishedAt } }";
const ARTICLE: &str = "query($slug: String!) { kbArticle(slug: $slug) { id title bodyMarkdown status category { name } author { id } } }";
const SEARCH: &str = "query($q: String!, $first: Int) { searchKnowledgeBase(query: $q, first: $first) { rank snippet article { slug title status } } }";

async fn create_category(app: &TestApp, staff: &Persona, name: &str) -> (String, String) {
    let data = app
        .data(
            &staff.token,
            CREATE_CATEGORY,
            json!({ "input": { "name": name } }),
        )
        .await;
    (
        data["createKbCategory"]["id"]
            .as_str()
            .expect("id")
            .to_string(),
        data["createKbCategory"]["slug"]
            .as_str()
            .expect("slug")
            .to_string(),
    )
}

/// Creates a draft; answers its id and slug.
async fn create_article(
    app: &TestApp,
    staff: &Persona,
    category: &str,
    title: &str,
    body: &str,
) -> (String, String) {
    let data = app
        .data(
            &staff.token,
            CREATE_ARTICLE,
            json!({ "input": { "title": title, "bodyMarkdown": body, "categoryId": category } }),
        )
        .await;
    assert_eq!(data["createKbArticle"]["status"], "DRAFT");
    (
        data["createKbArticle"]["id"]
            .as_str()
            .expect("id")
            .to_string(),
        data["createKbArticle"]["slug"]
            .as_str()
            .expect("slug")
            .to_string(),
    )
}

async fn publish(app: &TestApp, staff: &Persona, id: &str) {
    let data = app.data(&staff.token, PUBLISH, json!({ "id": id })).await;
    assert_eq!(data["publishKbArticle"]["status"], "PUBLISHED");
}

#[tokio::test(flavor = "multi_thread")]
async fn drafts_stay_private_until_published_and_then_need_no_sign_in() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let (category, category_slug) = create_category(&app, &employee, "Getting started").await;
    assert_eq!(category_slug, "getting-started");
    let created = app.data(&employee.token,
        CREATE_ARTICLE,
        json!({ "input": { "title": "Invite your team", "bodyMarkdown": "Open **Settings**, then *Team*.", "categoryId": category } }),
    )
    .await;
    let article = &created["createKbArticle"];
    assert_eq!(article["slug"], "invite-your-team");
    assert_eq!(article["publishedAt"], Value::Null);
    assert_eq!(article["category"]["slug"], "getting-started");
    assert_eq!(article["author"]["id"], employee.user_id.to_string());
    let id = article["id"].as_str().expect("id").to_string();
    let slug = json!({ "slug": "invite-your-team" });

    // A draft: NOT_FOUND for anonymous callers and clients, listed for staff only.
    assert_eq!(
        app.error_code(None, ARTICLE, slug.clone()).await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(&client.token, ARTICLE, slug.clone()).await,
        "NOT_FOUND"
    );
    let list = "query($filter: KbArticleFilter) { kbArticles(filter: $filter) { totalCount edges { node { slug status } } } }";
    for token in [None, Some(client.token.as_str())] {
        let seen = app
            .data(token, list, json!({ "filter": { "status": "DRAFT" } }))
            .await;
        assert_eq!(seen["kbArticles"]["totalCount"], 0, "{seen}");
    }
    let staff_view = app.data(&employee.token, ARTICLE, slug.clone()).await;
    assert_eq!(staff_view["kbArticle"]["status"], "DRAFT");
    let drafts = app
        .data(
            &employee.token,
            list,
            json!({ "filter": { "status": "DRAFT" } }),
        )
        .await;
    assert_eq!(drafts["kbArticles"]["totalCount"], 1);

    // Published: anyone reads it over plain HTTP without a token.
    let published = app
        .data(&employee.token, PUBLISH, json!({ "id": id }))
        .await;
    assert!(published["publishKbArticle"]["publishedAt"].is_string());
    let (status, body) = app.post_graphql(None, ARTICLE, slug.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["kbArticle"]["title"], "Invite your team");
    assert_eq!(
        body["data"]["kbArticle"]["category"]["name"],
        "Getting started"
    );
    // The author is for staff only.
    assert_eq!(body["data"]["kbArticle"]["author"], Value::Null);
    let client_view = app.data(&client.token, ARTICLE, slug.clone()).await;
    assert_eq!(client_view["kbArticle"]["status"], "PUBLISHED");
    let public = app
        .data(
            None,
            list,
            json!({ "filter": { "categorySlug": "getting-started" } }),
        )
        .await;
    assert_eq!(public["kbArticles"]["totalCount"], 1);
    // The status filter is ignored for the public: still published ones only.
    let public_drafts = app
        .data(None, list, json!({ "filter": { "status": "DRAFT" } }))
        .await;
    assert_eq!(public_drafts["kbArticles"]["totalCount"], 1);
    assert_eq!(
        public_drafts["kbArticles"]["edges"][0]["node"]["status"],
        "PUBLISHED"
    );
    let categories = app
        .data(
            None,
            "{ kbCategories { totalCount edges { node { slug name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(categories["kbCategories"]["totalCount"], 1);

    // Unpublished: private again.
    let unpublished = app
        .data(&employee.token, UNPUBLISH, json!({ "id": id }))
        .await;
    assert_eq!(unpublished["unpublishKbArticle"]["status"], "DRAFT");
    assert_eq!(
        unpublished["unpublishKbArticle"]["publishedAt"],
        Value::Null
    );
    assert_eq!(
        app.error_code(None, ARTICLE, slug.clone()).await,
        "NOT_FOUND"
    );

    // Staff edit and delete.
    let updated = app.data(&employee.token,
        "mutation($input: UpdateKbArticleInput!) { updateKbArticle(input: $input) { title slug category { id } } }",
        json!({ "input": { "articleId": id, "title": "Invite your whole team", "categoryId": null } }),
    )
    .await;
    assert_eq!(
        updated["updateKbArticle"]["title"],
        "Invite your whole team"
    );
    assert_eq!(
        updated["updateKbArticle"]["slug"], "invite-your-team",
        "a new title keeps the slug"
    );
    assert_eq!(updated["updateKbArticle"]["category"], Value::Null);
    let delete = "mutation($id: ID!) { deleteKbArticle(id: $id) { id } }";
    app.data(&employee.token, delete, json!({ "id": id })).await;
    assert_eq!(
        app.error_code(&employee.token, ARTICLE, slug).await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(&employee.token, delete, json!({ "id": id }))
            .await,
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_ranks_title_matches_first_and_highlights_the_body() {
    let app = TestApp::spawn().await;
    let staff = app.persona(Role::Admin).await;
    let (category, _) = create_category(&app, &staff, "Accounts").await;
    let (body_only, _) = create_article(
        &app,
        &staff,
        &category,
        "Keeping your account safe",
        "Turn on two-factor sign-in. Never share your password with anyone, not even our staff.",
    )
    .await;
    let (in_title, _) = create_article(
        &app,
        &staff,
        &category,
        "Resetting your password",
        "Click **Forgot password** on the sign-in page and follow the link we email you. <script>alert(1)</script>",
    )
    .await;
    let (draft, _) = create_article(
        &app,
        &staff,
        &category,
        "Password policy (draft)",
        "Passwords need twelve characters.",
    )
    .await;
    let _ = draft;
    // Published in this order, so the body-only match is the newer one: rank
    // must beat recency.
    publish(&app, &staff, &in_title).await;
    publish(&app, &staff, &body_only).await;

    let hits = app.data(None, SEARCH, json!({ "q": "passwords" })).await;
    let hits = hits["searchKnowledgeBase"]
        .as_array()
        .expect("hits")
        .clone();
    assert_eq!(hits.len(), 2, "drafts are not searchable: {hits:?}");
    assert_eq!(hits[0]["article"]["slug"], "resetting-your-password");
    assert_eq!(hits[1]["article"]["slug"], "keeping-your-account-safe");
    let (first, second) = (
        hits[0]["rank"].as_f64().expect("rank"),
        hits[1]["rank"].as_f64().expect("rank"),
    );
    assert!(first > second, "{first} > {second}");
    for hit in &hits {
        assert_eq!(hit["article"]["status"], "PUBLISHED");
        let snippet = hit["snippet"].as_str().expect("snippet");
        assert!(snippet.contains("<mark>"), "{snippet}");
        assert!(snippet.contains("</mark>"), "{snippet}");
        assert!(!snippet.contains("**"), "markdown is stripped: {snippet}");
        assert!(
            !snippet.contains("<script"),
            "markup is removed or escaped: {snippet}"
        );
    }
    let second_snippet = hits[1]["snippet"].as_str().expect("snippet");
    assert!(
        second_snippet
            .to_lowercase()
            .contains("<mark>password</mark>"),
        "{second_snippet}"
    );

    // Web-search syntax: a phrase, an exclusion.
    let phrase = app
        .data(None, SEARCH, json!({ "q": "\"forgot password\"" }))
        .await;
    assert_eq!(
        phrase["searchKnowledgeBase"].as_array().map(Vec::len),
        Some(1)
    );
    let excluded = app
        .data(None, SEARCH, json!({ "q": "password -forgot" }))
        .await;
    assert_eq!(
        excluded["searchKnowledgeBase"][0]["article"]["slug"],
        "keeping-your-account-safe"
    );
    let nothing = app.data(None, SEARCH, json!({ "q": "invoice" })).await;
    assert_eq!(nothing["searchKnowledgeBase"], json!([]));
    let limited = app
        .data(None, SEARCH, json!({ "q": "password", "first": 1 }))
        .await;
    assert_eq!(
        limited["searchKnowledgeBase"].as_array().map(Vec::len),
        Some(1)
    );

    // Blank queries and oversized pages are bad input.
    for q in ["", "   "] {
        let error = app.failure(None, SEARCH, json!({ "q": q })).await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
        assert_eq!(error_fields(&error), ["query"]);
    }
    assert_eq!(
        app.error_code(None, SEARCH, json!({ "q": "password", "first": 101 }))
            .await,
        "BAD_USER_INPUT"
    );
    // A page far past the maximum costs more than any operation may.
    assert_eq!(
        app.error_code(None, SEARCH, json!({ "q": "password", "first": 100_000 }))
            .await,
        "GRAPHQL_VALIDATION_FAILED"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slugs_are_generated_unique_and_validated() {
    let app = TestApp::spawn().await;
    let staff = app.persona(Role::Employee).await;
    let (category, slug) = create_category(&app, &staff, "Billing & Invoices").await;
    assert_eq!(slug, "billing-invoices");
    let (_, again) = create_category(&app, &staff, "Billing: invoices!").await;
    assert_eq!(again, "billing-invoices-2");

    let mut slugs = Vec::new();
    for _ in 0..3 {
        let (_, slug) =
            create_article(&app, &staff, &category, "Café déjà vu? Übersicht!", "Body.").await;
        slugs.push(slug);
    }
    assert_eq!(
        slugs,
        [
            "cafe-deja-vu-ubersicht",
            "cafe-deja-vu-ubersicht-2",
            "cafe-deja-vu-ubersicht-3"
        ]
    );

    // A given slug is used as is.
    let given = app.data(&staff.token,
        CREATE_ARTICLE,
        json!({ "input": { "title": "Anything", "bodyMarkdown": "Body.", "categoryId": category, "slug": "pay-by-upi" } }),
    )
    .await;
    assert_eq!(given["createKbArticle"]["slug"], "pay-by-upi");

    // Invalid given slugs name the field.
    for bad in [
        "Pay By UPI",
        "pay--upi",
        "-pay",
        "pay_upi",
        &"a".repeat(101),
    ] {
        let error = app.failure(&staff.token,
            CREATE_ARTICLE,
            json!({ "input": { "title": "T", "bodyMarkdown": "B", "categoryId": category, "slug": bad } }),
        )
        .await;
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{bad}: {error}"
        );
        assert_eq!(error_fields(&error), ["input.slug"], "{bad}");
    }
    // Every invalid field is reported at once.
    let error = app.failure(&staff.token,
        CREATE_ARTICLE,
        json!({ "input": { "title": " ", "bodyMarkdown": "", "categoryId": category, "slug": "Nope" } }),
    )
    .await;
    assert_eq!(
        error_fields(&error),
        ["input.title", "input.bodyMarkdown", "input.slug"]
    );
    // An unknown category is bad input too.
    let error = app.failure(&staff.token,
        CREATE_ARTICLE,
        json!({ "input": { "title": "T", "bodyMarkdown": "B", "categoryId": uuid::Uuid::now_v7().to_string() } }),
    )
    .await;
    assert_eq!(error_fields(&error), ["input.categoryId"]);

    // A taken slug is CONFLICT naming the field, on create and on update.
    let conflict = app.failure(&staff.token,
        CREATE_ARTICLE,
        json!({ "input": { "title": "T", "bodyMarkdown": "B", "categoryId": category, "slug": "pay-by-upi" } }),
    )
    .await;
    assert_eq!(conflict["extensions"]["code"], "CONFLICT");
    assert_eq!(error_fields(&conflict), ["input.slug"]);
    let (other, _) = create_article(&app, &staff, &category, "Other", "Body.").await;
    let update =
        "mutation($input: UpdateKbArticleInput!) { updateKbArticle(input: $input) { slug } }";
    let conflict = app
        .failure(
            &staff.token,
            update,
            json!({ "input": { "articleId": other, "slug": "pay-by-upi" } }),
        )
        .await;
    assert_eq!(conflict["extensions"]["code"], "CONFLICT");
    assert_eq!(error_fields(&conflict), ["input.slug"]);
    let renamed = app
        .data(
            &staff.token,
            update,
            json!({ "input": { "articleId": other, "slug": "other-article" } }),
        )
        .await;
    assert_eq!(renamed["updateKbArticle"]["slug"], "other-article");
    let conflict = app
        .failure(
            &staff.token,
            CREATE_CATEGORY,
            json!({ "input": { "name": "Billing", "slug": "billing-invoices" } }),
        )
        .await;
    assert_eq!(conflict["extensions"]["code"], "CONFLICT");
    assert_eq!(error_fields(&conflict), ["input.slug"]);

    // Categories: update, then delete leaves the articles without a category.
    let updated = app.data(&staff.token,
        "mutation($input: UpdateKbCategoryInput!) { updateKbCategory(input: $input) { slug name position } }",
        json!({ "input": { "categoryId": category, "name": "Payments", "slug": "payments", "position": 7 } }),
    )
    .await;
    assert_eq!(
        updated["updateKbCategory"],
        json!({ "slug": "payments", "name": "Payments", "position": 7 })
    );
    app.data(
        &staff.token,
        "mutation($id: ID!) { deleteKbCategory(id: $id) { id } }",
        json!({ "id": category }),
    )
    .await;
    let orphan = app
        .data(&staff.token, ARTICLE, json!({ "slug": "pay-by-upi" }))
        .await;
    assert_eq!(orphan["kbArticle"]["category"], Value::Null);
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_with_cursors_within_the_page_size_limit() {
    let app = TestApp::spawn().await;
    let staff = app.persona(Role::SuperAdmin).await;
    let (guides, _) = create_category(&app, &staff, "Guides").await;
    let (faq, _) = create_category(&app, &staff, "FAQ").await;
    let mut expected = Vec::new();
    for index in 0..5 {
        let category = if index < 3 { &guides } else { &faq };
        let (id, slug) =
            create_article(&app, &staff, category, &format!("Article {index}"), "Body.").await;
        publish(&app, &staff, &id).await;
        expected.push(slug);
    }
    create_article(&app, &staff, &guides, "Unpublished", "Body.").await;
    // Newest publication first.
    expected.reverse();

    let page = "query($first: Int, $after: String, $filter: KbArticleFilter) { kbArticles(first: $first, after: $after, filter: $filter) { totalCount pageInfo { hasNextPage endCursor } edges { cursor node { slug } } } }";
    let mut seen = Vec::new();
    let mut after = Value::Null;
    loop {
        let data = app
            .data(None, page, json!({ "first": 2, "after": after }))
            .await;
        let connection = &data["kbArticles"];
        assert_eq!(connection["totalCount"], 5);
        let edges = connection["edges"].as_array().expect("edges");
        assert!(edges.len() <= 2);
        seen.extend(
            edges
                .iter()
                .map(|edge| edge["node"]["slug"].as_str().expect("slug").to_string()),
        );
        if connection["pageInfo"]["hasNextPage"] != true {
            break;
        }
        after = connection["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen, expected);

    // Staff also see the draft.
    let staff_total = app.data(&staff.token, page, json!({})).await;
    assert_eq!(staff_total["kbArticles"]["totalCount"], 6);
    let by_category = app
        .data(None, page, json!({ "filter": { "categoryId": guides } }))
        .await;
    assert_eq!(by_category["kbArticles"]["totalCount"], 3);
    let by_slug = app
        .data(
            &staff.token,
            page,
            json!({ "filter": { "categorySlug": "faq", "status": "PUBLISHED" } }),
        )
        .await;
    assert_eq!(by_slug["kbArticles"]["totalCount"], 2);

    let categories = "query($first: Int, $after: String) { kbCategories(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor } edges { node { slug position } } } }";
    let first = app.data(None, categories, json!({ "first": 1 })).await;
    assert_eq!(first["kbCategories"]["totalCount"], 2);
    assert_eq!(first["kbCategories"]["edges"][0]["node"]["slug"], "guides");
    assert_eq!(first["kbCategories"]["pageInfo"]["hasNextPage"], true);
    let second = app
        .data(
            None,
            categories,
            json!({ "first": 1, "after": first["kbCategories"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(second["kbCategories"]["edges"][0]["node"]["slug"], "faq");
    assert_eq!(second["kbCategories"]["pageInfo"]["hasNextPage"], false);

    for first in [0, 101] {
        assert_eq!(
            app.error_code(None, page, json!({ "first": first })).await,
            "BAD_USER_INPUT",
            "first: {first}"
        );
    }
    // A page far past the maximum costs more than any operation may.
    assert_eq!(
        app.error_code(None, page, json!({ "first": 100_000 }))
            .await,
        "GRAPHQL_VALIDATION_FAILED"
    );
    let bad_cursor = app
        .failure(None, page, json!({ "after": "not-a-cursor" }))
        .await;
    assert_eq!(bad_cursor["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(error_fields(&bad_cursor), ["after"]);
    assert_eq!(
        app.error_code(None, categories, json!({ "after": "zz" }))
            .await,
        "BAD_USER_INPUT"
    );

    // Another list's cursor is no position in this one: BAD_USER_INPUT on `after`.
    let users = app
        .data(
            &staff,
            "{ users(first: 1) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let user_cursor = users["users"]["pageInfo"]["endCursor"].clone();
    let category_cursor = first["kbCategories"]["pageInfo"]["endCursor"].clone();
    for (list, cursor) in [
        (page, &user_cursor),
        (page, &category_cursor),
        (categories, &user_cursor),
    ] {
        let error = app
            .failure(None, list, json!({ "first": 1, "after": cursor }))
            .await;
        assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT", "{list}");
        assert_eq!(error_fields(&error), ["after"], "{list}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_staff_write_and_anonymous_writers_must_sign_in() {
    let app = TestApp::spawn().await;
    let staff = app.persona(Role::Employee).await;
    let (category, _) = create_category(&app, &staff, "General").await;
    let (article, _) = create_article(&app, &staff, &category, "Hello", "Body.").await;
    let writes = [
        (CREATE_CATEGORY, json!({ "input": { "name": "X" } })),
        (
            "mutation($input: UpdateKbCategoryInput!) { updateKbCategory(input: $input) { id } }",
            json!({ "input": { "categoryId": category, "name": "Y" } }),
        ),
        (
            "mutation($id: ID!) { deleteKbCategory(id: $id) { id } }",
            json!({ "id": category }),
        ),
        (
            CREATE_ARTICLE,
            json!({ "input": { "title": "T", "bodyMarkdown": "B", "categoryId": category } }),
        ),
        (
            "mutation($input: UpdateKbArticleInput!) { updateKbArticle(input: $input) { id } }",
            json!({ "input": { "articleId": article, "title": "Z" } }),
        ),
        (PUBLISH, json!({ "id": article })),
        (UNPUBLISH, json!({ "id": article })),
        (
            "mutation($id: ID!) { deleteKbArticle(id: $id) { id } }",
            json!({ "id": article }),
        ),
    ];
    let client = app.persona(Role::Client).await;
    let freelancer = app.persona(Role::Freelancer).await;
    let partner = app.persona(Role::Partner).await;
    for (query, variables) in &writes {
        for persona in [&client, &freelancer, &partner] {
            assert_eq!(
                app.error_code(&persona.token, query, variables.clone())
                    .await,
                "FORBIDDEN",
                "{:?}: {query}",
                persona.role
            );
        }
        assert_eq!(
            app.error_code(None, query, variables.clone()).await,
            "UNAUTHENTICATED",
            "{query}"
        );
    }
    // Nothing changed: the draft is still there, unpublished, with its title.
    let draft = app
        .data(&staff.token, ARTICLE, json!({ "slug": "hello" }))
        .await;
    assert_eq!(draft["kbArticle"]["title"], "Hello");
    assert_eq!(draft["kbArticle"]["status"], "DRAFT");
    // Unknown ids are NOT_FOUND for staff.
    let missing = json!({ "id": uuid::Uuid::now_v7().to_string() });
    assert_eq!(
        app.error_code(&staff.token, PUBLISH, missing.clone()).await,
        "NOT_FOUND"
    );
    assert_eq!(
        app.error_code(
            &staff.token,
            "mutation($id: ID!) { deleteKbCategory(id: $id) { id } }",
            missing
        )
        .await,
        "NOT_FOUND"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn anonymous_searches_from_one_address_are_rate_limited_and_signed_in_staff_are_not() {
    let app = TestApp::spawn().await;
    let staff = app.persona(Role::Employee).await;
    let (category, _) = create_category(&app, &staff, "Accounts").await;
    let (id, _) = create_article(
        &app,
        &staff,
        &category,
        "Forgot password",
        "Use the reset link on the sign-in page.",
    )
    .await;
    app.data(&staff, PUBLISH, json!({ "id": id })).await;

    // A script hammering the public search from one address.
    let mut refused = None;
    for attempt in 1..=200 {
        let body = app
            .graphql(None, SEARCH, json!({ "q": format!("password {attempt}") }))
            .await;
        if let Some(error) = body["errors"].get(0) {
            refused = Some((attempt, error.clone()));
            break;
        }
    }
    let (attempt, error) = refused.expect("anonymous search is never limited");
    assert!(attempt > 10, "limited after only {attempt} searches");
    assert_eq!(error["extensions"]["code"], "RATE_LIMITED", "{error}");
    let retry = error["extensions"]["retryAfterSeconds"]
        .as_u64()
        .expect("retryAfterSeconds");
    assert!((1..=60).contains(&retry), "{retry}");

    // Signed-in staff from the same address still search.
    let found = app.data(&staff, SEARCH, json!({ "q": "password" })).await;
    assert_eq!(
        found["searchKnowledgeBase"][0]["article"]["slug"],
        "forgot-password"
    );
}

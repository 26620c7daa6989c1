//! The audit log: which security events are recorded and how (actor, entity,
//! IP, user agent, before/after), the `auditLog` filters and pagination, who
//! may read it, and the hash chain that `verifyAuditLog` checks.

use auth::mfa::totp::{STEP_SECONDS, base32_decode, totp_code};
use diesel_async::RunQueryDsl;
use fluxorae_tests::{Persona, TestApp};
use kernel::Role;
use serde_json::{Value, json};

use crate::auth_security::{error_code, gql, graphql_login, me, post_json, rest_login, unix_now};

const AUDIT: &str = "query($filter: AuditLogFilter, $first: Int, $after: String) { \
     auditLog(filter: $filter, first: $first, after: $after) { totalCount \
     pageInfo { hasNextPage hasPreviousPage endCursor } \
     nodes { seq action actorId entityType entityId ip userAgent diff occurredAt hash } } }";

const VERIFY_CHAIN: &str = "{ verifyAuditLog { valid checkedEntries firstBrokenSeq } }";

const WRONG_PASSWORD: &str = "Wrong Password 4242";
const NEW_PASSWORD: &str = "Lantern Quay 8817";
const LOOPBACK: &str = "127.0.0.1";

/// One page of `auditLog` as `token` sees it; fails on any error.
async fn audit(
    app: &TestApp,
    token: &str,
    filter: Value,
    first: Option<i64>,
    after: Option<&str>,
) -> Value {
    let reply = gql(
        app,
        Some(token),
        &[],
        AUDIT,
        json!({ "filter": filter, "first": first, "after": after }),
    )
    .await;
    assert!(reply.body.get("errors").is_none(), "{:?}", reply.body);
    reply.body["data"]["auditLog"].clone()
}

/// The only entry matching `filter`.
async fn the_entry(app: &TestApp, admin: &Persona, filter: Value) -> Value {
    let log = audit(app, &admin.token, filter.clone(), Some(50), None).await;
    assert_eq!(log["totalCount"], 1, "{filter}: {log:#}");
    log["nodes"][0].clone()
}

/// What an entry must say.
struct Expected<'a> {
    action: &'a str,
    actor: Option<uuid::Uuid>,
    entity_type: &'a str,
    entity_id: Option<String>,
    user_agent: &'a str,
    diff: Value,
}

fn assert_entry(entry: &Value, expected: Expected<'_>) {
    let label = expected.action;
    assert_eq!(entry["action"], expected.action, "{entry:#}");
    assert_eq!(
        entry["actorId"],
        json!(expected.actor),
        "{label}: {entry:#}"
    );
    assert_eq!(
        entry["entityType"], expected.entity_type,
        "{label}: {entry:#}"
    );
    assert_eq!(
        entry["entityId"],
        json!(expected.entity_id),
        "{label}: {entry:#}"
    );
    assert_eq!(entry["ip"], LOOPBACK, "{label}: {entry:#}");
    assert_eq!(
        entry["userAgent"], expected.user_agent,
        "{label}: {entry:#}"
    );
    assert_eq!(entry["diff"], expected.diff, "{label}: {entry:#}");
    let hash = entry["hash"].as_str().expect("hash");
    assert!(
        hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
        "{label}: {hash}"
    );
}

#[derive(diesel::QueryableByName)]
struct Text {
    #[diesel(sql_type = diesel::sql_types::Text)]
    text: String,
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// The token in the newest password reset email sent to `to`.
async fn reset_token(app: &TestApp, to: &str) -> String {
    let email = app.last_email_to(to).await.expect("a reset email");
    let start = email.text.find("token=").expect("a link with a token") + "token=".len();
    email.text[start..]
        .split_whitespace()
        .next()
        .expect("token")
        .to_string()
}

async fn entries_in_table(app: &TestApp) -> i64 {
    let mut conn = app.db().await;
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM audit_log")
        .get_result(&mut conn)
        .await
        .expect("count");
    count.n
}

async fn verify_chain(app: &TestApp, admin: &Persona) -> Value {
    let reply = gql(app, Some(&admin.token), &[], VERIFY_CHAIN, json!({})).await;
    assert!(reply.body.get("errors").is_none(), "{:?}", reply.body);
    reply.body["data"]["verifyAuditLog"].clone()
}

async fn execute(app: &TestApp, sql: &str) -> usize {
    let mut conn = app.db().await;
    diesel::sql_query(sql)
        .execute(&mut conn)
        .await
        .expect("execute")
}

#[tokio::test(flavor = "multi_thread")]
async fn security_events_are_recorded_with_actor_entity_ip_user_agent_and_diff() {
    // No outbox worker: the reset email waits in the outbox, where the test
    // reads its link (a sent email keeps no link there).
    let app = TestApp::spawn_with(|config| config.outbox_enabled = false).await;
    let admin = app.persona(Role::Admin).await;
    let target = app.persona(Role::Employee).await;
    let other = app.persona(Role::Client).await;

    // A successful login.
    let agent = "audit-test/login";
    let login = rest_login(
        &app,
        &[("user-agent", agent)],
        &target.email,
        &target.password,
    )
    .await;
    assert_eq!(login.status, 200, "{:?}", login.body);
    let session = login.body["sessionId"]
        .as_str()
        .expect("session")
        .to_string();
    let access = login.body["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let entry = the_entry(
        &app,
        &admin,
        json!({ "action": "auth.login", "entityId": session }),
    )
    .await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.login",
            actor: Some(target.user_id),
            entity_type: "session",
            entity_id: Some(session.clone()),
            user_agent: agent,
            diff: json!({ "method": "password" }),
        },
    );

    // Failed logins: a known account, and an unknown one (no actor).
    let agent = "audit-test/login-failed";
    let failed = graphql_login(
        &app,
        &[("user-agent", agent)],
        &target.email,
        WRONG_PASSWORD,
    )
    .await;
    assert_eq!(error_code(&failed.body), Some("UNAUTHENTICATED"));
    let entry = the_entry(
        &app,
        &admin,
        json!({ "action": "auth.login_failed", "actorId": target.user_id }),
    )
    .await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.login_failed",
            actor: Some(target.user_id),
            entity_type: "user",
            entity_id: Some(target.user_id.to_string()),
            user_agent: agent,
            diff: json!({ "email": target.email }),
        },
    );
    let agent = "audit-test/login-unknown";
    let ghost = format!("Ghost-{}@Example.test", uuid::Uuid::new_v4().simple());
    let failed = graphql_login(&app, &[("user-agent", agent)], &ghost, WRONG_PASSWORD).await;
    assert_eq!(error_code(&failed.body), Some("UNAUTHENTICATED"));
    let log = audit(
        &app,
        &admin.token,
        json!({ "action": "auth.login_failed" }),
        Some(50),
        None,
    )
    .await;
    assert_eq!(log["totalCount"], 2);
    let entry = log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .find(|node| node["actorId"].is_null())
        .expect("the unknown account's failure")
        .clone();
    assert_entry(
        &entry,
        Expected {
            action: "auth.login_failed",
            actor: None,
            entity_type: "user",
            entity_id: None,
            user_agent: agent,
            diff: json!({ "email": ghost.to_lowercase() }),
        },
    );

    // Logout.
    let agent = "audit-test/logout";
    let out = gql(
        &app,
        Some(&access),
        &[("user-agent", agent)],
        "mutation { logout }",
        json!({}),
    )
    .await;
    assert_eq!(out.body, json!({ "data": { "logout": true } }));
    let entry = the_entry(
        &app,
        &admin,
        json!({ "action": "auth.logout", "entityId": session }),
    )
    .await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.logout",
            actor: Some(target.user_id),
            entity_type: "session",
            entity_id: Some(session.clone()),
            user_agent: agent,
            diff: json!({ "reason": "logout" }),
        },
    );

    // Reuse of a rotated refresh token.
    let second = rest_login(&app, &[], &target.email, &target.password).await;
    let second_session = second.body["sessionId"]
        .as_str()
        .expect("session")
        .to_string();
    let stolen = json!({ "refreshToken": second.body["refreshToken"] });
    assert_eq!(
        post_json(&app, "/auth/refresh", &[], &stolen).await.status,
        200
    );
    let agent = "audit-test/refresh-reuse";
    let replay = post_json(&app, "/auth/refresh", &[("user-agent", agent)], &stolen).await;
    assert_eq!(replay.status, 401);
    let entry = the_entry(&app, &admin, json!({ "action": "auth.refresh_reuse" })).await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.refresh_reuse",
            actor: Some(target.user_id),
            entity_type: "session",
            entity_id: Some(second_session),
            user_agent: agent,
            diff: json!({ "revoked": true }),
        },
    );

    // Password reset: the anonymous request, then the reset itself.
    let agent = "audit-test/reset-request";
    let requested = post_json(
        &app,
        "/auth/password-reset",
        &[("user-agent", agent)],
        &json!({ "email": target.email }),
    )
    .await;
    assert_eq!(requested.status, 202);
    // The account-dependent half of the request runs as an outbox job.
    app.drain_outbox().await;
    let entry = the_entry(
        &app,
        &admin,
        json!({ "action": "auth.password_reset_requested" }),
    )
    .await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.password_reset_requested",
            actor: None,
            entity_type: "user",
            entity_id: Some(target.user_id.to_string()),
            user_agent: agent,
            diff: json!({}),
        },
    );
    let agent = "audit-test/reset";
    let token = reset_token(&app, &target.email).await;
    let reset = gql(
        &app,
        None,
        &[("user-agent", agent)],
        "mutation($input: ResetPasswordInput!) { resetPassword(input: $input) }",
        json!({ "input": { "token": token, "newPassword": NEW_PASSWORD } }),
    )
    .await;
    assert_eq!(reset.body, json!({ "data": { "resetPassword": true } }));
    let entry = the_entry(&app, &admin, json!({ "action": "auth.password_reset" })).await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.password_reset",
            actor: Some(target.user_id),
            entity_type: "user",
            entity_id: Some(target.user_id.to_string()),
            user_agent: agent,
            // Only the persona's first session was still active.
            diff: json!({ "sessionsRevoked": 1 }),
        },
    );

    // A role change, with before and after.
    let fresh = rest_login(&app, &[], &target.email, NEW_PASSWORD).await;
    assert_eq!(fresh.status, 200, "{:?}", fresh.body);
    let fresh_token = fresh.body["accessToken"]
        .as_str()
        .expect("token")
        .to_string();
    let agent = "audit-test/role";
    let changed = gql(
        &app,
        Some(&admin.token),
        &[("user-agent", agent)],
        "mutation($input: ChangeUserRoleInput!) { changeUserRole(input: $input) { role } }",
        json!({ "input": { "userId": target.user_id, "role": "FREELANCER" } }),
    )
    .await;
    assert_eq!(
        changed.body,
        json!({ "data": { "changeUserRole": { "role": "FREELANCER" } } })
    );
    let entry = the_entry(&app, &admin, json!({ "action": "user.role_changed" })).await;
    assert_entry(
        &entry,
        Expected {
            action: "user.role_changed",
            actor: Some(admin.user_id),
            entity_type: "user",
            entity_id: Some(target.user_id.to_string()),
            user_agent: agent,
            diff: json!({ "before": { "role": "employee" }, "after": { "role": "freelancer" } }),
        },
    );

    // Disabling, which ends the session opened with the new password.
    let agent = "audit-test/disable";
    let disabled = gql(
        &app,
        Some(&admin.token),
        &[("user-agent", agent)],
        "mutation($id: ID!) { disableUser(userId: $id) { status } }",
        json!({ "id": target.user_id }),
    )
    .await;
    assert_eq!(
        disabled.body,
        json!({ "data": { "disableUser": { "status": "DISABLED" } } })
    );
    let entry = the_entry(&app, &admin, json!({ "action": "user.disabled" })).await;
    assert_entry(
        &entry,
        Expected {
            action: "user.disabled",
            actor: Some(admin.user_id),
            entity_type: "user",
            entity_id: Some(target.user_id.to_string()),
            user_agent: agent,
            diff: json!({
                "before": { "status": "active" },
                "after": { "status": "disabled" },
                "sessionsRevoked": 1,
            }),
        },
    );
    assert_eq!(me(&app, &fresh_token).await.0, 401);

    // Turning MFA on.
    let agent = "audit-test/mfa";
    let enrolled = gql(
        &app,
        Some(&other.token),
        &[("user-agent", agent)],
        "mutation($password: String!) { enrollTotp(password: $password) { secret } }",
        json!({ "password": other.password }),
    )
    .await;
    let secret = base32_decode(
        enrolled.body["data"]["enrollTotp"]["secret"]
            .as_str()
            .expect("secret"),
    )
    .expect("base32");
    let confirmed = gql(
        &app,
        Some(&other.token),
        &[("user-agent", agent)],
        "mutation($code: String!) { confirmTotp(code: $code) }",
        json!({ "code": totp_code(&secret, unix_now() / STEP_SECONDS * STEP_SECONDS) }),
    )
    .await;
    assert!(
        confirmed.body["data"]["confirmTotp"].is_array(),
        "{:?}",
        confirmed.body
    );
    let entry = the_entry(&app, &admin, json!({ "action": "auth.mfa_enabled" })).await;
    assert_entry(
        &entry,
        Expected {
            action: "auth.mfa_enabled",
            actor: Some(other.user_id),
            entity_type: "user",
            entity_id: Some(other.user_id.to_string()),
            user_agent: agent,
            diff: json!({ "before": { "totpEnabled": false }, "after": { "totpEnabled": true } }),
        },
    );

    // Everything above is one intact chain.
    let check = verify_chain(&app, &admin).await;
    assert_eq!(check["valid"], true, "{check}");
    assert_eq!(check["checkedEntries"], entries_in_table(&app).await);
}

fn seqs(log: &Value) -> Vec<i64> {
    log["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["seq"].as_i64().expect("seq"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn audit_log_filters_and_paginates_newest_first() {
    let app =
        TestApp::spawn_with(|config| config.domains.auth.rate_limits.lockout_after_failures = 100)
            .await;
    let admin = app.persona(Role::Admin).await;
    let target = app.persona(Role::Employee).await;
    for _ in 0..5 {
        let reply = rest_login(&app, &[], &target.email, WRONG_PASSWORD).await;
        assert_eq!(reply.status, 401);
    }
    for _ in 0..2 {
        let reply = rest_login(&app, &[], &target.email, &target.password).await;
        assert_eq!(reply.status, 200);
    }
    let failures = json!({ "action": "auth.login_failed" });

    // Pages of two, newest first, with a cursor.
    let mut paged = Vec::new();
    let mut sizes = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = audit(
            &app,
            &admin.token,
            failures.clone(),
            Some(2),
            after.as_deref(),
        )
        .await;
        assert_eq!(page["totalCount"], 5, "{page:#}");
        assert_eq!(page["pageInfo"]["hasPreviousPage"], after.is_some());
        for node in page["nodes"].as_array().expect("nodes") {
            assert_eq!(node["action"], "auth.login_failed");
        }
        sizes.push(seqs(&page).len());
        paged.extend(seqs(&page));
        if page["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = Some(
            page["pageInfo"]["endCursor"]
                .as_str()
                .expect("endCursor")
                .to_string(),
        );
    }
    assert_eq!(sizes, vec![2, 2, 1]);
    assert!(paged.windows(2).all(|pair| pair[0] > pair[1]), "{paged:?}");
    let everything = audit(&app, &admin.token, failures.clone(), Some(50), None).await;
    assert_eq!(seqs(&everything), paged);
    assert_eq!(everything["pageInfo"]["hasNextPage"], false);

    // By actor: the persona's first login, five failures and two logins.
    let by_actor = audit(
        &app,
        &admin.token,
        json!({ "actorId": target.user_id }),
        Some(50),
        None,
    )
    .await;
    assert_eq!(by_actor["totalCount"], 8, "{by_actor:#}");
    let nodes = by_actor["nodes"].as_array().expect("nodes");
    assert!(
        nodes
            .iter()
            .all(|node| node["actorId"] == json!(target.user_id))
    );
    let logins = nodes
        .iter()
        .filter(|node| node["action"] == "auth.login")
        .count();
    assert_eq!(logins, 3);

    // By entity type: every login opened a session (two personas, two logins).
    let sessions = audit(
        &app,
        &admin.token,
        json!({ "entityType": "session" }),
        Some(50),
        None,
    )
    .await;
    assert_eq!(sessions["totalCount"], 4, "{sessions:#}");
    assert!(
        sessions["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(|node| node["entityType"] == "session" && node["action"] == "auth.login")
    );

    // By time: `from` is inclusive, `to` exclusive.
    let oldest_first: Vec<&Value> = everything["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .rev()
        .collect();
    let window = audit(
        &app,
        &admin.token,
        json!({
            "action": "auth.login_failed",
            "from": oldest_first[1]["occurredAt"],
            "to": oldest_first[4]["occurredAt"],
        }),
        Some(50),
        None,
    )
    .await;
    let expected: Vec<i64> = [3, 2, 1]
        .iter()
        .map(|&i| oldest_first[i]["seq"].as_i64().expect("seq"))
        .collect();
    assert_eq!(seqs(&window), expected, "{window:#}");
    assert_eq!(window["totalCount"], 3);

    // No filter: every entry.
    let all = audit(&app, &admin.token, json!(null), Some(1), None).await;
    assert_eq!(all["totalCount"], entries_in_table(&app).await);
    assert_eq!(all["pageInfo"]["hasNextPage"], true);

    // A cursor that was not made by the server.
    let bad = gql(
        &app,
        Some(&admin.token),
        &[],
        AUDIT,
        json!({ "first": 2, "after": "not-a-cursor" }),
    )
    .await;
    assert_eq!(
        error_code(&bad.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        bad.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_and_super_admins_read_and_verify_the_audit_log() {
    let app = TestApp::spawn().await;
    for role in [Role::SuperAdmin, Role::Admin] {
        let persona = app.persona(role).await;
        let log = audit(&app, &persona.token, json!(null), Some(5), None).await;
        assert!(log["totalCount"].as_i64().expect("count") >= 1, "{role:?}");
        let check = verify_chain(&app, &persona).await;
        assert_eq!(check["valid"], true, "{role:?}");
    }
    for role in [
        Role::Employee,
        Role::Client,
        Role::Freelancer,
        Role::Partner,
    ] {
        let persona = app.persona(role).await;
        for query in [AUDIT, VERIFY_CHAIN] {
            let reply = gql(&app, Some(&persona.token), &[], query, json!({})).await;
            assert_eq!(reply.status, 200);
            assert_eq!(
                error_code(&reply.body),
                Some("FORBIDDEN"),
                "{role:?}: {:?}",
                reply.body
            );
            assert_eq!(reply.body["data"], Value::Null, "{role:?}");
        }
    }
    for query in [AUDIT, VERIFY_CHAIN] {
        let reply = gql(&app, None, &[], query, json!({})).await;
        assert_eq!(
            error_code(&reply.body),
            Some("UNAUTHENTICATED"),
            "{:?}",
            reply.body
        );
        assert_eq!(reply.body["data"], Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_audit_log_finds_an_edited_entry_and_accepts_it_once_restored() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    app.persona(Role::Client).await;
    let total = entries_in_table(&app).await;
    assert!(total >= 4, "{total}");
    assert_eq!(
        verify_chain(&app, &admin).await,
        json!({ "valid": true, "checkedEntries": total, "firstBrokenSeq": null })
    );

    let mut conn = app.db().await;
    let original: Text = diesel::sql_query("SELECT action AS text FROM audit_log WHERE seq = 2")
        .get_result(&mut conn)
        .await
        .expect("entry 2");
    assert_eq!(
        execute(&app, "UPDATE audit_log SET action = 'x' WHERE seq = 2").await,
        1
    );
    assert_eq!(
        verify_chain(&app, &admin).await,
        json!({ "valid": false, "checkedEntries": 2, "firstBrokenSeq": 2 })
    );

    diesel::sql_query("UPDATE audit_log SET action = $1 WHERE seq = 2")
        .bind::<diesel::sql_types::Text, _>(&original.text)
        .execute(&mut conn)
        .await
        .expect("restore");
    assert_eq!(
        verify_chain(&app, &admin).await,
        json!({ "valid": true, "checkedEntries": total, "firstBrokenSeq": null })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_audit_log_finds_a_deleted_entry() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    app.persona(Role::Client).await;
    let total = entries_in_table(&app).await;
    assert!(total >= 4, "{total}");
    assert_eq!(verify_chain(&app, &admin).await["valid"], true);

    assert_eq!(
        execute(&app, "DELETE FROM audit_log WHERE seq = 3").await,
        1
    );
    // Entry 4 follows entry 2 now: its position and its link are both wrong.
    assert_eq!(
        verify_chain(&app, &admin).await,
        json!({ "valid": false, "checkedEntries": 3, "firstBrokenSeq": 4 })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_failed_logins_on_two_instances_are_each_audited_in_one_chain() {
    let app = TestApp::spawn_with(|config| {
        config.domains.auth.rate_limits.login_per_ip_per_minute = 10_000;
    })
    .await;
    let second = app.spawn_alongside(|_| {}).await;
    let admin = app.persona(Role::Admin).await;
    const ATTEMPTS: usize = 40;
    let attempts = (0..ATTEMPTS).map(|n| {
        let instance = if n % 2 == 0 { &app } else { &second };
        let email = format!("nobody-{n}-{}@example.test", uuid::Uuid::new_v4().simple());
        async move { rest_login(instance, &[], &email, WRONG_PASSWORD).await }
    });
    let replies = futures_util::future::join_all(attempts).await;
    let answers: Vec<(u16, Value)> = replies
        .iter()
        .map(|reply| (reply.status, reply.body["error"]["code"].clone()))
        .collect();
    let refused = answers
        .iter()
        .filter(|answer| **answer == (401, json!("UNAUTHENTICATED")))
        .count();
    assert_eq!(refused, ATTEMPTS, "{answers:?}");

    let log = audit(
        &app,
        &admin.token,
        json!({ "action": "auth.login_failed" }),
        Some(1),
        None,
    )
    .await;
    assert_eq!(log["totalCount"], ATTEMPTS);
    let check = verify_chain(&app, &admin).await;
    assert_eq!(check["valid"], true, "{check}");
}

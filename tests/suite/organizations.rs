//! Which organization a new user lands in: `fluxorae create-user` run as the
//! binary an operator runs, against the test's database, next to partners'
//! referrals and open registration over the API.

use std::process::{Command, Output};

use fluxorae_tests::{TestApp, fluxorae_binary};
use kernel::Role;
use serde_json::{Value, json};

const PASSWORD: &str = "Monsoon tea on the terrace";
const REFER: &str =
    "mutation($name: String!) { referClientOrganization(input: { name: $name }) { __typename } }";

/// What one `fluxorae create-user` run printed.
struct CliRun {
    success: bool,
    stdout: String,
    stderr: String,
}

impl CliRun {
    /// The JSON line of a successful run.
    fn created(&self) -> Value {
        assert!(self.success, "create-user failed: {}", self.stderr);
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", self.stdout))
    }

    /// The error of a refused run.
    fn refused(&self) -> &str {
        assert!(!self.success, "create-user succeeded: {}", self.stdout);
        &self.stderr
    }
}

/// Runs `fluxorae create-user <args>` on the app's database, as an operator does.
async fn create_user(app: &TestApp, args: &[&str]) -> CliRun {
    let binary = fluxorae_binary();
    assert!(
        binary.exists(),
        "{} is missing: build it first (cargo build -p fluxorae)",
        binary.display()
    );
    let database_url = app.database.as_ref().expect("own database").url.clone();
    let dir = std::env::temp_dir().join(format!("fluxorae-cli-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("working directory");
    let mut command = Command::new(binary);
    command
        .arg("create-user")
        .args(args)
        .current_dir(&dir)
        .env("APP_ENV", "test")
        .env("DATABASE_URL", database_url)
        .env("DATA_DIR", &dir)
        .env("RUN_MIGRATIONS", "false")
        .env("MAIL_URL", "log")
        .env("ARGON2_MEMORY_KIB", "1024")
        .env("ARGON2_ITERATIONS", "1")
        .env_remove("JWT_KEYS");
    let output: Output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run fluxorae create-user");
    let _ = std::fs::remove_dir_all(&dir);
    CliRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `create-user --role client` with `extra` arguments.
async fn create_client(app: &TestApp, email: &str, extra: &[&str]) -> CliRun {
    let mut args = vec!["--email", email, "--password", PASSWORD, "--role", "client"];
    args.extend_from_slice(extra);
    create_user(app, &args).await
}

/// `create-user --role employee` without an organization.
async fn create_employee(app: &TestApp, email: &str) -> CliRun {
    create_user(
        app,
        &[
            "--email",
            email,
            "--password",
            PASSWORD,
            "--role",
            "employee",
        ],
    )
    .await
}

/// The id of the organization named `name` (any case), straight from the database.
async fn organization_named(app: &TestApp, name: &str) -> Option<String> {
    app.organization_named(name).await.map(|id| id.to_string())
}

/// Whether `email` can sign in with [`PASSWORD`].
async fn signs_in(app: &TestApp, email: &str) -> bool {
    let response = app
        .http
        .post(app.url("/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .expect("login");
    response.status() == 200
}

/// Ids of the users of an organization, as an admin lists them.
async fn members(
    app: &TestApp,
    admin: &fluxorae_tests::Persona,
    organization: &str,
) -> Vec<String> {
    let data = app
        .data(
            admin,
            "query($org: ID!) { users(first: 50, filter: { organizationId: $org }) { nodes { id } } }",
            json!({ "org": organization }),
        )
        .await;
    data["users"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["id"].as_str().expect("id").to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_by_name_refuses_an_organization_a_partner_referred_first() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let partner = app.persona(Role::Partner).await;
    // The partner refers "Acme Pvt Ltd" before Acme's own people are set up.
    app.data(&partner, REFER, json!({ "name": "Acme Pvt Ltd" }))
        .await;
    let squatted = organization_named(&app, "Acme Pvt Ltd")
        .await
        .expect("the referred organization");

    for name in ["Acme Pvt Ltd", "ACME pvt ltd"] {
        let run = create_client(&app, "ceo@acme.example", &["--org", name]).await;
        let error = run.refused();
        assert!(error.contains("referred"), "{error}");
        assert!(error.contains("--org-id"), "{error}");
    }
    assert!(!signs_in(&app, "ceo@acme.example").await);
    assert_eq!(members(&app, &admin, &squatted).await, Vec::<String>::new());
    let seen = app
        .data(
            &partner,
            "{ organizations(first: 50) { nodes { id } } }",
            json!({}),
        )
        .await;
    assert!(
        seen["organizations"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .any(|node| node["id"] == squatted.as_str()),
        "the partner still sees what it referred: {seen}"
    );

    // An operator who checked that the referral is genuine joins it by id.
    let joined = create_client(&app, "ceo@acme.example", &["--org-id", &squatted])
        .await
        .created();
    assert_eq!(joined["organizationId"], squatted.as_str());
    assert_eq!(
        members(&app, &admin, &squatted).await,
        [joined["userId"].as_str().expect("userId")]
    );
    assert!(signs_in(&app, "ceo@acme.example").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_by_name_refuses_an_organization_someone_registered() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    // A stranger registers Acme's name through open registration.
    app.register_confirmed(json!({
        "email": "mallory@squat.example",
        "password": "Borrowed name for a while",
        "name": "Mallory",
        "companyName": "Acme Pvt Ltd",
    }))
    .await;
    let squatted = organization_named(&app, "Acme Pvt Ltd")
        .await
        .expect("the registered organization");
    let before = members(&app, &admin, &squatted).await;
    assert_eq!(before.len(), 1);

    let run = create_client(&app, "ceo@acme.example", &["--org", "Acme Pvt Ltd"]).await;
    let error = run.refused();
    assert!(error.contains("has 1 user"), "{error}");
    assert!(error.contains("--org-id"), "{error}");
    assert!(!signs_in(&app, "ceo@acme.example").await);
    assert_eq!(members(&app, &admin, &squatted).await, before);
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_joins_by_name_only_an_organization_without_users_or_referrer() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;

    // A new name creates the organization; the printed ids work in GraphQL.
    let first = create_client(&app, "ravi@banyan.example", &["--org", "Banyan Foods"])
        .await
        .created();
    let banyan = first["organizationId"]
        .as_str()
        .expect("organizationId")
        .to_string();
    let seen = app
        .data(
            &admin,
            "query($org: ID!, $user: ID!) { organization(id: $org) { name kind } user(id: $user) { email role } }",
            json!({ "org": banyan, "user": first["userId"] }),
        )
        .await;
    assert_eq!(
        seen,
        json!({
            "organization": { "name": "Banyan Foods", "kind": "CLIENT" },
            "user": { "email": "ravi@banyan.example", "role": "CLIENT" },
        })
    );

    // Once it has a user, the name alone no longer joins it; the id does.
    let error = create_client(&app, "sita@banyan.example", &["--org", "banyan foods"]).await;
    assert!(error.refused().contains(&banyan), "{}", error.stderr);
    let second = create_client(&app, "sita@banyan.example", &["--org-id", &banyan])
        .await
        .created();
    assert_eq!(second["organizationId"], banyan.as_str());

    // An organization an admin created, with nobody in it and no referrer, is
    // joined by its name.
    let lotus = app
        .data(
            &admin,
            "mutation { createOrganization(input: { name: \"Lotus Ayurveda\", kind: CLIENT }) { id } }",
            json!({}),
        )
        .await["createOrganization"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let joined = create_client(&app, "asha@lotus.example", &["--org", "Lotus Ayurveda"])
        .await
        .created();
    assert_eq!(joined["organizationId"], lotus.as_str());

    // Staff join the agency without naming it.
    let one = create_employee(&app, "dev1@fluxorae.test").await.created();
    let two = create_employee(&app, "dev2@fluxorae.test").await.created();
    assert_eq!(one["organizationId"], two["organizationId"]);
    assert_eq!(
        one["organizationId"].as_str(),
        Some(admin.organization_id.to_string().as_str())
    );

    // Wrong combinations are refused before anything is written.
    let both = create_client(
        &app,
        "x@banyan.example",
        &["--org", "Banyan Foods", "--org-id", &banyan],
    )
    .await;
    assert!(
        both.refused().contains("cannot be used with"),
        "{}",
        both.stderr
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    let missing = create_client(&app, "x@banyan.example", &["--org-id", &unknown]).await;
    assert!(missing.refused().contains("org-id"), "{}", missing.stderr);
    let agency = create_client(
        &app,
        "x@banyan.example",
        &["--org-id", &admin.organization_id.to_string()],
    )
    .await;
    assert!(agency.refused().contains("org-id"), "{}", agency.stderr);
    assert!(!signs_in(&app, "x@banyan.example").await);
}

const REFERRAL_FIELDS: &str = "id name status createdAt decidedAt note \
     partner { id } organization { id name referredByPartnerId } requestedBy { id } decidedBy { id }";

fn refer_query() -> String {
    format!(
        "mutation($name: String!) {{ referClientOrganization(input: {{ name: $name }}) {{ {REFERRAL_FIELDS} }} }}"
    )
}

fn referrals_query() -> String {
    format!(
        "query($status: ReferralStatus, $first: Int, $after: String) {{ \
         organizationReferrals(status: $status, first: $first, after: $after) {{ totalCount \
         pageInfo {{ hasNextPage endCursor }} nodes {{ {REFERRAL_FIELDS} }} }} }}"
    )
}

fn approve_query() -> String {
    format!(
        "mutation($id: ID!) {{ approveOrganizationReferral(referralId: $id) {{ {REFERRAL_FIELDS} }} }}"
    )
}

fn decline_query() -> String {
    format!(
        "mutation($id: ID!, $note: String) {{ declineOrganizationReferral(referralId: $id, note: $note) {{ {REFERRAL_FIELDS} }} }}"
    )
}

/// Ids of the organizations `persona` may see.
async fn visible_organizations(app: &TestApp, persona: &fluxorae_tests::Persona) -> Vec<String> {
    let data = app
        .data(
            persona,
            "{ organizations(first: 50) { nodes { id } } }",
            json!({}),
        )
        .await;
    data["organizations"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["id"].as_str().expect("id").to_string())
        .collect()
}

/// Actions of the audit entries about `entity_id`, oldest first.
async fn audit_actions(
    app: &TestApp,
    admin: &fluxorae_tests::Persona,
    entity_id: &str,
) -> Vec<String> {
    let data = app
        .data(
            admin,
            "query($id: String) { auditLog(first: 50, filter: { entityId: $id }) { nodes { action actorId } } }",
            json!({ "id": entity_id }),
        )
        .await;
    let mut actions: Vec<String> = data["auditLog"]["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|node| node["action"].as_str().expect("action").to_string())
        .collect();
    actions.reverse();
    actions
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partners_referral_of_an_existing_organization_waits_for_an_admins_approval() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let partner = app.persona(Role::Partner).await;
    let acme = client.organization_id.to_string();

    // Naming an organization that exists gives the partner nothing yet.
    let referral = app
        .data(&partner, &refer_query(), json!({ "name": "acme PVT ltd" }))
        .await["referClientOrganization"]
        .clone();
    assert_eq!(referral["status"], "PENDING", "{referral}");
    assert_eq!(referral["name"], "acme PVT ltd");
    assert_eq!(referral["organization"], Value::Null, "{referral}");
    assert_eq!(
        referral["partner"]["id"],
        partner.organization_id.to_string()
    );
    assert_eq!(referral["requestedBy"]["id"], partner.user_id.to_string());
    assert_eq!(referral["decidedAt"], Value::Null);
    let referral_id = referral["id"].as_str().expect("id").to_string();
    assert!(!visible_organizations(&app, &partner).await.contains(&acme));
    assert_eq!(
        app.error_code(
            &partner,
            "query($id: ID!) { organization(id: $id) { id } }",
            json!({ "id": acme })
        )
        .await,
        "NOT_FOUND"
    );
    // Asking twice is a conflict; the first request stands.
    assert_eq!(
        app.error_code(&partner, &refer_query(), json!({ "name": "Acme Pvt Ltd" }))
            .await,
        "CONFLICT"
    );

    // Only reviewers decide; partners list only their own organization's referrals.
    for outsider in [&employee, &partner, &client] {
        assert_eq!(
            app.error_code(outsider, &approve_query(), json!({ "id": referral_id }))
                .await,
            "FORBIDDEN"
        );
        assert_eq!(
            app.error_code(outsider, &decline_query(), json!({ "id": referral_id }))
                .await,
            "FORBIDDEN"
        );
    }
    assert_eq!(
        app.error_code(&client, &referrals_query(), json!({})).await,
        "FORBIDDEN"
    );
    let other_partner = app
        .persona_in(Role::Partner, Some("Eastwind Partners"))
        .await;
    let globex = app
        .persona_in(Role::Client, Some("Globex Retail LLP"))
        .await;
    let second = app
        .data(
            &other_partner,
            &refer_query(),
            json!({ "name": "Globex Retail LLP" }),
        )
        .await["referClientOrganization"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let own = app.data(&partner, &referrals_query(), json!({})).await;
    assert_eq!(own["organizationReferrals"]["totalCount"], 1, "{own}");
    assert_eq!(
        own["organizationReferrals"]["nodes"][0]["id"],
        referral_id.as_str()
    );

    // The admin's queue pages, newest first.
    let first_page = app
        .data(
            &admin,
            &referrals_query(),
            json!({ "status": "PENDING", "first": 1 }),
        )
        .await["organizationReferrals"]
        .clone();
    assert_eq!(first_page["totalCount"], 2, "{first_page}");
    assert_eq!(first_page["pageInfo"]["hasNextPage"], true);
    assert_eq!(first_page["nodes"][0]["id"], second.as_str());
    assert_eq!(
        first_page["nodes"][0]["organization"]["id"],
        globex.organization_id.to_string()
    );
    let next_page = app
        .data(
            &admin,
            &referrals_query(),
            json!({ "status": "PENDING", "first": 1, "after": first_page["pageInfo"]["endCursor"] }),
        )
        .await["organizationReferrals"]
        .clone();
    assert_eq!(next_page["pageInfo"]["hasNextPage"], false, "{next_page}");
    assert_eq!(next_page["nodes"][0]["id"], referral_id.as_str());
    assert_eq!(next_page["nodes"][0]["organization"]["id"], acme.as_str());

    // Approval records the partner as the referrer.
    let approved = app
        .data(&admin, &approve_query(), json!({ "id": referral_id }))
        .await["approveOrganizationReferral"]
        .clone();
    assert_eq!(approved["status"], "APPROVED", "{approved}");
    assert_eq!(approved["decidedBy"]["id"], admin.user_id.to_string());
    assert!(approved["decidedAt"].is_string());
    assert_eq!(
        approved["organization"]["referredByPartnerId"],
        partner.organization_id.to_string()
    );
    assert!(visible_organizations(&app, &partner).await.contains(&acme));
    let seen = app.data(&partner, &referrals_query(), json!({})).await;
    let seen = &seen["organizationReferrals"]["nodes"][0];
    assert_eq!(seen["status"], "APPROVED");
    assert_eq!(seen["organization"]["id"], acme.as_str());
    assert_eq!(
        seen["decidedBy"],
        Value::Null,
        "partners do not see who at the agency decided"
    );
    assert_eq!(
        app.error_code(&admin, &approve_query(), json!({ "id": referral_id }))
            .await,
        "CONFLICT"
    );

    // A declined referral changes nothing.
    let declined = app
        .data(
            &admin,
            &decline_query(),
            json!({ "id": second, "note": "Globex came to us directly" }),
        )
        .await["declineOrganizationReferral"]
        .clone();
    assert_eq!(declined["status"], "DECLINED", "{declined}");
    assert_eq!(declined["note"], "Globex came to us directly");
    assert!(
        !visible_organizations(&app, &other_partner)
            .await
            .contains(&globex.organization_id.to_string())
    );
    assert_eq!(
        app.error_code(&admin, &approve_query(), json!({ "id": second }))
            .await,
        "CONFLICT"
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(
        app.error_code(&admin, &approve_query(), json!({ "id": unknown }))
            .await,
        "NOT_FOUND"
    );

    // Every step is in the audit log.
    assert_eq!(
        audit_actions(&app, &admin, &referral_id).await,
        [
            "organization.referral_requested",
            "organization.referral_approved"
        ]
    );
    assert_eq!(
        audit_actions(&app, &admin, &second).await,
        [
            "organization.referral_requested",
            "organization.referral_declined"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_partner_referring_a_new_name_creates_the_client_organization_at_once() {
    let app = TestApp::spawn().await;
    let partner = app.persona(Role::Partner).await;
    let referral = app
        .data(
            &partner,
            &refer_query(),
            json!({ "name": "Zenith Foods Pvt Ltd" }),
        )
        .await["referClientOrganization"]
        .clone();
    assert_eq!(referral["status"], "APPROVED", "{referral}");
    assert_eq!(referral["decidedBy"], Value::Null);
    assert_eq!(referral["organization"]["name"], "Zenith Foods Pvt Ltd");
    assert_eq!(
        referral["organization"]["referredByPartnerId"],
        partner.organization_id.to_string()
    );
    let zenith = referral["organization"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert!(
        visible_organizations(&app, &partner)
            .await
            .contains(&zenith)
    );
    // Referring it again, or an organization of another kind, is refused.
    assert_eq!(
        app.error_code(
            &partner,
            &refer_query(),
            json!({ "name": "zenith foods pvt ltd" })
        )
        .await,
        "CONFLICT"
    );
    assert_eq!(
        app.error_code(
            &partner,
            &refer_query(),
            json!({ "name": "Northwind Partners" })
        )
        .await,
        "BAD_USER_INPUT"
    );
}

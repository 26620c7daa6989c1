//! The RBAC matrix: every root field, for anonymous callers and each of the six
//! roles (plus a client of another organization), is allowed, forbidden,
//! unauthenticated or not found exactly as declared here. A root field added
//! without a row fails `every_root_field_has_a_row_in_the_matrix`.

use std::collections::BTreeSet;

use fluxorae_tests::{Persona, TestApp};
use futures_util::StreamExt;
use kernel::{RequestMeta, Role, Viewer};
use serde_json::{Value, json};

/// What a caller gets from a root field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// The guards let the call through (it may still fail validation).
    Allowed,
    /// `FORBIDDEN`.
    Forbidden,
    /// `UNAUTHENTICATED`.
    Unauthenticated,
    /// `NOT_FOUND`: the row is outside the caller's scope.
    NotFound,
}

use Access::{Allowed as A, Forbidden as F, NotFound as N, Unauthenticated as U};

/// Callers, in the column order of the matrix.
const CALLERS: [&str; 8] = [
    "anonymous",
    "super-admin",
    "admin",
    "employee",
    "client",
    "client of another organization",
    "freelancer",
    "partner",
];

/// (root, field, [anonymous, super-admin, admin, employee, client, other client, freelancer, partner])
const MATRIX: &[(&str, &str, [Access; 8])] = &[
    ("Query", "apiVersion", [A, A, A, A, A, A, A, A]),
    ("Query", "serverTime", [A, A, A, A, A, A, A, A]),
    ("Query", "me", [U, A, A, A, A, A, A, A]),
    // Another user of the Acme client organization.
    ("Query", "user", [U, A, A, A, N, N, N, N]),
    ("Query", "users", [U, A, A, A, F, F, F, F]),
    // The Acme client organization (referred by the partner's organization).
    ("Query", "organization", [U, A, A, A, A, N, N, A]),
    ("Query", "organizations", [U, A, A, A, A, A, A, A]),
    ("Query", "auditLog", [U, A, A, F, F, F, F, F]),
    ("Query", "verifyAuditLog", [U, A, A, F, F, F, F, F]),
    ("Mutation", "register", [A, A, A, A, A, A, A, A]),
    ("Mutation", "confirmRegistration", [A, A, A, A, A, A, A, A]),
    ("Mutation", "login", [A, A, A, A, A, A, A, A]),
    ("Mutation", "verifyMfa", [A, A, A, A, A, A, A, A]),
    ("Mutation", "refreshSession", [A, A, A, A, A, A, A, A]),
    ("Mutation", "logout", [U, A, A, A, A, A, A, A]),
    // Somebody else's session.
    ("Mutation", "revokeSession", [U, N, N, N, N, N, N, N]),
    ("Mutation", "requestPasswordReset", [A, A, A, A, A, A, A, A]),
    ("Mutation", "resetPassword", [A, A, A, A, A, A, A, A]),
    ("Mutation", "acceptInvitation", [A, A, A, A, A, A, A, A]),
    // Inviting a client into Acme.
    ("Mutation", "inviteUser", [U, A, A, A, F, F, F, F]),
    // Changing an employee into a freelancer.
    ("Mutation", "changeUserRole", [U, A, A, F, F, F, F, F]),
    ("Mutation", "disableUser", [U, A, A, F, F, F, F, F]),
    ("Mutation", "enableUser", [U, A, A, F, F, F, F, F]),
    ("Mutation", "createOrganization", [U, A, A, F, F, F, F, F]),
    ("Mutation", "enrollTotp", [U, A, A, A, A, A, A, A]),
    ("Mutation", "confirmTotp", [U, A, A, A, A, A, A, A]),
    ("Mutation", "disableTotp", [U, A, A, A, A, A, A, A]),
    ("Mutation", "setOtpChannel", [U, A, A, A, A, A, A, A]),
    ("Subscription", "heartbeat", [A, A, A, A, A, A, A, A]),
    ("Query", "projects", [U, A, A, A, A, A, A, A]),
    // An Acme project (the freelancer is not a member of it).
    ("Query", "project", [U, A, A, A, A, N, N, A]),
    ("Query", "task", [U, A, A, A, A, N, N, A]),
    ("Query", "myTasks", [U, A, A, A, A, A, A, A]),
    ("Query", "workload", [U, A, A, A, F, F, F, F]),
    ("Mutation", "createProject", [U, A, A, F, F, F, F, F]),
    ("Mutation", "updateProject", [U, A, A, F, F, F, F, F]),
    ("Mutation", "archiveProject", [U, A, A, F, F, F, F, F]),
    ("Mutation", "addProjectMember", [U, A, A, F, F, F, F, F]),
    ("Mutation", "removeProjectMember", [U, A, A, F, F, F, F, F]),
    ("Mutation", "createMilestone", [U, A, A, F, F, F, F, F]),
    ("Mutation", "updateMilestone", [U, A, A, F, F, F, F, F]),
    // Tasks of the Acme project: clients and partners read only.
    ("Mutation", "createTask", [U, A, A, A, F, N, N, F]),
    ("Mutation", "updateTask", [U, A, A, A, F, N, N, F]),
    ("Mutation", "deleteTask", [U, A, A, A, F, N, N, F]),
    ("Mutation", "moveTask", [U, A, A, A, F, N, N, F]),
    ("Subscription", "boardEvents", [U, A, A, A, A, N, N, A]),
    // A file of the Acme project; partners may read but not upload.
    ("Query", "file", [U, A, A, A, A, N, N, A]),
    ("Mutation", "requestUpload", [U, A, A, A, A, N, N, F]),
    // Another user's pending upload: only the uploader or staff complete it.
    ("Mutation", "completeUpload", [U, A, A, A, F, N, N, F]),
    ("Query", "tickets", [U, A, A, A, A, A, A, A]),
    // An Acme ticket.
    ("Query", "ticket", [U, A, A, A, A, N, N, A]),
    ("Query", "mutedNotifications", [U, A, A, A, A, A, A, A]),
    ("Mutation", "createTicket", [U, A, A, A, A, A, F, F]),
    ("Mutation", "updateTicket", [U, A, A, A, F, F, F, F]),
    ("Mutation", "addTicketComment", [U, A, A, A, A, N, F, F]),
    (
        "Mutation",
        "setNotificationPreference",
        [U, A, A, A, A, A, A, A],
    ),
    ("Subscription", "ticketEvents", [U, A, A, A, A, N, N, A]),
    ("Subscription", "ticketListEvents", [U, A, A, A, A, A, F, F]),
    ("Query", "slaPolicies", [U, A, A, A, A, A, A, A]),
    ("Query", "businessCalendar", [U, A, A, A, A, A, A, A]),
    ("Mutation", "updateSlaPolicy", [U, A, A, F, F, F, F, F]),
    (
        "Mutation",
        "updateBusinessCalendar",
        [U, A, A, F, F, F, F, F],
    ),
    ("Mutation", "addBusinessHoliday", [U, A, A, F, F, F, F, F]),
    (
        "Mutation",
        "removeBusinessHoliday",
        [U, A, A, F, F, F, F, F],
    ),
    // The knowledge base: public reads; `kbArticle` asks for a draft (staff-only).
    ("Query", "kbCategories", [A, A, A, A, A, A, A, A]),
    ("Query", "kbArticles", [A, A, A, A, A, A, A, A]),
    ("Query", "kbArticle", [N, A, A, A, N, N, N, N]),
    ("Query", "searchKnowledgeBase", [A, A, A, A, A, A, A, A]),
    ("Mutation", "createKbCategory", [U, A, A, A, F, F, F, F]),
    (
        "Mutation",
        "referClientOrganization",
        [U, F, F, F, F, F, F, A],
    ),
    // A pending referral of an existing organization (admins decide).
    (
        "Mutation",
        "approveOrganizationReferral",
        [U, A, A, F, F, F, F, F],
    ),
    (
        "Mutation",
        "declineOrganizationReferral",
        [U, A, A, F, F, F, F, F],
    ),
    // Admins see every referral, partners their own organization's.
    ("Query", "organizationReferrals", [U, A, A, F, F, F, F, A]),
    ("Mutation", "updateKbCategory", [U, A, A, A, F, F, F, F]),
    ("Mutation", "deleteKbCategory", [U, A, A, A, F, F, F, F]),
    ("Mutation", "createKbArticle", [U, A, A, A, F, F, F, F]),
    ("Mutation", "updateKbArticle", [U, A, A, A, F, F, F, F]),
    ("Mutation", "publishKbArticle", [U, A, A, A, F, F, F, F]),
    ("Mutation", "unpublishKbArticle", [U, A, A, A, F, F, F, F]),
    ("Mutation", "deleteKbArticle", [U, A, A, A, F, F, F, F]),
];

/// Rows every caller's operations refer to.
struct Fixture {
    acme_ticket: String,
    acme_org: String,
    acme_colleague: String,
    partner_org: String,
    partner: Persona,
    admin: Persona,
    acme_project: String,
}

async fn admin_data(app: &TestApp, fixture: &Fixture, query: &str, variables: Value) -> Value {
    let body = app
        .graphql(Some(&fixture.admin.token), query, variables)
        .await;
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

async fn fresh_project(app: &TestApp, fixture: &Fixture) -> String {
    let data = admin_data(
        app,
        fixture,
        "mutation($org: ID!) { createProject(input: { organizationId: $org, name: \"Fresh\" }) { id } }",
        json!({ "org": fixture.acme_org }),
    )
    .await;
    data["createProject"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn fresh_file(app: &TestApp, fixture: &Fixture) -> String {
    let data = admin_data(
        app,
        fixture,
        "mutation($id: ID!) { requestUpload(input: { projectId: $id, filename: \"a.pdf\", contentType: \"application/pdf\", size: 10 }) { file { id } } }",
        json!({ "id": fixture.acme_project }),
    )
    .await;
    data["requestUpload"]["file"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn fresh_kb_category(app: &TestApp, fixture: &Fixture) -> String {
    let data = admin_data(
        app,
        fixture,
        "mutation { createKbCategory(input: { name: \"Fresh\" }) { id } }",
        json!({}),
    )
    .await;
    data["createKbCategory"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

/// A draft article; answers its id and slug.
async fn fresh_kb_article(app: &TestApp, fixture: &Fixture) -> (String, String) {
    let category = fresh_kb_category(app, fixture).await;
    let data = admin_data(
        app,
        fixture,
        "mutation($c: ID!) { createKbArticle(input: { title: \"Fresh\", bodyMarkdown: \"Body\", categoryId: $c }) { id slug } }",
        json!({ "c": category }),
    )
    .await;
    let article = &data["createKbArticle"];
    (
        article["id"].as_str().expect("id").to_string(),
        article["slug"].as_str().expect("slug").to_string(),
    )
}

/// A pending referral: the fixture's partner refers an organization that exists.
async fn fresh_referral(app: &TestApp, fixture: &Fixture) -> String {
    let name = format!("Existing {}", uuid::Uuid::new_v4().simple());
    admin_data(
        app,
        fixture,
        "mutation($name: String!) { createOrganization(input: { name: $name, kind: CLIENT }) { id } }",
        json!({ "name": name }),
    )
    .await;
    let referral = app
        .data(
            &fixture.partner,
            "mutation($name: String!) { referClientOrganization(input: { name: $name }) { id status } }",
            json!({ "name": name }),
        )
        .await;
    assert_eq!(referral["referClientOrganization"]["status"], "PENDING");
    referral["referClientOrganization"]["id"]
        .as_str()
        .expect("id")
        .to_string()
}

async fn fresh_task(app: &TestApp, fixture: &Fixture) -> String {
    let data = admin_data(
        app,
        fixture,
        "mutation($id: ID!) { createTask(input: { projectId: $id, title: \"Fresh\" }) { id } }",
        json!({ "id": fixture.acme_project }),
    )
    .await;
    data["createTask"]["id"].as_str().expect("id").to_string()
}

fn classify(errors: &Value) -> Access {
    let code = errors
        .get(0)
        .and_then(|error| error["extensions"]["code"].as_str())
        .unwrap_or_default();
    match code {
        "FORBIDDEN" => F,
        "UNAUTHENTICATED" => U,
        "NOT_FOUND" => N,
        // No error, or a business error after the guards let the call through.
        _ => A,
    }
}

fn unique_email(prefix: &str) -> String {
    format!("{prefix}-{}@example.test", uuid::Uuid::new_v4().simple())
}

async fn fresh_user(app: &TestApp, role: Role, org: Option<&str>) -> Persona {
    app.persona_in(role, org).await
}

/// The operation that exercises `field`, with its variables.
async fn operation(app: &TestApp, fixture: &Fixture, field: &str) -> (String, Value) {
    match field {
        "apiVersion" => ("{ apiVersion }".into(), json!({})),
        "serverTime" => ("{ serverTime }".into(), json!({})),
        "me" => ("{ me { id } }".into(), json!({})),
        "user" => (
            "query($id: ID!) { user(id: $id) { id } }".into(),
            json!({ "id": fixture.acme_colleague }),
        ),
        "users" => ("{ users(first: 5) { totalCount } }".into(), json!({})),
        "organization" => (
            "query($id: ID!) { organization(id: $id) { id } }".into(),
            json!({ "id": fixture.acme_org }),
        ),
        "organizations" => ("{ organizations { totalCount } }".into(), json!({})),
        "auditLog" => ("{ auditLog(first: 5) { totalCount } }".into(), json!({})),
        "verifyAuditLog" => ("{ verifyAuditLog { valid } }".into(), json!({})),
        "register" => (
            "mutation($input: RegisterInput!) { register(input: $input) }".into(),
            json!({ "input": {
                "email": unique_email("new"),
                "password": "Tamarind Ledger 3391",
                "name": "New Client",
                "companyName": format!("Company {}", uuid::Uuid::new_v4().simple()),
            } }),
        ),
        "login" => {
            let user = fresh_user(app, Role::Client, Some("Acme Pvt Ltd")).await;
            (
                "mutation($input: LoginInput!) { login(input: $input) { accessToken } }".into(),
                json!({ "input": { "email": user.email, "password": user.password } }),
            )
        }
        "verifyMfa" => (
            "mutation { verifyMfa(input: { challengeId: \"not-an-id\", code: \"123456\" }) { accessToken } }".into(),
            json!({}),
        ),
        "refreshSession" => {
            let user = fresh_user(app, Role::Client, Some("Acme Pvt Ltd")).await;
            (
                "mutation($token: String!) { refreshSession(input: { refreshToken: $token }) { accessToken } }".into(),
                json!({ "token": user.refresh_token }),
            )
        }
        "logout" => ("mutation { logout }".into(), json!({})),
        "revokeSession" => {
            let other = fresh_user(app, Role::Employee, None).await;
            let principal = app
                .state
                .authenticator()
                .authenticate(&other.token)
                .await
                .unwrap_or_else(|error| panic!("{:?}", error.message()));
            (
                "mutation($id: ID!) { revokeSession(sessionId: $id) }".into(),
                json!({ "id": principal.session_id.to_string() }),
            )
        }
        "confirmRegistration" => (
            "mutation { confirmRegistration(input: { token: \"not-a-token\" }) { accessToken } }".into(),
            json!({}),
        ),
        "requestPasswordReset" => (
            "mutation { requestPasswordReset(input: { email: \"nobody@example.test\" }) }".into(),
            json!({}),
        ),
        "resetPassword" => (
            "mutation { resetPassword(input: { token: \"bogus\", newPassword: \"Tamarind Ledger 3391\" }) }".into(),
            json!({}),
        ),
        "acceptInvitation" => (
            "mutation { acceptInvitation(input: { token: \"bogus\", password: \"Tamarind Ledger 3391\" }) { accessToken } }".into(),
            json!({}),
        ),
        "inviteUser" => (
            "mutation($input: InviteUserInput!) { inviteUser(input: $input) { id } }".into(),
            json!({ "input": {
                "email": unique_email("invitee"),
                "name": "Invitee",
                "role": "CLIENT",
                "organizationId": fixture.acme_org,
            } }),
        ),
        "changeUserRole" => {
            let target = fresh_user(app, Role::Employee, None).await;
            (
                "mutation($id: ID!) { changeUserRole(input: { userId: $id, role: FREELANCER }) { id } }".into(),
                json!({ "id": target.user_id.to_string() }),
            )
        }
        "disableUser" | "enableUser" => {
            let target = fresh_user(app, Role::Employee, None).await;
            (
                format!("mutation($id: ID!) {{ {field}(userId: $id) {{ id }} }}"),
                json!({ "id": target.user_id.to_string() }),
            )
        }
        "createOrganization" => (
            "mutation($input: CreateOrganizationInput!) { createOrganization(input: $input) { id } }".into(),
            json!({ "input": {
                "name": format!("Org {}", uuid::Uuid::new_v4().simple()),
                "kind": "CLIENT",
                "referredByPartnerId": fixture.partner_org,
            } }),
        ),
        "enrollTotp" => (
            "mutation($password: String!) { enrollTotp(password: $password) { secret } }".into(),
            json!({ "password": fluxorae_tests::PERSONA_PASSWORD }),
        ),
        "confirmTotp" => ("mutation { confirmTotp(code: \"000000\") }".into(), json!({})),
        "disableTotp" => (
            "mutation { disableTotp(input: { password: \"wrong password\", code: \"000000\" }) }".into(),
            json!({}),
        ),
        "setOtpChannel" => (
            "mutation($password: String!) { setOtpChannel(input: { channel: null, password: $password }) { id } }".into(),
            json!({ "password": fluxorae_tests::PERSONA_PASSWORD }),
        ),
        "heartbeat" => (
            "subscription { heartbeat(intervalSeconds: 1) }".into(),
            json!({}),
        ),
        "projects" => ("{ projects { totalCount } }".into(), json!({})),
        "project" => (
            "query($id: ID!) { project(id: $id) { id } }".into(),
            json!({ "id": fixture.acme_project }),
        ),
        "task" => (
            "query($id: ID!) { task(id: $id) { id } }".into(),
            json!({ "id": fresh_task(app, fixture).await }),
        ),
        "myTasks" => ("{ myTasks { totalCount } }".into(), json!({})),
        "workload" => (
            "{ workload(from: \"2026-01-01\", to: \"2026-12-31\") { openTasks } }".into(),
            json!({}),
        ),
        "createProject" => (
            "mutation($org: ID!) { createProject(input: { organizationId: $org, name: \"P\" }) { id } }".into(),
            json!({ "org": fixture.acme_org }),
        ),
        "updateProject" => (
            "mutation($id: ID!) { updateProject(input: { projectId: $id, name: \"Renamed\" }) { id } }".into(),
            json!({ "id": fixture.acme_project }),
        ),
        "archiveProject" => (
            "mutation($id: ID!) { archiveProject(projectId: $id) { id } }".into(),
            json!({ "id": fresh_project(app, fixture).await }),
        ),
        "addProjectMember" | "removeProjectMember" => {
            let project = fresh_project(app, fixture).await;
            let member = fresh_user(app, Role::Employee, None).await;
            admin_data(
                app,
                fixture,
                "mutation($p: ID!, $u: ID!) { addProjectMember(input: { projectId: $p, userId: $u, projectRole: \"dev\" }) { projectRole } }",
                json!({ "p": project, "u": member.user_id.to_string() }),
            )
            .await;
            let query = if field == "addProjectMember" {
                "mutation($p: ID!, $u: ID!) { addProjectMember(input: { projectId: $p, userId: $u, projectRole: \"lead\" }) { projectRole } }"
            } else {
                "mutation($p: ID!, $u: ID!) { removeProjectMember(input: { projectId: $p, userId: $u }) }"
            };
            (query.into(), json!({ "p": project, "u": member.user_id.to_string() }))
        }
        "createMilestone" => (
            "mutation($id: ID!) { createMilestone(input: { projectId: $id, name: \"M\" }) { id } }".into(),
            json!({ "id": fixture.acme_project }),
        ),
        "updateMilestone" => {
            let data = admin_data(
                app,
                fixture,
                "mutation($id: ID!) { createMilestone(input: { projectId: $id, name: \"M\" }) { id } }",
                json!({ "id": fixture.acme_project }),
            )
            .await;
            (
                "mutation($id: ID!) { updateMilestone(input: { milestoneId: $id, status: COMPLETED }) { id } }".into(),
                json!({ "id": data["createMilestone"]["id"] }),
            )
        }
        "createTask" => (
            "mutation($id: ID!) { createTask(input: { projectId: $id, title: \"T\" }) { id } }".into(),
            json!({ "id": fixture.acme_project }),
        ),
        "updateTask" => (
            "mutation($id: ID!) { updateTask(input: { taskId: $id, title: \"T2\" }) { id } }".into(),
            json!({ "id": fresh_task(app, fixture).await }),
        ),
        "deleteTask" => (
            "mutation($id: ID!) { deleteTask(taskId: $id) { id } }".into(),
            json!({ "id": fresh_task(app, fixture).await }),
        ),
        "moveTask" => (
            "mutation($id: ID!) { moveTask(input: { taskId: $id, toStatus: DONE, expectedVersion: 1 }) { id } }".into(),
            json!({ "id": fresh_task(app, fixture).await }),
        ),
        "file" => (
            "query($id: ID!) { file(id: $id) { id } }".into(),
            json!({ "id": fresh_file(app, fixture).await }),
        ),
        "requestUpload" => (
            "mutation($id: ID!) { requestUpload(input: { projectId: $id, filename: \"b.pdf\", contentType: \"application/pdf\", size: 10 }) { uploadUrl } }".into(),
            json!({ "id": fixture.acme_project }),
        ),
        "completeUpload" => (
            "mutation($id: ID!) { completeUpload(fileId: $id) { id } }".into(),
            json!({ "id": fresh_file(app, fixture).await }),
        ),
        "tickets" => ("{ tickets { totalCount } }".into(), json!({})),
        "ticket" => (
            "query($id: ID!) { ticket(id: $id) { id } }".into(),
            json!({ "id": fixture.acme_ticket }),
        ),
        "mutedNotifications" => ("{ mutedNotifications }".into(), json!({})),
        "createTicket" => (
            "mutation($org: ID!) { createTicket(input: { subject: \"Help\", body: \"Please\", organizationId: $org }) { id } }".into(),
            json!({ "org": fixture.acme_org }),
        ),
        "updateTicket" => (
            "mutation($id: ID!) { updateTicket(input: { ticketId: $id, priority: HIGH }) { id } }".into(),
            json!({ "id": fixture.acme_ticket }),
        ),
        "addTicketComment" => (
            "mutation($id: ID!) { addTicketComment(input: { ticketId: $id, body: \"Update?\" }) { id } }".into(),
            json!({ "id": fixture.acme_ticket }),
        ),
        "setNotificationPreference" => (
            "mutation { setNotificationPreference(category: \"ticket_status\", email: false) }".into(),
            json!({}),
        ),
        "ticketEvents" => (
            "subscription($id: ID!) { ticketEvents(ticketId: $id) { kind } }".into(),
            json!({ "id": fixture.acme_ticket }),
        ),
        "slaPolicies" => ("{ slaPolicies { priority } }".into(), json!({})),
        "businessCalendar" => ("{ businessCalendar { timeZone } }".into(), json!({})),
        "updateSlaPolicy" => (
            "mutation { updateSlaPolicy(input: { priority: LOW, firstResponseMinutes: 240, resolutionMinutes: 2400, businessHoursOnly: true, warnBeforeMinutes: 60 }) { priority } }".into(),
            json!({}),
        ),
        "updateBusinessCalendar" => (
            "mutation { updateBusinessCalendar(input: { timeZone: \"Asia/Kolkata\", intervals: [{ weekday: 1, start: \"09:30\", end: \"18:00\" }] }) { timeZone } }".into(),
            json!({}),
        ),
        "addBusinessHoliday" => (
            "mutation { addBusinessHoliday(day: \"2026-11-09\", name: \"Diwali\") { timeZone } }".into(),
            json!({}),
        ),
        "removeBusinessHoliday" => (
            "mutation { removeBusinessHoliday(day: \"2026-11-09\") { timeZone } }".into(),
            json!({}),
        ),
        "ticketListEvents" => (
            "subscription { ticketListEvents { kind } }".into(),
            json!({}),
        ),
        "boardEvents" => (
            "subscription($id: ID!) { boardEvents(projectId: $id) { kind } }".into(),
            json!({ "id": fixture.acme_project }),
        ),
        "referClientOrganization" => (
            "mutation($name: String!) { referClientOrganization(input: { name: $name }) { id } }".into(),
            json!({ "name": format!("Referred {}", uuid::Uuid::new_v4().simple()) }),
        ),
        "approveOrganizationReferral" => (
            "mutation($id: ID!) { approveOrganizationReferral(referralId: $id) { status } }".into(),
            json!({ "id": fresh_referral(app, fixture).await }),
        ),
        "declineOrganizationReferral" => (
            "mutation($id: ID!) { declineOrganizationReferral(referralId: $id) { status } }".into(),
            json!({ "id": fresh_referral(app, fixture).await }),
        ),
        "organizationReferrals" => (
            "{ organizationReferrals(first: 5) { totalCount } }".into(),
            json!({}),
        ),
        "kbCategories" => ("{ kbCategories { totalCount } }".into(), json!({})),
        "kbArticles" => ("{ kbArticles(first: 5) { totalCount } }".into(), json!({})),
        "kbArticle" => (
            "query($slug: String!) { kbArticle(slug: $slug) { id } }".into(),
            json!({ "slug": fresh_kb_article(app, fixture).await.1 }),
        ),
        "searchKnowledgeBase" => (
            "{ searchKnowledgeBase(query: \"password reset\") { rank } }".into(),
            json!({}),
        ),
        "createKbCategory" => (
            "mutation { createKbCategory(input: { name: \"New\" }) { id } }".into(),
            json!({}),
        ),
        "updateKbCategory" => (
            "mutation($id: ID!) { updateKbCategory(input: { categoryId: $id, name: \"Renamed\" }) { id } }".into(),
            json!({ "id": fresh_kb_category(app, fixture).await }),
        ),
        "deleteKbCategory" => (
            "mutation($id: ID!) { deleteKbCategory(id: $id) { id } }".into(),
            json!({ "id": fresh_kb_category(app, fixture).await }),
        ),
        "createKbArticle" => (
            "mutation($c: ID!) { createKbArticle(input: { title: \"New\", bodyMarkdown: \"Body\", categoryId: $c }) { id } }".into(),
            json!({ "c": fresh_kb_category(app, fixture).await }),
        ),
        "updateKbArticle" => (
            "mutation($id: ID!) { updateKbArticle(input: { articleId: $id, title: \"Renamed\" }) { id } }".into(),
            json!({ "id": fresh_kb_article(app, fixture).await.0 }),
        ),
        "publishKbArticle" => (
            "mutation($id: ID!) { publishKbArticle(id: $id) { id } }".into(),
            json!({ "id": fresh_kb_article(app, fixture).await.0 }),
        ),
        "unpublishKbArticle" => (
            "mutation($id: ID!) { unpublishKbArticle(id: $id) { id } }".into(),
            json!({ "id": fresh_kb_article(app, fixture).await.0 }),
        ),
        "deleteKbArticle" => (
            "mutation($id: ID!) { deleteKbArticle(id: $id) { id } }".into(),
            json!({ "id": fresh_kb_article(app, fixture).await.0 }),
        ),
        other => panic!("the matrix has a row for {other} but no operation"),
    }
}

/// A caller of one column: anonymous, or a fresh persona (fresh so that a
/// mutation such as `logout` cannot affect the next row).
async fn caller(app: &TestApp, column: usize) -> Option<Persona> {
    let role = match column {
        0 => return None,
        1 => Role::SuperAdmin,
        2 => Role::Admin,
        3 => Role::Employee,
        4 => Role::Client,
        5 => {
            return Some(
                app.persona_in(Role::Client, Some("Globex Retail LLP"))
                    .await,
            );
        }
        6 => Role::Freelancer,
        _ => Role::Partner,
    };
    Some(app.persona(role).await)
}

async fn observe(
    app: &TestApp,
    root: &str,
    query: &str,
    variables: Value,
    caller: Option<&Persona>,
) -> Access {
    if root == "Subscription" {
        let viewer = match caller {
            Some(persona) => Viewer::User(
                app.state
                    .authenticator()
                    .authenticate(&persona.token)
                    .await
                    .unwrap_or_else(|error| panic!("{:?}", error.message())),
            ),
            None => Viewer::Anonymous,
        };
        let request = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(variables))
            .data(viewer)
            .data(RequestMeta::default());
        let mut stream = app.state.schema.execute_stream(request);
        // A refused subscription answers at once with its error; an accepted
        // one stays open (heartbeat also sends right away).
        let first =
            tokio::time::timeout(std::time::Duration::from_millis(500), stream.next()).await;
        let Ok(Some(first)) = first else {
            return A;
        };
        let errors = serde_json::to_value(&first.errors).expect("errors json");
        return classify(&errors);
    }
    let (_, body) = app
        .post_graphql(
            caller.map(|persona| persona.token.as_str()),
            query,
            variables,
        )
        .await;
    classify(&body["errors"])
}

#[tokio::test(flavor = "multi_thread")]
async fn every_root_field_answers_each_role_as_the_matrix_declares() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::SuperAdmin).await;
    let partner = app.persona(Role::Partner).await;
    let colleague = app.persona(Role::Client).await;
    // Acme is referred by the partner's organization.
    app.refer(&partner, &colleague).await;
    let project = app
        .graphql(
            Some(&admin.token),
            "mutation($org: ID!) { createProject(input: { organizationId: $org, name: \"Acme site\" }) { id } }",
            json!({ "org": colleague.organization_id.to_string() }),
        )
        .await["data"]["createProject"]["id"]
        .as_str()
        .expect("project")
        .to_string();
    let ticket = app
        .graphql(
            Some(&colleague.token),
            "mutation { createTicket(input: { subject: \"Site down\", body: \"Since 9 am\" }) { id } }",
            json!({}),
        )
        .await["data"]["createTicket"]["id"]
        .as_str()
        .expect("ticket")
        .to_string();
    let fixture = Fixture {
        acme_ticket: ticket,
        acme_org: colleague.organization_id.to_string(),
        acme_colleague: colleague.user_id.to_string(),
        partner_org: partner.organization_id.to_string(),
        partner,
        admin,
        acme_project: project,
    };

    let mut mismatches = Vec::new();
    for (root, field, expected) in MATRIX {
        for (column, expected) in expected.iter().enumerate() {
            let who = caller(&app, column).await;
            let (query, variables) = operation(&app, &fixture, field).await;
            let actual = observe(&app, root, &query, variables, who.as_ref()).await;
            if actual != *expected {
                mismatches.push(format!(
                    "{root}.{field} for {}: expected {expected:?}, got {actual:?}",
                    CALLERS[column]
                ));
            }
        }
    }
    assert!(
        mismatches.is_empty(),
        "RBAC matrix mismatches:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn every_root_field_has_a_row_in_the_matrix() {
    let declared: BTreeSet<(String, String)> = MATRIX
        .iter()
        .map(|(root, field, _)| (root.to_string(), field.to_string()))
        .collect();
    let actual: BTreeSet<(String, String)> = fluxorae::schema::domain_root_fields()
        .into_iter()
        .map(|field| (field.root.to_string(), field.field))
        .collect();
    let missing: Vec<_> = actual.difference(&declared).collect();
    let stale: Vec<_> = declared.difference(&actual).collect();
    assert!(
        missing.is_empty(),
        "root fields without a row in the RBAC matrix: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "matrix rows for fields that no longer exist: {stale:?}"
    );
}

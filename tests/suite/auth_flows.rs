//! The auth flows driven the way clients drive them: the REST `/auth/*`
//! endpoints (Next.js apps and partners' scripts) and the GraphQL mutations,
//! against a live server, its own database and, for emails, a real SMTP server.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::service::OrganizationChoice;
use fluxorae_tests::TestApp;
use fluxorae_tests::mail::{ReceivedMail, SmtpServer};
use kernel::{RequestMeta, Role};
use serde_json::{Value, json};

/// Strong passwords that no persona uses.
const NEW_PASSWORD: &str = "Copper kettle by the monsoon window";
const OTHER_PASSWORD: &str = "Saffron lanterns over Kochi 88";
const MAIL_WAIT: Duration = Duration::from_secs(15);
const PORTAL_ORIGIN: &str = "https://portal.fluxorae.test";

const ME: &str = "{ me { id email name role status permissions \
                  organization { id name kind } sessions { id current } } }";
const REGISTER: &str = "mutation Register($input: RegisterInput!) { register(input: $input) }";
const CONFIRM_REGISTRATION: &str = "mutation Confirm($input: ConfirmRegistrationInput!) { \
                                    confirmRegistration(input: $input) { accessToken refreshToken \
                                    expiresIn tokenType sessionId user { id email role } } }";
const LOGIN: &str = "mutation Login($input: LoginInput!) { login(input: $input) { \
                     accessToken refreshToken expiresIn mfaRequired \
                     mfaChallenge { challengeId method } user { id email role } } }";
const VERIFY_MFA: &str = "mutation Verify($id: ID!, $code: String!) { \
                          verifyMfa(input: { challengeId: $id, code: $code }) { \
                          accessToken refreshToken sessionId user { id email } } }";
const SET_OTP_CHANNEL: &str = "mutation SetOtp($input: SetOtpChannelInput!) { \
                               setOtpChannel(input: $input) { id mfa { otpChannel } } }";
const REFRESH: &str = "mutation Refresh($token: String!) { \
                       refreshSession(input: { refreshToken: $token }) { \
                       accessToken refreshToken expiresIn sessionId user { id } } }";
const LOGOUT: &str = "mutation { logout }";
const REVOKE_SESSION: &str = "mutation Revoke($id: ID!) { revokeSession(sessionId: $id) }";
const REQUEST_RESET: &str =
    "mutation RequestReset($email: String!) { requestPasswordReset(input: { email: $email }) }";
const RESET_PASSWORD: &str = "mutation Reset($token: String!, $password: String!) { \
                              resetPassword(input: { token: $token, newPassword: $password }) }";
const INVITE: &str = "mutation Invite($input: InviteUserInput!) { inviteUser(input: $input) { \
                      id email name role status organization { id name kind } } }";
const ACCEPT: &str = "mutation Accept($input: AcceptInvitationInput!) { \
                      acceptInvitation(input: $input) { accessToken refreshToken expiresIn \
                      tokenType sessionId user { id email name role status } } }";
const CHANGE_ROLE: &str = "mutation ChangeRole($user: ID!, $role: Role!) { \
                           changeUserRole(input: { userId: $user, role: $role }) { id role } }";
const DISABLE: &str = "mutation Disable($user: ID!) { disableUser(userId: $user) { id status } }";
const ENABLE: &str = "mutation Enable($user: ID!) { enableUser(userId: $user) { id status } }";
const CREATE_ORGANIZATION: &str = "mutation CreateOrg($input: CreateOrganizationInput!) { \
                                   createOrganization(input: $input) { id name kind referredByPartnerId } }";
const USERS: &str = "query Users($filter: UserFilterInput, $first: Int, $after: String) { \
                     users(filter: $filter, first: $first, after: $after) { totalCount \
                     pageInfo { hasNextPage hasPreviousPage endCursor } \
                     nodes { id email name role status } } }";
const ORGANIZATIONS: &str =
    "{ organizations(first: 50) { totalCount nodes { id name kind referredByPartnerId } } }";
const ORGANIZATION: &str = "query Org($id: ID!) { organization(id: $id) { id name kind } }";
const USER: &str = "query User($id: ID!) { user(id: $id) { id email role status } }";

// ---- helpers -------------------------------------------------------------

/// How a case of a table reaches the API.
#[derive(Debug, Clone, Copy)]
enum Transport {
    /// The REST auth endpoints.
    Rest,
    /// `POST /graphql`.
    GraphQl,
}

/// POSTs JSON with extra headers.
async fn post(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> reqwest::Response {
    let mut request = app.http.post(app.url(path)).json(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("send")
}

/// Status and JSON body (`Null` for an empty body such as a 204).
async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.expect("read the body");
    if text.is_empty() {
        return (status, Value::Null);
    }
    let body =
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("not JSON ({error}): {text}"));
    (status, body)
}

/// A REST call as a script makes it: JSON body, optional bearer token, no Origin.
async fn rest(app: &TestApp, path: &str, bearer: Option<&str>, body: Value) -> (u16, Value) {
    let authorization = bearer.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = authorization
        .iter()
        .map(|value| ("authorization", value.as_str()))
        .collect();
    json_of(post(app, path, &headers, &body).await).await
}

async fn rest_login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    rest(
        app,
        "/auth/login",
        None,
        json!({ "email": email, "password": password }),
    )
    .await
}

async fn rest_refresh(app: &TestApp, refresh_token: &str) -> (u16, Value) {
    rest(
        app,
        "/auth/refresh",
        None,
        json!({ "refreshToken": refresh_token }),
    )
    .await
}

/// A REST login that must succeed.
async fn signed_in(app: &TestApp, email: &str, password: &str) -> Value {
    let (status, body) = rest_login(app, email, password).await;
    assert_eq!(status, 200, "login of {email}: {body}");
    body
}

/// The string at `pointer`, which must be there.
fn text(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer} in {value}"))
        .to_owned()
}

fn keys(value: &Value) -> BTreeSet<String> {
    value
        .as_object()
        .map(|object| object.keys().cloned().collect())
        .unwrap_or_default()
}

fn field_names(fields: Option<&Value>) -> Vec<String> {
    fields
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .filter_map(|field| field["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `extensions.code` of the first GraphQL error.
fn gql_code(body: &Value) -> &str {
    body.pointer("/errors/0/extensions/code")
        .and_then(Value::as_str)
        .unwrap_or("<no error>")
}

/// `extensions.fields[*].field` of the first GraphQL error.
fn gql_fields(body: &Value) -> Vec<String> {
    field_names(body.pointer("/errors/0/extensions/fields"))
}

/// `error.code` of a REST error body.
fn rest_code(body: &Value) -> &str {
    body.pointer("/error/code")
        .and_then(Value::as_str)
        .unwrap_or("<no error>")
}

/// `error.fields[*].field` of a REST error body.
fn rest_fields(body: &Value) -> Vec<String> {
    field_names(body.pointer("/error/fields"))
}

/// Runs an operation that must succeed and returns its `data`.
async fn gql_ok(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Value {
    let (status, body) = app.post_graphql(token, query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "unexpected errors: {body}");
    body["data"].clone()
}

/// Runs an operation that must fail with `code` on a 200 response; returns the body.
async fn gql_err(
    app: &TestApp,
    token: Option<&str>,
    query: &str,
    variables: Value,
    code: &str,
) -> Value {
    let (status, body) = app.post_graphql(token, query, variables).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(gql_code(&body), code, "{body}");
    body
}

/// `me` with the token, which must be valid.
async fn me(app: &TestApp, token: &str) -> Value {
    gql_ok(app, Some(token), ME, json!({})).await["me"].clone()
}

/// The token no longer opens a session: `/graphql` answers 401 UNAUTHENTICATED.
async fn assert_signed_out(app: &TestApp, token: &str, what: &str) {
    let (status, body) = app
        .post_graphql(Some(token), "{ me { id } }", json!({}))
        .await;
    assert_eq!(status, 401, "{what}: {body}");
    assert_eq!(gql_code(&body), "UNAUTHENTICATED", "{what}: {body}");
}

/// Checks the session body REST login, register, refresh and MFA answer with.
fn assert_session_body(body: &Value, email: &str, role: &str) {
    for key in ["accessToken", "refreshToken", "sessionId"] {
        assert!(
            body[key].as_str().is_some_and(|value| !value.is_empty()),
            "{key} missing in {body}"
        );
    }
    assert_eq!(body["tokenType"], "Bearer", "{body}");
    let expires_in = body["expiresIn"].as_i64().expect("expiresIn is a number");
    assert!((850..=900).contains(&expires_in), "expiresIn: {body}");
    assert_eq!(body["user"]["email"], email, "{body}");
    assert_eq!(body["user"]["role"], role, "{body}");
    uuid::Uuid::parse_str(&text(body, "/user/id")).expect("user id is a UUID");
}

/// The auth domain's permissions in `me { permissions }` (other domains add theirs).
fn auth_permissions(me: &Value) -> Vec<String> {
    me["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(Value::as_str)
        .filter(|permission| permission.starts_with("auth:"))
        .map(str::to_owned)
        .collect()
}

fn session_ids(me: &Value) -> Vec<String> {
    me["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .map(|session| text(session, "/id"))
        .collect()
}

async fn spawn_with_smtp() -> (SmtpServer, TestApp) {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(move |config| config.mail_url = url).await;
    (smtp, app)
}

/// Sends what the outbox holds and returns every message received, which
/// must be exactly `count` (stragglers get a moment to show up).
async fn settled_mail(app: &TestApp, smtp: &SmtpServer, count: usize) -> Vec<ReceivedMail> {
    app.drain_outbox().await;
    smtp.wait_for(count, MAIL_WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), count, "{mails:#?}");
    mails
}

/// The one-time token of a link such as `.../reset-password?token=...` in the mail.
fn link_token(mail: &ReceivedMail, marker: &str) -> String {
    let start = mail
        .text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {mail:#?}"))
        + marker.len();
    let token: String = mail.text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect();
    assert_eq!(
        token.len(),
        43,
        "32 random bytes in URL-safe base64: {token}"
    );
    token
}

/// Set-Cookie values of a response.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .map(str::to_owned)
        .collect()
}

fn cookie_named<'a>(cookies: &'a [String], name: &str) -> &'a str {
    let prefix = format!("{name}=");
    cookies
        .iter()
        .find(|cookie| cookie.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no {name} cookie in {cookies:?}"))
}

fn cookie_value(cookie: &str) -> &str {
    cookie
        .split(';')
        .next()
        .and_then(|pair| pair.split_once('='))
        .map(|(_, value)| value)
        .unwrap_or_default()
}

/// Waits, when needed, so that at least `needed` seconds remain in the current
/// fixed window of `window` seconds (rate-limit counters reset at its end).
async fn start_early_in_a_window(window: u64, needed: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs_f64();
    let into = now % window as f64;
    if into > (window - needed) as f64 {
        tokio::time::sleep(Duration::from_secs_f64(window as f64 - into + 0.2)).await;
    }
}

// ---- 1. registration ------------------------------------------------------

/// The token of the one confirmation link mailed to `to` (the outbox is sent first).
async fn confirmation_token(app: &TestApp, smtp: &SmtpServer, to: &str) -> String {
    app.drain_outbox().await;
    smtp.wait_for(1, MAIL_WAIT).await;
    let mails: Vec<ReceivedMail> = smtp
        .messages()
        .into_iter()
        .filter(|mail| mail.rcpt_to == [to])
        .collect();
    assert_eq!(mails.len(), 1, "{mails:#?}");
    assert_eq!(mails[0].subject, "Confirm your Fluxorae registration");
    link_token(&mails[0], "/confirm-registration?token=")
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_over_rest_and_confirming_the_emailed_link_creates_a_client_in_a_new_organization()
 {
    let (smtp, app) = spawn_with_smtp().await;
    let email = "meera@sunrise-textiles.test";
    let (status, answer) = rest(
        &app,
        "/auth/register",
        None,
        json!({
            "email": email,
            "password": NEW_PASSWORD,
            "name": "Meera Iyer",
            "companyName": "Sunrise Textiles",
        }),
    )
    .await;
    assert_eq!((status, &answer), (202, &json!({ "ok": true })));
    // Nothing exists before the link is used.
    let (status, _) = rest_login(&app, email, NEW_PASSWORD).await;
    assert_eq!(status, 401);
    assert_eq!(app.organization_named("Sunrise Textiles").await, None);

    let token = confirmation_token(&app, &smtp, email).await;
    let (status, registered) = rest(
        &app,
        "/auth/register/confirm",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!(status, 201, "{registered}");
    assert_session_body(&registered, email, "CLIENT");

    let me = me(&app, &text(&registered, "/accessToken")).await;
    assert_eq!(me["id"], registered["user"]["id"]);
    assert_eq!(me["email"], email);
    assert_eq!(me["name"], "Meera Iyer");
    assert_eq!(me["role"], "CLIENT");
    assert_eq!(me["status"], "ACTIVE");
    assert_eq!(me["organization"]["name"], "Sunrise Textiles");
    assert_eq!(me["organization"]["kind"], "CLIENT");
    assert_eq!(
        me["sessions"],
        json!([{ "id": registered["sessionId"], "current": true }])
    );

    // A login answers with the same shape and the same user.
    let logged_in = signed_in(&app, email, NEW_PASSWORD).await;
    assert_eq!(keys(&logged_in), keys(&registered));
    assert_eq!(logged_in["user"], registered["user"]);
    assert_ne!(logged_in["sessionId"], registered["sessionId"]);

    // The registration's refresh token works like a login's.
    let (status, refreshed) = rest_refresh(&app, &text(&registered, "/refreshToken")).await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(refreshed["sessionId"], registered["sessionId"]);

    // The link works once.
    let (status, again) = rest(
        &app,
        "/auth/register/confirm",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!(
        (status, rest_code(&again)),
        (400, "BAD_USER_INPUT"),
        "{again}"
    );
    assert_eq!(rest_fields(&again), ["token"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn registering_over_graphql_and_confirming_the_emailed_link_signs_in() {
    let (smtp, app) = spawn_with_smtp().await;
    let email = "anil@lotus-exports.test";
    let data = gql_ok(
        &app,
        None,
        REGISTER,
        json!({ "input": {
            "email": email,
            "password": NEW_PASSWORD,
            "name": "Anil Rao",
            "companyName": "Lotus Exports",
        }}),
    )
    .await;
    assert_eq!(data, json!({ "register": true }));
    let token = confirmation_token(&app, &smtp, email).await;
    let data = gql_ok(
        &app,
        None,
        CONFIRM_REGISTRATION,
        json!({ "input": { "token": token } }),
    )
    .await;
    let registered = &data["confirmRegistration"];
    assert_session_body(registered, email, "CLIENT");

    let me = me(&app, &text(registered, "/accessToken")).await;
    assert_eq!(me["id"], registered["user"]["id"]);
    assert_eq!(me["role"], "CLIENT");
    assert_eq!(me["organization"]["name"], "Lotus Exports");
    assert_eq!(me["organization"]["kind"], "CLIENT");
    assert_eq!(
        me["sessions"],
        json!([{ "id": registered["sessionId"], "current": true }])
    );
    assert_eq!(
        auth_permissions(&me),
        Vec::<String>::new(),
        "a client holds no auth permissions"
    );

    let login = gql_ok(
        &app,
        None,
        LOGIN,
        json!({ "input": { "email": email, "password": NEW_PASSWORD } }),
    )
    .await;
    assert_eq!(login["login"]["mfaRequired"], false);
    assert_eq!(login["login"]["user"], registered["user"]);
    assert!(login["login"]["accessToken"].is_string());

    // A token that was never mailed is refused.
    let body = gql_err(
        &app,
        None,
        CONFIRM_REGISTRATION,
        json!({ "input": { "token": "not-a-registration-token" } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["token"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_refuses_weak_passwords_naming_the_password_field() {
    let app = TestApp::spawn().await;
    let registration = |email: &str, password: &str| {
        json!({
            "email": email,
            "password": password,
            "name": "Arjun Mehta",
            "companyName": "Chai Point",
        })
    };
    let cases = [
        (
            "a common password is refused over REST",
            Transport::Rest,
            "arjun@chai-point.test",
            "password123",
        ),
        (
            "a short password is refused over GraphQL",
            Transport::GraphQl,
            "arjun@chai-point.test",
            "short",
        ),
        (
            "a password built from the email address is refused",
            Transport::GraphQl,
            "arjunmehta@chai-point.test",
            "ArjunMehta loves chai",
        ),
    ];
    for (case, transport, email, password) in cases {
        match transport {
            Transport::Rest => {
                let (status, body) =
                    rest(&app, "/auth/register", None, registration(email, password)).await;
                assert_eq!(status, 400, "{case}: {body}");
                assert_eq!(rest_code(&body), "BAD_USER_INPUT", "{case}");
                assert_eq!(rest_fields(&body), ["password"], "{case}");
            }
            Transport::GraphQl => {
                let body = gql_err(
                    &app,
                    None,
                    REGISTER,
                    json!({ "input": registration(email, password) }),
                    "BAD_USER_INPUT",
                )
                .await;
                assert_eq!(gql_fields(&body), ["password"], "{case}");
                assert_eq!(body["data"], Value::Null, "{case}");
            }
        }
    }

    // Nothing was created: no account, and the company name is still free.
    let (status, body) = rest_login(&app, "arjun@chai-point.test", "password123").await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    let session = app
        .register_confirmed(registration("arjun@chai-point.test", NEW_PASSWORD))
        .await;
    assert_session_body(&session, "arjun@chai-point.test", "CLIENT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_company_name_taken_before_confirmation_is_a_conflict_and_another_name_finishes_it() {
    let app = TestApp::spawn().await;
    let register = |email: &str, company: &str| {
        json!({
            "email": email,
            "password": NEW_PASSWORD,
            "name": "Meera Iyer",
            "companyName": company,
        })
    };
    let first = app
        .register_confirmed(register("meera@sunrise-textiles.test", "Sunrise Textiles"))
        .await;
    assert_session_body(&first, "meera@sunrise-textiles.test", "CLIENT");

    // Registration never joins an existing organization: the name is refused
    // on confirmation (names are unique without case), and the link still works.
    let (status, _) = rest(
        &app,
        "/auth/register",
        None,
        register("kiran@sunrise-weaves.test", "SUNRISE textiles"),
    )
    .await;
    assert_eq!(status, 202);
    let mail = app
        .last_email_to("kiran@sunrise-weaves.test")
        .await
        .expect("a confirmation email");
    let token = mail
        .text
        .split_once("/confirm-registration?token=")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .expect("a link")
        .to_string();
    let (status, body) = rest(
        &app,
        "/auth/register/confirm",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!((status, rest_code(&body)), (409, "CONFLICT"), "{body}");
    assert_eq!(rest_fields(&body), ["companyName"]);
    let (status, body) = rest_login(&app, "kiran@sunrise-weaves.test", NEW_PASSWORD).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));

    let (status, second) = rest(
        &app,
        "/auth/register/confirm",
        None,
        json!({ "token": token, "companyName": "Sunrise Weaves" }),
    )
    .await;
    assert_eq!(status, 201, "{second}");
    let me = me(&app, &text(&second, "/accessToken")).await;
    assert_eq!(me["organization"]["name"], "Sunrise Weaves");
    let original = me_org(&app, &first).await;
    assert_ne!(me["organization"]["id"], original);
}

async fn me_org(app: &TestApp, session: &Value) -> Value {
    me(app, &text(session, "/accessToken")).await["organization"]["id"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_is_forbidden_when_open_registration_is_off() {
    let app = TestApp::spawn_with(|config| config.domains.auth.open_registration = false).await;
    let input = json!({
        "email": "meera@sunrise-textiles.test",
        "password": NEW_PASSWORD,
        "name": "Meera Iyer",
        "companyName": "Sunrise Textiles",
    });
    let (status, body) = rest(&app, "/auth/register", None, input.clone()).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(rest_code(&body), "FORBIDDEN");
    gql_err(&app, None, REGISTER, json!({ "input": input }), "FORBIDDEN").await;
    let (status, _) = rest_login(&app, "meera@sunrise-textiles.test", NEW_PASSWORD).await;
    assert_eq!(status, 401);
}

// ---- 2. the acceptance flow of a partner's script --------------------------

#[tokio::test(flavor = "multi_thread")]
async fn a_script_signs_in_over_rest_as_a_user_made_by_create_user_and_reads_me() {
    let app = TestApp::spawn().await;
    let email = "ravi@acme.example";
    let password = "Monsoon tea on the terrace";
    // What `fluxorae create-user --email ... --role client --org "Acme Pvt Ltd"` calls.
    let (user, organization) = app
        .state
        .auth()
        .create_user(
            email,
            password,
            Role::Client,
            OrganizationChoice::Name("Acme Pvt Ltd"),
            &RequestMeta::default(),
        )
        .await
        .expect("create-user");
    assert_eq!(user.role, Role::Client);
    assert_eq!(user.status, auth::model::UserStatus::Active);
    assert_eq!(organization.name, "Acme Pvt Ltd");
    assert_eq!(organization.kind, auth::model::OrganizationKind::Client);

    let (status, session) = rest_login(&app, email, password).await;
    assert_eq!(status, 200, "{session}");
    assert_session_body(&session, email, "CLIENT");
    assert_eq!(session["user"]["id"], user.id.to_string());

    let token = text(&session, "/accessToken");
    let (status, body) = app
        .post_graphql(Some(&token), "{ me { email role } }", json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({ "data": { "me": { "email": email, "role": "CLIENT" } } })
    );

    // A second user of the same company joins the existing organization by
    // its id; its name alone no longer does, now that it has a user.
    let by_name = app
        .state
        .auth()
        .create_user(
            "sita@acme.example",
            password,
            Role::Client,
            OrganizationChoice::Name("acme pvt ltd"),
            &RequestMeta::default(),
        )
        .await
        .expect_err("joining by name an organization with users");
    assert_eq!(by_name.code(), kernel::ErrorCode::Conflict);
    let (_, same) = app
        .state
        .auth()
        .create_user(
            "sita@acme.example",
            password,
            Role::Client,
            OrganizationChoice::Id(organization.id),
            &RequestMeta::default(),
        )
        .await
        .expect("create-user");
    assert_eq!(same.id, organization.id);
    // Emails are matched case-insensitively at login.
    let (status, body) = rest_login(&app, "  Ravi@ACME.example ", password).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], user.id.to_string());
}

// ---- 3. refresh rotation ----------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn refreshing_over_rest_rotates_the_token_and_a_replay_signs_the_whole_session_out() {
    let app = TestApp::spawn().await;
    let client = app.persona(Role::Client).await;
    let first = signed_in(&app, &client.email, &client.password).await;

    let (status, second) = rest_refresh(&app, &text(&first, "/refreshToken")).await;
    assert_eq!(status, 200, "{second}");
    assert_session_body(&second, &client.email, "CLIENT");
    assert_eq!(second["sessionId"], first["sessionId"]);
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    assert_eq!(
        me(&app, &text(&second, "/accessToken")).await["id"],
        client.user_id.to_string()
    );

    // The new refresh token works once...
    let (status, third) = rest_refresh(&app, &text(&second, "/refreshToken")).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(third["sessionId"], first["sessionId"]);
    // ...and presenting it again is a replay: the whole session ends.
    let (status, replay) = rest_refresh(&app, &text(&second, "/refreshToken")).await;
    assert_eq!(status, 401, "{replay}");
    assert_eq!(rest_code(&replay), "UNAUTHENTICATED");

    let (status, newest) = rest_refresh(&app, &text(&third, "/refreshToken")).await;
    assert_eq!(status, 401, "the newest token of the family: {newest}");
    assert_eq!(rest_code(&newest), "UNAUTHENTICATED");
    assert_signed_out(&app, &text(&third, "/accessToken"), "newest access token").await;
    assert_signed_out(&app, &text(&first, "/accessToken"), "first access token").await;

    // Only that family: the persona's own session lives on.
    let me = me(&app, &client.token).await;
    assert_eq!(me["sessions"].as_array().map(Vec::len), Some(1), "{me}");
    assert_ne!(me["sessions"][0]["id"], first["sessionId"]);

    // Garbage and missing tokens.
    let (status, body) = rest_refresh(&app, "not-a-refresh-token").await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    let (status, body) = rest(&app, "/auth/refresh", None, json!({})).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
}

#[tokio::test(flavor = "multi_thread")]
async fn refreshing_over_graphql_rotates_the_token_and_a_replay_revokes_the_session() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let other = signed_in(&app, &employee.email, &employee.password).await;

    let data = gql_ok(
        &app,
        None,
        REFRESH,
        json!({ "token": employee.refresh_token }),
    )
    .await;
    let rotated = &data["refreshSession"];
    assert_eq!(rotated["user"]["id"], employee.user_id.to_string());
    assert_ne!(text(rotated, "/refreshToken"), employee.refresh_token);
    assert!(rotated["expiresIn"].as_i64().is_some_and(|s| s > 850));
    let access = text(rotated, "/accessToken");
    let before = me(&app, &access).await;
    assert!(
        before["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .any(|s| s["id"] == rotated["sessionId"] && s["current"] == true),
        "{before}"
    );

    // Replaying the token that was just rotated.
    let body = gql_err(
        &app,
        None,
        REFRESH,
        json!({ "token": employee.refresh_token }),
        "UNAUTHENTICATED",
    )
    .await;
    assert_eq!(body["data"], Value::Null);
    gql_err(
        &app,
        None,
        REFRESH,
        json!({ "token": text(rotated, "/refreshToken") }),
        "UNAUTHENTICATED",
    )
    .await;
    assert_signed_out(&app, &access, "rotated access token").await;
    assert_signed_out(&app, &employee.token, "original access token").await;

    // The other session of the same user is untouched.
    let after = me(&app, &text(&other, "/accessToken")).await;
    assert_eq!(session_ids(&after), [text(&other, "/sessionId")]);
    gql_err(
        &app,
        None,
        REFRESH,
        json!({ "token": "" }),
        "UNAUTHENTICATED",
    )
    .await;
}

// ---- 4. logout and sessions --------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn logout_over_graphql_ends_only_the_current_session() {
    let app = TestApp::spawn().await;
    let client = app.persona(Role::Client).await;
    let second = signed_in(&app, &client.email, &client.password).await;
    let token = text(&second, "/accessToken");

    let data = gql_ok(&app, Some(&token), LOGOUT, json!({})).await;
    assert_eq!(data, json!({ "logout": true }));
    assert_signed_out(&app, &token, "logged-out session").await;
    let (status, body) = rest_refresh(&app, &text(&second, "/refreshToken")).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));

    let me = me(&app, &client.token).await;
    assert_eq!(me["sessions"].as_array().map(Vec::len), Some(1), "{me}");
    assert_ne!(me["sessions"][0]["id"], second["sessionId"]);

    // Signing out needs a session.
    gql_err(&app, None, LOGOUT, json!({}), "UNAUTHENTICATED").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_over_rest_ends_the_session_of_the_bearer_token_or_of_the_refresh_token() {
    let app = TestApp::spawn().await;
    let partner = app.persona(Role::Partner).await;

    let by_bearer = signed_in(&app, &partner.email, &partner.password).await;
    let token = text(&by_bearer, "/accessToken");
    let (status, body) = rest(&app, "/auth/logout", Some(&token), json!({})).await;
    assert_eq!((status, body), (204, Value::Null));
    assert_signed_out(&app, &token, "bearer logout").await;
    let (status, body) = rest(&app, "/auth/logout", Some(&token), json!({})).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));

    // A script that only kept its refresh token.
    let by_refresh = signed_in(&app, &partner.email, &partner.password).await;
    let (status, body) = rest(
        &app,
        "/auth/logout",
        None,
        json!({ "refreshToken": by_refresh["refreshToken"] }),
    )
    .await;
    assert_eq!((status, body), (204, Value::Null));
    assert_signed_out(&app, &text(&by_refresh, "/accessToken"), "refresh logout").await;
    let (status, body) = rest_refresh(&app, &text(&by_refresh, "/refreshToken")).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));

    // Nothing to sign out.
    let (status, body) = rest(&app, "/auth/logout", None, json!({})).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));

    // The persona's session was never touched.
    assert_eq!(
        me(&app, &partner.token).await["sessions"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn me_lists_sessions_newest_first_marks_the_current_one_and_revokes_another_of_yours() {
    let app = TestApp::spawn().await;
    let client = app.persona(Role::Client).await;
    let second = signed_in(&app, &client.email, &client.password).await;
    let third = signed_in(&app, &client.email, &client.password).await;
    let second_id = text(&second, "/sessionId");
    let third_id = text(&third, "/sessionId");
    let token = text(&second, "/accessToken");

    let listed = me(&app, &token).await;
    let ids = session_ids(&listed);
    assert_eq!(ids.len(), 3, "{listed}");
    assert_eq!(ids[..2], [third_id.clone(), second_id.clone()]);
    let current: Vec<&Value> = listed["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter(|session| session["current"] == true)
        .collect();
    assert_eq!(current.len(), 1, "{listed}");
    assert_eq!(current[0]["id"], second_id);
    let persona_session = ids[2].clone();

    let data = gql_ok(
        &app,
        Some(&token),
        REVOKE_SESSION,
        json!({ "id": third_id }),
    )
    .await;
    assert_eq!(data, json!({ "revokeSession": true }));
    assert_signed_out(&app, &text(&third, "/accessToken"), "revoked session").await;
    assert_eq!(
        session_ids(&me(&app, &token).await),
        [second_id.clone(), persona_session]
    );

    // Someone else's session is not yours to see.
    let stranger = app.persona_in(Role::Client, Some("Other Org")).await;
    let stranger_session = session_ids(&me(&app, &stranger.token).await)[0].clone();
    let body = gql_err(
        &app,
        Some(&token),
        REVOKE_SESSION,
        json!({ "id": stranger_session }),
        "NOT_FOUND",
    )
    .await;
    assert_eq!(body["data"], Value::Null);
    assert_eq!(
        me(&app, &stranger.token).await["id"],
        stranger.user_id.to_string()
    );
    gql_err(
        &app,
        Some(&token),
        REVOKE_SESSION,
        json!({ "id": uuid::Uuid::now_v7().to_string() }),
        "NOT_FOUND",
    )
    .await;
    let body = gql_err(
        &app,
        Some(&token),
        REVOKE_SESSION,
        json!({ "id": "42" }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["sessionId"]);
    gql_err(
        &app,
        None,
        REVOKE_SESSION,
        json!({ "id": second_id }),
        "UNAUTHENTICATED",
    )
    .await;
}

// ---- 5. password reset through a real SMTP server ----------------------------

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_requests_answer_alike_for_known_and_unknown_emails_and_mail_only_the_known()
{
    let (smtp, app) = spawn_with_smtp().await;
    let client = app.persona(Role::Client).await;
    let unknown = "nobody-here@example.test";

    let known = rest(
        &app,
        "/auth/password-reset",
        None,
        json!({ "email": client.email }),
    )
    .await;
    let stranger = rest(
        &app,
        "/auth/password-reset",
        None,
        json!({ "email": unknown }),
    )
    .await;
    assert_eq!(known, (202, json!({ "ok": true })));
    assert_eq!(stranger, known);

    let mails = settled_mail(&app, &smtp, 1).await;
    assert_eq!(mails[0].rcpt_to, [client.email.as_str()]);
    assert_eq!(mails[0].to, client.email);
    assert_eq!(mails[0].subject, "Reset your Fluxorae password");
    link_token(&mails[0], "/reset-password?token=");

    let known = app
        .post_graphql(None, REQUEST_RESET, json!({ "email": client.email }))
        .await;
    let stranger = app
        .post_graphql(None, REQUEST_RESET, json!({ "email": unknown }))
        .await;
    assert_eq!(
        known,
        (200, json!({ "data": { "requestPasswordReset": true } }))
    );
    assert_eq!(stranger, known);
    let mails = settled_mail(&app, &smtp, 2).await;
    assert!(
        mails
            .iter()
            .all(|mail| mail.rcpt_to == [client.email.as_str()]),
        "{mails:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_from_the_email_sets_a_new_password_over_rest_and_signs_out_every_session() {
    let (smtp, app) = spawn_with_smtp().await;
    let employee = app.persona(Role::Employee).await;
    let second = signed_in(&app, &employee.email, &employee.password).await;

    let (status, _) = rest(
        &app,
        "/auth/password-reset",
        None,
        json!({ "email": employee.email }),
    )
    .await;
    assert_eq!(status, 202);
    let mails = settled_mail(&app, &smtp, 1).await;
    let token = link_token(&mails[0], "/reset-password?token=");

    // A weak password is refused and leaves the link and the sessions alone.
    let (status, body) = rest(
        &app,
        "/auth/password-reset/confirm",
        None,
        json!({ "token": token, "newPassword": "password1" }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(rest_code(&body), "BAD_USER_INPUT");
    assert_eq!(rest_fields(&body), ["newPassword"]);
    me(&app, &employee.token).await;

    let confirmed = rest(
        &app,
        "/auth/password-reset/confirm",
        None,
        json!({ "token": token, "newPassword": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(confirmed, (200, json!({ "ok": true })));

    assert_signed_out(&app, &employee.token, "persona session").await;
    assert_signed_out(&app, &text(&second, "/accessToken"), "second session").await;
    let (status, body) = rest_refresh(&app, &employee.refresh_token).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));

    let (status, body) = rest_login(&app, &employee.email, &employee.password).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    let session = signed_in(&app, &employee.email, NEW_PASSWORD).await;
    assert_session_body(&session, &employee.email, "EMPLOYEE");

    // The link works once.
    let (status, body) = rest(
        &app,
        "/auth/password-reset/confirm",
        None,
        json!({ "token": token, "newPassword": OTHER_PASSWORD }),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(rest_code(&body), "BAD_USER_INPUT");
    assert_eq!(rest_fields(&body), ["token"]);
    let (status, _) = rest_login(&app, &employee.email, OTHER_PASSWORD).await;
    assert_eq!(status, 401);
    me(&app, &text(&session, "/accessToken")).await;

    let (status, body) = rest(
        &app,
        "/auth/password-reset/confirm",
        None,
        json!({ "token": "not-a-reset-token", "newPassword": OTHER_PASSWORD }),
    )
    .await;
    assert_eq!((status, rest_code(&body)), (400, "BAD_USER_INPUT"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_token_from_the_email_sets_a_new_password_over_graphql_once() {
    let (smtp, app) = spawn_with_smtp().await;
    let client = app.persona(Role::Client).await;
    let request = json!({ "email": client.email });

    gql_ok(&app, None, REQUEST_RESET, request.clone()).await;
    let first = link_token(
        &settled_mail(&app, &smtp, 1).await[0],
        "/reset-password?token=",
    );
    // A newer request supersedes the older link.
    gql_ok(&app, None, REQUEST_RESET, request).await;
    let mails = settled_mail(&app, &smtp, 2).await;
    let tokens: Vec<String> = mails
        .iter()
        .map(|mail| link_token(mail, "/reset-password?token="))
        .collect();
    let latest = tokens
        .into_iter()
        .find(|token| *token != first)
        .expect("a second, different link");

    let reset = |token: &str, password: &str| json!({ "token": token, "password": password });
    let body = gql_err(
        &app,
        None,
        RESET_PASSWORD,
        reset(&first, NEW_PASSWORD),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(body["data"], Value::Null);
    me(&app, &client.token).await;

    let data = gql_ok(&app, None, RESET_PASSWORD, reset(&latest, NEW_PASSWORD)).await;
    assert_eq!(data, json!({ "resetPassword": true }));
    assert_signed_out(&app, &client.token, "session before the reset").await;

    let login =
        |password: &str| json!({ "input": { "email": client.email, "password": password } });
    gql_err(
        &app,
        None,
        LOGIN,
        login(&client.password),
        "UNAUTHENTICATED",
    )
    .await;
    let data = gql_ok(&app, None, LOGIN, login(NEW_PASSWORD)).await;
    let access = text(&data, "/login/accessToken");
    assert_eq!(me(&app, &access).await["id"], client.user_id.to_string());

    // Used once, it is spent; garbage never worked.
    gql_err(
        &app,
        None,
        RESET_PASSWORD,
        reset(&latest, OTHER_PASSWORD),
        "BAD_USER_INPUT",
    )
    .await;
    gql_err(
        &app,
        None,
        RESET_PASSWORD,
        reset("not-a-reset-token", OTHER_PASSWORD),
        "BAD_USER_INPUT",
    )
    .await;
    gql_err(&app, None, LOGIN, login(OTHER_PASSWORD), "UNAUTHENTICATED").await;
    me(&app, &access).await;
}

// ---- 6. invitations ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_admin_invites_an_employee_who_accepts_from_the_email_and_is_signed_in() {
    let (smtp, app) = spawn_with_smtp().await;
    let admin = app.persona(Role::Admin).await;
    let email = "priya.sharma@fluxorae.test";

    let data = gql_ok(
        &app,
        Some(&admin.token),
        INVITE,
        json!({ "input": {
            "email": email,
            "name": "Priya Sharma",
            "role": "EMPLOYEE",
            "organizationId": admin.organization_id.to_string(),
        }}),
    )
    .await;
    let invited = &data["inviteUser"];
    assert_eq!(invited["email"], email);
    assert_eq!(invited["name"], "Priya Sharma");
    assert_eq!(invited["role"], "EMPLOYEE");
    assert_eq!(invited["status"], "INVITED");
    assert_eq!(
        invited["organization"]["id"],
        admin.organization_id.to_string()
    );
    assert_eq!(invited["organization"]["kind"], "AGENCY");
    let invited_id = text(invited, "/id");

    // No password yet, so no login.
    let (status, _) = rest_login(&app, email, NEW_PASSWORD).await;
    assert_eq!(status, 401);

    let mails = settled_mail(&app, &smtp, 1).await;
    assert_eq!(mails[0].rcpt_to, [email]);
    assert_eq!(
        mails[0].subject,
        "You are invited to Fluxorae Agency on Fluxorae"
    );
    let token = link_token(&mails[0], "/accept-invitation?token=");

    // A weak password keeps the invitation open.
    let body = gql_err(
        &app,
        None,
        ACCEPT,
        json!({ "input": { "token": token, "password": "qwerty123" } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["input.password"]);

    let data = gql_ok(
        &app,
        None,
        ACCEPT,
        json!({ "input": { "token": token, "password": NEW_PASSWORD, "name": "Priya S." } }),
    )
    .await;
    let accepted = &data["acceptInvitation"];
    assert_eq!(accepted["tokenType"], "Bearer");
    assert!(accepted["refreshToken"].is_string());
    assert!(accepted["expiresIn"].as_i64().is_some_and(|s| s > 850));
    assert_eq!(
        accepted["user"],
        json!({
            "id": invited_id,
            "email": email,
            "name": "Priya S.",
            "role": "EMPLOYEE",
            "status": "ACTIVE",
        })
    );
    let me = me(&app, &text(accepted, "/accessToken")).await;
    assert_eq!(me["status"], "ACTIVE");
    assert_eq!(me["role"], "EMPLOYEE");
    assert_eq!(me["organization"]["kind"], "AGENCY");
    assert_eq!(
        session_ids(&me),
        [text(accepted, "/sessionId")],
        "accepting signs in"
    );

    let seen = gql_ok(&app, Some(&admin.token), USER, json!({ "id": invited_id })).await;
    assert_eq!(seen["user"]["status"], "ACTIVE");
    let session = signed_in(&app, email, NEW_PASSWORD).await;
    assert_session_body(&session, email, "EMPLOYEE");

    // The link works once.
    gql_err(
        &app,
        None,
        ACCEPT,
        json!({ "input": { "token": token, "password": OTHER_PASSWORD } }),
        "BAD_USER_INPUT",
    )
    .await;
    let (status, _) = rest_login(&app, email, OTHER_PASSWORD).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn employees_invite_clients_but_not_employees() {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let invite = |email: &str, role: &str, organization: uuid::Uuid| {
        json!({ "input": {
            "email": email,
            "name": "Dev Patel",
            "role": role,
            "organizationId": organization.to_string(),
        }})
    };

    let data = gql_ok(
        &app,
        Some(&employee.token),
        INVITE,
        invite("dev@acme.example", "CLIENT", client.organization_id),
    )
    .await;
    assert_eq!(data["inviteUser"]["role"], "CLIENT");
    assert_eq!(data["inviteUser"]["status"], "INVITED");
    assert_eq!(data["inviteUser"]["organization"]["name"], "Acme Pvt Ltd");
    assert_eq!(data["inviteUser"]["organization"]["kind"], "CLIENT");

    let data = gql_ok(
        &app,
        Some(&employee.token),
        INVITE,
        invite(
            "kabir@freelance.test",
            "FREELANCER",
            employee.organization_id,
        ),
    )
    .await;
    assert_eq!(data["inviteUser"]["role"], "FREELANCER");

    let partner = app.persona(Role::Partner).await;
    let refused = [
        (
            "an employee may not invite an employee",
            "colleague@fluxorae.test",
            "EMPLOYEE",
            employee.organization_id,
        ),
        (
            "an employee may not invite an admin",
            "colleague@fluxorae.test",
            "ADMIN",
            employee.organization_id,
        ),
        (
            "an employee may not invite a super-admin",
            "colleague@fluxorae.test",
            "SUPER_ADMIN",
            employee.organization_id,
        ),
        (
            "an employee may not invite a partner",
            "ally@northwind.test",
            "PARTNER",
            partner.organization_id,
        ),
    ];
    for (case, email, role, organization) in refused {
        let body = gql_err(
            &app,
            Some(&employee.token),
            INVITE,
            invite(email, role, organization),
            "FORBIDDEN",
        )
        .await;
        assert_eq!(body["data"], Value::Null, "{case}");
    }
    // Nobody was created by the refused invitations.
    let listed = gql_ok(
        &app,
        Some(&employee.token),
        USERS,
        json!({ "filter": { "search": "colleague@" } }),
    )
    .await;
    assert_eq!(listed["users"]["totalCount"], 0);

    let outsiders = [
        (
            "a client invites nobody",
            Some(client.token.as_str()),
            "FORBIDDEN",
        ),
        (
            "an anonymous caller invites nobody",
            None,
            "UNAUTHENTICATED",
        ),
    ];
    for (case, token, code) in outsiders {
        let body = gql_err(
            &app,
            token,
            INVITE,
            invite("friend@acme.example", "CLIENT", client.organization_id),
            code,
        )
        .await;
        assert_eq!(gql_code(&body), code, "{case}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn invitations_refuse_roles_that_do_not_fit_the_organization_and_existing_emails() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;
    let invite = |email: &str, role: &str, organization: String| {
        json!({ "input": {
            "email": email,
            "name": "Neha Gupta",
            "role": role,
            "organizationId": organization,
        }})
    };
    let agency = admin.organization_id.to_string();
    let acme = client.organization_id.to_string();

    let refused = [
        (
            "a client does not belong to the agency",
            "neha@acme.example".to_string(),
            "CLIENT",
            agency.clone(),
            "BAD_USER_INPUT",
            Some("input.organizationId"),
        ),
        (
            "an employee does not belong to a client organization",
            "neha@fluxorae.test".to_string(),
            "EMPLOYEE",
            acme.clone(),
            "BAD_USER_INPUT",
            Some("input.organizationId"),
        ),
        (
            "an unknown organization is refused",
            "neha@fluxorae.test".to_string(),
            "EMPLOYEE",
            uuid::Uuid::now_v7().to_string(),
            "BAD_USER_INPUT",
            Some("input.organizationId"),
        ),
        (
            "an address that is no email is refused",
            "not-an-email".to_string(),
            "EMPLOYEE",
            agency.clone(),
            "BAD_USER_INPUT",
            Some("input.email"),
        ),
        (
            "an address that already has an account, in any case, is a conflict",
            client.email.to_uppercase(),
            "CLIENT",
            acme.clone(),
            "CONFLICT",
            None,
        ),
        (
            "admins never invite admins",
            "boss@fluxorae.test".to_string(),
            "ADMIN",
            agency.clone(),
            "FORBIDDEN",
            None,
        ),
    ];
    for (case, email, role, organization, code, field) in refused {
        let body = gql_err(
            &app,
            Some(&admin.token),
            INVITE,
            invite(&email, role, organization),
            code,
        )
        .await;
        if let Some(field) = field {
            assert_eq!(gql_fields(&body), [field], "{case}");
        }
    }
    // A second invitation to a pending address is a conflict too.
    gql_ok(
        &app,
        Some(&admin.token),
        INVITE,
        invite("neha@fluxorae.test", "EMPLOYEE", agency.clone()),
    )
    .await;
    gql_err(
        &app,
        Some(&admin.token),
        INVITE,
        invite("Neha@Fluxorae.test", "EMPLOYEE", agency),
        "CONFLICT",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_invitee_cannot_accept_the_invitation() {
    let (smtp, app) = spawn_with_smtp().await;
    let admin = app.persona(Role::Admin).await;
    let email = "rohan@fluxorae.test";
    let data = gql_ok(
        &app,
        Some(&admin.token),
        INVITE,
        json!({ "input": {
            "email": email,
            "name": "Rohan Das",
            "role": "EMPLOYEE",
            "organizationId": admin.organization_id.to_string(),
        }}),
    )
    .await;
    let invited_id = text(&data, "/inviteUser/id");
    let data = gql_ok(
        &app,
        Some(&admin.token),
        DISABLE,
        json!({ "user": invited_id }),
    )
    .await;
    assert_eq!(data["disableUser"]["status"], "DISABLED");

    let token = link_token(
        &settled_mail(&app, &smtp, 1).await[0],
        "/accept-invitation?token=",
    );
    let body = gql_err(
        &app,
        None,
        ACCEPT,
        json!({ "input": { "token": token, "password": NEW_PASSWORD } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(body["data"], Value::Null);
    let seen = gql_ok(&app, Some(&admin.token), USER, json!({ "id": invited_id })).await;
    assert_eq!(seen["user"]["status"], "DISABLED");
    let (status, _) = rest_login(&app, email, NEW_PASSWORD).await;
    assert_eq!(status, 401);
}

// ---- 7. user management by admins --------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn admins_list_users_with_filters_and_cursor_pagination() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let e1 = app.persona(Role::Employee).await;
    let e2 = app.persona(Role::Employee).await;
    let e3 = app.persona(Role::Employee).await;
    let c1 = app.persona(Role::Client).await;
    let c2 = app.persona(Role::Client).await;
    gql_ok(
        &app,
        Some(&admin.token),
        INVITE,
        json!({ "input": {
            "email": "kavya@freelance.test",
            "name": "Kavya Fernandes",
            "role": "FREELANCER",
            "organizationId": admin.organization_id.to_string(),
        }}),
    )
    .await;
    let users = async |token: &str, variables: Value| {
        gql_ok(&app, Some(token), USERS, variables).await["users"].clone()
    };
    let ids = |page: &Value| -> Vec<String> {
        page["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| text(node, "/id"))
            .collect()
    };

    let all = users(&admin.token, json!({})).await;
    assert_eq!(all["totalCount"], 7, "{all}");
    assert_eq!(all["pageInfo"]["hasNextPage"], false);

    // Newest first, two at a time.
    let page = users(
        &admin.token,
        json!({ "filter": { "role": "EMPLOYEE" }, "first": 2 }),
    )
    .await;
    assert_eq!(page["totalCount"], 3);
    assert_eq!(ids(&page), [e3.user_id.to_string(), e2.user_id.to_string()]);
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    assert_eq!(page["pageInfo"]["hasPreviousPage"], false);
    let next = users(
        &admin.token,
        json!({
            "filter": { "role": "EMPLOYEE" },
            "first": 2,
            "after": page["pageInfo"]["endCursor"],
        }),
    )
    .await;
    assert_eq!(next["totalCount"], 3);
    assert_eq!(ids(&next), [e1.user_id.to_string()]);
    assert_eq!(next["pageInfo"]["hasNextPage"], false);
    assert_eq!(next["pageInfo"]["hasPreviousPage"], true);

    // Search matches names and emails, case-insensitively; LIKE wildcards are literal.
    let found = users(&admin.token, json!({ "filter": { "search": "FERNANDES" } })).await;
    assert_eq!(found["totalCount"], 1);
    assert_eq!(found["nodes"][0]["email"], "kavya@freelance.test");
    assert_eq!(found["nodes"][0]["role"], "FREELANCER");
    assert_eq!(found["nodes"][0]["status"], "INVITED");
    let fragment = &e2.email[9..25];
    let found = users(&admin.token, json!({ "filter": { "search": fragment } })).await;
    assert_eq!(ids(&found), [e2.user_id.to_string()]);
    let found = users(&admin.token, json!({ "filter": { "search": "%" } })).await;
    assert_eq!(found["totalCount"], 0);
    let found = users(
        &admin.token,
        json!({ "filter": { "role": "CLIENT", "search": "example.test" } }),
    )
    .await;
    assert_eq!(
        ids(&found),
        [c2.user_id.to_string(), c1.user_id.to_string()]
    );

    let invited = users(&admin.token, json!({ "filter": { "status": "INVITED" } })).await;
    assert_eq!(invited["totalCount"], 1);
    let acme = users(
        &admin.token,
        json!({ "filter": { "organizationId": c1.organization_id.to_string() } }),
    )
    .await;
    assert_eq!(ids(&acme), [c2.user_id.to_string(), c1.user_id.to_string()]);

    let body = gql_err(
        &app,
        Some(&admin.token),
        USERS,
        json!({ "after": "not-a-cursor" }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["after"]);

    // Employees read users; clients do not, and see only themselves.
    assert_eq!(users(&e1.token, json!({})).await["totalCount"], 7);
    gql_err(&app, Some(&c1.token), USERS, json!({}), "FORBIDDEN").await;
    gql_err(
        &app,
        Some(&c1.token),
        USER,
        json!({ "id": admin.user_id.to_string() }),
        "NOT_FOUND",
    )
    .await;
    let own = gql_ok(
        &app,
        Some(&c1.token),
        USER,
        json!({ "id": c1.user_id.to_string() }),
    )
    .await;
    assert_eq!(own["user"]["email"], c1.email);
}

#[tokio::test(flavor = "multi_thread")]
async fn admins_change_employees_to_freelancers_but_never_to_or_from_admin() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let other_admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let change = |user: uuid::Uuid, role: &str| json!({ "user": user.to_string(), "role": role });

    let data = gql_ok(
        &app,
        Some(&admin.token),
        CHANGE_ROLE,
        change(employee.user_id, "FREELANCER"),
    )
    .await;
    assert_eq!(
        data["changeUserRole"],
        json!({ "id": employee.user_id.to_string(), "role": "FREELANCER" })
    );
    // Takes effect at once, on the sessions the user already has.
    let me_now = me(&app, &employee.token).await;
    assert_eq!(me_now["role"], "FREELANCER");
    assert_eq!(auth_permissions(&me_now), Vec::<String>::new());
    gql_err(&app, Some(&employee.token), USERS, json!({}), "FORBIDDEN").await;

    let refused = [
        (
            "an admin may not make anyone an admin",
            employee.user_id,
            "ADMIN",
            "FORBIDDEN",
        ),
        (
            "an admin may not make anyone a super-admin",
            employee.user_id,
            "SUPER_ADMIN",
            "FORBIDDEN",
        ),
        (
            "an admin may not change another admin",
            other_admin.user_id,
            "EMPLOYEE",
            "FORBIDDEN",
        ),
        (
            "an admin may not change their own role",
            admin.user_id,
            "EMPLOYEE",
            "FORBIDDEN",
        ),
        (
            "a role must fit the user's organization",
            client.user_id,
            "EMPLOYEE",
            "BAD_USER_INPUT",
        ),
        (
            "an unknown user is not found",
            uuid::Uuid::now_v7(),
            "EMPLOYEE",
            "NOT_FOUND",
        ),
    ];
    for (case, user, role, code) in refused {
        let body = gql_err(
            &app,
            Some(&admin.token),
            CHANGE_ROLE,
            change(user, role),
            code,
        )
        .await;
        assert_eq!(gql_code(&body), code, "{case}");
        if code == "BAD_USER_INPUT" {
            assert_eq!(body["data"], Value::Null, "{case}");
        }
    }

    // Nothing changed by the refusals.
    for (user, role) in [
        (&other_admin, "ADMIN"),
        (&admin, "ADMIN"),
        (&client, "CLIENT"),
        (&employee, "FREELANCER"),
    ] {
        let seen = gql_ok(
            &app,
            Some(&admin.token),
            USER,
            json!({ "id": user.user_id.to_string() }),
        )
        .await;
        assert_eq!(seen["user"]["role"], role, "{}", user.email);
    }

    // Employees manage nobody.
    let colleague = app.persona(Role::Employee).await;
    gql_err(
        &app,
        Some(&colleague.token),
        CHANGE_ROLE,
        change(employee.user_id, "EMPLOYEE"),
        "FORBIDDEN",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn super_admins_create_and_change_admins_but_nobody_changes_their_own_role() {
    let app = TestApp::spawn().await;
    let super_admin = app.persona(Role::SuperAdmin).await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let change = |user: uuid::Uuid, role: &str| json!({ "user": user.to_string(), "role": role });

    let data = gql_ok(
        &app,
        Some(&super_admin.token),
        CHANGE_ROLE,
        change(employee.user_id, "ADMIN"),
    )
    .await;
    assert_eq!(data["changeUserRole"]["role"], "ADMIN");
    let promoted = me(&app, &employee.token).await;
    assert_eq!(promoted["role"], "ADMIN");
    assert_eq!(
        auth_permissions(&promoted),
        [
            "auth:audit.read",
            "auth:organization.manage",
            "auth:referral.review",
            "auth:user.invite",
            "auth:user.manage",
            "auth:user.read",
        ]
    );

    let data = gql_ok(
        &app,
        Some(&super_admin.token),
        CHANGE_ROLE,
        change(admin.user_id, "EMPLOYEE"),
    )
    .await;
    assert_eq!(data["changeUserRole"]["role"], "EMPLOYEE");
    assert_eq!(me(&app, &admin.token).await["role"], "EMPLOYEE");

    // `employee` is an admin by now.
    let refused = [
        (
            "a super-admin may not change their own role",
            &super_admin,
            super_admin.user_id,
            "ADMIN",
        ),
        (
            "the new admin may not touch the super-admin",
            &employee,
            super_admin.user_id,
            "EMPLOYEE",
        ),
        (
            "the new admin may not change their own role",
            &employee,
            employee.user_id,
            "SUPER_ADMIN",
        ),
    ];
    for (case, actor, user, role) in refused {
        let body = gql_err(
            &app,
            Some(&actor.token),
            CHANGE_ROLE,
            change(user, role),
            "FORBIDDEN",
        )
        .await;
        assert_eq!(gql_code(&body), "FORBIDDEN", "{case}");
    }
    assert_eq!(me(&app, &super_admin.token).await["role"], "SUPER_ADMIN");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_a_user_revokes_every_session_at_once_and_enabling_restores_login() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let second = signed_in(&app, &employee.email, &employee.password).await;
    let target = json!({ "user": employee.user_id.to_string() });

    let data = gql_ok(&app, Some(&admin.token), DISABLE, target.clone()).await;
    assert_eq!(
        data["disableUser"],
        json!({ "id": employee.user_id.to_string(), "status": "DISABLED" })
    );
    assert_signed_out(&app, &employee.token, "first session").await;
    assert_signed_out(&app, &text(&second, "/accessToken"), "second session").await;
    let (status, body) = rest_refresh(&app, &employee.refresh_token).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    let (status, body) = rest_login(&app, &employee.email, &employee.password).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    let disabled = gql_ok(
        &app,
        Some(&admin.token),
        USERS,
        json!({ "filter": { "status": "DISABLED" } }),
    )
    .await;
    assert_eq!(disabled["users"]["totalCount"], 1);

    let data = gql_ok(&app, Some(&admin.token), ENABLE, target).await;
    assert_eq!(data["enableUser"]["status"], "ACTIVE");
    let session = signed_in(&app, &employee.email, &employee.password).await;
    assert_eq!(
        me(&app, &text(&session, "/accessToken")).await["status"],
        "ACTIVE"
    );
    // The old sessions stay ended.
    assert_signed_out(&app, &employee.token, "first session after enabling").await;

    // Admins neither disable themselves nor other admins; employees nobody.
    let other_admin = app.persona(Role::Admin).await;
    gql_err(
        &app,
        Some(&admin.token),
        DISABLE,
        json!({ "user": admin.user_id.to_string() }),
        "FORBIDDEN",
    )
    .await;
    gql_err(
        &app,
        Some(&admin.token),
        DISABLE,
        json!({ "user": other_admin.user_id.to_string() }),
        "FORBIDDEN",
    )
    .await;
    gql_err(
        &app,
        Some(&text(&session, "/accessToken")),
        DISABLE,
        json!({ "user": admin.user_id.to_string() }),
        "FORBIDDEN",
    )
    .await;
    me(&app, &other_admin.token).await;
}

// ---- 8. organizations ------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn partners_see_their_own_and_referred_organizations_and_clients_only_their_own() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let partner = app.persona(Role::Partner).await;
    let client = app.persona(Role::Client).await;
    let partner_org = partner.organization_id.to_string();

    let data = gql_ok(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        json!({ "input": {
            "name": "Lotus Ayurveda",
            "kind": "CLIENT",
            "referredByPartnerId": partner_org,
        }}),
    )
    .await;
    let referred = &data["createOrganization"];
    assert_eq!(referred["name"], "Lotus Ayurveda");
    assert_eq!(referred["kind"], "CLIENT");
    assert_eq!(referred["referredByPartnerId"], partner_org);
    let referred_id = text(referred, "/id");
    let data = gql_ok(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        json!({ "input": { "name": "Banyan Foods", "kind": "CLIENT" } }),
    )
    .await;
    assert_eq!(
        data["createOrganization"]["referredByPartnerId"],
        Value::Null
    );
    let unreferred_id = text(&data, "/createOrganization/id");

    let names = |list: &Value| -> BTreeSet<String> {
        list["organizations"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .map(|node| text(node, "/name"))
            .collect()
    };
    let seen = gql_ok(&app, Some(&partner.token), ORGANIZATIONS, json!({})).await;
    assert_eq!(seen["organizations"]["totalCount"], 2);
    assert_eq!(
        names(&seen),
        BTreeSet::from([
            "Lotus Ayurveda".to_string(),
            "Northwind Partners".to_string()
        ])
    );
    let seen = gql_ok(&app, Some(&client.token), ORGANIZATIONS, json!({})).await;
    assert_eq!(seen["organizations"]["totalCount"], 1);
    assert_eq!(
        seen["organizations"]["nodes"],
        json!([{
            "id": client.organization_id.to_string(),
            "name": "Acme Pvt Ltd",
            "kind": "CLIENT",
            "referredByPartnerId": null,
        }])
    );
    let seen = gql_ok(&app, Some(&admin.token), ORGANIZATIONS, json!({})).await;
    assert_eq!(seen["organizations"]["totalCount"], 5);

    // One organization by id: out of scope is NOT_FOUND, never FORBIDDEN.
    for id in [&referred_id, &unreferred_id, &partner_org] {
        let body = gql_err(
            &app,
            Some(&client.token),
            ORGANIZATION,
            json!({ "id": id }),
            "NOT_FOUND",
        )
        .await;
        assert_eq!(body["data"], Value::Null);
    }
    let own = gql_ok(
        &app,
        Some(&client.token),
        ORGANIZATION,
        json!({ "id": client.organization_id.to_string() }),
    )
    .await;
    assert_eq!(own["organization"]["name"], "Acme Pvt Ltd");
    let lotus = gql_ok(
        &app,
        Some(&partner.token),
        ORGANIZATION,
        json!({ "id": referred_id }),
    )
    .await;
    assert_eq!(lotus["organization"]["name"], "Lotus Ayurveda");
    gql_err(
        &app,
        Some(&partner.token),
        ORGANIZATION,
        json!({ "id": unreferred_id }),
        "NOT_FOUND",
    )
    .await;
    gql_err(
        &app,
        Some(&partner.token),
        ORGANIZATION,
        json!({ "id": client.organization_id.to_string() }),
        "NOT_FOUND",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_admins_create_organizations_and_only_partners_refer_clients() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let employee = app.persona(Role::Employee).await;
    let client = app.persona(Role::Client).await;
    let partner = app.persona(Role::Partner).await;
    let create = |name: &str, kind: &str, referred: Option<uuid::Uuid>| {
        json!({ "input": {
            "name": name,
            "kind": kind,
            "referredByPartnerId": referred.map(|id| id.to_string()),
        }})
    };

    gql_err(
        &app,
        Some(&employee.token),
        CREATE_ORGANIZATION,
        create("Banyan Foods", "CLIENT", None),
        "FORBIDDEN",
    )
    .await;
    gql_err(
        &app,
        Some(&client.token),
        CREATE_ORGANIZATION,
        create("Banyan Foods", "CLIENT", None),
        "FORBIDDEN",
    )
    .await;
    let body = gql_err(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        create("Banyan Foods", "CLIENT", Some(client.organization_id)),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["input.referredByPartnerId"]);
    let body = gql_err(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        create(
            "Eastwind Partners",
            "PARTNER",
            Some(partner.organization_id),
        ),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["input.referredByPartnerId"]);
    let body = gql_err(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        create("Second Agency", "AGENCY", None),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["input.kind"]);
    // Names are unique case-insensitively.
    gql_err(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        create("ACME PVT LTD", "CLIENT", None),
        "CONFLICT",
    )
    .await;

    let seen = gql_ok(&app, Some(&admin.token), ORGANIZATIONS, json!({})).await;
    assert_eq!(
        seen["organizations"]["totalCount"], 3,
        "only the personas' organizations: {seen}"
    );
    let data = gql_ok(
        &app,
        Some(&admin.token),
        CREATE_ORGANIZATION,
        create("Eastwind Partners", "PARTNER", None),
    )
    .await;
    assert_eq!(data["createOrganization"]["kind"], "PARTNER");
}

#[tokio::test(flavor = "multi_thread")]
async fn field_errors_name_the_input_path_of_the_mutation_that_failed() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let client = app.persona(Role::Client).await;

    let cases = [
        (
            "a taken organization name blames input.name",
            Some(admin.token.as_str()),
            CREATE_ORGANIZATION,
            json!({ "input": { "name": "acme pvt ltd", "kind": "CLIENT" } }),
            "CONFLICT",
            "input.name",
        ),
        (
            "an invitation to a taken email blames input.email",
            Some(admin.token.as_str()),
            INVITE,
            json!({ "input": {
                "email": client.email,
                "name": "Someone",
                "role": "CLIENT",
                "organizationId": client.organization_id.to_string(),
            }}),
            "CONFLICT",
            "input.email",
        ),
        (
            "an unknown invitation token blames input.token",
            None,
            ACCEPT,
            json!({ "input": { "token": "not-an-invitation", "password": NEW_PASSWORD } }),
            "BAD_USER_INPUT",
            "input.token",
        ),
    ];
    for (case, token, query, variables, code, field) in cases {
        let body = gql_err(&app, token, query, variables, code).await;
        assert_eq!(gql_fields(&body), [field], "{case}");
    }
}

// ---- second factor, rate limits, browser cookies ------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn an_emailed_code_completes_the_login_over_rest_and_graphql() {
    let (smtp, app) = spawn_with_smtp().await;
    let client = app.persona(Role::Client).await;
    let data = gql_ok(
        &app,
        Some(&client.token),
        SET_OTP_CHANNEL,
        json!({ "input": { "channel": "EMAIL", "password": client.password } }),
    )
    .await;
    assert_eq!(data["setOtpChannel"]["mfa"]["otpChannel"], "EMAIL");

    let (status, challenge) = rest_login(&app, &client.email, &client.password).await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["mfaRequired"], true);
    assert_eq!(challenge["method"], "EMAIL");
    assert!(challenge.get("accessToken").is_none(), "{challenge}");
    assert!(challenge.get("refreshToken").is_none(), "{challenge}");
    let challenge_id = text(&challenge, "/challengeId");

    let mails = settled_mail(&app, &smtp, 1).await;
    assert_eq!(mails[0].rcpt_to, [client.email.as_str()]);
    assert_eq!(mails[0].subject, "Your Fluxorae sign-in code");
    let code = sign_in_code(&mails[0]);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let verify = |code: &str| json!({ "challengeId": challenge_id, "code": code });
    let (status, body) = rest(&app, "/auth/mfa/verify", None, verify(wrong)).await;
    assert_eq!(
        (status, rest_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
    let (status, session) = rest(&app, "/auth/mfa/verify", None, verify(&code)).await;
    assert_eq!(status, 200, "{session}");
    assert_session_body(&session, &client.email, "CLIENT");
    me(&app, &text(&session, "/accessToken")).await;
    // A challenge is answered once.
    let (status, body) = rest(&app, "/auth/mfa/verify", None, verify(&code)).await;
    assert_eq!(
        (status, rest_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );

    let data = gql_ok(
        &app,
        None,
        LOGIN,
        json!({ "input": { "email": client.email, "password": client.password } }),
    )
    .await;
    let login = &data["login"];
    assert_eq!(login["mfaRequired"], true);
    assert_eq!(login["accessToken"], Value::Null);
    assert_eq!(login["user"], Value::Null);
    assert_eq!(login["mfaChallenge"]["method"], "EMAIL");
    let challenge_id = text(login, "/mfaChallenge/challengeId");
    let mails = settled_mail(&app, &smtp, 2).await;
    let codes: Vec<String> = mails.iter().map(sign_in_code).collect();
    let fresh = codes
        .iter()
        .rev()
        .find(|candidate| **candidate != code)
        .cloned()
        .unwrap_or_else(|| code.clone());
    let data = gql_ok(
        &app,
        None,
        VERIFY_MFA,
        json!({ "id": challenge_id, "code": fresh }),
    )
    .await;
    assert_eq!(data["verifyMfa"]["user"]["id"], client.user_id.to_string());
    me(&app, &text(&data, "/verifyMfa/accessToken")).await;
}

fn sign_in_code(mail: &ReceivedMail) -> String {
    let marker = "Your sign-in code is ";
    let start = mail
        .text
        .find(marker)
        .unwrap_or_else(|| panic!("no code in {mail:#?}"))
        + marker.len();
    let code: String = mail.text[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    assert_eq!(code.len(), 6, "{mail:#?}");
    code
}

#[tokio::test(flavor = "multi_thread")]
async fn logins_beyond_the_per_address_budget_are_rate_limited_with_a_retry_hint() {
    let app =
        TestApp::spawn_with(|config| config.domains.auth.rate_limits.login_per_ip_per_minute = 3)
            .await;
    let client = app.persona(Role::Client).await;
    start_early_in_a_window(60, 20).await;
    for _ in 0..3 {
        signed_in(&app, &client.email, &client.password).await;
    }

    let response = post(
        &app,
        "/auth/login",
        &[],
        &json!({ "email": client.email, "password": client.password }),
    )
    .await;
    let retry_header: u64 = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse().ok())
        .expect("a numeric Retry-After header");
    let (status, body) = json_of(response).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(rest_code(&body), "RATE_LIMITED");
    assert_eq!(body["error"]["retryAfterSeconds"], retry_header);
    assert!((1..=60).contains(&retry_header), "{retry_header}");

    let body = gql_err(
        &app,
        None,
        LOGIN,
        json!({ "input": { "email": client.email, "password": client.password } }),
        "RATE_LIMITED",
    )
    .await;
    let retry = body
        .pointer("/errors/0/extensions/retryAfterSeconds")
        .and_then(Value::as_u64)
        .expect("retryAfterSeconds");
    assert!((1..=60).contains(&retry), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn browsers_keep_the_refresh_token_in_an_http_only_cookie_guarded_by_a_csrf_header() {
    let app = TestApp::spawn_with(|config| {
        config.allowed_origins = vec![PORTAL_ORIGIN.to_string()];
        config.cookie_secure = true;
    })
    .await;
    let client = app.persona(Role::Client).await;
    let credentials = json!({ "email": client.email, "password": client.password });
    let origin = ("origin", PORTAL_ORIGIN);

    let response = post(&app, "/auth/login", &[origin], &credentials).await;
    let cookies = set_cookies(&response);
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["accessToken"].is_string());
    assert!(
        body.get("refreshToken").is_none(),
        "never in a browser's body: {body}"
    );
    let refresh_cookie = cookie_named(&cookies, "fluxorae_refresh");
    for attribute in ["Path=/auth", "HttpOnly", "SameSite=Strict", "Secure"] {
        assert!(refresh_cookie.contains(attribute), "{refresh_cookie}");
    }
    let csrf_cookie = cookie_named(&cookies, "fluxorae_csrf");
    assert!(!csrf_cookie.contains("HttpOnly"), "{csrf_cookie}");
    assert!(csrf_cookie.contains("Secure"), "{csrf_cookie}");
    let refresh = cookie_value(refresh_cookie).to_owned();
    let csrf = cookie_value(csrf_cookie).to_owned();
    let jar = format!("fluxorae_refresh={refresh}; fluxorae_csrf={csrf}");

    // The cookie alone is not enough.
    for headers in [
        vec![origin, ("cookie", jar.as_str())],
        vec![origin, ("cookie", jar.as_str()), ("x-csrf-token", "guess")],
        vec![("cookie", jar.as_str()), ("x-csrf-token", csrf.as_str())],
        vec![
            ("origin", "https://evil.example"),
            ("cookie", jar.as_str()),
            ("x-csrf-token", csrf.as_str()),
        ],
    ] {
        let (status, body) = json_of(post(&app, "/auth/refresh", &headers, &json!({})).await).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert_eq!(rest_code(&body), "FORBIDDEN");
    }

    let good = [
        origin,
        ("cookie", jar.as_str()),
        ("x-csrf-token", csrf.as_str()),
    ];
    let response = post(&app, "/auth/refresh", &good, &json!({})).await;
    let rotated = set_cookies(&response);
    let (status, body) = json_of(response).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("refreshToken").is_none(), "{body}");
    let new_refresh = cookie_value(cookie_named(&rotated, "fluxorae_refresh")).to_owned();
    assert_ne!(new_refresh, refresh);
    let access = text(&body, "/accessToken");
    me(&app, &access).await;

    // Replaying the old cookie ends the session and clears the cookies.
    let response = post(&app, "/auth/refresh", &good, &json!({})).await;
    let cleared = set_cookies(&response);
    let (status, body) = json_of(response).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    assert!(
        cookie_named(&cleared, "fluxorae_refresh").contains("Max-Age=0"),
        "{cleared:?}"
    );
    assert_signed_out(&app, &access, "replayed cookie session").await;

    // Logout with the cookie.
    let response = post(&app, "/auth/login", &[origin], &credentials).await;
    let cookies = set_cookies(&response);
    let (_, body) = json_of(response).await;
    let csrf = cookie_value(cookie_named(&cookies, "fluxorae_csrf")).to_owned();
    let jar = format!(
        "fluxorae_refresh={}; fluxorae_csrf={csrf}",
        cookie_value(cookie_named(&cookies, "fluxorae_refresh"))
    );
    let response = post(
        &app,
        "/auth/logout",
        &[
            origin,
            ("cookie", jar.as_str()),
            ("x-csrf-token", csrf.as_str()),
        ],
        &json!({}),
    )
    .await;
    let cleared = set_cookies(&response);
    assert_eq!(response.status().as_u16(), 204);
    assert!(
        cookie_named(&cleared, "fluxorae_refresh").contains("Max-Age=0"),
        "{cleared:?}"
    );
    assert_signed_out(&app, &text(&body, "/accessToken"), "cookie logout").await;

    // Pages of other origins may not sign in at all.
    let (status, body) = json_of(
        post(
            &app,
            "/auth/login",
            &[("origin", "https://evil.example")],
            &credentials,
        )
        .await,
    )
    .await;
    assert_eq!((status, rest_code(&body)), (403, "FORBIDDEN"));
}

const ENROLL_TOTP: &str = "mutation Enroll($password: String!) { enrollTotp(password: $password) { secret otpauthUri qrCodeSvg } }";
const CONFIRM_TOTP: &str = "mutation Confirm($code: String!) { confirmTotp(code: $code) }";
const DISABLE_TOTP: &str =
    "mutation DisableTotp($input: DisableTotpInput!) { disableTotp(input: $input) }";
const MFA_SETTINGS: &str = "{ me { mfa { totpEnabled otpChannel } } }";

/// The authenticator app's code for `secret` (base32), `ahead` seconds from now.
fn authenticator_code(secret: &str, ahead: u64) -> String {
    let secret = auth::mfa::totp::base32_decode(secret).expect("base32 secret");
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    auth::mfa::totp::totp_code(&secret, now + ahead)
}

#[tokio::test(flavor = "multi_thread")]
async fn authenticator_and_recovery_codes_complete_the_login_once_and_a_challenge_takes_five_guesses()
 {
    let app = TestApp::spawn().await;
    let employee = app.persona(Role::Employee).await;
    let token = employee.token.as_str();

    let data = gql_ok(
        &app,
        Some(token),
        ENROLL_TOTP,
        json!({ "password": employee.password }),
    )
    .await;
    let secret = text(&data, "/enrollTotp/secret");
    assert!(
        text(&data, "/enrollTotp/otpauthUri").starts_with("otpauth://totp/Fluxorae:"),
        "{data}"
    );
    assert!(text(&data, "/enrollTotp/qrCodeSvg").contains("<svg"));
    let body = gql_err(
        &app,
        Some(token),
        CONFIRM_TOTP,
        json!({ "code": "12345" }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["code"]);
    let confirmed_code = authenticator_code(&secret, 0);
    let data = gql_ok(
        &app,
        Some(token),
        CONFIRM_TOTP,
        json!({ "code": confirmed_code }),
    )
    .await;
    let recovery: Vec<String> = data["confirmTotp"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(|code| code.as_str().expect("code").to_owned())
        .collect();
    assert_eq!(recovery.len(), 10);
    assert_eq!(recovery.iter().collect::<BTreeSet<_>>().len(), 10);
    let settings = gql_ok(&app, Some(token), MFA_SETTINGS, json!({})).await;
    assert_eq!(settings["me"]["mfa"]["totpEnabled"], true);

    // REST: the password opens a TOTP challenge; the code used to confirm is spent.
    let (status, challenge) = rest_login(&app, &employee.email, &employee.password).await;
    assert_eq!(status, 200, "{challenge}");
    assert_eq!(challenge["mfaRequired"], true);
    assert_eq!(challenge["method"], "TOTP");
    let verify = |code: &str| json!({ "challengeId": challenge["challengeId"], "code": code });
    let (status, body) = rest(&app, "/auth/mfa/verify", None, verify(&confirmed_code)).await;
    assert_eq!(
        (status, rest_code(&body)),
        (401, "UNAUTHENTICATED"),
        "{body}"
    );
    let next_code = authenticator_code(&secret, 30);
    let (status, session) = rest(&app, "/auth/mfa/verify", None, verify(&next_code)).await;
    assert_eq!(status, 200, "{session}");
    assert_session_body(&session, &employee.email, "EMPLOYEE");

    // GraphQL: a recovery code, typed loosely, works once.
    let login = async || {
        let data = gql_ok(
            &app,
            None,
            LOGIN,
            json!({ "input": { "email": employee.email, "password": employee.password } }),
        )
        .await;
        assert_eq!(data["login"]["mfaRequired"], true, "{data}");
        assert_eq!(data["login"]["mfaChallenge"]["method"], "TOTP");
        text(&data, "/login/mfaChallenge/challengeId")
    };
    let challenge = login().await;
    let loose = recovery[0].replace('-', " ").to_lowercase();
    let data = gql_ok(
        &app,
        None,
        VERIFY_MFA,
        json!({ "id": challenge, "code": loose }),
    )
    .await;
    assert_eq!(
        data["verifyMfa"]["user"]["id"],
        employee.user_id.to_string()
    );

    // Five wrong answers exhaust a challenge, even for a valid code afterwards.
    let challenge = login().await;
    for wrong in [
        recovery[0].as_str(),
        next_code.as_str(),
        "not-a-code",
        "ZZZZZ-ZZZZZ",
        "",
    ] {
        gql_err(
            &app,
            None,
            VERIFY_MFA,
            json!({ "id": challenge, "code": wrong }),
            "UNAUTHENTICATED",
        )
        .await;
    }
    gql_err(
        &app,
        None,
        VERIFY_MFA,
        json!({ "id": challenge, "code": recovery[1] }),
        "UNAUTHENTICATED",
    )
    .await;
    // That recovery code was not spent by the exhausted challenge.
    let challenge = login().await;
    gql_ok(
        &app,
        None,
        VERIFY_MFA,
        json!({ "id": challenge, "code": recovery[1] }),
    )
    .await;

    // Turning the app off needs the password and a code; then the password suffices.
    let body = gql_err(
        &app,
        Some(token),
        DISABLE_TOTP,
        json!({ "input": { "password": OTHER_PASSWORD, "code": recovery[2] } }),
        "BAD_USER_INPUT",
    )
    .await;
    assert_eq!(gql_fields(&body), ["password"]);
    let data = gql_ok(
        &app,
        Some(token),
        DISABLE_TOTP,
        json!({ "input": { "password": employee.password, "code": recovery[2] } }),
    )
    .await;
    assert_eq!(data, json!({ "disableTotp": true }));
    let session = signed_in(&app, &employee.email, &employee.password).await;
    assert_session_body(&session, &employee.email, "EMPLOYEE");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_reset_and_invitation_links_are_refused() {
    use diesel_async::RunQueryDsl;

    let (smtp, app) = spawn_with_smtp().await;
    let admin = app.persona(Role::Admin).await;
    let (status, _) = rest(
        &app,
        "/auth/password-reset",
        None,
        json!({ "email": admin.email }),
    )
    .await;
    assert_eq!(status, 202);
    gql_ok(
        &app,
        Some(&admin.token),
        INVITE,
        json!({ "input": {
            "email": "late@fluxorae.test",
            "name": "Late Comer",
            "role": "EMPLOYEE",
            "organizationId": admin.organization_id.to_string(),
        }}),
    )
    .await;
    let mails = settled_mail(&app, &smtp, 2).await;
    let reset = mails
        .iter()
        .find(|mail| mail.to == admin.email)
        .map(|mail| link_token(mail, "/reset-password?token="))
        .expect("the reset email");
    let invitation = mails
        .iter()
        .find(|mail| mail.to == "late@fluxorae.test")
        .map(|mail| link_token(mail, "/accept-invitation?token="))
        .expect("the invitation email");

    let mut conn = app.db().await;
    let expired =
        diesel::sql_query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
            .execute(&mut conn)
            .await
            .expect("expire the links");
    assert_eq!(expired, 2);

    let (status, body) = rest(
        &app,
        "/auth/password-reset/confirm",
        None,
        json!({ "token": reset, "newPassword": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, rest_code(&body)),
        (400, "BAD_USER_INPUT"),
        "{body}"
    );
    gql_err(
        &app,
        None,
        ACCEPT,
        json!({ "input": { "token": invitation, "password": NEW_PASSWORD } }),
        "BAD_USER_INPUT",
    )
    .await;
    me(&app, &admin.token).await;
    signed_in(&app, &admin.email, &admin.password).await;
    let (status, _) = rest_login(&app, "late@fluxorae.test", NEW_PASSWORD).await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn partners_refer_client_organizations_that_then_appear_in_their_views() {
    let app = TestApp::spawn().await;
    let partner = app.persona(Role::Partner).await;
    let client = app.persona(Role::Client).await;
    let referred = app
        .graphql(
            Some(&partner.token),
            "mutation { referClientOrganization(input: { name: \"Zenith Foods Pvt Ltd\" }) { status organization { id kind referredByPartnerId } } }",
            json!({}),
        )
        .await;
    assert!(referred.get("errors").is_none(), "{referred}");
    assert_eq!(
        referred["data"]["referClientOrganization"]["status"],
        "APPROVED"
    );
    assert_eq!(
        referred["data"]["referClientOrganization"]["organization"]["kind"],
        "CLIENT"
    );
    assert_eq!(
        referred["data"]["referClientOrganization"]["organization"]["referredByPartnerId"],
        partner.organization_id.to_string()
    );
    let seen = app
        .graphql(
            Some(&partner.token),
            "{ organizations { totalCount edges { node { name } } } }",
            json!({}),
        )
        .await;
    assert_eq!(seen["data"]["organizations"]["totalCount"], 2);
    let refused = app
        .graphql(
            Some(&client.token),
            "mutation { referClientOrganization(input: { name: \"Other\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let duplicate = app
        .graphql(
            Some(&partner.token),
            "mutation { referClientOrganization(input: { name: \"zenith foods pvt ltd\" }) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(duplicate["errors"][0]["extensions"]["code"], "CONFLICT");
}

// ---- 6. known and unknown emails look alike -----------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn registering_a_known_email_answers_like_a_new_one_and_mails_the_existing_owner() {
    let (smtp, app) = spawn_with_smtp().await;
    let owner = app.persona(Role::Client).await;
    let registration = |email: &str, company: &str| {
        json!({
            "email": email,
            "password": NEW_PASSWORD,
            "name": "Meera Iyer",
            "companyName": company,
        })
    };
    let stranger = "meera@sunrise-textiles.test";

    // The same bytes come back whether or not the address has an account.
    let known = post(
        &app,
        "/auth/register",
        &[],
        &registration(&owner.email.to_uppercase(), "Another Company"),
    )
    .await;
    let known = (known.status().as_u16(), known.text().await.expect("body"));
    let unknown = post(
        &app,
        "/auth/register",
        &[],
        &registration(stranger, "Sunrise Textiles"),
    )
    .await;
    let unknown = (
        unknown.status().as_u16(),
        unknown.text().await.expect("body"),
    );
    assert_eq!(known, unknown);
    assert_eq!(known.0, 202, "{known:?}");
    let query = "mutation($input: RegisterInput!) { register(input: $input) }";
    let known_gql = app
        .post_graphql(
            None,
            query,
            json!({ "input": registration(&owner.email, "Third Company") }),
        )
        .await;
    let unknown_gql = app
        .post_graphql(
            None,
            query,
            json!({ "input": registration("kiran@meera-consulting.test", "Meera Consulting") }),
        )
        .await;
    assert_eq!(known_gql, unknown_gql);
    assert_eq!(known_gql, (200, json!({ "data": { "register": true } })));

    // Behind them: the owner hears that someone tried, the newcomers get links.
    let mails = settled_mail(&app, &smtp, 4).await;
    let to_owner: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|mail| mail.rcpt_to == [owner.email.as_str()])
        .collect();
    assert_eq!(to_owner.len(), 2, "{mails:#?}");
    for mail in &to_owner {
        assert_eq!(mail.subject, "Your Fluxorae account already exists");
        assert!(mail.text.contains("/login"), "{mail:#?}");
        assert!(
            !mail.text.contains("token="),
            "no link that creates anything: {mail:#?}"
        );
    }
    let to_stranger: Vec<&ReceivedMail> = mails
        .iter()
        .filter(|mail| mail.rcpt_to == [stranger])
        .collect();
    assert_eq!(to_stranger.len(), 1, "{mails:#?}");
    assert_eq!(to_stranger[0].subject, "Confirm your Fluxorae registration");
    let token = link_token(to_stranger[0], "/confirm-registration?token=");

    // The owner's account is as it was; nothing was created in their name.
    signed_in(&app, &owner.email, &owner.password).await;
    let (status, body) = rest_login(&app, &owner.email, NEW_PASSWORD).await;
    assert_eq!((status, rest_code(&body)), (401, "UNAUTHENTICATED"));
    assert_eq!(app.organization_named("Another Company").await, None);
    assert_eq!(app.organization_named("Third Company").await, None);

    // The newcomer's link finishes the registration and signs in.
    let (status, session) = rest(
        &app,
        "/auth/register/confirm",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!(status, 201, "{session}");
    assert_session_body(&session, stranger, "CLIENT");
    let me = me(&app, &text(&session, "/accessToken")).await;
    assert_eq!(me["organization"]["name"], "Sunrise Textiles");
    assert_eq!(me["name"], "Meera Iyer");
}

/// Rows per table (and outbox jobs per kind): what a request leaves behind.
async fn footprint(app: &TestApp) -> std::collections::BTreeMap<String, i64> {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let mut conn = app.db().await;
    let tables: Vec<Name> = diesel::sql_query(
        "SELECT table_name::text AS name FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
         AND table_name NOT LIKE '\\_\\_%'",
    )
    .load(&mut conn)
    .await
    .expect("tables");
    let mut rows = std::collections::BTreeMap::new();
    for table in tables {
        let count: Vec<Count> = diesel::sql_query(format!(
            "SELECT '{0}' AS name, count(*) AS n FROM \"{0}\"",
            table.name
        ))
        .load(&mut conn)
        .await
        .expect("count");
        rows.extend(count.into_iter().map(|row| (row.name, row.n)));
    }
    let jobs: Vec<Count> =
        diesel::sql_query("SELECT 'jobs:' || kind AS name, count(*) AS n FROM jobs GROUP BY kind")
            .load(&mut conn)
            .await
            .expect("jobs");
    rows.extend(jobs.into_iter().map(|row| (row.name, row.n)));
    rows
}

/// What changed between two footprints.
fn growth(
    before: &std::collections::BTreeMap<String, i64>,
    after: &std::collections::BTreeMap<String, i64>,
) -> std::collections::BTreeMap<String, i64> {
    after
        .iter()
        .map(|(name, n)| (name.clone(), n - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, n)| *n != 0)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn registration_and_reset_requests_do_the_same_work_for_known_and_unknown_emails() {
    // No worker: what each request itself wrote stays visible.
    let app = TestApp::spawn_with(|config| config.outbox_enabled = false).await;
    let owner = app.persona(Role::Client).await;
    let register = |email: &str, company: &str| {
        json!({ "input": {
            "email": email,
            "password": NEW_PASSWORD,
            "name": "Meera Iyer",
            "companyName": company,
        }})
    };
    let cases: [(&str, &str, Value, Value); 2] = [
        (
            "requestPasswordReset",
            REQUEST_RESET,
            json!({ "email": owner.email }),
            json!({ "email": "nobody-here@example.test" }),
        ),
        (
            "register",
            "mutation($input: RegisterInput!) { register(input: $input) }",
            register(&owner.email, "Another Company"),
            register("nobody-yet@example.test", "Sunrise Textiles"),
        ),
    ];
    for (what, query, known, unknown) in cases {
        // A first request from this address opens its rate-limit windows.
        let mut warm_up = unknown.clone();
        if let Some(input) = warm_up.get_mut("input") {
            input["email"] = json!("warm-up@example.test");
            input["companyName"] = json!("Warm Up Ltd");
        } else {
            warm_up["email"] = json!("warm-up@example.test");
        }
        app.post_graphql(None, query, warm_up).await;

        let start = footprint(&app).await;
        let known_answer = app.post_graphql(None, query, known).await;
        let after_known = footprint(&app).await;
        let unknown_answer = app.post_graphql(None, query, unknown).await;
        let after_unknown = footprint(&app).await;
        assert_eq!(known_answer, unknown_answer, "{what}");
        assert_eq!(
            growth(&start, &after_known),
            growth(&after_known, &after_unknown),
            "{what}: the known email's request wrote other rows than the unknown one's"
        );
    }
}

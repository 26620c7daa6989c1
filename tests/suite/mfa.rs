//! Second factors end to end: TOTP enrolment, login challenges on GraphQL and
//! REST, replay and attempt limits, recovery codes, turning TOTP off, and
//! one-time codes by email (real SMTP) and SMS (Twilio and MSG91 stand-ins
//! that record exactly what the server sends).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use auth::config::SmsSettings;
use auth::mfa::totp::{RECOVERY_ALPHABET, STEP_SECONDS, base32_decode, base32_encode, totp_code};
use diesel_async::RunQueryDsl;
use fluxorae_tests::mail::SmtpServer;
use fluxorae_tests::{Persona, TestApp};
use kernel::Role;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::auth_security::{
    Reply, base64_standard, error_code, gql, graphql_login, me, post_json, rest_login, unix_now,
    wait_for_fresh_window,
};

const VERIFY: &str = "mutation($input: VerifyMfaInput!) { verifyMfa(input: $input) \
     { accessToken refreshToken tokenType sessionId user { id } } }";

const PHONE: &str = "+919812345678";

/// The TOTP code of time step `step`.
fn code_at(secret: &[u8], step: u64) -> String {
    totp_code(secret, step * STEP_SECONDS)
}

fn current_step() -> u64 {
    unix_now() / STEP_SECONDS
}

/// Six digits that are not the code of any step near now.
fn wrong_code(secret: &[u8]) -> String {
    let now = current_step();
    let near: Vec<String> = (now - 3..=now + 3)
        .map(|step| code_at(secret, step))
        .collect();
    (0u32..)
        .map(|n| format!("{:06}", n * 7))
        .find(|code| !near.contains(code))
        .expect("a wrong code")
}

/// An enrolled authenticator: its secret, the step its confirmation code
/// used (so the next usable code is `confirmed_step + 1`), and the recovery codes.
struct Authenticator {
    secret: Vec<u8>,
    confirmed_step: u64,
    recovery_codes: Vec<String>,
}

impl Authenticator {
    /// A code the server has not seen yet (it accepts one step of clock skew).
    fn next_code(&self) -> String {
        code_at(&self.secret, self.confirmed_step + 1)
    }
}

async fn enroll(app: &TestApp, persona: &Persona) -> Authenticator {
    let enrolled = gql(
        app,
        Some(&persona.token),
        &[],
        "mutation($password: String!) { enrollTotp(password: $password) \
         { secret otpauthUri qrCodeSvg } }",
        json!({ "password": persona.password }),
    )
    .await;
    let node = &enrolled.body["data"]["enrollTotp"];
    let secret_text = node["secret"].as_str().expect("secret").to_string();
    let secret = base32_decode(&secret_text).expect("base32 secret");
    assert_eq!(secret.len(), 20, "{secret_text}");
    let uri = node["otpauthUri"].as_str().expect("otpauth URI");
    assert!(uri.starts_with("otpauth://totp/Fluxorae:"), "{uri}");
    assert!(uri.contains(&format!("secret={secret_text}&")), "{uri}");
    assert!(uri.contains("issuer=Fluxorae"), "{uri}");
    let svg = node["qrCodeSvg"].as_str().expect("QR code");
    assert!(svg.contains("<svg"), "{svg}");

    let step = current_step();
    let confirmed = gql(
        app,
        Some(&persona.token),
        &[],
        "mutation($code: String!) { confirmTotp(code: $code) }",
        json!({ "code": code_at(&secret, step) }),
    )
    .await;
    let recovery_codes: Vec<String> = confirmed.body["data"]["confirmTotp"]
        .as_array()
        .unwrap_or_else(|| panic!("recovery codes in {:?}", confirmed.body))
        .iter()
        .map(|code| code.as_str().expect("code").to_string())
        .collect();
    Authenticator {
        secret,
        confirmed_step: step,
        recovery_codes,
    }
}

/// GraphQL login that must answer an MFA challenge; returns its id.
async fn challenge(app: &TestApp, persona: &Persona, method: &str) -> String {
    let reply = graphql_login(app, &[], &persona.email, &persona.password).await;
    let login = &reply.body["data"]["login"];
    assert_eq!(login["mfaRequired"], true, "{:?}", reply.body);
    assert_eq!(login["accessToken"], Value::Null);
    assert_eq!(login["refreshToken"], Value::Null);
    assert_eq!(login["user"], Value::Null);
    assert_eq!(login["mfaChallenge"]["method"], method);
    login["mfaChallenge"]["challengeId"]
        .as_str()
        .expect("challenge id")
        .to_string()
}

async fn verify(app: &TestApp, challenge_id: &str, code: &str) -> Reply {
    gql(
        app,
        None,
        &[],
        VERIFY,
        json!({ "input": { "challengeId": challenge_id, "code": code } }),
    )
    .await
}

/// Verifies and expects a signed-in session of `persona`; returns the access token.
async fn verify_ok(app: &TestApp, persona: &Persona, challenge_id: &str, code: &str) -> String {
    let reply = verify(app, challenge_id, code).await;
    let payload = &reply.body["data"]["verifyMfa"];
    let token = payload["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("code {code:?} refused: {:?}", reply.body))
        .to_string();
    assert_eq!(payload["tokenType"], "Bearer");
    assert!(payload["refreshToken"].is_string());
    assert_eq!(payload["user"]["id"], json!(persona.user_id));
    assert_eq!(
        me(app, &token).await,
        (200, Some(persona.user_id.to_string()))
    );
    token
}

async fn verify_refused(app: &TestApp, challenge_id: &str, code: &str, label: &str) {
    let reply = verify(app, challenge_id, code).await;
    assert_eq!(reply.status, 200, "{label}");
    assert_eq!(
        error_code(&reply.body),
        Some("UNAUTHENTICATED"),
        "{label}: {:?}",
        reply.body
    );
    assert_eq!(
        reply.body["errors"][0]["message"], "The code is not valid",
        "{label}"
    );
    assert_eq!(reply.body["data"], Value::Null, "{label}");
}

async fn mfa_settings(app: &TestApp, token: &str) -> Value {
    gql(
        app,
        Some(token),
        &[],
        "{ me { phone mfa { totpEnabled otpChannel } } }",
        json!({}),
    )
    .await
    .body["data"]["me"]
        .clone()
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

async fn count(app: &TestApp, sql: &str, id: uuid::Uuid) -> i64 {
    let mut conn = app.db().await;
    let row: Count = diesel::sql_query(sql)
        .bind::<diesel::sql_types::Uuid, _>(id)
        .get_result(&mut conn)
        .await
        .expect("count");
    row.n
}

// ---- TOTP ------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn totp_enrolment_makes_login_answer_a_challenge_that_the_code_completes() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Employee).await;

    // Enrolment is not in force until confirmed.
    let enrolled = gql(
        &app,
        Some(&persona.token),
        &[],
        "mutation($password: String!) { enrollTotp(password: $password) { secret } }",
        json!({ "password": persona.password }),
    )
    .await;
    let secret = base32_decode(
        enrolled.body["data"]["enrollTotp"]["secret"]
            .as_str()
            .expect("secret"),
    )
    .expect("base32");
    let plain = graphql_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(plain.body["data"]["login"]["mfaRequired"], false);
    assert!(plain.body["data"]["login"]["accessToken"].is_string());
    let wrong = gql(
        &app,
        Some(&persona.token),
        &[],
        "mutation($code: String!) { confirmTotp(code: $code) }",
        json!({ "code": wrong_code(&secret) }),
    )
    .await;
    assert_eq!(error_code(&wrong.body), Some("BAD_USER_INPUT"));
    assert_eq!(
        wrong.body["errors"][0]["extensions"]["fields"][0]["field"],
        "code"
    );

    // A fresh enrolment (new secret) confirmed with a computed code.
    let totp = enroll(&app, &persona).await;
    assert_ne!(totp.secret, secret, "every enrolment has a new secret");
    assert_eq!(totp.recovery_codes.len(), 10);
    let mut distinct = totp.recovery_codes.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 10, "{:?}", totp.recovery_codes);
    for code in &totp.recovery_codes {
        let (left, right) = code.split_once('-').expect("XXXXX-XXXXX");
        assert_eq!((left.len(), right.len()), (5, 5), "{code}");
        assert!(
            left.bytes()
                .chain(right.bytes())
                .all(|b| RECOVERY_ALPHABET.contains(&b)),
            "{code}"
        );
    }
    assert_eq!(
        mfa_settings(&app, &persona.token).await["mfa"],
        json!({ "totpEnabled": true, "otpChannel": null })
    );
    let again = gql(
        &app,
        Some(&persona.token),
        &[],
        "mutation($code: String!) { confirmTotp(code: $code) }",
        json!({ "code": totp.next_code() }),
    )
    .await;
    assert_eq!(error_code(&again.body), Some("CONFLICT"));

    // GraphQL: a challenge instead of tokens, completed by the code.
    let challenge_id = challenge(&app, &persona, "TOTP").await;
    verify_ok(&app, &persona, &challenge_id, &totp.next_code()).await;

    // REST: the same, in its own shape.
    let rest = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(rest.status, 200, "{:?}", rest.body);
    assert_eq!(rest.body["mfaRequired"], true);
    assert_eq!(rest.body["method"], "TOTP");
    assert!(rest.body.get("accessToken").is_none(), "{:?}", rest.body);
    assert!(rest.body.get("refreshToken").is_none(), "{:?}", rest.body);
    let rest_challenge = rest.body["challengeId"].as_str().expect("challengeId");
    uuid::Uuid::parse_str(rest_challenge).expect("challenge id is a uuid");
    let verified = post_json(
        &app,
        "/auth/mfa/verify",
        &[],
        &json!({ "challengeId": rest_challenge, "code": totp.recovery_codes[0] }),
    )
    .await;
    assert_eq!(verified.status, 200, "{:?}", verified.body);
    assert_eq!(verified.body["user"]["id"], json!(persona.user_id));
    assert!(verified.body["refreshToken"].is_string());
    let token = verified.body["accessToken"].as_str().expect("access token");
    assert_eq!(me(&app, token).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_totp_code_is_accepted_only_once() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Client).await;
    let totp = enroll(&app, &persona).await;

    let first = challenge(&app, &persona, "TOTP").await;
    verify_ok(&app, &persona, &first, &totp.next_code()).await;

    let second = challenge(&app, &persona, "TOTP").await;
    verify_refused(&app, &second, &totp.next_code(), "the code just used").await;
    verify_refused(
        &app,
        &second,
        &code_at(&totp.secret, totp.confirmed_step),
        "the confirmation code",
    )
    .await;
    // The challenge itself is still usable with a factor not used before.
    verify_ok(&app, &persona, &second, &totp.recovery_codes[0]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_codes_count_and_the_challenge_dies_after_the_maximum_attempts() {
    let app = TestApp::spawn_with(|config| config.domains.auth.otp_max_attempts = 3).await;
    let persona = app.persona(Role::Client).await;
    let totp = enroll(&app, &persona).await;

    let doomed = challenge(&app, &persona, "TOTP").await;
    let doomed_id = uuid::Uuid::parse_str(&doomed).expect("uuid");
    for attempt in 1..=3 {
        verify_refused(&app, &doomed, &wrong_code(&totp.secret), "a wrong code").await;
        let attempts = count(
            &app,
            "SELECT attempts::bigint AS n FROM mfa_challenges WHERE id = $1",
            doomed_id,
        )
        .await;
        assert_eq!(attempts, attempt);
    }
    // Out of attempts: even a right code and a recovery code are refused.
    verify_refused(
        &app,
        &doomed,
        &totp.next_code(),
        "a right code after 3 failures",
    )
    .await;
    verify_refused(
        &app,
        &doomed,
        &totp.recovery_codes[0],
        "a recovery code after 3 failures",
    )
    .await;

    // Those codes were right and not spent: a new challenge takes them.
    let fresh = challenge(&app, &persona, "TOTP").await;
    verify_ok(&app, &persona, &fresh, &totp.next_code()).await;
    let fresh = challenge(&app, &persona, "TOTP").await;
    verify_ok(&app, &persona, &fresh, &totp.recovery_codes[0]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_code_works_once_and_a_challenge_is_single_use() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Client).await;
    let totp = enroll(&app, &persona).await;
    let codes = &totp.recovery_codes;

    let first = challenge(&app, &persona, "TOTP").await;
    verify_ok(&app, &persona, &first, &codes[0]).await;
    // The completed challenge takes nothing more, and does not spend what it is offered.
    verify_refused(&app, &first, &codes[1], "a second code on a used challenge").await;

    let second = challenge(&app, &persona, "TOTP").await;
    verify_refused(&app, &second, &codes[0], "a used recovery code").await;
    // Typed in lower case without the dash, a fresh code still counts.
    let typed = codes[1].replace('-', "").to_lowercase();
    verify_ok(&app, &persona, &second, &typed).await;

    let third = challenge(&app, &persona, "TOTP").await;
    verify_refused(
        &app,
        &third,
        &codes[1],
        "a recovery code used in another form",
    )
    .await;
    verify_ok(&app, &persona, &third, &codes[2]).await;

    let used = count(
        &app,
        "SELECT count(*) AS n FROM recovery_codes WHERE user_id = $1 AND used_at IS NOT NULL",
        persona.user_id,
    )
    .await;
    assert_eq!(used, 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn turning_totp_off_needs_the_password_and_a_current_code() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Employee).await;
    let totp = enroll(&app, &persona).await;
    const DISABLE: &str = "mutation($input: DisableTotpInput!) { disableTotp(input: $input) }";
    let attempt = |password: String, code: String| {
        let app = &app;
        let token = persona.token.clone();
        async move {
            gql(
                app,
                Some(&token),
                &[],
                DISABLE,
                json!({ "input": { "password": password, "code": code } }),
            )
            .await
        }
    };

    let reply = attempt("Wrong Password 4242".into(), totp.next_code()).await;
    assert_eq!(
        error_code(&reply.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        reply.body
    );
    assert_eq!(
        reply.body["errors"][0]["extensions"]["fields"][0]["field"],
        "password"
    );
    let reply = attempt(persona.password.clone(), wrong_code(&totp.secret)).await;
    assert_eq!(
        error_code(&reply.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        reply.body
    );
    assert_eq!(
        reply.body["errors"][0]["extensions"]["fields"][0]["field"],
        "code"
    );
    let anonymous = gql(
        &app,
        None,
        &[],
        DISABLE,
        json!({ "input": { "password": persona.password, "code": totp.next_code() } }),
    )
    .await;
    assert_eq!(error_code(&anonymous.body), Some("UNAUTHENTICATED"));
    // Nothing changed.
    assert_eq!(
        mfa_settings(&app, &persona.token).await["mfa"]["totpEnabled"],
        true
    );
    challenge(&app, &persona, "TOTP").await;

    let reply = attempt(persona.password.clone(), totp.next_code()).await;
    assert_eq!(reply.body, json!({ "data": { "disableTotp": true } }));
    assert_eq!(
        mfa_settings(&app, &persona.token).await["mfa"]["totpEnabled"],
        false
    );
    let plain = graphql_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(plain.body["data"]["login"]["mfaRequired"], false);
    assert!(plain.body["data"]["login"]["accessToken"].is_string());
    let left = count(
        &app,
        "SELECT count(*) AS n FROM recovery_codes WHERE user_id = $1",
        persona.user_id,
    )
    .await;
    assert_eq!(left, 0, "recovery codes are removed with the factor");
    let reply = attempt(persona.password.clone(), totp.recovery_codes[0].clone()).await;
    assert_eq!(error_code(&reply.body), Some("CONFLICT"));
}

// ---- one-time codes by email and SMS ------------------------------------------------

const SET_CHANNEL: &str = "mutation($input: SetOtpChannelInput!) { setOtpChannel(input: $input) \
     { phone mfa { totpEnabled otpChannel } } }";

/// The six digits after `prefix` in `text`.
fn code_after(text: &str, prefix: &str) -> String {
    let start = text
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} in {text:?}"))
        + prefix.len();
    let code: String = text[start..].chars().take(6).collect();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}"
    );
    code
}

#[tokio::test(flavor = "multi_thread")]
async fn an_email_code_is_sent_once_over_smtp_and_completes_the_login() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::spawn_with(move |config| config.mail_url = url).await;
    let persona = app.persona(Role::Client).await;

    let refused = gql(
        &app,
        Some(&persona.token),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": "EMAIL", "password": "Wrong Password 4242" } }),
    )
    .await;
    assert_eq!(error_code(&refused.body), Some("BAD_USER_INPUT"));
    assert_eq!(
        refused.body["errors"][0]["extensions"]["fields"][0]["field"],
        "password"
    );
    let set = gql(
        &app,
        Some(&persona.token),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": "EMAIL", "password": persona.password } }),
    )
    .await;
    assert_eq!(
        set.body["data"]["setOtpChannel"]["mfa"],
        json!({ "totpEnabled": false, "otpChannel": "EMAIL" }),
        "{:?}",
        set.body
    );
    app.drain_outbox().await;
    assert!(smtp.messages().is_empty(), "{:?}", smtp.messages());

    let challenge_id = challenge(&app, &persona, "EMAIL").await;
    app.drain_outbox().await;
    let messages = smtp.wait_for(1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.messages().len(), 1, "{:?}", smtp.messages());
    let mail = &messages[0];
    assert_eq!(mail.rcpt_to, vec![persona.email.clone()]);
    assert_eq!(mail.to, persona.email);
    assert_eq!(mail.subject, "Your Fluxorae sign-in code");
    let code = code_after(&mail.text, "Your sign-in code is ");
    assert!(
        mail.text.contains(&format!(
            "Your sign-in code is {code}. It expires in 10 minutes."
        )),
        "{}",
        mail.text
    );

    verify_ok(&app, &persona, &challenge_id, &code).await;
    verify_refused(&app, &challenge_id, &code, "the same code again").await;
    app.drain_outbox().await;
    assert_eq!(smtp.messages().len(), 1, "no further email");
}

/// One HTTP request as the provider stand-in received it.
#[derive(Debug, Clone)]
struct Captured {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }

    fn query(&self) -> Vec<(String, String)> {
        self.target
            .split_once('?')
            .map(|(_, query)| decode_pairs(query))
            .unwrap_or_default()
    }

    fn body_text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }
}

/// `a=1&b=2`, decoded as a provider would (`+` is a space, `%XX` a byte).
fn decode_pairs(encoded: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(encoded.as_bytes())
        .into_owned()
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(key, value)| ((*key).to_string(), (*value).to_string()))
        .collect()
}

/// A provider stand-in on 127.0.0.1 that records every request and answers
/// each with a fixed status and JSON body. A plain TCP listener: the tests
/// crate has no HTTP server dependency.
struct StandIn {
    base_url: String,
    captured: Arc<Mutex<Vec<Captured>>>,
    task: tokio::task::JoinHandle<()>,
}

impl StandIn {
    async fn start(status_line: &'static str, reply: &'static str) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stand-in");
        let addr = listener.local_addr().expect("addr");
        let captured = Arc::new(Mutex::new(Vec::new()));
        let store = Arc::clone(&captured);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(serve_one(stream, store, status_line, reply));
            }
        });
        StandIn {
            base_url: format!("http://{addr}"),
            captured,
            task,
        }
    }

    fn requests(&self) -> Vec<Captured> {
        self.captured.lock().expect("lock").clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve_one(
    mut stream: tokio::net::TcpStream,
    store: Arc<Mutex<Vec<Captured>>>,
    status_line: &'static str,
    reply: &'static str,
) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_string();
    let target = request_line.next().unwrap_or_default().to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    assert!(
        !headers.iter().any(|(name, _)| name == "transfer-encoding"),
        "the stand-in reads Content-Length bodies only: {headers:?}"
    );
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .map_or(0, |(_, value)| value.parse().expect("Content-Length"));
    let mut body = buffer[head_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    store.lock().expect("lock").push(Captured {
        method,
        target,
        headers,
        body,
    });
    let response = format!(
        "HTTP/1.1 {status_line}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{reply}",
        reply.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// Switches `persona` to SMS codes at [`PHONE`].
async fn use_sms(app: &TestApp, persona: &Persona) {
    let set = gql(
        app,
        Some(&persona.token),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": "SMS", "phone": PHONE, "password": persona.password } }),
    )
    .await;
    assert_eq!(
        set.body["data"]["setOtpChannel"],
        json!({ "phone": PHONE, "mfa": { "totpEnabled": false, "otpChannel": "SMS" } }),
        "{:?}",
        set.body
    );
}

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
const TWILIO_TOKEN: &str = "twilio-test-auth-token";
const TWILIO_FROM: &str = "+15005550006";

#[tokio::test(flavor = "multi_thread")]
async fn an_sms_code_through_twilio_is_the_documented_request_and_completes_the_login() {
    let twilio = StandIn::start("201 Created", r#"{"sid":"SM0001","status":"queued"}"#).await;
    let base_url = twilio.base_url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.domains.auth.sms = SmsSettings::Twilio {
            account_sid: TWILIO_SID.into(),
            auth_token: TWILIO_TOKEN.into(),
            from: TWILIO_FROM.into(),
            base_url: Some(base_url),
        };
    })
    .await;
    let persona = app.persona(Role::Client).await;
    use_sms(&app, &persona).await;
    assert!(twilio.requests().is_empty());

    let challenge_id = challenge(&app, &persona, "SMS").await;
    let requests = twilio.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.path(),
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    assert!(request.query().is_empty());
    assert_eq!(
        request.header("authorization"),
        Some(
            format!(
                "Basic {}",
                base64_standard(format!("{TWILIO_SID}:{TWILIO_TOKEN}").as_bytes())
            )
            .as_str()
        )
    );
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    // A literal `+` would reach Twilio as a space.
    assert!(
        request.body_text().starts_with("To=%2B919812345678&"),
        "{}",
        request.body_text()
    );
    let form = decode_pairs(request.body_text());
    let code = code_after(&form[2].1, "Your Fluxorae sign-in code is ");
    let body = format!("Your Fluxorae sign-in code is {code}. It expires in 10 minutes.");
    assert_eq!(
        form,
        pairs(&[("To", PHONE), ("From", TWILIO_FROM), ("Body", &body)])
    );

    verify_ok(&app, &persona, &challenge_id, &code).await;
    assert_eq!(twilio.requests().len(), 1, "one code, one message");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_sms_code_through_msg91_carries_the_dlt_ids_and_completes_the_login() {
    let msg91 = StandIn::start("200 OK", r#"{"type":"success","request_id":"3563"}"#).await;
    let base_url = msg91.base_url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.domains.auth.sms = SmsSettings::Msg91 {
            auth_key: "msg91-test-auth-key".into(),
            template_id: "64f0c0ffee".into(),
            dlt_entity_id: Some("1201159876543210987".into()),
            dlt_template_id: Some("1207161234567890123".into()),
            base_url: Some(base_url),
        };
    })
    .await;
    let persona = app.persona(Role::Client).await;
    use_sms(&app, &persona).await;
    assert!(msg91.requests().is_empty());

    let challenge_id = challenge(&app, &persona, "SMS").await;
    let requests = msg91.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path(), "/api/v5/otp");
    let query = request.query();
    assert_eq!(query.len(), 3, "{query:?}");
    let code = query[2].1.clone();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{code}"
    );
    assert_eq!(
        query,
        pairs(&[
            ("template_id", "64f0c0ffee"),
            ("mobile", "919812345678"),
            ("otp", &code)
        ])
    );
    assert_eq!(request.header("authkey"), Some("msg91-test-auth-key"));
    assert_eq!(request.header("authorization"), None);
    assert_eq!(request.header("content-type"), Some("application/json"));
    let body: Value = serde_json::from_slice(&request.body).expect("JSON body");
    assert_eq!(
        body,
        json!({ "DLT_TE_ID": "1207161234567890123", "PE_ID": "1201159876543210987" })
    );

    verify_ok(&app, &persona, &challenge_id, &code).await;
    assert_eq!(msg91.requests().len(), 1, "one code, one message");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_account_gets_a_bounded_number_of_code_checks_an_hour_across_challenges() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Employee).await;
    let authenticator = enroll(&app, &persona).await;
    let wrong = wrong_code(&authenticator.secret);
    // Five wrong codes end a challenge; new challenges keep counting.
    let mut refused = 0;
    let mut limited = false;
    for _ in 0..8 {
        let challenge_id = challenge(&app, &persona, "TOTP").await;
        for _ in 0..5 {
            let reply = verify(&app, &challenge_id, &wrong).await;
            match error_code(&reply.body) {
                Some("UNAUTHENTICATED") => refused += 1,
                Some("RATE_LIMITED") => {
                    limited = true;
                    break;
                }
                other => panic!("unexpected answer {other:?}: {:?}", reply.body),
            }
        }
        if limited {
            break;
        }
    }
    assert!(limited, "no limit after {refused} wrong codes");
    assert_eq!(refused, 30, "thirty code checks an hour, then RATE_LIMITED");
}

// ---- changing second factors ----------------------------------------------------------

/// A number the victim does not own.
const ATTACKER_PHONE: &str = "+919800000666";

const ENROLL_WITH_PASSWORD: &str =
    "mutation($password: String!) { enrollTotp(password: $password) { secret } }";

#[tokio::test(flavor = "multi_thread")]
async fn thirty_aliased_password_guesses_on_set_otp_channel_spend_the_accounts_password_budget() {
    let app = TestApp::spawn_with(|config| {
        let limits = &mut config.domains.auth.rate_limits;
        limits.login_failures_per_account_per_hour = 10;
        // Only the hourly cap is in play, so the bound is exact.
        limits.lockout_after_failures = 10_000;
    })
    .await;
    let victim = app.persona(Role::Client).await;
    wait_for_fresh_window(3600, 60).await;

    // A stolen access token, and thirty guesses in one request.
    let guesses: String = (0..30)
        .map(|i| {
            format!(
                "g{i}: setOtpChannel(input: {{ channel: SMS, phone: \"{ATTACKER_PHONE}\", \
                 password: \"Guess {i:02} Wrong Pass\" }}) {{ id }} "
            )
        })
        .collect();
    let reply = gql(
        &app,
        Some(&victim.token),
        &[],
        &format!("mutation {{ {guesses} }}"),
        json!({}),
    )
    .await;
    let errors = reply.body["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("errors in {:?}", reply.body));
    let codes: Vec<&str> = errors
        .iter()
        .map(|error| error["extensions"]["code"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(codes.len(), 30, "{:?}", reply.body);
    let checked = codes
        .iter()
        .filter(|code| **code == "BAD_USER_INPUT")
        .count();
    let limited = codes.iter().filter(|code| **code == "RATE_LIMITED").count();
    assert_eq!(checked + limited, 30, "{codes:?}");
    assert!(checked <= 10, "{checked} guesses were checked: {codes:?}");

    // The budget is spent for every check of this password, here and at login.
    let right = gql(
        &app,
        Some(&victim.token),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": "SMS", "phone": ATTACKER_PHONE, "password": victim.password } }),
    )
    .await;
    assert_eq!(
        error_code(&right.body),
        Some("RATE_LIMITED"),
        "{:?}",
        right.body
    );
    let enrol = gql(
        &app,
        Some(&victim.token),
        &[],
        ENROLL_WITH_PASSWORD,
        json!({ "password": "Another Wrong Guess 11" }),
    )
    .await;
    assert_eq!(
        error_code(&enrol.body),
        Some("RATE_LIMITED"),
        "{:?}",
        enrol.body
    );
    let login = graphql_login(&app, &[], &victim.email, &victim.password).await;
    assert_eq!(
        error_code(&login.body),
        Some("RATE_LIMITED"),
        "{:?}",
        login.body
    );
    assert_eq!(
        mfa_settings(&app, &victim.token).await,
        json!({ "phone": null, "mfa": { "totpEnabled": false, "otpChannel": null } })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stolen_token_and_the_password_cannot_move_or_remove_the_sms_factor() {
    let twilio = StandIn::start("201 Created", r#"{"sid":"SM0001","status":"queued"}"#).await;
    let base_url = twilio.base_url.clone();
    let app = TestApp::spawn_with(move |config| {
        config.domains.auth.sms = SmsSettings::Twilio {
            account_sid: TWILIO_SID.into(),
            auth_token: TWILIO_TOKEN.into(),
            from: TWILIO_FROM.into(),
            base_url: Some(base_url),
        };
    })
    .await;
    let victim = app.persona(Role::Client).await;
    // The first factor needs the password only.
    use_sms(&app, &victim).await;

    // The attacker has the victim's access token, whose session never passed
    // the SMS code, and the password.
    let stolen = victim.token.clone();
    let without_code = [
        (
            "moving codes to the attacker's phone",
            json!({ "channel": "SMS", "phone": ATTACKER_PHONE, "password": victim.password }),
        ),
        (
            "turning codes off",
            json!({ "channel": null, "password": victim.password }),
        ),
        (
            "switching codes to email",
            json!({ "channel": "EMAIL", "password": victim.password }),
        ),
    ];
    for (label, input) in without_code {
        let reply = gql(
            &app,
            Some(&stolen),
            &[],
            SET_CHANNEL,
            json!({ "input": input }),
        )
        .await;
        assert_eq!(
            error_code(&reply.body),
            Some("FORBIDDEN"),
            "{label}: {:?}",
            reply.body
        );
    }
    let guessed = gql(
        &app,
        Some(&stolen),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": null, "password": victim.password, "code": "123456" } }),
    )
    .await;
    assert_eq!(
        error_code(&guessed.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        guessed.body
    );
    assert_eq!(
        guessed.body["errors"][0]["extensions"]["fields"][0]["field"],
        "code"
    );
    // An authenticator app would replace the SMS codes: the same holds.
    let enrolled = gql(
        &app,
        Some(&stolen),
        &[],
        ENROLL_WITH_PASSWORD,
        json!({ "password": victim.password }),
    )
    .await;
    assert_eq!(
        error_code(&enrolled.body),
        Some("FORBIDDEN"),
        "{:?}",
        enrolled.body
    );
    assert_eq!(
        mfa_settings(&app, &stolen).await,
        json!({ "phone": PHONE, "mfa": { "totpEnabled": false, "otpChannel": "SMS" } })
    );

    // The owner signs in afresh with the code sent to the phone, and may change it.
    let challenge_id = challenge(&app, &victim, "SMS").await;
    let requests = twilio.requests();
    assert_eq!(requests.len(), 1, "{requests:#?}");
    let form = decode_pairs(requests[0].body_text());
    let code = code_after(&form[2].1, "Your Fluxorae sign-in code is ");
    let fresh = verify_ok(&app, &victim, &challenge_id, &code).await;
    let moved = gql(
        &app,
        Some(&fresh),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": "EMAIL", "password": victim.password } }),
    )
    .await;
    assert_eq!(
        moved.body["data"]["setOtpChannel"]["mfa"],
        json!({ "totpEnabled": false, "otpChannel": "EMAIL" }),
        "{:?}",
        moved.body
    );
    // A sign-in stays fresh for ten minutes only.
    let sid = fresh_session_id(&app, &fresh).await;
    let mut conn = app.db().await;
    diesel::sql_query(
        "UPDATE sessions SET second_factor_at = now() - interval '11 minutes' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(sid)
    .execute(&mut conn)
    .await
    .expect("age the sign-in");
    let late = gql(
        &app,
        Some(&fresh),
        &[],
        SET_CHANNEL,
        json!({ "input": { "channel": null, "password": victim.password } }),
    )
    .await;
    assert_eq!(error_code(&late.body), Some("FORBIDDEN"), "{:?}", late.body);
    assert_eq!(
        mfa_settings(&app, &fresh).await["mfa"]["otpChannel"],
        "EMAIL"
    );
}

/// The session id of the signed-in caller behind `token`.
async fn fresh_session_id(app: &TestApp, token: &str) -> uuid::Uuid {
    let reply = gql(
        app,
        Some(token),
        &[],
        "{ me { sessions { id current } } }",
        json!({}),
    )
    .await;
    let sessions = reply.body["data"]["me"]["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("sessions in {:?}", reply.body));
    let current = sessions
        .iter()
        .find(|session| session["current"] == true)
        .unwrap_or_else(|| panic!("a current session in {sessions:?}"));
    uuid::Uuid::parse_str(current["id"].as_str().expect("id")).expect("uuid")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_totp_user_changes_login_codes_only_with_a_current_code() {
    let app = TestApp::spawn().await;
    let victim = app.persona(Role::Employee).await;
    let totp = enroll(&app, &victim).await;
    let change = |code: Option<String>| {
        let mut input = json!({ "channel": "EMAIL", "password": victim.password });
        if let Some(code) = code {
            input["code"] = json!(code);
        }
        let app = &app;
        let token = victim.token.clone();
        async move {
            gql(
                app,
                Some(&token),
                &[],
                SET_CHANNEL,
                json!({ "input": input }),
            )
            .await
        }
    };

    let reply = change(None).await;
    assert_eq!(
        error_code(&reply.body),
        Some("FORBIDDEN"),
        "{:?}",
        reply.body
    );
    let reply = change(Some(wrong_code(&totp.secret))).await;
    assert_eq!(
        error_code(&reply.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        reply.body
    );
    assert_eq!(
        reply.body["errors"][0]["extensions"]["fields"][0]["field"],
        "code"
    );
    assert_eq!(
        mfa_settings(&app, &victim.token).await["mfa"],
        json!({ "totpEnabled": true, "otpChannel": null })
    );
    let reply = change(Some(totp.next_code())).await;
    assert_eq!(
        reply.body["data"]["setOtpChannel"]["mfa"],
        json!({ "totpEnabled": true, "otpChannel": "EMAIL" }),
        "{:?}",
        reply.body
    );
    // The code is spent.
    let reply = change(Some(totp.next_code())).await;
    assert_eq!(
        error_code(&reply.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        reply.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn enrolling_an_authenticator_needs_the_password() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Client).await;

    let bare = gql(
        &app,
        Some(&persona.token),
        &[],
        "mutation { enrollTotp { secret } }",
        json!({}),
    )
    .await;
    assert!(
        bare.body["data"]["enrollTotp"]["secret"].is_null(),
        "a secret without the password: {:?}",
        bare.body
    );
    assert!(bare.body["errors"].is_array(), "{:?}", bare.body);
    let wrong = gql(
        &app,
        Some(&persona.token),
        &[],
        ENROLL_WITH_PASSWORD,
        json!({ "password": "Wrong Password 4242" }),
    )
    .await;
    assert_eq!(
        error_code(&wrong.body),
        Some("BAD_USER_INPUT"),
        "{:?}",
        wrong.body
    );
    assert_eq!(
        wrong.body["errors"][0]["extensions"]["fields"][0]["field"],
        "password"
    );
    let right = gql(
        &app,
        Some(&persona.token),
        &[],
        ENROLL_WITH_PASSWORD,
        json!({ "password": persona.password }),
    )
    .await;
    assert!(
        right.body["data"]["enrollTotp"]["secret"].is_string(),
        "{:?}",
        right.body
    );
}
// ---- TOTP secrets at rest -----------------------------------------------------------------

#[derive(diesel::QueryableByName)]
struct StoredSecret {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    totp_secret: Option<String>,
}

/// `users.totp_secret` as stored.
async fn stored_totp_secret(app: &TestApp, user_id: uuid::Uuid) -> Option<String> {
    let mut conn = app.db().await;
    let row: StoredSecret = diesel::sql_query("SELECT totp_secret FROM users WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(user_id)
        .get_result(&mut conn)
        .await
        .expect("read the stored secret");
    row.totp_secret
}

impl Authenticator {
    /// The step of a code the server has not seen yet, for as late as now,
    /// after `used` (the last step already accepted, if later than the confirmation).
    fn unused_step(&self, used: Option<u64>) -> u64 {
        let last = used.unwrap_or(self.confirmed_step).max(self.confirmed_step);
        current_step().max(last + 1)
    }

    /// A code the server has not seen yet, for as late as now.
    fn code_now(&self) -> String {
        code_at(&self.secret, self.unused_step(None))
    }

    /// A code after `used` that the server accepts now (it takes one step
    /// ahead at most), waiting for the clock when `used` is that far ahead.
    async fn unused_code(&self, used: Option<u64>) -> String {
        loop {
            let step = self.unused_step(used);
            if step <= current_step() + 1 {
                return code_at(&self.secret, step);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn totp_key(kid: &str, byte: u8) -> auth::config::SecretKey {
    auth::config::SecretKey {
        kid: kid.into(),
        key: [byte; 32],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_secrets_are_stored_encrypted_and_still_verify() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Employee).await;
    let totp = enroll(&app, &persona).await;

    let stored = stored_totp_secret(&app, persona.user_id)
        .await
        .expect("a stored secret");
    let plain = base32_encode(&totp.secret);
    assert!(
        !stored.to_uppercase().contains(&plain),
        "the secret is stored readable: {stored}"
    );
    assert_ne!(
        base32_decode(&stored),
        Some(totp.secret.clone()),
        "{stored}"
    );
    let challenge_id = challenge(&app, &persona, "TOTP").await;
    verify_ok(&app, &persona, &challenge_id, &totp.code_now()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_keys_rotate_and_plain_secrets_are_encrypted_when_a_server_starts() {
    let app = TestApp::spawn_with(|config| {
        config.domains.auth.totp_keys = vec![totp_key("2026-11", 1)];
        config.domains.auth.totp_active_kid = "2026-11".into();
    })
    .await;
    let sealed_user = app.persona(Role::Employee).await;
    let sealed_totp = enroll(&app, &sealed_user).await;
    let legacy_user = app.persona(Role::Client).await;
    let legacy_totp = enroll(&app, &legacy_user).await;
    // A row from before secrets were encrypted: plain base32.
    let plain = base32_encode(&legacy_totp.secret);
    let mut conn = app.db().await;
    diesel::sql_query("UPDATE users SET totp_secret = $1 WHERE id = $2")
        .bind::<diesel::sql_types::Text, _>(&plain)
        .bind::<diesel::sql_types::Uuid, _>(legacy_user.user_id)
        .execute(&mut conn)
        .await
        .expect("store a plain secret");
    let sealed_before = stored_totp_secret(&app, sealed_user.user_id).await;
    // Plain rows are still read.
    let challenge_id = challenge(&app, &legacy_user, "TOTP").await;
    let legacy_step = legacy_totp.unused_step(None);
    let code = code_at(&legacy_totp.secret, legacy_step);
    verify_ok(&app, &legacy_user, &challenge_id, &code).await;

    // A server with a new current key that still lists the old one re-encrypts
    // every secret with the new key when it starts.
    let _rotated = app
        .spawn_alongside(|config| {
            config.domains.auth.totp_keys = vec![totp_key("2026-12", 2), totp_key("2026-11", 1)];
            config.domains.auth.totp_active_kid = "2026-12".into();
        })
        .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let sealed = stored_totp_secret(&app, sealed_user.user_id).await;
        let legacy = stored_totp_secret(&app, legacy_user.user_id).await;
        if sealed != sealed_before && legacy.as_deref() != Some(plain.as_str()) {
            let legacy = legacy.expect("a stored secret");
            assert!(!legacy.to_uppercase().contains(&plain), "{legacy}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "secrets not re-encrypted: {sealed:?}, {legacy:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A server that knows only the new key reads both.
    let newest = app
        .spawn_alongside(|config| {
            config.domains.auth.totp_keys = vec![totp_key("2026-12", 2)];
            config.domains.auth.totp_active_kid = "2026-12".into();
        })
        .await;
    for (persona, totp, used) in [
        (&sealed_user, &sealed_totp, None),
        (&legacy_user, &legacy_totp, Some(legacy_step)),
    ] {
        let challenge_id = challenge(&newest, persona, "TOTP").await;
        let code = totp.unused_code(used).await;
        verify_ok(&newest, persona, &challenge_id, &code).await;
    }
}

//! Security of sign-in: access tokens (forged, foreign, expired, malformed),
//! revoked sessions, answers that do not reveal accounts, refresh-token reuse,
//! rate limits and lockouts shared by every instance, and the cookie session's
//! CSRF defences.
//!
//! The tests crate has no JWT or hashing dependency, so this module carries a
//! small SHA-256/SHA-512, HMAC and base64 implementation (checked against
//! reference vectors below) to forge tokens with the server's real key.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fluxorae_tests::{Persona, TestApp};
use kernel::Role;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

// ---- helpers shared with mfa.rs and audit_log.rs --------------------------

/// The answer to one HTTP request.
#[derive(Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            match serde_json::from_str(&text) {
                Ok(json) => json,
                Err(_) => Value::String(text),
            }
        };
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Values of every `Set-Cookie` header.
    pub(crate) fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().expect("ascii cookie").to_string())
            .collect()
    }
}

/// POSTs a JSON body to `path` with extra headers.
pub(crate) async fn post_json(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    body: &Value,
) -> Reply {
    let mut request = app
        .http
        .post(app.url(path))
        .header("content-type", "application/json")
        .body(body.to_string());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    Reply::read(request.send().await.expect("send")).await
}

/// Runs a GraphQL operation with an optional bearer token and extra headers.
pub(crate) async fn gql(
    app: &TestApp,
    token: Option<&str>,
    headers: &[(&str, &str)],
    query: &str,
    variables: Value,
) -> Reply {
    let authorization = token.map(|token| format!("Bearer {token}"));
    let mut all: Vec<(&str, &str)> = headers.to_vec();
    if let Some(authorization) = authorization.as_deref() {
        all.push(("authorization", authorization));
    }
    post_json(
        app,
        "/graphql",
        &all,
        &json!({ "query": query, "variables": variables }),
    )
    .await
}

/// The `extensions.code` of the first GraphQL error, if any.
pub(crate) fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

pub(crate) const LOGIN: &str = "mutation($input: LoginInput!) { login(input: $input) { \
     accessToken refreshToken expiresIn mfaRequired mfaChallenge { challengeId method } \
     user { id email } } }";

/// The GraphQL `login` mutation.
pub(crate) async fn graphql_login(
    app: &TestApp,
    headers: &[(&str, &str)],
    email: &str,
    password: &str,
) -> Reply {
    gql(
        app,
        None,
        headers,
        LOGIN,
        json!({ "input": { "email": email, "password": password } }),
    )
    .await
}

/// `POST /auth/login` as a script (no `Origin`).
pub(crate) async fn rest_login(
    app: &TestApp,
    headers: &[(&str, &str)],
    email: &str,
    password: &str,
) -> Reply {
    post_json(
        app,
        "/auth/login",
        headers,
        &json!({ "email": email, "password": password }),
    )
    .await
}

/// `{ me { id } }` with the token: the status and the id when signed in.
pub(crate) async fn me(app: &TestApp, token: &str) -> (u16, Option<String>) {
    let reply = gql(app, Some(token), &[], "{ me { id } }", json!({})).await;
    let id = reply.body["data"]["me"]["id"].as_str().map(str::to_string);
    (reply.status, id)
}

/// Asserts that a request was refused as `UNAUTHENTICATED` at the transport:
/// HTTP 401, no `data`, and a `WWW-Authenticate: Bearer` challenge.
pub(crate) fn assert_http_unauthenticated(reply: &Reply, label: &str) {
    assert_eq!(reply.status, 401, "{label}: {:?}", reply.body);
    assert_eq!(
        error_code(&reply.body),
        Some("UNAUTHENTICATED"),
        "{label}: {:?}",
        reply.body
    );
    assert!(
        reply.body.get("data").is_none(),
        "{label}: {:?}",
        reply.body
    );
    let challenge = reply
        .headers
        .get("www-authenticate")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    assert!(challenge.starts_with("Bearer"), "{label}: {challenge:?}");
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
}

/// Fixed-window counters restart at multiples of the window: when fewer than
/// `needed` seconds are left in the current window, waits for the next one,
/// so a test's attempts all land in one window.
pub(crate) async fn wait_for_fresh_window(window_secs: u64, needed_secs: u64) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970");
    let window = Duration::from_secs(window_secs);
    let into = Duration::from_nanos((now.as_nanos() % window.as_nanos()) as u64);
    let left = window - into;
    if left < Duration::from_secs(needed_secs) {
        tokio::time::sleep(left + Duration::from_millis(250)).await;
    }
}

// ---- SHA-2, HMAC and base64 ------------------------------------------------

/// SHA-512 round constants (FIPS 180-4); the SHA-256 ones are their upper halves.
const K512: [u64; 80] = [
    0x428a2f98d728ae22,
    0x7137449123ef65cd,
    0xb5c0fbcfec4d3b2f,
    0xe9b5dba58189dbbc,
    0x3956c25bf348b538,
    0x59f111f1b605d019,
    0x923f82a4af194f9b,
    0xab1c5ed5da6d8118,
    0xd807aa98a3030242,
    0x12835b0145706fbe,
    0x243185be4ee4b28c,
    0x550c7dc3d5ffb4e2,
    0x72be5d74f27b896f,
    0x80deb1fe3b1696b1,
    0x9bdc06a725c71235,
    0xc19bf174cf692694,
    0xe49b69c19ef14ad2,
    0xefbe4786384f25e3,
    0x0fc19dc68b8cd5b5,
    0x240ca1cc77ac9c65,
    0x2de92c6f592b0275,
    0x4a7484aa6ea6e483,
    0x5cb0a9dcbd41fbd4,
    0x76f988da831153b5,
    0x983e5152ee66dfab,
    0xa831c66d2db43210,
    0xb00327c898fb213f,
    0xbf597fc7beef0ee4,
    0xc6e00bf33da88fc2,
    0xd5a79147930aa725,
    0x06ca6351e003826f,
    0x142929670a0e6e70,
    0x27b70a8546d22ffc,
    0x2e1b21385c26c926,
    0x4d2c6dfc5ac42aed,
    0x53380d139d95b3df,
    0x650a73548baf63de,
    0x766a0abb3c77b2a8,
    0x81c2c92e47edaee6,
    0x92722c851482353b,
    0xa2bfe8a14cf10364,
    0xa81a664bbc423001,
    0xc24b8b70d0f89791,
    0xc76c51a30654be30,
    0xd192e819d6ef5218,
    0xd69906245565a910,
    0xf40e35855771202a,
    0x106aa07032bbd1b8,
    0x19a4c116b8d2d0c8,
    0x1e376c085141ab53,
    0x2748774cdf8eeb99,
    0x34b0bcb5e19b48a8,
    0x391c0cb3c5c95a63,
    0x4ed8aa4ae3418acb,
    0x5b9cca4f7763e373,
    0x682e6ff3d6b2b8a3,
    0x748f82ee5defb2fc,
    0x78a5636f43172f60,
    0x84c87814a1f0ab72,
    0x8cc702081a6439ec,
    0x90befffa23631e28,
    0xa4506cebde82bde9,
    0xbef9a3f7b2c67915,
    0xc67178f2e372532b,
    0xca273eceea26619c,
    0xd186b8c721c0c207,
    0xeada7dd6cde0eb1e,
    0xf57d4f7fee6ed178,
    0x06f067aa72176fba,
    0x0a637dc5a2c898a6,
    0x113f9804bef90dae,
    0x1b710b35131c471b,
    0x28db77f523047d84,
    0x32caab7b40c72493,
    0x3c9ebe0a15c9bebc,
    0x431d67c49c100d4c,
    0x4cc5d4becb3e42b6,
    0x597f299cfc657e2a,
    0x5fcb6fab3ad6faec,
    0x6c44198c4a475817,
];

/// SHA-512 initial state; the SHA-256 one is its upper halves.
const H512: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

fn sha256(data: &[u8]) -> Vec<u8> {
    let k: [u32; 64] = std::array::from_fn(|i| (K512[i] >> 32) as u32);
    let mut state: [u32; 8] = std::array::from_fn(|i| (H512[i] >> 32) as u32);
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (slot, word) in w.iter_mut().zip(block.chunks_exact(4)) {
            *slot = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = state;
        for (ki, wi) in k.iter().zip(w) {
            let [a, b, c, d, e, f, g, h] = v;
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let choice = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(choice)
                .wrapping_add(*ki)
                .wrapping_add(wi);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(majority);
            v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
        }
        for (x, y) in state.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    state.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn sha512(data: &[u8]) -> Vec<u8> {
    let mut state = H512;
    let mut message = data.to_vec();
    message.push(0x80);
    while message.len() % 128 != 112 {
        message.push(0);
    }
    message.extend_from_slice(&((data.len() as u128) * 8).to_be_bytes());
    for block in message.chunks_exact(128) {
        let mut w = [0u64; 80];
        for (slot, word) in w.iter_mut().zip(block.chunks_exact(8)) {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            *slot = u64::from_be_bytes(bytes);
        }
        for i in 16..80 {
            let s0 = w[i - 15].rotate_right(1) ^ w[i - 15].rotate_right(8) ^ (w[i - 15] >> 7);
            let s1 = w[i - 2].rotate_right(19) ^ w[i - 2].rotate_right(61) ^ (w[i - 2] >> 6);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = state;
        for (ki, wi) in K512.iter().zip(w) {
            let [a, b, c, d, e, f, g, h] = v;
            let s1 = e.rotate_right(14) ^ e.rotate_right(18) ^ e.rotate_right(41);
            let choice = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(choice)
                .wrapping_add(*ki)
                .wrapping_add(wi);
            let s0 = a.rotate_right(28) ^ a.rotate_right(34) ^ a.rotate_right(39);
            let majority = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(majority);
            v = [t1.wrapping_add(t2), a, b, c, d.wrapping_add(t1), e, f, g];
        }
        for (x, y) in state.iter_mut().zip(v) {
            *x = x.wrapping_add(y);
        }
    }
    state.iter().flat_map(|x| x.to_be_bytes()).collect()
}

fn hmac(hash: fn(&[u8]) -> Vec<u8>, block_len: usize, key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut key = if key.len() > block_len {
        hash(key)
    } else {
        key.to_vec()
    };
    key.resize(block_len, 0);
    let inner: Vec<u8> = key
        .iter()
        .map(|byte| byte ^ 0x36)
        .chain(message.iter().copied())
        .collect();
    let outer: Vec<u8> = key
        .iter()
        .map(|byte| byte ^ 0x5c)
        .chain(hash(&inner))
        .collect();
    hash(&outer)
}

const BASE64_STANDARD: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn base64_with(alphabet: &[u8; 64], pad: bool, data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let byte = |i: usize| u32::from(chunk.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(alphabet[((n >> (18 - 6 * i)) & 63) as usize]));
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 with padding (HTTP basic auth).
pub(crate) fn base64_standard(data: &[u8]) -> String {
    base64_with(BASE64_STANDARD, true, data)
}

/// URL-safe base64 without padding (JWT segments).
pub(crate) fn base64url(data: &[u8]) -> String {
    base64_with(BASE64_URL, false, data)
}

fn base64url_decode(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for c in text.bytes() {
        let value = BASE64_URL
            .iter()
            .position(|&a| a == c)
            .expect("base64url character") as u32;
        buffer = (buffer << 6) | value;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    out
}

// ---- JWT forgery -----------------------------------------------------------

#[derive(Clone, Copy)]
enum Alg {
    Hs256,
    Hs512,
}

/// A JWT with the given header and claims, signed with `key`.
fn sign_jwt(header: &Value, claims: &Value, alg: Alg, key: &[u8]) -> String {
    let input = format!(
        "{}.{}",
        base64url(header.to_string().as_bytes()),
        base64url(claims.to_string().as_bytes())
    );
    let signature = match alg {
        Alg::Hs256 => hmac(sha256, 64, key, input.as_bytes()),
        Alg::Hs512 => hmac(sha512, 128, key, input.as_bytes()),
    };
    format!("{input}.{}", base64url(&signature))
}

/// The claims of a token, decoded without checking anything.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT has a payload");
    serde_json::from_slice(&base64url_decode(payload)).expect("JSON claims")
}

/// The server's active key id and secret.
fn server_key(app: &TestApp) -> (String, Vec<u8>) {
    let auth = &app.state.config.domains.auth;
    let key = auth
        .signing_keys
        .iter()
        .find(|key| key.kid == auth.active_kid)
        .expect("active signing key");
    (key.kid.clone(), key.secret.clone())
}

/// Claims of `persona`'s real session, valid from now for ten minutes.
fn fresh_claims(persona: &Persona) -> Value {
    let mut claims = claims_of(&persona.token);
    let now = unix_now() as i64;
    claims["iat"] = json!(now);
    claims["nbf"] = json!(now);
    claims["exp"] = json!(now + 600);
    claims
}

#[test]
fn sha2_hmac_and_base64_helpers_match_reference_vectors() {
    for text in [
        "",
        "abc",
        "a somewhat longer text that spans more than one block of sixty-four bytes, surely",
    ] {
        assert_eq!(
            sha256(text.as_bytes()),
            auth::tokens::hash_token(text),
            "{text:?}"
        );
    }
    assert_eq!(
        hex::encode(sha512(b"abc")),
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
         2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    );
    let (key, data) = (
        b"Jefe".as_slice(),
        b"what do ya want for nothing?".as_slice(),
    );
    assert_eq!(
        hex::encode(hmac(sha256, 64, key, data)),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hex::encode(hmac(sha512, 128, key, data)),
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
         9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    );
    let (long_key, long_data) = ([b'k'; 200], [b'm'; 300]);
    assert_eq!(
        hex::encode(hmac(sha512, 128, &long_key, &long_data)),
        "162c578b0b960f0798f43dc8c757c4e3e2ca118a8b339c9fea4a6c796e7bcc3d\
         a99b4d1ae58e1fdb8a361660562257f0b9a506defa8c74de63fd202ba8d8246b"
    );
    assert_eq!(
        hex::encode(hmac(sha256, 64, &long_key, &long_data)),
        "b232c078380bb17bdc3d4d4359919b99f2239f80e1dfd5c773c5c4a64b1b81a0"
    );
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(1_700_000_000), "2023-11-14T22:13:20Z");
    assert_eq!(base64_standard(b"user:pass"), "dXNlcjpwYXNz");
    assert_eq!(base64_standard(b"ab"), "YWI=");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    assert_eq!(base64url_decode("-_8"), vec![0xfb, 0xff]);
}

// ---- tokens ------------------------------------------------------------------

/// Sends `{ me { id } }` with a raw `Authorization` header value.
async fn me_with_authorization(app: &TestApp, authorization: &str) -> Reply {
    post_json(
        app,
        "/graphql",
        &[("authorization", authorization)],
        &json!({ "query": "{ me { id } }" }),
    )
    .await
}

/// Opens a graphql-transport-ws connection and sends `connection_init` with
/// the raw authorization value; the close code, or 0 when acknowledged.
async fn ws_init_close_code(app: &TestApp, authorization: &str) -> u16 {
    let mut ws = app.ws("graphql-transport-ws").await;
    ws.send(json!({ "type": "connection_init", "payload": { "authorization": authorization } }))
        .await;
    match ws.next_event().await {
        fluxorae_tests::WsEvent::Closed(code, _) => code,
        fluxorae_tests::WsEvent::Json(message) => {
            assert_eq!(message, json!({ "type": "connection_ack" }));
            0
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn forged_foreign_expired_and_malformed_tokens_are_refused_on_http_and_websocket() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Employee).await;
    let other = app.persona(Role::Client).await;
    let (kid, secret) = server_key(&app);
    let header = json!({ "alg": "HS256", "typ": "JWT", "kid": kid });
    let now = unix_now() as i64;

    // Control: a token made here with the server's key is accepted, so every
    // refusal below is due to the one thing each token gets wrong.
    let control = sign_jwt(&header, &fresh_claims(&persona), Alg::Hs256, &secret);
    let (status, id) = me(&app, &control).await;
    assert_eq!(status, 200);
    assert_eq!(id, Some(persona.user_id.to_string()));
    assert_eq!(
        ws_init_close_code(&app, &format!("Bearer {control}")).await,
        0
    );

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = fresh_claims(&persona);
        change(&mut claims);
        claims
    };
    let valid_payload = control.split('.').nth(1).expect("payload").to_string();
    let other_claims = with(&|claims| claims["sub"] = json!(other.user_id.to_string()));
    let swapped_payload = format!(
        "{}.{}.{}",
        control.split('.').next().expect("header"),
        base64url(other_claims.to_string().as_bytes()),
        control.split('.').nth(2).expect("signature"),
    );
    let bad_tokens: Vec<(&str, String)> = vec![
        (
            "signed with another secret",
            sign_jwt(
                &header,
                &fresh_claims(&persona),
                Alg::Hs256,
                b"not the server's secret, but 32+ bytes long",
            ),
        ),
        (
            "signed by a foreign AccessTokens with the same kid",
            auth::tokens::AccessTokens::new(&auth::config::AuthConfig::with_key(
                &kid,
                vec![42; 32],
            ))
            .expect("keys")
            .issue(
                persona.user_id,
                claims_sid(&persona),
                rfc3339(now).parse().expect("a time"),
            )
            .expect("issue")
            .0,
        ),
        ("claims swapped under a valid signature", swapped_payload),
        (
            "unknown kid",
            sign_jwt(
                &json!({ "alg": "HS256", "typ": "JWT", "kid": "retired-key" }),
                &fresh_claims(&persona),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "no kid",
            sign_jwt(
                &json!({ "alg": "HS256", "typ": "JWT" }),
                &fresh_claims(&persona),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "alg none",
            format!(
                "{}.{valid_payload}.",
                base64url(
                    json!({ "alg": "none", "typ": "JWT", "kid": kid })
                        .to_string()
                        .as_bytes()
                )
            ),
        ),
        (
            "alg HS512 with the server's key",
            sign_jwt(
                &json!({ "alg": "HS512", "typ": "JWT", "kid": kid }),
                &fresh_claims(&persona),
                Alg::Hs512,
                &secret,
            ),
        ),
        (
            "expired a minute ago",
            sign_jwt(
                &header,
                &with(&|claims| {
                    claims["iat"] = json!(now - 960);
                    claims["nbf"] = json!(now - 960);
                    claims["exp"] = json!(now - 60);
                }),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "not valid before an hour from now",
            sign_jwt(
                &header,
                &with(&|claims| {
                    claims["iat"] = json!(now + 3600);
                    claims["nbf"] = json!(now + 3600);
                    claims["exp"] = json!(now + 4500);
                }),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "another issuer",
            sign_jwt(
                &header,
                &with(&|claims| claims["iss"] = json!("someone-else")),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "for another audience",
            sign_jwt(
                &header,
                &with(&|claims| claims["aud"] = json!("fluxorae-billing-worker")),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "without an audience",
            sign_jwt(
                &header,
                &with(&|claims| {
                    claims.as_object_mut().expect("claims object").remove("aud");
                }),
                Alg::Hs256,
                &secret,
            ),
        ),
        (
            "without exp",
            sign_jwt(
                &header,
                &with(&|claims| {
                    claims.as_object_mut().expect("claims object").remove("exp");
                }),
                Alg::Hs256,
                &secret,
            ),
        ),
        ("garbage", "garbage".to_string()),
        ("three garbage segments", "a.b.c".to_string()),
    ];
    let mut authorizations: Vec<(String, String)> = bad_tokens
        .iter()
        .map(|(label, token)| ((*label).to_string(), format!("Bearer {token}")))
        .collect();
    for (label, value) in [
        ("a valid token without the Bearer scheme", control.clone()),
        (
            "a valid token under the Token scheme",
            format!("Token {control}"),
        ),
        ("basic credentials", "Basic dXNlcjpwYXNz".to_string()),
        ("Bearer without a token", "Bearer".to_string()),
    ] {
        authorizations.push((label.to_string(), value));
    }

    for (label, authorization) in &authorizations {
        let reply = me_with_authorization(&app, authorization).await;
        assert_http_unauthenticated(&reply, label);
        assert_eq!(
            ws_init_close_code(&app, authorization).await,
            fluxorae::ws::close_code::FORBIDDEN,
            "{label}"
        );
    }
    // The control token still works: nothing above was refused for being sent after it.
    assert_eq!(me(&app, &control).await.0, 200);
}

/// The session id in a persona's token.
fn claims_sid(persona: &Persona) -> uuid::Uuid {
    let sid = claims_of(&persona.token)["sid"]
        .as_str()
        .expect("sid")
        .to_string();
    uuid::Uuid::parse_str(&sid).expect("sid is a uuid")
}

/// `unix` seconds as RFC 3339 (UTC), which parses into the server's clock type.
pub(crate) fn rfc3339(unix: i64) -> String {
    let (days, seconds) = (unix.div_euclid(86_400), unix.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_valid_token_of_a_revoked_session_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Client).await;
    assert_eq!(me(&app, &persona.token).await.0, 200);

    // A second session, revoked from the first.
    let second = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(second.status, 200, "{:?}", second.body);
    let second_token = second.body["accessToken"].as_str().expect("token");
    let second_session = second.body["sessionId"].as_str().expect("session id");
    assert_eq!(me(&app, second_token).await.0, 200);
    let revoked = gql(
        &app,
        Some(&persona.token),
        &[],
        "mutation($id: ID!) { revokeSession(sessionId: $id) }",
        json!({ "id": second_session }),
    )
    .await;
    assert_eq!(revoked.body, json!({ "data": { "revokeSession": true } }));
    assert_http_unauthenticated(
        &me_with_authorization(&app, &format!("Bearer {second_token}")).await,
        "revoked session",
    );

    // The first session signs itself out.
    let logout = gql(
        &app,
        Some(&persona.token),
        &[],
        "mutation { logout }",
        json!({}),
    )
    .await;
    assert_eq!(logout.body, json!({ "data": { "logout": true } }));
    assert_http_unauthenticated(
        &me_with_authorization(&app, &format!("Bearer {}", persona.token)).await,
        "logged-out session",
    );
    assert_eq!(
        ws_init_close_code(&app, &format!("Bearer {}", persona.token)).await,
        fluxorae::ws::close_code::FORBIDDEN
    );
    // Its refresh token died with it.
    let refresh = post_json(
        &app,
        "/auth/refresh",
        &[],
        &json!({ "refreshToken": persona.refresh_token }),
    )
    .await;
    assert_eq!(refresh.status, 401);
    assert_eq!(refresh.body["error"]["code"], "UNAUTHENTICATED");
}

// ---- answers that do not reveal accounts -----------------------------------

const WRONG_PASSWORD: &str = "Wrong Password 4242";

fn unknown_email() -> String {
    format!("nobody-{}@example.test", uuid::Uuid::new_v4().simple())
}

#[tokio::test(flavor = "multi_thread")]
async fn login_answers_alike_for_unknown_accounts_wrong_passwords_and_disabled_accounts() {
    let app = TestApp::spawn().await;
    let admin = app.persona(Role::Admin).await;
    let known = app.persona(Role::Client).await;
    let disabled = app.persona_in(Role::Client, Some("Other Org")).await;
    let off = gql(
        &app,
        Some(&admin.token),
        &[],
        "mutation($id: ID!) { disableUser(userId: $id) { status } }",
        json!({ "id": disabled.user_id }),
    )
    .await;
    assert_eq!(
        off.body,
        json!({ "data": { "disableUser": { "status": "DISABLED" } } })
    );
    let unknown = unknown_email();
    let lookalikes = [
        (
            "known account, wrong password",
            known.email.clone(),
            WRONG_PASSWORD.to_string(),
        ),
        (
            "known account in upper case, wrong password",
            known.email.to_uppercase(),
            WRONG_PASSWORD.to_string(),
        ),
        (
            "disabled account, right password",
            disabled.email.clone(),
            disabled.password.clone(),
        ),
    ];

    let reference = graphql_login(&app, &[], &unknown, WRONG_PASSWORD).await;
    assert_eq!(reference.status, 200);
    assert_eq!(error_code(&reference.body), Some("UNAUTHENTICATED"));
    assert_eq!(
        reference.body["errors"][0]["message"],
        "Email or password is incorrect"
    );
    assert_eq!(reference.body["data"], Value::Null);
    for (label, email, password) in &lookalikes {
        let reply = graphql_login(&app, &[], email, password).await;
        assert_eq!(
            (reply.status, &reply.body),
            (reference.status, &reference.body),
            "GraphQL, {label}"
        );
    }

    let reference = rest_login(&app, &[], &unknown, WRONG_PASSWORD).await;
    assert_eq!(reference.status, 401);
    assert_eq!(
        reference.body,
        json!({ "error": { "code": "UNAUTHENTICATED", "message": "Email or password is incorrect" } })
    );
    for (label, email, password) in &lookalikes {
        let reply = rest_login(&app, &[], email, password).await;
        assert_eq!(
            (reply.status, &reply.body),
            (reference.status, &reference.body),
            "REST, {label}"
        );
    }

    // The refusals were about the password: the right one signs in.
    let signed = rest_login(&app, &[], &known.email, &known.password).await;
    assert_eq!(signed.status, 200, "{:?}", signed.body);
    assert_eq!(signed.body["user"]["id"], json!(known.user_id));
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}

/// Password reset emails queued for `to`.
async fn reset_emails_to(app: &TestApp, to: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    app.drain_outbox().await;
    let mut conn = app.db().await;
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM jobs WHERE kind = 'mail.send' \
         AND payload->>'to' = $1 AND payload->>'subject' = 'Reset your Fluxorae password'",
    )
    .bind::<diesel::sql_types::Text, _>(to)
    .get_result(&mut conn)
    .await
    .expect("count reset emails");
    count.n
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_requests_answer_alike_whether_or_not_the_account_exists() {
    let app = TestApp::spawn().await;
    let known = app.persona(Role::Client).await;
    let unknown = unknown_email();
    wait_for_fresh_window(3600, 60).await;
    const REQUEST: &str =
        "mutation($email: String!) { requestPasswordReset(input: { email: $email }) }";
    for email in [&known.email, &unknown] {
        let reply = gql(&app, None, &[], REQUEST, json!({ "email": email })).await;
        assert_eq!(reply.status, 200, "{email}");
        assert_eq!(
            reply.body,
            json!({ "data": { "requestPasswordReset": true } }),
            "{email}"
        );
        let rest = post_json(
            &app,
            "/auth/password-reset",
            &[],
            &json!({ "email": email }),
        )
        .await;
        assert_eq!(
            (rest.status, &rest.body),
            (202, &json!({ "ok": true })),
            "{email}"
        );
    }
    // Over the account's hourly budget (5), requests are dropped quietly:
    // answering RATE_LIMITED would tell that the account exists.
    for _ in 0..4 {
        let rest = post_json(
            &app,
            "/auth/password-reset",
            &[],
            &json!({ "email": known.email }),
        )
        .await;
        assert_eq!((rest.status, &rest.body), (202, &json!({ "ok": true })));
    }
    // Behind the identical answers, only the real account got emails.
    assert_eq!(reset_emails_to(&app, &known.email).await, 5);
    assert_eq!(reset_emails_to(&app, &unknown).await, 0);
}

// ---- refresh tokens ------------------------------------------------------------

const REFRESH: &str = "mutation($token: String!) { refreshSession(input: { refreshToken: $token }) \
     { accessToken refreshToken sessionId } }";

#[tokio::test(flavor = "multi_thread")]
async fn reusing_a_rotated_refresh_token_signs_the_whole_session_out() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Client).await;
    let elsewhere = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(elsewhere.status, 200);

    let rotated = gql(
        &app,
        None,
        &[],
        REFRESH,
        json!({ "token": persona.refresh_token }),
    )
    .await;
    let payload = &rotated.body["data"]["refreshSession"];
    let access = payload["accessToken"].as_str().expect("access token");
    let refresh = payload["refreshToken"].as_str().expect("refresh token");
    assert_ne!(refresh, persona.refresh_token);
    assert_eq!(payload["sessionId"], json!(claims_sid(&persona)));
    assert_eq!(
        me(&app, access).await,
        (200, Some(persona.user_id.to_string()))
    );

    // The stolen (already rotated) token comes back.
    let replay = gql(
        &app,
        None,
        &[],
        REFRESH,
        json!({ "token": persona.refresh_token }),
    )
    .await;
    assert_eq!(error_code(&replay.body), Some("UNAUTHENTICATED"));
    assert_eq!(
        replay.body["errors"][0]["message"],
        "This refresh token was already used; the session has been signed out"
    );
    assert_eq!(replay.body["data"], Value::Null);

    // The whole family is dead: the newest refresh token and every access token.
    let next = gql(&app, None, &[], REFRESH, json!({ "token": refresh })).await;
    assert_eq!(error_code(&next.body), Some("UNAUTHENTICATED"));
    assert_eq!(
        next.body["errors"][0]["message"],
        "Invalid or expired refresh token"
    );
    assert_http_unauthenticated(
        &me_with_authorization(&app, &format!("Bearer {access}")).await,
        "access token of the rotated session",
    );
    assert_http_unauthenticated(
        &me_with_authorization(&app, &format!("Bearer {}", persona.token)).await,
        "first access token of the session",
    );

    // Another session of the same user is not affected.
    let other_access = elsewhere.body["accessToken"].as_str().expect("token");
    assert_eq!(me(&app, other_access).await.0, 200);
    let other_refresh = post_json(
        &app,
        "/auth/refresh",
        &[],
        &json!({ "refreshToken": elsewhere.body["refreshToken"] }),
    )
    .await;
    assert_eq!(other_refresh.status, 200, "{:?}", other_refresh.body);
}

// ---- rate limits and lockout ----------------------------------------------------

fn retry_after_header(reply: &Reply) -> u64 {
    reply
        .headers
        .get("retry-after")
        .expect("a Retry-After header")
        .to_str()
        .expect("ascii")
        .parse()
        .expect("whole seconds")
}

fn graphql_retry_after(reply: &Reply) -> u64 {
    reply.body["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap_or_else(|| panic!("retryAfterSeconds in {:?}", reply.body))
}

fn seconds_left_in_window(window: u64) -> u64 {
    window - unix_now() % window
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_budget_per_ip_is_shared_by_instances_and_answers_429_with_retry_after() {
    let app =
        TestApp::spawn_with(|config| config.domains.auth.rate_limits.login_per_ip_per_minute = 3)
            .await;
    let second = app.spawn_alongside(|_| {}).await;
    let persona = app.persona(Role::Client).await;
    let ghost = unknown_email();
    wait_for_fresh_window(60, 20).await;

    // Three attempts spread over both instances and both APIs.
    assert_eq!(
        rest_login(&app, &[], &ghost, WRONG_PASSWORD).await.status,
        401
    );
    let reply = graphql_login(&second, &[], &ghost, WRONG_PASSWORD).await;
    assert_eq!(error_code(&reply.body), Some("UNAUTHENTICATED"));
    let reply = graphql_login(&app, &[], &ghost, WRONG_PASSWORD).await;
    assert_eq!(error_code(&reply.body), Some("UNAUTHENTICATED"));

    // The fourth is refused even with the right password, on REST ...
    let limited = rest_login(&second, &[], &persona.email, &persona.password).await;
    assert_eq!(limited.status, 429, "{:?}", limited.body);
    assert_eq!(limited.body["error"]["code"], "RATE_LIMITED");
    let seconds = limited.body["error"]["retryAfterSeconds"]
        .as_u64()
        .expect("retryAfterSeconds");
    assert!((1..=60).contains(&seconds), "{seconds}");
    assert!(
        seconds.abs_diff(seconds_left_in_window(60)) <= 1,
        "{seconds} s, but the minute ends in {} s",
        seconds_left_in_window(60)
    );
    assert_eq!(retry_after_header(&limited), seconds);

    // ... and on GraphQL.
    let limited = graphql_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(limited.status, 200);
    assert_eq!(error_code(&limited.body), Some("RATE_LIMITED"));
    assert_eq!(limited.body["data"], Value::Null);
    let seconds = graphql_retry_after(&limited);
    assert!((1..=60).contains(&seconds), "{seconds}");

    // The budget belongs to the client address: another one still signs in.
    let elsewhere = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .expect("client on 127.0.0.2");
    let response = elsewhere
        .post(app.url("/auth/login"))
        .json(&json!({ "email": persona.email, "password": persona.password }))
        .send()
        .await
        .expect("send from 127.0.0.2");
    assert_eq!(response.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn progressive_lockout_blocks_even_the_right_password_on_every_instance_until_it_passes() {
    let app =
        TestApp::spawn_with(|config| config.domains.auth.rate_limits.lockout_after_failures = 2)
            .await;
    let second = app.spawn_alongside(|_| {}).await;
    let persona = app.persona(Role::Employee).await;
    wait_for_fresh_window(3600, 60).await;

    assert_eq!(
        rest_login(&app, &[], &persona.email, WRONG_PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        rest_login(&second, &[], &persona.email, WRONG_PASSWORD)
            .await
            .status,
        401
    );
    // Two failures: a one-second lock, wherever the next attempt lands.
    let locked = rest_login(&second, &[], &persona.email, &persona.password).await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    assert_eq!(locked.body["error"]["code"], "RATE_LIMITED");
    assert_eq!(locked.body["error"]["retryAfterSeconds"], 1);
    assert_eq!(retry_after_header(&locked), 1);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A third failure doubles the lock.
    let reply = graphql_login(&second, &[], &persona.email, WRONG_PASSWORD).await;
    assert_eq!(error_code(&reply.body), Some("UNAUTHENTICATED"));
    for instance in [&app, &second] {
        let locked = graphql_login(instance, &[], &persona.email, &persona.password).await;
        assert_eq!(
            error_code(&locked.body),
            Some("RATE_LIMITED"),
            "{:?}",
            locked.body
        );
        let seconds = graphql_retry_after(&locked);
        assert!((1..=2).contains(&seconds), "{seconds}");
    }

    tokio::time::sleep(Duration::from_millis(2200)).await;
    let signed = graphql_login(&second, &[], &persona.email, &persona.password).await;
    assert!(
        signed.body["data"]["login"]["accessToken"].is_string(),
        "{:?}",
        signed.body
    );
    // Signing in forgets the failures: one more does not lock the account.
    assert_eq!(
        rest_login(&app, &[], &persona.email, WRONG_PASSWORD)
            .await
            .status,
        401
    );
    assert_eq!(
        rest_login(&app, &[], &persona.email, &persona.password)
            .await
            .status,
        200
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hourly_failure_cap_blocks_the_account_until_the_hour_ends() {
    let app = TestApp::spawn_with(|config| {
        config
            .domains
            .auth
            .rate_limits
            .login_failures_per_account_per_hour = 3;
        config.domains.auth.rate_limits.lockout_after_failures = 1000;
    })
    .await;
    let persona = app.persona(Role::Client).await;
    let bystander = app.persona_in(Role::Client, Some("Other Org")).await;
    let ghost = unknown_email();
    wait_for_fresh_window(3600, 60).await;

    for _ in 0..3 {
        assert_eq!(
            rest_login(&app, &[], &persona.email, WRONG_PASSWORD)
                .await
                .status,
            401
        );
        assert_eq!(
            rest_login(&app, &[], &ghost, WRONG_PASSWORD).await.status,
            401
        );
    }
    let locked = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(locked.status, 429, "{:?}", locked.body);
    assert_eq!(locked.body["error"]["code"], "RATE_LIMITED");
    let seconds = retry_after_header(&locked);
    assert_eq!(locked.body["error"]["retryAfterSeconds"], seconds);
    assert!(
        seconds.abs_diff(seconds_left_in_window(3600)) <= 2,
        "{seconds} s, but the hour ends in {} s",
        seconds_left_in_window(3600)
    );
    let locked = graphql_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(error_code(&locked.body), Some("RATE_LIMITED"));
    assert!(graphql_retry_after(&locked).abs_diff(seconds) <= 2);

    // An unknown account is capped the same way, so the cap reveals nothing.
    let ghost_locked = rest_login(&app, &[], &ghost, WRONG_PASSWORD).await;
    assert_eq!(ghost_locked.status, 429);
    assert_eq!(ghost_locked.body["error"]["code"], "RATE_LIMITED");
    // Other accounts are not affected.
    let other = rest_login(&app, &[], &bystander.email, &bystander.password).await;
    assert_eq!(other.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn waiting_the_announced_retry_after_is_enough_to_be_let_in() {
    let app =
        TestApp::spawn_with(|config| config.domains.auth.rate_limits.lockout_after_failures = 1)
            .await;
    let persona = app.persona(Role::Client).await;
    wait_for_fresh_window(3600, 60).await;

    assert_eq!(
        rest_login(&app, &[], &persona.email, WRONG_PASSWORD)
            .await
            .status,
        401
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // The second failure locks the account for two seconds.
    assert_eq!(
        rest_login(&app, &[], &persona.email, WRONG_PASSWORD)
            .await
            .status,
        401
    );
    let locked = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(locked.status, 429);
    let seconds = retry_after_header(&locked);
    tokio::time::sleep(Duration::from_secs(seconds) + Duration::from_millis(100)).await;
    let after = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(
        after.status, 200,
        "told to retry after {seconds} s, but refused again: {:?}",
        after.body
    );
}

/// Rows an SQL `count(*) AS n` query finds in the app's database.
async fn count_rows(app: &TestApp, sql: &str) -> i64 {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db().await;
    let count: Count = diesel::sql_query(sql)
        .get_result(&mut conn)
        .await
        .unwrap_or_else(|error| panic!("{sql}: {error}"));
    count.n
}

/// How login attempts were answered: (password checked and wrong, refused unchecked).
fn tally_login_refusals(replies: &[Reply]) -> (usize, usize) {
    let mut verified = 0;
    let mut limited = 0;
    for reply in replies {
        match error_code(&reply.body) {
            Some("UNAUTHENTICATED") => verified += 1,
            Some("RATE_LIMITED") => limited += 1,
            other => panic!("unexpected answer {other:?}: {:?}", reply.body),
        }
    }
    (verified, limited)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_wrong_logins_for_one_account_from_many_addresses_checks_at_most_the_hourly_cap()
{
    let app = TestApp::spawn_with(|config| {
        // The attacker's addresses arrive through the load balancer.
        config.trusted_proxy_hops = 1;
        // A pool the size of a production server's, so requests really run at
        // once, and a real hash cost, which keeps each check open for a while.
        config.db_pool_size = 32;
        config.domains.auth.password_hashing = auth::config::PasswordHashing {
            memory_kib: 4 * 1024,
            iterations: 2,
            parallelism: 1,
        };
        let limits = &mut config.domains.auth.rate_limits;
        limits.login_per_ip_per_minute =
            auth::config::RateLimits::default().login_per_ip_per_minute;
        // Only the hourly cap is in play, so the bound is exact.
        limits.lockout_after_failures = 10_000;
    })
    .await;
    let cap = app
        .state
        .config
        .domains
        .auth
        .rate_limits
        .login_failures_per_account_per_hour;
    assert_eq!(cap, 100, "the documented cap");
    let persona = app.persona(Role::Employee).await;
    wait_for_fresh_window(3600, 120).await;

    // 300 guesses at once, each from an address of its own (another /48 each).
    let addresses: Vec<String> = (1..=300).map(|i| format!("2001:db8:{i:x}::1")).collect();
    let guesses: Vec<String> = (0..300)
        .map(|i| format!("Wrong Guess {i:04} Pass"))
        .collect();
    let (app_ref, email) = (&app, &persona.email);
    let replies = futures_util::future::join_all(addresses.iter().zip(&guesses).map(
        |(address, guess)| async move {
            graphql_login(
                app_ref,
                &[("x-forwarded-for", address.as_str())],
                email,
                guess,
            )
            .await
        },
    ))
    .await;
    let (verified, limited) = tally_login_refusals(&replies);
    assert!(
        verified <= cap as usize,
        "{verified} passwords were checked, the cap is {cap} an hour ({limited} refused)"
    );
    assert!(verified > 0, "no guess was checked at all");
    let failures = count_rows(
        &app,
        &format!(
            "SELECT count(*) AS n FROM audit_log WHERE action = 'auth.login_failed' \
             AND entity_id = '{}'",
            persona.user_id
        ),
    )
    .await;
    assert_eq!(
        failures, verified as i64,
        "one audit entry per checked guess"
    );
    // The account stays locked for the rest of the hour, even for its password.
    let locked = graphql_login(
        &app,
        &[("x-forwarded-for", "2001:db8:ffff::1")],
        &persona.email,
        &persona.password,
    )
    .await;
    assert_eq!(
        error_code(&locked.body),
        Some("RATE_LIMITED"),
        "{:?}",
        locked.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_address_of_one_ipv6_64_shares_one_login_budget() {
    let app = TestApp::spawn_with(|config| {
        config.trusted_proxy_hops = 1;
        config.domains.auth.rate_limits.login_per_ip_per_minute = 3;
    })
    .await;
    wait_for_fresh_window(60, 20).await;
    // Each attempt names another account, so only the address budget is in play.
    let login_from = |address: &'static str| {
        let app = &app;
        async move {
            graphql_login(
                app,
                &[("x-forwarded-for", address)],
                &unknown_email(),
                WRONG_PASSWORD,
            )
            .await
        }
    };

    // Three addresses of one /64 (one customer's network) spend its budget ...
    for address in [
        "2001:db8:5:6::1",
        "2001:db8:5:6:a:b:c:d",
        "2001:db8:5:6:ffff::2",
    ] {
        let reply = login_from(address).await;
        assert_eq!(
            error_code(&reply.body),
            Some("UNAUTHENTICATED"),
            "{address}: {:?}",
            reply.body
        );
    }
    // ... so a fourth address in it is refused ...
    let limited = login_from("2001:db8:5:6:1234:5678:9abc:def0").await;
    assert_eq!(
        error_code(&limited.body),
        Some("RATE_LIMITED"),
        "{:?}",
        limited.body
    );
    // ... while the next /64 and IPv4 addresses keep their own budgets.
    let neighbour = login_from("2001:db8:5:7::1").await;
    assert_eq!(
        error_code(&neighbour.body),
        Some("UNAUTHENTICATED"),
        "{:?}",
        neighbour.body
    );
    for address in ["198.51.100.7", "198.51.100.8", "198.51.100.9"] {
        let reply = login_from(address).await;
        assert_eq!(
            error_code(&reply.body),
            Some("UNAUTHENTICATED"),
            "{address}: {:?}",
            reply.body
        );
    }
    // An IPv4 address written as IPv6 is the same client: two more attempts
    // spend 198.51.100.7's budget.
    for _ in 0..2 {
        let mapped = login_from("::ffff:198.51.100.7").await;
        assert_eq!(
            error_code(&mapped.body),
            Some("UNAUTHENTICATED"),
            "{:?}",
            mapped.body
        );
    }
    let again = login_from("198.51.100.7").await;
    assert_eq!(
        error_code(&again.body),
        Some("RATE_LIMITED"),
        "{:?}",
        again.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_password_checks_is_refused_instead_of_queued_ahead_of_every_login() {
    let app = TestApp::spawn_with(|config| {
        config.trusted_proxy_hops = 1;
        config.db_pool_size = 32;
        // A real hash cost, so that the checks pile up.
        config.domains.auth.password_hashing = auth::config::PasswordHashing {
            memory_kib: 16 * 1024,
            iterations: 3,
            parallelism: 1,
        };
        config.domains.auth.password_queue_limit = 2;
    })
    .await;
    let persona = app.persona(Role::Client).await;
    // Forty logins at once, each for another account from another address:
    // no account or address budget stops them, only the hashing queue can.
    let addresses: Vec<String> = (1..=40).map(|i| format!("2001:db8:{i:x}::1")).collect();
    let emails: Vec<String> = (0..40).map(|_| unknown_email()).collect();
    let app_ref = &app;
    let replies = futures_util::future::join_all(addresses.iter().zip(&emails).map(
        |(address, email)| async move {
            graphql_login(
                app_ref,
                &[("x-forwarded-for", address.as_str())],
                email,
                WRONG_PASSWORD,
            )
            .await
        },
    ))
    .await;
    let (verified, limited) = tally_login_refusals(&replies);
    assert!(
        limited > 0,
        "all {verified} checks waited in the queue; none was refused"
    );
    for reply in replies
        .iter()
        .filter(|reply| error_code(&reply.body) == Some("RATE_LIMITED"))
    {
        assert!(graphql_retry_after(reply) >= 1, "{:?}", reply.body);
    }
    // A refused check was never made, so it counts against no account.
    let counted = count_rows(
        &app,
        "SELECT coalesce(sum(hits), 0)::bigint AS n FROM rate_limit_counters \
         WHERE key LIKE 'login-failure:%'",
    )
    .await;
    assert_eq!(counted, verified as i64);
    // The flood over, the right password signs in at once.
    let signed = graphql_login(&app, &[], &persona.email, &persona.password).await;
    assert!(
        signed.body["data"]["login"]["accessToken"].is_string(),
        "{:?}",
        signed.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_overlong_email_on_login_is_refused_before_anything_is_written() {
    let app = TestApp::spawn().await;
    let overlong = format!("{}@example.test", "a".repeat(20_000));
    let just_over = format!("{}@example.test", "b".repeat(255 - "@example.test".len()));
    assert_eq!(just_over.len(), 255);

    for email in [&overlong, &just_over] {
        let reply = graphql_login(&app, &[], email, WRONG_PASSWORD).await;
        assert_eq!(
            error_code(&reply.body),
            Some("BAD_USER_INPUT"),
            "{:?}",
            reply.body
        );
        assert_eq!(
            reply.body["errors"][0]["extensions"]["fields"][0]["field"],
            "email"
        );
        assert_eq!(reply.body["data"], Value::Null);
        let rest = rest_login(&app, &[], email, WRONG_PASSWORD).await;
        assert_eq!(rest.status, 400, "{:?}", rest.body);
        assert_eq!(rest.body["error"]["code"], "BAD_USER_INPUT");
    }
    // Nothing reached the rate-limit counters or the audit log.
    assert_eq!(
        count_rows(&app, "SELECT count(*) AS n FROM rate_limit_counters").await,
        0
    );
    assert_eq!(
        count_rows(&app, "SELECT count(*) AS n FROM audit_log").await,
        0
    );

    // At 254 characters an address is an ordinary (unknown) login.
    let longest = format!("{}@example.test", "c".repeat(254 - "@example.test".len()));
    let reply = graphql_login(&app, &[], &longest, WRONG_PASSWORD).await;
    assert_eq!(
        error_code(&reply.body),
        Some("UNAUTHENTICATED"),
        "{:?}",
        reply.body
    );
    let longest_key = count_rows(
        &app,
        "SELECT coalesce(max(length(key)), 0)::bigint AS n FROM rate_limit_counters",
    )
    .await;
    assert!(
        longest_key <= 300,
        "a rate-limit key of {longest_key} characters"
    );
}

// ---- cookie sessions and CSRF ----------------------------------------------------

const PORTAL: &str = "https://portal.example";
const EVIL: &str = "https://evil.example";

/// The value of cookie `name` among `Set-Cookie` lines, and its attributes.
fn set_cookie(reply: &Reply, name: &str) -> (String, Vec<String>) {
    let line = reply
        .set_cookies()
        .into_iter()
        .find(|line| line.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", reply.set_cookies()));
    let mut parts = line.split(';').map(|part| part.trim().to_string());
    let value = parts
        .next()
        .and_then(|pair| pair.split_once('=').map(|(_, value)| value.to_string()))
        .expect("name=value");
    (value, parts.collect())
}

/// The refresh and CSRF cookies of a browser session answer, checked.
fn session_cookies(reply: &Reply) -> (String, String) {
    let (refresh, attributes) = set_cookie(reply, "fluxorae_refresh");
    for expected in ["HttpOnly", "SameSite=Strict", "Path=/auth", "Secure"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} in {attributes:?}"
        );
    }
    let max_age = attributes
        .iter()
        .find_map(|a| a.strip_prefix("Max-Age="))
        .and_then(|age| age.parse::<i64>().ok())
        .expect("Max-Age");
    assert!(max_age > 0);
    let (csrf, attributes) = set_cookie(reply, "fluxorae_csrf");
    for expected in ["SameSite=Strict", "Path=/", "Secure"] {
        assert!(
            attributes.iter().any(|a| a == expected),
            "{expected} in {attributes:?}"
        );
    }
    // The page's script must read it to send it back as a header.
    assert!(
        !attributes.iter().any(|a| a == "HttpOnly"),
        "{attributes:?}"
    );
    assert!(!refresh.is_empty() && !csrf.is_empty());
    (refresh, csrf)
}

/// A refused cookie request: label, `Origin`, CSRF cookie, `X-CSRF-Token`.
type Refusal<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);

/// A cookie-authenticated POST to `path`.
async fn cookie_post(
    app: &TestApp,
    path: &str,
    origin: Option<&str>,
    refresh: &str,
    csrf_cookie: Option<&str>,
    csrf_header: Option<&str>,
) -> Reply {
    let mut cookies = format!("fluxorae_refresh={refresh}");
    if let Some(csrf) = csrf_cookie {
        cookies.push_str(&format!("; fluxorae_csrf={csrf}"));
    }
    let mut headers = vec![("cookie", cookies.as_str())];
    if let Some(origin) = origin {
        headers.push(("origin", origin));
    }
    if let Some(csrf) = csrf_header {
        headers.push(("x-csrf-token", csrf));
    }
    post_json(app, path, &headers, &json!({})).await
}

#[tokio::test(flavor = "multi_thread")]
async fn cookie_refresh_needs_an_allowed_origin_and_the_csrf_double_submit() {
    let app = TestApp::spawn_with(|config| config.allowed_origins = vec![PORTAL.into()]).await;
    let persona = app.persona(Role::Client).await;

    // A script gets the refresh token in the body and no cookie.
    let script = rest_login(&app, &[], &persona.email, &persona.password).await;
    assert_eq!(script.status, 200);
    assert!(script.body["refreshToken"].is_string());
    assert!(
        script.set_cookies().is_empty(),
        "{:?}",
        script.set_cookies()
    );

    // A page of an allowed origin gets cookies and no refresh token in the body.
    let browser = rest_login(
        &app,
        &[("origin", PORTAL)],
        &persona.email,
        &persona.password,
    )
    .await;
    assert_eq!(browser.status, 200, "{:?}", browser.body);
    assert!(
        browser.body.get("refreshToken").is_none(),
        "{:?}",
        browser.body
    );
    assert_eq!(browser.body["tokenType"], "Bearer");
    let (refresh, csrf) = session_cookies(&browser);

    let refreshed = cookie_post(
        &app,
        "/auth/refresh",
        Some(PORTAL),
        &refresh,
        Some(&csrf),
        Some(&csrf),
    )
    .await;
    assert_eq!(refreshed.status, 200, "{:?}", refreshed.body);
    assert!(refreshed.body.get("refreshToken").is_none());
    let access = refreshed.body["accessToken"]
        .as_str()
        .expect("access token");
    assert_eq!(
        me(&app, access).await,
        (200, Some(persona.user_id.to_string()))
    );
    let (refresh, csrf) = session_cookies(&refreshed);

    let refusals: [Refusal<'_>; 5] = [
        ("no X-CSRF-Token", Some(PORTAL), Some(&csrf), None),
        (
            "a wrong X-CSRF-Token",
            Some(PORTAL),
            Some(&csrf),
            Some("forged-by-another-site"),
        ),
        ("no CSRF cookie", Some(PORTAL), None, Some(&csrf)),
        ("a disallowed Origin", Some(EVIL), Some(&csrf), Some(&csrf)),
        ("no Origin", None, Some(&csrf), Some(&csrf)),
    ];
    for (label, origin, csrf_cookie, csrf_header) in refusals {
        let reply = cookie_post(
            &app,
            "/auth/refresh",
            origin,
            &refresh,
            csrf_cookie,
            csrf_header,
        )
        .await;
        assert_eq!(reply.status, 403, "{label}: {:?}", reply.body);
        assert_eq!(reply.body["error"]["code"], "FORBIDDEN", "{label}");
        assert!(
            reply.set_cookies().is_empty(),
            "{label}: {:?}",
            reply.set_cookies()
        );
    }
    // Every refusal came before the token was used: it still works.
    let again = cookie_post(
        &app,
        "/auth/refresh",
        Some(PORTAL),
        &refresh,
        Some(&csrf),
        Some(&csrf),
    )
    .await;
    assert_eq!(again.status, 200, "{:?}", again.body);
    let (refresh, csrf) = session_cookies(&again);

    // Logging out by cookie takes the same checks and clears both cookies.
    let refused = cookie_post(
        &app,
        "/auth/logout",
        Some(PORTAL),
        &refresh,
        Some(&csrf),
        None,
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(refused.body["error"]["code"], "FORBIDDEN");
    let out = cookie_post(
        &app,
        "/auth/logout",
        Some(PORTAL),
        &refresh,
        Some(&csrf),
        Some(&csrf),
    )
    .await;
    assert_eq!(out.status, 204, "{:?}", out.body);
    for name in ["fluxorae_refresh", "fluxorae_csrf"] {
        let (value, attributes) = set_cookie(&out, name);
        assert_eq!(value, "");
        assert!(
            attributes.iter().any(|a| a == "Max-Age=0"),
            "{attributes:?}"
        );
    }
    let ended = cookie_post(
        &app,
        "/auth/refresh",
        Some(PORTAL),
        &refresh,
        Some(&csrf),
        Some(&csrf),
    )
    .await;
    assert_eq!(ended.status, 401);
    assert_eq!(ended.body["error"]["code"], "UNAUTHENTICATED");

    // A page of another origin cannot even sign in.
    let foreign = rest_login(&app, &[("origin", EVIL)], &persona.email, &persona.password).await;
    assert_eq!(foreign.status, 403);
    assert_eq!(foreign.body["error"]["code"], "FORBIDDEN");
    assert!(foreign.set_cookies().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_endpoints_refuse_bodies_that_are_not_json() {
    let app = TestApp::spawn().await;
    let persona = app.persona(Role::Client).await;
    let body = json!({ "email": persona.email, "password": persona.password }).to_string();
    for (path, content_type) in [
        ("/auth/login", Some("text/plain")),
        ("/auth/login", Some("text/plain;charset=UTF-8")),
        ("/auth/login", Some("application/x-www-form-urlencoded")),
        ("/auth/login", Some("multipart/form-data; boundary=x")),
        ("/auth/login", None),
        ("/auth/refresh", Some("text/plain")),
        ("/auth/password-reset", Some("text/plain")),
    ] {
        let mut request = app.http.post(app.url(path)).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = Reply::read(request.send().await.expect("send")).await;
        assert_eq!(
            reply.status, 415,
            "{path} {content_type:?}: {:?}",
            reply.body
        );
        assert_eq!(reply.body["error"]["code"], "UNSUPPORTED_MEDIA_TYPE");
        assert!(reply.set_cookies().is_empty());
    }
    // The same body as JSON signs in.
    assert_eq!(
        rest_login(&app, &[], &persona.email, &persona.password)
            .await
            .status,
        200
    );
}

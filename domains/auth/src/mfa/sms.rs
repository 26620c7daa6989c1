//! One-time sign-in codes delivered by SMS through a pluggable provider.
//!
//! Indian numbers fall under TRAI's DLT rules: every commercial SMS must be
//! sent under a registered principal entity id and a registered content
//! template, and operators silently drop anything else, so a provider that
//! answers "accepted" is no proof of delivery. The message text and the ids
//! have to match what was registered on the DLT portal:
//!
//! - MSG91 keeps the DLT template id and entity id on the MSG91 OTP template
//!   (`template_id`); [`Msg91SmsSender`] can send the ids as well, see there.
//! - Twilio matches the message body against the templates registered in the
//!   Twilio console, so [`message_text`] must be registered verbatim.
//!
//! [`LogSmsSender`] sends nothing and logs the code, for offline development.

use std::fmt;
use std::time::Duration;

use super::totp::percent_encode;

/// Minutes a code stays valid, as stated in the message text.
pub const CODE_VALIDITY_MINUTES: u32 = 10;

/// Upper bound on one provider call, so a slow provider cannot hang a sign-in.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest provider message kept in an [`SmsError`].
const MAX_PROVIDER_MESSAGE_CHARS: usize = 200;

/// Why an SMS could not be handed to the provider.
///
/// Messages never contain the provider's auth key or token, nor the request URL
/// (which carries the code for MSG91).
#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    /// The phone number is not E.164 (`+` then 8 to 15 digits, no leading zero).
    #[error("phone number is not in E.164 form, e.g. +919812345678")]
    InvalidPhone,
    /// The provider could not be reached or its answer could not be read.
    #[error("{provider} could not be reached: {source}")]
    Transport {
        /// Provider name, as [`SmsSender::provider`].
        provider: &'static str,
        /// The HTTP client error, with the URL removed.
        #[source]
        source: reqwest::Error,
    },
    /// The provider answered with an error.
    #[error("{provider} rejected the message (HTTP {status}): {message}")]
    Rejected {
        /// Provider name, as [`SmsSender::provider`].
        provider: &'static str,
        /// HTTP status of the answer.
        status: u16,
        /// The provider's explanation, shortened and with credentials removed.
        message: String,
    },
}

/// Sends one-time codes by SMS.
#[async_trait::async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// Sends `code` to `phone` (E.164, e.g. +919812345678).
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SmsError>;
    /// Provider name for logs and the audit trail: "twilio", "msg91", "log".
    fn provider(&self) -> &'static str;
}

/// The SMS text carrying `code`; for Indian numbers it must match a DLT template.
pub fn message_text(code: &str) -> String {
    format!("Your Fluxorae sign-in code is {code}. It expires in {CODE_VALIDITY_MINUTES} minutes.")
}

/// `phone` with every digit but the last four replaced by `*`, for logs.
pub fn mask_phone(phone: &str) -> String {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    let mut seen = 0;
    phone
        .chars()
        .map(|c| {
            if !c.is_ascii_digit() {
                return c;
            }
            seen += 1;
            if seen + 4 > digits { c } else { '*' }
        })
        .collect()
}

/// The digits of an E.164 number, without the `+`.
fn e164_digits(phone: &str) -> Result<&str, SmsError> {
    let digits = phone.strip_prefix('+').ok_or(SmsError::InvalidPhone)?;
    let valid = (8..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if valid {
        Ok(digits)
    } else {
        Err(SmsError::InvalidPhone)
    }
}

/// The explanation in a provider's answer: its JSON `message`, else the raw
/// body; credentials are replaced and the text shortened.
fn provider_message(body: &[u8], secrets: &[&str]) -> String {
    let json_message = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|json| match json.get("message") {
            Some(serde_json::Value::String(text)) => Some(text.clone()),
            Some(other) => Some(other.to_string()),
            None => None,
        });
    let mut message = json_message.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    // Redact before shortening, so no prefix of a secret can survive the cut.
    for secret in secrets.iter().filter(|s| !s.is_empty()) {
        message = message.replace(secret, "[redacted]");
    }
    let message = message.trim();
    match message.char_indices().nth(MAX_PROVIDER_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

fn transport(provider: &'static str) -> impl Fn(reqwest::Error) -> SmsError {
    // The URL can hold the phone number and code; it has no place in logs.
    move |source| SmsError::Transport {
        provider,
        source: source.without_url(),
    }
}

/// Development sender: logs the code instead of sending it.
#[derive(Debug, Clone, Copy, Default)]
pub struct LogSmsSender;

#[async_trait::async_trait]
impl SmsSender for LogSmsSender {
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SmsError> {
        e164_digits(phone)?;
        tracing::info!(
            provider = self.provider(),
            phone = %mask_phone(phone),
            code = %code,
            "SMS not sent: offline development provider; sign in with this code"
        );
        Ok(())
    }

    fn provider(&self) -> &'static str {
        "log"
    }
}

/// Sends codes through the MSG91 SendOTP v5 API.
///
/// One call is `POST {base_url}/api/v5/otp?template_id=…&mobile=…&otp=…` with
/// the `authkey` header (the key never goes in the URL), where `mobile` is the
/// E.164 number without `+` and `otp` our code, so MSG91 fills `##OTP##` in
/// its template and does not generate a code of its own.
///
/// DLT: MSG91 takes the DLT template id and principal entity id from the OTP
/// template that `template_id` names (set in the MSG91 panel); that mapping is
/// what makes delivery work. In addition, when configured, the JSON body
/// carries `DLT_TE_ID` (the DLT template id, under the name MSG91's SendSMS
/// API uses for it) and `PE_ID` (the DLT principal entity id; MSG91 documents
/// no per-request entity-id field). The v5 OTP endpoint reads body keys as
/// template variables, so these are harmless if unused. Without DLT ids the
/// body is `{}`.
///
/// A non-2xx answer, or a 2xx JSON answer with `"type":"error"`, is a failure.
#[derive(Clone)]
pub struct Msg91SmsSender {
    /// API origin without a trailing path, normally [`Self::DEFAULT_BASE_URL`].
    pub base_url: String,
    /// MSG91 auth key, sent as the `authkey` header.
    pub auth_key: String,
    /// MSG91 OTP template id (mapped to the DLT template in the MSG91 panel).
    pub template_id: String,
    /// DLT principal entity id, sent as `PE_ID`.
    pub dlt_entity_id: Option<String>,
    /// DLT content template id, sent as `DLT_TE_ID`.
    pub dlt_template_id: Option<String>,
    /// Shared HTTP client.
    pub http: reqwest::Client,
}

impl Msg91SmsSender {
    /// The production MSG91 API origin.
    pub const DEFAULT_BASE_URL: &'static str = "https://control.msg91.com";

    /// A sender for the production API without DLT ids in the body.
    pub fn new(http: reqwest::Client, auth_key: String, template_id: String) -> Self {
        Self {
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            auth_key,
            template_id,
            dlt_entity_id: None,
            dlt_template_id: None,
            http,
        }
    }
}

impl fmt::Debug for Msg91SmsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msg91SmsSender")
            .field("base_url", &self.base_url)
            .field("auth_key", &"[redacted]")
            .field("template_id", &self.template_id)
            .field("dlt_entity_id", &self.dlt_entity_id)
            .field("dlt_template_id", &self.dlt_template_id)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SmsSender for Msg91SmsSender {
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SmsError> {
        let provider = self.provider();
        let mobile = e164_digits(phone)?;
        let url = format!(
            "{}/api/v5/otp?template_id={}&mobile={}&otp={}",
            self.base_url.trim_end_matches('/'),
            percent_encode(&self.template_id),
            mobile,
            percent_encode(code),
        );
        let mut body = serde_json::Map::new();
        if let Some(id) = &self.dlt_template_id {
            body.insert("DLT_TE_ID".to_owned(), id.clone().into());
        }
        if let Some(id) = &self.dlt_entity_id {
            body.insert("PE_ID".to_owned(), id.clone().into());
        }
        let response = self
            .http
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .header("authkey", &self.auth_key)
            .header(reqwest::header::ACCEPT, "application/json")
            .json(&body)
            .send()
            .await
            .map_err(transport(provider))?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(transport(provider))?;
        let reported_error = serde_json::from_slice::<serde_json::Value>(&bytes)
            .is_ok_and(|json| json.get("type").and_then(|t| t.as_str()) == Some("error"));
        if !status.is_success() || reported_error {
            return Err(SmsError::Rejected {
                provider,
                status: status.as_u16(),
                message: provider_message(&bytes, &[&self.auth_key]),
            });
        }
        Ok(())
    }

    fn provider(&self) -> &'static str {
        "msg91"
    }
}

/// Sends codes through Twilio's Programmable Messaging API.
///
/// One call is `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`
/// with HTTP basic auth `account_sid:auth_token` and a form-encoded body of
/// `To` (E.164), `From` and `Body` ([`message_text`]). A non-2xx answer is a failure.
#[derive(Clone)]
pub struct TwilioSmsSender {
    /// API origin without a trailing path, normally [`Self::DEFAULT_BASE_URL`].
    pub base_url: String,
    /// Account SID (`AC…`), the basic-auth user name.
    pub account_sid: String,
    /// Auth token, the basic-auth password.
    pub auth_token: String,
    /// Sender: a Twilio number in E.164 or an alphanumeric sender id.
    pub from: String,
    /// Shared HTTP client.
    pub http: reqwest::Client,
}

impl TwilioSmsSender {
    /// The production Twilio API origin.
    pub const DEFAULT_BASE_URL: &'static str = "https://api.twilio.com";

    /// A sender for the production API.
    pub fn new(
        http: reqwest::Client,
        account_sid: String,
        auth_token: String,
        from: String,
    ) -> Self {
        Self {
            base_url: Self::DEFAULT_BASE_URL.to_owned(),
            account_sid,
            auth_token,
            from,
            http,
        }
    }
}

impl fmt::Debug for TwilioSmsSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TwilioSmsSender")
            .field("base_url", &self.base_url)
            .field("account_sid", &self.account_sid)
            .field("auth_token", &"[redacted]")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SmsSender for TwilioSmsSender {
    async fn send_code(&self, phone: &str, code: &str) -> Result<(), SmsError> {
        let provider = self.provider();
        e164_digits(phone)?;
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url.trim_end_matches('/'),
            percent_encode(&self.account_sid),
        );
        // Encoded with percent_encode so this does not need reqwest's optional `form` feature.
        let form = format!(
            "To={}&From={}&Body={}",
            percent_encode(phone),
            percent_encode(&self.from),
            percent_encode(&message_text(code)),
        );
        let response = self
            .http
            .post(url)
            .timeout(REQUEST_TIMEOUT)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form)
            .send()
            .await
            .map_err(transport(provider))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let bytes = response.bytes().await.map_err(transport(provider))?;
        Err(SmsError::Rejected {
            provider,
            status: status.as_u16(),
            message: provider_message(&bytes, &[&self.auth_token]),
        })
    }

    fn provider(&self) -> &'static str {
        "twilio"
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::State;
    use axum::http::{HeaderMap, Method, StatusCode, Uri};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    const PHONE: &str = "+919812345678";
    const CODE: &str = "042917";
    const MSG91_KEY: &str = "msg91-secret-auth-key";
    const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";
    const TWILIO_TOKEN: &str = "twilio-secret-auth-token";

    /// One request as the stand-in received it.
    #[derive(Debug, Clone)]
    struct Captured {
        method: Method,
        path: String,
        query: Vec<(String, String)>,
        headers: HeaderMap,
        body: Bytes,
    }

    #[derive(Clone)]
    struct StandIn {
        status: StatusCode,
        reply: &'static str,
        captured: Arc<Mutex<Vec<Captured>>>,
    }

    /// `key=value&…` decoded the way a provider would decode it.
    fn decode_pairs(encoded: &str) -> Vec<(String, String)> {
        reqwest::Url::parse(&format!("http://decode.invalid/?{encoded}"))
            .expect("url")
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }

    async fn record(
        State(stand_in): State<StandIn>,
        method: Method,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> (StatusCode, &'static str) {
        stand_in.captured.lock().expect("lock").push(Captured {
            method,
            path: uri.path().to_owned(),
            query: decode_pairs(uri.query().unwrap_or_default()),
            headers,
            body,
        });
        (stand_in.status, stand_in.reply)
    }

    /// Starts a provider stand-in answering every request with `status` and
    /// `reply`; returns its base URL and what it receives.
    async fn stand_in(
        status: StatusCode,
        reply: &'static str,
    ) -> (String, Arc<Mutex<Vec<Captured>>>) {
        let captured = Arc::new(Mutex::new(Vec::new()));
        let state = StandIn {
            status,
            reply,
            captured: Arc::clone(&captured),
        };
        let app = Router::new().fallback(record).with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        (format!("http://{addr}"), captured)
    }

    fn only_request(captured: &Arc<Mutex<Vec<Captured>>>) -> Captured {
        let requests = captured.lock().expect("lock");
        assert_eq!(requests.len(), 1, "{requests:#?}");
        requests[0].clone()
    }

    fn header<'a>(request: &'a Captured, name: &str) -> Option<&'a str> {
        request.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn http_client() -> reqwest::Client {
        // reqwest is built without a bundled TLS provider; the binary installs ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client")
    }

    fn msg91(base_url: String) -> Msg91SmsSender {
        Msg91SmsSender {
            base_url,
            dlt_entity_id: Some("1201159876543210987".to_owned()),
            dlt_template_id: Some("1207161234567890123".to_owned()),
            ..Msg91SmsSender::new(http_client(), MSG91_KEY.to_owned(), "64f0c0ffee".to_owned())
        }
    }

    fn twilio(base_url: String) -> TwilioSmsSender {
        TwilioSmsSender {
            base_url,
            ..TwilioSmsSender::new(
                http_client(),
                TWILIO_SID.to_owned(),
                TWILIO_TOKEN.to_owned(),
                "+15005550006".to_owned(),
            )
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn msg91_sends_the_documented_request() {
        let (base, captured) =
            stand_in(StatusCode::OK, r#"{"type":"success","request_id":"3563"}"#).await;
        // A trailing slash in configuration must not produce `//api`.
        let sender = msg91(format!("{base}/"));
        sender.send_code(PHONE, CODE).await.expect("sent");

        let request = only_request(&captured);
        assert_eq!(request.method, Method::POST);
        assert_eq!(request.path, "/api/v5/otp");
        assert_eq!(
            request.query,
            pairs(&[
                ("template_id", "64f0c0ffee"),
                ("mobile", "919812345678"),
                ("otp", CODE),
            ])
        );
        assert_eq!(header(&request, "authkey"), Some(MSG91_KEY));
        assert_eq!(header(&request, "content-type"), Some("application/json"));
        assert_eq!(header(&request, "authorization"), None);
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
        assert_eq!(
            body,
            serde_json::json!({
                "DLT_TE_ID": "1207161234567890123",
                "PE_ID": "1201159876543210987",
            })
        );
    }

    #[tokio::test]
    async fn msg91_without_dlt_ids_sends_an_empty_object() {
        let (base, captured) = stand_in(StatusCode::OK, r#"{"type":"success"}"#).await;
        let sender = Msg91SmsSender {
            base_url: base,
            ..Msg91SmsSender::new(http_client(), MSG91_KEY.to_owned(), "t".to_owned())
        };
        sender.send_code(PHONE, CODE).await.expect("sent");
        let request = only_request(&captured);
        let body: serde_json::Value = serde_json::from_slice(&request.body).expect("json body");
        assert_eq!(body, serde_json::json!({}));
    }

    #[tokio::test]
    async fn msg91_error_type_in_a_200_answer_is_a_failure() {
        let (base, _captured) = stand_in(
            StatusCode::OK,
            r#"{"type":"error","message":"Authkey msg91-secret-auth-key is invalid"}"#,
        )
        .await;
        let error = msg91(base).send_code(PHONE, CODE).await.expect_err("error");
        match &error {
            SmsError::Rejected {
                provider,
                status,
                message,
            } => {
                assert_eq!(*provider, "msg91");
                assert_eq!(*status, 200);
                assert_eq!(message, "Authkey [redacted] is invalid");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(!error.to_string().contains(MSG91_KEY), "{error}");
    }

    #[tokio::test]
    async fn msg91_http_errors_are_failures() {
        for status in [StatusCode::UNAUTHORIZED, StatusCode::INTERNAL_SERVER_ERROR] {
            let (base, _captured) = stand_in(status, "upstream trouble").await;
            let error = msg91(base).send_code(PHONE, CODE).await.expect_err("error");
            assert!(
                matches!(&error, SmsError::Rejected { status: s, message, .. }
                    if *s == status.as_u16() && message == "upstream trouble"),
                "{error:?}"
            );
        }
    }

    #[tokio::test]
    async fn twilio_sends_the_documented_request() {
        let (base, captured) = stand_in(StatusCode::CREATED, r#"{"sid":"SM1"}"#).await;
        twilio(base).send_code(PHONE, CODE).await.expect("sent");

        let request = only_request(&captured);
        assert_eq!(request.method, Method::POST);
        assert_eq!(
            request.path,
            format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
        );
        assert!(request.query.is_empty());
        let authorization = header(&request, "authorization").expect("authorization");
        let credentials = authorization.strip_prefix("Basic ").expect("basic auth");
        let credentials = STANDARD.decode(credentials).expect("base64");
        assert_eq!(
            credentials,
            format!("{TWILIO_SID}:{TWILIO_TOKEN}").as_bytes()
        );
        assert_eq!(
            header(&request, "content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let raw = std::str::from_utf8(&request.body).expect("utf-8 body");
        // A literal `+` would be decoded as a space by Twilio.
        assert!(raw.starts_with("To=%2B919812345678&"), "{raw}");
        assert_eq!(
            decode_pairs(raw),
            pairs(&[
                ("To", PHONE),
                ("From", "+15005550006"),
                (
                    "Body",
                    "Your Fluxorae sign-in code is 042917. It expires in 10 minutes."
                ),
            ])
        );
    }

    #[tokio::test]
    async fn twilio_http_errors_are_failures_without_the_token() {
        let (base, _captured) = stand_in(
            StatusCode::BAD_REQUEST,
            r#"{"code":21211,"message":"The 'To' number +919812345678 is not valid.","status":400}"#,
        )
        .await;
        let error = twilio(base)
            .send_code(PHONE, CODE)
            .await
            .expect_err("error");
        assert_eq!(
            error.to_string(),
            "twilio rejected the message (HTTP 400): The 'To' number +919812345678 is not valid."
        );

        let (base, _captured) = stand_in(StatusCode::UNAUTHORIZED, TWILIO_TOKEN).await;
        let error = twilio(base)
            .send_code(PHONE, CODE)
            .await
            .expect_err("error");
        assert!(matches!(error, SmsError::Rejected { status: 401, .. }));
        assert!(!error.to_string().contains(TWILIO_TOKEN), "{error}");
        assert!(!format!("{error:?}").contains(TWILIO_TOKEN), "{error:?}");

        let (base, _captured) = stand_in(StatusCode::SERVICE_UNAVAILABLE, "").await;
        let error = twilio(base)
            .send_code(PHONE, CODE)
            .await
            .expect_err("error");
        assert!(matches!(error, SmsError::Rejected { status: 503, .. }));
    }

    #[tokio::test]
    async fn invalid_phone_numbers_are_refused_before_any_request() {
        let (base, captured) = stand_in(StatusCode::OK, "{}").await;
        let senders: Vec<Box<dyn SmsSender>> = vec![
            Box::new(msg91(base.clone())),
            Box::new(twilio(base)),
            Box::new(LogSmsSender),
        ];
        for sender in &senders {
            for phone in [
                "9812345678",
                "+91 98123 45678",
                "+0919812345678",
                "+9181",
                "+1234567890123456",
                "",
            ] {
                let result = sender.send_code(phone, CODE).await;
                assert!(
                    matches!(result, Err(SmsError::InvalidPhone)),
                    "{} {phone:?}: {result:?}",
                    sender.provider()
                );
            }
        }
        assert!(captured.lock().expect("lock").is_empty());
    }

    #[tokio::test]
    async fn unreachable_provider_is_a_transport_error_without_url() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let error = msg91(format!("http://{addr}"))
            .send_code(PHONE, CODE)
            .await
            .expect_err("error");
        assert!(
            matches!(
                error,
                SmsError::Transport {
                    provider: "msg91",
                    ..
                }
            ),
            "{error:?}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains(CODE), "{shown}");
        assert!(!shown.contains(MSG91_KEY), "{shown}");
    }

    #[tokio::test]
    async fn log_sender_accepts_valid_numbers() {
        let sender = LogSmsSender;
        assert_eq!(sender.provider(), "log");
        sender.send_code(PHONE, CODE).await.expect("logged");
    }

    #[test]
    fn provider_names() {
        let base = "http://127.0.0.1:9".to_owned();
        assert_eq!(msg91(base.clone()).provider(), "msg91");
        assert_eq!(twilio(base).provider(), "twilio");
    }

    #[test]
    fn phone_numbers_are_masked_to_the_last_four_digits() {
        assert_eq!(mask_phone(PHONE), "+********5678");
        assert_eq!(mask_phone("+1 (415) 555-0100"), "+* (***) ***-0100");
        assert_eq!(mask_phone("123"), "123");
    }

    #[test]
    fn debug_output_hides_credentials() {
        let base = "http://127.0.0.1:9".to_owned();
        let shown = format!("{:?} {:?}", msg91(base.clone()), twilio(base));
        assert!(!shown.contains(MSG91_KEY), "{shown}");
        assert!(!shown.contains(TWILIO_TOKEN), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }

    #[test]
    fn provider_messages_are_shortened() {
        let long = "x".repeat(500);
        let message = provider_message(long.as_bytes(), &[]);
        assert_eq!(message.chars().count(), MAX_PROVIDER_MESSAGE_CHARS + 1);
        assert_eq!(provider_message(br#"{"message":42}"#, &[]), "42");
        assert_eq!(provider_message(b"  plain  ", &[""]), "plain");
    }
}

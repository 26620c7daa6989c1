//! Object storage for uploaded files: the [`ObjectStorage`] trait and its two
//! backends, [`S3Storage`] for any S3-compatible store and [`LocalStorage`],
//! files under a directory, the development default.
//!
//! Clients never stream files through GraphQL. An upload is a presigned PUT the
//! client sends straight to the store with exactly the headers it was given;
//! the server then checks the stored object's size and first bytes ([`head`],
//! [`read_prefix`]) before the file counts. Downloads are presigned GETs.
//!
//! S3 requests are signed here with AWS Signature Version 4 (query-string
//! presigning for the client's requests, an `Authorization` header for the
//! server's own); no SDK is linked. [`LocalStorage`] presigns URLs that point
//! at the API's own `/storage/{key}` routes, signed with an HMAC that
//! [`LocalStorage::verify`] checks.
//!
//! Object keys follow one rule for both backends (see [`validate_key`]), so a
//! key that works in development works in production.
//!
//! [`head`]: ObjectStorage::head
//! [`read_prefix`]: ObjectStorage::read_prefix

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};
use futures_util::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::AppError;

type HmacSha256 = Hmac<Sha256>;

/// The longest validity a presigned request may have: SigV4's limit, 7 days.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The longest object key accepted (S3's limit, in UTF-8 bytes).
pub const MAX_KEY_BYTES: usize = 1024;

/// How long the server's own S3 requests may take.
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A request the client must make itself (presigned).
#[derive(Clone, PartialEq, Eq)]
pub struct PresignedRequest {
    /// HTTP method: `PUT` or `GET`.
    pub method: &'static str,
    /// The signed URL; it is a credential until `expires_at`, so never log it.
    pub url: String,
    /// Headers the client must send exactly as given (name, value).
    pub headers: Vec<(String, String)>,
    /// When the URL stops working.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for PresignedRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The query string is the credential; Debug output ends up in logs.
        let unsigned = self.url.split('?').next().unwrap_or_default();
        f.debug_struct("PresignedRequest")
            .field("method", &self.method)
            .field("url", &format_args!("{unsigned}?<signed>"))
            .field("headers", &self.headers)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Facts about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// The Content-Type stored with the object, when the backend keeps one
    /// ([`LocalStorage`] does not).
    pub content_type: Option<String>,
}

/// Why a storage operation failed. Messages never contain secrets, signatures
/// or signed URLs.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The key breaks the key rules of [`validate_key`].
    #[error("invalid object key")]
    InvalidKey,
    /// An argument is out of range or malformed (expiry, content type,
    /// download name, a signed URL's parameters).
    #[error("invalid storage request: {0}")]
    InvalidRequest(&'static str),
    /// The backend's configuration cannot work.
    #[error("storage is misconfigured: {0}")]
    Config(&'static str),
    /// A [`LocalStorage`] URL whose validity has passed.
    #[error("the signed URL has expired")]
    Expired,
    /// A [`LocalStorage`] URL whose signature does not match its parameters.
    #[error("the URL signature does not match")]
    BadSignature,
    /// An upload sent more bytes than allowed.
    #[error("the upload is larger than {max} bytes")]
    TooLarge {
        /// The limit in bytes.
        max: u64,
    },
    /// No object under the key.
    #[error("no such object")]
    NotFound,
    /// The storage server answered with an error status.
    #[error("the storage server answered {status}{}", code.as_deref().map(|code| format!(" ({code})")).unwrap_or_default())]
    Status {
        /// HTTP status.
        status: u16,
        /// The S3 error code (`AccessDenied`, `NoSuchBucket`, ...), when the
        /// answer had one.
        code: Option<String>,
    },
    /// The storage server could not be reached or the exchange broke off.
    #[error("the storage server could not be reached: {0}")]
    Transport(String),
    /// The upload body failed while being read.
    #[error("reading the upload body failed")]
    Body(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// A filesystem operation failed.
    #[error("storage i/o failed: {0}")]
    Io(#[from] std::io::Error),
}

impl From<StorageError> for AppError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::InvalidKey
            | StorageError::InvalidRequest(_)
            | StorageError::TooLarge { .. } => AppError::bad_input(error.to_string()),
            StorageError::NotFound => AppError::not_found("file"),
            StorageError::Expired | StorageError::BadSignature => {
                AppError::forbidden(error.to_string())
            }
            other => AppError::internal(other),
        }
    }
}

/// Where uploaded files live.
#[async_trait]
pub trait ObjectStorage: Send + Sync + 'static {
    /// A presigned PUT for exactly `content_length` bytes of `content_type`;
    /// the headers (Content-Type, Content-Length where the backend can sign
    /// it) must be sent as given.
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError>;

    /// A presigned GET; `download_name` sets
    /// `Content-Disposition: attachment; filename*=UTF-8''...`.
    fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        download_name: Option<&str>,
    ) -> Result<PresignedRequest, StorageError>;

    /// Size and type of the object, `None` when there is none under the key.
    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError>;

    /// The first `len` bytes (fewer if the object is shorter), for magic-byte
    /// checks; [`StorageError::NotFound`] when there is no object.
    async fn read_prefix(&self, key: &str, len: usize) -> Result<Vec<u8>, StorageError>;

    /// Removes the object; removing a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Backend name for logs: "s3", "local".
    fn backend(&self) -> &'static str;
}

/// Checks an object key: 1 to [`MAX_KEY_BYTES`] bytes of `/`-separated
/// segments, none empty and none starting with `.` (so no `.` or `..`
/// segments, and no hidden files), no `..` anywhere, no leading `/`, no
/// backslash and no control characters.
pub fn validate_key(key: &str) -> Result<(), StorageError> {
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_BYTES
        && !key.starts_with('/')
        && !key.contains("..")
        && !key.contains('\\')
        && !key.chars().any(char::is_control)
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && !segment.starts_with('.'));
    if valid {
        Ok(())
    } else {
        Err(StorageError::InvalidKey)
    }
}

fn validate_content_type(content_type: &str) -> Result<(), StorageError> {
    let valid = !content_type.is_empty()
        && content_type.len() <= 255
        && content_type.contains('/')
        && content_type
            .bytes()
            .all(|byte| (b' '..=b'~').contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(StorageError::InvalidRequest("invalid content type"))
    }
}

fn validate_download_name(name: &str) -> Result<(), StorageError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        Err(StorageError::InvalidRequest("invalid download name"))
    } else {
        Ok(())
    }
}

/// Whole seconds of a presigned request's validity, 1 s to 7 days.
fn expiry_seconds(expires_in: Duration) -> Result<u64, StorageError> {
    let seconds = expires_in.as_secs();
    if seconds == 0 || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(StorageError::InvalidRequest(
            "expiry must be between 1 second and 7 days",
        ));
    }
    Ok(seconds)
}

fn plus_seconds(time: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    // `seconds` is at most 7 days (checked by `expiry_seconds`), far from overflowing.
    time + chrono::Duration::seconds(seconds as i64)
}

/// The Content-Disposition of a download named `download_name`:
/// `attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266, RFC 8187).
pub fn content_disposition(download_name: &str) -> String {
    format!(
        "attachment; filename*=UTF-8''{}",
        uri_encode(download_name, false)
    )
}

/// Percent-encodes per SigV4: the unreserved bytes `A-Za-z0-9-_.~` stay, every
/// other byte of the UTF-8 becomes `%XX` (upper-case hex); `/` stays when
/// `keep_slash` (object paths) and is encoded otherwise (query parameters).
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(input.len());
    for byte in input.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b'/' if keep_slash => out.push('/'),
            _ => {
                out.push('%');
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0x0f)]));
            }
        }
    }
    out
}

/// The canonical query string: names and values encoded, sorted by encoded
/// name (then value), joined with `&`. Also the query the URL carries.
fn canonical_query(params: &[(String, String)]) -> String {
    let mut encoded: Vec<(String, String)> = params
        .iter()
        .map(|(name, value)| (uri_encode(name, false), uri_encode(value, false)))
        .collect();
    encoded.sort();
    encoded
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
fn percent_decode(input: &str) -> Result<String, StorageError> {
    let invalid = || StorageError::InvalidRequest("malformed query string");
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        match bytes[index] {
            b'%' => {
                let hex = bytes.get(index + 1..index + 3).ok_or_else(invalid)?;
                let hex = std::str::from_utf8(hex).map_err(|_| invalid())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| invalid())?);
                index += 3;
            }
            b'+' => {
                out.push(b' ');
                index += 1;
            }
            byte => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| invalid())
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// `20130524T000000Z`.
fn amz_date(time: DateTime<Utc>) -> String {
    time.format("%Y%m%dT%H%M%SZ").to_string()
}

/// `20130524`.
fn amz_day(time: DateTime<Utc>) -> String {
    time.format("%Y%m%d").to_string()
}

/// The credentials and scope of SigV4 signatures (service `s3`).
struct SigV4<'a> {
    access_key: &'a str,
    secret_key: &'a str,
    region: &'a str,
}

/// What a SigV4 signature covers.
struct CanonicalRequest<'a> {
    method: &'a str,
    /// The path, not yet encoded; starts with `/`.
    path: &'a str,
    /// Query parameters, not yet encoded (without `X-Amz-Signature`).
    query: &'a [(String, String)],
    /// Signed headers: lower-case names, values as sent.
    headers: &'a [(String, String)],
    /// Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`.
    payload_hash: &'a str,
}

impl CanonicalRequest<'_> {
    /// `host;range;x-amz-date`: the sorted header names.
    fn signed_headers(&self) -> String {
        let mut names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        names.sort_unstable();
        names.join(";")
    }

    fn render(&self) -> String {
        let mut headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let value = value.split_whitespace().collect::<Vec<_>>().join(" ");
                (name.as_str(), value)
            })
            .collect();
        headers.sort();
        let canonical_headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}:{value}\n"))
            .collect();
        format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            self.method,
            uri_encode(self.path, true),
            canonical_query(self.query),
            canonical_headers,
            self.signed_headers(),
            self.payload_hash,
        )
    }
}

impl SigV4<'_> {
    /// `AKID/20130524/us-east-1/s3/aws4_request`.
    fn credential(&self, time: DateTime<Utc>) -> String {
        format!(
            "{}/{}/{}/s3/aws4_request",
            self.access_key,
            amz_day(time),
            self.region
        )
    }

    /// The hex signature of a canonical request made at `time`.
    fn signature(&self, request: &CanonicalRequest<'_>, time: DateTime<Utc>) -> String {
        let day = amz_day(time);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{}\n{day}/{}/s3/aws4_request\n{}",
            amz_date(time),
            self.region,
            sha256_hex(request.render().as_bytes()),
        );
        let key = hmac_sha256(
            format!("AWS4{}", self.secret_key).as_bytes(),
            day.as_bytes(),
        );
        let key = hmac_sha256(&key, self.region.as_bytes());
        let key = hmac_sha256(&key, b"s3");
        let key = hmac_sha256(&key, b"aws4_request");
        hex::encode(hmac_sha256(&key, string_to_sign.as_bytes()))
    }

    /// The query string of a presigned URL (signature last). `query` holds
    /// the request's own parameters, `headers` the headers the client must
    /// send (with `host`).
    fn presigned_query(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        time: DateTime<Utc>,
        expires_seconds: u64,
    ) -> String {
        let mut params = query.to_vec();
        let probe = CanonicalRequest {
            method,
            path,
            query: &[],
            headers,
            payload_hash: "UNSIGNED-PAYLOAD",
        };
        params.extend([
            (
                "X-Amz-Algorithm".to_string(),
                "AWS4-HMAC-SHA256".to_string(),
            ),
            ("X-Amz-Credential".to_string(), self.credential(time)),
            ("X-Amz-Date".to_string(), amz_date(time)),
            ("X-Amz-Expires".to_string(), expires_seconds.to_string()),
            ("X-Amz-SignedHeaders".to_string(), probe.signed_headers()),
        ]);
        let request = CanonicalRequest {
            query: &params,
            ..probe
        };
        let signature = self.signature(&request, time);
        format!("{}&X-Amz-Signature={signature}", canonical_query(&params))
    }

    /// The `Authorization` header of a header-signed request. `headers` must
    /// include `host`, `x-amz-content-sha256` and `x-amz-date`.
    fn authorization(&self, request: &CanonicalRequest<'_>, time: DateTime<Utc>) -> String {
        format!(
            "AWS4-HMAC-SHA256 Credential={},SignedHeaders={},Signature={}",
            self.credential(time),
            request.signed_headers(),
            self.signature(request, time),
        )
    }
}

/// Where and how to reach an S3-compatible store.
#[derive(Clone)]
pub struct S3Config {
    /// Scheme, host and optional port, without a path:
    /// `https://s3.ap-south-1.amazonaws.com`, `http://127.0.0.1:9000`.
    pub endpoint: String,
    /// Signing region, e.g. `ap-south-1`.
    pub region: String,
    /// Bucket name (lower-case letters, digits, `.` and `-`).
    pub bucket: String,
    /// Access key id.
    pub access_key: String,
    /// Secret access key.
    pub secret_key: String,
    /// `true`: `endpoint/bucket/key` (most self-hosted servers); `false`:
    /// `bucket.endpoint/key` (virtual-hosted style, AWS's default).
    pub path_style: bool,
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("access_key", &self.access_key)
            .field("secret_key", &"<redacted>")
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// An S3-compatible bucket (AWS S3, or any server that speaks SigV4).
pub struct S3Storage {
    config: S3Config,
    scheme: String,
    /// `host[:port]` of the endpoint, as the Host header carries it.
    endpoint_host: String,
    http: reqwest::Client,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl S3Storage {
    /// Checks the configuration; `http` carries every request the server
    /// makes itself (its TLS provider must be installed).
    pub fn new(config: S3Config, http: reqwest::Client) -> Result<Self, StorageError> {
        let endpoint = reqwest::Url::parse(&config.endpoint)
            .map_err(|_| StorageError::Config("the S3 endpoint is not a URL"))?;
        if !matches!(endpoint.scheme(), "http" | "https") {
            return Err(StorageError::Config(
                "the S3 endpoint must be http or https",
            ));
        }
        if endpoint.path() != "/"
            || endpoint.query().is_some()
            || endpoint.fragment().is_some()
            || !endpoint.username().is_empty()
        {
            return Err(StorageError::Config(
                "the S3 endpoint must be scheme://host[:port] without a path",
            ));
        }
        let host = endpoint
            .host_str()
            .ok_or(StorageError::Config("the S3 endpoint has no host"))?;
        let endpoint_host = match endpoint.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_string(),
        };
        let bucket = &config.bucket;
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-');
        if !bucket_ok {
            return Err(StorageError::Config("invalid S3 bucket name"));
        }
        if config.region.is_empty()
            || !config
                .region
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(StorageError::Config("invalid S3 region"));
        }
        if config.access_key.is_empty() || config.secret_key.is_empty() {
            return Err(StorageError::Config("S3 credentials are missing"));
        }
        Ok(Self {
            scheme: endpoint.scheme().to_string(),
            endpoint_host,
            config,
            http,
        })
    }

    fn signer(&self) -> SigV4<'_> {
        SigV4 {
            access_key: &self.config.access_key,
            secret_key: &self.config.secret_key,
            region: &self.config.region,
        }
    }

    /// The Host header of every request.
    fn host(&self) -> String {
        if self.config.path_style {
            self.endpoint_host.clone()
        } else {
            format!("{}.{}", self.config.bucket, self.endpoint_host)
        }
    }

    /// The unencoded path of the bucket (`key` empty) or of an object.
    fn path(&self, key: &str) -> String {
        if self.config.path_style {
            if key.is_empty() {
                format!("/{}", self.config.bucket)
            } else {
                format!("/{}/{key}", self.config.bucket)
            }
        } else {
            format!("/{key}")
        }
    }

    fn url(&self, path: &str, query: &str) -> String {
        let mut url = format!(
            "{}://{}{}",
            self.scheme,
            self.host(),
            uri_encode(path, true)
        );
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }

    /// A presigned request signed as of `now`.
    fn presign_at(
        &self,
        method: &'static str,
        key: &str,
        query: &[(String, String)],
        client_headers: Vec<(String, String)>,
        now: DateTime<Utc>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        validate_key(key)?;
        let seconds = expiry_seconds(expires_in)?;
        let now = now.with_nanosecond(0).unwrap_or(now);
        let path = self.path(key);
        let mut signed: Vec<(String, String)> = client_headers
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .collect();
        signed.push(("host".to_string(), self.host()));
        let query = self
            .signer()
            .presigned_query(method, &path, query, &signed, now, seconds);
        Ok(PresignedRequest {
            method,
            url: self.url(&path, &query),
            headers: client_headers,
            expires_at: plus_seconds(now, seconds),
        })
    }

    /// Sends a header-signed request for `key` (the bucket when empty).
    async fn send(
        &self,
        method: reqwest::Method,
        key: &str,
        extra_headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<reqwest::Response, StorageError> {
        let now = Utc::now();
        let path = self.path(key);
        let payload_hash = sha256_hex(&body);
        let mut headers: Vec<(String, String)> = vec![
            ("host".to_string(), self.host()),
            ("x-amz-content-sha256".to_string(), payload_hash.clone()),
            ("x-amz-date".to_string(), amz_date(now)),
        ];
        if method == reqwest::Method::PUT {
            headers.push(("content-length".to_string(), body.len().to_string()));
        }
        headers.extend(
            extra_headers
                .iter()
                .map(|(name, value)| (name.to_ascii_lowercase(), value.clone())),
        );
        let canonical = CanonicalRequest {
            method: method.as_str(),
            path: &path,
            query: &[],
            headers: &headers,
            payload_hash: &payload_hash,
        };
        let authorization = self.signer().authorization(&canonical, now);
        let mut request = self
            .http
            .request(method, self.url(&path, ""))
            .timeout(S3_REQUEST_TIMEOUT)
            .header("authorization", authorization);
        for (name, value) in headers.iter().filter(|(name, _)| name != "host") {
            request = request.header(name.as_str(), value.as_str());
        }
        if !body.is_empty() {
            request = request.body(body);
        }
        request.send().await.map_err(transport_error)
    }

    /// Creates the bucket unless it exists and is ours (for tests and
    /// development set-ups; production buckets are provisioned separately).
    pub async fn create_bucket_if_missing(&self) -> Result<(), StorageError> {
        // Outside us-east-1, S3 wants the region in the body.
        let body = if self.config.region == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.config.region
            )
            .into_bytes()
        };
        let response = self.send(reqwest::Method::PUT, "", &[], body).await?;
        if response.status().is_success() {
            return Ok(());
        }
        let error = status_error(response).await;
        match &error {
            StorageError::Status {
                code: Some(code), ..
            } if code == "BucketAlreadyOwnedByYou" => Ok(()),
            // Some servers say "exists" for a bucket we own: it is ours when
            // our credentials can read it.
            StorageError::Status {
                code: Some(code), ..
            } if code == "BucketAlreadyExists" => {
                let head = self
                    .send(reqwest::Method::HEAD, "", &[], Vec::new())
                    .await?;
                if head.status().is_success() {
                    Ok(())
                } else {
                    Err(error)
                }
            }
            _ => Err(error),
        }
    }
}

fn transport_error(error: reqwest::Error) -> StorageError {
    // The URL may be a signed one; drop it from the message.
    let error = error.without_url();
    let mut message = error.to_string();
    if let Some(source) = std::error::Error::source(&error) {
        message.push_str(": ");
        message.push_str(&source.to_string());
    }
    StorageError::Transport(message)
}

/// The error of a non-success answer, with the S3 `<Code>` from its body.
async fn status_error(mut response: reqwest::Response) -> StorageError {
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while body.len() < 8192 {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let text = String::from_utf8_lossy(&body);
    let code = text
        .split_once("<Code>")
        .and_then(|(_, rest)| rest.split_once("</Code>"))
        .map(|(code, _)| code.trim().to_string())
        .filter(|code| {
            !code.is_empty()
                && code.len() <= 64
                && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.')
        });
    StorageError::Status { status, code }
}

#[async_trait]
impl ObjectStorage for S3Storage {
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        validate_content_type(content_type)?;
        let headers = vec![
            ("Content-Type".to_string(), content_type.to_string()),
            ("Content-Length".to_string(), content_length.to_string()),
        ];
        self.presign_at("PUT", key, &[], headers, Utc::now(), expires_in)
    }

    fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        download_name: Option<&str>,
    ) -> Result<PresignedRequest, StorageError> {
        let mut query = Vec::new();
        if let Some(name) = download_name {
            validate_download_name(name)?;
            query.push((
                "response-content-disposition".to_string(),
                content_disposition(name),
            ));
        }
        self.presign_at("GET", key, &query, Vec::new(), Utc::now(), expires_in)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        validate_key(key)?;
        let response = self
            .send(reqwest::Method::HEAD, key, &[], Vec::new())
            .await?;
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !response.status().is_success() {
            return Err(status_error(response).await);
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .map(str::to_string)
        };
        // A HEAD answer has no body, so the header is the only size there is.
        let size = header("content-length")
            .and_then(|value| value.parse::<u64>().ok())
            .ok_or_else(|| {
                StorageError::Transport("the HEAD answer had no Content-Length".to_string())
            })?;
        Ok(Some(ObjectInfo {
            size,
            content_type: header("content-type"),
        }))
    }

    async fn read_prefix(&self, key: &str, len: usize) -> Result<Vec<u8>, StorageError> {
        validate_key(key)?;
        let range = format!("bytes=0-{}", len.saturating_sub(1));
        let mut response = self
            .send(reqwest::Method::GET, key, &[("range", range)], Vec::new())
            .await?;
        match response.status().as_u16() {
            200 | 206 => {}
            404 => return Err(StorageError::NotFound),
            // An empty object has no byte 0.
            416 => return Ok(Vec::new()),
            _ => return Err(status_error(response).await),
        }
        if len == 0 {
            return Ok(Vec::new());
        }
        let mut prefix = Vec::with_capacity(len.min(64 * 1024));
        // A server that ignores Range sends everything; stop reading early.
        while prefix.len() < len {
            match response.chunk().await.map_err(transport_error)? {
                Some(chunk) => prefix.extend_from_slice(&chunk),
                None => break,
            }
        }
        prefix.truncate(len);
        Ok(prefix)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        let response = self
            .send(reqwest::Method::DELETE, key, &[], Vec::new())
            .await?;
        if response.status().is_success() || response.status() == reqwest::StatusCode::NOT_FOUND {
            Ok(())
        } else {
            Err(status_error(response).await)
        }
    }

    fn backend(&self) -> &'static str {
        "s3"
    }
}

/// What a verified [`LocalStorage`] URL allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedLocalRequest {
    /// For a PUT: the Content-Type the upload must carry.
    pub content_type: Option<String>,
    /// For a PUT: the exact number of bytes the upload must have.
    pub content_length: Option<u64>,
    /// For a GET: the file name for `Content-Disposition: attachment`.
    pub download_name: Option<String>,
}

/// Files under a directory, the development default. Presigned URLs point at
/// the API's own `/storage/{key}` routes, which check them with
/// [`verify`](Self::verify) and then use [`write_stream`](Self::write_stream)
/// or [`open`](Self::open).
pub struct LocalStorage {
    root: PathBuf,
    base_url: String,
    secret: Vec<u8>,
}

impl fmt::Debug for LocalStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalStorage")
            .field("root", &self.root)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

/// The fields a [`LocalStorage`] URL signs.
struct LocalClaims<'a> {
    method: &'a str,
    key: &'a str,
    expires: i64,
    content_type: &'a str,
    content_length: Option<u64>,
    download_name: &'a str,
}

impl LocalClaims<'_> {
    fn mac(&self, secret: &[u8]) -> HmacSha256 {
        let expires = self.expires.to_string();
        let length = self
            .content_length
            .map(|length| length.to_string())
            .unwrap_or_default();
        // Length-prefixed fields: no choice of values can make two different
        // claims produce the same signed bytes.
        let mut canonical = String::from("fluxorae-local-storage-v1\n");
        for field in [
            self.method,
            self.key,
            expires.as_str(),
            self.content_type,
            length.as_str(),
            self.download_name,
        ] {
            canonical.push_str(&format!("{}:{field}\n", field.len()));
        }
        let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC accepts any key length");
        mac.update(canonical.as_bytes());
        mac
    }
}

impl LocalStorage {
    /// Files under `root`; URLs start with `base_url` (the API's public
    /// origin, e.g. `http://127.0.0.1:8080`) and are signed with `secret`
    /// (at least 32 bytes).
    pub fn new(
        root: impl Into<PathBuf>,
        base_url: impl Into<String>,
        secret: impl Into<Vec<u8>>,
    ) -> Result<Self, StorageError> {
        let base_url = base_url.into().trim_end_matches('/').to_string();
        let secret = secret.into();
        if secret.len() < 32 {
            return Err(StorageError::Config(
                "the local storage secret must have at least 32 bytes",
            ));
        }
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(StorageError::Config(
                "the local storage base URL must be http or https",
            ));
        }
        Ok(Self {
            root: root.into(),
            base_url,
            secret,
        })
    }

    /// The directory holding the files.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path_of(&self, key: &str) -> Result<PathBuf, StorageError> {
        validate_key(key)?;
        Ok(self.root.join(key))
    }

    fn presign_at(
        &self,
        claims: LocalClaims<'_>,
        now: DateTime<Utc>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        validate_key(claims.key)?;
        let seconds = expiry_seconds(expires_in)?;
        let now = now.with_nanosecond(0).unwrap_or(now);
        let expires_at = plus_seconds(now, seconds);
        let claims = LocalClaims {
            expires: expires_at.timestamp(),
            ..claims
        };
        let signature = hex::encode(claims.mac(&self.secret).finalize().into_bytes());
        let mut query = format!("method={}&expires={}", claims.method, claims.expires);
        if let Some(length) = claims.content_length {
            query.push_str(&format!(
                "&ct={}&len={length}",
                uri_encode(claims.content_type, false)
            ));
        }
        if !claims.download_name.is_empty() {
            query.push_str(&format!(
                "&name={}",
                uri_encode(claims.download_name, false)
            ));
        }
        query.push_str(&format!("&sig={signature}"));
        let mut headers = Vec::new();
        if let Some(length) = claims.content_length {
            headers.push(("Content-Type".to_string(), claims.content_type.to_string()));
            headers.push(("Content-Length".to_string(), length.to_string()));
        }
        Ok(PresignedRequest {
            method: if claims.method == "PUT" { "PUT" } else { "GET" },
            url: format!(
                "{}/storage/{}?{query}",
                self.base_url,
                uri_encode(claims.key, true)
            ),
            headers,
            expires_at,
        })
    }

    /// Checks a request to `/storage/{key}`: `method` is the request's
    /// (`PUT`, or `GET` for GET and HEAD), `key` the decoded path after
    /// `/storage/`, `query` the raw query string. Answers what the URL allows;
    /// [`StorageError::BadSignature`] for any tampering,
    /// [`StorageError::Expired`] for an authentic URL past its time.
    pub fn verify(
        &self,
        method: &str,
        key: &str,
        query: &str,
    ) -> Result<SignedLocalRequest, StorageError> {
        self.verify_at(method, key, query, Utc::now())
    }

    fn verify_at(
        &self,
        method: &str,
        key: &str,
        query: &str,
        now: DateTime<Utc>,
    ) -> Result<SignedLocalRequest, StorageError> {
        validate_key(key)?;
        let mut params: Vec<(String, String)> = Vec::new();
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = percent_decode(name)?;
            if params.iter().any(|(seen, _)| *seen == name) {
                return Err(StorageError::InvalidRequest("repeated query parameter"));
            }
            params.push((name, percent_decode(value)?));
        }
        let param = |name: &str| {
            params
                .iter()
                .find(|(seen, _)| seen == name)
                .map(|(_, value)| value.as_str())
        };
        let missing = StorageError::InvalidRequest("missing signed URL parameters");
        let signed_method = param("method").ok_or(missing)?;
        if signed_method != method || !matches!(method, "PUT" | "GET") {
            return Err(StorageError::BadSignature);
        }
        let expires = param("expires")
            .and_then(|value| value.parse::<i64>().ok())
            .ok_or(StorageError::InvalidRequest("invalid expiry"))?;
        let signature = param("sig")
            .and_then(|value| hex::decode(value).ok())
            .ok_or(StorageError::BadSignature)?;
        let (content_type, content_length) = if method == "PUT" {
            let content_type = param("ct").ok_or(StorageError::InvalidRequest(
                "missing signed URL parameters",
            ))?;
            let length = param("len")
                .and_then(|value| value.parse::<u64>().ok())
                .ok_or(StorageError::InvalidRequest("invalid length"))?;
            (content_type, Some(length))
        } else {
            ("", None)
        };
        let download_name = if method == "GET" {
            param("name").unwrap_or_default()
        } else {
            ""
        };
        let claims = LocalClaims {
            method,
            key,
            expires,
            content_type,
            content_length,
            download_name,
        };
        // `verify_slice` compares in constant time.
        claims
            .mac(&self.secret)
            .verify_slice(&signature)
            .map_err(|_| StorageError::BadSignature)?;
        if now.timestamp() > expires {
            return Err(StorageError::Expired);
        }
        Ok(SignedLocalRequest {
            content_type: content_length.map(|_| content_type.to_string()),
            content_length,
            download_name: (!download_name.is_empty()).then(|| download_name.to_string()),
        })
    }

    /// Writes an upload body under `key`: into a temporary file next to it,
    /// renamed into place only once complete, so readers never see a partial
    /// file. Refuses (and leaves nothing behind) when the body has more than
    /// `max_len` bytes. Answers the number of bytes written.
    pub async fn write_stream<S, B, E>(
        &self,
        key: &str,
        body: S,
        max_len: u64,
    ) -> Result<u64, StorageError>
    where
        S: Stream<Item = Result<B, E>> + Send,
        B: AsRef<[u8]> + Send,
        E: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let path = self.path_of(key)?;
        let parent = path.parent().ok_or(StorageError::InvalidKey)?.to_path_buf();
        tokio::fs::create_dir_all(&parent).await?;
        // Keys have no segment starting with '.', so a temporary name can
        // never be, or be read as, an object.
        let temporary = parent.join(format!(".{}.part", uuid::Uuid::new_v4().simple()));
        let written = async {
            let mut file = tokio::fs::File::create(&temporary).await?;
            let mut body = std::pin::pin!(body);
            let mut total: u64 = 0;
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|error| StorageError::Body(error.into()))?;
                let bytes = chunk.as_ref();
                total = total.saturating_add(bytes.len() as u64);
                if total > max_len {
                    return Err(StorageError::TooLarge { max: max_len });
                }
                file.write_all(bytes).await?;
            }
            file.sync_all().await?;
            Ok(total)
        }
        .await;
        let renamed = match written {
            Ok(total) => tokio::fs::rename(&temporary, &path)
                .await
                .map(|()| total)
                .map_err(StorageError::from),
            Err(error) => Err(error),
        };
        if renamed.is_err() {
            let _ = tokio::fs::remove_file(&temporary).await;
        }
        renamed
    }

    /// Opens the file under `key` for reading.
    pub async fn open(&self, key: &str) -> Result<tokio::fs::File, StorageError> {
        let path = self.path_of(key)?;
        let file = tokio::fs::File::open(&path)
            .await
            .map_err(not_found_or_io)?;
        if !file.metadata().await?.is_file() {
            return Err(StorageError::NotFound);
        }
        Ok(file)
    }
}

fn not_found_or_io(error: std::io::Error) -> StorageError {
    match error.kind() {
        std::io::ErrorKind::NotFound
        | std::io::ErrorKind::NotADirectory
        | std::io::ErrorKind::IsADirectory => StorageError::NotFound,
        _ => StorageError::Io(error),
    }
}

#[async_trait]
impl ObjectStorage for LocalStorage {
    fn presign_put(
        &self,
        key: &str,
        content_type: &str,
        content_length: u64,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        validate_content_type(content_type)?;
        let claims = LocalClaims {
            method: "PUT",
            key,
            expires: 0,
            content_type,
            content_length: Some(content_length),
            download_name: "",
        };
        self.presign_at(claims, Utc::now(), expires_in)
    }

    fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        download_name: Option<&str>,
    ) -> Result<PresignedRequest, StorageError> {
        if let Some(name) = download_name {
            validate_download_name(name)?;
        }
        let claims = LocalClaims {
            method: "GET",
            key,
            expires: 0,
            content_type: "",
            content_length: None,
            download_name: download_name.unwrap_or_default(),
        };
        self.presign_at(claims, Utc::now(), expires_in)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => Ok(Some(ObjectInfo {
                size: metadata.len(),
                content_type: None,
            })),
            Ok(_) => Ok(None),
            Err(error) => match not_found_or_io(error) {
                StorageError::NotFound => Ok(None),
                other => Err(other),
            },
        }
    }

    async fn read_prefix(&self, key: &str, len: usize) -> Result<Vec<u8>, StorageError> {
        let file = self.open(key).await?;
        let mut prefix = Vec::with_capacity(len.min(64 * 1024));
        file.take(len as u64).read_to_end(&mut prefix).await?;
        Ok(prefix)
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        let path = self.path_of(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(error) => match not_found_or_io(error) {
                StorageError::NotFound => Ok(()),
                other => Err(other),
            },
        }
    }

    fn backend(&self) -> &'static str {
        "local"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SHA-256 of the empty string, the payload hash of body-less requests.
    const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn example_time() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2013-05-24T00:00:00Z")
            .expect("date")
            .with_timezone(&Utc)
    }

    fn example_signer() -> SigV4<'static> {
        SigV4 {
            access_key: ACCESS_KEY,
            secret_key: SECRET_KEY,
            region: "us-east-1",
        }
    }

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    // The "GET object" presigned URL example of the SigV4 documentation.
    #[test]
    fn presigned_get_matches_the_aws_documentation_example() {
        let headers = owned(&[("host", "examplebucket.s3.amazonaws.com")]);
        let query = example_signer().presigned_query(
            "GET",
            "/test.txt",
            &[],
            &headers,
            example_time(),
            86400,
        );
        assert_eq!(
            query,
            "X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\
             &X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn the_presigned_canonical_request_matches_the_aws_documentation() {
        let params = owned(&[
            ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
            (
                "X-Amz-Credential",
                "AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
            ),
            ("X-Amz-Date", "20130524T000000Z"),
            ("X-Amz-Expires", "86400"),
            ("X-Amz-SignedHeaders", "host"),
        ]);
        let headers = owned(&[("host", "examplebucket.s3.amazonaws.com")]);
        let request = CanonicalRequest {
            method: "GET",
            path: "/test.txt",
            query: &params,
            headers: &headers,
            payload_hash: "UNSIGNED-PAYLOAD",
        };
        assert_eq!(
            request.render(),
            "GET\n/test.txt\n\
             X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request\
             &X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host\n\
             host:examplebucket.s3.amazonaws.com\n\nhost\nUNSIGNED-PAYLOAD"
        );
    }

    // The header-signed "GET object" example (Range: bytes=0-9).
    #[test]
    fn header_signed_get_matches_the_aws_documentation_example() {
        let headers = owned(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("range", "bytes=0-9"),
            ("x-amz-content-sha256", EMPTY_SHA256),
            ("x-amz-date", "20130524T000000Z"),
        ]);
        let request = CanonicalRequest {
            method: "GET",
            path: "/test.txt",
            query: &[],
            headers: &headers,
            payload_hash: EMPTY_SHA256,
        };
        assert_eq!(
            example_signer().authorization(&request, example_time()),
            "AWS4-HMAC-SHA256 \
             Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(sha256_hex(b""), EMPTY_SHA256);
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_bytes_and_optionally_slashes() {
        assert_eq!(uri_encode("AZaz09-_.~", false), "AZaz09-_.~");
        assert_eq!(uri_encode("a b/c+d=e&f", true), "a%20b/c%2Bd%3De%26f");
        assert_eq!(uri_encode("a/b", false), "a%2Fb");
        assert_eq!(
            uri_encode("résumé (1).pdf", true),
            "r%C3%A9sum%C3%A9%20%281%29.pdf"
        );
        assert_eq!(uri_encode("*", false), "%2A");
    }

    #[test]
    fn canonical_query_sorts_by_encoded_name_then_value() {
        let params = owned(&[("b", "2"), ("a", "z z"), ("B", "1"), ("a", "y"), ("a~", "")]);
        assert_eq!(canonical_query(&params), "B=1&a=y&a=z%20z&a~=&b=2");
    }

    fn http_client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().build().expect("client")
    }

    fn s3(path_style: bool) -> S3Storage {
        S3Storage::new(
            S3Config {
                endpoint: "http://127.0.0.1:9000".into(),
                region: "ap-south-1".into(),
                bucket: "uploads".into(),
                access_key: ACCESS_KEY.into(),
                secret_key: SECRET_KEY.into(),
                path_style,
            },
            http_client(),
        )
        .expect("valid config")
    }

    #[test]
    fn presigned_puts_sign_host_length_and_type_and_encode_the_key() {
        let storage = s3(true);
        let request = storage
            .presign_at(
                "PUT",
                "org/1/a b.pdf",
                &[],
                owned(&[
                    ("Content-Type", "application/pdf"),
                    ("Content-Length", "42"),
                ]),
                example_time(),
                Duration::from_secs(900),
            )
            .expect("presign");
        assert!(
            request
                .url
                .starts_with("http://127.0.0.1:9000/uploads/org/1/a%20b.pdf?")
        );
        assert!(
            request
                .url
                .contains("X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost")
        );
        assert!(request.url.contains("X-Amz-Expires=900&"));
        assert_eq!(request.expires_at, plus_seconds(example_time(), 900));
        assert_eq!(
            request.headers[0],
            ("Content-Type".into(), "application/pdf".into())
        );
        assert!(!format!("{request:?}").contains("X-Amz-Signature"));

        let virtual_host = s3(false)
            .presign_get("k", Duration::from_secs(60), Some("Report Q1.pdf"))
            .expect("presign");
        assert!(
            virtual_host
                .url
                .starts_with("http://uploads.127.0.0.1:9000/k?")
        );
        assert!(virtual_host.url.contains(
            "response-content-disposition=attachment%3B%20filename%2A%3DUTF-8%27%27Report%2520Q1.pdf"
        ));
    }

    #[test]
    fn presigning_refuses_bad_expiry_keys_and_content_types() {
        let storage = s3(true);
        let too_long = MAX_PRESIGN_EXPIRY + Duration::from_secs(1);
        assert!(matches!(
            storage.presign_put("k", "text/plain", 1, too_long),
            Err(StorageError::InvalidRequest(_))
        ));
        assert!(
            storage
                .presign_put("k", "text/plain", 1, MAX_PRESIGN_EXPIRY)
                .is_ok()
        );
        assert!(matches!(
            storage.presign_get("k", Duration::from_millis(500), None),
            Err(StorageError::InvalidRequest(_))
        ));
        assert!(matches!(
            storage.presign_put("../k", "text/plain", 1, Duration::from_secs(60)),
            Err(StorageError::InvalidKey)
        ));
        assert!(matches!(
            storage.presign_put("k", "text/plain\r\nx-evil: 1", 1, Duration::from_secs(60)),
            Err(StorageError::InvalidRequest(_))
        ));
    }

    #[test]
    fn s3_configuration_is_checked_and_debug_hides_the_secret() {
        let config = S3Config {
            endpoint: "https://s3.ap-south-1.amazonaws.com/some/path".into(),
            region: "ap-south-1".into(),
            bucket: "uploads".into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            path_style: false,
        };
        assert!(!format!("{config:?}").contains(SECRET_KEY));
        let http = http_client();
        assert!(S3Storage::new(config.clone(), http.clone()).is_err());
        let config = S3Config {
            endpoint: "https://s3.ap-south-1.amazonaws.com".into(),
            ..config
        };
        let storage = S3Storage::new(config.clone(), http.clone()).expect("valid");
        assert_eq!(storage.host(), "uploads.s3.ap-south-1.amazonaws.com");
        assert!(!format!("{storage:?}").contains(SECRET_KEY));
        let bad_bucket = S3Config {
            bucket: "Up/loads".into(),
            ..config
        };
        assert!(S3Storage::new(bad_bucket, http).is_err());
    }

    #[test]
    fn keys_follow_one_rule() {
        for good in [
            "a",
            "uploads/2026/a b (1).pdf",
            "org/résumé.pdf",
            "a.b/c-d_e~f",
        ] {
            assert!(validate_key(good).is_ok(), "{good}");
        }
        let long = "a".repeat(MAX_KEY_BYTES + 1);
        for bad in [
            "",
            "/a",
            "../a",
            "a/../b",
            "a/..",
            "a..b",
            "a//b",
            "a/",
            ".env",
            "a/.hidden",
            "./a",
            "a\\b",
            "a\nb",
            "a\0b",
            long.as_str(),
        ] {
            assert!(
                matches!(validate_key(bad), Err(StorageError::InvalidKey)),
                "{bad:?}"
            );
        }
    }

    const LOCAL_SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn local(root: &Path) -> LocalStorage {
        LocalStorage::new(root, "http://127.0.0.1:8080/", LOCAL_SECRET).expect("local storage")
    }

    /// Splits a local presigned URL into its key (decoded, as a router
    /// would) and raw query.
    fn route(url: &str) -> (String, String) {
        let rest = url
            .strip_prefix("http://127.0.0.1:8080/storage/")
            .expect("points at the API's storage route");
        let (path, query) = rest.split_once('?').expect("query");
        (percent_decode(path).expect("path"), query.to_string())
    }

    #[test]
    fn local_urls_verify_for_what_they_were_signed_for() {
        let storage = local(Path::new("/nonexistent"));
        let put = storage
            .presign_put(
                "org/1/a b+c.pdf",
                "application/pdf",
                42,
                Duration::from_secs(600),
            )
            .expect("presign");
        assert_eq!(put.method, "PUT");
        assert_eq!(
            put.headers,
            owned(&[
                ("Content-Type", "application/pdf"),
                ("Content-Length", "42")
            ])
        );
        let (key, query) = route(&put.url);
        assert_eq!(key, "org/1/a b+c.pdf");
        assert_eq!(
            storage.verify("PUT", &key, &query).expect("valid"),
            SignedLocalRequest {
                content_type: Some("application/pdf".into()),
                content_length: Some(42),
                download_name: None,
            }
        );

        let get = storage
            .presign_get("org/1/x", Duration::from_secs(600), Some("Résumé & co.pdf"))
            .expect("presign");
        let (key, query) = route(&get.url);
        assert_eq!(
            storage.verify("GET", &key, &query).expect("valid"),
            SignedLocalRequest {
                content_type: None,
                content_length: None,
                download_name: Some("Résumé & co.pdf".into()),
            }
        );
        let plain = storage
            .presign_get("org/1/x", Duration::from_secs(600), None)
            .expect("presign");
        let (key, query) = route(&plain.url);
        assert_eq!(
            storage
                .verify("GET", &key, &query)
                .expect("valid")
                .download_name,
            None
        );
    }

    #[test]
    fn tampered_local_urls_are_refused() {
        let storage = local(Path::new("/nonexistent"));
        let put = storage
            .presign_put(
                "org/1/a.pdf",
                "application/pdf",
                42,
                Duration::from_secs(600),
            )
            .expect("presign");
        let (key, query) = route(&put.url);
        let tampered = [
            ("PUT", "org/1/b.pdf", query.clone()),
            ("GET", key.as_str(), query.clone()),
            ("PUT", key.as_str(), query.replace("len=42", "len=4200")),
            (
                "PUT",
                key.as_str(),
                query.replace("application%2Fpdf", "text%2Fhtml"),
            ),
            (
                "PUT",
                key.as_str(),
                query.replace("method=PUT", "method=GET"),
            ),
        ];
        for (method, key, query) in &tampered {
            assert!(
                matches!(
                    storage.verify(method, key, query),
                    Err(StorageError::BadSignature)
                ),
                "{method} {key} {query}"
            );
        }
        let expires = query
            .split('&')
            .find_map(|pair| pair.strip_prefix("expires="))
            .expect("expires")
            .parse::<i64>()
            .expect("number");
        let later = query.replace(
            &format!("expires={expires}"),
            &format!("expires={}", expires + 3600),
        );
        assert!(matches!(
            storage.verify("PUT", &key, &later),
            Err(StorageError::BadSignature)
        ));
        let other_secret =
            LocalStorage::new("/nonexistent", "http://127.0.0.1:8080", [7u8; 32]).expect("local");
        assert!(matches!(
            other_secret.verify("PUT", &key, &query),
            Err(StorageError::BadSignature)
        ));
        let doubled = format!("{query}&len=1");
        assert!(storage.verify("PUT", &key, &doubled).is_err());
        let error = storage
            .verify("PUT", "org/1/b.pdf", &query)
            .expect_err("refused");
        let signature = query.rsplit("sig=").next().expect("signature");
        assert!(!error.to_string().contains(signature));
        assert!(!format!("{error:?}").contains(signature));
    }

    #[test]
    fn expired_local_urls_are_refused() {
        let storage = local(Path::new("/nonexistent"));
        let claims = LocalClaims {
            method: "GET",
            key: "a",
            expires: 0,
            content_type: "",
            content_length: None,
            download_name: "",
        };
        let signed_at = Utc::now() - chrono::Duration::seconds(120);
        let get = storage
            .presign_at(claims, signed_at, Duration::from_secs(60))
            .expect("presign");
        let (key, query) = route(&get.url);
        assert!(matches!(
            storage.verify("GET", &key, &query),
            Err(StorageError::Expired)
        ));
        assert!(
            storage
                .verify_at(
                    "GET",
                    &key,
                    &query,
                    signed_at + chrono::Duration::seconds(30)
                )
                .is_ok()
        );
    }

    #[test]
    fn local_verification_refuses_path_traversal() {
        let storage = local(Path::new("/nonexistent"));
        for key in ["../etc/passwd", "/etc/passwd", "a/../../b", "a/./b"] {
            assert!(matches!(
                storage.verify("GET", key, "method=GET&expires=9999999999&sig=00"),
                Err(StorageError::InvalidKey)
            ));
        }
        assert!(matches!(
            storage.presign_get("../a", Duration::from_secs(60), None),
            Err(StorageError::InvalidKey)
        ));
        assert!(LocalStorage::new("/tmp", "http://x", b"short".to_vec()).is_err());
    }

    fn temp_root() -> PathBuf {
        std::env::temp_dir().join(format!(
            "fluxorae-storage-test-{}",
            uuid::Uuid::new_v4().simple()
        ))
    }

    fn chunks(
        parts: &[&'static [u8]],
    ) -> impl Stream<Item = Result<&'static [u8], std::io::Error>> {
        futures_util::stream::iter(parts.iter().map(|part| Ok(*part)).collect::<Vec<_>>())
    }

    #[tokio::test]
    async fn local_round_trip_writes_verifies_and_reads_back() {
        let root = temp_root();
        let storage = local(&root);
        let key = "org/1/report 1.pdf";
        let put = storage
            .presign_put(key, "application/pdf", 12, Duration::from_secs(600))
            .expect("presign");
        let (routed_key, query) = route(&put.url);
        let allowed = storage.verify("PUT", &routed_key, &query).expect("valid");
        let limit = allowed.content_length.expect("length");
        let written = storage
            .write_stream(&routed_key, chunks(&[b"%PDF-", b"1.7 ok"]), limit)
            .await
            .expect("write");
        assert_eq!(written, 11);
        assert_eq!(
            storage.head(key).await.expect("head"),
            Some(ObjectInfo {
                size: 11,
                content_type: None
            })
        );
        assert_eq!(storage.read_prefix(key, 5).await.expect("prefix"), b"%PDF-");
        assert_eq!(
            storage.read_prefix(key, 100).await.expect("prefix").len(),
            11
        );
        let mut file = storage.open(key).await.expect("open");
        let mut content = Vec::new();
        file.read_to_end(&mut content).await.expect("read");
        assert_eq!(content, b"%PDF-1.7 ok");

        storage.delete(key).await.expect("delete");
        assert_eq!(storage.head(key).await.expect("head"), None);
        storage.delete(key).await.expect("deleting twice is fine");
        assert!(matches!(
            storage.open(key).await,
            Err(StorageError::NotFound)
        ));
        assert!(matches!(
            storage.read_prefix(key, 4).await,
            Err(StorageError::NotFound)
        ));
        assert_eq!(storage.head("org/1").await.expect("a directory"), None);
        let _ = std::fs::remove_dir_all(&root);
    }

    #[tokio::test]
    async fn local_writes_refuse_oversized_and_failed_bodies_without_leftovers() {
        let root = temp_root();
        let storage = local(&root);
        let too_big = storage
            .write_stream("a/b", chunks(&[b"12345", b"6789"]), 8)
            .await;
        assert!(matches!(too_big, Err(StorageError::TooLarge { max: 8 })));
        let failing = futures_util::stream::iter(vec![
            Ok(&b"123"[..]),
            Err(std::io::Error::other("client went away")),
        ]);
        assert!(matches!(
            storage.write_stream("a/b", failing, 8).await,
            Err(StorageError::Body(_))
        ));
        assert_eq!(storage.head("a/b").await.expect("head"), None);
        let leftovers = std::fs::read_dir(root.join("a")).expect("dir").count();
        assert_eq!(leftovers, 0);
        assert!(matches!(
            storage.write_stream("../b", chunks(&[b"1"]), 8).await,
            Err(StorageError::InvalidKey)
        ));
        let _ = std::fs::remove_dir_all(&root);
    }
}

/// What uploads may be, for every domain that accepts files.
#[derive(Debug, Clone)]
pub struct UploadPolicy {
    /// Largest upload in bytes.
    pub max_bytes: u64,
    /// Content types accepted (lower-case, e.g. `application/pdf`).
    pub allowed_types: Vec<String>,
    /// How long an upload URL stays valid.
    pub upload_url_ttl: Duration,
    /// How long a download URL stays valid.
    pub download_url_ttl: Duration,
    /// Whether uploads stay quarantined until an antivirus scan passes.
    pub scan: bool,
}

impl Default for UploadPolicy {
    fn default() -> Self {
        Self {
            max_bytes: 25 * 1024 * 1024,
            allowed_types: DEFAULT_ALLOWED_TYPES
                .iter()
                .map(|t| t.to_string())
                .collect(),
            upload_url_ttl: Duration::from_secs(15 * 60),
            download_url_ttl: Duration::from_secs(5 * 60),
            scan: false,
        }
    }
}

/// Types accepted by default: documents, images and archives an agency
/// exchanges with clients. SVG and HTML are left out: served back from our
/// origin they could run script.
pub const DEFAULT_ALLOWED_TYPES: &[&str] = &[
    "application/pdf",
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "text/plain",
    "text/csv",
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "video/mp4",
];

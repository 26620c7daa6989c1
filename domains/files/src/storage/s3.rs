//! Any S3-compatible bucket (AWS S3, R2, MinIO, ...). Requests are signed with
//! `rusty-s3` (sans-IO SigV4, query-string presigning, session tokens) and
//! sent with the server's own reqwest client; the client's uploads and
//! downloads are presigned URLs, and so are the server's own HEAD, ranged
//! GET, PUT and DELETE (valid for a minute).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{Timelike, Utc};
use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

use super::{
    ObjectInfo, ObjectStorage, PresignedRequest, StorageError, content_disposition, expiry_seconds,
    plus_seconds, validate_content_type, validate_download_name, validate_key,
};

/// How long the server's own S3 requests may take.
const S3_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Validity of the URLs the server signs for its own requests.
const SERVER_URL_TTL: Duration = Duration::from_secs(60);

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
    /// Session token of temporary (STS, IAM role) credentials.
    pub session_token: Option<String>,
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
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("path_style", &self.path_style)
            .finish()
    }
}

/// An S3-compatible bucket.
pub struct S3Storage {
    bucket: Bucket,
    credentials: Credentials,
    http: reqwest::Client,
}

impl fmt::Debug for S3Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("S3Storage")
            .field("bucket", &self.bucket.name())
            .field("base_url", &self.bucket.base_url().as_str())
            .field("region", &self.bucket.region())
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
        let style = if config.path_style {
            UrlStyle::Path
        } else {
            UrlStyle::VirtualHost
        };
        let bucket = Bucket::new(endpoint, style, config.bucket, config.region)
            .map_err(|_| StorageError::Config("the bucket cannot be reached in this URL style"))?;
        let credentials = match config.session_token {
            Some(token) => Credentials::new_with_token(config.access_key, config.secret_key, token),
            None => Credentials::new(config.access_key, config.secret_key),
        };
        Ok(Self {
            bucket,
            credentials,
            http,
        })
    }

    /// The presigned request of `action`, valid for `expires_in`.
    fn presign<'a>(
        &self,
        method: &'static str,
        action: impl S3Action<'a>,
        client_headers: Vec<(String, String)>,
        expires_in: Duration,
    ) -> Result<PresignedRequest, StorageError> {
        let seconds = expiry_seconds(expires_in)?;
        let now = Utc::now();
        let now = now.with_nanosecond(0).unwrap_or(now);
        let url = action.sign(Duration::from_secs(seconds));
        Ok(PresignedRequest {
            method,
            url: url.to_string(),
            headers: client_headers,
            expires_at: plus_seconds(now, seconds),
        })
    }

    /// Sends one of the server's own requests: a presigned URL plus exactly
    /// the headers it signed.
    async fn send(
        &self,
        method: reqwest::Method,
        action: impl S3Action<'_>,
        headers: &[(&str, String)],
        body: Option<Vec<u8>>,
    ) -> Result<reqwest::Response, StorageError> {
        let url = action.sign(SERVER_URL_TTL);
        let mut request = self.http.request(method, url).timeout(S3_REQUEST_TIMEOUT);
        for (name, value) in headers {
            request = request.header(*name, value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        request.send().await.map_err(transport_error)
    }

    /// Creates the bucket unless it exists and is ours (for tests and
    /// development set-ups; production buckets are provisioned separately).
    pub async fn create_bucket_if_missing(&self) -> Result<(), StorageError> {
        // Outside us-east-1, S3 wants the region in the body.
        let body = if self.bucket.region() == "us-east-1" {
            Vec::new()
        } else {
            format!(
                "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
                 <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
                self.bucket.region()
            )
            .into_bytes()
        };
        let create = self.bucket.create_bucket(&self.credentials);
        let response = self
            .send(reqwest::Method::PUT, create, &[], Some(body))
            .await?;
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
                let head = self.bucket.head_bucket(Some(&self.credentials));
                let head = self.send(reqwest::Method::HEAD, head, &[], None).await?;
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
    // The URL is a signed one; drop it from the message.
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
        validate_key(key)?;
        validate_content_type(content_type)?;
        let length = content_length.to_string();
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        // Signed, so the URL only works for this type and length, and only
        // while the key is empty where the server honours If-None-Match.
        let headers = action.headers_mut();
        headers.insert("content-type", content_type);
        headers.insert("content-length", length.as_str());
        headers.insert("if-none-match", "*");
        let client_headers = vec![
            ("Content-Type".to_string(), content_type.to_string()),
            ("Content-Length".to_string(), length.clone()),
            ("If-None-Match".to_string(), "*".to_string()),
        ];
        self.presign("PUT", action, client_headers, expires_in)
    }

    fn presign_get(
        &self,
        key: &str,
        expires_in: Duration,
        download_name: Option<&str>,
    ) -> Result<PresignedRequest, StorageError> {
        validate_key(key)?;
        let mut action = self.bucket.get_object(Some(&self.credentials), key);
        if let Some(name) = download_name {
            validate_download_name(name)?;
            action
                .query_mut()
                .insert("response-content-disposition", content_disposition(name));
        }
        self.presign("GET", action, Vec::new(), expires_in)
    }

    async fn head(&self, key: &str) -> Result<Option<ObjectInfo>, StorageError> {
        validate_key(key)?;
        let action = self.bucket.head_object(Some(&self.credentials), key);
        let response = self.send(reqwest::Method::HEAD, action, &[], None).await?;
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
        let mut action = self.bucket.get_object(Some(&self.credentials), key);
        action.headers_mut().insert("range", range.as_str());
        let mut response = self
            .send(
                reqwest::Method::GET,
                action,
                &[("range", range.clone())],
                None,
            )
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

    async fn put_new(
        &self,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StorageError> {
        validate_key(key)?;
        validate_content_type(content_type)?;
        let length = bytes.len().to_string();
        let mut action = self.bucket.put_object(Some(&self.credentials), key);
        let signed = action.headers_mut();
        signed.insert("content-type", content_type);
        signed.insert("content-length", length.as_str());
        signed.insert("if-none-match", "*");
        let headers = [
            ("content-type", content_type.to_string()),
            ("content-length", length.clone()),
            ("if-none-match", "*".to_string()),
        ];
        let response = self
            .send(reqwest::Method::PUT, action, &headers, Some(bytes))
            .await?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            // 409: a conditional write raced with another one.
            412 | 409 => Err(StorageError::AlreadyExists),
            _ => Err(status_error(response).await),
        }
    }

    async fn delete(&self, key: &str) -> Result<(), StorageError> {
        validate_key(key)?;
        let action = self.bucket.delete_object(Some(&self.credentials), key);
        let response = self
            .send(reqwest::Method::DELETE, action, &[], None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::MAX_PRESIGN_EXPIRY;

    const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
    const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";

    fn http_client() -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().build().expect("client")
    }

    fn config(endpoint: &str, path_style: bool) -> S3Config {
        S3Config {
            endpoint: endpoint.into(),
            region: "ap-south-1".into(),
            bucket: "uploads".into(),
            access_key: ACCESS_KEY.into(),
            secret_key: SECRET_KEY.into(),
            session_token: None,
            path_style,
        }
    }

    fn s3(path_style: bool) -> S3Storage {
        S3Storage::new(config("http://127.0.0.1:9000", path_style), http_client())
            .expect("valid config")
    }

    #[test]
    fn presigned_puts_sign_host_length_type_and_write_once_and_encode_the_key() {
        let storage = s3(true);
        let request = storage
            .presign_put(
                "org/1/a b.pdf",
                "application/pdf",
                42,
                Duration::from_secs(900),
            )
            .expect("presign");
        assert!(
            request
                .url
                .starts_with("http://127.0.0.1:9000/uploads/org/1/a%20b.pdf?"),
            "{}",
            request.url
        );
        assert!(
            request.url.contains(
                "X-Amz-SignedHeaders=content-length%3Bcontent-type%3Bhost%3Bif-none-match"
            ),
            "{}",
            request.url
        );
        assert!(request.url.contains("X-Amz-Expires=900&"));
        assert_eq!(
            request.headers,
            vec![
                ("Content-Type".to_string(), "application/pdf".to_string()),
                ("Content-Length".to_string(), "42".to_string()),
                ("If-None-Match".to_string(), "*".to_string()),
            ]
        );
        assert!(!format!("{request:?}").contains("X-Amz-Signature"));

        let virtual_host = S3Storage::new(config("https://s3.example.com", false), http_client())
            .expect("valid")
            .presign_get("k", Duration::from_secs(60), Some("Report Q1.pdf"))
            .expect("presign");
        assert!(
            virtual_host
                .url
                .starts_with("https://uploads.s3.example.com/k?"),
            "{}",
            virtual_host.url
        );
        assert!(virtual_host.url.contains(
            "response-content-disposition=attachment%3B%20filename%2A%3DUTF-8%27%27Report%2520Q1.pdf"
        ), "{}", virtual_host.url);
    }

    #[test]
    fn session_tokens_travel_in_the_signed_url() {
        let storage = S3Storage::new(
            S3Config {
                session_token: Some("the-session-token".into()),
                ..config("http://127.0.0.1:9000", true)
            },
            http_client(),
        )
        .expect("valid");
        let get = storage
            .presign_get("k", Duration::from_secs(60), None)
            .expect("presign");
        assert!(
            get.url.contains("X-Amz-Security-Token=the-session-token"),
            "{}",
            get.url
        );
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
            session_token: Some("token-secret".into()),
            ..config("https://s3.ap-south-1.amazonaws.com/some/path", false)
        };
        assert!(!format!("{config:?}").contains(SECRET_KEY));
        assert!(!format!("{config:?}").contains("token-secret"));
        let http = http_client();
        assert!(S3Storage::new(config.clone(), http.clone()).is_err());
        let config = S3Config {
            endpoint: "https://s3.ap-south-1.amazonaws.com".into(),
            ..config
        };
        let storage = S3Storage::new(config.clone(), http.clone()).expect("valid");
        assert_eq!(
            storage.bucket.base_url().as_str(),
            "https://uploads.s3.ap-south-1.amazonaws.com/"
        );
        assert!(!format!("{storage:?}").contains(SECRET_KEY));
        let bad_bucket = S3Config {
            bucket: "Up/loads".into(),
            ..config
        };
        assert!(S3Storage::new(bad_bucket, http).is_err());
    }
}

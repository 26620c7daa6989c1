//! Object storage for uploaded files: the [`ObjectStorage`] trait and its two
//! adapters, [`s3::S3Storage`] for any S3-compatible store and
//! [`local::LocalStorage`], files under a directory, the development default.
//!
//! Clients never stream files through GraphQL. An upload is a presigned PUT the
//! client sends straight to the store with exactly the headers it was given,
//! to a key of its own that no other upload uses. On completion the server
//! reads that object once, checks the bytes it read, and writes those same
//! bytes under the file's final key ([`put_new`]), which no presigned URL can
//! write: what was checked is what is served, whatever the client PUTs later.
//! Both adapters refuse to overwrite an object (the S3 upload URL signs
//! `If-None-Match: *`). Downloads are presigned GETs.
//!
//! Object keys follow one rule for both adapters (see [`validate_key`]), so a
//! key that works in development works in production.
//!
//! [`put_new`]: ObjectStorage::put_new

pub mod local;
pub mod s3;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use kernel::AppError;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use local::{LocalStorage, SignedLocalRequest};
pub use s3::{S3Config, S3Storage};

/// The longest validity a presigned request may have: SigV4's limit, 7 days.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// The longest object key accepted (S3's limit, in UTF-8 bytes).
pub const MAX_KEY_BYTES: usize = 1024;

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
    /// The Content-Type stored with the object, when the adapter keeps one
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
    /// The adapter's configuration cannot work.
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
    /// An object exists under the key already; objects are written once.
    #[error("an object exists under this key already")]
    AlreadyExists,
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
            StorageError::AlreadyExists => AppError::conflict(error.to_string()),
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
    /// A presigned PUT for exactly `content_length` bytes of `content_type`
    /// that cannot replace an existing object; the headers it answers
    /// (Content-Type, Content-Length, and `If-None-Match: *` where the
    /// adapter signs it) must be sent as given.
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
    /// checks and scans; [`StorageError::NotFound`] when there is no object.
    async fn read_prefix(&self, key: &str, len: usize) -> Result<Vec<u8>, StorageError>;

    /// Stores `bytes` under `key` from the server itself, only if no object
    /// is there yet ([`StorageError::AlreadyExists`] otherwise).
    async fn put_new(
        &self,
        key: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StorageError>;

    /// Removes the object; removing a missing object succeeds.
    async fn delete(&self, key: &str) -> Result<(), StorageError>;

    /// Adapter name for logs: "s3", "local".
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

pub(crate) fn validate_content_type(content_type: &str) -> Result<(), StorageError> {
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

pub(crate) fn validate_download_name(name: &str) -> Result<(), StorageError> {
    if name.is_empty() || name.len() > 255 || name.chars().any(char::is_control) {
        Err(StorageError::InvalidRequest("invalid download name"))
    } else {
        Ok(())
    }
}

/// Whole seconds of a presigned request's validity, 1 s to 7 days.
pub(crate) fn expiry_seconds(expires_in: Duration) -> Result<u64, StorageError> {
    let seconds = expires_in.as_secs();
    if seconds == 0 || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(StorageError::InvalidRequest(
            "expiry must be between 1 second and 7 days",
        ));
    }
    Ok(seconds)
}

pub(crate) fn plus_seconds(time: DateTime<Utc>, seconds: u64) -> DateTime<Utc> {
    // `seconds` is at most 7 days (checked by `expiry_seconds`), far from overflowing.
    time + chrono::Duration::seconds(seconds as i64)
}

/// Bytes that stay as they are in URLs: `A-Za-z0-9-_.~` (RFC 3986 unreserved).
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// The same, keeping `/` (object paths).
const PATH: &AsciiSet = &QUERY_VALUE.remove(b'/');

/// Percent-encodes as SigV4 and RFC 8187 want: the unreserved bytes stay,
/// every other byte of the UTF-8 becomes `%XX`; `/` stays when `keep_slash`
/// (object paths) and is encoded otherwise (query parameters).
pub fn uri_encode(input: &str, keep_slash: bool) -> String {
    let set = if keep_slash { PATH } else { QUERY_VALUE };
    utf8_percent_encode(input, set).to_string()
}

/// The Content-Disposition of a download named `download_name`:
/// `attachment; filename*=UTF-8''<percent-encoded name>` (RFC 6266, RFC 8187).
pub fn content_disposition(download_name: &str) -> String {
    format!(
        "attachment; filename*=UTF-8''{}",
        uri_encode(download_name, false)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
}

//! Files under a directory, the development default. Presigned URLs point at
//! the API's own `/storage/{key}` routes (see `crate::routes`), signed with an
//! HMAC that [`LocalStorage::verify`] checks. Objects are written once: a
//! write to a key that holds an object is refused.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Timelike, Utc};
use futures_util::{Stream, StreamExt};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{
    ObjectInfo, ObjectStorage, PresignedRequest, StorageError, expiry_seconds, plus_seconds,
    uri_encode, validate_content_type, validate_download_name, validate_key,
};

type HmacSha256 = Hmac<Sha256>;

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
            let name = decode_component(name)?;
            if params.iter().any(|(seen, _)| *seen == name) {
                return Err(StorageError::InvalidRequest("repeated query parameter"));
            }
            params.push((name, decode_component(value)?));
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
    /// linked into place only once complete, so readers never see a partial
    /// file. Refuses (and leaves nothing behind) when the body has more than
    /// `max_len` bytes, and with [`StorageError::AlreadyExists`] when `key`
    /// holds an object. Answers the number of bytes written.
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
        // A hard link never replaces an existing name: this is what makes
        // objects write-once even when two uploads race.
        let linked = match written {
            Ok(total) => match tokio::fs::hard_link(&temporary, &path).await {
                Ok(()) => Ok(total),
                Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
                    Err(StorageError::AlreadyExists)
                }
                Err(error) => Err(StorageError::from(error)),
            },
            Err(error) => Err(error),
        };
        let _ = tokio::fs::remove_file(&temporary).await;
        linked
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

    async fn put_new(
        &self,
        key: &str,
        _content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<(), StorageError> {
        let length = bytes.len() as u64;
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
        self.write_stream(key, body, length).await.map(|_| ())
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

/// Decodes one `application/x-www-form-urlencoded` component (`+` is a space).
fn decode_component(input: &str) -> Result<String, StorageError> {
    percent_encoding::percent_decode_str(&input.replace('+', " "))
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| StorageError::InvalidRequest("malformed query string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
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
        (decode_component(path).expect("path"), query.to_string())
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

    #[tokio::test]
    async fn an_object_is_written_once() {
        let root = temp_root();
        let storage = local(&root);
        storage
            .write_stream("a/b", chunks(&[b"first"]), 8)
            .await
            .expect("first write");
        assert!(matches!(
            storage.write_stream("a/b", chunks(&[b"other"]), 8).await,
            Err(StorageError::AlreadyExists)
        ));
        assert!(matches!(
            storage
                .put_new("a/b", "text/plain", b"other".to_vec())
                .await,
            Err(StorageError::AlreadyExists)
        ));
        assert_eq!(
            storage.read_prefix("a/b", 64).await.expect("read"),
            b"first"
        );
        storage
            .put_new("a/c", "text/plain", b"server".to_vec())
            .await
            .expect("a new key");
        assert_eq!(
            storage.read_prefix("a/c", 64).await.expect("read"),
            b"server"
        );
        let leftovers = std::fs::read_dir(root.join("a")).expect("dir").count();
        assert_eq!(leftovers, 2, "no temporary files stay behind");
        let _ = std::fs::remove_dir_all(&root);
    }
}

//! The files domain's configuration section (every variable is in `.env.example`).

use std::path::PathBuf;
use std::time::Duration;

use kernel::{ConfigError, Env};

use crate::policy::UploadPolicy;

/// Where uploaded files are kept.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageSettings {
    /// Development: files under a folder, served by the API through signed URLs.
    Local {
        /// `LOCAL_STORAGE_DIR` (default `$DATA_DIR/files`).
        dir: PathBuf,
        /// `PUBLIC_BASE_URL`: how clients reach this API (default `http://BIND_ADDR`).
        base_url: String,
    },
    /// Any S3-compatible object storage (AWS S3, MinIO, Cloudflare R2).
    S3 {
        /// `S3_ENDPOINT` (default `https://s3.<region>.amazonaws.com`).
        endpoint: String,
        /// `AWS_REGION` (alias `S3_REGION`).
        region: String,
        /// `S3_BUCKET`.
        bucket: String,
        /// `AWS_ACCESS_KEY_ID` (alias `S3_ACCESS_KEY_ID`).
        access_key: String,
        /// `AWS_SECRET_ACCESS_KEY` (alias `S3_SECRET_ACCESS_KEY`).
        secret_key: String,
        /// `AWS_SESSION_TOKEN`: temporary (STS, IAM role) credentials.
        session_token: Option<String>,
        /// `S3_PATH_STYLE`.
        path_style: bool,
    },
}

impl std::fmt::Debug for StorageSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use kernel::config::REDACTED;
        match self {
            Self::Local { dir, base_url } => f
                .debug_struct("Local")
                .field("dir", dir)
                .field("base_url", base_url)
                .finish(),
            Self::S3 {
                endpoint,
                region,
                bucket,
                access_key,
                secret_key: _,
                session_token,
                path_style,
            } => f
                .debug_struct("S3")
                .field("endpoint", endpoint)
                .field("region", region)
                .field("bucket", bucket)
                .field("access_key", access_key)
                .field("secret_key", &REDACTED)
                .field("session_token", &session_token.as_ref().map(|_| REDACTED))
                .field("path_style", path_style)
                .finish(),
        }
    }
}

/// The files section.
#[derive(Clone)]
pub struct FilesConfig {
    /// `STORAGE_BACKEND` and its variables.
    pub storage: StorageSettings,
    /// `UPLOAD_*`, `DOWNLOAD_URL_TTL_SECS`: what uploads may be.
    pub uploads: UploadPolicy,
    /// `CLAMAV_ADDR`: clamd's host:port; when set, uploads stay quarantined until scanned.
    pub clamav_addr: Option<String>,
    /// `STORAGE_SIGNING_SECRET`: signs the local store's URLs (generated outside production).
    pub storage_secret: Vec<u8>,
}

impl std::fmt::Debug for FilesConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            storage,
            uploads,
            clamav_addr,
            storage_secret: _,
        } = self;
        f.debug_struct("FilesConfig")
            .field("storage", storage)
            .field("uploads", uploads)
            .field("clamav_addr", clamav_addr)
            .field("storage_secret", &kernel::config::REDACTED)
            .finish()
    }
}

impl FilesConfig {
    /// Reads the section.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let storage = match env.get("STORAGE_BACKEND").as_deref() {
            None | Some("local") => StorageSettings::Local {
                dir: env
                    .get("LOCAL_STORAGE_DIR")
                    .map_or_else(|| env.data_dir().join("files"), PathBuf::from),
                base_url: env.get("PUBLIC_BASE_URL").unwrap_or_else(|| {
                    format!(
                        "http://{}",
                        env.get("BIND_ADDR")
                            .unwrap_or_else(|| "127.0.0.1:8080".into())
                    )
                }),
            },
            Some("s3") => {
                // The AWS names work with IAM-role and STS credentials; the
                // S3_* names are the older aliases, kept for one release.
                let region = env
                    .get_any(&["AWS_REGION", "S3_REGION"])
                    .unwrap_or_else(|| "ap-south-1".into());
                StorageSettings::S3 {
                    endpoint: env
                        .get("S3_ENDPOINT")
                        .unwrap_or_else(|| format!("https://s3.{region}.amazonaws.com")),
                    bucket: env.required("S3_BUCKET")?,
                    access_key: env
                        .get_any(&["AWS_ACCESS_KEY_ID", "S3_ACCESS_KEY_ID"])
                        .ok_or_else(|| {
                            ConfigError::new("AWS_ACCESS_KEY_ID", "is required by S3 storage")
                        })?,
                    secret_key: env
                        .get_any(&["AWS_SECRET_ACCESS_KEY", "S3_SECRET_ACCESS_KEY"])
                        .ok_or_else(|| {
                            ConfigError::new("AWS_SECRET_ACCESS_KEY", "is required by S3 storage")
                        })?,
                    session_token: env.get("AWS_SESSION_TOKEN"),
                    path_style: env.parse_bool("S3_PATH_STYLE", false)?,
                    region,
                }
            }
            Some(other) => {
                return Err(ConfigError::new(
                    "STORAGE_BACKEND",
                    format!("{other:?} is not local or s3"),
                ));
            }
        };
        let defaults = UploadPolicy::default();
        let uploads = UploadPolicy {
            max_bytes: env.parse("UPLOAD_MAX_BYTES", defaults.max_bytes)?,
            allowed_types: env
                .get("UPLOAD_ALLOWED_TYPES")
                .map_or(defaults.allowed_types, |list| {
                    list.split(',')
                        .map(|t| t.trim().to_ascii_lowercase())
                        .filter(|t| !t.is_empty())
                        .collect()
                }),
            upload_url_ttl: Duration::from_secs(env.parse("UPLOAD_URL_TTL_SECS", 900)?),
            download_url_ttl: Duration::from_secs(env.parse("DOWNLOAD_URL_TTL_SECS", 300)?),
            scan: env.get("CLAMAV_ADDR").is_some(),
        };
        let storage_secret = match storage {
            StorageSettings::S3 { .. } => Vec::new(),
            StorageSettings::Local { .. } => {
                env.secret("STORAGE_SIGNING_SECRET", "dev-storage-key")?
            }
        };
        Ok(Self {
            storage,
            uploads,
            clamav_addr: env.get("CLAMAV_ADDR"),
            storage_secret,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<FilesConfig, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        FilesConfig::from_env(&Env::new(move |name| map.get(name).cloned())?)
    }

    #[test]
    fn s3_reads_the_aws_names_and_the_older_aliases() {
        let aws = config(&[
            ("APP_ENV", "test"),
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "files"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "token"),
            ("S3_ACCESS_KEY_ID", "older"),
        ])
        .expect("aws names");
        assert_eq!(
            aws.storage,
            StorageSettings::S3 {
                endpoint: "https://s3.eu-west-1.amazonaws.com".into(),
                region: "eu-west-1".into(),
                bucket: "files".into(),
                access_key: "AKIA".into(),
                secret_key: "secret".into(),
                session_token: Some("token".into()),
                path_style: false,
            }
        );
        let older = config(&[
            ("APP_ENV", "test"),
            ("STORAGE_BACKEND", "s3"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_BUCKET", "files"),
            ("S3_REGION", "ap-south-1"),
            ("S3_ACCESS_KEY_ID", "key"),
            ("S3_SECRET_ACCESS_KEY", "secret"),
            ("S3_PATH_STYLE", "true"),
        ])
        .expect("older names");
        assert!(matches!(
            older.storage,
            StorageSettings::S3 { ref region, ref access_key, path_style: true, session_token: None, .. }
                if region == "ap-south-1" && access_key == "key"
        ));
        let missing = config(&[("STORAGE_BACKEND", "s3"), ("S3_BUCKET", "files")])
            .expect_err("no credentials");
        assert!(missing.to_string().contains("AWS_ACCESS_KEY_ID"));
    }
}

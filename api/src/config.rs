//! Configuration from environment variables; every variable is listed in `.env.example`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use auth::config::{AuthConfig, PasswordHashing, SigningKey};

/// Where the process runs: development defaults are friendly, production ones strict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// A developer's machine.
    Development,
    /// Automated tests.
    Test,
    /// Serving real users.
    Production,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Readable lines for a terminal.
    Pretty,
}

/// Everything the server reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `APP_ENV`: development (default), test or production.
    pub environment: Environment,
    /// `BIND_ADDR`: where `serve` listens.
    pub bind_addr: SocketAddr,
    /// `DATABASE_URL`: when unset, a private PostgreSQL under `DATA_DIR` is used.
    pub database_url: Option<String>,
    /// `DATA_DIR`: local state (the private PostgreSQL cluster).
    pub data_dir: PathBuf,
    /// `DB_POOL_SIZE`: connections in the pool.
    pub db_pool_size: usize,
    /// `RUN_MIGRATIONS`: apply pending migrations at start.
    pub run_migrations: bool,
    /// `GRAPHIQL_ENABLED`: serve the explorer at `GET /graphql` for browsers.
    pub graphiql_enabled: bool,
    /// Limits on every GraphQL operation.
    pub limits: QueryLimitsConfig,
    /// `BODY_LIMIT_BYTES`: largest request body.
    pub body_limit_bytes: usize,
    /// `LOG_FORMAT`: json or pretty.
    pub log_format: LogFormat,
    /// `WS_INIT_TIMEOUT_SECS`: time a websocket client has to send `connection_init`.
    pub ws_init_timeout: Duration,
    /// `WS_KEEPALIVE_SECS`: interval of the server's keep-alive pings.
    pub ws_keepalive: Duration,
    /// `SHUTDOWN_GRACE_SECS`: how long in-flight requests may take after SIGTERM.
    pub shutdown_grace: Duration,
    /// Accounts, tokens and sessions.
    pub auth: AuthConfig,
    /// `ALLOWED_ORIGINS`: browser origins that may use cookie sessions.
    pub allowed_origins: Vec<String>,
    /// `COOKIE_SECURE`: mark session cookies `Secure`.
    pub cookie_secure: bool,
    /// `MAIL_URL`: `log`, `file:DIR` or an SMTP URL.
    pub mail_url: String,
    /// `MAIL_FROM`: sender of every email.
    pub mail_from: String,
    /// SMS provider for one-time codes.
    pub sms: SmsSettings,
    /// `OUTBOX_POLL_MS`: how often the outbox worker looks for due jobs.
    pub outbox_poll: Duration,
    /// `OUTBOX_ENABLED`: run the outbox worker in this process.
    pub outbox_enabled: bool,
    /// `EVENT_BUS`: where live updates travel.
    pub event_bus: EventBusKind,
    /// Where uploaded files are kept.
    pub storage: StorageSettings,
    /// `UPLOAD_*`: what uploads may be.
    pub uploads: kernel::storage::UploadPolicy,
    /// `CLAMAV_ADDR`: clamd's host:port; when set, uploads stay quarantined until scanned.
    pub clamav_addr: Option<String>,
    /// `TRUSTED_PROXY_HOPS`: proxies in front of the API whose `X-Forwarded-For` entries are trusted.
    pub trusted_proxy_hops: usize,
    /// `SLA_SCAN_SECS`: how often SLA warnings and breaches are checked (0 turns it off here).
    pub sla_scan_interval: Option<Duration>,
}

/// Where uploaded files are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
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
        /// `S3_ENDPOINT`.
        endpoint: String,
        /// `S3_REGION`.
        region: String,
        /// `S3_BUCKET`.
        bucket: String,
        /// `S3_ACCESS_KEY_ID`.
        access_key: String,
        /// `S3_SECRET_ACCESS_KEY`.
        secret_key: String,
        /// `S3_PATH_STYLE`.
        path_style: bool,
    },
}

/// Backend of the event bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBusKind {
    /// Inside this process (one API instance).
    Memory,
    /// PostgreSQL LISTEN/NOTIFY (several API instances).
    Postgres,
}

/// Which SMS provider sends one-time codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SmsSettings {
    /// Development: the code is written to the log.
    Log,
    /// Twilio Messages API.
    Twilio {
        /// `TWILIO_ACCOUNT_SID`.
        account_sid: String,
        /// `TWILIO_AUTH_TOKEN`.
        auth_token: String,
        /// `TWILIO_FROM`: sender number or messaging service.
        from: String,
        /// `TWILIO_BASE_URL`.
        base_url: Option<String>,
    },
    /// MSG91 OTP API v5 (DLT-registered template).
    Msg91 {
        /// `MSG91_AUTH_KEY`.
        auth_key: String,
        /// `MSG91_TEMPLATE_ID`.
        template_id: String,
        /// `MSG91_DLT_ENTITY_ID`.
        dlt_entity_id: Option<String>,
        /// `MSG91_DLT_TEMPLATE_ID`.
        dlt_template_id: Option<String>,
        /// `MSG91_BASE_URL`.
        base_url: Option<String>,
    },
}

/// Bounds on a GraphQL operation.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimitsConfig {
    /// `GRAPHQL_MAX_DEPTH`.
    pub max_depth: usize,
    /// `GRAPHQL_MAX_COMPLEXITY`.
    pub max_complexity: usize,
    /// `GRAPHQL_MAX_ALIASES`.
    pub max_aliases: usize,
    /// `GRAPHQL_MAX_PAGE_SIZE`: largest `first` a list accepts.
    pub max_page_size: usize,
    /// `GRAPHQL_ALLOW_BATCH`: accept a JSON array of operations in one POST.
    pub allow_batch: bool,
    /// `GRAPHQL_MAX_BATCH`: most operations in one batch, when batching is on.
    pub max_batch: usize,
}

impl Default for QueryLimitsConfig {
    fn default() -> Self {
        Self {
            max_depth: 12,
            max_complexity: 1000,
            max_aliases: 30,
            max_page_size: 100,
            allow_batch: false,
            max_batch: 10,
        }
    }
}

/// A variable that is set but cannot be understood.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    name: &'static str,
    problem: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`; used by tests with a map.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let environment = match get("APP_ENV").as_deref() {
            None | Some("development") => Environment::Development,
            Some("test") => Environment::Test,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(ConfigError {
                    name: "APP_ENV",
                    problem: format!("{other:?} is not development, test or production"),
                });
            }
        };
        let production = environment == Environment::Production;
        let defaults = QueryLimitsConfig::default();
        Ok(Self {
            environment,
            bind_addr: parse(&get, "BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            database_url: get("DATABASE_URL"),
            data_dir: get("DATA_DIR").map_or_else(|| PathBuf::from(".data"), PathBuf::from),
            db_pool_size: parse(&get, "DB_POOL_SIZE", 16)?,
            run_migrations: parse_bool(&get, "RUN_MIGRATIONS", true)?,
            graphiql_enabled: parse_bool(&get, "GRAPHIQL_ENABLED", !production)?,
            limits: QueryLimitsConfig {
                max_depth: parse(&get, "GRAPHQL_MAX_DEPTH", defaults.max_depth)?,
                max_complexity: parse(&get, "GRAPHQL_MAX_COMPLEXITY", defaults.max_complexity)?,
                max_aliases: parse(&get, "GRAPHQL_MAX_ALIASES", defaults.max_aliases)?,
                max_page_size: parse(&get, "GRAPHQL_MAX_PAGE_SIZE", defaults.max_page_size)?,
                allow_batch: parse_bool(&get, "GRAPHQL_ALLOW_BATCH", defaults.allow_batch)?,
                max_batch: parse(&get, "GRAPHQL_MAX_BATCH", defaults.max_batch)?,
            },
            body_limit_bytes: parse(&get, "BODY_LIMIT_BYTES", 1024 * 1024)?,
            log_format: match get("LOG_FORMAT").as_deref() {
                None if production => LogFormat::Json,
                None => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some(other) => {
                    return Err(ConfigError {
                        name: "LOG_FORMAT",
                        problem: format!("{other:?} is not json or pretty"),
                    });
                }
            },
            ws_init_timeout: Duration::from_secs(parse(&get, "WS_INIT_TIMEOUT_SECS", 10)?),
            ws_keepalive: Duration::from_secs(parse(&get, "WS_KEEPALIVE_SECS", 15)?),
            shutdown_grace: Duration::from_secs(parse(&get, "SHUTDOWN_GRACE_SECS", 20)?),
            auth: auth_config(&get, environment)?,
            allowed_origins: get("ALLOWED_ORIGINS")
                .or_else(|| get("APP_URL"))
                .unwrap_or_else(|| "http://localhost:3000".into())
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_string())
                .filter(|origin| !origin.is_empty())
                .collect(),
            cookie_secure: parse_bool(&get, "COOKIE_SECURE", true)?,
            mail_url: get("MAIL_URL").unwrap_or_else(|| {
                if production {
                    "log".into()
                } else {
                    format!("file:{}", data_dir_of(&get).join("mail").display())
                }
            }),
            mail_from: get("MAIL_FROM")
                .unwrap_or_else(|| "Fluxorae <no-reply@fluxorae.local>".into()),
            sms: sms_settings(&get)?,
            outbox_poll: Duration::from_millis(parse(&get, "OUTBOX_POLL_MS", 1000)?),
            outbox_enabled: parse_bool(&get, "OUTBOX_ENABLED", true)?,
            storage: match get("STORAGE_BACKEND").as_deref() {
                None | Some("local") => StorageSettings::Local {
                    dir: get("LOCAL_STORAGE_DIR")
                        .map_or_else(|| data_dir_of(&get).join("files"), PathBuf::from),
                    base_url: get("PUBLIC_BASE_URL").unwrap_or_else(|| {
                        format!(
                            "http://{}",
                            get("BIND_ADDR").unwrap_or_else(|| "127.0.0.1:8080".into())
                        )
                    }),
                },
                Some("s3") => StorageSettings::S3 {
                    endpoint: required(&get, "S3_ENDPOINT")?,
                    region: get("S3_REGION").unwrap_or_else(|| "ap-south-1".into()),
                    bucket: required(&get, "S3_BUCKET")?,
                    access_key: required(&get, "S3_ACCESS_KEY_ID")?,
                    secret_key: required(&get, "S3_SECRET_ACCESS_KEY")?,
                    path_style: parse_bool(&get, "S3_PATH_STYLE", false)?,
                },
                Some(other) => {
                    return Err(ConfigError {
                        name: "STORAGE_BACKEND",
                        problem: format!("{other:?} is not local or s3"),
                    });
                }
            },
            uploads: {
                let defaults = kernel::storage::UploadPolicy::default();
                kernel::storage::UploadPolicy {
                    max_bytes: parse(&get, "UPLOAD_MAX_BYTES", defaults.max_bytes)?,
                    allowed_types: get("UPLOAD_ALLOWED_TYPES").map_or(
                        defaults.allowed_types,
                        |list| {
                            list.split(',')
                                .map(|t| t.trim().to_ascii_lowercase())
                                .filter(|t| !t.is_empty())
                                .collect()
                        },
                    ),
                    upload_url_ttl: Duration::from_secs(parse(&get, "UPLOAD_URL_TTL_SECS", 900)?),
                    download_url_ttl: Duration::from_secs(parse(
                        &get,
                        "DOWNLOAD_URL_TTL_SECS",
                        300,
                    )?),
                    scan: get("CLAMAV_ADDR").is_some(),
                }
            },
            clamav_addr: get("CLAMAV_ADDR"),
            trusted_proxy_hops: parse(&get, "TRUSTED_PROXY_HOPS", 0)?,
            sla_scan_interval: match parse::<u64>(&get, "SLA_SCAN_SECS", 60)? {
                0 => None,
                seconds => Some(Duration::from_secs(seconds)),
            },
            event_bus: match get("EVENT_BUS").as_deref() {
                None | Some("memory") => EventBusKind::Memory,
                Some("postgres") => EventBusKind::Postgres,
                Some(other) => {
                    return Err(ConfigError {
                        name: "EVENT_BUS",
                        problem: format!("{other:?} is not memory or postgres"),
                    });
                }
            },
        })
    }
}

fn data_dir_of(get: &impl Fn(&str) -> Option<String>) -> PathBuf {
    get("DATA_DIR").map_or_else(|| PathBuf::from(".data"), PathBuf::from)
}

fn required(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
) -> Result<String, ConfigError> {
    get(name).ok_or(ConfigError {
        name,
        problem: "is required by the chosen provider".into(),
    })
}

fn sms_settings(get: &impl Fn(&str) -> Option<String>) -> Result<SmsSettings, ConfigError> {
    match get("SMS_PROVIDER").as_deref() {
        None | Some("log") => Ok(SmsSettings::Log),
        Some("twilio") => Ok(SmsSettings::Twilio {
            account_sid: required(get, "TWILIO_ACCOUNT_SID")?,
            auth_token: required(get, "TWILIO_AUTH_TOKEN")?,
            from: required(get, "TWILIO_FROM")?,
            base_url: get("TWILIO_BASE_URL"),
        }),
        Some("msg91") => Ok(SmsSettings::Msg91 {
            auth_key: required(get, "MSG91_AUTH_KEY")?,
            template_id: required(get, "MSG91_TEMPLATE_ID")?,
            dlt_entity_id: get("MSG91_DLT_ENTITY_ID"),
            dlt_template_id: get("MSG91_DLT_TEMPLATE_ID"),
            base_url: get("MSG91_BASE_URL"),
        }),
        Some(other) => Err(ConfigError {
            name: "SMS_PROVIDER",
            problem: format!("{other:?} is not log, twilio or msg91"),
        }),
    }
}

/// `JWT_KEYS` is `kid:secret[,kid:secret...]`; new tokens use `JWT_ACTIVE_KID`
/// (default: the first). Outside production a missing key is generated once and
/// kept in `$DATA_DIR/dev-jwt-key` (tests keep theirs in memory).
fn auth_config(
    get: &impl Fn(&str) -> Option<String>,
    environment: Environment,
) -> Result<AuthConfig, ConfigError> {
    let keys: Vec<SigningKey> = match get("JWT_KEYS") {
        Some(list) => list
            .split(',')
            .map(|pair| {
                let (kid, secret) = pair.trim().split_once(':').ok_or(ConfigError {
                    name: "JWT_KEYS",
                    problem: "each key is kid:secret".into(),
                })?;
                if secret.len() < 32 {
                    return Err(ConfigError {
                        name: "JWT_KEYS",
                        problem: format!("the secret of {kid:?} is shorter than 32 characters"),
                    });
                }
                Ok(SigningKey {
                    kid: kid.to_string(),
                    secret: secret.as_bytes().to_vec(),
                })
            })
            .collect::<Result<_, _>>()?,
        None => match environment {
            Environment::Production => {
                return Err(ConfigError {
                    name: "JWT_KEYS",
                    problem: "is required in production".into(),
                });
            }
            Environment::Test => vec![SigningKey {
                kid: "test".into(),
                secret: random_secret().into_bytes(),
            }],
            Environment::Development => vec![development_key(&data_dir_of(get))?],
        },
    };
    let active_kid = get("JWT_ACTIVE_KID").unwrap_or_else(|| keys[0].kid.clone());
    let mut config = AuthConfig::with_key(&keys[0].kid, keys[0].secret.clone());
    config.signing_keys = keys;
    config.active_kid = active_kid;
    config.access_ttl = Duration::from_secs(parse(get, "ACCESS_TOKEN_TTL_SECS", 900)?);
    config.refresh_ttl =
        Duration::from_secs(parse::<u64>(get, "SESSION_TTL_DAYS", 30)? * 24 * 3600);
    config.open_registration = parse_bool(
        get,
        "OPEN_REGISTRATION",
        environment != Environment::Production,
    )?;
    config.app_url = get("APP_URL").unwrap_or_else(|| "http://localhost:3000".into());
    let limits = &mut config.rate_limits;
    limits.login_per_ip_per_minute = parse(
        get,
        "RATE_LIMIT_LOGIN_PER_MINUTE",
        limits.login_per_ip_per_minute,
    )?;
    limits.login_failures_per_account_per_hour = parse(
        get,
        "RATE_LIMIT_LOGIN_FAILURES_PER_HOUR",
        limits.login_failures_per_account_per_hour,
    )?;
    limits.register_per_ip_per_hour = parse(
        get,
        "RATE_LIMIT_REGISTER_PER_HOUR",
        limits.register_per_ip_per_hour,
    )?;
    limits.reset_per_ip_per_hour = parse(
        get,
        "RATE_LIMIT_RESET_PER_HOUR",
        limits.reset_per_ip_per_hour,
    )?;
    limits.otp_per_account_per_hour = parse(
        get,
        "RATE_LIMIT_OTP_PER_HOUR",
        limits.otp_per_account_per_hour,
    )?;
    config.password_hashing = PasswordHashing {
        memory_kib: parse(get, "ARGON2_MEMORY_KIB", 19 * 1024)?,
        iterations: parse(get, "ARGON2_ITERATIONS", 2)?,
        parallelism: parse(get, "ARGON2_PARALLELISM", 1)?,
    };
    Ok(config)
}

/// Secret that signs local storage URLs: `STORAGE_SIGNING_SECRET`, or outside
/// production a generated one kept in `$DATA_DIR/dev-storage-key`.
pub fn storage_secret(config: &Config) -> Result<Vec<u8>, ConfigError> {
    if let Ok(secret) = std::env::var("STORAGE_SIGNING_SECRET")
        && secret.len() >= 32
    {
        return Ok(secret.into_bytes());
    }
    match config.environment {
        Environment::Production => Err(ConfigError {
            name: "STORAGE_SIGNING_SECRET",
            problem: "is required (32+ characters) for local storage in production".into(),
        }),
        Environment::Test => Ok(random_secret().into_bytes()),
        Environment::Development => {
            let path = config.data_dir.join("dev-storage-key");
            let io_error = |error: std::io::Error| ConfigError {
                name: "DATA_DIR",
                problem: format!(
                    "cannot keep the development storage key in {}: {error}",
                    path.display()
                ),
            };
            match std::fs::read_to_string(&path) {
                Ok(secret) if secret.trim().len() >= 32 => Ok(secret.trim().as_bytes().to_vec()),
                _ => {
                    std::fs::create_dir_all(&config.data_dir).map_err(io_error)?;
                    let secret = random_secret();
                    std::fs::write(&path, &secret).map_err(io_error)?;
                    Ok(secret.into_bytes())
                }
            }
        }
    }
}

fn random_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn development_key(data_dir: &std::path::Path) -> Result<SigningKey, ConfigError> {
    let path = data_dir.join("dev-jwt-key");
    let io_error = |error: std::io::Error| ConfigError {
        name: "DATA_DIR",
        problem: format!(
            "cannot keep the development signing key in {}: {error}",
            path.display()
        ),
    };
    let secret = match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => secret.trim().to_string(),
        _ => {
            std::fs::create_dir_all(data_dir).map_err(io_error)?;
            let secret = random_secret();
            std::fs::write(&path, &secret).map_err(io_error)?;
            secret
        }
    };
    Ok(SigningKey {
        kid: "dev".into(),
        secret: secret.into_bytes(),
    })
}

fn parse<T: std::str::FromStr>(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match get(name) {
        None => Ok(default),
        Some(value) => value.trim().parse().map_err(|error: T::Err| ConfigError {
            name,
            problem: format!("{value:?}: {error}"),
        }),
    }
}

fn parse_bool(
    get: &impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match get(name)
        .map(|value| value.trim().to_ascii_lowercase())
        .as_deref()
    {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => Err(ConfigError {
            name,
            problem: format!("{other:?} is not true or false"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn development_defaults_need_nothing_set() {
        let dir = std::env::temp_dir().join(format!("fluxorae-config-{}", std::process::id()));
        let dir = dir.display().to_string();
        let config = config(&[("DATA_DIR", &dir)]).expect("defaults");
        assert!(config.auth.open_registration);
        assert_eq!(config.sms, SmsSettings::Log);
        assert!(config.mail_url.starts_with("file:"));
        let again = self::config(&[("DATA_DIR", &dir)]).expect("defaults");
        assert_eq!(
            config.auth.signing_keys[0].secret, again.auth.signing_keys[0].secret,
            "the development key survives restarts"
        );
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert!(config.graphiql_enabled);
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert!(config.database_url.is_none());
    }

    #[test]
    fn production_turns_the_explorer_off_and_logs_json() {
        assert!(
            config(&[("APP_ENV", "production")]).is_err(),
            "production needs JWT_KEYS"
        );
        let key = "k1:0123456789abcdef0123456789abcdef";
        let config = config(&[("APP_ENV", "production"), ("JWT_KEYS", key)]).expect("production");
        assert!(!config.auth.open_registration);
        assert!(!config.graphiql_enabled);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let error = config(&[("GRAPHQL_MAX_DEPTH", "deep")]).expect_err("invalid");
        assert!(error.to_string().contains("GRAPHQL_MAX_DEPTH"));
    }
}

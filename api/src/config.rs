//! Configuration from environment variables; every variable is listed in `.env.example`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kernel::config::Env;

use crate::domains::DomainConfigs;

pub use kernel::config::{ConfigError, Environment};

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
    /// `WS_REVALIDATE_SECS`: how often an open websocket re-checks its session
    /// (revocations also re-check at once).
    pub ws_revalidate: Duration,
    /// `WS_MAX_SUBSCRIPTIONS`: active subscriptions one connection may hold.
    pub ws_max_subscriptions: usize,
    /// `SHUTDOWN_GRACE_SECS`: how long in-flight requests may take after SIGTERM.
    pub shutdown_grace: Duration,
    /// `ALLOWED_ORIGINS`: browser origins that may use cookie sessions.
    pub allowed_origins: Vec<String>,
    /// `COOKIE_SECURE`: mark session cookies `Secure`.
    pub cookie_secure: bool,
    /// `MAIL_URL`: `log`, `file:DIR` or an SMTP URL.
    pub mail_url: String,
    /// `MAIL_FROM`: sender of every email.
    pub mail_from: String,
    /// `OUTBOX_POLL_MS`: how often the outbox worker looks for due jobs.
    pub outbox_poll: Duration,
    /// `OUTBOX_ENABLED`: run the outbox worker in this process.
    pub outbox_enabled: bool,
    /// `EVENT_BUS`: where live updates travel.
    pub event_bus: EventBusKind,
    /// `TRUSTED_PROXY_HOPS`: proxies in front of the API whose `X-Forwarded-For` entries are trusted.
    pub trusted_proxy_hops: usize,
    /// Every domain's own section.
    pub domains: DomainConfigs,
}

/// Backend of the event bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBusKind {
    /// Inside this process (one API instance).
    Memory,
    /// PostgreSQL LISTEN/NOTIFY (several API instances).
    Postgres,
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

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`; used by tests with a map.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        Self::from_env_view(&Env::new(lookup)?)
    }

    /// Reads the server's settings and every domain's section from `env`.
    pub fn from_env_view(env: &Env) -> Result<Self, ConfigError> {
        let environment = env.environment();
        let production = env.is_production();
        let defaults = QueryLimitsConfig::default();
        let data_dir = env.data_dir();
        Ok(Self {
            environment,
            bind_addr: env.parse("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            database_url: env.get("DATABASE_URL"),
            db_pool_size: env.parse("DB_POOL_SIZE", 16)?,
            run_migrations: env.parse_bool("RUN_MIGRATIONS", true)?,
            graphiql_enabled: env.parse_bool("GRAPHIQL_ENABLED", !production)?,
            limits: QueryLimitsConfig {
                max_depth: env.parse("GRAPHQL_MAX_DEPTH", defaults.max_depth)?,
                max_complexity: env.parse("GRAPHQL_MAX_COMPLEXITY", defaults.max_complexity)?,
                max_aliases: env.parse("GRAPHQL_MAX_ALIASES", defaults.max_aliases)?,
                max_page_size: env.parse("GRAPHQL_MAX_PAGE_SIZE", defaults.max_page_size)?,
                allow_batch: env.parse_bool("GRAPHQL_ALLOW_BATCH", defaults.allow_batch)?,
                max_batch: env.parse("GRAPHQL_MAX_BATCH", defaults.max_batch)?,
            },
            body_limit_bytes: env.parse("BODY_LIMIT_BYTES", 1024 * 1024)?,
            log_format: match env.get("LOG_FORMAT").as_deref() {
                None if production => LogFormat::Json,
                None => LogFormat::Pretty,
                Some("json") => LogFormat::Json,
                Some("pretty") => LogFormat::Pretty,
                Some(other) => {
                    return Err(ConfigError::new(
                        "LOG_FORMAT",
                        format!("{other:?} is not json or pretty"),
                    ));
                }
            },
            ws_init_timeout: Duration::from_secs(env.parse("WS_INIT_TIMEOUT_SECS", 10)?),
            ws_keepalive: Duration::from_secs(env.parse("WS_KEEPALIVE_SECS", 15)?),
            ws_revalidate: Duration::from_secs(env.parse("WS_REVALIDATE_SECS", 30)?.max(1)),
            ws_max_subscriptions: env.parse("WS_MAX_SUBSCRIPTIONS", 100)?,
            shutdown_grace: Duration::from_secs(env.parse("SHUTDOWN_GRACE_SECS", 20)?),
            allowed_origins: env
                .get("ALLOWED_ORIGINS")
                .or_else(|| env.get("APP_URL"))
                .unwrap_or_else(|| "http://localhost:3000".into())
                .split(',')
                .map(|origin| origin.trim().trim_end_matches('/').to_string())
                .filter(|origin| !origin.is_empty())
                .collect(),
            cookie_secure: env.parse_bool("COOKIE_SECURE", true)?,
            mail_url: env.get("MAIL_URL").unwrap_or_else(|| {
                if production {
                    "log".into()
                } else {
                    format!("file:{}", data_dir.join("mail").display())
                }
            }),
            mail_from: env
                .get("MAIL_FROM")
                .unwrap_or_else(|| "Fluxorae <no-reply@fluxorae.local>".into()),
            outbox_poll: Duration::from_millis(env.parse("OUTBOX_POLL_MS", 1000)?),
            outbox_enabled: env.parse_bool("OUTBOX_ENABLED", true)?,
            trusted_proxy_hops: env.parse("TRUSTED_PROXY_HOPS", 0)?,
            event_bus: match env.get("EVENT_BUS").as_deref() {
                None | Some("memory") => EventBusKind::Memory,
                Some("postgres") => EventBusKind::Postgres,
                Some(other) => {
                    return Err(ConfigError::new(
                        "EVENT_BUS",
                        format!("{other:?} is not memory or postgres"),
                    ));
                }
            },
            domains: DomainConfigs::from_env(env)?,
            data_dir,
        })
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
        Config::from_lookup(move |name| map.get(name).cloned())
    }

    #[test]
    fn development_defaults_need_nothing_set() {
        let dir = std::env::temp_dir().join(format!("fluxorae-config-{}", std::process::id()));
        let dir = dir.display().to_string();
        let config = config(&[("DATA_DIR", &dir)]).expect("defaults");
        assert!(config.domains.auth.open_registration);
        assert_eq!(config.domains.auth.sms, auth::config::SmsSettings::Log);
        assert!(config.mail_url.starts_with("file:"));
        let again = self::config(&[("DATA_DIR", &dir)]).expect("defaults");
        assert_eq!(
            config.domains.auth.signing_keys[0].secret, again.domains.auth.signing_keys[0].secret,
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
        assert!(
            config(&[("APP_ENV", "production"), ("JWT_KEYS", key)]).is_err(),
            "production with local storage needs STORAGE_SIGNING_SECRET"
        );
        let config = config(&[
            ("APP_ENV", "production"),
            ("JWT_KEYS", key),
            ("STORAGE_SIGNING_SECRET", "fedcba9876543210fedcba9876543210"),
            (
                "TOTP_ENCRYPTION_KEYS",
                "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ])
        .expect("production");
        assert!(!config.domains.auth.open_registration);
        assert!(!config.graphiql_enabled);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let error = config(&[("GRAPHQL_MAX_DEPTH", "deep")]).expect_err("invalid");
        assert!(error.to_string().contains("GRAPHQL_MAX_DEPTH"));
    }
}

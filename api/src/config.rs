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
#[derive(Clone)]
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
    /// `PERSISTED_QUERIES`: `off`, `apq` (automatic persisted queries, the
    /// default) or `only` (trusted documents: the manifest's and no others).
    pub persisted_queries: crate::persisted::Mode,
    /// `PERSISTED_QUERIES_MANIFEST`: a JSON object of sha256 hash to document
    /// (GraphQL Code Generator's `persistedDocuments`); required for `only`.
    pub persisted_queries_manifest: Option<PathBuf>,
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
    /// `HSTS_MAX_AGE_SECS`: `Strict-Transport-Security` max-age on every
    /// response (default one year in production, 0 = not sent, elsewhere).
    pub hsts_max_age_secs: u64,
    /// `HSTS_INCLUDE_SUBDOMAINS`: add `includeSubDomains` to that header.
    pub hsts_include_subdomains: bool,
    /// `MAIL_URL`: `log`, `file:DIR` or an SMTP URL.
    pub mail_url: String,
    /// `MAIL_FROM`: sender of every email.
    pub mail_from: String,
    /// `OUTBOX_POLL_MS`: how often the outbox worker looks for due jobs.
    pub outbox_poll: Duration,
    /// `OUTBOX_ENABLED`: run the outbox worker in this process.
    pub outbox_enabled: bool,
    /// `JOB_RETENTION_DAYS`: how long done and failed jobs are kept (0: for ever).
    pub job_retention: Option<Duration>,
    /// `EVENT_BUS`: where live updates travel.
    pub event_bus: EventBusKind,
    /// `TRUSTED_PROXY_HOPS`: proxies in front of the API whose `X-Forwarded-For` entries are trusted.
    pub trusted_proxy_hops: usize,
    /// Every domain's own section.
    pub domains: DomainConfigs,
}

/// Credentials in `DATABASE_URL` and `MAIL_URL` are redacted, and so is every
/// secret of the domain sections, so the configuration can be logged. The
/// destructuring is exhaustive: a new field must be listed here, and decided.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use kernel::config::redact_url;
        let Self {
            environment,
            bind_addr,
            database_url,
            data_dir,
            db_pool_size,
            run_migrations,
            graphiql_enabled,
            persisted_queries,
            persisted_queries_manifest,
            limits,
            body_limit_bytes,
            log_format,
            ws_init_timeout,
            ws_keepalive,
            ws_revalidate,
            ws_max_subscriptions,
            shutdown_grace,
            allowed_origins,
            cookie_secure,
            hsts_max_age_secs,
            hsts_include_subdomains,
            mail_url,
            mail_from,
            outbox_poll,
            outbox_enabled,
            job_retention,
            event_bus,
            trusted_proxy_hops,
            domains,
        } = self;
        f.debug_struct("Config")
            .field("environment", environment)
            .field("bind_addr", bind_addr)
            .field("database_url", &database_url.as_deref().map(redact_url))
            .field("data_dir", data_dir)
            .field("db_pool_size", db_pool_size)
            .field("run_migrations", run_migrations)
            .field("graphiql_enabled", graphiql_enabled)
            .field("persisted_queries", persisted_queries)
            .field("persisted_queries_manifest", persisted_queries_manifest)
            .field("limits", limits)
            .field("body_limit_bytes", body_limit_bytes)
            .field("log_format", log_format)
            .field("ws_init_timeout", ws_init_timeout)
            .field("ws_keepalive", ws_keepalive)
            .field("ws_revalidate", ws_revalidate)
            .field("ws_max_subscriptions", ws_max_subscriptions)
            .field("shutdown_grace", shutdown_grace)
            .field("allowed_origins", allowed_origins)
            .field("cookie_secure", cookie_secure)
            .field("hsts_max_age_secs", hsts_max_age_secs)
            .field("hsts_include_subdomains", hsts_include_subdomains)
            .field("mail_url", &redact_url(mail_url))
            .field("mail_from", mail_from)
            .field("outbox_poll", outbox_poll)
            .field("outbox_enabled", outbox_enabled)
            .field("job_retention", job_retention)
            .field("event_bus", event_bus)
            .field("trusted_proxy_hops", trusted_proxy_hops)
            .field("domains", domains)
            .finish()
    }
}

/// Backend of the event bus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventBusKind {
    /// Inside this process (one API instance).
    Memory,
    /// PostgreSQL LISTEN/NOTIFY (several API instances).
    Postgres,
}

/// Who may introspect the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Introspection {
    /// Everyone (development default).
    On,
    /// Nobody; `__typename` still answers.
    Off,
    /// Signed-in callers only (production default).
    Authenticated,
}

impl Introspection {
    /// Whether a caller, signed in or not, may introspect.
    pub fn allows(self, signed_in: bool) -> bool {
        match self {
            Self::On => true,
            Self::Off => false,
            Self::Authenticated => signed_in,
        }
    }
}

impl std::str::FromStr for Introspection {
    type Err = &'static str;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        match value {
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            "authenticated" => Ok(Self::Authenticated),
            _ => Err("expected on, off or authenticated"),
        }
    }
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
    /// `GRAPHQL_MAX_TOKENS`: lexical tokens a document may have, checked
    /// before it is parsed.
    pub max_tokens: usize,
    /// `GRAPHQL_INTROSPECTION`: who may introspect the schema (and get "Did
    /// you mean" suggestions in validation errors).
    pub introspection: Introspection,
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
            max_complexity: 5000,
            max_aliases: 30,
            max_tokens: 2000,
            introspection: Introspection::On,
            max_page_size: 100,
            allow_batch: false,
            max_batch: 10,
        }
    }
}

impl Config {
    /// Whether a browser page of `origin` (an `Origin` header) may call the API.
    pub fn allows_origin(&self, origin: &str) -> bool {
        let origin = origin.trim_end_matches('/');
        self.allowed_origins.iter().any(|allowed| allowed == origin)
    }

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
    /// Production refuses the development defaults that would leak or split
    /// state, naming the variable: the private PostgreSQL (it trusts every
    /// local user), mail to the log, no explicit browser origins, and local
    /// file storage behind several instances.
    pub fn from_env_view(env: &Env) -> Result<Self, ConfigError> {
        let environment = env.environment();
        let production = env.is_production();
        let defaults = QueryLimitsConfig::default();
        let data_dir = env.data_dir();
        let database_url = env.get("DATABASE_URL");
        if production && database_url.is_none() {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "is required in production (the private PostgreSQL trusts every local user)",
            ));
        }
        let mail_url = match env.get("MAIL_URL") {
            Some(url) if production && url.trim() == "log" => {
                return Err(ConfigError::new(
                    "MAIL_URL",
                    "log is refused in production (reset links and codes would be lost); use an SMTP URL",
                ));
            }
            Some(url) => url,
            None if production => {
                return Err(ConfigError::new(
                    "MAIL_URL",
                    "is required in production: an SMTP URL",
                ));
            }
            None => format!("file:{}", data_dir.join("mail").display()),
        };
        let allowed_origins = if production {
            env.get("ALLOWED_ORIGINS").ok_or_else(|| {
                ConfigError::new(
                    "ALLOWED_ORIGINS",
                    "is required in production: the browser origins that may use cookie sessions",
                )
            })?
        } else {
            env.get("ALLOWED_ORIGINS")
                .or_else(|| env.get("APP_URL"))
                .unwrap_or_else(|| "http://localhost:3000".into())
        };
        let allowed_origins: Vec<String> = allowed_origins
            .split(',')
            .map(|origin| origin.trim().trim_end_matches('/').to_string())
            .filter(|origin| !origin.is_empty())
            .collect();
        if production && allowed_origins.is_empty() {
            return Err(ConfigError::new("ALLOWED_ORIGINS", "names no origin"));
        }
        let config = Self {
            environment,
            bind_addr: env.parse("BIND_ADDR", SocketAddr::from(([127, 0, 0, 1], 8080)))?,
            database_url,
            db_pool_size: env.parse("DB_POOL_SIZE", 16)?,
            run_migrations: env.parse_bool("RUN_MIGRATIONS", true)?,
            graphiql_enabled: env.parse_bool("GRAPHIQL_ENABLED", !production)?,
            persisted_queries: env.parse("PERSISTED_QUERIES", crate::persisted::Mode::Automatic)?,
            persisted_queries_manifest: env.get("PERSISTED_QUERIES_MANIFEST").map(PathBuf::from),
            limits: QueryLimitsConfig {
                max_depth: env.parse("GRAPHQL_MAX_DEPTH", defaults.max_depth)?,
                max_complexity: env.parse("GRAPHQL_MAX_COMPLEXITY", defaults.max_complexity)?,
                max_aliases: env.parse("GRAPHQL_MAX_ALIASES", defaults.max_aliases)?,
                max_tokens: env.parse("GRAPHQL_MAX_TOKENS", defaults.max_tokens)?,
                introspection: env.parse(
                    "GRAPHQL_INTROSPECTION",
                    if production {
                        Introspection::Authenticated
                    } else {
                        Introspection::On
                    },
                )?,
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
            allowed_origins,
            cookie_secure: env.parse_bool("COOKIE_SECURE", true)?,
            hsts_max_age_secs: env.parse(
                "HSTS_MAX_AGE_SECS",
                if production { 365 * 24 * 3600 } else { 0 },
            )?,
            hsts_include_subdomains: env.parse_bool("HSTS_INCLUDE_SUBDOMAINS", false)?,
            mail_url,
            mail_from: env
                .get("MAIL_FROM")
                .unwrap_or_else(|| "Fluxorae <no-reply@fluxorae.local>".into()),
            outbox_poll: Duration::from_millis(env.parse("OUTBOX_POLL_MS", 1000)?),
            outbox_enabled: env.parse_bool("OUTBOX_ENABLED", true)?,
            job_retention: match env.parse::<u64>("JOB_RETENTION_DAYS", 30)? {
                0 => None,
                days => Some(Duration::from_secs(days.saturating_mul(24 * 3600))),
            },
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
        };
        if production
            && config.event_bus == EventBusKind::Postgres
            && matches!(
                config.domains.files.storage,
                files::StorageSettings::Local { .. }
            )
        {
            return Err(ConfigError::new(
                "STORAGE_BACKEND",
                "local is refused with EVENT_BUS=postgres in production: several instances need shared storage (s3)",
            ));
        }
        Ok(config)
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
        assert_eq!(config.hsts_max_age_secs, 0, "no HSTS on http://localhost");
    }

    /// A production environment that starts, plus `extra` (which wins).
    fn production(extra: &[(&'static str, &'static str)]) -> Result<Config, ConfigError> {
        let mut pairs: Vec<(&str, &str)> = vec![
            ("APP_ENV", "production"),
            ("JWT_KEYS", "k1:0123456789abcdef0123456789abcdef"),
            ("STORAGE_SIGNING_SECRET", "fedcba9876543210fedcba9876543210"),
            (
                "DATABASE_URL",
                "postgres://fluxorae:pw@db.internal/fluxorae",
            ),
            ("MAIL_URL", "smtps://apikey:pw@smtp.example.com:465"),
            ("SMS_PROVIDER", "msg91"),
            ("MSG91_AUTH_KEY", "key"),
            ("MSG91_TEMPLATE_ID", "template"),
            ("ALLOWED_ORIGINS", "https://portal.example"),
            (
                "TOTP_ENCRYPTION_KEYS",
                "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            ),
        ];
        pairs.retain(|(name, _)| !extra.iter().any(|(other, _)| other == name));
        pairs.extend(extra.iter().filter(|(_, value)| !value.is_empty()));
        config(&pairs)
    }

    #[test]
    fn production_refuses_defaults_that_leak_codes_or_split_state_naming_the_variable() {
        production(&[]).expect("a complete production configuration starts");
        let refusals: [(&[(&str, &str)], &str); 10] = [
            (&[("SMS_PROVIDER", "log")], "SMS_PROVIDER"),
            (&[("SMS_PROVIDER", "")], "SMS_PROVIDER"),
            (&[("MAIL_URL", "log")], "MAIL_URL"),
            (&[("MAIL_URL", "")], "MAIL_URL"),
            (&[("DATABASE_URL", "")], "DATABASE_URL"),
            (&[("EVENT_BUS", "postgres")], "STORAGE_BACKEND"),
            (
                &[("EVENT_BUS", "postgres"), ("STORAGE_BACKEND", "local")],
                "STORAGE_BACKEND",
            ),
            (&[("ALLOWED_ORIGINS", "")], "ALLOWED_ORIGINS"),
            (
                &[
                    ("ALLOWED_ORIGINS", ""),
                    ("APP_URL", "https://portal.example"),
                ],
                "ALLOWED_ORIGINS",
            ),
            (&[("ALLOWED_ORIGINS", " , ")], "ALLOWED_ORIGINS"),
        ];
        for (extra, variable) in refusals {
            let error = production(extra).expect_err(&format!("{extra:?} must be refused"));
            assert_eq!(error.name, variable, "{extra:?}: {error}");
            assert!(error.to_string().contains(variable), "{error}");
        }
        // Several instances with shared storage are fine.
        production(&[
            ("EVENT_BUS", "postgres"),
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "files"),
            ("AWS_ACCESS_KEY_ID", "AKIA"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
        ])
        .expect("postgres bus with S3 storage");
        // Outside production the development defaults still need nothing.
        let test = config(&[
            ("APP_ENV", "test"),
            ("SMS_PROVIDER", "log"),
            ("MAIL_URL", "log"),
        ]);
        assert!(test.is_ok());
    }

    #[test]
    fn production_turns_the_explorer_off_and_logs_json() {
        assert!(
            production(&[("JWT_KEYS", "")]).is_err(),
            "production needs JWT_KEYS"
        );
        assert!(
            production(&[("STORAGE_SIGNING_SECRET", "")]).is_err(),
            "production with local storage needs STORAGE_SIGNING_SECRET"
        );
        let config = production(&[]).expect("production");
        assert!(!config.domains.auth.open_registration);
        assert!(!config.graphiql_enabled);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.limits.introspection, Introspection::Authenticated);
        assert_eq!(config.hsts_max_age_secs, 365 * 24 * 3600);
    }

    #[test]
    fn introspection_is_on_off_or_authenticated() {
        let dir = std::env::temp_dir().join(format!("fluxorae-config-{}", std::process::id()));
        let dir = dir.display().to_string();
        let read = |value: &str| {
            config(&[("DATA_DIR", &dir), ("GRAPHQL_INTROSPECTION", value)])
                .map(|config| config.limits.introspection)
        };
        assert_eq!(
            config(&[("DATA_DIR", &dir)])
                .expect("defaults")
                .limits
                .introspection,
            Introspection::On
        );
        assert_eq!(read("off").expect("off"), Introspection::Off);
        assert_eq!(
            read("authenticated").expect("authenticated"),
            Introspection::Authenticated
        );
        let error = read("sometimes").expect_err("refused");
        assert!(
            error.to_string().contains("GRAPHQL_INTROSPECTION"),
            "{error}"
        );
        assert!(Introspection::Authenticated.allows(true));
        assert!(!Introspection::Authenticated.allows(false));
        assert!(!Introspection::Off.allows(true));
    }

    /// Whether `text` shows `secret`, as text or as the byte list `Vec<u8>` prints.
    fn shows(text: &str, secret: &str) -> bool {
        let bytes = format!("{:?}", secret.as_bytes());
        text.contains(secret) || text.contains(bytes.trim_matches(['[', ']']))
    }

    #[test]
    fn debug_output_of_the_configuration_shows_no_secret() {
        let jwt = "jwt-secret-0123456789abcdef0123456789";
        let common = [
            ("APP_ENV", "test"),
            (
                "DATABASE_URL",
                "postgres://fluxorae:db-pass-4242@db.internal:5432/fluxorae",
            ),
            (
                "MAIL_URL",
                "smtps://apikey:mail-pass-5151@smtp.example.com:465",
            ),
        ];
        let keys = format!("k1:{jwt}");
        let mut local = common.to_vec();
        local.extend([
            ("JWT_KEYS", keys.as_str()),
            (
                "STORAGE_SIGNING_SECRET",
                "storage-secret-0123456789abcdef01234",
            ),
            ("SMS_PROVIDER", "twilio"),
            ("TWILIO_ACCOUNT_SID", "AC123"),
            ("TWILIO_AUTH_TOKEN", "twilio-token-6161"),
            ("TWILIO_FROM", "+15005550006"),
        ]);
        let mut s3 = common.to_vec();
        s3.extend([
            ("STORAGE_BACKEND", "s3"),
            ("S3_BUCKET", "files"),
            ("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "aws-secret-7171"),
            ("AWS_SESSION_TOKEN", "aws-session-8181"),
            ("SMS_PROVIDER", "msg91"),
            ("MSG91_AUTH_KEY", "msg91-key-9191"),
            ("MSG91_TEMPLATE_ID", "template"),
        ]);
        let secrets = [
            jwt,
            "db-pass-4242",
            "mail-pass-5151",
            "storage-secret-0123456789abcdef01234",
            "twilio-token-6161",
            "aws-secret-7171",
            "aws-session-8181",
            "msg91-key-9191",
        ];
        for pairs in [local, s3] {
            let config = config(&pairs).expect("config");
            for text in [format!("{config:?}"), format!("{config:#?}")] {
                for secret in secrets {
                    assert!(!shows(&text, secret), "{secret} in {text}");
                }
            }
            // Redacted, not dropped: what is configured is still readable.
            let text = format!("{config:?}");
            assert!(text.contains("db.internal"), "{text}");
            assert!(text.contains("smtp.example.com"), "{text}");
        }
        // The generated storage secret of the test environment is hidden too.
        let generated = config(&[("APP_ENV", "test")]).expect("config");
        let secret =
            String::from_utf8(generated.domains.files.storage_secret.clone()).expect("hex");
        assert!(!shows(&format!("{generated:?}"), &secret));
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let error = config(&[("GRAPHQL_MAX_DEPTH", "deep")]).expect_err("invalid");
        assert!(error.to_string().contains("GRAPHQL_MAX_DEPTH"));
    }
}

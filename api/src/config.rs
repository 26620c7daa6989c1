//! Configuration from environment variables; every variable is listed in `.env.example`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
        })
    }
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
        let config = config(&[]).expect("defaults");
        assert_eq!(config.environment, Environment::Development);
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert!(config.graphiql_enabled);
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert!(config.database_url.is_none());
    }

    #[test]
    fn production_turns_the_explorer_off_and_logs_json() {
        let config = config(&[("APP_ENV", "production")]).expect("production");
        assert!(!config.graphiql_enabled);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let error = config(&[("GRAPHQL_MAX_DEPTH", "deep")]).expect_err("invalid");
        assert!(error.to_string().contains("GRAPHQL_MAX_DEPTH"));
    }
}

//! Reading configuration from the environment: the server's own settings and
//! each domain's section are parsed through the same [`Env`], so every
//! variable is read, defaulted and reported the same way.

use std::path::{Path, PathBuf};
use std::str::FromStr;

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

/// A variable that is set but cannot be understood, or is missing where required.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {name}: {problem}")]
pub struct ConfigError {
    /// The variable.
    pub name: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl ConfigError {
    /// An error about `name`.
    pub fn new(name: &'static str, problem: impl Into<String>) -> Self {
        Self {
            name,
            problem: problem.into(),
        }
    }
}

/// Looks a variable up by name.
type Lookup = Box<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// A view of the environment: variables by name (blank counts as unset), the
/// deployment environment and the local data folder.
pub struct Env {
    lookup: Lookup,
    environment: Environment,
}

impl Env {
    /// Variables through `lookup` (the process environment, or a map in tests).
    pub fn new(
        lookup: impl Fn(&str) -> Option<String> + Send + Sync + 'static,
    ) -> Result<Self, ConfigError> {
        let lookup: Lookup = Box::new(lookup);
        let environment = match lookup("APP_ENV")
            .filter(|value| !value.trim().is_empty())
            .as_deref()
        {
            None | Some("development") => Environment::Development,
            Some("test") => Environment::Test,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(ConfigError::new(
                    "APP_ENV",
                    format!("{other:?} is not development, test or production"),
                ));
            }
        };
        Ok(Self {
            lookup,
            environment,
        })
    }

    /// The process environment.
    pub fn process() -> Result<Self, ConfigError> {
        Self::new(|name| std::env::var(name).ok())
    }

    /// `APP_ENV`.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// Whether this is production.
    pub fn is_production(&self) -> bool {
        self.environment == Environment::Production
    }

    /// A variable's value; blank counts as unset.
    pub fn get(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// The first of `names` that is set (a variable and its older aliases).
    pub fn get_any(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| self.get(name))
    }

    /// A variable a chosen provider needs.
    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name)
            .ok_or_else(|| ConfigError::new(name, "is required by the chosen provider"))
    }

    /// A parsed variable, or `default` when unset.
    pub fn parse<T: FromStr>(&self, name: &'static str, default: T) -> Result<T, ConfigError>
    where
        T::Err: std::fmt::Display,
    {
        match self.get(name) {
            None => Ok(default),
            Some(value) => value
                .trim()
                .parse()
                .map_err(|error: T::Err| ConfigError::new(name, format!("{value:?}: {error}"))),
        }
    }

    /// A boolean (`true/false`, `1/0`, `yes/no`, `on/off`), or `default` when unset.
    pub fn parse_bool(&self, name: &'static str, default: bool) -> Result<bool, ConfigError> {
        match self
            .get(name)
            .map(|value| value.trim().to_ascii_lowercase())
            .as_deref()
        {
            None => Ok(default),
            Some("1" | "true" | "yes" | "on") => Ok(true),
            Some("0" | "false" | "no" | "off") => Ok(false),
            Some(other) => Err(ConfigError::new(
                name,
                format!("{other:?} is not true or false"),
            )),
        }
    }

    /// `DATA_DIR`: local state (private PostgreSQL, development keys and files).
    pub fn data_dir(&self) -> PathBuf {
        self.get("DATA_DIR")
            .map_or_else(|| PathBuf::from(".data"), PathBuf::from)
    }

    /// A secret from `name` (at least 32 characters), or outside production a
    /// generated one: kept in `$DATA_DIR/<dev_file>` in development so that it
    /// survives restarts, and in memory in tests.
    pub fn secret(&self, name: &'static str, dev_file: &str) -> Result<Vec<u8>, ConfigError> {
        if let Some(secret) = self.get(name) {
            if secret.len() < 32 {
                return Err(ConfigError::new(name, "must be at least 32 characters"));
            }
            return Ok(secret.into_bytes());
        }
        match self.environment {
            Environment::Production => Err(ConfigError::new(name, "is required in production")),
            Environment::Test => Ok(random_secret().into_bytes()),
            Environment::Development => {
                Ok(development_secret(&self.data_dir(), dev_file)?.into_bytes())
            }
        }
    }
}

/// What `Debug` shows in place of a secret.
pub const REDACTED: &str = "<redacted>";

/// `url` with the password of its user part and any `password=` query
/// value replaced by [`REDACTED`], for `Debug` and logs; text without a
/// scheme (`log`, `file:DIR`) is returned as it is.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|index| index + 3) else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:{REDACTED}@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _)) if name.eq_ignore_ascii_case("password") => {
                        format!("{name}={REDACTED}")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}

/// 32 random bytes as hex.
pub fn random_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// A secret kept in `dir/file`, created on first use.
pub fn development_secret(dir: &Path, file: &str) -> Result<String, ConfigError> {
    let path = dir.join(file);
    let io_error = |error: std::io::Error| {
        ConfigError::new(
            "DATA_DIR",
            format!(
                "cannot keep the development key in {}: {error}",
                path.display()
            ),
        )
    };
    match std::fs::read_to_string(&path) {
        Ok(secret) if secret.trim().len() >= 32 => Ok(secret.trim().to_string()),
        _ => {
            std::fs::create_dir_all(dir).map_err(io_error)?;
            let secret = random_secret();
            std::fs::write(&path, &secret).map_err(io_error)?;
            Ok(secret)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Result<Env, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Env::new(move |name| map.get(name).cloned())
    }

    #[test]
    fn blank_values_count_as_unset() {
        let env = env(&[("A", "  "), ("B", "7")]).expect("env");
        assert_eq!(env.get("A"), None);
        assert_eq!(env.parse("A", 3u32).ok(), Some(3));
        assert_eq!(env.parse("B", 3u32).ok(), Some(7));
        assert_eq!(env.get_any(&["A", "B"]).as_deref(), Some("7"));
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let env = env(&[("N", "many"), ("F", "maybe")]).expect("env");
        assert!(
            env.parse("N", 1u32)
                .expect_err("malformed")
                .to_string()
                .contains("N")
        );
        assert!(env.parse_bool("F", true).is_err());
        assert!(self::env(&[("APP_ENV", "staging")]).is_err());
    }

    #[test]
    fn urls_lose_their_passwords_and_keep_the_rest() {
        assert_eq!(
            redact_url("postgres://app:s3cret@db:5432/app?sslmode=require&password=x"),
            "postgres://app:<redacted>@db:5432/app?sslmode=require&password=<redacted>"
        );
        assert_eq!(
            redact_url("smtps://apikey:k@smtp.example.com:465"),
            "smtps://apikey:<redacted>@smtp.example.com:465"
        );
        assert_eq!(redact_url("smtp://relay:25"), "smtp://relay:25");
        assert_eq!(redact_url("file:.data/mail"), "file:.data/mail");
    }

    #[test]
    fn production_requires_secrets_and_tests_generate_them() {
        let production = env(&[("APP_ENV", "production")]).expect("env");
        assert!(production.secret("SOME_SECRET", "dev-some").is_err());
        let test = env(&[("APP_ENV", "test")]).expect("env");
        assert_eq!(
            test.secret("SOME_SECRET", "dev-some").map(|s| s.len()).ok(),
            Some(64)
        );
        let short = env(&[("SOME_SECRET", "short")]).expect("env");
        assert!(short.secret("SOME_SECRET", "dev-some").is_err());
    }
}

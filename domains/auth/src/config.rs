//! Settings of the auth domain, read from the environment.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kernel::config::{ConfigError, Env, Environment};
use sha2::{Digest, Sha256};

/// One HMAC key for access tokens, named by its `kid`.
#[derive(Clone)]
pub struct SigningKey {
    /// Key id, written into every token's header.
    pub kid: String,
    /// The secret (at least 32 bytes).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A key that encrypts TOTP secrets at rest, named by its id.
#[derive(Clone)]
pub struct SecretKey {
    /// Key id, written beside every secret it encrypts.
    pub kid: String,
    /// The 256-bit key.
    pub key: [u8; 32],
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SecretKey {
    /// The development and test key: derived from a fixed label, so it needs
    /// no configuration and survives restarts, and known to everyone, so
    /// production refuses to run without keys of its own.
    pub fn development() -> Self {
        Self {
            kid: "dev".into(),
            key: Sha256::digest(b"fluxorae development TOTP encryption key").into(),
        }
    }
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy)]
pub struct PasswordHashing {
    /// Memory in KiB (OWASP: 19456).
    pub memory_kib: u32,
    /// Passes (OWASP: 2).
    pub iterations: u32,
    /// Lanes (OWASP: 1).
    pub parallelism: u32,
}

impl Default for PasswordHashing {
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Attempt budgets; each is per fixed window and shared by every API instance.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Login attempts per client IP per minute.
    pub login_per_ip_per_minute: u32,
    /// Failed logins per account per hour (OWASP ASVS 2.2.1: at most 100).
    pub login_failures_per_account_per_hour: u32,
    /// Failures before the progressive lockout starts.
    pub lockout_after_failures: u32,
    /// Longest progressive lockout.
    pub max_lockout: Duration,
    /// Registrations per client IP per hour.
    pub register_per_ip_per_hour: u32,
    /// Registrations per email address per hour; over it requests are dropped
    /// quietly, so that the owner of a known address is not flooded and the
    /// answer stays the same.
    pub register_per_email_per_hour: u32,
    /// Password reset requests per client IP per hour.
    pub reset_per_ip_per_hour: u32,
    /// Password reset requests per account per hour.
    pub reset_per_account_per_hour: u32,
    /// One-time codes sent per account per hour.
    pub otp_per_account_per_hour: u32,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            login_per_ip_per_minute: 30,
            login_failures_per_account_per_hour: 100,
            lockout_after_failures: 5,
            max_lockout: Duration::from_secs(15 * 60),
            register_per_ip_per_hour: 20,
            register_per_email_per_hour: 5,
            reset_per_ip_per_hour: 20,
            reset_per_account_per_hour: 5,
            otp_per_account_per_hour: 10,
        }
    }
}

/// Everything the auth domain is configured with.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens (`JWT_AUDIENCE`); verification requires it.
    pub audience: String,
    /// Verification keys; tokens name theirs with `kid`.
    pub signing_keys: Vec<SigningKey>,
    /// The key new tokens are signed with.
    pub active_kid: String,
    /// Lifetime of access tokens.
    pub access_ttl: Duration,
    /// Lifetime of a session (its refresh token family).
    pub refresh_ttl: Duration,
    /// Whether anyone may register a client organization.
    pub open_registration: bool,
    /// Argon2id parameters.
    pub password_hashing: PasswordHashing,
    /// Password checks and hashes that may wait for a hashing thread; more
    /// are refused with `RATE_LIMITED` instead of queueing ahead of every login.
    pub password_queue_limit: usize,
    /// Keys that encrypt TOTP secrets at rest; old ones still decrypt.
    pub totp_keys: Vec<SecretKey>,
    /// The key new TOTP secrets are encrypted with.
    pub totp_active_kid: String,
    /// Lifetime of password reset links.
    pub reset_ttl: Duration,
    /// Lifetime of invitations.
    pub invitation_ttl: Duration,
    /// Lifetime of a registration's confirmation link.
    pub registration_ttl: Duration,
    /// Lifetime of an MFA challenge and its one-time code.
    pub mfa_challenge_ttl: Duration,
    /// Wrong codes allowed per challenge.
    pub otp_max_attempts: i32,
    /// Base URL of the web app, for links in emails.
    pub app_url: String,
    /// Name shown in authenticator apps.
    pub totp_issuer: String,
    /// Attempt budgets.
    pub rate_limits: RateLimits,
    /// SMS provider for one-time codes.
    pub sms: SmsSettings,
}

/// Which SMS provider sends one-time codes.
#[derive(Clone, PartialEq, Eq)]
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

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use kernel::config::REDACTED;
        match self {
            Self::Log => f.write_str("Log"),
            Self::Twilio {
                account_sid,
                auth_token: _,
                from,
                base_url,
            } => f
                .debug_struct("Twilio")
                .field("account_sid", account_sid)
                .field("auth_token", &REDACTED)
                .field("from", from)
                .field("base_url", base_url)
                .finish(),
            Self::Msg91 {
                auth_key: _,
                template_id,
                dlt_entity_id,
                dlt_template_id,
                base_url,
            } => f
                .debug_struct("Msg91")
                .field("auth_key", &REDACTED)
                .field("template_id", template_id)
                .field("dlt_entity_id", dlt_entity_id)
                .field("dlt_template_id", dlt_template_id)
                .field("base_url", base_url)
                .finish(),
        }
    }
}

impl SmsSettings {
    /// `SMS_PROVIDER` and the chosen provider's variables.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        match env.get("SMS_PROVIDER").as_deref() {
            // The log transport writes one-time codes where operators and log
            // collectors read them.
            None if env.is_production() => Err(ConfigError::new(
                "SMS_PROVIDER",
                "is required in production: twilio or msg91 (log writes one-time codes to the log)",
            )),
            Some("log") if env.is_production() => Err(ConfigError::new(
                "SMS_PROVIDER",
                "log writes one-time codes to the log and is refused in production; use twilio or msg91",
            )),
            None | Some("log") => Ok(Self::Log),
            Some("twilio") => Ok(Self::Twilio {
                account_sid: env.required("TWILIO_ACCOUNT_SID")?,
                auth_token: env.required("TWILIO_AUTH_TOKEN")?,
                from: env.required("TWILIO_FROM")?,
                base_url: env.get("TWILIO_BASE_URL"),
            }),
            Some("msg91") => Ok(Self::Msg91 {
                auth_key: env.required("MSG91_AUTH_KEY")?,
                template_id: env.required("MSG91_TEMPLATE_ID")?,
                dlt_entity_id: env.get("MSG91_DLT_ENTITY_ID"),
                dlt_template_id: env.get("MSG91_DLT_TEMPLATE_ID"),
                base_url: env.get("MSG91_BASE_URL"),
            }),
            Some(other) => Err(ConfigError::new(
                "SMS_PROVIDER",
                format!("{other:?} is not log, twilio or msg91"),
            )),
        }
    }
}

impl AuthConfig {
    /// Development and test settings with the given key.
    pub fn with_key(kid: &str, secret: Vec<u8>) -> Self {
        Self {
            issuer: "fluxorae".into(),
            audience: "fluxorae-api".into(),
            signing_keys: vec![SigningKey {
                kid: kid.into(),
                secret,
            }],
            active_kid: kid.into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            open_registration: true,
            password_hashing: PasswordHashing::default(),
            password_queue_limit: 64,
            totp_keys: vec![SecretKey::development()],
            totp_active_kid: "dev".into(),
            reset_ttl: Duration::from_secs(3600),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            registration_ttl: Duration::from_secs(24 * 3600),
            mfa_challenge_ttl: Duration::from_secs(10 * 60),
            otp_max_attempts: 5,
            app_url: "http://localhost:3000".into(),
            totp_issuer: "Fluxorae".into(),
            rate_limits: RateLimits::default(),
            sms: SmsSettings::Log,
        }
    }

    /// Reads the auth section. `JWT_KEYS` is `kid:secret[,kid:secret...]`; new
    /// tokens use `JWT_ACTIVE_KID` (default: the first). Outside production a
    /// missing key is generated once and kept in `$DATA_DIR/dev-jwt-key` (tests
    /// keep theirs in memory).
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let keys = signing_keys(env)?;
        let mut config = Self::with_key(&keys[0].kid, keys[0].secret.clone());
        config.active_kid = env
            .get("JWT_ACTIVE_KID")
            .unwrap_or_else(|| keys[0].kid.clone());
        if !keys.iter().any(|key| key.kid == config.active_kid) {
            return Err(ConfigError::new(
                "JWT_ACTIVE_KID",
                "names no key of JWT_KEYS",
            ));
        }
        config.signing_keys = keys;
        if let Some(audience) = env.get("JWT_AUDIENCE") {
            config.audience = audience.trim().to_string();
        }
        config.access_ttl = Duration::from_secs(env.parse("ACCESS_TOKEN_TTL_SECS", 900)?);
        config.refresh_ttl =
            Duration::from_secs(env.parse::<u64>("SESSION_TTL_DAYS", 30)? * 24 * 3600);
        config.open_registration = env.parse_bool("OPEN_REGISTRATION", !env.is_production())?;
        config.app_url = env
            .get("APP_URL")
            .unwrap_or_else(|| "http://localhost:3000".into());
        let limits = &mut config.rate_limits;
        limits.login_per_ip_per_minute = env.parse(
            "RATE_LIMIT_LOGIN_PER_MINUTE",
            limits.login_per_ip_per_minute,
        )?;
        limits.login_failures_per_account_per_hour = env.parse(
            "RATE_LIMIT_LOGIN_FAILURES_PER_HOUR",
            limits.login_failures_per_account_per_hour,
        )?;
        limits.register_per_ip_per_hour = env.parse(
            "RATE_LIMIT_REGISTER_PER_HOUR",
            limits.register_per_ip_per_hour,
        )?;
        limits.reset_per_ip_per_hour =
            env.parse("RATE_LIMIT_RESET_PER_HOUR", limits.reset_per_ip_per_hour)?;
        limits.otp_per_account_per_hour =
            env.parse("RATE_LIMIT_OTP_PER_HOUR", limits.otp_per_account_per_hour)?;
        config.password_hashing = PasswordHashing {
            memory_kib: env.parse("ARGON2_MEMORY_KIB", 19 * 1024)?,
            iterations: env.parse("ARGON2_ITERATIONS", 2)?,
            parallelism: env.parse("ARGON2_PARALLELISM", 1)?,
        };
        config.password_queue_limit =
            env.parse("ARGON2_QUEUE_LIMIT", config.password_queue_limit)?;
        if config.password_queue_limit == 0 {
            return Err(ConfigError::new("ARGON2_QUEUE_LIMIT", "must be at least 1"));
        }
        config.totp_keys = totp_keys(env)?;
        config.totp_active_kid = env
            .get("TOTP_ENCRYPTION_ACTIVE_KID")
            .unwrap_or_else(|| config.totp_keys[0].kid.clone());
        if !config
            .totp_keys
            .iter()
            .any(|key| key.kid == config.totp_active_kid)
        {
            return Err(ConfigError::new(
                "TOTP_ENCRYPTION_ACTIVE_KID",
                "names no key of TOTP_ENCRYPTION_KEYS",
            ));
        }
        config.sms = SmsSettings::from_env(env)?;
        Ok(config)
    }
}

/// `TOTP_ENCRYPTION_KEYS`: `kid:base64[,kid:base64...]`, each key 32 bytes
/// (`openssl rand -base64 32`); outside production the development key.
fn totp_keys(env: &Env) -> Result<Vec<SecretKey>, ConfigError> {
    const NAME: &str = "TOTP_ENCRYPTION_KEYS";
    let Some(list) = env.get(NAME) else {
        if env.is_production() {
            return Err(ConfigError::new(NAME, "is required in production"));
        }
        return Ok(vec![SecretKey::development()]);
    };
    let mut keys: Vec<SecretKey> = Vec::new();
    for pair in list.split(',') {
        let (kid, encoded) = pair
            .trim()
            .split_once(':')
            .ok_or_else(|| ConfigError::new(NAME, "each key is kid:base64"))?;
        if kid.is_empty()
            || !kid
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(ConfigError::new(
                NAME,
                format!("the key id {kid:?} must be letters, digits, '-', '_' or '.'"),
            ));
        }
        let key: [u8; 32] = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| {
                ConfigError::new(NAME, format!("the key {kid:?} is not 32 bytes of base64"))
            })?;
        if keys.iter().any(|known| known.kid == kid) {
            return Err(ConfigError::new(
                NAME,
                format!("the key id {kid:?} appears twice"),
            ));
        }
        if env.is_production() && key == SecretKey::development().key {
            return Err(ConfigError::new(
                NAME,
                "the development key is not for production",
            ));
        }
        keys.push(SecretKey {
            kid: kid.to_string(),
            key,
        });
    }
    Ok(keys)
}

fn signing_keys(env: &Env) -> Result<Vec<SigningKey>, ConfigError> {
    let Some(list) = env.get("JWT_KEYS") else {
        return Ok(vec![match env.environment() {
            Environment::Production => {
                return Err(ConfigError::new("JWT_KEYS", "is required in production"));
            }
            Environment::Test => SigningKey {
                kid: "test".into(),
                secret: kernel::config::random_secret().into_bytes(),
            },
            Environment::Development => SigningKey {
                kid: "dev".into(),
                secret: kernel::config::development_secret(&env.data_dir(), "dev-jwt-key")?
                    .into_bytes(),
            },
        }]);
    };
    list.split(',')
        .map(|pair| {
            let (kid, secret) = pair
                .trim()
                .split_once(':')
                .ok_or_else(|| ConfigError::new("JWT_KEYS", "each key is kid:secret"))?;
            if secret.len() < 32 {
                return Err(ConfigError::new(
                    "JWT_KEYS",
                    format!("the secret of {kid:?} is shorter than 32 characters"),
                ));
            }
            Ok(SigningKey {
                kid: kid.to_string(),
                secret: secret.as_bytes().to_vec(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// The test environment (no key files written) with `pairs` on top.
    fn env(pairs: &[(&str, &str)]) -> Env {
        let mut map: HashMap<String, String> = pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect();
        map.entry("APP_ENV".into()).or_insert_with(|| "test".into());
        Env::new(move |name| map.get(name).cloned()).expect("env")
    }

    const KEY_A: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_B: &str = "Hx4dHBsaGRgXFhUUExIREA8ODQwLCgkIBwYFBAMCAQA=";
    const JWT: &str = "k1:0123456789abcdef0123456789abcdef";

    #[test]
    fn totp_secrets_need_no_key_outside_production_and_their_own_keys_in_it() {
        let config = AuthConfig::from_env(&env(&[("APP_ENV", "test")])).expect("test");
        assert_eq!(config.totp_active_kid, "dev");
        assert_eq!(config.totp_keys[0].key, SecretKey::development().key);

        let production = [("APP_ENV", "production"), ("JWT_KEYS", JWT)];
        let error = AuthConfig::from_env(&env(&production)).expect_err("no key");
        assert!(
            error.to_string().contains("TOTP_ENCRYPTION_KEYS"),
            "{error}"
        );
        let development = STANDARD.encode(SecretKey::development().key);
        let with_dev_key = format!("dev:{development}");
        let mut pairs = production.to_vec();
        pairs.push(("TOTP_ENCRYPTION_KEYS", &with_dev_key));
        assert!(AuthConfig::from_env(&env(&pairs)).is_err());
    }

    #[test]
    fn totp_keys_rotate_and_bad_ones_name_the_variable() {
        let keys = format!("2026-12:{KEY_B},2026-11:{KEY_A}");
        let config = AuthConfig::from_env(&env(&[("TOTP_ENCRYPTION_KEYS", &keys)])).expect("keys");
        assert_eq!(config.totp_active_kid, "2026-12");
        assert_eq!(config.totp_keys.len(), 2);
        assert_eq!(config.totp_keys[1].key[1], 1);
        let config = AuthConfig::from_env(&env(&[
            ("TOTP_ENCRYPTION_KEYS", &keys),
            ("TOTP_ENCRYPTION_ACTIVE_KID", "2026-11"),
        ]))
        .expect("older active key");
        assert_eq!(config.totp_active_kid, "2026-11");

        for (keys, active) in [
            ("2026-12:c2hvcnQ=", None),
            ("no-colon", None),
            ("a:b:c", None),
            (&*format!("x:{KEY_A},x:{KEY_B}"), None),
            (&*format!("a,b:{KEY_A}"), None),
            (&*format!("k:{KEY_A}"), Some("other")),
        ] {
            let mut pairs = vec![("TOTP_ENCRYPTION_KEYS", keys)];
            if let Some(active) = active {
                pairs.push(("TOTP_ENCRYPTION_ACTIVE_KID", active));
            }
            let error = AuthConfig::from_env(&env(&pairs)).expect_err(keys);
            assert!(error.to_string().contains("TOTP_ENCRYPTION"), "{error}");
        }
        assert!(AuthConfig::from_env(&env(&[("ARGON2_QUEUE_LIMIT", "0")])).is_err());
    }

    #[test]
    fn debug_output_hides_key_material() {
        let shown = format!("{:?}", SecretKey::development());
        assert!(shown.contains("dev"));
        assert!(!shown.contains(&format!("{}", SecretKey::development().key[0])));
    }
}

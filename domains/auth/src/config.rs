//! Settings of the auth domain; the server fills them from the environment.

use std::time::Duration;

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
    /// Lifetime of password reset links.
    pub reset_ttl: Duration,
    /// Lifetime of invitations.
    pub invitation_ttl: Duration,
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
}

impl AuthConfig {
    /// Development and test settings with the given key.
    pub fn with_key(kid: &str, secret: Vec<u8>) -> Self {
        Self {
            issuer: "fluxorae".into(),
            signing_keys: vec![SigningKey {
                kid: kid.into(),
                secret,
            }],
            active_kid: kid.into(),
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            open_registration: true,
            password_hashing: PasswordHashing::default(),
            reset_ttl: Duration::from_secs(3600),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            mfa_challenge_ttl: Duration::from_secs(10 * 60),
            otp_max_attempts: 5,
            app_url: "http://localhost:3000".into(),
            totp_issuer: "Fluxorae".into(),
            rate_limits: RateLimits::default(),
        }
    }
}

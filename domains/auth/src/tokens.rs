//! Access tokens (JWT with a `kid`) and opaque one-time and refresh tokens.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use kernel::AppError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::config::AuthConfig;

/// The only algorithm accepted; a token naming any other is refused.
pub const ALGORITHM: Algorithm = Algorithm::HS256;

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session id.
    pub sid: Uuid,
    /// Issuer.
    pub iss: String,
    /// Issued at (unix seconds).
    pub iat: i64,
    /// Not before (unix seconds).
    pub nbf: i64,
    /// Expires at (unix seconds).
    pub exp: i64,
}

/// Signs and verifies access tokens with rotating keys.
pub struct AccessTokens {
    encoding: HashMap<String, EncodingKey>,
    decoding: HashMap<String, DecodingKey>,
    active_kid: String,
    issuer: String,
    ttl: chrono::Duration,
}

impl AccessTokens {
    /// Keys from configuration; fails when the active key is missing or a key is short.
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        // Only the RustCrypto backend is compiled in; installing it explicitly
        // turns a misconfiguration into a start-up error rather than a panic.
        let _ = jsonwebtoken::crypto::rust_crypto::DEFAULT_PROVIDER.install_default();
        let mut encoding = HashMap::new();
        let mut decoding = HashMap::new();
        for key in &config.signing_keys {
            if key.secret.len() < 32 {
                return Err(format!(
                    "signing key {:?} is shorter than 32 bytes",
                    key.kid
                ));
            }
            encoding.insert(key.kid.clone(), EncodingKey::from_secret(&key.secret));
            decoding.insert(key.kid.clone(), DecodingKey::from_secret(&key.secret));
        }
        if !encoding.contains_key(&config.active_kid) {
            return Err(format!(
                "no signing key has the active kid {:?}",
                config.active_kid
            ));
        }
        Ok(Self {
            encoding,
            decoding,
            active_kid: config.active_kid.clone(),
            issuer: config.issuer.clone(),
            ttl: chrono::Duration::from_std(config.access_ttl).map_err(|e| e.to_string())?,
        })
    }

    /// A token for the session, and when it expires.
    pub fn issue(
        &self,
        user_id: Uuid,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(String, DateTime<Utc>), AppError> {
        let expires_at = now + self.ttl;
        let claims = AccessClaims {
            sub: user_id,
            sid: session_id,
            iss: self.issuer.clone(),
            iat: now.timestamp(),
            nbf: now.timestamp(),
            exp: expires_at.timestamp(),
        };
        let mut header = Header::new(ALGORITHM);
        header.kid = Some(self.active_kid.clone());
        let key = self
            .encoding
            .get(&self.active_kid)
            .ok_or_else(|| AppError::internal("active signing key missing"))?;
        let token = jsonwebtoken::encode(&header, &claims, key).map_err(AppError::internal)?;
        Ok((token, expires_at))
    }

    /// The claims of a valid token; `UNAUTHENTICATED` for a bad signature, an
    /// unknown `kid`, another algorithm, an expired or not-yet-valid token.
    pub fn verify(&self, token: &str) -> Result<AccessClaims, AppError> {
        let invalid = || AppError::unauthenticated("Invalid or expired access token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != ALGORITHM {
            return Err(invalid());
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.get(kid))
            .ok_or_else(invalid)?;
        let mut validation = Validation::new(ALGORITHM);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        jsonwebtoken::decode::<AccessClaims>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| invalid())
    }
}

/// A new opaque token: 32 random bytes, URL-safe base64.
pub fn new_opaque_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The stored form of an opaque token: its SHA-256.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> AccessTokens {
        AccessTokens::new(&AuthConfig::with_key("k1", vec![7; 32])).expect("keys")
    }

    #[test]
    fn issued_tokens_verify_and_carry_the_session() {
        let tokens = tokens();
        let (token, _) = tokens
            .issue(Uuid::from_u128(1), Uuid::from_u128(2), Utc::now())
            .expect("issue");
        let claims = tokens.verify(&token).expect("valid");
        assert_eq!(claims.sid, Uuid::from_u128(2));
    }

    #[test]
    fn expired_tampered_and_foreign_tokens_are_refused() {
        let tokens = tokens();
        let (expired, _) = tokens
            .issue(
                Uuid::from_u128(1),
                Uuid::from_u128(2),
                Utc::now() - chrono::Duration::hours(1),
            )
            .expect("issue");
        assert!(tokens.verify(&expired).is_err());

        let (token, _) = tokens
            .issue(Uuid::from_u128(1), Uuid::from_u128(2), Utc::now())
            .expect("issue");
        let mut tampered = token.clone();
        tampered.pop();
        tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
        assert!(tokens.verify(&tampered).is_err());

        let other = AccessTokens::new(&AuthConfig::with_key("k1", vec![8; 32])).expect("keys");
        assert!(other.verify(&token).is_err());
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let a = new_opaque_token();
        assert_ne!(a, new_opaque_token());
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 32);
    }
}

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

/// Installs the process-wide jsonwebtoken crypto provider (HS256 only, see
/// [`hs256`]); idempotent. jsonwebtoken is built without a backend of its
/// own, so signing or verifying before this runs would panic:
/// [`AccessTokens::new`] calls it, and so does the server at start-up.
pub fn install_crypto_provider() {
    // Fails only when a provider is already installed, which is this one.
    let _ = hs256::PROVIDER.install_default();
}

/// Claims of an access token.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccessClaims {
    /// The user id.
    pub sub: Uuid,
    /// The session id.
    pub sid: Uuid,
    /// Issuer.
    pub iss: String,
    /// Audience: the API the token is for; a token minted for another
    /// service with a shared key is refused.
    pub aud: String,
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
    audience: String,
    ttl: chrono::Duration,
}

impl AccessTokens {
    /// Keys from configuration; fails when the active key is missing or a key is short.
    pub fn new(config: &AuthConfig) -> Result<Self, String> {
        install_crypto_provider();
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
            audience: config.audience.clone(),
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
            aud: self.audience.clone(),
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
    /// unknown `kid`, another algorithm, another issuer or audience (or none),
    /// an expired or not-yet-valid token.
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
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
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

/// jsonwebtoken's cryptography for the one algorithm we accept, on the
/// `hmac` and `sha2` crates the rest of the code uses. Its own `rust_crypto`
/// backend would also build RSA, ECDSA and Ed25519 (about 30 crates) for
/// algorithms every token naming them is refused for anyway.
pub mod hs256 {
    use hmac::{Hmac, Mac};
    use jsonwebtoken::crypto::{CryptoProvider, JwkUtils, JwtSigner, JwtVerifier};
    use jsonwebtoken::errors::{Error, ErrorKind};
    use jsonwebtoken::signature::{self, Signer, Verifier};
    use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
    use sha2::Sha256;

    /// Signs and verifies HS256; any other algorithm is `InvalidAlgorithm`,
    /// and JWK helpers are unimplemented (we never read JWKs).
    pub static PROVIDER: CryptoProvider = CryptoProvider {
        signer_factory: signer,
        verifier_factory: verifier,
        jwk_utils: JwkUtils::new_unimplemented(),
    };

    struct Hs256(Hmac<Sha256>);

    impl Hs256 {
        fn new(algorithm: &Algorithm, secret: Result<&[u8], Error>) -> Result<Self, Error> {
            if *algorithm != Algorithm::HS256 {
                return Err(ErrorKind::InvalidAlgorithm.into());
            }
            Hmac::new_from_slice(secret?)
                .map(Self)
                .map_err(|_| ErrorKind::InvalidKeyFormat.into())
        }

        fn mac(&self, message: &[u8]) -> Hmac<Sha256> {
            let mut mac = self.0.clone();
            mac.update(message);
            mac
        }
    }

    fn signer(algorithm: &Algorithm, key: &EncodingKey) -> Result<Box<dyn JwtSigner>, Error> {
        Ok(Box::new(Hs256::new(algorithm, key.try_get_hmac_secret())?))
    }

    fn verifier(algorithm: &Algorithm, key: &DecodingKey) -> Result<Box<dyn JwtVerifier>, Error> {
        Ok(Box::new(Hs256::new(algorithm, key.try_get_hmac_secret())?))
    }

    impl Signer<Vec<u8>> for Hs256 {
        fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
            Ok(self.mac(message).finalize().into_bytes().to_vec())
        }
    }

    impl Verifier<Vec<u8>> for Hs256 {
        fn verify(&self, message: &[u8], tag: &Vec<u8>) -> Result<(), signature::Error> {
            // verify_slice compares in constant time.
            self.mac(message)
                .verify_slice(tag)
                .map_err(|_| signature::Error::new())
        }
    }

    impl JwtSigner for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }

    impl JwtVerifier for Hs256 {
        fn algorithm(&self) -> Algorithm {
            Algorithm::HS256
        }
    }
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

        let elsewhere = AuthConfig {
            audience: "another-service".into(),
            ..AuthConfig::with_key("k1", vec![7; 32])
        };
        let (foreign, _) = AccessTokens::new(&elsewhere)
            .expect("keys")
            .issue(Uuid::from_u128(1), Uuid::from_u128(2), Utc::now())
            .expect("issue");
        assert!(tokens.verify(&foreign).is_err(), "same key, other audience");
    }

    #[test]
    fn the_provider_signs_hs256_as_rfc_4231_says_and_refuses_other_algorithms() {
        install_crypto_provider();
        // RFC 4231 test case 2, base64url: HMAC-SHA256("Jefe", "what do ya want for nothing?").
        let message = b"what do ya want for nothing?";
        let tag = "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM";
        let key = EncodingKey::from_secret(b"Jefe");
        let signed = jsonwebtoken::crypto::sign(message, &key, ALGORITHM).expect("sign");
        assert_eq!(signed, tag);
        let key = DecodingKey::from_secret(b"Jefe");
        assert!(jsonwebtoken::crypto::verify(tag, message, &key, ALGORITHM).expect("verify"));
        assert!(
            !jsonwebtoken::crypto::verify(tag, b"another message", &key, ALGORITHM)
                .expect("verify")
        );
        for other in [
            Algorithm::HS512,
            Algorithm::RS256,
            Algorithm::ES256,
            Algorithm::EdDSA,
        ] {
            assert!(
                jsonwebtoken::crypto::verify(tag, message, &key, other).is_err(),
                "{other:?}"
            );
        }
    }

    #[test]
    fn opaque_tokens_are_random_and_hashed() {
        let a = new_opaque_token();
        assert_ne!(a, new_opaque_token());
        assert_eq!(hash_token(&a), hash_token(&a));
        assert_eq!(hash_token(&a).len(), 32);
    }
}

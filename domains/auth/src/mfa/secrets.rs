//! TOTP secrets at rest: XChaCha20-Poly1305 under rotatable keys.
//!
//! A stored secret reads `enc:v1:<kid>:<base64url(nonce ‖ ciphertext ‖ tag)>`,
//! with a random 24-byte nonce and the user's id as associated data, so a
//! value copied to another user's row does not decrypt. New secrets use the
//! active key; every listed key still decrypts, so keys rotate by adding the
//! new one first, making it active, and removing the old one once every row
//! has been re-encrypted (the server does that when it starts and hourly).
//! A value without the prefix is a plain base32 secret from before
//! encryption, still read until it is re-encrypted.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use uuid::Uuid;

use super::totp::base32_decode;
use crate::config::SecretKey;

const PREFIX: &str = "enc:v1:";
const NONCE_LEN: usize = 24;

/// Why a stored secret cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    /// Encrypted under a key that is no longer configured.
    #[error("the TOTP secret is encrypted under key {0:?}, which is not configured")]
    UnknownKey(String),
    /// Not a secret this module wrote, or changed since.
    #[error("the stored TOTP secret is damaged or belongs to another user")]
    Damaged,
}

/// A secret as read back.
#[derive(Debug, PartialEq, Eq)]
pub struct Opened {
    /// The raw secret.
    pub secret: Vec<u8>,
    /// Whether it is stored under the active key; otherwise it should be re-encrypted.
    pub current: bool,
}

/// The configured keys, one of them active.
#[derive(Clone)]
pub struct SecretBox {
    keys: Vec<(String, XChaCha20Poly1305)>,
    active: usize,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("active", &self.active_kid())
            .finish_non_exhaustive()
    }
}

impl SecretBox {
    /// A box over `keys` that encrypts with the one named `active_kid`.
    pub fn new(keys: &[SecretKey], active_kid: &str) -> Result<Self, String> {
        let active = keys
            .iter()
            .position(|key| key.kid == active_kid)
            .ok_or_else(|| format!("the active TOTP key {active_kid:?} is not configured"))?;
        let keys = keys
            .iter()
            .map(|key| {
                let cipher = XChaCha20Poly1305::new(&Key::from(key.key));
                (key.kid.clone(), cipher)
            })
            .collect();
        Ok(Self { keys, active })
    }

    /// The id of the key new secrets are encrypted with.
    pub fn active_kid(&self) -> &str {
        &self.keys[self.active].0
    }

    /// `secret` encrypted for `user_id` with the active key.
    pub fn seal(&self, user_id: Uuid, secret: &[u8]) -> String {
        let (kid, cipher) = &self.keys[self.active];
        let nonce: [u8; NONCE_LEN] = rand::random();
        let aad = associated_data(user_id);
        // Encryption fails only for inputs of gigabytes; a secret is 20 bytes.
        let Ok(sealed) = cipher.encrypt(
            &XNonce::from(nonce),
            Payload {
                msg: secret,
                aad: &aad,
            },
        ) else {
            unreachable!("XChaCha20-Poly1305 encrypts any short message")
        };
        let mut payload = nonce.to_vec();
        payload.extend_from_slice(&sealed);
        format!("{PREFIX}{kid}:{}", URL_SAFE_NO_PAD.encode(payload))
    }

    /// The secret `stored` for `user_id`: encrypted under any configured key,
    /// or plain base32 from before encryption.
    pub fn open(&self, user_id: Uuid, stored: &str) -> Result<Opened, SecretError> {
        let Some(rest) = stored.strip_prefix(PREFIX) else {
            let secret = base32_decode(stored).ok_or(SecretError::Damaged)?;
            return Ok(Opened {
                secret,
                current: false,
            });
        };
        let (kid, encoded) = rest.split_once(':').ok_or(SecretError::Damaged)?;
        let index = self
            .keys
            .iter()
            .position(|(known, _)| known == kid)
            .ok_or_else(|| SecretError::UnknownKey(kid.to_string()))?;
        let payload = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| SecretError::Damaged)?;
        if payload.len() < NONCE_LEN {
            return Err(SecretError::Damaged);
        }
        let (nonce, sealed) = payload.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| SecretError::Damaged)?;
        let aad = associated_data(user_id);
        let secret = self.keys[index]
            .1
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: sealed,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Damaged)?;
        Ok(Opened {
            secret,
            current: index == self.active,
        })
    }

    /// `stored` re-encrypted with the active key, or `None` when it already is.
    pub fn reseal(&self, user_id: Uuid, stored: &str) -> Result<Option<String>, SecretError> {
        let opened = self.open(user_id, stored)?;
        Ok((!opened.current).then(|| self.seal(user_id, &opened.secret)))
    }
}

fn associated_data(user_id: Uuid) -> Vec<u8> {
    let mut aad = b"fluxorae totp secret:".to_vec();
    aad.extend_from_slice(user_id.as_bytes());
    aad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mfa::totp::base32_encode;

    fn key(kid: &str, byte: u8) -> SecretKey {
        SecretKey {
            kid: kid.into(),
            key: [byte; 32],
        }
    }

    const USER: Uuid = Uuid::from_u128(7);
    const SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn a_sealed_secret_opens_for_its_user_only_and_hides_the_secret() {
        let sealed_box = SecretBox::new(&[key("a", 1)], "a").expect("box");
        let sealed = sealed_box.seal(USER, SECRET);
        assert!(sealed.starts_with("enc:v1:a:"), "{sealed}");
        assert!(!sealed.contains(&base32_encode(SECRET)), "{sealed}");
        assert_ne!(
            sealed,
            sealed_box.seal(USER, SECRET),
            "a fresh nonce each time"
        );
        assert_eq!(
            sealed_box.open(USER, &sealed),
            Ok(Opened {
                secret: SECRET.to_vec(),
                current: true
            })
        );
        assert_eq!(
            sealed_box.open(Uuid::from_u128(8), &sealed),
            Err(SecretError::Damaged)
        );
        let mut tampered = sealed.clone();
        let last = tampered.pop().expect("a character");
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert_eq!(sealed_box.open(USER, &tampered), Err(SecretError::Damaged));
        for junk in ["enc:v1:a", "enc:v1:a:", "enc:v1:a:!!", "not base32!"] {
            assert_eq!(
                sealed_box.open(USER, junk),
                Err(SecretError::Damaged),
                "{junk}"
            );
        }
    }

    #[test]
    fn keys_rotate_and_plain_secrets_are_still_read() {
        let old = SecretBox::new(&[key("old", 1)], "old").expect("box");
        let rotated = SecretBox::new(&[key("new", 2), key("old", 1)], "new").expect("box");
        let newest = SecretBox::new(&[key("new", 2)], "new").expect("box");
        let under_old = old.seal(USER, SECRET);
        assert_eq!(
            rotated.open(USER, &under_old).map(|opened| opened.current),
            Ok(false)
        );
        let resealed = rotated
            .reseal(USER, &under_old)
            .expect("readable")
            .expect("re-encrypted");
        assert_eq!(rotated.reseal(USER, &resealed), Ok(None));
        assert_eq!(
            newest.open(USER, &resealed).map(|opened| opened.secret),
            Ok(SECRET.to_vec())
        );
        assert_eq!(
            newest.open(USER, &under_old),
            Err(SecretError::UnknownKey("old".into()))
        );

        let plain = base32_encode(SECRET);
        assert_eq!(
            newest.open(USER, &plain),
            Ok(Opened {
                secret: SECRET.to_vec(),
                current: false
            })
        );
        let resealed = newest
            .reseal(USER, &plain)
            .expect("readable")
            .expect("encrypted");
        assert!(resealed.starts_with("enc:v1:new:"));
        assert!(SecretBox::new(&[key("a", 1)], "b").is_err());
    }
}

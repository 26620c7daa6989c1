//! Time-based one-time passwords (RFC 6238) and recovery codes.
//!
//! Everything here is pure: callers pass the current time and the last
//! accepted step, and persist the results themselves. Codes are HMAC-SHA1,
//! 6 digits, 30-second steps, which is what every authenticator app supports.

use std::sync::LazyLock;

use data_encoding::{BASE32_NOPAD, Encoding};
use hmac::{Hmac, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use qrcode::QrCode;
use qrcode::render::svg;
use rand::Rng;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Length of a generated TOTP secret in bytes (160 bits, as RFC 4226 recommends).
pub const SECRET_LEN: usize = 20;

/// Seconds per TOTP time step.
pub const STEP_SECONDS: u64 = 30;

/// Digits in a TOTP code.
pub const DIGITS: usize = 6;

/// Characters of a recovery code: no `0`/`O`, `1`/`I`/`L`, so codes read back unambiguously.
pub const RECOVERY_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// Characters in a recovery code, not counting the dash.
pub const RECOVERY_CODE_LEN: usize = 10;

/// Errors from rendering QR codes.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TotpError {
    /// The data does not fit in a QR code.
    #[error("cannot render QR code: {0}")]
    QrCode(#[from] qrcode::types::QrError),
}

/// Encodes bytes as RFC 4648 base32 without padding, as authenticator apps expect.
pub fn base32_encode(data: &[u8]) -> String {
    BASE32_NOPAD.encode(data)
}

/// RFC 4648 base32 read leniently, as people and apps write secrets down: any
/// case, with spaces and with or without `=` padding.
static BASE32_LENIENT: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = BASE32_NOPAD.specification();
    spec.translate.from.push_str("abcdefghijklmnopqrstuvwxyz");
    spec.translate.to.push_str("ABCDEFGHIJKLMNOPQRSTUVWXYZ");
    spec.ignore.push_str(" \t\r\n=");
    spec.check_trailing_bits = false;
    spec.encoding().expect("a valid base32 specification")
});

/// Decodes RFC 4648 base32, ignoring case, ASCII whitespace and `=` padding.
///
/// `None` when a character is outside the base32 alphabet or the length is
/// not one that base32 produces. Leftover bits that do not make a whole byte
/// are dropped.
pub fn base32_decode(input: &str) -> Option<Vec<u8>> {
    BASE32_LENIENT.decode(input.as_bytes()).ok()
}

/// A fresh random TOTP secret of [`SECRET_LEN`] bytes.
pub fn generate_secret() -> Vec<u8> {
    rand::random::<[u8; SECRET_LEN]>().to_vec()
}

fn hotp(secret: &[u8], counter: u64) -> String {
    // HMAC is defined for keys of every length, so this branch cannot be taken.
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(secret) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    // RFC 4226 dynamic truncation; the offset is at most 15, so 4 bytes fit in 20.
    let offset = usize::from(hash[hash.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset],
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]) & 0x7fff_ffff;
    format!("{:0width$}", binary % 1_000_000, width = DIGITS)
}

/// The TOTP code (RFC 6238: HMAC-SHA1, 30 s step, 6 digits, zero-padded) at `unix_time`.
pub fn totp_code(secret: &[u8], unix_time: u64) -> String {
    hotp(secret, unix_time / STEP_SECONDS)
}

/// Checks `code` against the steps before, at and after `unix_time` (clock skew).
///
/// Steps at or before `last_used_step` are refused so a code cannot be replayed.
/// Returns the matched step, which the caller stores as the new `last_used_step`.
/// The code must be exactly 6 ASCII digits; surrounding whitespace is ignored.
pub fn verify_totp(
    secret: &[u8],
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Option<u64> {
    let code = code.trim();
    if code.len() != DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let current = unix_time / STEP_SECONDS;
    let candidates = [
        current.checked_sub(1),
        Some(current),
        current.checked_add(1),
    ];
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not reveal which step matched.
    for step in candidates.into_iter().flatten() {
        if last_used_step.is_some_and(|last| step <= last) {
            continue;
        }
        let equal: bool = hotp(secret, step).as_bytes().ct_eq(code.as_bytes()).into();
        if equal && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

/// Everything but RFC 3986's unreserved characters (`A-Z a-z 0-9 - . _ ~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `input` (RFC 3986): unreserved characters are kept, every
/// other UTF-8 byte becomes `%XX`. Also valid for `application/x-www-form-urlencoded`.
pub fn percent_encode(input: &str) -> String {
    utf8_percent_encode(input, NOT_UNRESERVED).to_string()
}

/// The `otpauth://` provisioning URI that authenticator apps import from a QR code.
///
/// Issuer and account are percent-encoded; the secret is unpadded base32.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        account = percent_encode(account),
        secret = base32_encode(secret),
    )
}

/// Renders `data` (usually an [`otpauth_uri`]) as an SVG QR code at least 200 px square.
pub fn qr_code_svg(data: &str) -> Result<String, TotpError> {
    let code = QrCode::new(data.as_bytes())?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(200, 200)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// `count` random recovery codes formatted `XXXXX-XXXXX` from [`RECOVERY_ALPHABET`].
pub fn generate_recovery_codes(count: usize) -> Vec<String> {
    let mut rng = rand::rng();
    (0..count)
        .map(|_| {
            let mut code = String::with_capacity(RECOVERY_CODE_LEN + 1);
            for i in 0..RECOVERY_CODE_LEN {
                if i == RECOVERY_CODE_LEN / 2 {
                    code.push('-');
                }
                let index = rng.random_range(0..RECOVERY_ALPHABET.len());
                code.push(char::from(RECOVERY_ALPHABET[index]));
            }
            code
        })
        .collect()
}

/// Canonical form of a typed recovery code: uppercase, without whitespace or dashes.
pub fn normalize_recovery_code(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// SHA-256 of the [normalized](normalize_recovery_code) recovery code, the form to store.
pub fn hash_recovery_code(input: &str) -> [u8; 32] {
    Sha256::digest(normalize_recovery_code(input).as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc6238_sha1_vectors() {
        let vectors = [
            (59, "287082"),
            (1_111_111_109, "081804"),
            (1_111_111_111, "050471"),
            (1_234_567_890, "005924"),
            (2_000_000_000, "279037"),
            (20_000_000_000, "353130"),
        ];
        for (time, expected) in vectors {
            assert_eq!(totp_code(RFC_SECRET, time), expected, "time {time}");
        }
    }

    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583",
            "399871", "520489",
        ];
        for (counter, code) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_SECRET, counter as u64), *code);
        }
    }

    #[test]
    fn codes_change_only_at_step_boundaries() {
        assert_eq!(totp_code(RFC_SECRET, 30), totp_code(RFC_SECRET, 59));
        assert_ne!(totp_code(RFC_SECRET, 59), totp_code(RFC_SECRET, 60));
    }

    #[test]
    fn verify_accepts_previous_current_and_next_step() {
        let now = 1_111_111_111;
        let step = now / STEP_SECONDS;
        for offset in [-1i64, 0, 1] {
            let s = step.checked_add_signed(offset).expect("step");
            let code = hotp(RFC_SECRET, s);
            assert_eq!(verify_totp(RFC_SECRET, &code, now, None), Some(s));
        }
    }

    #[test]
    fn verify_rejects_steps_outside_the_window() {
        let now = 1_111_111_111;
        let step = now / STEP_SECONDS;
        for s in [step - 2, step + 2, step + 10] {
            let code = hotp(RFC_SECRET, s);
            assert_eq!(verify_totp(RFC_SECRET, &code, now, None), None, "step {s}");
        }
    }

    #[test]
    fn verify_rejects_replay_of_used_step() {
        let now = 1_234_567_890;
        let code = totp_code(RFC_SECRET, now);
        let step = verify_totp(RFC_SECRET, &code, now, None).expect("first use");
        assert_eq!(step, now / STEP_SECONDS);
        assert_eq!(verify_totp(RFC_SECRET, &code, now, Some(step)), None);
        // Still refused a step later, when the same code would sit in the skew window.
        assert_eq!(
            verify_totp(RFC_SECRET, &code, now + STEP_SECONDS, Some(step)),
            None
        );
        // An earlier code inside the window is refused once a later step was used.
        let previous = hotp(RFC_SECRET, step - 1);
        assert_eq!(verify_totp(RFC_SECRET, &previous, now, Some(step)), None);
        // The next step remains usable.
        let next = hotp(RFC_SECRET, step + 1);
        assert_eq!(
            verify_totp(RFC_SECRET, &next, now, Some(step)),
            Some(step + 1)
        );
    }

    #[test]
    fn verify_at_time_zero_has_no_previous_step() {
        let code = totp_code(RFC_SECRET, 0);
        assert_eq!(verify_totp(RFC_SECRET, &code, 0, None), Some(0));
        let next = hotp(RFC_SECRET, 1);
        assert_eq!(verify_totp(RFC_SECRET, &next, 0, None), Some(1));
        assert_eq!(verify_totp(RFC_SECRET, &code, 0, Some(0)), None);
    }

    #[test]
    fn verify_allows_surrounding_whitespace() {
        let now = 59;
        assert_eq!(verify_totp(RFC_SECRET, " 287082\n", now, None), Some(1));
        assert_eq!(verify_totp(RFC_SECRET, "\t287082 ", now, None), Some(1));
    }

    #[test]
    fn verify_rejects_malformed_codes() {
        let now = 59;
        for code in [
            "",
            "28708",
            "2870820",
            "287 082",
            "28708a",
            "+28708",
            "２８７０８２",
            "287082x",
            "-87082",
            "28708\u{0}",
        ] {
            assert_eq!(verify_totp(RFC_SECRET, code, now, None), None, "{code:?}");
        }
        assert_eq!(verify_totp(RFC_SECRET, "000000", now, None), None);
    }

    #[test]
    fn verify_rejects_wrong_secret() {
        let code = totp_code(RFC_SECRET, 59);
        assert_eq!(verify_totp(b"another secret", &code, 59, None), None);
    }

    #[test]
    fn base32_rfc4648_vectors() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (raw, encoded) in vectors {
            assert_eq!(base32_encode(raw), encoded);
            assert_eq!(base32_decode(encoded).expect("decodes"), raw);
        }
    }

    #[test]
    fn base32_decode_is_lenient_about_case_spaces_and_padding() {
        assert_eq!(
            base32_decode("mzxw 6ytb oi======").expect("decodes"),
            b"foobar"
        );
        assert_eq!(base32_decode("MZXW6===").expect("decodes"), b"foo");
        assert_eq!(base32_decode("MzXw6\t\r\n").expect("decodes"), b"foo");
        // Non-zero leftover bits, as some generators write them, are dropped.
        assert_eq!(base32_decode("MZXW7").expect("decodes"), b"foo");
    }

    #[test]
    fn base32_decode_rejects_foreign_characters_and_impossible_lengths() {
        for input in ["MZXW1", "MZ-XW", "MZé", "MZXW0", "MZXW8", "MZX", "MZXW6Y"] {
            assert_eq!(base32_decode(input), None, "{input:?}");
        }
    }

    #[test]
    fn base32_round_trips_random_secrets() {
        for len in 0..=40 {
            let data: Vec<u8> = (0..len).map(|_| rand::random()).collect();
            assert_eq!(base32_decode(&base32_encode(&data)).expect("decodes"), data);
        }
        let secret = generate_secret();
        assert_eq!(base32_encode(&secret).len(), 32);
    }

    #[test]
    fn generated_secrets_are_random_and_sized() {
        let a = generate_secret();
        let b = generate_secret();
        assert_eq!(a.len(), SECRET_LEN);
        assert_ne!(a, b);
    }

    #[test]
    fn otpauth_uri_layout() {
        assert_eq!(
            otpauth_uri("Fluxorae", "asha@example.in", b"foobar"),
            "otpauth://totp/Fluxorae:asha%40example.in?secret=MZXW6YTBOI&issuer=Fluxorae&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn otpauth_uri_escapes_issuer_and_account() {
        let uri = otpauth_uri("Fluxorae & Co: Staging", "अनु+test user@x.in", b"foobar");
        assert_eq!(
            uri,
            "otpauth://totp/Fluxorae%20%26%20Co%3A%20Staging:%E0%A4%85%E0%A4%A8%E0%A5%81%2Btest%20user%40x.in?secret=MZXW6YTBOI&issuer=Fluxorae%20%26%20Co%3A%20Staging&algorithm=SHA1&digits=6&period=30"
        );
    }

    #[test]
    fn percent_encode_keeps_only_unreserved() {
        assert_eq!(percent_encode("Az09-._~"), "Az09-._~");
        assert_eq!(percent_encode("a b/?#=&+%"), "a%20b%2F%3F%23%3D%26%2B%25");
        assert_eq!(percent_encode("₹"), "%E2%82%B9");
    }

    #[test]
    fn qr_code_svg_renders_svg_at_least_200px() {
        let uri = otpauth_uri("Fluxorae", "asha@example.in", &generate_secret());
        let svg = qr_code_svg(&uri).expect("renders");
        assert!(svg.contains("<svg"));
        assert!(svg.ends_with("</svg>"));
        let width: u32 = svg
            .split("width=\"")
            .nth(2)
            .and_then(|rest| rest.split('"').next())
            .and_then(|w| w.parse().ok())
            .expect("svg width");
        assert!(width >= 200, "width {width}");
    }

    #[test]
    fn qr_code_svg_reports_oversized_data() {
        let huge = "x".repeat(10_000);
        assert!(matches!(qr_code_svg(&huge), Err(TotpError::QrCode(_))));
    }

    #[test]
    fn recovery_codes_have_the_documented_format() {
        let codes = generate_recovery_codes(10);
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(code.len(), 11, "{code}");
            let (left, right) = code.split_at(5);
            assert!(right.starts_with('-'), "{code}");
            for c in left.bytes().chain(right[1..].bytes()) {
                assert!(RECOVERY_ALPHABET.contains(&c), "{code}");
            }
            assert_eq!(normalize_recovery_code(code).len(), RECOVERY_CODE_LEN);
        }
        let mut unique = codes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), codes.len());
        assert!(generate_recovery_codes(0).is_empty());
    }

    #[test]
    fn recovery_alphabet_has_no_ambiguous_characters() {
        for c in b"0O1IL" {
            assert!(!RECOVERY_ALPHABET.contains(c), "{}", char::from(*c));
        }
        let mut sorted = RECOVERY_ALPHABET.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), RECOVERY_ALPHABET.len());
    }

    #[test]
    fn recovery_codes_normalize_loosely_typed_input() {
        assert_eq!(normalize_recovery_code("ABCDE-FGHJK"), "ABCDEFGHJK");
        assert_eq!(normalize_recovery_code(" abcde fghjk "), "ABCDEFGHJK");
        assert_eq!(normalize_recovery_code("ab-cde--fg hjk\t"), "ABCDEFGHJK");
        assert_eq!(
            hash_recovery_code("abcde fghjk"),
            hash_recovery_code("ABCDE-FGHJK")
        );
        assert_ne!(
            hash_recovery_code("ABCDE-FGHJK"),
            hash_recovery_code("ABCDE-FGHJM")
        );
    }

    #[test]
    fn recovery_code_hash_is_sha256_of_normalized_form() {
        let hex: String = hash_recovery_code("abcde-fghjk")
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // `printf ABCDEFGHJK | sha256sum`
        assert_eq!(
            hex,
            "f57cbf1e3e471b25db4b8ad0844df41b2dae9c7d1944944d128e49294d412f66"
        );
    }
}

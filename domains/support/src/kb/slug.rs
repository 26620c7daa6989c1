//! Slugs: generated from names and titles, validated when given.

use kernel::FieldError;

/// Longest slug.
pub const SLUG_MAX_CHARS: usize = 100;

/// Folds common Latin letters with diacritics to ASCII; `None` for anything else.
fn fold(ch: char) -> Option<&'static str> {
    Some(match ch {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'Ā' | 'Ă' | 'Ą' => "a",
        'æ' | 'Æ' => "ae",
        'ç' | 'ć' | 'č' | 'Ç' | 'Ć' | 'Č' => "c",
        'ď' | 'đ' | 'ð' | 'Ď' | 'Đ' | 'Ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ė' | 'ę' | 'ě' => "e",
        'È' | 'É' | 'Ê' | 'Ë' | 'Ē' | 'Ė' | 'Ę' | 'Ě' => "e",
        'ğ' | 'Ğ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ī' | 'į' | 'ı' | 'Ì' | 'Í' | 'Î' | 'Ï' | 'Ī' | 'Į' | 'İ' => {
            "i"
        }
        'ł' | 'Ł' => "l",
        'ñ' | 'ń' | 'ň' | 'Ñ' | 'Ń' | 'Ň' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ő' => "o",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' | 'Ō' | 'Ő' => "o",
        'œ' | 'Œ' => "oe",
        'ř' | 'Ř' => "r",
        'ś' | 'š' | 'ş' | 'Ś' | 'Š' | 'Ş' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'Ť' | 'Ţ' => "t",
        'þ' | 'Þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' | 'ū' | 'ů' | 'ű' | 'ų' => "u",
        'Ù' | 'Ú' | 'Û' | 'Ü' | 'Ū' | 'Ů' | 'Ű' | 'Ų' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'ź' | 'ż' | 'ž' | 'Ź' | 'Ż' | 'Ž' => "z",
        _ => return None,
    })
}

/// A slug made from free text: lower-case ASCII letters and digits, words
/// joined by single `-`, at most [`SLUG_MAX_CHARS`]; empty when the text has
/// no usable characters. Apostrophes join words ("What's new" is `whats-new`).
pub fn slugify(text: &str) -> String {
    let mut slug = String::new();
    let mut pending_dash = false;
    let push = |c: char, slug: &mut String, pending_dash: &mut bool| {
        if c.is_ascii_alphanumeric() {
            if *pending_dash && !slug.is_empty() {
                slug.push('-');
            }
            *pending_dash = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            *pending_dash = true;
        }
    };
    for ch in text.chars() {
        if matches!(ch, '\'' | '’' | '‘') {
            continue;
        }
        match fold(ch) {
            Some(ascii) => ascii
                .chars()
                .for_each(|c| push(c, &mut slug, &mut pending_dash)),
            None => push(ch, &mut slug, &mut pending_dash),
        }
    }
    truncate_slug(&slug, SLUG_MAX_CHARS)
}

/// `slug` cut to at most `max` characters, without a trailing `-`.
fn truncate_slug(slug: &str, max: usize) -> String {
    // Slugs are ASCII, so bytes are characters.
    let cut = &slug[..slug.len().min(max)];
    cut.trim_end_matches('-').to_string()
}

/// The `n`th candidate for `base`: `base` itself, then `base-2`, `base-3`, ...,
/// the base shortened so that the whole stays within [`SLUG_MAX_CHARS`].
pub fn slug_candidate(base: &str, n: u32) -> String {
    if n <= 1 {
        return base.to_string();
    }
    let suffix = format!("-{n}");
    let mut slug = truncate_slug(base, SLUG_MAX_CHARS - suffix.len());
    slug.push_str(&suffix);
    slug
}

/// Whether `slug` matches `^[a-z0-9]+(-[a-z0-9]+)*$` and has at most [`SLUG_MAX_CHARS`].
pub fn is_valid_slug(slug: &str) -> bool {
    !slug.is_empty()
        && slug.len() <= SLUG_MAX_CHARS
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !slug.starts_with('-')
        && !slug.ends_with('-')
        && !slug.contains("--")
}

/// Validates a slug given by a client.
pub(crate) fn given_slug(slug: &str, field: &str) -> Result<String, FieldError> {
    let slug = slug.trim();
    if slug.len() > SLUG_MAX_CHARS {
        return Err(FieldError {
            field: field.into(),
            message: format!("Use at most {SLUG_MAX_CHARS} characters"),
        });
    }
    if !is_valid_slug(slug) {
        return Err(FieldError {
            field: field.into(),
            message: "Use lower-case letters and digits in words separated by single hyphens, e.g. reset-your-password".into(),
        });
    }
    Ok(slug.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_ascii_words_joined_by_hyphens() {
        assert_eq!(slugify("Hello, World!"), "hello-world");
        assert_eq!(
            slugify("  Resetting   your password  "),
            "resetting-your-password"
        );
        assert_eq!(slugify("What's new in v2.0?"), "whats-new-in-v2-0");
        assert_eq!(
            slugify("Café déjà vu — Über Straße"),
            "cafe-deja-vu-uber-strasse"
        );
        assert_eq!(slugify("--a--b--"), "a-b");
        assert_eq!(slugify("日本語"), "");
        let long = slugify(&"word ".repeat(60));
        assert!(
            long.len() <= SLUG_MAX_CHARS && is_valid_slug(&long),
            "{long}"
        );
        for text in ["Hello, World!", "What's new in v2.0?", "Café déjà vu"] {
            assert!(is_valid_slug(&slugify(text)));
        }
    }

    #[test]
    fn candidates_append_a_counter_within_the_length_limit() {
        assert_eq!(slug_candidate("faq", 1), "faq");
        assert_eq!(slug_candidate("faq", 2), "faq-2");
        assert_eq!(slug_candidate("faq", 13), "faq-13");
        let base = format!("{}-b", "a".repeat(97));
        assert_eq!(base.len(), 99);
        let candidate = slug_candidate(&base, 2);
        assert_eq!(candidate, format!("{}-2", "a".repeat(97)));
        assert!(is_valid_slug(&candidate));
        let full = "a".repeat(100);
        assert_eq!(slug_candidate(&full, 10).len(), 100);
    }

    #[test]
    fn given_slugs_must_match_the_pattern() {
        for good in ["a", "faq", "reset-your-password", "v2-0", "a1-b2-c3"] {
            assert!(is_valid_slug(good), "{good}");
        }
        for bad in [
            "",
            "-a",
            "a-",
            "a--b",
            "Hello",
            "a_b",
            "a b",
            "é",
            &"a".repeat(101),
        ] {
            assert!(!is_valid_slug(bad), "{bad}");
        }
        assert_eq!(
            given_slug(" faq ", "input.slug").ok().as_deref(),
            Some("faq")
        );
        let error = given_slug("Bad Slug", "input.slug").expect_err("invalid");
        assert_eq!(error.field, "input.slug");
    }
}

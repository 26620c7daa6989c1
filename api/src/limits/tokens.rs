//! Counts a document's lexical tokens without parsing it, so an oversized
//! document is refused before the parser and validation spend time on it.

/// The number of tokens in `source`, counting at most `stop_after + 1`.
///
/// Follows the GraphQL lexical grammar: whitespace, line terminators, commas
/// and comments are ignored; a string or block string is one token, as is a
/// name, a number or a punctuator (`...` included). Input that is not valid
/// GraphQL is still counted, one token per unknown character, and left for the
/// parser to refuse.
pub fn count_tokens(source: &str, stop_after: usize) -> usize {
    let bytes = source.as_bytes();
    let mut position = 0;
    let mut tokens = 0;
    while position < bytes.len() && tokens <= stop_after {
        let byte = bytes[position];
        match byte {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => position += 1,
            b'#' => {
                while position < bytes.len() && !matches!(bytes[position], b'\n' | b'\r') {
                    position += 1;
                }
            }
            b'"' => {
                position = skip_string(bytes, position);
                tokens += 1;
            }
            b'.' if bytes[position..].starts_with(b"...") => {
                position += 3;
                tokens += 1;
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                position += 1;
                while position < bytes.len()
                    && matches!(bytes[position], b'_' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
                {
                    position += 1;
                }
                tokens += 1;
            }
            b'-' | b'0'..=b'9' => {
                position += 1;
                while position < bytes.len()
                    && matches!(
                        bytes[position],
                        b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-'
                    )
                {
                    position += 1;
                }
                tokens += 1;
            }
            _ => {
                // The byte order mark is ignored; anything else is one token
                // (a punctuator, or an error the parser reports).
                if source[position..].starts_with('\u{feff}') {
                    position += '\u{feff}'.len_utf8();
                    continue;
                }
                position += source[position..].chars().next().map_or(1, char::len_utf8);
                tokens += 1;
            }
        }
    }
    tokens
}

/// The position after the string starting at `start` (an unterminated string
/// runs to the end).
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut position = start + 3;
        while position < bytes.len() {
            if bytes[position..].starts_with(b"\\\"\"\"") {
                position += 4;
            } else if bytes[position..].starts_with(b"\"\"\"") {
                return position + 3;
            } else {
                position += 1;
            }
        }
        return position;
    }
    let mut position = start + 1;
    while position < bytes.len() {
        match bytes[position] {
            b'\\' => position += 2,
            b'"' | b'\n' | b'\r' => return position + 1,
            _ => position += 1,
        }
    }
    position.min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::count_tokens;

    fn count(source: &str) -> usize {
        count_tokens(source, usize::MAX - 1)
    }

    #[test]
    fn names_punctuators_numbers_and_strings_are_one_token_each() {
        assert_eq!(count("{ me { id } }"), 6);
        assert_eq!(count("query Q($n: Int = -1.5e3) { a(n: $n) }"), 19);
        assert_eq!(count(r#"{ a(s: "x \" y, # not a comment") }"#), 8);
        assert_eq!(count("{ ...F } fragment F on T { a }"), 11);
    }

    #[test]
    fn commas_comments_and_whitespace_are_ignored() {
        assert_eq!(count("\u{feff}{ a, b, # c d e\n c }"), 5);
        assert_eq!(count("  ,,, \n# only a comment"), 0);
    }

    #[test]
    fn block_strings_are_one_token_even_with_escaped_quotes() {
        assert_eq!(count(r#"{ a(s: """one \""" two "" three""") }"#), 8);
    }

    #[test]
    fn counting_stops_just_past_the_limit() {
        let huge = "{ a }".repeat(100_000);
        assert_eq!(count_tokens(&huge, 10), 11);
    }

    #[test]
    fn unterminated_and_invalid_input_is_still_counted() {
        assert_eq!(count("{ a(s: \"open"), 6);
        assert_eq!(count("{ € }"), 3);
    }
}

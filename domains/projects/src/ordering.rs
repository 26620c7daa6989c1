//! Kanban ordering with lexicographic fractional-index keys.
//!
//! A key is a non-empty string of base-62 digits (`0-9A-Za-z`, ascending in
//! byte order) read as the digits of a fraction in [0, 1) that never ends in
//! `0`. Between any two keys there is always another one, so a move writes one
//! row: the moved task's key, computed from the neighbours the client names.
//! Keys must be compared byte-wise (`COLLATE "C"`).

/// The digit alphabet, in byte order.
pub const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Why a key cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderingError {
    /// A key has a character outside the alphabet, is empty, or ends in `0`.
    #[error("invalid order key {0:?}")]
    InvalidKey(String),
    /// The lower neighbour is not below the upper one.
    #[error("order keys out of order: {0:?} is not below {1:?}")]
    OutOfOrder(String, String),
}

fn digit_value(byte: u8) -> Option<usize> {
    DIGITS.iter().position(|&d| d == byte)
}

fn validate(key: &str) -> Result<(), OrderingError> {
    let valid =
        !key.is_empty() && key.bytes().all(|b| digit_value(b).is_some()) && !key.ends_with('0');
    if valid {
        Ok(())
    } else {
        Err(OrderingError::InvalidKey(key.to_string()))
    }
}

/// A key strictly between `below` and `above` (`None` = the start or end of the column).
pub fn key_between(below: Option<&str>, above: Option<&str>) -> Result<String, OrderingError> {
    if let Some(below) = below {
        validate(below)?;
    }
    if let Some(above) = above {
        validate(above)?;
    }
    if let (Some(below), Some(above)) = (below, above)
        && below >= above
    {
        return Err(OrderingError::OutOfOrder(
            below.to_string(),
            above.to_string(),
        ));
    }
    Ok(match (below, above) {
        (None, None) => "V".to_string(),
        (Some(below), None) => key_after(below),
        (None, Some(above)) => key_before(above),
        (Some(below), Some(above)) => midpoint(below.as_bytes(), Some(above.as_bytes())),
    })
}

/// The next key after `key` at the end of a column: bump the last digit, or
/// extend when it is already the largest. Appending is the common move, so
/// keys grow by one character per ~60 appends instead of halving the gap.
fn key_after(key: &str) -> String {
    let bytes = key.as_bytes();
    let last = bytes.len() - 1;
    match digit_value(bytes[last]) {
        Some(value) if value + 1 < DIGITS.len() => {
            let mut out = bytes[..last].to_vec();
            out.push(DIGITS[value + 1]);
            String::from_utf8_lossy(&out).into_owned()
        }
        _ => format!("{key}1"),
    }
}

/// The key before `key` at the start of a column, mirroring [`key_after`];
/// a key never ends in `0`, so `..1` becomes `..0z`.
fn key_before(key: &str) -> String {
    let bytes = key.as_bytes();
    let last = bytes.len() - 1;
    match digit_value(bytes[last]) {
        Some(value) if value > 1 => {
            let mut out = bytes[..last].to_vec();
            out.push(DIGITS[value - 1]);
            String::from_utf8_lossy(&out).into_owned()
        }
        _ => {
            let mut out = bytes[..last].to_vec();
            out.push(b'0');
            out.push(b'z');
            String::from_utf8_lossy(&out).into_owned()
        }
    }
}

/// Midpoint of two digit strings read as fractions; `above = None` means 1.
fn midpoint(below: &[u8], above: Option<&[u8]>) -> String {
    if let Some(above) = above {
        // Skip the common prefix (a missing digit of `below` counts as 0).
        let mut n = 0;
        while n < above.len() && below.get(n).copied().unwrap_or(b'0') == above[n] {
            n += 1;
        }
        if n > 0 {
            let prefix = String::from_utf8_lossy(&above[..n]).into_owned();
            let rest_below = below.get(n..).unwrap_or(&[]);
            return prefix + &midpoint(rest_below, Some(&above[n..]));
        }
    }
    let low = below.first().and_then(|&b| digit_value(b)).unwrap_or(0);
    let high = match above {
        Some(above) => above.first().and_then(|&b| digit_value(b)).unwrap_or(0),
        None => DIGITS.len(),
    };
    if high - low > 1 {
        let mid = (low + high).div_ceil(2);
        return char::from(DIGITS[mid]).to_string();
    }
    // Consecutive first digits: take the upper one's first digit when it is
    // followed by more digits, else extend the lower one.
    if let Some(above) = above
        && above.len() > 1
    {
        return char::from(above[0]).to_string();
    }
    let rest_below = below.get(1..).unwrap_or(&[]);
    char::from(DIGITS[low]).to_string() + &midpoint(rest_below, None)
}

/// `count` ascending keys for a fresh column (used to rebalance).
pub fn spread(count: usize) -> Vec<String> {
    let mut keys: Vec<String> = Vec::with_capacity(count);
    for _ in 0..count {
        let next = match keys.last() {
            Some(previous) => key_after(previous),
            None => "1".to_string(),
        };
        keys.push(next);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    fn between(a: Option<&str>, b: Option<&str>) -> String {
        let key = key_between(a, b).expect("key");
        if let Some(a) = a {
            assert!(a < key.as_str(), "{a} < {key}");
        }
        if let Some(b) = b {
            assert!(key.as_str() < b, "{key} < {b}");
        }
        assert!(!key.ends_with('0'));
        key
    }

    #[test]
    fn keys_fall_strictly_between_their_neighbours() {
        let first = between(None, None);
        let after = between(Some(&first), None);
        let before = between(None, Some(&first));
        let middle = between(Some(&before), Some(&first));
        assert!(before < middle && middle < first && first < after);
        assert_eq!(between(Some("a"), Some("b")), "aV");
        assert_eq!(between(Some("a1"), Some("a2")), "a1V");
        between(Some("az"), Some("b"));
        between(Some("zzzz"), None);
        between(None, Some("01"));
    }

    #[test]
    fn invalid_and_out_of_order_neighbours_are_refused() {
        assert!(key_between(Some("b"), Some("a")).is_err());
        assert!(key_between(Some("a"), Some("a")).is_err());
        assert!(key_between(Some("a0"), None).is_err());
        assert!(key_between(Some("a-"), None).is_err());
        assert!(key_between(Some(""), None).is_err());
    }

    #[test]
    fn repeated_inserts_keep_a_column_in_order() {
        // Insert 500 times at pseudo-random positions and check the order holds.
        let mut column: Vec<String> = Vec::new();
        let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..500 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let position = (seed % (column.len() as u64 + 1)) as usize;
            let below = position.checked_sub(1).map(|i| column[i].as_str());
            let above = column.get(position).map(String::as_str);
            let key = between(below, above);
            column.insert(position, key);
        }
        let mut sorted = column.clone();
        sorted.sort();
        assert_eq!(column, sorted);
        sorted.dedup();
        assert_eq!(sorted.len(), column.len());
    }

    #[test]
    fn always_inserting_at_the_front_or_back_grows_keys_slowly() {
        let mut key = between(None, None);
        for _ in 0..200 {
            key = between(Some(&key), None);
        }
        assert!(key.len() <= 8, "{key}");
        let mut key = between(None, None);
        for _ in 0..200 {
            key = between(None, Some(&key));
        }
        assert!(key.len() <= 8, "{key}");
    }

    #[test]
    fn spread_keys_ascend() {
        let keys = spread(50);
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
    }
}

//! Keyset listing: opaque cursors that encode the last key returned, and prefixes as byte ranges.
//! A page query is `key > after AND key >= prefix AND key < end(prefix) ORDER BY key`, so a key that
//! exists through the whole scan is returned exactly once whatever is written meanwhile.

use crate::error::{Result, StoreError};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Encodes the last key of a page as an opaque cursor.
pub fn encode(last_key: &str) -> String {
    URL_SAFE_NO_PAD.encode(last_key.as_bytes())
}

/// Decodes a cursor back to the key to start after.
pub fn decode(cursor: &str) -> Result<Vec<u8>> {
    URL_SAFE_NO_PAD
        .decode(cursor.trim_end_matches('='))
        .map_err(|_| StoreError::InvalidCursor)
}

/// The byte range `[start, end)` that holds exactly the keys starting with `prefix`; `end` is `None`
/// when no upper bound exists (an empty prefix, or one made of 0xFF bytes).
pub fn prefix_range(prefix: &[u8]) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return (prefix.to_vec(), Some(end));
        }
    }
    (prefix.to_vec(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_any_key() {
        for key in ["a", "ключ/😀", "with space", "+=&?#"] {
            assert_eq!(decode(&encode(key)).unwrap(), key.as_bytes());
        }
        assert!(matches!(
            decode("not base64!"),
            Err(StoreError::InvalidCursor)
        ));
    }

    #[test]
    fn prefix_range_bounds() {
        assert_eq!(prefix_range(b"ab"), (b"ab".to_vec(), Some(b"ac".to_vec())));
        assert_eq!(
            prefix_range(b"a\xff"),
            (b"a\xff".to_vec(), Some(b"b".to_vec()))
        );
        assert_eq!(prefix_range(b""), (vec![], None));
        assert_eq!(prefix_range(b"\xff"), (b"\xff".to_vec(), None));
    }
}

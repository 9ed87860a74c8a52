//! Counters for `atomics::increment`: their one encoding, and the atomic read-modify-write over the
//! store.
//!
//! # Encoding
//!
//! A counter is the decimal ASCII text of the integer: an optional `-` followed by digits and nothing
//! else (no `+`, no spaces, no trailing newline), e.g. `42` or `-7`. That is what Redis `INCRBY`
//! keeps, and what a REST client or an `edgekv:kv` guest reads back as is. A missing key counts as 0.
//! Both `wasi:keyvalue` versions share counters; each checks the result against its own range (`u64`
//! for `0.2.0-draft`, `s64` for `0.2.0-draft2`). A value that is not such text, or a result out of
//! range, fails the call with `other("other: ...")` and leaves the entry unchanged.
//!
//! # Atomicity
//!
//! Read the entry, compute the next value, write it with the entry's ETag as precondition (or
//! "absent" when there was none), and on a conflict read again and retry. ETags are never reused, so
//! each increment applies exactly once whatever is written concurrently. The written entry has no
//! metadata, content type or expiry, like every `wasi:keyvalue` write.

use super::bucket::Bucket;
use super::Failure;
use edgekv_store::{Precondition, Put, Store, StoreError, Uuid};
use std::fmt;

/// How many conflicting writes an increment retries before giving up. Every round of conflicts has
/// a winner, so only pathological contention gets here.
const MAX_ATTEMPTS: u32 = 1000;

/// An integer type a counter is returned as.
pub trait CounterValue: Copy + fmt::Display + TryFrom<i128> + Into<i128> + Send + 'static {
    const MIN: Self;
    const MAX: Self;
}

impl CounterValue for u64 {
    const MIN: u64 = u64::MIN;
    const MAX: u64 = u64::MAX;
}

impl CounterValue for i64 {
    const MIN: i64 = i64::MIN;
    const MAX: i64 = i64::MAX;
}

/// Why a counter could not be incremented.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CounterError {
    #[error("the value is not a counter: counters are stored as decimal ASCII integers such as `42` or `-7`")]
    NotDecimal,
    #[error("{current} + {delta} is outside the counter range {min}..={max}")]
    OutOfRange {
        current: String,
        delta: i128,
        min: i128,
        max: i128,
    },
}

/// Parses a stored counter. `Ok(None)` is a decimal integer too large for any counter range (it can
/// only be out of range).
pub fn parse(value: &[u8]) -> Result<Option<i128>, CounterError> {
    let digits = value.strip_prefix(b"-").unwrap_or(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CounterError::NotDecimal);
    }
    // ASCII digits and `-` only, so this is UTF-8 and i128 parsing fails only on overflow.
    let text = std::str::from_utf8(value).map_err(|_| CounterError::NotDecimal)?;
    Ok(text.parse::<i128>().ok())
}

/// The text a counter is stored as.
pub fn encode<T: fmt::Display>(n: T) -> Vec<u8> {
    n.to_string().into_bytes()
}

/// The value after adding `delta` to `stored` (`None`: no entry, counts as 0), in `T`'s range.
pub fn next<T: CounterValue>(stored: Option<&[u8]>, delta: i128) -> Result<T, CounterError> {
    let current = match stored {
        None => Some(0),
        Some(value) => parse(value)?,
    };
    current
        .and_then(|c| c.checked_add(delta))
        .and_then(|sum| T::try_from(sum).ok())
        .ok_or_else(|| CounterError::OutOfRange {
            current: stored.map_or_else(|| "0".into(), |v| String::from_utf8_lossy(v).into()),
            delta,
            min: T::MIN.into(),
            max: T::MAX.into(),
        })
}

impl Bucket {
    /// Adds `delta` to the counter at `key` atomically; returns the new value.
    pub async fn increment<T: CounterValue>(self, key: String, delta: i128) -> Result<T, Failure> {
        self.write("keyvalue.increment", move |store, id| {
            increment(store, id, &key, delta)
        })
        .await
    }
}

/// The read / compute / conditional write loop, on a blocking thread.
fn increment<T: CounterValue>(
    store: &Store,
    id: &Uuid,
    key: &str,
    delta: i128,
) -> Result<T, Failure> {
    for _ in 0..MAX_ATTEMPTS {
        let (stored, precondition) = match store.get(id, key) {
            Ok(entry) => (
                Some(entry.value),
                Precondition::EntryEtag(entry.etag.to_string()),
            ),
            Err(StoreError::KeyNotFound(_)) => (None, Precondition::Absent),
            Err(e) => return Err(e.into()),
        };
        let value: T = next(stored.as_deref(), delta)
            .map_err(|e| Failure::other("other", format!("cannot increment {key:?}: {e}")))?;
        let put = Put {
            precondition,
            ..Put::new(key, encode(value))
        };
        match store.put(id, put) {
            Ok(_) => return Ok(value),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(Failure::other(
        "conflict",
        format!("increment of {key:?} gave up after {MAX_ATTEMPTS} conflicting writes"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_decimal_text() {
        assert_eq!(parse(b"0"), Ok(Some(0)));
        assert_eq!(parse(b"42"), Ok(Some(42)));
        assert_eq!(parse(b"-7"), Ok(Some(-7)));
        assert_eq!(parse(b"007"), Ok(Some(7)));
        assert_eq!(parse(b"18446744073709551615"), Ok(Some(u64::MAX.into())));
        assert_eq!(parse(&[b'9'; 60]), Ok(None));
        let le_bytes = 1u64.to_le_bytes();
        let bad: [&[u8]; 11] = [
            b"",
            b"-",
            b"+1",
            b" 1",
            b"1\n",
            b"1.5",
            b"0x10",
            b"abc",
            b"--1",
            &le_bytes,
            b"\xff\xfe",
        ];
        for bad in bad {
            assert_eq!(parse(bad), Err(CounterError::NotDecimal), "{bad:?}");
        }
    }

    #[test]
    fn encodes_as_decimal_text() {
        assert_eq!(encode(0u64), b"0");
        assert_eq!(encode(-12i64), b"-12");
        assert_eq!(encode(u64::MAX), b"18446744073709551615");
        for n in [0i64, 1, -1, i64::MIN, i64::MAX] {
            assert_eq!(parse(&encode(n)), Ok(Some(n.into())));
        }
    }

    #[test]
    fn next_starts_missing_keys_at_zero_and_checks_the_range() {
        assert_eq!(next::<u64>(None, 5), Ok(5));
        assert_eq!(next::<i64>(None, -5), Ok(-5));
        assert_eq!(next::<i64>(Some(b"10"), -15), Ok(-5));
        assert_eq!(next::<u64>(Some(b"-3"), 5), Ok(2));
        assert!(matches!(
            next::<u64>(Some(b"-3"), 1),
            Err(CounterError::OutOfRange { .. })
        ));
        assert!(matches!(
            next::<u64>(Some(b"18446744073709551615"), 1),
            Err(CounterError::OutOfRange { .. })
        ));
        assert!(matches!(
            next::<i64>(Some(b"9223372036854775807"), 1),
            Err(CounterError::OutOfRange { .. })
        ));
        assert!(matches!(
            next::<i64>(Some(&[b'9'; 60]), 1),
            Err(CounterError::OutOfRange { .. })
        ));
        assert_eq!(
            next::<i64>(Some(b"hello"), 1),
            Err(CounterError::NotDecimal)
        );
        let message = next::<i64>(Some(b"9223372036854775807"), 1)
            .unwrap_err()
            .to_string();
        assert!(message.contains("9223372036854775807 + 1"), "{message}");
    }

    fn store_with_namespace() -> (tempfile::TempDir, Store, Uuid) {
        super::super::temp_namespace("counters")
    }

    #[test]
    fn concurrent_increments_all_apply_once() {
        let (_dir, store, id) = store_with_namespace();
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for _ in 0..25 {
                        increment::<i64>(&store, &id, "hits", 1).expect("increment");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(store.get(&id, "hits").expect("entry").value, b"200");
        assert_eq!(increment::<u64>(&store, &id, "hits", 5), Ok(205));
    }

    #[test]
    fn a_non_counter_is_an_error_and_stays_unchanged() {
        let (_dir, store, id) = store_with_namespace();
        store.put(&id, Put::new("name", "alice")).expect("put");
        let e = increment::<i64>(&store, &id, "name", 1).unwrap_err();
        assert!(
            matches!(&e, Failure::Other(m) if m.starts_with("other: cannot increment \"name\": the value is not a counter")),
            "{e:?}"
        );
        assert_eq!(store.get(&id, "name").expect("entry").value, b"alice");
        let e = increment::<i64>(&store, &id, &"k".repeat(513), 1).unwrap_err();
        assert!(
            matches!(&e, Failure::Other(m) if m.starts_with("invalid-key: ")),
            "{e:?}"
        );
    }
}

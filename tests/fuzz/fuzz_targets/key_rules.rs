//! The store's validators of client-chosen strings (`edgekv_store::profile`): `check_key_shape` and
//! `Limits::check_key_size` for every `Profile` (with its production limits, and with a
//! `max_key_bytes` override), `check_namespace_name`, `check_metadata`; and the list cursor and
//! prefix range (`edgekv_store::cursor`), which also come straight from a query string.
//!
//! Input: the key (or name, metadata, cursor) as text; its first byte also picks the override.
//!
//! Invariants:
//! - nothing panics;
//! - a key both validators accept is non-empty, at most the profile's limit in bytes and in
//!   characters, and of the profile's alphabet (Telnyx: `[-/_=.a-zA-Z0-9]`, no leading `_`;
//!   Cloudflare: not `.` or `..`); `check_key_size` accepts exactly the keys within the byte limit;
//! - every refusal is the rule violation that names the reason, with the right limit and size;
//! - an accepted namespace name is within the profile's length and alphabet;
//! - accepted metadata is within the profile's size, means the same JSON, and its compact form is
//!   stable (a profile without metadata accepts none); floats may move by an ULP (see `same_json`);
//! - cursors are canonical base64url: decode then encode gives the cursor back, and any key survives
//!   encode then decode; a prefix range holds the prefix and every extension of it.
#![no_main]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use edgekv_fuzz::same_json;
use edgekv_store::cursor;
use edgekv_store::{LimitOverrides, Limits, Profile, Rule, StoreError};
use libfuzzer_sys::fuzz_target;

const PROFILES: [Profile; 3] = [Profile::Cloudflare, Profile::Cloudfront, Profile::Telnyx];

fn telnyx_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '=' | '.')
}

fn rule_of(e: &StoreError) -> (Rule, u64, u64) {
    let v = e
        .violation()
        .unwrap_or_else(|| panic!("a validator failed with {e:?}, not a rule violation"));
    (v.rule, v.limit, v.actual)
}

fn check_key(profile: Profile, limits: &Limits, key: &str) {
    let bytes = key.len() as u64;
    let chars = key.chars().count() as u64;
    let shape = profile.check_key_shape(key, limits);
    let size = limits.check_key_size(key);

    match (limits.max_key_bytes, &size) {
        (None, Ok(())) => {}
        (None, Err(e)) => panic!("{profile}: no byte limit, yet {e:?}"),
        (Some(max), Ok(())) => assert!(bytes <= max, "{profile}: {bytes} bytes > {max} accepted"),
        (Some(max), Err(e)) => {
            assert_eq!(
                rule_of(e),
                (Rule::KeyTooLarge, max, bytes),
                "{profile}: {key:?}"
            );
            assert!(bytes > max);
        }
    }

    if let Err(e) = &shape {
        let (rule, limit, actual) = rule_of(e);
        match rule {
            Rule::KeyEmpty => assert!(key.is_empty()),
            Rule::KeyTooLong => {
                assert_eq!(Some(limit), limits.max_key_chars);
                assert_eq!(actual, chars);
                assert!(chars > limit);
            }
            Rule::KeyDotSegment => {
                assert_eq!(profile, Profile::Cloudflare);
                assert!(key == "." || key == "..");
            }
            Rule::KeyCharset => {
                assert_eq!(profile, Profile::Telnyx);
                assert!(!key.chars().all(telnyx_char));
            }
            Rule::KeyReserved => {
                assert_eq!(profile, Profile::Telnyx);
                assert!(key.starts_with('_'));
            }
            other => panic!("{profile}: check_key_shape refused {key:?} with {other:?}"),
        }
    }

    if shape.is_ok() && size.is_ok() {
        assert!(!key.is_empty());
        if let Some(max) = limits.max_key_bytes {
            assert!(
                bytes <= max,
                "{profile}: accepted {bytes} bytes, limit {max}"
            );
        }
        if let Some(max) = limits.max_key_chars {
            assert!(
                chars <= max,
                "{profile}: accepted {chars} characters, limit {max}"
            );
        }
        match profile {
            Profile::Cloudflare => assert!(key != "." && key != ".."),
            Profile::Telnyx => assert!(key.chars().all(telnyx_char) && !key.starts_with('_')),
            Profile::Cloudfront => {}
        }
    }
}

fn check_namespace_name(profile: Profile, name: &str) {
    if profile.check_namespace_name(name).is_err() {
        return;
    }
    let (max, allowed): (usize, fn(char) -> bool) = match profile {
        Profile::Cloudflare => (512, |_| true),
        Profile::Cloudfront => (64, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
        Profile::Telnyx => (255, |c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
        }),
    };
    assert!(
        !name.is_empty() && name.len() <= max,
        "{profile}: name of {} bytes",
        name.len()
    );
    assert!(name.chars().all(allowed), "{profile}: name {name:?}");
}

fn check_metadata(limits: &Limits, text: &str) {
    let Ok(Some(compact)) = limits.check_metadata(Some(text)) else {
        return;
    };
    assert!(compact.len() as u64 <= limits.max_metadata_bytes);
    let original: serde_json::Value =
        serde_json::from_str(text).expect("accepted metadata is JSON");
    let reparsed: serde_json::Value = serde_json::from_str(&compact).expect("compact form is JSON");
    assert!(
        same_json(&original, &reparsed),
        "compacting changed {text:?} into {compact:?}"
    );
    match limits.check_metadata(Some(&compact)) {
        Ok(Some(again)) => {
            let again: serde_json::Value = serde_json::from_str(&again).expect("JSON");
            assert!(
                same_json(&again, &reparsed),
                "compact form {compact:?} is not stable"
            );
        }
        other => panic!("compact metadata {compact:?} refused: {other:?}"),
    }
}

fn check_cursor(text: &str) {
    if let Ok(key) = cursor::decode(text) {
        assert_eq!(
            URL_SAFE_NO_PAD.encode(&key),
            text.trim_end_matches('='),
            "cursor {text:?} is not canonical"
        );
    }
    assert_eq!(
        cursor::decode(&cursor::encode(text)).ok().as_deref(),
        Some(text.as_bytes())
    );

    let prefix = text.as_bytes();
    let (start, end) = cursor::prefix_range(prefix);
    assert_eq!(start, prefix);
    match end {
        None => assert!(prefix.iter().all(|&b| b == 0xFF)),
        Some(end) => {
            assert!(prefix < end.as_slice());
            let mut longest = prefix.to_vec();
            longest.extend_from_slice(&[0xFF; 16]);
            assert!(
                longest.as_slice() < end.as_slice(),
                "{end:?} cuts off extensions of {prefix:?}"
            );
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let override_bytes = LimitOverrides {
        max_key_bytes: Some(u64::from(data.first().copied().unwrap_or(0)) * 3),
        ..LimitOverrides::default()
    };
    for profile in PROFILES {
        let limits = profile.limits();
        check_key(profile, &limits, &text);
        check_key(profile, &limits.clone().with(&override_bytes), &text);
        check_namespace_name(profile, &text);
        check_metadata(&limits, &text);
        if limits.max_metadata_bytes == 0 {
            assert!(
                limits.check_metadata(Some(&text)).is_err(),
                "{profile} kept metadata"
            );
        }
    }
    check_cursor(&text);
});

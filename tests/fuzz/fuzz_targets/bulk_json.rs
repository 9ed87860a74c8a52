//! The Cloudflare dialect's bulk JSON bodies: `PUT /bulk` items (`bulk_json::Item`, also what
//! `edgekv kv import` reads) through `Item::into_put`, the key list of `POST /bulk/delete` (and
//! `DELETE /bulk`), the `POST /bulk/get` request and `decode_value`; then what the store does
//! first with a bulk put (expiry resolution, metadata compaction) under the Cloudflare profile.
//!
//! Input: a request body, parsed the way `read_json` does (`serde_json::from_slice`).
//!
//! Invariants, checked against an independent parse of the same body as `serde_json::Value`:
//! - nothing panics;
//! - a put has the item's key; its value is the item's text, or for `"base64": true` bytes whose
//!   canonical base64 is exactly the item's text;
//! - metadata is present iff the item has non-null metadata, and its JSON text means the same value;
//!   so is the store's compact form of it (floats may move by an ULP: see `same_json`);
//! - `expiration_ttl` wins over `expiration`, negative numbers count as 0;
//! - a resolved expiry lies at least the profile's minimum TTL after now.
#![no_main]

use base64::Engine;
use edgekv_api::bulk_json::Item;
use edgekv_api::fuzzing::{decode_value, GetRequest};
use edgekv_fuzz::same_json;
use edgekv_store::{Expiry, ExpiryLimits, Profile};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const NOW_MS: i64 = 1_795_441_179_208;

fuzz_target!(|data: &[u8]| {
    write_items(data);
    let _ = serde_json::from_slice::<Vec<String>>(data);
    if let Ok(request) = serde_json::from_slice::<GetRequest>(data) {
        let _ = request;
    }
    for as_json in [false, true] {
        match decode_value(data.to_vec(), as_json) {
            Some(Value::String(s)) if !as_json => assert_eq!(s.as_bytes(), data),
            Some(_) if !as_json => panic!("a text value decoded to a non-string"),
            Some(_) => assert!(std::str::from_utf8(data).is_ok()),
            None => assert!(
                as_json || std::str::from_utf8(data).is_err(),
                "valid UTF-8 refused as text"
            ),
        }
    }
});

fn write_items(data: &[u8]) {
    let Ok(items) = serde_json::from_slice::<Vec<Item>>(data) else {
        return;
    };
    // serde skips the fields Item does not know without checking their strings are UTF-8, so a
    // body serde reads as items is not always one serde_json::Value accepts; compare where it is.
    let Ok(raw) = serde_json::from_slice::<Vec<Value>>(data) else {
        return;
    };
    assert_eq!(raw.len(), items.len());
    let limits = Profile::Cloudflare.limits();
    for (item, raw) in items.into_iter().zip(&raw) {
        // serde also reads an item from an array of its fields in order (`["key", "value"]`);
        // the invariants below are written against the object form.
        let Some(text) = raw["value"].as_str() else {
            assert!(raw.is_array(), "an item that is neither an array nor has a string value");
            continue;
        };
        let base64 = raw.get("base64").and_then(Value::as_bool).unwrap_or(false);
        let put = match item.into_put() {
            Ok(put) => put,
            Err(e) => {
                assert!(base64, "only base64 decoding can refuse an item: {e:?}");
                assert!(
                    base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .is_err(),
                    "valid base64 {text:?} refused"
                );
                continue;
            }
        };
        assert_eq!(Some(put.key.as_str()), raw["key"].as_str());
        if base64 {
            let again = base64::engine::general_purpose::STANDARD.encode(&put.value);
            assert_eq!(again, text, "base64 accepted in a non-canonical form");
        } else {
            assert_eq!(put.value, text.as_bytes());
        }

        let metadata = raw.get("metadata").filter(|m| !m.is_null());
        match (&put.metadata, metadata) {
            (None, None) => {}
            (Some(text), Some(original)) => {
                let reparsed: Value =
                    serde_json::from_str(text).expect("metadata is rendered as JSON");
                assert!(
                    same_json(&reparsed, original),
                    "metadata changed on the way: {text}"
                );
                if let Ok(Some(compact)) = limits.check_metadata(Some(text)) {
                    assert!(compact.len() as u64 <= limits.max_metadata_bytes);
                    let compacted: Value = serde_json::from_str(&compact).expect("JSON");
                    assert!(
                        same_json(&compacted, &reparsed),
                        "compacting changed {text}"
                    );
                }
            }
            (ours, theirs) => panic!("metadata {ours:?} for item metadata {theirs:?}"),
        }

        let number = |name: &str| raw.get(name).and_then(Value::as_f64);
        let expected = match (number("expiration_ttl"), number("expiration")) {
            (Some(ttl), _) => Expiry::TtlSecs(ttl.max(0.0) as u64),
            (None, Some(at)) => Expiry::AtUnixSecs(at.max(0.0) as u64),
            (None, None) => Expiry::Never,
        };
        assert_eq!(put.expiry, expected);
        if let Ok(Some(at_ms)) = put.expiry.resolve(limits.expiry, NOW_MS) {
            let ExpiryLimits::Allowed { min_ttl_secs, .. } = limits.expiry else {
                panic!("an expiry resolved under a profile without expiry");
            };
            assert!(
                at_ms >= NOW_MS - NOW_MS.rem_euclid(1000) + min_ttl_secs as i64 * 1000,
                "{:?} resolves to {at_ms}, sooner than the minimum TTL",
                put.expiry
            );
        }
    }
}

//! Profiles: the rules of each real KV service (key shape, value and metadata sizes, expiry, store size,
//! batch and list bounds) as one table of limits, and the checks that enforce them. This is the only
//! place these rules live; every access path goes through them.

use crate::error::{Result, Rule, StoreError};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The service whose documented rules a namespace obeys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Cloudflare Workers KV: keys of up to 512 bytes, 25 MiB values, metadata, TTLs of 60 s+.
    Cloudflare,
    /// Amazon CloudFront KeyValueStore: 1 KiB values, 5 MiB per store, no metadata, no expiry.
    Cloudfront,
    /// Telnyx Edge Compute KV: keys of up to 256 characters of `[-/_=.a-zA-Z0-9]`, 1 MiB values.
    Telnyx,
}

impl Profile {
    /// The profile's lowercase name, as stored and as [`FromStr`] and `Display` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Profile::Cloudflare => "cloudflare",
            Profile::Cloudfront => "cloudfront",
            Profile::Telnyx => "telnyx",
        }
    }

    /// The production limits of this profile.
    pub fn limits(self) -> Limits {
        // No service documents one: edgekv's own bound, far above any registered media type.
        const CONTENT_TYPE_BYTES: u64 = 256;
        const KIB: u64 = 1024;
        const MIB: u64 = 1024 * 1024;
        match self {
            Profile::Cloudflare => Limits {
                max_key_bytes: Some(512),
                max_key_chars: None,
                max_value_bytes: 25 * MIB,
                max_metadata_bytes: 1024,
                expiry: ExpiryLimits::Allowed {
                    min_ttl_secs: 60,
                    max_ttl_secs: None,
                },
                max_store_bytes: None,
                max_batch_items: Some(10_000),
                max_batch_bytes: Some(100 * MIB),
                max_bulk_get: Some(100),
                max_list_limit: 1000,
                max_content_type_bytes: CONTENT_TYPE_BYTES,
            },
            Profile::Cloudfront => Limits {
                max_key_bytes: Some(512),
                max_key_chars: Some(1024),
                max_value_bytes: KIB,
                max_metadata_bytes: 0,
                expiry: ExpiryLimits::None,
                max_store_bytes: Some(5 * MIB),
                max_batch_items: Some(50),
                max_batch_bytes: Some(3 * MIB),
                max_bulk_get: None,
                max_list_limit: 50,
                max_content_type_bytes: CONTENT_TYPE_BYTES,
            },
            Profile::Telnyx => Limits {
                max_key_bytes: None,
                max_key_chars: Some(256),
                max_value_bytes: MIB,
                max_metadata_bytes: 0,
                expiry: ExpiryLimits::Allowed {
                    min_ttl_secs: 1,
                    max_ttl_secs: Some(9_223_372_036),
                },
                max_store_bytes: None,
                max_batch_items: None,
                max_batch_bytes: None,
                max_bulk_get: None,
                max_list_limit: 1000,
                max_content_type_bytes: CONTENT_TYPE_BYTES,
            },
        }
    }

    /// Checks a key's shape: not empty, not too many characters, and the profile's alphabet. Its size
    /// in bytes is checked separately (`Limits::check_key_size`), after the namespace If-Match, as
    /// CloudFront does.
    pub fn check_key_shape(self, key: &str, limits: &Limits) -> Result<()> {
        if key.is_empty() {
            return Err(StoreError::rule(Rule::KeyEmpty, 1, 0));
        }
        if let Some(max) = limits.max_key_chars {
            let chars = key.chars().count() as u64;
            if chars > max {
                return Err(StoreError::rule(Rule::KeyTooLong, max, chars));
            }
        }
        match self {
            Profile::Cloudflare if key == "." || key == ".." => {
                Err(StoreError::rule(Rule::KeyDotSegment, 0, 0))
            }
            Profile::Telnyx => check_telnyx_key(key),
            _ => Ok(()),
        }
    }

    /// Checks a namespace name: Telnyx `^[a-z0-9-]{1,255}$`, CloudFront `^[a-zA-Z0-9-_]{1,64}$`,
    /// Cloudflare any non-empty title of at most 512 bytes.
    pub fn check_namespace_name(self, name: &str) -> Result<()> {
        let (max, allowed): (u64, fn(char) -> bool) = match self {
            Profile::Cloudflare => (512, |_| true),
            Profile::Cloudfront => (64, |c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
            Profile::Telnyx => (255, |c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
            }),
        };
        let len = name.len() as u64;
        if len == 0 || len > max || !name.chars().all(allowed) {
            return Err(StoreError::rule(Rule::NamespaceName, max, len));
        }
        Ok(())
    }
}

fn check_telnyx_key(key: &str) -> Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '/' | '_' | '=' | '.');
    if !key.chars().all(allowed) {
        return Err(StoreError::rule(Rule::KeyCharset, 0, 0));
    }
    if key.starts_with('_') {
        return Err(StoreError::rule(Rule::KeyReserved, 0, 0));
    }
    Ok(())
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Profile {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "cloudflare" => Ok(Profile::Cloudflare),
            "cloudfront" => Ok(Profile::Cloudfront),
            "telnyx" => Ok(Profile::Telnyx),
            other => Err(format!(
                "unknown profile {other:?} (cloudflare, cloudfront or telnyx)"
            )),
        }
    }
}

/// Whether and how far entries may expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpiryLimits {
    /// The service has no expiry.
    None,
    /// TTLs in `min_ttl_secs..=max_ttl_secs`; an absolute expiration must be at least `min_ttl_secs` ahead.
    Allowed {
        /// The shortest TTL, in seconds.
        min_ttl_secs: u64,
        /// The longest TTL, in seconds; `None` when only the representable range bounds it.
        max_ttl_secs: Option<u64>,
    },
}

/// The numeric limits of a namespace: its profile's, with any per-namespace overrides applied.
/// `None` means the service has no such limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// UTF-8 bytes of a key.
    pub max_key_bytes: Option<u64>,
    /// Characters (Unicode scalar values) of a key.
    pub max_key_chars: Option<u64>,
    /// Bytes of a value.
    pub max_value_bytes: u64,
    /// Compact-JSON bytes of metadata; 0 means the service keeps no metadata.
    pub max_metadata_bytes: u64,
    /// Whether and how far entries may expire; `None` also where the namespace has TTL off.
    pub expiry: ExpiryLimits,
    /// Total key + value bytes of live entries.
    pub max_store_bytes: Option<u64>,
    /// Operations in one API batch (imports are not bounded).
    pub max_batch_items: Option<u64>,
    /// Bytes one API batch carries: key, value and metadata of its puts, key of its deletes.
    pub max_batch_bytes: Option<u64>,
    /// Keys one bulk get ([`crate::Store::get_many`]) may ask for.
    pub max_bulk_get: Option<u64>,
    /// The largest page of a key listing, and the page size when a listing asks for none.
    pub max_list_limit: u64,
    /// Bytes of an entry's content type, which must also be a valid HTTP header value.
    pub max_content_type_bytes: u64,
}

/// Per-namespace overrides of a profile's limits (from the config file or the CLI). Absent fields keep
/// the profile's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitOverrides {
    /// Replaces [`Limits::max_key_bytes`].
    pub max_key_bytes: Option<u64>,
    /// Replaces [`Limits::max_value_bytes`].
    pub max_value_bytes: Option<u64>,
    /// Replaces [`Limits::max_metadata_bytes`].
    pub max_metadata_bytes: Option<u64>,
    /// Replaces the minimum TTL, in seconds; ignored where entries cannot expire.
    pub min_ttl_secs: Option<u64>,
    /// Replaces [`Limits::max_store_bytes`].
    pub max_store_bytes: Option<u64>,
    /// Replaces [`Limits::max_batch_items`].
    pub max_batch_items: Option<u64>,
    /// Replaces [`Limits::max_batch_bytes`].
    pub max_batch_bytes: Option<u64>,
    /// Replaces [`Limits::max_list_limit`].
    pub max_list_limit: Option<u64>,
}

impl Limits {
    /// These limits with `overrides` applied.
    pub fn with(mut self, o: &LimitOverrides) -> Limits {
        self.max_key_bytes = o.max_key_bytes.or(self.max_key_bytes);
        self.max_value_bytes = o.max_value_bytes.unwrap_or(self.max_value_bytes);
        self.max_metadata_bytes = o.max_metadata_bytes.unwrap_or(self.max_metadata_bytes);
        if let (Some(min), ExpiryLimits::Allowed { min_ttl_secs, .. }) =
            (o.min_ttl_secs, &mut self.expiry)
        {
            *min_ttl_secs = min;
        }
        self.max_store_bytes = o.max_store_bytes.or(self.max_store_bytes);
        self.max_batch_items = o.max_batch_items.or(self.max_batch_items);
        self.max_batch_bytes = o.max_batch_bytes.or(self.max_batch_bytes);
        self.max_list_limit = o.max_list_limit.unwrap_or(self.max_list_limit);
        self
    }

    /// Fails as a key too long or too large would when a list prefix is longer than a key can be:
    /// a prefix is the start of a key, so the key's length rules bound it (as Cloudflare answers).
    pub fn check_prefix(&self, prefix: &str) -> Result<()> {
        let chars = || prefix.chars().count() as u64;
        check_max(Rule::KeyTooLong, self.max_key_chars, chars())?;
        self.check_key_size(prefix)
    }

    /// Fails with `ContentType` unless `content_type` (when given) is a valid HTTP header value of
    /// visible ASCII, spaces and tabs, within `max_content_type_bytes`.
    pub fn check_content_type(&self, content_type: Option<&str>) -> Result<()> {
        let Some(text) = content_type else {
            return Ok(());
        };
        let len = text.len() as u64;
        let header_text = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
        if len > self.max_content_type_bytes || !text.bytes().all(header_text) {
            return Err(StoreError::rule(
                Rule::ContentType,
                self.max_content_type_bytes,
                len,
            ));
        }
        Ok(())
    }

    /// Fails with `KeyTooLarge` when the key has more UTF-8 bytes than `max_key_bytes`.
    pub fn check_key_size(&self, key: &str) -> Result<()> {
        check_max(Rule::KeyTooLarge, self.max_key_bytes, key.len() as u64)
    }

    /// Fails with `ValueTooLarge` when a value of `len` bytes is over `max_value_bytes`.
    pub fn check_value(&self, len: usize) -> Result<()> {
        check_max(Rule::ValueTooLarge, Some(self.max_value_bytes), len as u64)
    }

    /// Validates metadata as JSON within the size limit and returns its compact form.
    pub fn check_metadata(&self, metadata: Option<&str>) -> Result<Option<String>> {
        let Some(text) = metadata else {
            return Ok(None);
        };
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|_| StoreError::rule(Rule::MetadataNotJson, 0, 0))?;
        let compact = value.to_string();
        check_max(
            Rule::MetadataTooLarge,
            Some(self.max_metadata_bytes),
            compact.len() as u64,
        )?;
        Ok(Some(compact))
    }

    /// Fails with `BatchTooManyItems` or `BatchTooLarge` when an API batch of `items` operations
    /// carrying `bytes` (counted as for `max_batch_bytes`) is over its bounds.
    pub fn check_batch(&self, items: usize, bytes: u64) -> Result<()> {
        check_max(Rule::BatchTooManyItems, self.max_batch_items, items as u64)?;
        check_max(Rule::BatchTooLarge, self.max_batch_bytes, bytes)
    }

    /// Fails with `BulkGetTooManyKeys` when a bulk get asks for more than `max_bulk_get` keys.
    pub fn check_bulk_get(&self, keys: usize) -> Result<()> {
        check_max(Rule::BulkGetTooManyKeys, self.max_bulk_get, keys as u64)
    }

    /// Fails with `ListLimit` unless a list page `limit` is in `1..=max_list_limit`.
    pub fn check_list_limit(&self, limit: u64) -> Result<()> {
        if limit == 0 || limit > self.max_list_limit {
            return Err(StoreError::rule(
                Rule::ListLimit,
                self.max_list_limit,
                limit,
            ));
        }
        Ok(())
    }

    /// Fails with `StoreFull` when `total` key + value bytes of live entries are over
    /// `max_store_bytes`.
    pub fn check_store_size(&self, total: u64) -> Result<()> {
        check_max(Rule::StoreFull, self.max_store_bytes, total)
    }
}

fn check_max(rule: Rule, max: Option<u64>, actual: u64) -> Result<()> {
    match max {
        Some(max) if actual > max => Err(StoreError::rule(rule, max, actual)),
        _ => Ok(()),
    }
}

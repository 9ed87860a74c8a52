//! Cloudflare's bulk JSON: the array of `{key, value, base64?, expiration?, expiration_ttl?,
//! metadata?}` items that `PUT .../bulk` takes and `wrangler kv bulk put` reads from a file. One
//! item type for every path that speaks it (the REST bulk write, `edgekv kv import` and
//! `edgekv kv export`), its conversion to a store write and from a stored entry, and the one rule
//! for an expiry given both ways (the TTL wins), which the REST value write uses too. A file of
//! it is read here too ([`read`], [`read_file`]): what `edgekv kv import` takes and what a
//! namespace's seed in edgekv.toml names.

use base64::Engine;
use edgekv_store::{Entry, Expiry, Put};
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};
use std::io::Read;
use std::path::{Path, PathBuf};

/// One item of a bulk JSON array.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    /// The key.
    pub key: String,
    /// The value: text, or base64 of the bytes when `base64` is true.
    pub value: String,
    /// Whether `value` is base64.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
    /// When the key expires, in unix seconds; a fraction is truncated, a negative time counts as 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Number>,
    /// Seconds from the write until the key expires, read as `expiration` is; wins over it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_ttl: Option<Number>,
    /// Any JSON; `null` means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Value>,
}

/// Why an item cannot become a store write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ItemError {
    /// The item says its value is base64, and it does not decode.
    #[error("the value of key {key:?} is not valid base64")]
    Base64 {
        /// The item's key.
        key: String,
    },
}

impl Item {
    /// The store write the item asks for. The store checks every rule when the write applies.
    pub fn into_put(self) -> Result<Put, ItemError> {
        let value = match self.base64 {
            true => base64::engine::general_purpose::STANDARD
                .decode(self.value.as_bytes())
                .map_err(|_| ItemError::Base64 {
                    key: self.key.clone(),
                })?,
            false => self.value.into_bytes(),
        };
        let expiry = expiry(
            self.expiration_ttl.as_ref().map(seconds),
            self.expiration.as_ref().map(seconds),
        );
        Ok(Put {
            key: self.key,
            value,
            metadata: self
                .metadata
                .filter(|m| !m.is_null())
                .map(|m| m.to_string()),
            expiry,
            ..Put::default()
        })
    }

    /// The item that writes `entry` back: its value as text, or base64 when it is not UTF-8; its
    /// metadata; its expiry as the absolute time (whole seconds, as the format carries it).
    pub fn from_entry(entry: Entry) -> Item {
        let (value, base64) = match String::from_utf8(entry.value) {
            Ok(text) => (text, false),
            Err(bytes) => (
                base64::engine::general_purpose::STANDARD.encode(bytes.as_bytes()),
                true,
            ),
        };
        Item {
            key: entry.key,
            value,
            base64,
            expiration: entry
                .expires_at_ms
                .map(|ms| Number::from(ms.div_euclid(1000))),
            expiration_ttl: None,
            metadata: entry.metadata.and_then(|m| serde_json::from_str(&m).ok()),
        }
    }
}

/// Why a bulk JSON document gave no writes.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// It could not be read, or is not a JSON array of items.
    #[error("not a Cloudflare bulk JSON array: {0}")]
    Json(#[from] serde_json::Error),
    /// An item cannot become a write.
    #[error(transparent)]
    Item(#[from] ItemError),
}

/// Why a bulk JSON file gave no writes, with the file named.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The file could not be opened.
    #[error("reading {}: {source}", .path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Its content is not bulk JSON.
    #[error("{}: {source}", .path.display())]
    Content {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ReadError,
    },
}

/// The writes a bulk JSON document asks for, in its order. The store checks their rules when
/// they apply.
pub fn read(reader: impl Read) -> Result<Vec<Put>, ReadError> {
    let items: Vec<Item> = serde_json::from_reader(reader)?;
    Ok(items
        .into_iter()
        .map(Item::into_put)
        .collect::<Result<Vec<Put>, _>>()?)
}

/// [`read`] of a file.
pub fn read_file(path: &Path) -> Result<Vec<Put>, FileError> {
    let file = std::fs::File::open(path).map_err(|source| FileError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    read(std::io::BufReader::new(file)).map_err(|source| FileError::Content {
        path: path.to_path_buf(),
        source,
    })
}

/// The expiry a write asks for with a TTL and an absolute expiration, each in whole seconds: the
/// TTL wins when both are given, as Cloudflare documents.
pub fn expiry(ttl_secs: Option<u64>, expiration_secs: Option<u64>) -> Expiry {
    match (ttl_secs, expiration_secs) {
        (Some(ttl), _) => Expiry::TtlSecs(ttl),
        (None, Some(at)) => Expiry::AtUnixSecs(at),
        (None, None) => Expiry::Never,
    }
}

/// Whole seconds of a JSON number: a fraction truncated, a negative number 0 (the store then
/// refuses it as an expiry too soon or in the past).
pub fn seconds(number: &Number) -> u64 {
    match (number.as_u64(), number.as_f64()) {
        (Some(whole), _) => whole,
        (None, Some(float)) => float.max(0.0) as u64,
        (None, None) => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(json: &str) -> Item {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_float_expiration_is_truncated_and_the_ttl_wins() {
        let put = item(r#"{"key":"k","value":"v","expiration":1795444328.9}"#)
            .into_put()
            .unwrap();
        assert_eq!(put.expiry, Expiry::AtUnixSecs(1_795_444_328));
        let put = item(r#"{"key":"k","value":"v","expiration":1795444328,"expiration_ttl":120.5}"#)
            .into_put()
            .unwrap();
        assert_eq!(put.expiry, Expiry::TtlSecs(120));
        let put = item(r#"{"key":"k","value":"v","expiration":-5}"#)
            .into_put()
            .unwrap();
        assert_eq!(put.expiry, Expiry::AtUnixSecs(0));
    }

    #[test]
    fn base64_values_decode_and_bad_base64_names_the_key() {
        let put = item(r#"{"key":"k","value":"AAH/","base64":true,"metadata":{"a":1}}"#)
            .into_put()
            .unwrap();
        assert_eq!(
            (put.value, put.metadata.as_deref()),
            (vec![0, 1, 255], Some(r#"{"a":1}"#))
        );
        let bad = item(r#"{"key":"k","value":"!!","base64":true}"#).into_put();
        assert_eq!(bad.err(), Some(ItemError::Base64 { key: "k".into() }));
        let null = item(r#"{"key":"k","value":"v","metadata":null}"#)
            .into_put()
            .unwrap();
        assert_eq!(null.metadata, None);
    }
}

//! Why a binding call failed: the `edgekv:kv/store` error variants as a Rust error type.

use crate::bindings::edgekv::kv::store as raw;

/// Why a binding call failed. Every case but [`Error::NoSuchStore`] and [`Error::AccessDenied`]
/// carries the store's message, which names the rule, its limit and the offending size, e.g.
/// `value_too_large: 2000 is over the limit of 1024`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The binding is granted to this app but no namespace is configured behind it.
    #[error("no namespace is configured behind this binding")]
    NoSuchStore,
    /// The app was not granted this binding.
    #[error("this app is not granted the binding")]
    AccessDenied,
    /// The key breaks the profile's key rules (empty, too long, bad characters, reserved).
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// The value is larger than the profile allows.
    #[error("value too large: {0}")]
    ValueTooLarge(String),
    /// The metadata is larger than the profile allows, or the profile keeps no metadata.
    #[error("metadata too large: {0}")]
    MetadataTooLarge(String),
    /// The expiry is not allowed: too soon, too far, or the namespace keeps no expiry.
    #[error("invalid expiration: {0}")]
    InvalidExpiration(String),
    /// The write would exceed a quota of the namespace (total size, batch bounds).
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    /// A precondition failed and nothing was written.
    #[error("precondition failed (current etag: {})", current_etag.as_deref().unwrap_or("none"))]
    Conflict {
        /// The entry's current ETag, or `None` when the key does not exist.
        current_etag: Option<String>,
    },
    /// Anything else (invalid metadata JSON, a bad cursor or limit, a storage failure).
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The WIT name of the error's case, e.g. `value-too-large`.
    pub fn variant(&self) -> &'static str {
        match self {
            Error::NoSuchStore => "no-such-store",
            Error::AccessDenied => "access-denied",
            Error::InvalidKey(_) => "invalid-key",
            Error::ValueTooLarge(_) => "value-too-large",
            Error::MetadataTooLarge(_) => "metadata-too-large",
            Error::InvalidExpiration(_) => "invalid-expiration",
            Error::QuotaExceeded(_) => "quota-exceeded",
            Error::Conflict { .. } => "conflict",
            Error::Other(_) => "other",
        }
    }

    /// The store's message, for the cases that carry one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Error::InvalidKey(m)
            | Error::ValueTooLarge(m)
            | Error::MetadataTooLarge(m)
            | Error::InvalidExpiration(m)
            | Error::QuotaExceeded(m)
            | Error::Other(m) => Some(m),
            Error::NoSuchStore | Error::AccessDenied | Error::Conflict { .. } => None,
        }
    }
}

impl From<raw::Error> for Error {
    fn from(e: raw::Error) -> Error {
        match e {
            raw::Error::NoSuchStore => Error::NoSuchStore,
            raw::Error::AccessDenied => Error::AccessDenied,
            raw::Error::InvalidKey(m) => Error::InvalidKey(m),
            raw::Error::ValueTooLarge(m) => Error::ValueTooLarge(m),
            raw::Error::MetadataTooLarge(m) => Error::MetadataTooLarge(m),
            raw::Error::InvalidExpiration(m) => Error::InvalidExpiration(m),
            raw::Error::QuotaExceeded(m) => Error::QuotaExceeded(m),
            raw::Error::Conflict(current_etag) => Error::Conflict { current_etag },
            raw::Error::Other(m) => Error::Other(m),
        }
    }
}

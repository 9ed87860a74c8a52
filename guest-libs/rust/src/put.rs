//! Writing an entry: the builder [`Namespace::put`](crate::Namespace::put) returns.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::bindings::edgekv::kv::store as raw;
use crate::Error;

/// A write being prepared: set its options, then [`send`](Put::send) it. Nothing is written
/// before `send`.
#[must_use = "a put writes nothing until it is sent"]
pub struct Put<'a> {
    namespace: &'a raw::Namespace,
    key: &'a str,
    value: Box<dyn AsRef<[u8]> + 'a>,
    options: raw::PutOptions,
}

/// What a successful put did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResult {
    /// The entry's new ETag.
    pub etag: String,
    /// True if the key did not exist before.
    pub created: bool,
}

impl<'a> Put<'a> {
    pub(crate) fn new(namespace: &'a raw::Namespace, key: &'a str, value: Box<dyn AsRef<[u8]> + 'a>) -> Put<'a> {
        let options = raw::PutOptions { metadata: None, content_type: None, expiration: None, precondition: None };
        Put { namespace, key, value, options }
    }

    /// Expires the entry `ttl` from now (whole seconds; a fraction is dropped). The profile sets
    /// the bounds: at least 60 s on a cloudflare namespace, none at all on a cloudfront one.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.options.expiration = Some(raw::Expiration::TtlSeconds(ttl.as_secs()));
        self
    }

    /// Expires the entry at `at` (whole unix seconds; a time before 1970 is 0).
    pub fn expires_at(self, at: SystemTime) -> Self {
        let seconds = at.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        self.expires_at_unix(seconds)
    }

    /// Expires the entry at `seconds` after the unix epoch.
    pub fn expires_at_unix(mut self, seconds: u64) -> Self {
        self.options.expiration = Some(raw::Expiration::AtUnixSeconds(seconds));
        self
    }

    /// Stores `json` (JSON text) as the entry's metadata; the store checks and compacts it.
    pub fn metadata(mut self, json: impl Into<String>) -> Self {
        self.options.metadata = Some(json.into());
        self
    }

    /// Stores the value's content type.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.options.content_type = Some(content_type.into());
        self
    }

    /// Writes only if the entry exists and its ETag is `etag` (compare-and-swap); otherwise the
    /// put fails with [`Error::Conflict`].
    pub fn if_match(mut self, etag: impl Into<String>) -> Self {
        self.options.precondition = Some(raw::Precondition::IfMatch(etag.into()));
        self
    }

    /// Writes only if the key does not exist (create only); otherwise the put fails with
    /// [`Error::Conflict`].
    pub fn if_absent(mut self) -> Self {
        self.options.precondition = Some(raw::Precondition::IfAbsent);
        self
    }

    /// Writes the entry.
    pub fn send(self) -> Result<PutResult, Error> {
        let done = self.namespace.put(self.key, (*self.value).as_ref(), &self.options)?;
        Ok(PutResult { etag: done.etag, created: done.created })
    }
}

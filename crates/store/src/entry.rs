//! Entries and the requests that read and write them: puts with metadata, content type, expiry and a
//! precondition; deletes; batches; and listing results.

use crate::etag::Etag;
use crate::expiry::Expiry;

/// A stored entry as a read returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    /// Compact JSON text.
    pub metadata: Option<String>,
    pub content_type: Option<String>,
    /// Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    pub etag: Etag,
    pub modified_at_ms: i64,
}

/// A condition a write must meet; when it does not, nothing changes and the write fails with
/// `Conflict` carrying the current ETag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    #[default]
    None,
    /// The namespace ETag is this one (CloudFront's If-Match).
    NamespaceEtag(String),
    /// The entry exists and its ETag is this one (compare-and-swap).
    EntryEtag(String),
    /// The key does not exist (create only).
    Absent,
}

/// A put.
#[derive(Debug, Clone, Default)]
pub struct Put {
    pub key: String,
    pub value: Vec<u8>,
    /// JSON text; stored compact.
    pub metadata: Option<String>,
    pub content_type: Option<String>,
    pub expiry: Expiry,
    pub precondition: Precondition,
}

impl Put {
    pub fn new(key: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        Put {
            key: key.into(),
            value: value.into(),
            ..Put::default()
        }
    }
}

/// A delete. `precondition` may be `EntryEtag` or `NamespaceEtag`.
#[derive(Debug, Clone, Default)]
pub struct Delete {
    pub key: String,
    pub precondition: Precondition,
}

impl Delete {
    /// An unconditional delete of `key`.
    pub fn new(key: impl Into<String>) -> Self {
        Delete {
            key: key.into(),
            ..Delete::default()
        }
    }
}

/// What a delete of a key that does not exist does in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MissingKeys {
    /// Deleting a missing key is a no-op (Cloudflare).
    #[default]
    Ignore,
    /// Deleting a missing key fails the whole batch with `KeyNotFound` (CloudFront's UpdateKeys).
    Fail,
}

/// One operation of a batch.
#[derive(Debug, Clone)]
pub enum BatchOp {
    Put(Put),
    Delete(Delete),
}

/// A batch applied all or nothing, raising the namespace version once.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub ops: Vec<BatchOp>,
    /// The namespace ETag the batch expects.
    pub if_match: Option<String>,
    pub missing_keys: MissingKeys,
}

/// Live counters of a namespace right after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub item_count: u64,
    pub total_bytes: u64,
}

/// The result of a successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Whether the key held a live entry before this write (a put that returns `false` created it).
    pub existed: bool,
    /// The new entry ETag (puts only).
    pub etag: Option<Etag>,
    pub namespace_etag: Etag,
    pub stats: Stats,
}

/// One listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub key: String,
    pub expires_at_ms: Option<i64>,
    pub metadata: Option<String>,
    /// Value bytes.
    pub size: u64,
    /// Unix milliseconds of the last write.
    pub modified_at_ms: i64,
}

/// A page of keys; `cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    pub keys: Vec<KeyInfo>,
    pub cursor: Option<String>,
}

/// A listing request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub prefix: String,
    pub cursor: Option<String>,
    /// `None` takes the profile's default (its maximum).
    pub limit: Option<u64>,
}

//! Entries and the requests that read and write them: puts with metadata, content type, expiry and a
//! precondition; deletes; batches; and listing results.

use crate::etag::Etag;
use crate::expiry::Expiry;

/// A stored entry as a read returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The key the entry is stored under.
    pub key: String,
    /// The value's bytes, exactly as written.
    pub value: Vec<u8>,
    /// Compact JSON text.
    pub metadata: Option<String>,
    /// The value's media type as the writer gave it; `None` when it gave none.
    pub content_type: Option<String>,
    /// Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    /// The entry ETag, from the namespace version of its last write: each write of it changes it.
    pub etag: Etag,
    /// Unix milliseconds of the last write.
    pub modified_at_ms: i64,
}

/// A condition a write must meet; when it does not, nothing changes and the write fails with
/// `Conflict` carrying the current ETag.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Precondition {
    /// No condition: the write always applies.
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
    /// The key to write, checked against the profile's key rules.
    pub key: String,
    /// The value's bytes, stored as given.
    pub value: Vec<u8>,
    /// JSON text; stored compact.
    pub metadata: Option<String>,
    /// The value's media type, stored and returned as given; `None` stores none.
    pub content_type: Option<String>,
    /// When the entry expires, resolved against the namespace's expiry limits.
    pub expiry: Expiry,
    /// The condition the write must meet.
    pub precondition: Precondition,
}

impl Put {
    /// An unconditional put of `value` at `key`, with no metadata, content type or expiry.
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
    /// The key to delete.
    pub key: String,
    /// The condition the delete must meet.
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
    /// Writes one entry.
    Put(Put),
    /// Deletes one entry.
    Delete(Delete),
}

/// A batch applied all or nothing, raising the namespace version once.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// The operations, applied in order.
    pub ops: Vec<BatchOp>,
    /// The namespace ETag the batch expects.
    pub if_match: Option<String>,
    /// What a delete of a missing key does.
    pub missing_keys: MissingKeys,
}

/// Live counters of a namespace right after a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// How many live entries the namespace holds.
    pub item_count: u64,
    /// Key + value bytes of those entries.
    pub total_bytes: u64,
}

/// The result of a successful write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Whether the key held a live entry before this write (a put that returns `false` created it).
    pub existed: bool,
    /// The ETag of every entry this write stored, `None` when it changed nothing. Meaningful for
    /// puts: a delete that removed a key gets one too, naming no entry.
    pub etag: Option<Etag>,
    /// The namespace ETag after the write (unchanged when the write changed nothing).
    pub namespace_etag: Etag,
    /// The namespace's counters after the write.
    pub stats: Stats,
}

/// One listed key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// A live key that matches the query's prefix.
    pub key: String,
    /// Unix milliseconds when the entry expires; `None` when it never does.
    pub expires_at_ms: Option<i64>,
    /// The entry's metadata as compact JSON text.
    pub metadata: Option<String>,
    /// Value bytes.
    pub size: u64,
    /// Unix milliseconds of the last write.
    pub modified_at_ms: i64,
}

/// A page of keys; `cursor` is `None` on the last page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPage {
    /// The live keys of this page, in UTF-8 byte order.
    pub keys: Vec<KeyInfo>,
    /// Opaque; pass it as [`ListQuery::cursor`] to get the next page.
    pub cursor: Option<String>,
}

/// A listing request.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    /// Only keys that start with these bytes are listed; empty lists every key.
    pub prefix: String,
    /// The cursor of the previous page; `None` starts at the first key. A cursor that does not
    /// decode fails with `InvalidCursor`.
    pub cursor: Option<String>,
    /// `None` takes the profile's default (its maximum).
    pub limit: Option<u64>,
}

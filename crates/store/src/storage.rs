//! The storage trait: the narrow set of row operations the store needs from a backend. It knows no
//! rules; the store decides what to read and write and the backend only does it, inside one
//! transaction per write job. SQLite implements it (`crate::sqlite`); a PostgreSQL backend would
//! implement the same calls with the same SQL shapes.

use crate::entry::KeyInfo;
use crate::error::{StorageError, StoreError};
use crate::namespace::NamespaceQuery;
use std::sync::Arc;

pub type StorageResult<T> = Result<T, StorageError>;

/// How a namespace row is looked up.
#[derive(Debug, Clone, Copy)]
pub enum NamespaceKey<'a> {
    Seq(i64),
    Id(&'a uuid::Uuid),
    Name(&'a str),
}

/// A namespace as stored. `item_count`/`total_bytes` count every row, expired ones not yet swept
/// included; the store subtracts those.
#[derive(Debug, Clone)]
pub struct NamespaceRow {
    pub seq: i64,
    pub id: uuid::Uuid,
    pub name: String,
    pub profile: String,
    pub ttl_enabled: bool,
    pub status: String,
    pub comment: Option<String>,
    /// JSON of `LimitOverrides`.
    pub overrides: String,
    pub version: i64,
    pub item_count: u64,
    pub total_bytes: u64,
    pub created_at_ms: i64,
    pub modified_at_ms: i64,
}

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct EntryRow {
    pub key: String,
    pub value: Vec<u8>,
    pub metadata: Option<String>,
    pub content_type: Option<String>,
    pub expires_at_ms: Option<i64>,
    pub version: i64,
    pub modified_at_ms: i64,
}

/// A namespace, as a point lookup reads it, and, if live, one of its entries.
#[derive(Debug, Clone)]
pub struct EntryLookup {
    pub namespace: Arc<LookupNamespace>,
    pub entry: Option<EntryRow>,
}

/// What a point lookup reads of its namespace: its status, and what it takes to tell which rule a
/// missing key breaks (profile, TTL support and limit overrides, as stored), so that a read of a
/// missing key is answered from the same lookup (and the same cache) as a read of a present one.
#[derive(Debug)]
pub struct LookupNamespace {
    pub status: String,
    pub profile: String,
    pub ttl_enabled: bool,
    /// JSON of `LimitOverrides`.
    pub overrides: String,
}

/// The version and key + value size of a stored entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryHead {
    pub version: i64,
    pub size: u64,
    pub expires_at_ms: Option<i64>,
}

/// A key range of one namespace: `after < key`, `start <= key < end`.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'a> {
    pub after: Option<&'a [u8]>,
    pub start: &'a [u8],
    pub end: Option<&'a [u8]>,
}

/// Reads.
pub trait ReadTx {
    fn namespace(&self, key: NamespaceKey<'_>) -> StorageResult<Option<NamespaceRow>>;
    /// A page of namespaces and the total count matching the query's filter.
    fn namespaces(&self, query: &NamespaceQuery) -> StorageResult<(Vec<NamespaceRow>, u64)>;
    /// The namespace's status and its live entry at `key`, in one lookup; `None` when the namespace
    /// does not exist.
    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> StorageResult<Option<EntryLookup>>;
    /// Up to `limit` live keys of `range` in byte order.
    fn keys(
        &self,
        ns: i64,
        range: KeyRange<'_>,
        limit: u64,
        now_ms: i64,
    ) -> StorageResult<Vec<KeyInfo>>;
    /// Count and key + value bytes of the rows that have expired but are still stored.
    fn expired_stats(&self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)>;
}

/// Writes, inside the current write transaction.
pub trait WriteTx: ReadTx {
    /// The stored entry head at `key`, expired or not.
    fn entry_head(&self, ns: i64, key: &str) -> StorageResult<Option<EntryHead>>;
    /// Inserts a namespace and returns its `seq`.
    fn insert_namespace(&mut self, row: &NamespaceRow) -> StorageResult<i64>;
    /// Writes every column of the row with its `seq`.
    fn update_namespace(&mut self, row: &NamespaceRow) -> StorageResult<()>;
    /// Deletes the namespace and all its entries.
    fn delete_namespace(&mut self, seq: i64) -> StorageResult<()>;
    /// Inserts or replaces an entry.
    fn upsert_entry(&mut self, ns: i64, row: &EntryRow) -> StorageResult<()>;
    fn delete_entry(&mut self, ns: i64, key: &str) -> StorageResult<()>;
    /// Deletes the expired rows of one namespace; returns their count and key + value bytes.
    fn purge_expired(&mut self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)>;
    /// Sequence numbers of namespaces that hold expired rows.
    fn namespaces_with_expired(&self, now_ms: i64) -> StorageResult<Vec<i64>>;
}

/// Tells a write job's caller its outcome once the shared transaction has committed (or failed to).
pub type Deliver = Box<dyn FnOnce(Result<(), StorageError>) + Send>;

/// What a write job hands back to the writer: whether its changes stand, and how to tell its caller.
pub struct JobOutcome {
    pub applied: bool,
    pub deliver: Deliver,
}

/// A unit of writing. The writer runs it inside its own savepoint of a shared transaction.
pub type WriteJob = Box<dyn FnOnce(&mut dyn WriteTx) -> JobOutcome + Send>;

/// A storage backend.
pub trait Storage: Send + Sync + 'static {
    /// Runs `f` against a read connection.
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Queues a write job for the writer (group commit). Fails only when the writer has stopped.
    fn submit(&self, job: WriteJob) -> Result<(), StoreError>;
    /// [`ReadTx::entry`] on a read connection of its own. A backend may answer it from a cache, as
    /// long as the answer is never older than the last commit.
    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> Result<Option<EntryLookup>, StoreError> {
        read_entry(self, ns, key, now_ms)
    }
}

/// [`ReadTx::entry`] through [`Storage::read`], uncached.
pub fn read_entry(
    storage: &(impl Storage + ?Sized),
    ns: i64,
    key: &str,
    now_ms: i64,
) -> Result<Option<EntryLookup>, StoreError> {
    let mut found = None;
    storage.read(&mut |tx| {
        found = tx.entry(ns, key, now_ms)?;
        Ok(())
    })?;
    Ok(found)
}

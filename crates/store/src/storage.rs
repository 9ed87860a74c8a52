//! The storage trait: the narrow set of row operations the store needs from a backend. It knows no
//! rules; the store decides what to read and write and the backend only does it, inside one
//! transaction per write job. SQLite (`crate::sqlite`) and PostgreSQL (`crate::postgres`) implement
//! it with the same SQL shapes. A backend decodes each row it reads into typed fields once, as it
//! reads it; a row it cannot decode is [`StorageError::Corrupt`].

use crate::entry::KeyInfo;
use crate::error::{StorageError, StoreError};
use crate::metrics::Observer;
use crate::namespace::{effective_limits, NamespaceQuery, NamespaceStatus};
use crate::profile::{LimitOverrides, Limits, Profile};
use std::sync::Arc;

/// The result of a backend call; failures are [`StorageError`]s.
pub type StorageResult<T> = Result<T, StorageError>;

/// How a namespace row is looked up.
#[derive(Debug, Clone, Copy)]
pub enum NamespaceKey<'a> {
    /// By internal sequence number, as the store addresses a namespace once it has resolved it.
    Seq(i64),
    /// By UUID.
    Id(&'a uuid::Uuid),
    /// By unique name.
    Name(&'a str),
}

/// A namespace as stored. `item_count`/`total_bytes` count every row, expired ones not yet swept
/// included; the store subtracts those.
#[derive(Debug, Clone)]
pub struct NamespaceRow {
    /// The internal sequence number entries refer to: assigned on insert (the value passed to
    /// [`WriteTx::insert_namespace`] is ignored) and never reused.
    pub seq: i64,
    /// The namespace's UUID.
    pub id: uuid::Uuid,
    /// The name, unique in the store.
    pub name: String,
    /// The service whose rules the namespace obeys.
    pub profile: Profile,
    /// Whether entries may carry an expiry.
    pub ttl_enabled: bool,
    /// The lifecycle status.
    pub status: NamespaceStatus,
    /// The free-text comment, if any.
    pub comment: Option<String>,
    /// Per-namespace overrides of the profile's limits (stored as JSON).
    pub overrides: LimitOverrides,
    /// The namespace version, raised once by every mutation; the namespace ETag derives from it.
    pub version: i64,
    /// Stored entry rows, expired ones not yet swept included.
    pub item_count: u64,
    /// Key + value bytes of those rows.
    pub total_bytes: u64,
    /// When the namespace was created, in unix milliseconds.
    pub created_at_ms: i64,
    /// When the namespace or one of its entries last changed, in unix milliseconds.
    pub modified_at_ms: i64,
}

/// An entry as stored.
#[derive(Debug, Clone)]
pub struct EntryRow {
    /// The key; stored as its UTF-8 bytes, so order and ranges are bytewise.
    pub key: String,
    /// The value bytes.
    pub value: Vec<u8>,
    /// The metadata as compact JSON, if any.
    pub metadata: Option<String>,
    /// The value's content type as written, if any.
    pub content_type: Option<String>,
    /// When the entry expires, in unix milliseconds; it is live while this is `None` or later
    /// than now.
    pub expires_at_ms: Option<i64>,
    /// The namespace version of the write that stored the entry; its ETag is derived from it.
    pub version: i64,
    /// When the entry was last written, in unix milliseconds.
    pub modified_at_ms: i64,
}

/// A namespace, as a point lookup reads it, and, if live, one of its entries.
#[derive(Debug, Clone)]
pub struct EntryLookup {
    /// What the lookup read of the namespace, shared so a cache can hand it out without copying.
    pub namespace: Arc<LookupNamespace>,
    /// The live entry at the key; `None` when the key is missing or has expired.
    pub entry: Option<EntryRow>,
}

/// What a point lookup reads of its namespace: its status, and what it takes to tell which rule a
/// missing key breaks (profile, TTL support and limit overrides), so that a read of a missing key is
/// answered from the same lookup (and the same cache) as a read of a present one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookupNamespace {
    /// The lifecycle status.
    pub status: NamespaceStatus,
    /// The service whose rules the namespace obeys.
    pub profile: Profile,
    /// Whether entries may carry an expiry.
    pub ttl_enabled: bool,
    /// Per-namespace overrides of the profile's limits.
    pub overrides: LimitOverrides,
}

impl LookupNamespace {
    /// The limits that apply to the namespace's entries.
    pub fn limits(&self) -> Limits {
        effective_limits(self.profile, self.ttl_enabled, &self.overrides)
    }
}

/// The namespace columns as stored, decoded into their types: what both backends call on each
/// namespace row they read.
pub fn decode_namespace(
    id: &str,
    profile: &str,
    status: &str,
    overrides: &str,
) -> StorageResult<(uuid::Uuid, Profile, NamespaceStatus, LimitOverrides)> {
    let uuid = uuid::Uuid::parse_str(id)
        .map_err(|e| StorageError::Corrupt(format!("namespace {id:?}: id: {e}")))?;
    let (profile, status, overrides) = decode_rules(id, profile, status, overrides)?;
    Ok((uuid, profile, status, overrides))
}

/// What a point lookup reads of namespace `seq`, decoded.
pub fn decode_lookup(
    seq: i64,
    profile: &str,
    status: &str,
    ttl_enabled: bool,
    overrides: &str,
) -> StorageResult<LookupNamespace> {
    let (profile, status, overrides) = decode_rules(&seq.to_string(), profile, status, overrides)?;
    Ok(LookupNamespace {
        status,
        profile,
        ttl_enabled,
        overrides,
    })
}

/// A namespace's profile, status and limit overrides as stored, decoded; `namespace` names it in
/// the error.
pub fn decode_rules(
    namespace: &str,
    profile: &str,
    status: &str,
    overrides: &str,
) -> StorageResult<(Profile, NamespaceStatus, LimitOverrides)> {
    let corrupt = |what: String| StorageError::Corrupt(format!("namespace {namespace}: {what}"));
    let profile = profile.parse().map_err(corrupt)?;
    let status = status.parse().map_err(corrupt)?;
    let overrides =
        serde_json::from_str(overrides).map_err(|e| corrupt(format!("overrides: {e}")))?;
    Ok((profile, status, overrides))
}

/// Limit overrides as stored: JSON of their set fields.
pub fn encode_overrides(overrides: &LimitOverrides) -> String {
    serde_json::to_string(overrides).unwrap_or_else(|_| "{}".into())
}

/// The version and key + value size of a stored entry.
#[derive(Debug, Clone, Copy)]
pub struct EntryHead {
    /// The namespace version of the entry's last write; its ETag is derived from it.
    pub version: i64,
    /// Key + value bytes.
    pub size: u64,
    /// When the entry expires, in unix milliseconds; `None` if it never does.
    pub expires_at_ms: Option<i64>,
}

/// A key range of one namespace: `after < key`, `start <= key < end`.
#[derive(Debug, Clone, Copy)]
pub struct KeyRange<'a> {
    /// The last key of the previous page (from a list cursor); `None` on the first page.
    pub after: Option<&'a [u8]>,
    /// The inclusive lower bound: the listing prefix, empty for the whole namespace.
    pub start: &'a [u8],
    /// The exclusive upper bound (the first key past the prefix); `None` for no bound.
    pub end: Option<&'a [u8]>,
}

impl<'a> KeyRange<'a> {
    /// The range's lower bound as one comparison, so a backend queries one plain range: keys
    /// after the cursor (`>`) when it is inside the range, else keys from `start` (`>=`). The
    /// operator is spelled as SQL compares.
    pub fn lower(&self) -> (&'a [u8], &'static str) {
        match self.after {
            Some(after) if after >= self.start => (after, ">"),
            _ => (self.start, ">="),
        }
    }
}

/// Reads.
pub trait ReadTx {
    /// The namespace row found by `key`, or `None` if there is none.
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
    /// Up to `limit` whole live entry rows (values included) with keys after `after` (from the
    /// first key when `None`), in byte order: how a namespace is read out to be copied.
    fn entry_rows(
        &self,
        ns: i64,
        after: Option<&[u8]>,
        limit: u64,
        now_ms: i64,
    ) -> StorageResult<Vec<EntryRow>>;
}

/// Writes, inside the current write transaction.
pub trait WriteTx: ReadTx {
    /// The stored entry head at `key`, expired or not.
    fn entry_head(&self, ns: i64, key: &str) -> StorageResult<Option<EntryHead>>;
    /// Inserts a namespace and returns its `seq`, or `None` when its name is taken (by a
    /// namespace another transaction inserted since this one looked).
    fn insert_namespace(&mut self, row: &NamespaceRow) -> StorageResult<Option<i64>>;
    /// Writes the row's changeable columns (all but `id`, `profile` and `created_at_ms`) to the
    /// namespace with its `seq`. Fails with [`StorageError::NameTaken`] when its new name was
    /// taken by a namespace another transaction committed since this one looked.
    fn update_namespace(&mut self, row: &NamespaceRow) -> StorageResult<()>;
    /// Deletes the namespace and all its entries.
    fn delete_namespace(&mut self, seq: i64) -> StorageResult<()>;
    /// Inserts or replaces an entry.
    fn upsert_entry(&mut self, ns: i64, row: &EntryRow) -> StorageResult<()>;
    /// Inserts entries the namespace does not hold yet, exactly as given (a restore of rows read
    /// from another store; no rule is checked and no counter changes).
    fn insert_entries(&mut self, ns: i64, rows: &[EntryRow]) -> StorageResult<()>;
    /// Deletes the entry at `key`, expired or not; a missing key is not an error.
    fn delete_entry(&mut self, ns: i64, key: &str) -> StorageResult<()>;
    /// Deletes the expired rows of one namespace; returns their count and key + value bytes.
    fn purge_expired(&mut self, ns: i64, now_ms: i64) -> StorageResult<(u64, u64)>;
    /// Sequence numbers of namespaces that hold expired rows.
    fn namespaces_with_expired(&self, now_ms: i64) -> StorageResult<Vec<i64>>;
    /// Deletes every entry of the namespace, expired or not; its row and counters stay as they are.
    fn delete_entries(&mut self, ns: i64) -> StorageResult<()>;
}

/// A unit of writing. The writer runs it inside its own savepoint of a shared transaction, then
/// tells it how that transaction ended; every job the writer takes is told, whether it ran or not
/// (a group whose transaction could not begin runs none of its jobs, and tells each why).
pub trait WriteJob: Send {
    /// Applies the job's changes; returns whether they stand (`false` rolls its savepoint back).
    /// Called at most once.
    fn run(&mut self, tx: &mut dyn WriteTx) -> bool;
    /// Called once with the shared transaction's commit result, whether or not the job ran or
    /// its changes stood.
    fn deliver(self: Box<Self>, commit: Result<(), StorageError>);
    /// The namespace (`seq`) whose row this job locks first, if it is one: a commit group runs
    /// its jobs in this order (those without one first), so groups on several nodes take their
    /// namespace rows' locks in one order and never wait for each other in a cycle.
    fn lock_order(&self) -> Option<i64> {
        None
    }
    /// The span of the caller that queued the job (disabled when traces are not exported): its
    /// commit is traced as a child of it.
    fn span(&self) -> &tracing::Span {
        const NONE: &tracing::Span = &tracing::Span::none();
        NONE
    }
}

/// A storage backend.
pub trait Storage: Send + Sync + 'static {
    /// Runs `f` against a read connection.
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Queues a write job for the writer (group commit). Fails only when the writer has stopped.
    fn submit(&self, job: Box<dyn WriteJob>) -> Result<(), StoreError>;
    /// [`ReadTx::entry`] on a read connection of its own. A backend may answer it from a cache, as
    /// long as the answer is never older than the last commit.
    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> Result<Option<EntryLookup>, StoreError> {
        read_entry(self, ns, key, now_ms)
    }
    /// Runs `f` against a read connection in one snapshot: every read `f` makes sees the data as
    /// one commit left it, however long `f` takes (how a namespace is read out to be copied). By
    /// default [`Storage::read`], for a backend whose reads are already one snapshot each.
    fn snapshot(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.read(f)
    }
    /// What tells this store's data apart from any other's: two storages with the same identity
    /// read and write the same rows (the same file, or the same schema of the same database).
    fn identity(&self) -> Result<String, StoreError>;
    /// Writes a copy of the whole database, as one commit left it, to a new SQLite store file at
    /// `dest` (which must not exist) by the backend's own means; `false` when it has none, and the
    /// store copies the rows from one [`Storage::snapshot`] instead.
    fn backup_to(&self, dest: &std::path::Path) -> Result<bool, StoreError> {
        let _ = dest;
        Ok(false)
    }

    /// Where this backend's writer and cache record, shared with the store above it (see
    /// [`crate::metrics`]). A backend that records nothing of its own keeps the default.
    fn observer(&self) -> Observer {
        Observer::default()
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

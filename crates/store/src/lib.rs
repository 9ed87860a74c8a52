//! edgekv-store: the KV engine behind every edgekv access path (guest bindings, the Cloudflare,
//! CloudFront and Telnyx REST dialects, the CLI). It owns namespaces and entries, the rules of each
//! service's profile ([`Profile`]), versions and ETags, exact expiry on an injected clock, keyset
//! listing, and persistence. It knows nothing of HTTP or WebAssembly.
//!
//! # Storage
//!
//! [`Store`] runs on a [`storage::Storage`] backend; the embedded default is SQLite
//! ([`sqlite::SqliteStorage`]): one file in WAL mode, one writer thread with group commit (concurrent
//! writes share one transaction; each caller still gets its own result, only after the commit), and
//! a pool of read connections.
//!
//! The schema (`PRAGMA user_version` = 1), readable with the `sqlite3` shell:
//!
//! ```sql
//! CREATE TABLE namespaces (
//!     seq         INTEGER PRIMARY KEY AUTOINCREMENT, -- internal; never reused
//!     id          TEXT NOT NULL UNIQUE,   -- UUID
//!     name        TEXT NOT NULL UNIQUE,
//!     profile     TEXT NOT NULL,          -- cloudflare | cloudfront | telnyx
//!     ttl_enabled INTEGER NOT NULL,       -- whether entries may expire
//!     status      TEXT NOT NULL,          -- pending | ready | deleting | failed
//!     comment     TEXT,
//!     overrides   TEXT NOT NULL,          -- JSON of per-namespace limit overrides
//!     version     INTEGER NOT NULL,       -- raised once by every mutation; the namespace ETag
//!     item_count  INTEGER NOT NULL,       -- rows, including expired rows not yet swept
//!     total_bytes INTEGER NOT NULL,       -- key + value bytes of those rows
//!     created_at  INTEGER NOT NULL,       -- unix ms
//!     modified_at INTEGER NOT NULL
//! );
//! CREATE TABLE entries (
//!     ns           INTEGER NOT NULL REFERENCES namespaces(seq),
//!     key          BLOB NOT NULL,         -- UTF-8 bytes; BLOB so order and ranges are bytewise
//!     value        BLOB NOT NULL,
//!     metadata     TEXT,                  -- compact JSON
//!     content_type TEXT,
//!     expires_at   INTEGER,               -- unix ms; live iff NULL or > now
//!     version      INTEGER NOT NULL,      -- namespace version of the last write: the entry ETag
//!     modified_at  INTEGER NOT NULL,
//!     UNIQUE (ns, key)
//! );
//! CREATE INDEX entries_expiry ON entries (ns, expires_at) WHERE expires_at IS NOT NULL;
//! ```
//!
//! For example: `sqlite3 .edgekv/kv.sqlite3 "SELECT CAST(key AS TEXT), length(value) FROM entries"`.

mod change;
pub mod cursor;
pub mod entry;
pub mod error;
pub mod etag;
pub mod expiry;
pub mod namespace;
pub mod profile;
pub mod sqlite;
pub mod storage;

pub use entry::{
    Batch, BatchOp, Delete, Entry, KeyInfo, KeyPage, ListQuery, MissingKeys, Precondition, Put,
    Stats, WriteOutcome,
};
pub use error::{Result, Rule, RuleFamily, RuleViolation, StorageError, StoreError};
pub use etag::Etag;
pub use expiry::{Clock, Expiry, ManualClock, SystemClock};
pub use namespace::{
    Namespace, NamespaceOrder, NamespacePage, NamespaceQuery, NamespaceStatus, NamespaceUpdate,
    NewNamespace,
};
pub use profile::{ExpiryLimits, LimitOverrides, Limits, Profile};
pub use sqlite::Durability;
pub use uuid::Uuid;

use change::{parse_row, parse_rules, Change};
use namespace::effective_limits;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{mpsc, Arc, RwLock, Weak};
use std::time::Duration;
use storage::{
    EntryLookup, EntryRow, JobOutcome, KeyRange, LookupNamespace, NamespaceKey, NamespaceRow,
    ReadTx, Storage, WriteTx,
};

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How hard each commit works to survive a crash; [`Durability::Normal`] by default.
    pub durability: Durability,
    /// How often a background sweep deletes expired rows; `None` turns it off (call [`Store::sweep`]).
    pub sweep_interval: Option<Duration>,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            durability: Durability::Normal,
            sweep_interval: Some(Duration::from_secs(30)),
        }
    }
}

/// The KV store. Cheap to clone; every clone shares the same backend. Calls block (on SQLite and on
/// the writer's commit): call them from a blocking thread in async code.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    storage: Box<dyn Storage>,
    clock: Arc<dyn Clock>,
    /// Namespace id -> internal `seq`. Safe to cache: seqs are never reused.
    seqs: RwLock<HashMap<Uuid, i64>>,
}

impl Store {
    /// Opens the SQLite store at `path` on the system clock.
    pub fn open(path: &Path, options: StoreOptions) -> Result<Store> {
        Store::open_with_clock(path, options, Arc::new(SystemClock))
    }

    /// Opens the SQLite store at `path` on the given clock.
    pub fn open_with_clock(
        path: &Path,
        options: StoreOptions,
        clock: Arc<dyn Clock>,
    ) -> Result<Store> {
        let storage = sqlite::SqliteStorage::open(path, options.durability)?;
        let store = Store::with_storage(Box::new(storage), clock);
        if let Some(every) = options.sweep_interval {
            store.start_sweeper(every);
        }
        Ok(store)
    }

    /// A store on any backend.
    pub fn with_storage(storage: Box<dyn Storage>, clock: Arc<dyn Clock>) -> Store {
        Store {
            inner: Arc::new(Inner {
                storage,
                clock,
                seqs: RwLock::new(HashMap::new()),
            }),
        }
    }

    /// Now, in unix milliseconds, on the store's clock.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    // ---- namespaces ----

    /// Creates a namespace. Its name must be unique and follow the profile's naming rule.
    pub fn create_namespace(&self, new: NewNamespace) -> Result<Namespace> {
        new.profile.check_namespace_name(&new.name)?;
        let overrides = serde_json::to_string(&new.overrides).unwrap_or_else(|_| "{}".into());
        let now = self.now_ms();
        let id = Uuid::new_v4();
        self.write(move |tx| {
            if tx.namespace(NamespaceKey::Name(&new.name))?.is_some() {
                return Err(StoreError::NamespaceExists(new.name));
            }
            let mut row = NamespaceRow {
                seq: 0,
                id,
                name: new.name,
                profile: new.profile.as_str().into(),
                ttl_enabled: new.ttl_enabled,
                status: NamespaceStatus::Ready.as_str().into(),
                comment: new.comment,
                overrides,
                version: 1,
                item_count: 0,
                total_bytes: 0,
                created_at_ms: now,
                modified_at_ms: now,
            };
            row.seq = tx.insert_namespace(&row)?;
            Ok(row)
        })
        .and_then(|row| self.describe(row, (0, 0)))
    }

    /// A namespace by id (UUID, hyphenated or 32 hex digits) or, failing that, by name.
    pub fn namespace(&self, id_or_name: &str) -> Result<Namespace> {
        let now = self.now_ms();
        let id = Uuid::try_parse(id_or_name).ok();
        let row = self.read(|tx| {
            let by_id = match &id {
                Some(id) => tx.namespace(NamespaceKey::Id(id))?,
                None => None,
            };
            let row = match by_id {
                Some(row) => row,
                None => tx
                    .namespace(NamespaceKey::Name(id_or_name))?
                    .ok_or_else(|| StoreError::NamespaceNotFound(id_or_name.to_string()))?,
            };
            let expired = tx.expired_stats(row.seq, now)?;
            Ok((row, expired))
        })?;
        self.describe(row.0, row.1)
    }

    /// A page of namespaces, with the total count.
    pub fn list_namespaces(&self, query: &NamespaceQuery) -> Result<NamespacePage> {
        let now = self.now_ms();
        let (rows, total) = self.read(|tx| {
            let (rows, total) = tx.namespaces(query)?;
            let rows = rows
                .into_iter()
                .map(|row| Ok((tx.expired_stats(row.seq, now)?, row)))
                .collect::<Result<Vec<_>>>()?;
            Ok((rows, total))
        })?;
        let namespaces = rows
            .into_iter()
            .map(|(expired, row)| self.describe(row, expired))
            .collect::<Result<_>>()?;
        Ok(NamespacePage { namespaces, total })
    }

    /// The limits that apply to namespace `id` now: its profile's, with its overrides and TTL
    /// setting applied. What a dialect reads before a request body, to cap the body and quote the
    /// limit that applied; the store checks every write against the same limits.
    pub fn limits(&self, id: &Uuid) -> Result<Limits> {
        let row = self.read(|tx| Ok(tx.namespace(NamespaceKey::Id(id))?))?;
        let row = row.ok_or_else(|| StoreError::NamespaceNotFound(id.to_string()))?;
        let (profile, overrides) = parse_rules(id, &row.profile, &row.overrides)?;
        Ok(effective_limits(profile, row.ttl_enabled, &overrides))
    }

    /// Renames a namespace, changes its comment or status; raises its version.
    pub fn update_namespace(&self, id: &Uuid, update: NamespaceUpdate) -> Result<Namespace> {
        let seq = self.seq(id)?;
        let now = self.now_ms();
        self.write(move |tx| {
            let change = Change::begin_any_status(tx, seq, now)?;
            change.check_if_match(update.if_match.as_deref())?;
            change.update(update, now)
        })
        .and_then(|row| self.describe(row, (0, 0)))
    }

    /// Deletes a namespace and all its entries in one transaction.
    pub fn delete_namespace(&self, id: &Uuid, if_match: Option<&str>) -> Result<()> {
        let seq = self.seq(id)?;
        let if_match = if_match.map(str::to_string);
        let now = self.now_ms();
        self.write(move |tx| {
            let change = Change::begin_any_status(tx, seq, now)?;
            change.check_if_match(if_match.as_deref())?;
            change.delete_namespace()
        })?;
        self.forget(id);
        Ok(())
    }

    // ---- entries ----

    /// The live entry at `key`.
    pub fn get(&self, id: &Uuid, key: &str) -> Result<Entry> {
        let seq = self.seq(id)?;
        let now = self.now_ms();
        let lookup = ready_lookup(id, self.inner.storage.entry(seq, key, now)?)?;
        match lookup.entry {
            Some(row) => Ok(to_entry(id, row)),
            None => Err(missing(id, &lookup.namespace, key)),
        }
    }

    /// Several entries at once (`None` for a missing key), within the profile's bulk-get bound.
    pub fn get_many(&self, id: &Uuid, keys: &[String]) -> Result<Vec<Option<Entry>>> {
        self.limits(id)?.check_bulk_get(keys.len())?;
        let seq = self.seq(id)?;
        let now = self.now_ms();
        let rows: Vec<Option<EntryRow>> = self.read(|tx| {
            keys.iter()
                .map(|key| live_entry(tx, id, seq, key, now))
                .collect()
        })?;
        Ok(rows
            .into_iter()
            .map(|row| row.map(|r| to_entry(id, r)))
            .collect())
    }

    /// Writes one entry.
    pub fn put(&self, id: &Uuid, put: Put) -> Result<WriteOutcome> {
        self.change(
            id,
            vec![BatchOp::Put(put)],
            false,
            None,
            MissingKeys::Ignore,
        )
    }

    /// Deletes one entry; deleting a missing key succeeds with `existed: false` and changes nothing.
    pub fn delete(&self, id: &Uuid, delete: Delete) -> Result<WriteOutcome> {
        self.change(
            id,
            vec![BatchOp::Delete(delete)],
            false,
            None,
            MissingKeys::Ignore,
        )
    }

    /// Applies a batch of puts and deletes all or nothing, raising the namespace version once.
    pub fn apply(&self, id: &Uuid, batch: Batch) -> Result<WriteOutcome> {
        self.change(id, batch.ops, true, batch.if_match, batch.missing_keys)
    }

    /// Writes every put of an import file all or nothing, raising the namespace version once. Unlike
    /// [`Store::apply`], an import is not an API batch: the profile's batch bounds do not apply, the
    /// per-entry rules do.
    pub fn import(&self, id: &Uuid, puts: Vec<Put>) -> Result<WriteOutcome> {
        let ops = puts.into_iter().map(BatchOp::Put).collect();
        self.change(id, ops, false, None, MissingKeys::Ignore)
    }

    /// One page of live keys in UTF-8 byte order.
    pub fn list(&self, id: &Uuid, query: &ListQuery) -> Result<KeyPage> {
        let namespace = self.namespace(&id.to_string())?;
        if namespace.status != NamespaceStatus::Ready {
            return Err(StoreError::NamespaceNotReady {
                id: id.to_string(),
                status: namespace.status.to_string(),
            });
        }
        let limits = namespace.limits();
        let limit = query.limit.unwrap_or(limits.max_list_limit);
        limits.check_list_limit(limit)?;
        limits.check_prefix(&query.prefix)?;
        let after = query.cursor.as_deref().map(cursor::decode).transpose()?;
        let (start, end) = cursor::prefix_range(query.prefix.as_bytes());
        let range = KeyRange {
            after: after.as_deref(),
            start: &start,
            end: end.as_deref(),
        };
        let seq = self.seq(id)?;
        let now = self.now_ms();
        let mut keys = self.read(|tx| Ok(tx.keys(seq, range, limit + 1, now)?))?;
        let more = keys.len() as u64 > limit;
        keys.truncate(limit as usize);
        let cursor = if more {
            keys.last().map(|k| cursor::encode(&k.key))
        } else {
            None
        };
        Ok(KeyPage { keys, cursor })
    }

    /// Deletes every expired row now; returns how many.
    pub fn sweep(&self) -> Result<u64> {
        let now = self.now_ms();
        self.write(move |tx| {
            let mut swept = 0;
            for seq in tx.namespaces_with_expired(now)? {
                let change = Change::begin_any_status(tx, seq, now)?;
                swept += change.purged();
                change.save_counters()?;
            }
            Ok(swept)
        })
    }

    // ---- plumbing ----

    fn change(
        &self,
        id: &Uuid,
        ops: Vec<BatchOp>,
        batch: bool,
        if_match: Option<String>,
        missing: MissingKeys,
    ) -> Result<WriteOutcome> {
        let seq = self.seq(id)?;
        let now = self.now_ms();
        self.write(move |tx| {
            let mut change = Change::begin(tx, seq, now)?;
            change.apply(ops, batch, if_match.as_deref(), missing)?;
            change.finish()
        })
        .map_err(|e| match e {
            StoreError::NamespaceNotFound(_) => StoreError::NamespaceNotFound(id.to_string()),
            e => e,
        })
    }

    /// The internal sequence number of a namespace id.
    fn seq(&self, id: &Uuid) -> Result<i64> {
        if let Some(seq) = self
            .inner
            .seqs
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
        {
            return Ok(*seq);
        }
        let row = self.read(|tx| Ok(tx.namespace(NamespaceKey::Id(id))?))?;
        let seq = row
            .ok_or_else(|| StoreError::NamespaceNotFound(id.to_string()))?
            .seq;
        self.inner
            .seqs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(*id, seq);
        Ok(seq)
    }

    fn forget(&self, id: &Uuid) {
        self.inner
            .seqs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
    }

    /// Builds a described namespace from its row, less the expired rows not yet swept.
    fn describe(
        &self,
        row: NamespaceRow,
        (expired_count, expired_bytes): (u64, u64),
    ) -> Result<Namespace> {
        let (profile, status, overrides) = parse_row(&row)?;
        Ok(Namespace {
            id: row.id,
            name: row.name,
            profile,
            ttl_enabled: row.ttl_enabled,
            status,
            comment: row.comment,
            overrides,
            version: row.version,
            created_at_ms: row.created_at_ms,
            modified_at_ms: row.modified_at_ms,
            item_count: row.item_count.saturating_sub(expired_count),
            total_bytes: row.total_bytes.saturating_sub(expired_bytes),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&dyn ReadTx) -> Result<T>) -> Result<T> {
        let mut f = Some(f);
        let mut out = None;
        self.inner.storage.read(&mut |tx| {
            if let Some(f) = f.take() {
                out = Some(f(tx));
            }
            Ok(())
        })?;
        out.unwrap_or(Err(StoreError::Closed))
    }

    /// Runs `f` in the writer's transaction and waits until it has committed.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn WriteTx) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let (done, outcome) = mpsc::sync_channel(1);
        self.inner.storage.submit(Box::new(move |tx| {
            let result = f(tx);
            JobOutcome {
                applied: result.is_ok(),
                deliver: Box::new(move |commit| {
                    let _ = done.send(commit.map_err(StoreError::from).and(result));
                }),
            }
        }))?;
        outcome.recv().map_err(|_| StoreError::Closed)?
    }

    fn start_sweeper(&self, every: Duration) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let spawned = std::thread::Builder::new()
            .name("edgekv-sweeper".into())
            .spawn(move || loop {
                std::thread::sleep(every);
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = (Store { inner }).sweep() {
                    tracing::warn!("expiry sweep failed: {e}");
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("could not start the expiry sweeper: {e}");
        }
    }
}

/// The live entry at `key`, if any, once its namespace is known to exist and be ready.
fn live_entry(
    tx: &dyn ReadTx,
    id: &Uuid,
    seq: i64,
    key: &str,
    now: i64,
) -> Result<Option<EntryRow>> {
    Ok(ready_lookup(id, tx.entry(seq, key, now)?)?.entry)
}

/// A lookup whose namespace exists and is ready.
fn ready_lookup(id: &Uuid, lookup: Option<EntryLookup>) -> Result<EntryLookup> {
    let lookup = lookup.ok_or_else(|| StoreError::NamespaceNotFound(id.to_string()))?;
    if lookup.namespace.status != NamespaceStatus::Ready.as_str() {
        return Err(StoreError::NamespaceNotReady {
            id: id.to_string(),
            status: lookup.namespace.status.clone(),
        });
    }
    Ok(lookup)
}

/// Why `key` is not in `namespace`: the rule it breaks (no write could have stored it), else
/// `KeyNotFound`. Told from the lookup itself, so a read of a missing key costs what a hit does.
fn missing(id: &Uuid, namespace: &LookupNamespace, key: &str) -> StoreError {
    let (profile, overrides) = match parse_rules(id, &namespace.profile, &namespace.overrides) {
        Ok(rules) => rules,
        Err(e) => return e,
    };
    let limits = effective_limits(profile, namespace.ttl_enabled, &overrides);
    match profile
        .check_key_shape(key, &limits)
        .and_then(|()| limits.check_key_size(key))
    {
        Err(rule) => rule,
        Ok(()) => StoreError::KeyNotFound(key.to_string()),
    }
}

fn to_entry(id: &Uuid, row: EntryRow) -> Entry {
    Entry {
        key: row.key,
        value: row.value,
        metadata: row.metadata,
        content_type: row.content_type,
        expires_at_ms: row.expires_at_ms,
        etag: Etag::entry(id, row.version),
        modified_at_ms: row.modified_at_ms,
    }
}

//! A cache of point lookups (namespace status + live entry at a key) in front of the read
//! connections, exact by construction: every cached lookup is tagged with the database's data
//! version ([`WalIndex`]), and is served only while that version is still current, so a commit by
//! any connection of any process (this server's writer, `edgekv kv` from a shell, the `sqlite3`
//! shell) retires the whole cache before anyone can read past it.
//!
//! A lookup read from SQLite is cached only if the data version was the same before and after the
//! read: then the row belongs to that version and to no other. Expiry still runs on the store's
//! clock at every hit: a cached entry past its expiry is answered as absent.
//!
//! A hit costs a read of the mapped WAL-index header and a hash lookup, where a SQLite point read
//! begins and ends a read transaction (WAL read-mark locks, `fcntl` calls): this is the hot path of
//! a guest's KV GET.

use super::wal_index::{DataVersion, WalIndex};
use crate::storage::EntryLookup;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Bytes of keys, values and metadata the cache may hold; past this it starts over.
const BUDGET_BYTES: usize = 32 << 20;
/// Larger entries are not cached.
const MAX_ENTRY_BYTES: usize = 1 << 20;
/// Per-entry bookkeeping counted against the budget.
const OVERHEAD_BYTES: usize = 128;

pub struct EntryCache {
    index: WalIndex,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// The data version every cached lookup belongs to.
    version: Option<DataVersion>,
    bytes: usize,
    lookups: HashMap<i64, HashMap<Box<str>, Cached>>,
}

struct Cached {
    /// Shared, so a hit copies the entry out after the lock is released: a large value never
    /// holds up the other readers.
    lookup: Arc<EntryLookup>,
    /// The store-clock time of the read: a lookup that found no live entry says so only from then on.
    read_at_ms: i64,
}

/// The answer of [`EntryCache::get`].
pub enum Probe {
    Hit(EntryLookup),
    /// Read it from SQLite, then hand it to [`EntryCache::fill`] with this version (if any).
    Miss(Option<DataVersion>),
}

impl EntryCache {
    /// A cache for the database at `db_path`; `None` if it has no WAL index to version it by.
    pub fn open(db_path: &Path) -> Option<EntryCache> {
        Some(EntryCache {
            index: WalIndex::open(db_path)?,
            state: Mutex::default(),
        })
    }

    /// The cached lookup of `key` in namespace `ns`, as of `now_ms`, if the data has not changed.
    pub fn get(&self, ns: i64, key: &str, now_ms: i64) -> Probe {
        let Some(version) = self.index.version() else {
            return Probe::Miss(None);
        };
        match self.cached(ns, key, now_ms, version) {
            Some(lookup) => Probe::Hit(live_at(&lookup, now_ms)),
            None => Probe::Miss(Some(version)),
        }
    }

    /// The lookup cached for `key` as of `now_ms`, if the cache is at `version`.
    fn cached(
        &self,
        ns: i64,
        key: &str,
        now_ms: i64,
        version: DataVersion,
    ) -> Option<Arc<EntryLookup>> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.version != Some(version) {
            state.start_over(version);
            return None;
        }
        let cached = state.lookups.get(&ns)?.get(key)?;
        (now_ms >= cached.read_at_ms).then(|| Arc::clone(&cached.lookup))
    }

    /// Caches `lookup`, read from SQLite after [`EntryCache::get`] returned `Miss(Some(version))`,
    /// if no transaction has committed since.
    pub fn fill(
        &self,
        ns: i64,
        key: &str,
        read_at_ms: i64,
        version: DataVersion,
        lookup: &EntryLookup,
    ) {
        let size = lookup_bytes(key, lookup);
        if size > MAX_ENTRY_BYTES || self.index.version() != Some(version) {
            return;
        }
        // Copied before the lock is taken, as a hit copies after releasing it.
        let cached = Cached {
            lookup: Arc::new(lookup.clone()),
            read_at_ms,
        };
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.version != Some(version) || state.bytes + size > BUDGET_BYTES {
            state.start_over(version);
        }
        let keys = state.lookups.entry(ns).or_default();
        if keys.insert(key.into(), cached).is_none() {
            state.bytes += size;
        }
    }
}

impl State {
    fn start_over(&mut self, version: DataVersion) {
        self.version = Some(version);
        self.bytes = 0;
        self.lookups.clear();
    }
}

/// `lookup` as of `now_ms`: its entry is absent once it has expired.
fn live_at(lookup: &EntryLookup, now_ms: i64) -> EntryLookup {
    let live = |row: &&crate::storage::EntryRow| row.expires_at_ms.is_none_or(|at| at > now_ms);
    EntryLookup {
        namespace: lookup.namespace.clone(),
        entry: lookup.entry.as_ref().filter(live).cloned(),
    }
}

fn lookup_bytes(key: &str, lookup: &EntryLookup) -> usize {
    let entry = lookup.entry.as_ref().map_or(0, |e| {
        e.value.len()
            + e.metadata.as_ref().map_or(0, String::len)
            + e.content_type.as_ref().map_or(0, String::len)
    });
    // The namespace's decoded rules are a few words: the overhead covers them.
    OVERHEAD_BYTES + key.len() + entry
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{EntryRow, LookupNamespace};
    use rusqlite::Connection;

    fn ready() -> std::sync::Arc<LookupNamespace> {
        std::sync::Arc::new(LookupNamespace {
            status: crate::NamespaceStatus::Ready,
            profile: crate::Profile::Cloudflare,
            ttl_enabled: true,
            overrides: crate::LimitOverrides::default(),
        })
    }

    fn lookup(value: &[u8], expires_at_ms: Option<i64>) -> EntryLookup {
        EntryLookup {
            namespace: ready(),
            entry: Some(EntryRow {
                key: "k".into(),
                value: value.to_vec(),
                metadata: None,
                content_type: None,
                expires_at_ms,
                version: 1,
                modified_at_ms: 0,
            }),
        }
    }

    fn setup() -> (tempfile::TempDir, Connection, EntryCache) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        let cache = EntryCache::open(&path).unwrap();
        (dir, conn, cache)
    }

    fn miss_version(probe: Probe) -> DataVersion {
        match probe {
            Probe::Miss(Some(v)) => v,
            Probe::Miss(None) => panic!("no data version"),
            Probe::Hit(_) => panic!("unexpected hit"),
        }
    }

    #[test]
    fn a_filled_lookup_is_served_until_any_commit() {
        let (_dir, conn, cache) = setup();
        let version = miss_version(cache.get(1, "k", 0));
        cache.fill(1, "k", 0, version, &lookup(b"v1", None));
        match cache.get(1, "k", 0) {
            Probe::Hit(hit) => assert_eq!(hit.entry.unwrap().value, b"v1"),
            Probe::Miss(_) => panic!("expected a hit"),
        }
        assert!(
            matches!(cache.get(2, "k", 0), Probe::Miss(Some(_))),
            "other namespace"
        );
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        assert!(matches!(cache.get(1, "k", 0), Probe::Miss(Some(_))));
    }

    #[test]
    fn a_read_that_raced_a_commit_is_not_cached() {
        let (_dir, conn, cache) = setup();
        let version = miss_version(cache.get(1, "k", 0));
        conn.execute("INSERT INTO t VALUES (1)", []).unwrap();
        cache.fill(1, "k", 0, version, &lookup(b"old", None));
        assert!(matches!(cache.get(1, "k", 0), Probe::Miss(Some(_))));
    }

    #[test]
    fn expiry_runs_on_every_hit_and_absence_only_counts_forward() {
        let (_dir, _conn, cache) = setup();
        let version = miss_version(cache.get(1, "k", 100));
        cache.fill(1, "k", 100, version, &lookup(b"v", Some(200)));
        cache.fill(
            1,
            "gone",
            100,
            version,
            &EntryLookup {
                namespace: ready(),
                entry: None,
            },
        );
        let Probe::Hit(hit) = cache.get(1, "k", 199) else {
            panic!("expected a hit")
        };
        assert!(hit.entry.is_some());
        let Probe::Hit(hit) = cache.get(1, "k", 200) else {
            panic!("expected a hit")
        };
        assert!(hit.entry.is_none(), "expired at 200");
        assert!(
            matches!(cache.get(1, "gone", 99), Probe::Miss(_)),
            "read at 100, asked at 99"
        );
        assert!(matches!(cache.get(1, "gone", 100), Probe::Hit(_)));
    }
}

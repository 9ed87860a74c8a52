//! The database's data version, read from the header of SQLite's WAL index (the `-shm` file).
//!
//! In WAL mode a commit becomes visible to readers exactly when its writer rewrites the WAL-index
//! header: every commit, by any connection of any process, increments the header's change counter
//! and records the new last frame. So two equal headers mean that no transaction committed between
//! the two reads. The header is 48 bytes stored twice; writers update the second copy, then the
//! first, and a reader that sees two different copies has caught a write half done (this is how
//! SQLite itself reads it). Format: <https://sqlite.org/walformat.html>, "The WAL-Index Header".
//!
//! The header is read from a shared mapping of the file, as SQLite reads it: word by word, the
//! first copy, a barrier, then the second. A mapping of a file that shrinks under it faults, so the
//! index keeps a connection of its own open: SQLite truncates a `-shm` file only when the first
//! connection opens it and deletes it only when the last one closes, so while that connection is
//! open the file keeps its size. (SQLite maps the same pages itself: anything else that shrank the
//! file would fault SQLite's own reads first.)

use memmap2::{Mmap, MmapOptions};
use rusqlite::Connection;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{fence, AtomicU32, Ordering};
use std::sync::Mutex;

/// Bytes of one copy of the header.
const HEADER_BYTES: usize = 48;
/// The header as 32-bit words.
const HEADER_WORDS: usize = HEADER_BYTES / 4;
/// `iVersion` of the only WAL-index format SQLite has written (3.7.0 and later). The header is in
/// the host's byte order: it is shared memory, not a portable file.
const FORMAT_VERSION: u32 = 3_007_000;

/// The state of the database as of one header read: equal versions, equal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataVersion([u32; HEADER_WORDS]);

/// The WAL index of one database file.
pub struct WalIndex {
    /// Both copies of the header, mapped read-only. Declared before `_anchor`, so it is unmapped
    /// before that connection closes.
    header: Mmap,
    /// Keeps the `-shm` file open in SQLite, at its size, while it is mapped. (Never used again:
    /// the mutex only makes the index `Sync`.)
    _anchor: Mutex<Connection>,
}

impl WalIndex {
    /// Opens the WAL index of the database at `db_path`; `None` when the database is not in WAL
    /// mode with a shared-memory index (no `-shm` file) or its header is not in the known format.
    pub fn open(db_path: &Path) -> Option<WalIndex> {
        let anchor = Connection::open(db_path).ok()?;
        // A read opens the WAL index; the connection then holds it until it closes.
        let mode: String = anchor
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .ok()?;
        anchor
            .query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))
            .ok()?;
        if !mode.eq_ignore_ascii_case("wal") {
            return None;
        }
        let mut name = db_path.as_os_str().to_owned();
        name.push("-shm");
        let shm = File::open(name).ok()?;
        if shm.metadata().ok()?.len() < (2 * HEADER_BYTES) as u64 {
            return None;
        }
        // SAFETY: the file keeps at least this size while `anchor` is open (see the module doc).
        let header = unsafe { MmapOptions::new().len(2 * HEADER_BYTES).map(&shm) }.ok()?;
        let index = WalIndex {
            header,
            _anchor: Mutex::new(anchor),
        };
        index.version().map(|_| index)
    }

    /// The current data version; `None` while a writer is halfway through updating the header.
    pub fn version(&self) -> Option<DataVersion> {
        // Writers update the second copy, then the first: read them the other way round.
        let first = self.copy(0);
        fence(Ordering::Acquire);
        let second = self.copy(1);
        let initialised = first[3].to_ne_bytes()[0] != 0; // isInit, byte 12
        if first != second || first[0] != FORMAT_VERSION || !initialised {
            return None;
        }
        Some(DataVersion(first))
    }

    /// One copy of the header, read word by word (other connections write it as we read).
    fn copy(&self, which: usize) -> [u32; HEADER_WORDS] {
        let base = self.header.as_ptr().cast::<u32>();
        std::array::from_fn(|i| {
            // SAFETY: the mapping is page-aligned and holds both copies; SQLite writes these words
            // concurrently, so they are read as atomics.
            let word =
                unsafe { AtomicU32::from_ptr(base.add(which * HEADER_WORDS + i).cast_mut()) };
            word.load(Ordering::Relaxed)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wal_db(path: &Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        conn
    }

    #[test]
    fn every_commit_of_any_connection_changes_the_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let writer = wal_db(&path);
        let other = Connection::open(&path).unwrap();
        let index = WalIndex::open(&path).expect("a WAL database has an index");
        let v0 = index.version().unwrap();
        assert_eq!(index.version(), Some(v0), "no commit, same version");
        writer.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let v1 = index.version().unwrap();
        assert_ne!(v0, v1);
        other.execute("UPDATE t SET v = 2", []).unwrap();
        let v2 = index.version().unwrap();
        assert_ne!(v1, v2);
        let _: i64 = other
            .query_row("SELECT v FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(index.version(), Some(v2), "a read changes nothing");
    }

    #[test]
    fn no_index_outside_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        assert!(WalIndex::open(&path).is_none());
    }
}

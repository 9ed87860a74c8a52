//! The database's data version, read from the header of SQLite's WAL index (the `-shm` file).
//!
//! In WAL mode a commit becomes visible to readers exactly when its writer rewrites the WAL-index
//! header: every commit, by any connection of any process, increments the header's change counter
//! and records the new last frame. So two equal headers mean that no transaction committed between
//! the two reads. The header is 48 bytes stored twice; writers update the second copy, then the
//! first, and a reader that sees two different copies has caught a write half done (this is how
//! SQLite itself reads it). Format: <https://sqlite.org/walformat.html>, "The WAL-Index Header".
//!
//! The file is read with `pread`, not mapped: a read of a file that shrank cannot fault, it only
//! comes back short, and then there is no version.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Bytes of one copy of the header.
const HEADER_BYTES: usize = 48;
/// `iVersion` of the only WAL-index format SQLite has written (3.7.0 and later). The header is in
/// the host's byte order: it is shared memory, not a portable file.
const FORMAT_VERSION: u32 = 3_007_000;

/// The state of the database as of one header read: equal versions, equal data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataVersion([u8; HEADER_BYTES]);

/// The WAL index of one database file.
pub struct WalIndex {
    shm: File,
}

impl WalIndex {
    /// Opens the WAL index of the database at `db_path`; `None` when the database is not in WAL
    /// mode with a shared-memory index (no `-shm` file) or its header is not in the known format.
    pub fn open(db_path: &Path) -> Option<WalIndex> {
        let mut name = db_path.as_os_str().to_owned();
        name.push("-shm");
        let index = WalIndex {
            shm: File::open(name).ok()?,
        };
        index.version().map(|_| index)
    }

    /// The current data version; `None` while a writer is halfway through updating the header.
    pub fn version(&self) -> Option<DataVersion> {
        let mut both = [0u8; HEADER_BYTES * 2];
        self.shm.read_exact_at(&mut both, 0).ok()?;
        let (first, second) = both.split_at(HEADER_BYTES);
        let format = u32::from_ne_bytes([first[0], first[1], first[2], first[3]]);
        let initialised = first[12] != 0;
        if first != second || format != FORMAT_VERSION || !initialised {
            return None;
        }
        let mut header = [0u8; HEADER_BYTES];
        header.copy_from_slice(first);
        Some(DataVersion(header))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

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

//! The embedded SQLite backend: one file in WAL mode, one writer thread that commits concurrent write
//! jobs together (group commit), and a pool of read connections.

mod entry_cache;
mod queries;
pub mod schema;
mod wal_index;

use crate::error::{StorageError, StoreError};
use crate::metrics::Observer;
use crate::storage::{self, EntryLookup, ReadTx, Storage, WriteJob};
use crate::writer::{Writer, WriterConn};
use entry_cache::{EntryCache, Probe};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// How hard a commit works to survive failures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous=NORMAL`: an acknowledged write survives the process being killed (`kill -9`);
    /// the last commits may be lost on power failure.
    #[default]
    Normal,
    /// `synchronous=FULL`: every commit group is fsynced before it is acknowledged.
    Full,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "normal" => Ok(Durability::Normal),
            "full" => Ok(Durability::Full),
            other => Err(format!("unknown durability {other:?} (normal or full)")),
        }
    }
}

/// Idle read connections kept for reuse; more are opened on demand.
const MAX_IDLE_READERS: usize = 16;
/// How long a connection waits for a lock another process holds, unless the store is opened with
/// another: past it, the write's whole commit group fails with that cause.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Page cache of the writer, in KiB (negative `cache_size`): writes re-read the pages they change.
const WRITER_CACHE_KIB: i64 = -65_536;
/// Page cache of each reader, in KiB, and how much of the file readers map into memory.
const READER_CACHE_KIB: i64 = -16_384;
const READER_MMAP_BYTES: i64 = 1 << 30;

/// The embedded SQLite [`Storage`] backend over one database file: its writer thread, its pool of
/// read connections and its cache of point lookups.
pub struct SqliteStorage {
    path: PathBuf,
    busy_timeout: Duration,
    readers: Mutex<Vec<Connection>>,
    writer: Writer<Connection>,
    /// Point lookups, versioned by the WAL index; `None` where the file has no WAL index.
    entries: Option<EntryCache>,
    observer: Observer,
}

impl SqliteStorage {
    /// Opens (creating if needed) the database at `path` and migrates it; connections wait up to
    /// [`BUSY_TIMEOUT`] for a lock another process holds.
    pub fn open(path: &Path, durability: Durability) -> Result<Self, StorageError> {
        SqliteStorage::open_with_busy_timeout(path, durability, BUSY_TIMEOUT)
    }

    /// [`SqliteStorage::open`], with connections that wait up to `busy_timeout` for a lock.
    pub fn open_with_busy_timeout(
        path: &Path,
        durability: Durability,
        busy_timeout: Duration,
    ) -> Result<Self, StorageError> {
        create_private(path)?;
        let mut conn = open_connection(path, OpenFlags::default(), busy_timeout)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        schema::migrate(&mut conn)?;
        let sync = match durability {
            Durability::Normal => "NORMAL",
            Durability::Full => "FULL",
        };
        conn.pragma_update(None, "synchronous", sync)?;
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        let entries = EntryCache::open(path);
        let observer = Observer::default();
        if entries.is_none() {
            tracing::debug!(
                "{}: no WAL index, point reads are not cached",
                path.display()
            );
        }
        Ok(SqliteStorage {
            path: path.to_path_buf(),
            busy_timeout,
            readers: Mutex::new(Vec::new()),
            writer: Writer::start(conn, observer.clone()),
            entries,
            observer,
        })
    }

    fn checkout(&self) -> Result<Connection, StorageError> {
        let idle = self.readers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match idle {
            Some(conn) => Ok(conn),
            None => {
                let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
                let conn = open_connection(&self.path, flags, self.busy_timeout)?;
                conn.pragma_update(None, "cache_size", READER_CACHE_KIB)?;
                conn.pragma_update(None, "mmap_size", READER_MMAP_BYTES)?;
                Ok(conn)
            }
        }
    }

    fn checkin(&self, conn: Connection) {
        let mut idle = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// Creates the database file, and the directories above it, readable by their owner only (0600,
/// 0700) if they do not exist yet: they hold every namespace's data. SQLite gives the `-wal` and
/// `-shm` files it creates next to the database the database file's mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    let mut dir = std::fs::DirBuilder::new();
    dir.recursive(true);
    let mut file = std::fs::OpenOptions::new();
    file.write(true).create_new(true);
    #[cfg(unix)]
    {
        std::os::unix::fs::DirBuilderExt::mode(&mut dir, 0o700);
        std::os::unix::fs::OpenOptionsExt::mode(&mut file, 0o600);
    }
    if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        dir.create(parent)?;
    }
    match file.open(path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => Ok(()),
    }
}

fn open_connection(
    path: &Path,
    flags: OpenFlags,
    busy_timeout: Duration,
) -> Result<Connection, StorageError> {
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(busy_timeout)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl Storage for SqliteStorage {
    fn observer(&self) -> Observer {
        self.observer.clone()
    }

    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let conn = self.checkout()?;
        let result = f(&conn);
        self.checkin(conn);
        result
    }

    fn submit(&self, job: Box<dyn WriteJob>) -> Result<(), StoreError> {
        self.writer.submit(job)
    }

    /// A read transaction: in WAL mode it keeps the snapshot of its first read until it ends.
    fn snapshot(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let conn = self.checkout()?;
        conn.execute_batch("BEGIN").map_err(StorageError::from)?;
        let result = f(&conn);
        let ended = conn.execute_batch("COMMIT").map_err(StorageError::from);
        if ended.is_ok() {
            self.checkin(conn);
        }
        result?;
        Ok(ended?)
    }

    /// The database file itself: its device and inode where there are such, else its canonical
    /// path, so two paths to one file (a link, a relative path) are one store.
    fn identity(&self) -> Result<String, StoreError> {
        let path = std::fs::canonicalize(&self.path).map_err(StorageError::from)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::MetadataExt;
            let meta = std::fs::metadata(&path).map_err(StorageError::from)?;
            Ok(format!("sqlite:{}:{}", meta.dev(), meta.ino()))
        }
        #[cfg(not(unix))]
        Ok(format!("sqlite:{}", path.display()))
    }

    /// SQLite's online backup, in one step: the step reads every page inside one read transaction
    /// of the source, so the copy is the database as one commit left it, and in WAL mode it holds
    /// no lock that would stop the writer. The copy leaves WAL mode, so it is one file.
    fn backup_to(&self, dest: &Path) -> Result<bool, StoreError> {
        let source = self.checkout()?;
        let copied = backup(&source, dest);
        self.checkin(source);
        copied?;
        Ok(true)
    }

    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> Result<Option<EntryLookup>, StoreError> {
        let read = || storage::read_entry(self, ns, key, now_ms);
        let Some(cache) = &self.entries else {
            return read();
        };
        let probe = cache.get(ns, key, now_ms);
        self.observer.cache_lookup(matches!(probe, Probe::Hit(_)));
        let version = match probe {
            Probe::Hit(lookup) => return Ok(Some(lookup)),
            Probe::Miss(version) => version,
        };
        let found = read()?;
        if let (Some(version), Some(lookup)) = (version, &found) {
            cache.fill(ns, key, now_ms, version, lookup);
        }
        Ok(found)
    }
}

fn backup(source: &Connection, dest: &Path) -> Result<(), StorageError> {
    let mut copy = Connection::open(dest)?;
    rusqlite::backup::Backup::new(source, &mut copy)?.step(-1)?;
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    copy.close().map_err(|(_, e)| e)?;
    Ok(())
}

/// Creates a SQLite store file at `path` (which must not exist yet), with this build's schema and
/// no data: what a copy of another backend's store is written into.
pub(crate) fn create_store_file(path: &Path) -> Result<Connection, StorageError> {
    let mut conn = open_connection(path, OpenFlags::default(), BUSY_TIMEOUT)?;
    schema::migrate(&mut conn)?;
    Ok(conn)
}

/// Opens a SQLite store file to read it out whole (a restore's source), after checking it is an
/// edgekv store of this build's schema version; nothing is written to it.
pub(crate) fn open_store_file(path: &Path) -> Result<Connection, String> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = open_connection(path, flags, BUSY_TIMEOUT).map_err(|e| e.to_string())?;
    let found: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    if found != schema::VERSION {
        return Err(format!(
            "its schema version is {found}; this build reads version {}",
            schema::VERSION
        ));
    }
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
             AND name IN ('namespaces', 'entries')",
            [],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if tables != 2 {
        return Err("it has no namespaces and entries tables".into());
    }
    Ok(conn)
}

/// The writer's connection: `BEGIN IMMEDIATE` takes the write lock up front, so a group never fails
/// halfway for want of it.
impl WriterConn for Connection {
    fn begin(&mut self) -> Result<(), StorageError> {
        WriterConn::execute(self, "BEGIN IMMEDIATE")
    }

    fn execute(&mut self, sql: &'static str) -> Result<(), StorageError> {
        // Prepared once per connection.
        self.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    fn run(&mut self, job: &mut dyn WriteJob) -> bool {
        job.run(self)
    }

    fn in_transaction(&self) -> bool {
        !self.is_autocommit()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_reads_are_cached_on_a_new_and_on_a_reopened_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kv.sqlite3");
        let first = SqliteStorage::open(&path, Durability::Normal).unwrap();
        assert!(first.entries.is_some(), "new file");
        drop(first);
        let again = SqliteStorage::open(&path, Durability::Normal).unwrap();
        assert!(again.entries.is_some(), "reopened file");
    }
}

//! The PostgreSQL backend, for several edgekv nodes on one database (or on a PostgreSQL-wire
//! engine): one writer per node on a connection of its own with group commit, every group one
//! transaction, and a bounded pool of read connections. Nothing is cached between calls beyond
//! prepared statements: every read asks the database, so a read that starts after any node
//! acknowledged a write sees it (see the crate docs for each cross-node guarantee).

mod connect;
mod queries;
pub mod schema;
mod writer;

use crate::error::{StorageError, StoreError};
use crate::metrics::Observer;
use crate::storage::{EntryLookup, ReadTx, Storage, WriteJob};
use crate::writer::Writer;
use connect::{Manager, PgConn, Target};
use queries::PgTx;
use std::sync::Arc;
use std::time::Duration;

/// How long a read waits for a pooled connection before it fails as unavailable.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(5);

/// How a PostgreSQL store connects.
#[derive(Debug, Clone)]
pub struct PostgresOptions {
    /// The most read connections the pool holds (the writer has one more of its own).
    pub pool_size: u32,
    /// How long a statement waits for a lock (another node's on a namespace row) before it fails.
    pub lock_timeout: Duration,
}

/// What a call on a storage being dropped is told.
const CLOSED: &str = "the store is closing";

/// The PostgreSQL [`Storage`] backend: its writer and its pool of read connections.
pub struct PostgresStorage {
    /// Both are `Some` until the storage is dropped, which closes their connections where that
    /// may block (`off_runtime`).
    pool: Option<r2d2::Pool<Manager>>,
    writer: Option<Writer<writer::PgWriter>>,
    target: Arc<Target>,
    observer: Observer,
}

impl Drop for PostgresStorage {
    fn drop(&mut self) {
        let (pool, writer) = (self.pool.take(), self.writer.take());
        off_runtime(move || drop((writer, pool)));
    }
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`, libpq's URL form) and
    /// migrates its schema. Fails if the database cannot be reached within the URL's
    /// `connect_timeout` (5 s when it gives none), or its schema is newer than this build knows.
    pub fn open(url: &str, options: &PostgresOptions) -> Result<Self, StorageError> {
        off_runtime(|| PostgresStorage::connect(url, options))
    }

    fn connect(url: &str, options: &PostgresOptions) -> Result<Self, StorageError> {
        let target = Arc::new(Target::parse(url, options.lock_timeout)?);
        let mut conn = target.connect()?;
        schema::migrate(&mut conn.client)?;
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            // No round trip to test a connection on every checkout: one the database dropped is
            // seen as closed (`has_broken`), and a read on one lost since fails as unavailable.
            .test_on_check_out(false)
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(Manager(target.clone()))
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        let observer = Observer::default();
        let writer = Writer::start(
            writer::PgWriter::new(target.clone(), conn),
            observer.clone(),
        );
        Ok(PostgresStorage {
            pool: Some(pool),
            writer: Some(writer),
            target,
            observer,
        })
    }

    /// A pooled connection and what `first` returned, having run on it. Pooled connections are not
    /// tested at checkout (that would cost a round trip per read), so one the database dropped since
    /// its last use (a restart, an idle timeout) shows only when `first` fails on it: that
    /// connection leaves the pool and `first` runs again on another, until a fresh connection has
    /// been tried. `first` must therefore fail on a closed connection before doing anything it
    /// would not redo. While the database refuses connections, a read that would need a new one
    /// fails at once rather than waiting out the checkout timeout.
    fn checkout<T>(
        &self,
        mut first: impl FnMut(&mut PgConn) -> Result<T, StoreError>,
    ) -> Result<(r2d2::PooledConnection<Manager>, T), StoreError> {
        let pool = self
            .pool
            .as_ref()
            .ok_or(StorageError::Unavailable(CLOSED.into()))?;
        if pool.state().idle_connections == 0 {
            if let Some(why) = self.target.refused_recently() {
                return Err(StorageError::Unavailable(why).into());
            }
        }
        let mut attempts = pool.max_size() + 1;
        loop {
            let mut conn = pool
                .get()
                .map_err(|e| StorageError::Unavailable(e.to_string()))?;
            attempts -= 1;
            match first(&mut conn) {
                Err(_) if attempts > 0 && conn.is_lost() => continue,
                result => return result.map(|found| (conn, found)),
            }
        }
    }
}

impl Storage for PostgresStorage {
    fn observer(&self) -> Observer {
        self.observer.clone()
    }

    /// Runs `f` in one read-only snapshot, so the reads it makes agree with each other.
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        off_runtime(|| self.read_snapshot(f))
    }

    /// The submitting thread may run its commit group itself, so this may block as a read does.
    fn submit(&self, job: Box<dyn WriteJob>) -> Result<(), StoreError> {
        let writer = self.writer.as_ref().ok_or(StoreError::Closed)?;
        off_runtime(|| writer.submit(job))
    }

    /// The server (its start time, which two servers never share), the database and the schema.
    fn identity(&self) -> Result<String, StoreError> {
        let sql = "SELECT pg_postmaster_start_time()::TEXT, d.oid::BIGINT, current_schema()::TEXT \
                   FROM pg_database d WHERE d.datname = current_database()";
        off_runtime(|| {
            let (_, row) = self.checkout(|conn| {
                Ok(conn
                    .client
                    .query_one(sql, &[])
                    .map_err(StorageError::from)?)
            })?;
            let (started, database, schema): (String, i64, Option<String>) = (
                row.try_get(0).map_err(StorageError::from)?,
                row.try_get(1).map_err(StorageError::from)?,
                row.try_get(2).map_err(StorageError::from)?,
            );
            Ok(format!(
                "postgres:{started}:{database}:{}",
                schema.unwrap_or_default()
            ))
        })
    }

    /// One statement, outside any explicit transaction: a point read needs no more.
    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> Result<Option<EntryLookup>, StoreError> {
        off_runtime(|| {
            let (_, found) =
                self.checkout(|conn| Ok(PgTx::reading(conn).entry(ns, key, now_ms)?))?;
            Ok(found)
        })
    }
}

impl PostgresStorage {
    fn read_snapshot(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let (mut conn, ()) = self.checkout(|conn| {
            let begin = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
            Ok(conn
                .client
                .batch_execute(begin)
                .map_err(StorageError::from)?)
        })?;
        let conn: &mut PgConn = &mut conn;
        let result = f(&PgTx::reading(conn));
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = conn.client.batch_execute(end).map_err(StorageError::from);
        result?;
        Ok(ended?)
    }
}

/// Runs `f`, which waits on the synchronous PostgreSQL client (it drives a small runtime of its
/// own), where that may block: the store is called from async worker threads too (a guest's read
/// runs on one, as SQLite's reads do), and a runtime cannot be driven from inside another, so on a
/// multi-threaded runtime's worker `f` runs as blocking code (`block_in_place`, which hands the
/// worker's other tasks to another thread). Elsewhere (a plain or blocking thread) `f` just runs; a
/// current-thread runtime's own thread cannot call a PostgreSQL store.
fn off_runtime<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

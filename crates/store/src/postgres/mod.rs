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

/// The PostgreSQL [`Storage`] backend: its writer and its pool of read connections.
pub struct PostgresStorage {
    pool: r2d2::Pool<Manager>,
    writer: Writer<writer::PgWriter>,
}

impl PostgresStorage {
    /// Connects to the database at `url` (`postgres://` or `postgresql://`, libpq's URL form) and
    /// migrates its schema. Fails if the database cannot be reached within the URL's
    /// `connect_timeout` (5 s when it gives none), or its schema is newer than this build knows.
    pub fn open(url: &str, options: &PostgresOptions) -> Result<Self, StorageError> {
        let target = Arc::new(Target::parse(url, options.lock_timeout)?);
        let mut conn = target.connect()?;
        schema::migrate(&mut conn.client)?;
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size.max(1))
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build(Manager(target.clone()))
            .map_err(|e| StorageError::Unavailable(e.to_string()))?;
        Ok(PostgresStorage {
            pool,
            writer: Writer::start(writer::PgWriter::new(target, conn)),
        })
    }

    fn checkout(&self) -> Result<r2d2::PooledConnection<Manager>, StorageError> {
        self.pool
            .get()
            .map_err(|e| StorageError::Unavailable(e.to_string()))
    }
}

impl Storage for PostgresStorage {
    /// Runs `f` in one read-only snapshot, so the reads it makes agree with each other.
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn ReadTx) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let mut conn = self.checkout()?;
        let conn: &mut PgConn = &mut conn;
        conn.client
            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .map_err(StorageError::from)?;
        let result = f(&PgTx::reading(conn));
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        let ended = conn.client.batch_execute(end).map_err(StorageError::from);
        result?;
        Ok(ended?)
    }

    fn submit(&self, job: Box<dyn WriteJob>) -> Result<(), StoreError> {
        self.writer.submit(job)
    }

    /// One statement, outside any explicit transaction: a point read needs no more.
    fn entry(&self, ns: i64, key: &str, now_ms: i64) -> Result<Option<EntryLookup>, StoreError> {
        let mut conn = self.checkout()?;
        Ok(PgTx::reading(&mut conn).entry(ns, key, now_ms)?)
    }
}

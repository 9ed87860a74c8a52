//! The writer's own connection to PostgreSQL, as the group commit (`crate::writer`) drives it: each
//! group is one `READ COMMITTED` transaction, each job a savepoint in it. A connection that was lost
//! (the database restarted or ended the session, the network dropped; a statement failed and the
//! connection fails an empty query) is replaced before the next group, so the writer
//! recovers by itself once the database is back; the groups in between fail with the cause.
//!
//! The writer is one connection, so its throughput is bound by round trips: `BEGIN` and each
//! `RELEASE job` wait to go with the statement after them (the first `SAVEPOINT job`, the next one,
//! `COMMIT`) in one simple query. A failure of a deferred statement fails that one, so the group
//! fails as it would have.

use super::connect::{PgConn, Target};
use super::queries::PgTx;
use crate::error::StorageError;
use crate::storage::WriteJob;
use crate::writer::WriterConn;
use std::sync::Arc;

pub struct PgWriter {
    target: Arc<Target>,
    conn: Option<PgConn>,
    in_transaction: bool,
    /// Transaction-control statements waiting to go with the next statement.
    deferred: Vec<&'static str>,
}

impl PgWriter {
    pub fn new(target: Arc<Target>, conn: PgConn) -> PgWriter {
        PgWriter {
            target,
            conn: Some(conn),
            in_transaction: false,
            deferred: Vec::new(),
        }
    }

    /// Runs the deferred statements, then `sql` if given, in one simple query.
    fn send(&mut self, sql: Option<&'static str>) -> Result<(), StorageError> {
        self.deferred.extend(sql);
        if self.deferred.is_empty() {
            return Ok(());
        }
        let batch = self.deferred.join("; ");
        self.deferred.clear();
        let conn = self.conn()?;
        let result = conn.client.batch_execute(&batch);
        if result.is_err() && conn.is_lost() {
            // Gone with its transaction: the next group starts on a new connection.
            self.conn = None;
            self.in_transaction = false;
        }
        Ok(result?)
    }

    fn conn(&mut self) -> Result<&mut PgConn, StorageError> {
        self.conn
            .as_mut()
            .ok_or_else(|| StorageError::Unavailable("no connection to the database".into()))
    }
}

impl WriterConn for PgWriter {
    fn ready(&mut self) -> Result<(), StorageError> {
        if self.conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            self.conn = None;
            self.in_transaction = false;
            self.deferred.clear();
            self.conn = Some(self.target.connect()?);
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<(), StorageError> {
        self.conn()?;
        self.deferred.push("BEGIN ISOLATION LEVEL READ COMMITTED");
        self.in_transaction = true;
        Ok(())
    }

    fn execute(&mut self, sql: &'static str) -> Result<(), StorageError> {
        match sql {
            "RELEASE job" => {
                self.deferred.push(sql);
                return Ok(());
            }
            "COMMIT" => self.in_transaction = false,
            // What was deferred is undone anyway, and would fail in an aborted transaction.
            "ROLLBACK" => {
                self.deferred.clear();
                self.in_transaction = false;
            }
            _ => {}
        }
        self.send(Some(sql))
    }

    fn run(&mut self, job: &mut dyn WriteJob) -> bool {
        if self.send(None).is_err() {
            return false;
        }
        match self.conn.as_mut() {
            Some(conn) => job.run(&mut PgTx::writing(conn)),
            None => false,
        }
    }

    fn in_transaction(&self) -> bool {
        self.in_transaction
    }
}

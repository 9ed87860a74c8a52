//! The writer's own connection to PostgreSQL, as the group commit (`crate::writer`) drives it: each
//! group is one `READ COMMITTED` transaction, each job a savepoint in it. A connection that was lost
//! (the database restarted, the network dropped) is replaced before the next group, so the writer
//! recovers by itself once the database is back; the groups in between fail with the cause.

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
}

impl PgWriter {
    pub fn new(target: Arc<Target>, conn: PgConn) -> PgWriter {
        PgWriter {
            target,
            conn: Some(conn),
            in_transaction: false,
        }
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
            self.conn = Some(self.target.connect()?);
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<(), StorageError> {
        self.conn()?
            .client
            .batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED")?;
        self.in_transaction = true;
        Ok(())
    }

    fn execute(&mut self, sql: &'static str) -> Result<(), StorageError> {
        if matches!(sql, "COMMIT" | "ROLLBACK") {
            self.in_transaction = false;
        }
        let conn = self.conn()?;
        let result = conn.client.batch_execute(sql);
        if result.is_err() && conn.client.is_closed() {
            self.in_transaction = false;
        }
        Ok(result?)
    }

    fn run(&mut self, job: &mut dyn WriteJob) -> bool {
        match self.conn.as_mut() {
            Some(conn) => job.run(&mut PgTx::writing(conn)),
            None => false,
        }
    }

    fn in_transaction(&self) -> bool {
        self.in_transaction
    }
}

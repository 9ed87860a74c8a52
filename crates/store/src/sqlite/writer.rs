//! The single writer thread and its group commit: it takes every job waiting in the queue, runs each in
//! its own savepoint of one `BEGIN IMMEDIATE` transaction (a failed job rolls back only itself),
//! commits once, and only then tells each caller its outcome.

use crate::error::{StorageError, StoreError};
use crate::storage::{JobOutcome, WriteJob};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::thread::JoinHandle;

/// The most jobs one transaction takes.
const MAX_GROUP: usize = 1024;

pub struct Writer {
    queue: Option<Sender<WriteJob>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(conn: Connection) -> Writer {
        let (queue, jobs) = channel::<WriteJob>();
        let thread = std::thread::Builder::new()
            .name("edgekv-writer".into())
            .spawn(move || run(conn, jobs))
            .ok();
        Writer {
            queue: Some(queue),
            thread,
        }
    }

    pub fn submit(&self, job: WriteJob) -> Result<(), StoreError> {
        let queue = self.queue.as_ref().ok_or(StoreError::Closed)?;
        queue.send(job).map_err(|_| StoreError::Closed)
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and exit.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(mut conn: Connection, jobs: Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        commit_group(&mut conn, group);
    }
}

fn commit_group(conn: &mut Connection, group: Vec<WriteJob>) {
    let mut delivers = Vec::with_capacity(group.len());
    let result = (|| -> Result<(), StorageError> {
        statement(conn, "BEGIN IMMEDIATE")?;
        for job in group {
            delivers.push(run_job(conn, job)?);
        }
        statement(conn, "COMMIT")?;
        Ok(())
    })();
    if result.is_err() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    let failure = result.err().map(|e| e.to_string());
    for deliver in delivers {
        deliver(match &failure {
            None => Ok(()),
            Some(why) => Err(StorageError::Commit(why.clone())),
        });
    }
}

/// Runs one job in a savepoint; a job that fails (or panics) leaves no trace.
fn run_job(
    conn: &mut Connection,
    job: WriteJob,
) -> Result<Box<dyn FnOnce(Result<(), StorageError>) + Send>, StorageError> {
    statement(conn, "SAVEPOINT job")?;
    let outcome = catch_unwind(AssertUnwindSafe(|| job(conn)));
    match outcome {
        Ok(JobOutcome {
            applied: true,
            deliver,
        }) => {
            statement(conn, "RELEASE job")?;
            Ok(deliver)
        }
        Ok(JobOutcome {
            applied: false,
            deliver,
        }) => {
            roll_back(conn)?;
            Ok(deliver)
        }
        Err(_) => {
            tracing::error!("a write job panicked; its changes were rolled back");
            roll_back(conn)?;
            Ok(Box::new(|_| {}))
        }
    }
}

fn roll_back(conn: &Connection) -> Result<(), StorageError> {
    statement(conn, "ROLLBACK TO job")?;
    statement(conn, "RELEASE job")
}

/// Runs a transaction-control statement, prepared once per connection.
fn statement(conn: &Connection, sql: &str) -> Result<(), StorageError> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

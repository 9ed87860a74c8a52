//! The writer and its group commit. A writer thread takes every job waiting in its queue, runs each
//! in its own savepoint of one `BEGIN IMMEDIATE` transaction (a failed job rolls back only itself),
//! commits once, and only then tells each caller its outcome. When nothing is queued and the
//! connection is free, a caller commits its own job on its own thread instead, saving two thread
//! hand-offs on an uncontended write.

use crate::error::{StorageError, StoreError};
use crate::storage::{Deliver, JobOutcome, WriteJob};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

/// The most jobs one transaction takes.
const MAX_GROUP: usize = 1024;

pub struct Writer {
    conn: Arc<Mutex<Connection>>,
    /// Jobs sent to the writer thread and not yet taken by it.
    pending: Arc<AtomicUsize>,
    queue: Option<Sender<WriteJob>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    pub fn start(conn: Connection) -> Writer {
        let conn = Arc::new(Mutex::new(conn));
        let pending = Arc::new(AtomicUsize::new(0));
        let (queue, jobs) = channel::<WriteJob>();
        let (thread_conn, thread_pending) = (conn.clone(), pending.clone());
        let thread = std::thread::Builder::new()
            .name("edgekv-writer".into())
            .spawn(move || run(&thread_conn, &thread_pending, jobs))
            .ok();
        Writer {
            conn,
            pending,
            queue: Some(queue),
            thread,
        }
    }

    /// Runs `job` now if the writer is idle, else queues it for the writer thread's next group.
    pub fn submit(&self, job: WriteJob) -> Result<(), StoreError> {
        if self.pending.load(Ordering::Acquire) == 0 {
            if let Ok(mut conn) = self.conn.try_lock() {
                commit_group(&mut conn, vec![job]);
                return Ok(());
            }
        }
        let queue = self.queue.as_ref().ok_or(StoreError::Closed)?;
        self.pending.fetch_add(1, Ordering::AcqRel);
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

fn run(conn: &Mutex<Connection>, pending: &AtomicUsize, jobs: Receiver<WriteJob>) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        pending.fetch_sub(group.len(), Ordering::AcqRel);
        commit_group(&mut lock(conn), group);
    }
}

fn lock(mutex: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panicking job is caught in `run_job`, so poisoning would come from a bug here; the connection
    // is still usable (SQLite rolls back an unfinished transaction).
    mutex.lock().unwrap_or_else(|e| e.into_inner())
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
fn run_job(conn: &mut Connection, job: WriteJob) -> Result<Deliver, StorageError> {
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

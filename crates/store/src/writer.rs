//! The writer and its group commit, for every backend. A writer thread takes every job waiting in
//! its queue, runs each in its own savepoint of one transaction (a failed job rolls back only
//! itself), commits once, and only then tells each caller its outcome. When the transaction fails
//! (it could not begin because another process held the write lock past the timeout, the database
//! went away, the commit was refused), every job of the group is told why, whether it ran or not.
//! A group runs its jobs ordered by the namespace row each locks ([`WriteJob::lock_order`]), so
//! writers on several nodes sharing a database lock rows in one order and do not deadlock.
//! When nothing is queued and the connection is free, a caller commits its own job on its own thread
//! instead, saving two thread hand-offs on an uncontended write.

use crate::error::{StorageError, StoreError};
use crate::metrics::Observer;
use crate::storage::WriteJob;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// The most jobs one transaction takes.
const MAX_GROUP: usize = 1024;

/// The writer's connection, as each backend drives it.
pub(crate) trait WriterConn: Send + 'static {
    /// Makes the connection usable before a group: a backend whose connection was lost opens a
    /// new one here.
    fn ready(&mut self) -> Result<(), StorageError> {
        Ok(())
    }
    /// Begins the group's transaction.
    fn begin(&mut self) -> Result<(), StorageError>;
    /// Runs a transaction-control statement (`SAVEPOINT job`, `RELEASE job`, `COMMIT`, ...).
    fn execute(&mut self, sql: &'static str) -> Result<(), StorageError>;
    /// Runs `job` against the open transaction; returns whether its changes stand.
    fn run(&mut self, job: &mut dyn WriteJob) -> bool;
    /// Whether a transaction is open (to roll back after a failure).
    fn in_transaction(&self) -> bool;
}

pub(crate) struct Writer<C: WriterConn> {
    conn: Arc<Mutex<C>>,
    /// Jobs sent to the writer thread and not yet taken by it.
    pending: Arc<AtomicUsize>,
    queue: Option<Sender<Box<dyn WriteJob>>>,
    thread: Option<JoinHandle<()>>,
    observer: Observer,
}

impl<C: WriterConn> Writer<C> {
    /// Starts the writer thread on `conn`; commit groups and the queue are recorded in `observer`.
    pub fn start(conn: C, observer: Observer) -> Writer<C> {
        let conn = Arc::new(Mutex::new(conn));
        let pending = Arc::new(AtomicUsize::new(0));
        let (queue, jobs) = channel::<Box<dyn WriteJob>>();
        let (thread_conn, thread_pending) = (conn.clone(), pending.clone());
        let thread_observer = observer.clone();
        let thread = std::thread::Builder::new()
            .name("edgekv-writer".into())
            .spawn(move || run(&thread_conn, &thread_pending, &thread_observer, jobs))
            .ok();
        Writer {
            conn,
            pending,
            queue: Some(queue),
            thread,
            observer,
        }
    }

    /// Runs `job` now if the writer is idle, else queues it for the writer thread's next group.
    pub fn submit(&self, job: Box<dyn WriteJob>) -> Result<(), StoreError> {
        if self.pending.load(Ordering::Acquire) == 0 {
            if let Ok(mut conn) = self.conn.try_lock() {
                commit_group(&mut *conn, &self.observer, vec![job]);
                return Ok(());
            }
        }
        let queue = self.queue.as_ref().ok_or(StoreError::Closed)?;
        self.pending.fetch_add(1, Ordering::AcqRel);
        self.observer.queued(1);
        queue.send(job).map_err(|_| StoreError::Closed)
    }
}

impl<C: WriterConn> Drop for Writer<C> {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and exit.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run<C: WriterConn>(
    conn: &Mutex<C>,
    pending: &AtomicUsize,
    observer: &Observer,
    jobs: Receiver<Box<dyn WriteJob>>,
) {
    while let Ok(first) = jobs.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match jobs.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        pending.fetch_sub(group.len(), Ordering::AcqRel);
        observer.queued(-(group.len() as i64));
        // Stable: jobs on one namespace keep their order of arrival.
        group.sort_by_key(|job| job.lock_order());
        commit_group(&mut *lock(conn), observer, group);
    }
}

fn lock<C>(mutex: &Mutex<C>) -> MutexGuard<'_, C> {
    // A panicking job is caught in `run_job`, so poisoning would come from a bug here; the connection
    // is still usable (a failed group rolls its transaction back).
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn commit_group(
    conn: &mut impl WriterConn,
    observer: &Observer,
    mut group: Vec<Box<dyn WriteJob>>,
) {
    let started = Instant::now();
    let _spans = commit_spans(&group);
    let result = run_group(conn, &mut group);
    if result.is_err() && conn.in_transaction() {
        let _ = conn.execute("ROLLBACK");
    }
    observer.commit_group(group.len(), started.elapsed(), result.is_ok());
    let failure = result.err().map(|e| e.to_string());
    for job in group {
        job.deliver(match &failure {
            None => Ok(()),
            Some(why) => Err(StorageError::Commit(why.clone())),
        });
    }
}

/// The target of the store's spans for traces (the log's filter leaves it out).
const TRACE_TARGET: &str = "edgekv::trace";

/// The current span, to queue with a write: a disabled one unless traces are exported (no span
/// is entered then). Not gated by `tracing::enabled!`: with per-layer filters, that check leaves
/// the thread's filter state set and the next event on the thread is dropped.
pub(crate) fn caller_span() -> tracing::Span {
    tracing::Span::current()
}

/// One `store.commit` span per job of a group, each a child of the span its caller queued it
/// with, open until the group's commit ends.
fn commit_spans(group: &[Box<dyn WriteJob>]) -> Vec<tracing::Span> {
    group
        .iter()
        .filter(|job| !job.span().is_none())
        .map(|job| {
            tracing::info_span!(
                target: TRACE_TARGET,
                parent: job.span(),
                "store.commit",
                // Signed: the trace layer writes an unsigned integer as text.
                edgekv.commit.group_size = group.len() as i64,
            )
        })
        .collect()
}

/// Runs every job of the group in one transaction and commits it.
fn run_group(
    conn: &mut impl WriterConn,
    group: &mut [Box<dyn WriteJob>],
) -> Result<(), StorageError> {
    conn.ready()?;
    conn.begin()?;
    for job in group {
        run_job(conn, job.as_mut())?;
    }
    conn.execute("COMMIT")
}

/// Runs one job in a savepoint; a job that fails (or panics) leaves no trace.
fn run_job(conn: &mut impl WriterConn, job: &mut dyn WriteJob) -> Result<(), StorageError> {
    conn.execute("SAVEPOINT job")?;
    match catch_unwind(AssertUnwindSafe(|| conn.run(job))) {
        Ok(true) => conn.execute("RELEASE job"),
        Ok(false) => roll_back(conn),
        Err(_) => {
            tracing::error!("a write job panicked; its changes were rolled back");
            roll_back(conn)
        }
    }
}

fn roll_back(conn: &mut impl WriterConn) -> Result<(), StorageError> {
    conn.execute("ROLLBACK TO job")?;
    conn.execute("RELEASE job")
}

//! Whole-namespace operations for test suites: resetting a namespace (emptying it, and optionally
//! refilling it with given content, its seed), forking one (copying it to a new namespace), and
//! creating a namespace with a seed. Each is one transaction of the writer.
//!
//! # Reset
//!
//! [`Store::reset_namespace`] deletes every entry of a namespace and writes the given puts, if
//! any, in one transaction: the namespace keeps its id, name, profile, TTL support and limit
//! overrides, and its version rises once, so no ETag issued before the reset matches afterwards
//! (the puts' entries get the new version). Each put is checked by every rule of the profile, as
//! any write is (a seed is not an API batch: the batch bounds do not apply); the first that fails
//! is named by its key ([`SeedError::Entry`]) and nothing of the reset is written.
//!
//! # Fork
//!
//! [`Store::fork_namespace`] copies a namespace to a new one with a new id and the given name:
//! its profile, TTL support, comment and limit overrides, and every entry live at the fork (key,
//! value, metadata, content type, expiry, version and time); expired entries are not copied. The
//! name must follow the profile's naming rule and be free ([`StoreError::NamespaceExists`], as
//! for a create). The fork starts at the source's version, so the versions of the copied entries
//! stay below every later write's; its ETags differ from the source's, which are derived from
//! the source's id. The source's row is locked while it is read, so the fork is the namespace as
//! one commit left it; afterwards the two are independent.
//!
//! # Seeded create
//!
//! [`Store::create_namespace_seeded`] creates a namespace and writes its seed in one transaction:
//! a seed that breaks a rule leaves no namespace behind.

use crate::change::Change;
use crate::copy::{entry_bytes, entry_page};
use crate::error::{Result, SeedError, StoreError};
use crate::namespace::{Namespace, NamespaceStatus, NewNamespace};
use crate::storage::{NamespaceKey, NamespaceRow, WriteTx};
use crate::{describe, insert_namespace, Put, Store, Uuid};
use std::sync::{Arc, Mutex};

impl Store {
    /// Empties namespace `id` and writes `content` into it, in one transaction (see
    /// [`crate::fork`]): an empty `content` just empties it. Returns the namespace afterwards.
    pub fn reset_namespace(
        &self,
        id: &Uuid,
        content: Vec<Put>,
    ) -> std::result::Result<Namespace, SeedError> {
        let seq = self.seq(id)?;
        let now = self.now_ms();
        let refused = Refused::default();
        let keep = refused.clone();
        let row = self.write_locking(Some(seq), move |tx| {
            let mut change = Change::begin(tx, seq, now)?;
            change.clear()?;
            change.put_each(content).map_err(|e| keep.keep(e))?;
            change.save()
        });
        refused.outcome(row, id)
    }

    /// Copies namespace `id` to a new namespace named `name`, in one transaction (see
    /// [`crate::fork`]). Returns the new namespace.
    pub fn fork_namespace(&self, id: &Uuid, name: &str) -> Result<Namespace> {
        let seq = self.seq(id)?;
        let now = self.now_ms();
        let name = name.to_string();
        self.write_locking(Some(seq), move |tx| fork(tx, seq, name, now))
            .map_err(|e| self.gone(id, e))
            .map(|row| describe(row, (0, 0)))
    }

    /// Creates a namespace holding `content`, in one transaction (see [`crate::fork`]): when a
    /// put is refused, no namespace is created.
    pub fn create_namespace_seeded(
        &self,
        new: NewNamespace,
        content: Vec<Put>,
    ) -> std::result::Result<Namespace, SeedError> {
        new.profile.check_namespace_name(&new.name)?;
        let now = self.now_ms();
        let refused = Refused::default();
        let keep = refused.clone();
        let row = self.write(move |tx| {
            let seq = insert_namespace(tx, new, now)?.seq;
            let mut change = Change::begin(tx, seq, now)?;
            change.put_each(content).map_err(|e| keep.keep(e))?;
            change.save()
        });
        refused.outcome(row, &Uuid::nil())
    }
}

/// The key of a refused put, kept aside while the error travels through the writer (whose jobs
/// fail with a plain [`StoreError`]), to name it in the [`SeedError`] the caller gets.
#[derive(Clone, Default)]
struct Refused(Arc<Mutex<Option<String>>>);

impl Refused {
    /// Keeps the key of `e`, if it names one; returns the store's error for the writer.
    fn keep(&self, e: SeedError) -> StoreError {
        match e {
            SeedError::Entry { key, source } => {
                *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(key);
                source
            }
            SeedError::Store(e) => e,
        }
    }

    /// The outcome of the write: a refused put named by its key, a missing namespace under the
    /// id the caller gave.
    fn outcome(
        self,
        row: Result<NamespaceRow>,
        id: &Uuid,
    ) -> std::result::Result<Namespace, SeedError> {
        let source = match row {
            Ok(row) => return Ok(describe(row, (0, 0))),
            Err(StoreError::NamespaceNotFound(_)) => StoreError::NamespaceNotFound(id.to_string()),
            Err(e) => e,
        };
        match self.0.lock().unwrap_or_else(|e| e.into_inner()).take() {
            Some(key) => Err(SeedError::Entry { key, source }),
            None => Err(SeedError::Store(source)),
        }
    }
}

/// Writes the fork of namespace `seq` named `name`: a new row, then the live entries, page by
/// page, then its counters.
fn fork(tx: &mut dyn WriteTx, seq: i64, name: String, now: i64) -> Result<NamespaceRow> {
    // Read inside the writer's transaction: on PostgreSQL this locks the source's row, so no
    // write to it commits while it is copied.
    let source = tx
        .namespace(NamespaceKey::Seq(seq))?
        .ok_or_else(|| StoreError::NamespaceNotFound(seq.to_string()))?;
    if source.status != NamespaceStatus::Ready {
        return Err(StoreError::NamespaceNotReady {
            id: source.id.to_string(),
            status: source.status.to_string(),
        });
    }
    source.profile.check_namespace_name(&name)?;
    let new = NewNamespace {
        name,
        profile: source.profile,
        ttl_enabled: source.ttl_enabled,
        comment: source.comment.clone(),
        overrides: source.overrides.clone(),
    };
    let mut row = insert_namespace(tx, new, now)?;
    row.version = source.version;
    let mut after: Option<Vec<u8>> = None;
    while let Some(page) = entry_page(&*tx, seq, after.as_deref(), now)? {
        after = page.last().map(|e| e.key.as_bytes().to_vec());
        tx.insert_entries(row.seq, &page)?;
        row.item_count += page.len() as u64;
        row.total_bytes += page.iter().map(entry_bytes).sum::<u64>();
    }
    tx.update_namespace(&row)?;
    Ok(row)
}

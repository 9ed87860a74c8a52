//! A change to one namespace inside a write transaction: the rules applied in the order the services
//! apply them (namespace ready → key shapes → batch bounds → namespace If-Match → item sizes → entry
//! preconditions and missing keys → resulting store size), then the rows written and the namespace
//! version raised once.

use crate::entry::{BatchOp, Delete, MissingKeys, Precondition, Put, Stats, WriteOutcome};
use crate::error::{Result, SeedError, StorageError, StoreError};
use crate::etag::Etag;
use crate::namespace::{effective_limits, NamespaceStatus, NamespaceUpdate};
use crate::profile::{Limits, Profile};
use crate::storage::{EntryRow, NamespaceKey, NamespaceRow, WriteTx};

/// A put whose metadata and expiry have passed the rules.
struct CheckedPut {
    put: Put,
    metadata: Option<String>,
    expires_at_ms: Option<i64>,
}

enum CheckedOp {
    Put(CheckedPut),
    Delete(Delete),
}

pub(crate) struct Change<'t> {
    tx: &'t mut dyn WriteTx,
    namespace: NamespaceRow,
    profile: Profile,
    limits: Limits,
    now_ms: i64,
    changed: bool,
    existed: bool,
    purged: u64,
}

impl<'t> Change<'t> {
    /// Loads a ready namespace for changing its entries.
    pub fn begin(tx: &'t mut dyn WriteTx, seq: i64, now_ms: i64) -> Result<Change<'t>> {
        let change = Change::begin_any_status(tx, seq, now_ms)?;
        if change.namespace.status != NamespaceStatus::Ready {
            let namespace = &change.namespace;
            return Err(StoreError::NamespaceNotReady {
                id: namespace.id.to_string(),
                status: namespace.status.to_string(),
            });
        }
        Ok(change)
    }

    /// Loads a namespace for writing, whatever its status, and drops its expired rows so its
    /// counters are exact.
    pub fn begin_any_status(tx: &'t mut dyn WriteTx, seq: i64, now_ms: i64) -> Result<Change<'t>> {
        let namespace = tx
            .namespace(NamespaceKey::Seq(seq))?
            .ok_or_else(|| StoreError::NamespaceNotFound(seq.to_string()))?;
        let profile = namespace.profile;
        let limits = effective_limits(profile, namespace.ttl_enabled, &namespace.overrides);
        let (purged, bytes) = tx.purge_expired(seq, now_ms)?;
        let mut change = Change {
            tx,
            namespace,
            profile,
            limits,
            now_ms,
            changed: false,
            existed: false,
            purged,
        };
        change.namespace.item_count = change.namespace.item_count.saturating_sub(purged);
        change.namespace.total_bytes = change.namespace.total_bytes.saturating_sub(bytes);
        Ok(change)
    }

    /// How many expired rows `begin` dropped.
    pub fn purged(&self) -> u64 {
        self.purged
    }

    /// Applies operations, all or nothing (the caller rolls back on error). `batch` applies the
    /// profile's batch bounds.
    pub fn apply(
        &mut self,
        ops: Vec<BatchOp>,
        batch: bool,
        if_match: Option<&str>,
        missing: MissingKeys,
    ) -> Result<()> {
        for op in &ops {
            self.profile.check_key_shape(op_key(op), &self.limits)?;
        }
        let bytes = ops.iter().map(op_bytes).sum();
        if batch {
            self.limits.check_batch(ops.len(), bytes)?;
        }
        self.check_if_match(if_match)?;
        for op in &ops {
            if let Precondition::NamespaceEtag(etag) = op_precondition(op) {
                self.check_if_match(Some(etag))?;
            }
        }
        let checked = ops
            .into_iter()
            .map(|op| self.check_sizes(op))
            .collect::<Result<Vec<_>>>()?;
        let grew = checked.iter().any(|op| matches!(op, CheckedOp::Put(_)));
        for op in checked {
            match op {
                CheckedOp::Put(put) => self.put(put)?,
                CheckedOp::Delete(delete) => self.delete(delete, missing)?,
            }
        }
        if grew {
            self.limits.check_store_size(self.namespace.total_bytes)?;
        }
        Ok(())
    }

    /// Fails with `Conflict` unless `if_match` is absent or the current namespace ETag.
    pub fn check_if_match(&self, if_match: Option<&str>) -> Result<()> {
        let current = Etag::namespace(&self.namespace.id, self.namespace.version);
        match if_match {
            Some(sent) if !current.matches(sent) => Err(StoreError::Conflict {
                current: Some(current),
            }),
            _ => Ok(()),
        }
    }

    fn check_sizes(&self, op: BatchOp) -> Result<CheckedOp> {
        self.limits.check_key_size(op_key(&op))?;
        let BatchOp::Put(put) = op else {
            let BatchOp::Delete(delete) = op else {
                unreachable!("a batch op is a put or a delete")
            };
            return Ok(CheckedOp::Delete(delete));
        };
        self.limits.check_value(put.value.len())?;
        let metadata = self.limits.check_metadata(put.metadata.as_deref())?;
        self.limits
            .check_content_type(put.content_type.as_deref())?;
        let expires_at_ms = put.expiry.resolve(self.limits.expiry, self.now_ms)?;
        Ok(CheckedOp::Put(CheckedPut {
            put,
            metadata,
            expires_at_ms,
        }))
    }

    /// Checks an entry precondition against the stored entry; returns that entry's size if it exists.
    fn check_entry(&self, key: &str, precondition: &Precondition) -> Result<Option<u64>> {
        let head = self.tx.entry_head(self.namespace.seq, key)?;
        let current = head.map(|h| Etag::entry(&self.namespace.id, h.version));
        let holds = match precondition {
            Precondition::EntryEtag(sent) => current.as_ref().is_some_and(|c| c.matches(sent)),
            Precondition::Absent => head.is_none(),
            Precondition::None | Precondition::NamespaceEtag(_) => true,
        };
        if !holds {
            return Err(StoreError::Conflict { current });
        }
        Ok(head.map(|h| h.size))
    }

    fn put(&mut self, checked: CheckedPut) -> Result<()> {
        let CheckedPut {
            put,
            metadata,
            expires_at_ms,
        } = checked;
        let old_size = self.check_entry(&put.key, &put.precondition)?;
        let new_size = (put.key.len() + put.value.len()) as u64;
        let row = EntryRow {
            key: put.key,
            value: put.value,
            metadata,
            content_type: put.content_type,
            expires_at_ms,
            version: self.namespace.version + 1,
            modified_at_ms: self.now_ms,
        };
        self.tx.upsert_entry(self.namespace.seq, &row)?;
        self.namespace.total_bytes = self.namespace.total_bytes - old_size.unwrap_or(0) + new_size;
        match old_size {
            Some(_) => self.existed = true,
            None => self.namespace.item_count += 1,
        }
        self.changed = true;
        Ok(())
    }

    fn delete(&mut self, delete: Delete, missing: MissingKeys) -> Result<()> {
        let Some(old_size) = self.check_entry(&delete.key, &delete.precondition)? else {
            return match missing {
                MissingKeys::Ignore => Ok(()),
                MissingKeys::Fail => Err(StoreError::KeyNotFound(delete.key)),
            };
        };
        self.tx.delete_entry(self.namespace.seq, &delete.key)?;
        self.namespace.item_count -= 1;
        self.namespace.total_bytes -= old_size;
        self.existed = true;
        self.changed = true;
        Ok(())
    }

    /// Renames the namespace or changes its comment or status, raising its version.
    pub fn update(mut self, update: NamespaceUpdate, now_ms: i64) -> Result<NamespaceRow> {
        if let Some(name) = update.name.filter(|n| *n != self.namespace.name) {
            self.profile.check_namespace_name(&name)?;
            if self.tx.namespace(NamespaceKey::Name(&name))?.is_some() {
                return Err(StoreError::NamespaceExists(name));
            }
            self.namespace.name = name;
        }
        if let Some(comment) = update.comment {
            self.namespace.comment = comment;
        }
        if let Some(status) = update.status {
            self.namespace.status = status;
        }
        if let Some(ttl_enabled) = update.ttl_enabled {
            self.namespace.ttl_enabled = ttl_enabled;
        }
        if let Some(overrides) = update.overrides {
            self.namespace.overrides = overrides;
        }
        self.namespace.version += 1;
        self.namespace.modified_at_ms = now_ms;
        match self.tx.update_namespace(&self.namespace) {
            Err(StorageError::NameTaken(name)) => Err(StoreError::NamespaceExists(name)),
            updated => Ok(updated.map(|()| self.namespace)?),
        }
    }

    /// Deletes the namespace with all its entries.
    pub fn delete_namespace(self) -> Result<()> {
        Ok(self.tx.delete_namespace(self.namespace.seq)?)
    }

    /// Saves the counters after `begin`'s purge, without a new version (expiry is not a mutation).
    pub fn save_counters(self) -> Result<()> {
        Ok(self.tx.update_namespace(&self.namespace)?)
    }

    /// Deletes every entry of the namespace: a change even when it held none, so the version
    /// rises and no ETag issued before matches again.
    pub fn clear(&mut self) -> Result<()> {
        self.tx.delete_entries(self.namespace.seq)?;
        self.namespace.item_count = 0;
        self.namespace.total_bytes = 0;
        self.changed = true;
        Ok(())
    }

    /// Writes puts one at a time, each under every rule of [`Change::apply`] (no batch bounds);
    /// a put that fails is named by its key (the caller rolls back).
    pub fn put_each(&mut self, puts: Vec<Put>) -> Result<(), SeedError> {
        for put in puts {
            let key = put.key.clone();
            self.apply(vec![BatchOp::Put(put)], false, None, MissingKeys::Ignore)
                .map_err(|source| SeedError::Entry { key, source })?;
        }
        Ok(())
    }

    /// Raises the namespace version (once, and only if something changed) and saves its counters.
    pub fn finish(self) -> Result<WriteOutcome> {
        let (changed, existed) = (self.changed, self.existed);
        let namespace = self.save()?;
        let etag = changed.then(|| Etag::entry(&namespace.id, namespace.version));
        Ok(WriteOutcome {
            existed,
            etag,
            namespace_etag: Etag::namespace(&namespace.id, namespace.version),
            stats: Stats {
                item_count: namespace.item_count,
                total_bytes: namespace.total_bytes,
            },
        })
    }

    /// [`Change::finish`], returning the namespace row as saved.
    pub fn save(mut self) -> Result<NamespaceRow> {
        if self.changed {
            self.namespace.version += 1;
            self.namespace.modified_at_ms = self.now_ms;
        }
        self.tx.update_namespace(&self.namespace)?;
        Ok(self.namespace)
    }
}

fn op_key(op: &BatchOp) -> &str {
    match op {
        BatchOp::Put(p) => &p.key,
        BatchOp::Delete(d) => &d.key,
    }
}

fn op_precondition(op: &BatchOp) -> &Precondition {
    match op {
        BatchOp::Put(p) => &p.precondition,
        BatchOp::Delete(d) => &d.precondition,
    }
}

fn op_bytes(op: &BatchOp) -> u64 {
    match op {
        BatchOp::Put(p) => {
            (p.key.len() + p.value.len() + p.metadata.as_ref().map_or(0, String::len)) as u64
        }
        BatchOp::Delete(d) => d.key.len() as u64,
    }
}

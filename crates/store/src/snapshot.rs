//! Snapshots: the whole store, as one commit left it, in one SQLite store file
//! ([`Store::snapshot_to`]), and a store brought back to what such a file holds
//! ([`Store::restore_from`]). What `edgekv kv snapshot`/`kv restore` and the admin API's named
//! snapshots run.
//!
//! # Taking one
//!
//! A snapshot file is a normal edgekv SQLite store (openable as a data dir's store or with
//! `--store`), in rollback-journal mode, so it is one self-contained file. It is written to a
//! temporary file beside the destination, synced, and renamed into place: a snapshot that fails
//! leaves no file, and a reader of the destination sees the old file or the whole new one.
//!
//! - On SQLite it is SQLite's online backup in one step ([`Storage::backup_to`]): every page is
//!   read inside one read transaction, so the file is the database as one commit left it, every
//!   row included (expired ones not yet swept too); the writer keeps committing meanwhile.
//! - On PostgreSQL every namespace and every live entry is read in one `REPEATABLE READ`
//!   snapshot ([`Storage::snapshot`]) and written into a new SQLite file in one transaction: also
//!   one committed state of the whole database, as of the snapshot's start. Entries expired then
//!   are left out, and each namespace's counters are those of the entries written.
//!
//! # Restoring one
//!
//! A restore replaces every namespace and every entry of the store with the file's, in one
//! transaction of the store's writer: every read that starts after it returns sees the restored
//! data, and none sees part of it. A namespace present both in the store and in the file (same
//! id, profile and creation time) keeps its internal sequence number, so requests already
//! resolving it read the restored rows; the others are deleted or created. Entries expired at the
//! restore (on the store's clock) are left out, and the counters are recounted.
//!
//! Versions only grow: every restored namespace's version, and every restored entry's, is raised
//! by one more than the highest namespace version the store held before the restore. So an ETag
//! issued before the restore (by a namespace present then) names no restored namespace or entry,
//! and a write conditional on it fails its precondition. (A namespace deleted before the restore
//! left no version behind; an ETag of it is above nothing the store keeps.)
//!
//! The file is read only: restoring it leaves it as it was, and it can be restored again.
//!
//! Another process on the same data (a node on the same PostgreSQL database) keeps its own
//! id -> `seq` cache. A namespace the restore brought back under a new `seq` (one the store did
//! not hold, or held with another profile or creation time) is looked up again there when its
//! cached `seq` names nothing: a read runs once more on the new `seq`; a write fails as not found
//! and the next one finds it. Namespaces kept across the restore read the restored data on every
//! node at once.
//!
//! [`Storage::backup_to`]: crate::storage::Storage::backup_to
//! [`Storage::snapshot`]: crate::storage::Storage::snapshot

use crate::copy::{entry_bytes, entry_page};
use crate::error::{StorageError, StoreError};
use crate::storage::{NamespaceKey, NamespaceRow, ReadTx, WriteTx};
use crate::{sqlite, NamespaceOrder, NamespaceQuery, Store, Uuid};
use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a snapshot or a restore failed. Nothing was written: a failed snapshot leaves no file, a
/// failed restore leaves the store as it was.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file to restore is missing, or is not an edgekv store this build reads.
    #[error("{}: not an edgekv store file: {why}", .path.display())]
    NotAStore {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// Writing the snapshot file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file being written.
        path: PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<StorageError> for SnapshotError {
    fn from(e: StorageError) -> Self {
        SnapshotError::Store(e.into())
    }
}

/// What a restore brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// Namespaces.
    pub namespaces: u64,
    /// Live entries.
    pub keys: u64,
    /// How much every restored version was raised by.
    pub raised_by: i64,
}

impl Store {
    /// Writes the whole store, as one commit left it, to a SQLite store file at `path`, replacing
    /// any file there only once the copy is whole (see [`crate::snapshot`]). Other calls on the
    /// store go on meanwhile.
    pub fn snapshot_to(&self, path: &Path) -> Result<(), SnapshotError> {
        let temporary = Temporary::create(path)?;
        if !self.inner.storage.backup_to(&temporary.path)? {
            self.copy_rows_to(&temporary.path)?;
        }
        temporary.persist(path)
    }

    /// Replaces every namespace and entry of the store with those of the snapshot file at `path`,
    /// in one transaction, every version raised above those the store held (see
    /// [`crate::snapshot`]).
    pub fn restore_from(&self, path: &Path) -> Result<Restored, SnapshotError> {
        let not_a_store = |why| SnapshotError::NotAStore {
            path: path.to_path_buf(),
            why,
        };
        if !path.is_file() {
            return Err(not_a_store("no such file".into()));
        }
        drop(sqlite::open_store_file(path).map_err(not_a_store)?);
        let source = path.to_path_buf();
        let now = self.now_ms();
        let restored = self.write(move |tx| {
            let source = sqlite::open_store_file(&source)
                .map_err(|why| StorageError::Corrupt(format!("{}: {why}", source.display())))?;
            // One read transaction: the file is read as one state, however long the restore.
            source.execute_batch("BEGIN").map_err(StorageError::from)?;
            let restored = replace_all(&source, tx, now);
            let _ = source.execute_batch("COMMIT");
            restored
        });
        // Sequence numbers of deleted namespaces are gone for good; ids restored under new ones
        // are looked up again.
        self.inner
            .seqs
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        Ok(restored?)
    }

    /// Copies every namespace and live entry, read from one snapshot of this store, into a new
    /// SQLite store file at `path`, in one transaction.
    fn copy_rows_to(&self, path: &Path) -> Result<(), SnapshotError> {
        let now = self.now_ms();
        let mut dest = sqlite::create_store_file(path)?;
        dest.execute_batch("BEGIN").map_err(StorageError::from)?;
        self.inner.storage.snapshot(&mut |source| {
            for row in namespace_rows(source)? {
                let mut copy = row.clone();
                copy.item_count = 0;
                copy.total_bytes = 0;
                copy.seq = WriteTx::insert_namespace(&mut dest, &copy)?
                    .ok_or_else(|| StoreError::NamespaceExists(copy.name.clone()))?;
                (copy.item_count, copy.total_bytes) =
                    copy_entries(source, row.seq, &mut dest, copy.seq, 0, now)?;
                WriteTx::update_namespace(&mut dest, &copy)?;
            }
            Ok(())
        })?;
        dest.execute_batch("COMMIT").map_err(StorageError::from)?;
        dest.close().map_err(|(_, e)| StorageError::from(e))?;
        Ok(())
    }
}

/// Replaces every namespace and entry `tx` holds with those `source` holds, as of `now_ms`.
fn replace_all(
    source: &dyn ReadTx,
    tx: &mut dyn WriteTx,
    now_ms: i64,
) -> Result<Restored, StoreError> {
    let incoming = namespace_rows(source)?;
    let restored: HashMap<Uuid, &NamespaceRow> = incoming.iter().map(|n| (n.id, n)).collect();
    let mut highest = 0;
    let mut kept = HashMap::new();
    for present in namespace_rows(tx)? {
        // Read again by seq: in the writer that locks the row (PostgreSQL), so no other node
        // raises its version past `highest` before this commits.
        let Some(row) = tx.namespace(NamespaceKey::Seq(present.seq))? else {
            continue;
        };
        highest = highest.max(row.version);
        let same = restored
            .get(&row.id)
            .is_some_and(|n| n.profile == row.profile && n.created_at_ms == row.created_at_ms);
        if same {
            tx.delete_entries(row.seq)?;
            // Out of the way of the restored names until its own is written.
            let mut parked = row.clone();
            parked.name = format!("\u{1}restoring {}", row.id);
            tx.update_namespace(&parked)?;
            kept.insert(row.id, row.seq);
        } else {
            tx.delete_namespace(row.seq)?;
        }
    }
    let raise = highest + 1;
    let mut keys = 0;
    for row in &incoming {
        let mut new = row.clone();
        new.version += raise;
        new.item_count = 0;
        new.total_bytes = 0;
        new.seq = match kept.get(&row.id) {
            Some(seq) => *seq,
            None => tx
                .insert_namespace(&new)?
                .ok_or_else(|| StoreError::NamespaceExists(new.name.clone()))?,
        };
        (new.item_count, new.total_bytes) =
            copy_entries(source, row.seq, tx, new.seq, raise, now_ms)?;
        keys += new.item_count;
        tx.update_namespace(&new)?;
    }
    Ok(Restored {
        namespaces: incoming.len() as u64,
        keys,
        raised_by: raise,
    })
}

/// Every namespace row `tx` holds, in `seq` order.
fn namespace_rows<T: ReadTx + ?Sized>(tx: &T) -> Result<Vec<NamespaceRow>, StoreError> {
    let query = NamespaceQuery {
        order: NamespaceOrder::Created,
        limit: i64::MAX as u64,
        ..NamespaceQuery::default()
    };
    Ok(tx.namespaces(&query)?.0)
}

/// Copies the entries of namespace `from` live at `now_ms` in `source` into namespace `to` in
/// `dest`, in bounded pages, each version raised by `raise`; returns their count and key + value
/// bytes.
fn copy_entries(
    source: &dyn ReadTx,
    from: i64,
    dest: &mut dyn WriteTx,
    to: i64,
    raise: i64,
    now_ms: i64,
) -> Result<(u64, u64), StoreError> {
    let (mut items, mut bytes) = (0u64, 0u64);
    let mut after: Option<Vec<u8>> = None;
    while let Some(mut page) = entry_page(source, from, after.as_deref(), now_ms)? {
        after = page.last().map(|e| e.key.as_bytes().to_vec());
        for entry in &mut page {
            entry.version += raise;
        }
        items += page.len() as u64;
        bytes += page.iter().map(entry_bytes).sum::<u64>();
        dest.insert_entries(to, &page)?;
    }
    Ok((items, bytes))
}

/// A file beside a snapshot's destination that becomes it once whole; removed if dropped before.
struct Temporary {
    path: PathBuf,
    /// Renamed into place: nothing to remove.
    persisted: bool,
}

impl Temporary {
    /// Creates an empty file, readable by its owner only (it will hold every namespace's data).
    fn create(dest: &Path) -> Result<Temporary, SnapshotError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = dest.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = format!(
            ".{}.{}-{}.tmp",
            name.unwrap_or_else(|| "snapshot".into()),
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let path = dest.with_file_name(name);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options.open(&path).map_err(|source| SnapshotError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Temporary {
            path,
            persisted: false,
        })
    }

    /// Syncs the file and renames it to `dest`, then syncs the directory so the rename lasts.
    fn persist(mut self, dest: &Path) -> Result<(), SnapshotError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SnapshotError::Io { path, source }
        };
        File::open(&self.path)
            .and_then(|f| f.sync_all())
            .map_err(io(&self.path))?;
        std::fs::rename(&self.path, dest).map_err(io(dest))?;
        self.persisted = true;
        #[cfg(unix)]
        if let Some(dir) = dest.parent() {
            let dir = if dir.as_os_str().is_empty() {
                Path::new(".")
            } else {
                dir
            };
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io(dir))?;
        }
        Ok(())
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if self.persisted {
            return;
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

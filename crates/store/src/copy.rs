//! Copying every namespace of one store into another, whatever their backends: what
//! `edgekv kv copy --to URL` runs, e.g. from a laptop's SQLite file into a team's PostgreSQL
//! database and back ([`Store::copy_to`]).
//!
//! # What is copied
//!
//! Every namespace, with the same id, name, profile, TTL support, status, comment, limit
//! overrides, version and creation and modification times; and every entry live at the copy's
//! start (on the source's clock), with the same key, value bytes, metadata, content type, expiry,
//! version and modification time. So every namespace ETag and every entry ETag is the same in the
//! destination. An entry already expired is not copied (no read could see it), and the copied
//! namespace's item count and size are those of the entries copied. The profiles' rules are not
//! checked again: the rows were valid where they were, and are written exactly as read.
//!
//! # What is refused
//!
//! Before anything is written: a destination that is the source itself (the same file, or the same
//! schema of the same database: [`Storage::identity`](crate::storage::Storage::identity)), and a
//! destination that already holds a namespace with the id or the name of one being copied. Each
//! namespace's transaction checks that again, in case another writer created one meanwhile.
//!
//! # Nothing half-written
//!
//! Each namespace is read from one snapshot of the source ([`Storage::snapshot`]) and written in
//! one transaction of the destination (a job of its writer, as every write is): its row, its
//! entries, then its counters. A copy that fails or is interrupted leaves in the destination the
//! namespaces it finished, whole, and nothing of the one it was writing. Entries flow from the
//! reader to the writer in pages of at most [`PAGE_KEYS`] keys and [`PAGE_BYTES`] bytes of keys
//! and values (an entry larger than that is a page of its own), at most [`PAGES_IN_FLIGHT`] pages
//! at a time, so a copy holds a few pages in memory, never a namespace.
//!
//! # Verification: count and checksum
//!
//! The copy digests what it read from the source as it copies; then it reads the copied
//! namespaces back from the destination and digests them the same way ([`Checksum`]). Both sides
//! count namespaces and keys. [`CopyReport::verified`] says whether the two agree.
//!
//! [`Storage::snapshot`]: crate::storage::Storage::snapshot

use crate::error::{StorageError, StoreError};
use crate::storage::{
    encode_overrides, EntryRow, KeyRange, NamespaceKey, NamespaceRow, ReadTx, WriteTx,
};
use crate::{NamespaceOrder, NamespaceQuery, Store, Uuid};
use sha2::{Digest as _, Sha256};
use std::fmt;
use std::sync::mpsc::{sync_channel, Receiver};

/// The most entries one page carries from the source to the destination.
pub const PAGE_KEYS: u64 = 1000;
/// The most key + value bytes one page carries (unless one entry alone is larger).
pub const PAGE_BYTES: u64 = 4 << 20;
/// The most pages read from the source and not yet written to the destination.
pub const PAGES_IN_FLIGHT: usize = 2;

/// Why a copy was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The destination is the source itself.
    #[error("the source and the destination are the same store")]
    SameStore,
    /// The destination already holds namespaces with the id or name of ones being copied; nothing
    /// was written.
    #[error("the destination already holds {}", list(.0))]
    Clash(Vec<Clash>),
    /// The source or the destination failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn list(clashes: &[Clash]) -> String {
    let shown: Vec<String> = clashes.iter().map(Clash::to_string).collect();
    shown.join("; ")
}

impl From<StorageError> for CopyError {
    fn from(e: StorageError) -> Self {
        CopyError::Store(e.into())
    }
}

/// A namespace of the destination in the way of one being copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clash {
    /// The namespace being copied: its id and name.
    pub copied: (Uuid, String),
    /// The destination's namespace with the same id or the same name: its id and name.
    pub existing: (Uuid, String),
}

impl fmt::Display for Clash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let same = if self.copied.0 == self.existing.0 {
            "id"
        } else {
            "name"
        };
        write!(
            f,
            "a namespace {:?} ({}) with the {same} of the source's {:?} ({})",
            self.existing.1, self.existing.0, self.copied.1, self.copied.0
        )
    }
}

/// One namespace copied, as [`Store::copy_to`] reports it when its transaction has committed.
#[derive(Debug, Clone)]
pub struct CopiedNamespace {
    /// Its id, the same in both stores.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The entries copied.
    pub keys: u64,
    /// Their key + value bytes.
    pub bytes: u64,
}

/// What one side of a copy holds of the copied namespaces: counts and checksum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Namespaces.
    pub namespaces: u64,
    /// Live entries.
    pub keys: u64,
    /// SHA-256 of the namespaces and their entries ([`Checksum`]).
    pub checksum: Digest,
}

/// The outcome of [`Store::copy_to`]: what was read from the source and what the destination
/// holds afterwards.
#[derive(Debug, Clone)]
pub struct CopyReport {
    /// What was copied, as read from the source.
    pub source: Summary,
    /// The copied namespaces as read back from the destination.
    pub destination: Summary,
}

impl CopyReport {
    /// Whether the destination holds exactly what was read from the source.
    pub fn verified(&self) -> bool {
        self.source == self.destination
    }
}

/// A SHA-256 digest, shown as `sha256:` and 64 hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sha256:")?;
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

/// The checksum of a set of namespaces: SHA-256 over a canonical encoding that does not depend
/// on the backend, so a SQLite store and a PostgreSQL store holding the same data agree.
///
/// The encoding: the text `edgekv copy v1`, then each namespace in the order of its id's 16
/// bytes, each as
///
/// - `N`, the id's 16 bytes, name, profile, TTL support, status, comment, limit overrides (as
///   stored: JSON of every override field), version, created at, modified at;
/// - for each live entry in the byte order of its key: `E`, key, value, metadata, content type,
///   expires at, version, modified at;
/// - `C`, the namespace's item count and its key + value bytes.
///
/// where text and bytes are a length (8 bytes, big-endian) and the bytes, integers 8 bytes
/// big-endian (two's complement), a flag one byte (0 or 1), and an absent optional field the byte
/// 0 where a present one is the byte 1 and the field. Times are unix milliseconds.
pub struct Checksum {
    hash: Sha256,
    namespaces: u64,
    keys: u64,
}

impl Default for Checksum {
    fn default() -> Self {
        let mut checksum = Checksum {
            hash: Sha256::new(),
            namespaces: 0,
            keys: 0,
        };
        checksum.bytes(b"edgekv copy v1");
        checksum
    }
}

impl Checksum {
    /// Begins a namespace.
    pub fn namespace(&mut self, row: &NamespaceRow) {
        self.namespaces += 1;
        self.hash.update(b"N");
        self.hash.update(row.id.as_bytes());
        self.bytes(row.name.as_bytes());
        self.bytes(row.profile.as_str().as_bytes());
        self.hash.update([u8::from(row.ttl_enabled)]);
        self.bytes(row.status.as_str().as_bytes());
        self.optional(row.comment.as_deref().map(str::as_bytes));
        self.bytes(encode_overrides(&row.overrides).as_bytes());
        self.int(row.version);
        self.int(row.created_at_ms);
        self.int(row.modified_at_ms);
    }

    /// One entry of the namespace begun last.
    pub fn entry(&mut self, e: &EntryRow) {
        self.keys += 1;
        self.hash.update(b"E");
        self.bytes(e.key.as_bytes());
        self.bytes(&e.value);
        self.optional(e.metadata.as_deref().map(str::as_bytes));
        self.optional(e.content_type.as_deref().map(str::as_bytes));
        match e.expires_at_ms {
            None => self.hash.update([0]),
            Some(at) => {
                self.hash.update([1]);
                self.int(at);
            }
        }
        self.int(e.version);
        self.int(e.modified_at_ms);
    }

    /// Ends the namespace begun last with its item count and key + value bytes.
    pub fn counters(&mut self, items: u64, bytes: u64) {
        self.hash.update(b"C");
        self.hash.update(items.to_be_bytes());
        self.hash.update(bytes.to_be_bytes());
    }

    /// The counts and the digest.
    pub fn finish(self) -> Summary {
        Summary {
            namespaces: self.namespaces,
            keys: self.keys,
            checksum: Digest(self.hash.finalize().into()),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.hash.update((bytes.len() as u64).to_be_bytes());
        self.hash.update(bytes);
    }

    fn optional(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            None => self.hash.update([0]),
            Some(bytes) => {
                self.hash.update([1]);
                self.bytes(bytes);
            }
        }
    }

    fn int(&mut self, n: i64) {
        self.hash.update(n.to_be_bytes());
    }
}

/// A namespace as it is read out of a store, in order: its row, pages of its live entries, then
/// its item count and key + value bytes as the store counts them.
enum Part {
    Namespace(NamespaceRow),
    Entries(Vec<EntryRow>),
    Counters(u64, u64),
    /// The read failed; nothing follows.
    Failed(StoreError),
}

/// How one namespace's transaction ended in the destination.
enum Landing {
    /// Copied.
    Copied(CopiedNamespace),
    /// The destination holds a namespace with its id or name; nothing was written.
    Clash(Clash),
    /// The namespace was deleted from the source before it could be read.
    Gone,
}

impl Store {
    /// Copies every namespace of this store, and every entry live now (on this store's clock),
    /// into `to`, then reads them back from `to` and digests both sides (see [`crate::copy`]: what
    /// is copied, what is refused, the checksum). `on_copied` is told of each
    /// namespace as its transaction commits. Refused, with nothing written, when `to` is this
    /// store or holds a namespace with the id or name of one of this store's.
    pub fn copy_to(
        &self,
        to: &Store,
        on_copied: &mut dyn FnMut(&CopiedNamespace),
    ) -> Result<CopyReport, CopyError> {
        if self.inner.storage.identity()? == to.inner.storage.identity()? {
            return Err(CopyError::SameStore);
        }
        let now = self.now_ms();
        let namespaces = all_namespaces(self)?;
        let clashes = clashes(&namespaces, &all_namespaces(to)?);
        if !clashes.is_empty() {
            return Err(CopyError::Clash(clashes));
        }
        let mut source = Checksum::default();
        let mut copied = Vec::new();
        for row in &namespaces {
            if let Some(namespace) = copy_namespace(self, to, &row.id, now, &mut source)? {
                on_copied(&namespace);
                copied.push(namespace.id);
            }
        }
        let mut destination = Checksum::default();
        for id in &copied {
            let found = read_namespace(to, id, now, &mut |part| {
                digest(&mut destination, &part, None);
                Ok(())
            })?;
            if !found {
                return Err(StoreError::NamespaceNotFound(id.to_string()).into());
            }
        }
        Ok(CopyReport {
            source: source.finish(),
            destination: destination.finish(),
        })
    }
}

/// Every namespace row of `store`, in the order of their ids' bytes (the checksum's order).
fn all_namespaces(store: &Store) -> Result<Vec<NamespaceRow>, StoreError> {
    let query = NamespaceQuery {
        order: NamespaceOrder::Id,
        limit: i64::MAX as u64,
        ..NamespaceQuery::default()
    };
    let mut rows = store.read(|tx| Ok(tx.namespaces(&query)?.0))?;
    rows.sort_by_key(|row| row.id);
    Ok(rows)
}

/// The destination's namespaces in the way of the copied ones.
fn clashes(copied: &[NamespaceRow], destination: &[NamespaceRow]) -> Vec<Clash> {
    copied
        .iter()
        .flat_map(|c| {
            destination
                .iter()
                .filter(|d| d.id == c.id || d.name == c.name)
                .map(|d| Clash {
                    copied: (c.id, c.name.clone()),
                    existing: (d.id, d.name.clone()),
                })
        })
        .collect()
}

/// Adds a part to the checksum; `copied` replaces the counters a store reports with those of the
/// entries copied (the source's side: the counters the destination is given).
fn digest(checksum: &mut Checksum, part: &Part, copied: Option<(u64, u64)>) {
    match part {
        Part::Namespace(row) => checksum.namespace(row),
        Part::Entries(rows) => rows.iter().for_each(|e| checksum.entry(e)),
        Part::Counters(items, bytes) => {
            let (items, bytes) = copied.unwrap_or((*items, *bytes));
            checksum.counters(items, bytes)
        }
        Part::Failed(_) => {}
    }
}

/// Copies namespace `id` from `from` into `to`: read from one snapshot on a thread of its own,
/// written in one transaction of `to`'s writer as the pages arrive. `None` if it was deleted from
/// `from` meanwhile.
fn copy_namespace(
    from: &Store,
    to: &Store,
    id: &Uuid,
    now_ms: i64,
    checksum: &mut Checksum,
) -> Result<Option<CopiedNamespace>, CopyError> {
    let (pages, incoming) = sync_channel::<Part>(PAGES_IN_FLIGHT);
    std::thread::scope(|scope| {
        scope.spawn(move || {
            let (mut items, mut bytes) = (0u64, 0u64);
            let read = read_namespace(from, id, now_ms, &mut |part| {
                if let Part::Entries(rows) = &part {
                    items += rows.len() as u64;
                    bytes += rows.iter().map(entry_bytes).sum::<u64>();
                }
                // A namespace whose transaction fails is not counted: the whole copy fails.
                digest(checksum, &part, Some((items, bytes)));
                pages.send(part).map_err(|_| StoreError::Closed)
            });
            if let Err(e) = read {
                let _ = pages.send(Part::Failed(e));
            }
        });
        let landed = to.write(move |tx| land(tx, &incoming))?;
        match landed {
            Landing::Copied(copied) => Ok(Some(copied)),
            Landing::Clash(clash) => Err(CopyError::Clash(vec![clash])),
            Landing::Gone => Ok(None),
        }
    })
}

/// Writes one namespace as its parts arrive, inside the destination's write transaction.
fn land(tx: &mut dyn WriteTx, incoming: &Receiver<Part>) -> crate::Result<Landing> {
    let mut row = match incoming.recv() {
        Ok(Part::Namespace(row)) => row,
        Ok(Part::Failed(e)) => return Err(e),
        // The reader found no such namespace.
        Err(_) => return Ok(Landing::Gone),
        Ok(_) => return Err(StoreError::Closed),
    };
    row.item_count = 0;
    row.total_bytes = 0;
    let taken = match tx.namespace(NamespaceKey::Id(&row.id))? {
        Some(existing) => Some(existing),
        None => match tx.insert_namespace(&row)? {
            Some(seq) => {
                row.seq = seq;
                None
            }
            // The insert yields to the destination's namespace of that name, made before the
            // copy looked or by another writer since.
            None => Some(
                tx.namespace(NamespaceKey::Name(&row.name))?
                    .ok_or_else(|| StoreError::NamespaceExists(row.name.clone()))?,
            ),
        },
    };
    if let Some(existing) = taken {
        return Ok(Landing::Clash(Clash {
            copied: (row.id, row.name),
            existing: (existing.id, existing.name),
        }));
    }
    loop {
        match incoming.recv() {
            Ok(Part::Entries(rows)) => {
                tx.insert_entries(row.seq, &rows)?;
                row.item_count += rows.len() as u64;
                row.total_bytes += rows.iter().map(entry_bytes).sum::<u64>();
            }
            Ok(Part::Counters(..)) => break,
            Ok(Part::Failed(e)) => return Err(e),
            Ok(Part::Namespace(_)) | Err(_) => return Err(StoreError::Closed),
        }
    }
    tx.update_namespace(&row)?;
    Ok(Landing::Copied(CopiedNamespace {
        id: row.id,
        name: row.name,
        keys: row.item_count,
        bytes: row.total_bytes,
    }))
}

/// Reads namespace `id` of `store` from one snapshot, as of `now_ms`, handing `sink` its row,
/// pages of its live entries in key order, and its counters. `false` if there is no such
/// namespace.
fn read_namespace(
    store: &Store,
    id: &Uuid,
    now_ms: i64,
    sink: &mut dyn FnMut(Part) -> Result<(), StoreError>,
) -> Result<bool, StoreError> {
    let mut found = false;
    store.inner.storage.snapshot(&mut |tx| {
        let Some(row) = tx.namespace(NamespaceKey::Id(id))? else {
            return Ok(());
        };
        found = true;
        let seq = row.seq;
        let (expired_items, expired_bytes) = tx.expired_stats(seq, now_ms)?;
        let counters = Part::Counters(
            row.item_count.saturating_sub(expired_items),
            row.total_bytes.saturating_sub(expired_bytes),
        );
        sink(Part::Namespace(row))?;
        let mut after: Option<Vec<u8>> = None;
        while let Some(page) = entry_page(tx, seq, after.as_deref(), now_ms)? {
            after = page.last().map(|e| e.key.as_bytes().to_vec());
            sink(Part::Entries(page))?;
        }
        sink(counters)
    })?;
    Ok(found)
}

/// The next page of live entries after `after`: as many as fit in [`PAGE_BYTES`] (at least one,
/// at most [`PAGE_KEYS`]), told from the keys' sizes before any value is read. `None` past the
/// last entry.
pub(crate) fn entry_page<T: ReadTx + ?Sized>(
    tx: &T,
    ns: i64,
    after: Option<&[u8]>,
    now_ms: i64,
) -> Result<Option<Vec<EntryRow>>, StoreError> {
    let range = KeyRange {
        after,
        start: b"",
        end: None,
    };
    let keys = tx.keys(ns, range, PAGE_KEYS, now_ms)?;
    let mut total = 0u64;
    let fit = keys
        .iter()
        .take_while(|k| {
            total = total.saturating_add(k.size);
            total <= PAGE_BYTES
        })
        .count()
        .max(1);
    if keys.is_empty() {
        return Ok(None);
    }
    let page = tx.entry_rows(ns, after, fit as u64, now_ms)?;
    Ok((!page.is_empty()).then_some(page))
}

pub(crate) fn entry_bytes(e: &EntryRow) -> u64 {
    (e.key.len() + e.value.len()) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{LimitOverrides, NamespaceStatus, Profile};

    fn row() -> NamespaceRow {
        NamespaceRow {
            seq: 7,
            id: Uuid::from_u128(1),
            name: "ns".into(),
            profile: Profile::Telnyx,
            ttl_enabled: true,
            status: NamespaceStatus::Ready,
            comment: None,
            overrides: LimitOverrides::default(),
            version: 3,
            item_count: 0,
            total_bytes: 0,
            created_at_ms: 1,
            modified_at_ms: 2,
        }
    }

    fn entry(key: &str, value: &[u8]) -> EntryRow {
        EntryRow {
            key: key.into(),
            value: value.to_vec(),
            metadata: None,
            content_type: None,
            expires_at_ms: None,
            version: 2,
            modified_at_ms: 2,
        }
    }

    fn sum(row: &NamespaceRow, entries: &[EntryRow]) -> Digest {
        let mut checksum = Checksum::default();
        checksum.namespace(row);
        entries.iter().for_each(|e| checksum.entry(e));
        checksum.counters(entries.len() as u64, 0);
        checksum.finish().checksum
    }

    #[test]
    fn every_field_and_every_boundary_changes_the_checksum() {
        let base = sum(&row(), &[entry("ab", b"c")]);
        assert_eq!(base, sum(&row(), &[entry("ab", b"c")]), "deterministic");
        // The same bytes split differently between key and value.
        assert_ne!(base, sum(&row(), &[entry("a", b"bc")]));
        let mut seq_only = row();
        seq_only.seq = 8;
        assert_eq!(
            base,
            sum(&seq_only, &[entry("ab", b"c")]),
            "seq is internal"
        );
        let changed: Vec<NamespaceRow> = vec![
            NamespaceRow {
                comment: Some(String::new()),
                ..row()
            },
            NamespaceRow {
                ttl_enabled: false,
                ..row()
            },
            NamespaceRow {
                version: 4,
                ..row()
            },
            NamespaceRow {
                status: NamespaceStatus::Deleting,
                ..row()
            },
            NamespaceRow {
                overrides: LimitOverrides {
                    max_key_bytes: Some(9),
                    ..LimitOverrides::default()
                },
                ..row()
            },
        ];
        for changed in changed {
            assert_ne!(base, sum(&changed, &[entry("ab", b"c")]), "{changed:?}");
        }
        let entries = [
            EntryRow {
                metadata: Some(String::new()),
                ..entry("ab", b"c")
            },
            EntryRow {
                content_type: Some("text/plain".into()),
                ..entry("ab", b"c")
            },
            EntryRow {
                expires_at_ms: Some(0),
                ..entry("ab", b"c")
            },
            EntryRow {
                version: 3,
                ..entry("ab", b"c")
            },
        ];
        for e in entries {
            assert_ne!(base, sum(&row(), std::slice::from_ref(&e)), "{e:?}");
        }
    }

    #[test]
    fn a_digest_is_shown_as_sha256_hex() {
        let shown = Digest([0xab; 32]).to_string();
        assert_eq!(shown, format!("sha256:{}", "ab".repeat(32)));
    }
}

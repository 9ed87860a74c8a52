//! The list cursors of both `wasi:keyvalue` versions ([`ListCursor`]): `0.2.0-draft2` hands guests
//! the store's own opaque keyset cursor (a string), `0.2.0-draft` a number (`option<u64>`) from the
//! app's table of store cursors ([`DraftCursors`]).
//!
//! # Scheme
//!
//! A `u64` cannot hold a key, and an offset into the listing skips or repeats keys when keys before
//! it are written or deleted between pages. So each page's store cursor (an opaque encoding of the
//! last key returned: paging never loses a key that exists through the scan) is kept in a table
//! shared by all instances of one app, and the guest gets its number:
//!
//! - numbers start at 1 and are never reused; `0` (what offset-based hosts use for "from the start")
//!   and `none` both mean the first page;
//! - a number belongs to the namespace it was listed in; used on another bucket it is refused;
//! - the table holds the most recent [`DraftCursors::DEFAULT_CAPACITY`] cursors of the app; an older
//!   (or made-up) number is refused with `other("other: unknown or expired list cursor N ...")`,
//!   never silently restarted or skipped, so a guest that gets a page always gets the right one;
//! - cursors live as long as the loaded app (a reload starts a new table). Because the table is per
//!   app and not per instance, a guest may hand a cursor to its client and continue in a later
//!   request.

use edgekv_store::Uuid;
use std::collections::BTreeMap;
use std::sync::Mutex;

/// A list cursor as one `wasi:keyvalue` version hands it to guests.
pub trait ListCursor: Sized {
    /// The store cursor to list namespace `namespace_id` from (`None`: the first page).
    fn resolve(
        cursor: Option<Self>,
        namespace_id: &Uuid,
        cursors: &DraftCursors,
    ) -> Result<Option<String>, CursorError>;

    /// The guest's cursor for `next`, the store cursor of the page after this one.
    fn remember(next: String, namespace_id: Uuid, cursors: &DraftCursors) -> Self;
}

/// `0.2.0-draft2`: the store's cursor itself.
impl ListCursor for String {
    fn resolve(
        cursor: Option<String>,
        _: &Uuid,
        _: &DraftCursors,
    ) -> Result<Option<String>, CursorError> {
        Ok(cursor)
    }

    fn remember(next: String, _: Uuid, _: &DraftCursors) -> String {
        next
    }
}

/// `0.2.0-draft`: the store cursor's number in the app's table.
impl ListCursor for u64 {
    fn resolve(
        cursor: Option<u64>,
        namespace_id: &Uuid,
        cursors: &DraftCursors,
    ) -> Result<Option<String>, CursorError> {
        cursors.resolve(namespace_id, cursor)
    }

    fn remember(next: String, namespace_id: Uuid, cursors: &DraftCursors) -> u64 {
        cursors.remember(namespace_id, next)
    }
}

/// Why a numeric cursor could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CursorError {
    #[error("unknown or expired list cursor {0}: start again from the first page")]
    Unknown(u64),
    #[error("list cursor {0} belongs to another bucket")]
    OtherBucket(u64),
}

/// One app's table of numeric cursors: number -> (namespace, store cursor).
#[derive(Debug)]
pub struct DraftCursors {
    capacity: usize,
    table: Mutex<Table>,
}

#[derive(Debug, Default)]
struct Table {
    /// The last number handed out.
    last: u64,
    /// Ordered by number, so the first is the oldest.
    cursors: BTreeMap<u64, (Uuid, String)>,
}

impl Default for DraftCursors {
    fn default() -> Self {
        DraftCursors::with_capacity(DraftCursors::DEFAULT_CAPACITY)
    }
}

impl DraftCursors {
    /// How many cursors an app keeps (a store cursor is at most ~700 bytes: a few MiB at worst).
    pub const DEFAULT_CAPACITY: usize = 4096;

    pub fn with_capacity(capacity: usize) -> Self {
        DraftCursors {
            capacity: capacity.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    /// Numbers the store cursor `cursor` of namespace `namespace_id`, evicting the oldest when full.
    pub fn remember(&self, namespace_id: Uuid, cursor: String) -> u64 {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.last += 1;
        let number = table.last;
        table.cursors.insert(number, (namespace_id, cursor));
        while table.cursors.len() > self.capacity {
            table.cursors.pop_first();
        }
        number
    }

    /// The store cursor to list namespace `namespace_id` from: `None` for the first page (`None`
    /// or `0`).
    pub fn resolve(
        &self,
        namespace_id: &Uuid,
        number: Option<u64>,
    ) -> Result<Option<String>, CursorError> {
        let number = match number {
            None | Some(0) => return Ok(None),
            Some(n) => n,
        };
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        match table.cursors.get(&number) {
            None => Err(CursorError::Unknown(number)),
            Some((owner, _)) if owner != namespace_id => Err(CursorError::OtherBucket(number)),
            Some((_, cursor)) => Ok(Some(cursor.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_and_zero_start_at_the_first_page() {
        let cursors = DraftCursors::default();
        let namespace_id = Uuid::new_v4();
        assert_eq!(cursors.resolve(&namespace_id, None), Ok(None));
        assert_eq!(cursors.resolve(&namespace_id, Some(0)), Ok(None));
    }

    #[test]
    fn numbers_resolve_to_their_store_cursor_and_can_be_reused() {
        let cursors = DraftCursors::default();
        let namespace_id = Uuid::new_v4();
        let a = cursors.remember(namespace_id, "YQ".into());
        let b = cursors.remember(namespace_id, "Yg".into());
        assert!(a >= 1 && b > a);
        assert_eq!(
            cursors.resolve(&namespace_id, Some(a)),
            Ok(Some("YQ".into()))
        );
        assert_eq!(
            cursors.resolve(&namespace_id, Some(b)),
            Ok(Some("Yg".into()))
        );
        assert_eq!(
            cursors.resolve(&namespace_id, Some(a)),
            Ok(Some("YQ".into()))
        );
    }

    #[test]
    fn unknown_foreign_and_evicted_numbers_are_refused() {
        let cursors = DraftCursors::with_capacity(2);
        let (namespace_id, other) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(
            cursors.resolve(&namespace_id, Some(7)),
            Err(CursorError::Unknown(7))
        );
        let a = cursors.remember(namespace_id, "a".into());
        assert_eq!(
            cursors.resolve(&other, Some(a)),
            Err(CursorError::OtherBucket(a))
        );
        let b = cursors.remember(namespace_id, "b".into());
        let c = cursors.remember(other, "c".into());
        assert_eq!(
            cursors.resolve(&namespace_id, Some(a)),
            Err(CursorError::Unknown(a))
        );
        assert_eq!(
            cursors.resolve(&namespace_id, Some(b)),
            Ok(Some("b".into()))
        );
        assert_eq!(cursors.resolve(&other, Some(c)), Ok(Some("c".into())));
        let d = cursors.remember(namespace_id, "d".into());
        assert!(d > c, "numbers are never reused");
    }
}

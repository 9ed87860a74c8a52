//! The numeric list cursor of `wasi:keyvalue@0.2.0-draft` (`option<u64>`), over the store's keyset
//! cursors.
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

    /// Numbers the store cursor `cursor` of namespace `ns`, evicting the oldest when full.
    pub fn remember(&self, ns: Uuid, cursor: String) -> u64 {
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        table.last += 1;
        let number = table.last;
        table.cursors.insert(number, (ns, cursor));
        while table.cursors.len() > self.capacity {
            table.cursors.pop_first();
        }
        number
    }

    /// The store cursor to list `ns` from: `None` for the first page (`None` or `0`).
    pub fn resolve(&self, ns: &Uuid, number: Option<u64>) -> Result<Option<String>, CursorError> {
        let number = match number {
            None | Some(0) => return Ok(None),
            Some(n) => n,
        };
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        match table.cursors.get(&number) {
            None => Err(CursorError::Unknown(number)),
            Some((owner, _)) if owner != ns => Err(CursorError::OtherBucket(number)),
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
        let ns = Uuid::new_v4();
        assert_eq!(cursors.resolve(&ns, None), Ok(None));
        assert_eq!(cursors.resolve(&ns, Some(0)), Ok(None));
    }

    #[test]
    fn numbers_resolve_to_their_store_cursor_and_can_be_reused() {
        let cursors = DraftCursors::default();
        let ns = Uuid::new_v4();
        let a = cursors.remember(ns, "YQ".into());
        let b = cursors.remember(ns, "Yg".into());
        assert!(a >= 1 && b > a);
        assert_eq!(cursors.resolve(&ns, Some(a)), Ok(Some("YQ".into())));
        assert_eq!(cursors.resolve(&ns, Some(b)), Ok(Some("Yg".into())));
        assert_eq!(cursors.resolve(&ns, Some(a)), Ok(Some("YQ".into())));
    }

    #[test]
    fn unknown_foreign_and_evicted_numbers_are_refused() {
        let cursors = DraftCursors::with_capacity(2);
        let (ns, other) = (Uuid::new_v4(), Uuid::new_v4());
        assert_eq!(cursors.resolve(&ns, Some(7)), Err(CursorError::Unknown(7)));
        let a = cursors.remember(ns, "a".into());
        assert_eq!(
            cursors.resolve(&other, Some(a)),
            Err(CursorError::OtherBucket(a))
        );
        let b = cursors.remember(ns, "b".into());
        let c = cursors.remember(other, "c".into());
        assert_eq!(cursors.resolve(&ns, Some(a)), Err(CursorError::Unknown(a)));
        assert_eq!(cursors.resolve(&ns, Some(b)), Ok(Some("b".into())));
        assert_eq!(cursors.resolve(&other, Some(c)), Ok(Some("c".into())));
        let d = cursors.remember(ns, "d".into());
        assert!(d > c, "numbers are never reused");
    }
}

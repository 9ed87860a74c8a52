//! Compare-and-swap for `wasi:keyvalue@0.2.0-draft2`, on entry ETags rather than value comparison
//! (no ABA: a deleted-then-recreated key never gets an old ETag back).
//!
//! `cas::new` reads the entry once and remembers its ETag, or that the key was absent; `current`
//! returns the value read then; `swap` writes the new value with that ETag (or "absent") as the
//! precondition. If anything wrote the key in between, nothing is written and the caller gets a
//! fresh handle read at the latest version, for the retry the standard asks for.

use super::bucket::Bucket;
use super::Failure;
use edgekv_store::{Precondition, Put, StoreError, Uuid};
use std::sync::Arc;

/// A compare-and-swap handle, as held in the guest's resource table: the key and the version of it
/// that was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cas {
    namespace_id: Uuid,
    /// The binding name of the bucket it was read from.
    binding: Arc<str>,
    key: String,
    /// The value read, `None` when the key was absent.
    current: Option<Vec<u8>>,
    /// The ETag of the entry read, `None` when the key was absent.
    etag: Option<String>,
}

impl Cas {
    /// The namespace the handle was read from.
    pub fn namespace_id(&self) -> Uuid {
        self.namespace_id
    }

    /// The binding name of the bucket the handle was read from.
    pub fn binding(&self) -> Arc<str> {
        self.binding.clone()
    }

    /// The value read when the handle was made.
    pub fn current(&self) -> Option<&[u8]> {
        self.current.as_deref()
    }

    /// The precondition the swap writes under.
    fn precondition(&self) -> Precondition {
        match &self.etag {
            Some(etag) => Precondition::EntryEtag(etag.clone()),
            None => Precondition::Absent,
        }
    }
}

/// What a swap did.
#[derive(Debug)]
pub enum Swap {
    Done,
    /// Someone wrote the key since the handle was read; nothing was written. Carries a handle read
    /// at the latest version.
    Stale(Cas),
}

impl Bucket {
    /// Reads `key` into a new handle.
    pub fn cas(&self, key: String) -> Result<Cas, Failure> {
        let (current, etag) = match self.entry(&key)? {
            Some(entry) => (Some(entry.value), Some(entry.etag.to_string())),
            None => (None, None),
        };
        Ok(Cas {
            namespace_id: self.namespace_id(),
            binding: self.binding().clone(),
            key,
            current,
            etag,
        })
    }

    /// Writes `value` if the key is still at the version `cas` read.
    pub async fn swap(self, cas: Cas, value: Vec<u8>) -> Result<Swap, Failure> {
        if cas.namespace_id != self.namespace_id() {
            return Err(Failure::other(
                "other",
                "the compare-and-swap handle belongs to another bucket",
            ));
        }
        let put = Put {
            precondition: cas.precondition(),
            ..Put::new(cas.key.clone(), value)
        };
        let reread = self.clone();
        let written = self
            .write("keyvalue.swap", move |store, id| match store.put(id, put) {
                Ok(_) => Ok(true),
                Err(StoreError::Conflict { .. }) => Ok(false),
                Err(e) => Err(e.into()),
            })
            .await?;
        if written {
            return Ok(Swap::Done);
        }
        Ok(Swap::Stale(reread.cas(cas.key)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket() -> (tempfile::TempDir, Bucket) {
        let (dir, store, namespace_id) = super::super::temp_namespace("cas");
        let ctx = crate::kv::KvCtx {
            store,
            grants: Default::default(),
            abandoned: Default::default(),
        };
        (dir, Bucket::new(&ctx, namespace_id, "test".into()))
    }

    #[tokio::test]
    async fn swap_succeeds_once_and_a_stale_handle_fails_without_writing() {
        let (_dir, bucket) = bucket();
        let first = bucket.cas("k".into()).expect("cas");
        let racer = bucket.cas("k".into()).expect("cas");
        assert_eq!(first.current(), None);
        let swapped = bucket
            .clone()
            .swap(first, b"one".to_vec())
            .await
            .expect("swap");
        assert!(matches!(swapped, Swap::Done));
        // The racer read the key absent: its create-only swap must fail and change nothing.
        let Swap::Stale(fresh) = bucket
            .clone()
            .swap(racer, b"two".to_vec())
            .await
            .expect("swap")
        else {
            panic!("a stale swap succeeded");
        };
        assert_eq!(bucket.get("k").expect("get"), Some(b"one".to_vec()));
        assert_eq!(fresh.current(), Some(&b"one"[..]));
        let swapped = bucket
            .clone()
            .swap(fresh, b"two".to_vec())
            .await
            .expect("swap");
        assert!(matches!(swapped, Swap::Done));
        assert_eq!(bucket.get("k").expect("get"), Some(b"two".to_vec()));
    }

    #[tokio::test]
    async fn a_deleted_then_recreated_key_is_not_the_version_read() {
        let (_dir, bucket) = bucket();
        bucket
            .clone()
            .set("k".into(), b"a".to_vec())
            .await
            .expect("set");
        let handle = bucket.cas("k".into()).expect("cas");
        bucket.clone().delete("k".into()).await.expect("delete");
        bucket
            .clone()
            .set("k".into(), b"a".to_vec())
            .await
            .expect("set");
        let swapped = bucket
            .clone()
            .swap(handle, b"b".to_vec())
            .await
            .expect("swap");
        assert!(matches!(swapped, Swap::Stale(_)));
        assert_eq!(bucket.get("k").expect("get"), Some(b"a".to_vec()));
    }
}

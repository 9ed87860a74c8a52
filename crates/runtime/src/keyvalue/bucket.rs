//! The operations on an open bucket that both `wasi:keyvalue` versions share: get, exists, set,
//! delete, one page of keys, and the batch calls. Reads run inline (a WAL reader never waits for the
//! writer); writes run on the blocking pool and wait for their commit, as in `edgekv:kv/store`.
//!
//! Every write replaces the whole entry: the standard interfaces have no metadata, content type or
//! expiry, so an entry written here has none (like a Cloudflare put that sends none). A missing key
//! reads as `none` and deletes as a no-op. `set-many` and `delete-many` are one store batch each:
//! all or nothing (stronger than the standard asks), within the profile's batch bounds; `get-many`
//! is one bulk read within the profile's bulk-get bound (100 keys for cloudflare).

use super::Failure;
use crate::abandon::Abandoned;
use crate::kv::{self, KvCtx};
use edgekv_store::{
    Batch, BatchOp, Delete, Entry, ListQuery, MissingKeys, Put, Store, StoreError, Uuid,
};

/// One page of keys in key order, and the store's opaque cursor for the next (`None` on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub keys: Vec<String>,
    pub cursor: Option<String>,
}

/// What `get-many` answers: the pair at each key asked, in order, `None` where there is no entry.
pub type Pairs = Vec<Option<(String, Vec<u8>)>>;

/// The namespace behind an open bucket of either version, the store it lives in, and whether the
/// request that opened it was abandoned (then its writes are refused).
#[derive(Clone)]
pub struct Namespace {
    store: Store,
    id: Uuid,
    abandoned: Abandoned,
}

impl Namespace {
    pub fn new(ctx: &KvCtx, id: Uuid) -> Namespace {
        Namespace {
            store: ctx.store.clone(),
            id,
            abandoned: ctx.abandoned.clone(),
        }
    }

    pub fn id(&self) -> Uuid {
        self.id
    }

    /// Runs a store read inline.
    fn read<T>(
        &self,
        f: impl FnOnce(&Store, &Uuid) -> edgekv_store::Result<T>,
    ) -> Result<T, Failure> {
        f(&self.store, &self.id).map_err(Failure::from)
    }

    /// Runs `f` (which writes) on the blocking pool and waits for its commit, unless the request
    /// was abandoned (checked again right before the write). The future owns what it needs, so
    /// the host future stays `Send`.
    pub(super) async fn write<T: Send + 'static>(
        self,
        f: impl FnOnce(&Store, &Uuid) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let Namespace {
            store,
            id,
            abandoned,
        } = self;
        let other = |message| Failure::other("other", message);
        kv::write(store, abandoned, move |s| f(s, &id), other).await
    }

    /// The live entry at `key`, or `None`.
    pub fn entry(&self, key: &str) -> Result<Option<Entry>, Failure> {
        self.read(|s, id| match s.get(id, key) {
            Ok(entry) => Ok(Some(entry)),
            Err(StoreError::KeyNotFound(_)) => Ok(None),
            Err(e) => Err(e),
        })
    }

    /// The value at `key`, or `None` when there is no live entry.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Failure> {
        Ok(self.entry(key)?.map(|e| e.value))
    }

    pub fn exists(&self, key: &str) -> Result<bool, Failure> {
        Ok(self.get(key)?.is_some())
    }

    pub async fn set(self, key: String, value: Vec<u8>) -> Result<(), Failure> {
        self.write(move |s, id| Ok(s.put(id, Put::new(key, value)).map(drop)?))
            .await
    }

    pub async fn delete(self, key: String) -> Result<(), Failure> {
        let delete = Delete::new(key);
        self.write(move |s, id| Ok(s.delete(id, delete).map(drop)?))
            .await
    }

    /// One page of keys after `cursor` (a store list cursor), as many as the profile's page maximum.
    pub fn list(&self, cursor: Option<String>) -> Result<Page, Failure> {
        let query = ListQuery {
            prefix: String::new(),
            cursor,
            limit: None,
        };
        let page = self.read(|s, id| s.list(id, &query))?;
        Ok(Page {
            keys: page.keys.into_iter().map(|k| k.key).collect(),
            cursor: page.cursor,
        })
    }

    /// The pair at each key, in the order asked, `None` where there is no live entry.
    pub fn get_many(&self, keys: Vec<String>) -> Result<Pairs, Failure> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let entries = self.read(|s, id| s.get_many(id, &keys))?;
        Ok(entries
            .into_iter()
            .map(|entry| entry.map(|e| (e.key, e.value)))
            .collect())
    }

    pub async fn set_many(self, pairs: Vec<(String, Vec<u8>)>) -> Result<(), Failure> {
        let ops = pairs
            .into_iter()
            .map(|(key, value)| BatchOp::Put(Put::new(key, value)))
            .collect();
        self.apply(ops).await
    }

    pub async fn delete_many(self, keys: Vec<String>) -> Result<(), Failure> {
        let ops = keys
            .into_iter()
            .map(|key| BatchOp::Delete(Delete::new(key)))
            .collect();
        self.apply(ops).await
    }

    /// Applies `ops` as one batch; missing keys are skipped. An empty batch changes nothing.
    async fn apply(self, ops: Vec<BatchOp>) -> Result<(), Failure> {
        if ops.is_empty() {
            return Ok(());
        }
        self.write(move |s, id| {
            let batch = Batch {
                ops,
                if_match: None,
                missing_keys: MissingKeys::Ignore,
            };
            Ok(s.apply(id, batch).map(drop)?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_abandoned_requests_writes_are_refused_and_write_nothing() {
        let (_dir, store, id) = super::super::temp_namespace("abandoned");
        let ctx = KvCtx {
            store: store.clone(),
            grants: Default::default(),
            abandoned: Abandoned::default(),
        };
        let ns = Namespace::new(&ctx, id);
        ns.clone()
            .set("before".into(), b"1".to_vec())
            .await
            .expect("set");
        ctx.abandoned.set();
        assert!(ns.clone().set("after".into(), b"2".to_vec()).await.is_err());
        assert!(ns.clone().delete("before".into()).await.is_err());
        assert!(ns.clone().increment::<u64>("n".into(), 1).await.is_err());
        assert_eq!(ns.get("before").expect("get"), Some(b"1".to_vec()));
        assert_eq!(ns.get("after").expect("get"), None);
        assert_eq!(ns.get("n").expect("get"), None);
    }
}

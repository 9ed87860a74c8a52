//! An open bucket, as both `wasi:keyvalue` versions hold it in the guest's resource table, and the
//! operations on it they share: get, exists, set, delete, one page of keys, and the batch calls. Reads run inline (a WAL reader never waits for the
//! writer); writes run on the blocking pool and wait for their commit, as in `edgekv:kv/store`.
//!
//! Every write replaces the whole entry: the standard interfaces have no metadata, content type or
//! expiry, so an entry written here has none (like a Cloudflare put that sends none). A missing key
//! reads as `none` and deletes as a no-op. `set-many` and `delete-many` are one store batch each:
//! all or nothing (stronger than the standard asks), within the profile's batch bounds; `get-many`
//! is one bulk read within the profile's bulk-get bound (100 keys for cloudflare).

use super::cursor::{DraftCursors, ListCursor};
use super::Failure;
use crate::abandon::Abandoned;
use crate::kv::{self, KvCtx};
use crate::spans;
use edgekv_store::{
    Batch, BatchOp, Delete, Entry, Interface, ListQuery, MissingKeys, Put, Store, StoreError, Uuid,
};
use std::sync::Arc;
use tracing::{Instrument, Span};

/// One page of keys in key order, and the cursor for the next in the version's cursor type (`None`
/// on the last).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<C> {
    pub keys: Vec<String>,
    pub cursor: Option<C>,
}

/// What `get-many` answers: the pair at each key asked, in order, `None` where there is no entry.
pub type Pairs = Vec<Option<(String, Vec<u8>)>>;

/// A bucket a guest opened, of either version: the namespace behind the binding it was opened
/// with, the store it lives in, and whether the request that opened it was abandoned (then its
/// writes are refused).
#[derive(Clone)]
pub struct Bucket {
    store: Store,
    namespace_id: Uuid,
    abandoned: Abandoned,
    /// The binding name it was opened with, as its KV spans name it.
    binding: Arc<str>,
}

impl Bucket {
    /// The bucket of namespace `namespace_id`, opened as `binding`, for the request `ctx` serves.
    pub fn new(ctx: &KvCtx, namespace_id: Uuid, binding: Arc<str>) -> Bucket {
        Bucket {
            store: ctx.store.via(Interface::WasiKeyvalue),
            namespace_id,
            abandoned: ctx.abandoned.clone(),
            binding,
        }
    }

    /// The binding name the bucket was opened with.
    pub fn binding(&self) -> &Arc<str> {
        &self.binding
    }

    /// The span of operation `op` on this bucket.
    fn span(&self, op: &'static str) -> Span {
        spans::kv_operation("wasi:keyvalue", op, &self.binding)
    }

    /// The namespace behind the bucket.
    pub fn namespace_id(&self) -> Uuid {
        self.namespace_id
    }

    /// Runs store read `op` inline.
    fn read<T>(
        &self,
        op: &'static str,
        f: impl FnOnce(&Store, &Uuid) -> edgekv_store::Result<T>,
    ) -> Result<T, Failure> {
        let span = self.span(op);
        let result = span.in_scope(|| f(&self.store, &self.namespace_id).map_err(Failure::from));
        record(&span, &result);
        result
    }

    /// Runs `f` (which writes) on the blocking pool and waits for its commit, unless the request
    /// was abandoned (checked again right before the write). The future owns what it needs, so
    /// the host future stays `Send`.
    pub(super) async fn write<T: Send + 'static>(
        self,
        op: &'static str,
        f: impl FnOnce(&Store, &Uuid) -> Result<T, Failure> + Send + 'static,
    ) -> Result<T, Failure> {
        let span = self.span(op);
        let Bucket {
            store,
            namespace_id,
            abandoned,
            ..
        } = self;
        let other = |message| Failure::other("other", message);
        let result = kv::write(store, abandoned, move |s| f(s, &namespace_id), other)
            .instrument(span.clone())
            .await;
        record(&span, &result);
        result
    }

    /// The live entry at `key`, or `None`.
    pub fn entry(&self, key: &str) -> Result<Option<Entry>, Failure> {
        self.read("keyvalue.get", |s, id| match s.get(id, key) {
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
        self.write("keyvalue.set", move |s, id| {
            Ok(s.put(id, Put::new(key, value)).map(drop)?)
        })
        .await
    }

    pub async fn delete(self, key: String) -> Result<(), Failure> {
        let delete = Delete::new(key);
        self.write("keyvalue.delete", move |s, id| {
            Ok(s.delete(id, delete).map(drop)?)
        })
        .await
    }

    /// One page of keys after `cursor` (in the version's cursor type `C`; the draft's numbers are
    /// in `cursors`), as many as the profile's page maximum.
    pub fn list<C: ListCursor>(
        &self,
        cursor: Option<C>,
        cursors: &DraftCursors,
    ) -> Result<Page<C>, Failure> {
        let after = C::resolve(cursor, &self.namespace_id, cursors)
            .map_err(|e| Failure::other("other", e))?;
        let query = ListQuery {
            prefix: String::new(),
            cursor: after,
            limit: None,
        };
        let page = self.read("keyvalue.list-keys", |s, id| s.list(id, &query))?;
        Ok(Page {
            keys: page.keys.into_iter().map(|k| k.key).collect(),
            cursor: page
                .cursor
                .map(|next| C::remember(next, self.namespace_id, cursors)),
        })
    }

    /// The pair at each key, in the order asked, `None` where there is no live entry.
    pub fn get_many(&self, keys: Vec<String>) -> Result<Pairs, Failure> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let entries = self.read("keyvalue.get-many", |s, id| s.get_many(id, &keys))?;
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
        self.write("keyvalue.batch", move |s, id| {
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

/// Records the outcome of a KV operation on its span: `ok`, or the error's variant.
fn record<T>(span: &Span, result: &Result<T, Failure>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(Failure::NoSuchStore) => "no-such-store",
        Err(Failure::AccessDenied) => "access-denied",
        Err(Failure::Other(message)) => message.split(':').next().unwrap_or("other"),
    };
    spans::kv_outcome(span, outcome);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_abandoned_requests_writes_are_refused_and_write_nothing() {
        let (_dir, store, namespace_id) = super::super::temp_namespace("abandoned");
        let ctx = KvCtx {
            store: store.clone(),
            grants: Default::default(),
            abandoned: Abandoned::default(),
        };
        let bucket = Bucket::new(&ctx, namespace_id, "test".into());
        bucket
            .clone()
            .set("before".into(), b"1".to_vec())
            .await
            .expect("set");
        ctx.abandoned.set();
        assert!(bucket
            .clone()
            .set("after".into(), b"2".to_vec())
            .await
            .is_err());
        assert!(bucket.clone().delete("before".into()).await.is_err());
        assert!(bucket
            .clone()
            .increment::<u64>("n".into(), 1)
            .await
            .is_err());
        assert_eq!(bucket.get("before").expect("get"), Some(b"1".to_vec()));
        assert_eq!(bucket.get("after").expect("get"), None);
        assert_eq!(bucket.get("n").expect("get"), None);
    }
}

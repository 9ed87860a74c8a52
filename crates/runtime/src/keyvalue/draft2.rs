//! `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch), as Spin guests import it: the store's own
//! opaque string list cursor, a signed `increment` (see [`counter`](super::counter)), and
//! compare-and-swap handles (see [`cas`](super::cas)).

use super::bucket::{Namespace, Pairs};
use super::cas::Swap;
use super::{Failure, KeyValueData, KeyValueView};
use edgekv_store::Uuid;
use wasmtime::component::{Linker, Resource};

pub use super::cas::Cas;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "wasi:keyvalue/imports@0.2.0-draft2",
    // Writes wait for their commit on the blocking pool, so they are async; reads and handles
    // complete at once.
    imports: {
        "wasi:keyvalue/store@0.2.0-draft2.[method]bucket.set": async | trappable,
        "wasi:keyvalue/store@0.2.0-draft2.[method]bucket.delete": async | trappable,
        "wasi:keyvalue/atomics@0.2.0-draft2.increment": async | trappable,
        "wasi:keyvalue/atomics@0.2.0-draft2.swap": async | trappable,
        "wasi:keyvalue/batch@0.2.0-draft2.set-many": async | trappable,
        "wasi:keyvalue/batch@0.2.0-draft2.delete-many": async | trappable,
        default: trappable,
    },
    with: {
        "wasi:keyvalue/store@0.2.0-draft2.bucket": Bucket,
        "wasi:keyvalue/atomics@0.2.0-draft2.cas": Cas,
    },
});

use wasi::keyvalue0_2_0_draft2::{atomics, batch, store};

/// An open `0.2.0-draft2` bucket: the namespace behind the binding it was opened with.
pub struct Bucket {
    id: Uuid,
}

pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValueView<'_>,
) -> wasmtime::Result<()> {
    store::add_to_linker::<T, KeyValueData>(linker, view)?;
    atomics::add_to_linker::<T, KeyValueData>(linker, view)?;
    batch::add_to_linker::<T, KeyValueData>(linker, view)
}

type Reply<T> = wasmtime::Result<Result<T, store::Error>>;

fn to_error(failure: Failure) -> store::Error {
    match failure {
        Failure::NoSuchStore => store::Error::NoSuchStore,
        Failure::AccessDenied => store::Error::AccessDenied,
        Failure::Other(message) => store::Error::Other(message),
    }
}

/// The namespace behind an open bucket.
fn namespace(view: &KeyValueView<'_>, bucket: &Resource<Bucket>) -> wasmtime::Result<Namespace> {
    let id = view.table.get(bucket)?.id;
    Ok(Namespace::new(view.ctx, id))
}

impl store::Host for KeyValueView<'_> {
    fn open(&mut self, identifier: String) -> Reply<Resource<Bucket>> {
        match self.open_binding(&identifier) {
            Ok(id) => Ok(Ok(self.table.push(Bucket { id })?)),
            Err(failure) => Ok(Err(to_error(failure))),
        }
    }
}

impl store::HostBucket for KeyValueView<'_> {
    fn get(&mut self, bucket: Resource<Bucket>, key: String) -> Reply<Option<Vec<u8>>> {
        Ok(namespace(self, &bucket)?.get(&key).map_err(to_error))
    }

    async fn set(&mut self, bucket: Resource<Bucket>, key: String, value: Vec<u8>) -> Reply<()> {
        let ns = namespace(self, &bucket)?;
        Ok(ns.set(key, value).await.map_err(to_error))
    }

    async fn delete(&mut self, bucket: Resource<Bucket>, key: String) -> Reply<()> {
        let ns = namespace(self, &bucket)?;
        Ok(ns.delete(key).await.map_err(to_error))
    }

    fn exists(&mut self, bucket: Resource<Bucket>, key: String) -> Reply<bool> {
        Ok(namespace(self, &bucket)?.exists(&key).map_err(to_error))
    }

    /// One page in key order; the cursor is the store's (opaque, the last key returned).
    fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<String>,
    ) -> Reply<store::KeyResponse> {
        Ok(namespace(self, &bucket)?
            .list(cursor)
            .map(|page| store::KeyResponse {
                keys: page.keys,
                cursor: page.cursor,
            })
            .map_err(to_error))
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: i64) -> Reply<i64> {
        let ns = namespace(self, &bucket)?;
        Ok(ns
            .increment::<i64>(key, delta.into())
            .await
            .map_err(to_error))
    }

    async fn swap(
        &mut self,
        cas: Resource<Cas>,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), atomics::CasError>> {
        let cas = self.table.delete(cas)?;
        let ns = Namespace::new(self.ctx, cas.namespace());
        match ns.swap(cas, value).await {
            Ok(Swap::Done) => Ok(Ok(())),
            Ok(Swap::Stale(fresh)) => {
                let fresh = self.table.push(fresh)?;
                Ok(Err(atomics::CasError::CasFailed(fresh)))
            }
            Err(failure) => Ok(Err(atomics::CasError::StoreError(to_error(failure)))),
        }
    }
}

impl atomics::HostCas for KeyValueView<'_> {
    fn new(&mut self, bucket: Resource<Bucket>, key: String) -> Reply<Resource<Cas>> {
        match namespace(self, &bucket)?.cas(key) {
            Ok(cas) => Ok(Ok(self.table.push(cas)?)),
            Err(failure) => Ok(Err(to_error(failure))),
        }
    }

    fn current(&mut self, cas: Resource<Cas>) -> Reply<Option<Vec<u8>>> {
        Ok(Ok(self.table.get(&cas)?.current().map(<[u8]>::to_vec)))
    }

    fn drop(&mut self, cas: Resource<Cas>) -> wasmtime::Result<()> {
        self.table.delete(cas)?;
        Ok(())
    }
}

impl batch::Host for KeyValueView<'_> {
    fn get_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Reply<Pairs> {
        Ok(namespace(self, &bucket)?.get_many(keys).map_err(to_error))
    }

    async fn set_many(
        &mut self,
        bucket: Resource<Bucket>,
        key_values: Vec<(String, Vec<u8>)>,
    ) -> Reply<()> {
        let ns = namespace(self, &bucket)?;
        Ok(ns.set_many(key_values).await.map_err(to_error))
    }

    async fn delete_many(&mut self, bucket: Resource<Bucket>, keys: Vec<String>) -> Reply<()> {
        let ns = namespace(self, &bucket)?;
        Ok(ns.delete_many(keys).await.map_err(to_error))
    }
}

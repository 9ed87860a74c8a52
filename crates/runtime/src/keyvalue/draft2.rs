//! `wasi:keyvalue@0.2.0-draft2` (store, atomics, batch), as Spin guests import it: the store's own
//! opaque string list cursor, a signed `increment` (see [`counter`](super::counter)), and
//! compare-and-swap handles (see [`cas`](super::cas)). The calls both versions share are
//! `shared_host!`'s.

use super::cas::Swap;
use super::KeyValueView;
use wasmtime::component::Resource;

// `pub`: the generated bindings re-export the types `with` names.
pub use super::bucket::Bucket;
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

shared_host!(list_cursor: String);

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Handle, key: String, delta: i64) -> Reply<i64> {
        let bucket = self.bucket(&bucket)?;
        Ok(bucket
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
        let bucket = Bucket::new(self.ctx, cas.namespace_id(), cas.binding());
        match bucket.swap(cas, value).await {
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
    fn new(&mut self, bucket: Handle, key: String) -> Reply<Resource<Cas>> {
        match self.table.get(&bucket)?.cas(key) {
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

//! `wasi:keyvalue@0.2.0-draft` (store, atomics, batch), as wasmtime's `-S keyvalue` and wasmCloud
//! guests import it: a `u64` list cursor (numbered by [`DraftCursors`](super::DraftCursors)), an
//! unsigned `increment` (see [`counter`](super::counter)), no compare-and-swap.

use super::bucket::{Namespace, Pairs};
use super::{Failure, KeyValueData, KeyValueView};
use edgekv_store::Uuid;
use wasmtime::component::{Linker, Resource};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "wasi:keyvalue/imports@0.2.0-draft",
    // Writes wait for their commit on the blocking pool, so they are async; reads and handles
    // complete at once.
    imports: {
        "wasi:keyvalue/store@0.2.0-draft.[method]bucket.set": async | trappable,
        "wasi:keyvalue/store@0.2.0-draft.[method]bucket.delete": async | trappable,
        "wasi:keyvalue/atomics@0.2.0-draft.increment": async | trappable,
        "wasi:keyvalue/batch@0.2.0-draft.set-many": async | trappable,
        "wasi:keyvalue/batch@0.2.0-draft.delete-many": async | trappable,
        default: trappable,
    },
    with: { "wasi:keyvalue/store@0.2.0-draft.bucket": Bucket },
});

use wasi::keyvalue0_2_0_draft::{atomics, batch, store};

/// An open `0.2.0-draft` bucket: the namespace behind the binding it was opened with.
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

    /// One page in key order; the cursor is a number from the app's cursor table.
    fn list_keys(
        &mut self,
        bucket: Resource<Bucket>,
        cursor: Option<u64>,
    ) -> Reply<store::KeyResponse> {
        let ns = namespace(self, &bucket)?;
        let after = match self.cursors.resolve(&ns.id(), cursor) {
            Ok(after) => after,
            Err(e) => return Ok(Err(to_error(Failure::other("other", e)))),
        };
        Ok(ns
            .list(after)
            .map(|page| store::KeyResponse {
                keys: page.keys,
                cursor: page.cursor.map(|next| self.cursors.remember(ns.id(), next)),
            })
            .map_err(to_error))
    }

    fn drop(&mut self, bucket: Resource<Bucket>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Resource<Bucket>, key: String, delta: u64) -> Reply<u64> {
        let ns = namespace(self, &bucket)?;
        Ok(ns
            .increment::<u64>(key, delta.into())
            .await
            .map_err(to_error))
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

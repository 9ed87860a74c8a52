//! `wasi:keyvalue@0.2.0-draft` (store, atomics, batch), as wasmtime's `-S keyvalue` and wasmCloud
//! guests import it: a `u64` list cursor (numbered by [`DraftCursors`](super::DraftCursors)), an
//! unsigned `increment` (see [`counter`](super::counter)), no compare-and-swap. The calls both
//! versions share are `shared_host!`'s.

// `pub`: the generated bindings re-export the types `with` names.
pub use super::bucket::Bucket;
use super::KeyValueView;

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

shared_host!(list_cursor: u64);

impl atomics::Host for KeyValueView<'_> {
    async fn increment(&mut self, bucket: Handle, key: String, delta: u64) -> Reply<u64> {
        let bucket = self.bucket(&bucket)?;
        Ok(bucket
            .increment::<u64>(key, delta.into())
            .await
            .map_err(to_error))
    }
}

//! The host side of the standard `wasi:keyvalue` interfaces (`store`, `atomics`, `batch`) in both
//! versions guests are built against: `0.2.0-draft` ([`draft`]: what wasmtime's `-S keyvalue` and
//! wasmCloud guests import) and `0.2.0-draft2` ([`draft2`]: what Spin guests import). Both are linked
//! into the same linker (they are different package versions), over the same store and the same
//! granted bindings as `edgekv:kv/store`.
//!
//! This module owns what the two versions share: the view the host traits are implemented for,
//! opening a bucket by binding name, the host of every call whose shape is the same in both
//! versions (`shared_host!`, expanded once over each version's generated bindings), and turning
//! store failures into the standard `error` variant:
//!
//! - `open(identifier)`: `identifier` is a binding name. Not granted to the app: `access-denied`;
//!   granted but no namespace configured behind it: `no-such-store`.
//! - Every other failure is `other("<variant>: <message>")`, where `<variant>` is the name of the
//!   `edgekv:kv/store` error case (`invalid-key`, `value-too-large`, `metadata-too-large`,
//!   `invalid-expiration`, `quota-exceeded`, `conflict`, `other`) and `<message>` the store's own
//!   message, e.g. `other("invalid-key: key_too_large: 513 is over the limit of 512")`. Guests read
//!   the variant as the text before the first `": "`.
//!
//! The operations themselves are in [`bucket`] (single keys, listing, batches), [`counter`]
//! (`increment` and the counter encoding), [`cas`] (compare-and-swap, `0.2.0-draft2` only) and
//! [`cursor`] (each version's list cursor). What differs between the versions (the list cursor's
//! type, `increment`'s range, compare-and-swap) is in [`draft`] and [`draft2`].

/// The host of what both `wasi:keyvalue` versions share, for the version module it is expanded in,
/// whose generated `store`, `atomics` and `batch` modules must be in scope there: `add_to_linker`,
/// `Reply`, `Handle` and `to_error` (this version's result, a guest's bucket handle, and its
/// `error` variant), `store::Host` (`open`), `store::HostBucket` (with `$cursor` as the version's
/// [`ListCursor`](cursor::ListCursor)) and `batch::Host`. The version module implements `atomics`
/// itself.
macro_rules! shared_host {
    (list_cursor: $cursor:ty) => {
        /// Links this version's `store`, `atomics` and `batch` into `linker`.
        pub fn add_to_linker<T: Send + 'static>(
            linker: &mut wasmtime::component::Linker<T>,
            view: fn(&mut T) -> super::KeyValueView<'_>,
        ) -> wasmtime::Result<()> {
            store::add_to_linker::<T, super::KeyValueData>(linker, view)?;
            atomics::add_to_linker::<T, super::KeyValueData>(linker, view)?;
            batch::add_to_linker::<T, super::KeyValueData>(linker, view)
        }

        /// A call's answer: a trap, or this version's result.
        type Reply<T> = wasmtime::Result<Result<T, store::Error>>;

        /// A guest's handle on a bucket it opened.
        type Handle = wasmtime::component::Resource<super::Bucket>;

        /// This version's `error` variant for `failure`.
        fn to_error(failure: super::Failure) -> store::Error {
            match failure {
                super::Failure::NoSuchStore => store::Error::NoSuchStore,
                super::Failure::AccessDenied => store::Error::AccessDenied,
                super::Failure::Other(message) => store::Error::Other(message),
            }
        }

        impl store::Host for super::KeyValueView<'_> {
            fn open(&mut self, identifier: String) -> Reply<Handle> {
                match self.open_bucket(&identifier) {
                    Ok(bucket) => Ok(Ok(self.table.push(bucket)?)),
                    Err(failure) => Ok(Err(to_error(failure))),
                }
            }
        }

        impl store::HostBucket for super::KeyValueView<'_> {
            fn get(&mut self, bucket: Handle, key: String) -> Reply<Option<Vec<u8>>> {
                Ok(self.table.get(&bucket)?.get(&key).map_err(to_error))
            }

            async fn set(&mut self, bucket: Handle, key: String, value: Vec<u8>) -> Reply<()> {
                let bucket = self.bucket(&bucket)?;
                Ok(bucket.set(key, value).await.map_err(to_error))
            }

            async fn delete(&mut self, bucket: Handle, key: String) -> Reply<()> {
                let bucket = self.bucket(&bucket)?;
                Ok(bucket.delete(key).await.map_err(to_error))
            }

            fn exists(&mut self, bucket: Handle, key: String) -> Reply<bool> {
                Ok(self.table.get(&bucket)?.exists(&key).map_err(to_error))
            }

            /// One page in key order, after this version's kind of cursor.
            fn list_keys(
                &mut self,
                bucket: Handle,
                cursor: Option<$cursor>,
            ) -> Reply<store::KeyResponse> {
                let page = self.table.get(&bucket)?.list(cursor, self.cursors);
                Ok(page
                    .map(|page| store::KeyResponse {
                        keys: page.keys,
                        cursor: page.cursor,
                    })
                    .map_err(to_error))
            }

            fn drop(&mut self, bucket: Handle) -> wasmtime::Result<()> {
                self.table.delete(bucket)?;
                Ok(())
            }
        }

        impl batch::Host for super::KeyValueView<'_> {
            fn get_many(&mut self, bucket: Handle, keys: Vec<String>) -> Reply<super::Pairs> {
                Ok(self.table.get(&bucket)?.get_many(keys).map_err(to_error))
            }

            async fn set_many(
                &mut self,
                bucket: Handle,
                key_values: Vec<(String, Vec<u8>)>,
            ) -> Reply<()> {
                let bucket = self.bucket(&bucket)?;
                Ok(bucket.set_many(key_values).await.map_err(to_error))
            }

            async fn delete_many(&mut self, bucket: Handle, keys: Vec<String>) -> Reply<()> {
                let bucket = self.bucket(&bucket)?;
                Ok(bucket.delete_many(keys).await.map_err(to_error))
            }
        }
    };
}

mod bucket;
mod cas;
mod counter;
mod cursor;
mod draft;
mod draft2;

pub use cursor::DraftCursors;

use crate::kv::edgekv::kv::store::Error as KvError;
use crate::kv::{to_wit_error, KvCtx};
use bucket::{Bucket, Pairs};
use edgekv_store::StoreError;
use std::fmt;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

/// What the generated host traits of both versions are implemented for: the instance's resource
/// table, its KV state (store and grants), and the app's table of `0.2.0-draft` list cursors.
pub struct KeyValueView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a KvCtx,
    pub cursors: &'a DraftCursors,
}

/// Marker tying `KeyValueView` to the linker.
pub struct KeyValueData;

impl HasData for KeyValueData {
    type Data<'a> = KeyValueView<'a>;
}

/// Links `wasi:keyvalue/{store,atomics,batch}` at `0.2.0-draft` and at `0.2.0-draft2` into `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    view: fn(&mut T) -> KeyValueView<'_>,
) -> wasmtime::Result<()> {
    draft::add_to_linker(linker, view)?;
    draft2::add_to_linker(linker, view)
}

/// Why a `wasi:keyvalue` call failed, before it is put into one version's `error` variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// The binding is granted but no namespace is configured behind it (or it is gone).
    #[error("no-such-store")]
    NoSuchStore,
    /// The binding is not granted to this app.
    #[error("access-denied")]
    AccessDenied,
    /// `error::other` with `"<variant>: <message>"`.
    #[error("{0}")]
    Other(String),
}

impl Failure {
    /// `other("<variant>: <message>")`.
    pub fn other(variant: &str, message: impl fmt::Display) -> Failure {
        Failure::Other(format!("{variant}: {message}"))
    }
}

impl From<StoreError> for Failure {
    /// The variant is the one `edgekv:kv/store` reports for the same error (one mapping, in
    /// `kv::to_wit_error`); the message is the store error's own.
    fn from(e: StoreError) -> Failure {
        let message = e.to_string();
        let variant = match to_wit_error(e) {
            KvError::NoSuchStore => return Failure::NoSuchStore,
            KvError::AccessDenied => return Failure::AccessDenied,
            KvError::InvalidKey(_) => "invalid-key",
            KvError::ValueTooLarge(_) => "value-too-large",
            KvError::MetadataTooLarge(_) => "metadata-too-large",
            KvError::InvalidExpiration(_) => "invalid-expiration",
            KvError::QuotaExceeded(_) => "quota-exceeded",
            KvError::Conflict(_) => "conflict",
            KvError::Other(_) => "other",
        };
        Failure::other(variant, message)
    }
}

impl KeyValueView<'_> {
    /// The bucket of the namespace behind `identifier` (a binding name), under the app's grants.
    fn open_bucket(&self, identifier: &str) -> Result<Bucket, Failure> {
        match self.ctx.grants.open(identifier) {
            Ok(namespace_id) => Ok(Bucket::new(self.ctx, namespace_id, identifier.into())),
            Err(KvError::NoSuchStore) => Err(Failure::NoSuchStore),
            Err(_) => Err(Failure::AccessDenied),
        }
    }

    /// The open bucket behind `handle`, for a write (which owns what it needs).
    fn bucket(&self, handle: &Resource<Bucket>) -> wasmtime::Result<Bucket> {
        Ok(self.table.get(handle)?.clone())
    }
}

/// A store in a temporary directory (no sweeper) with one Cloudflare namespace, `name`.
#[cfg(test)]
pub(crate) fn temp_namespace(
    name: &str,
) -> (tempfile::TempDir, edgekv_store::Store, edgekv_store::Uuid) {
    use edgekv_store::{NewNamespace, Profile, Store, StoreOptions};
    let dir = tempfile::tempdir().expect("temp dir");
    let options = StoreOptions {
        sweep_interval: None,
        ..StoreOptions::default()
    };
    let store = Store::open(&dir.path().join("kv.sqlite3"), options).expect("open store");
    let namespace = store
        .create_namespace(NewNamespace::new(name, Profile::Cloudflare))
        .expect("namespace");
    (dir, store, namespace.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgekv_store::{Rule, RuleViolation};

    #[test]
    fn store_errors_keep_the_edgekv_variant_name_and_the_store_message() {
        let e = StoreError::NamespaceNotFound("x".into());
        assert_eq!(Failure::from(e), Failure::NoSuchStore);
        let e = StoreError::InvalidCursor;
        assert_eq!(
            Failure::from(e),
            Failure::Other("other: invalid cursor".into())
        );
        let e = StoreError::Conflict { current: None };
        assert_eq!(
            Failure::from(e),
            Failure::Other("conflict: precondition failed (current ETag: none)".into())
        );
        let e = StoreError::Rule(RuleViolation {
            rule: Rule::KeyTooLarge,
            limit: 512,
            actual: 513,
        });
        assert_eq!(
            Failure::from(e),
            Failure::Other("invalid-key: key_too_large: 513 is over the limit of 512".into())
        );
        let e = StoreError::Rule(RuleViolation {
            rule: Rule::BulkGetTooManyKeys,
            limit: 100,
            actual: 101,
        });
        assert!(matches!(Failure::from(e), Failure::Other(m) if m.starts_with("quota-exceeded: ")));
    }
}

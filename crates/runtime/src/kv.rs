//! The host side of `edgekv:kv/store`: opening a namespace by binding name (deny by default), and
//! get/put/delete/list calls forwarded to the store on a blocking thread, with store errors turned
//! into the WIT `error` variant that names the broken rule.

use crate::abandon::{Abandoned, REFUSED_WRITE};
use crate::spans;
use edgekv_store::{
    Delete, Expiry, ListQuery, Precondition, Put, RuleFamily, Store, StoreError, Uuid,
};
use std::collections::HashMap;
use std::sync::Arc;
use tracing::{Instrument, Span};
use wasmtime::component::{HasData, Resource, ResourceTable};

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "edgekv:kv/imports",
    // Writes wait for their commit on the blocking pool, so they are async; reads and handles
    // complete at once and skip the async host-call machinery.
    imports: {
        "edgekv:kv/store.[method]namespace.put": async | trappable,
        "edgekv:kv/store.[method]namespace.delete": async | trappable,
        default: trappable,
    },
    with: { "edgekv:kv/store.namespace": NamespaceHandle },
});

use edgekv::kv::store::{self as wit, Error as KvError};

/// The bindings an app was granted: binding name -> the namespace behind it, or `None` when the
/// binding is granted but no namespace is configured for it.
#[derive(Debug, Clone, Default)]
pub struct Grants(HashMap<String, Option<Uuid>>);

impl Grants {
    /// No bindings granted: every namespace a guest opens is `access-denied`.
    pub fn new() -> Self {
        Grants::default()
    }

    /// Grants `binding`, backed by namespace `id` (or by nothing yet).
    pub fn grant(&mut self, binding: impl Into<String>, id: Option<Uuid>) {
        self.0.insert(binding.into(), id);
    }

    /// The namespace behind `binding`: `access-denied` if it is not granted, `no-such-store` if it
    /// is granted with nothing behind it.
    pub(crate) fn open(&self, binding: &str) -> Result<Uuid, KvError> {
        match self.0.get(binding) {
            None => Err(KvError::AccessDenied),
            Some(None) => Err(KvError::NoSuchStore),
            Some(Some(id)) => Ok(*id),
        }
    }
}

/// An open namespace, as held in the guest's resource table.
pub struct NamespaceHandle {
    id: Uuid,
    /// The binding name the guest opened it with, as its KV spans name it.
    binding: Arc<str>,
}

/// The per-instance state the binding needs.
pub struct KvCtx {
    pub store: Store,
    pub grants: Arc<Grants>,
    /// Set once the request is abandoned; its writes are refused from then on.
    pub abandoned: Abandoned,
}

/// Runs a store write on the blocking pool ([`Store::run`]) and waits for its commit, unless the
/// request was abandoned (checked on the blocking thread, right before the write); `other` makes
/// the error for a refused write. Owns what it needs, so host futures that await it stay `Send`.
pub(crate) async fn write<T, E>(
    store: Store,
    abandoned: Abandoned,
    f: impl FnOnce(&Store) -> Result<T, E> + Send + 'static,
    other: fn(String) -> E,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<StoreError> + Send + 'static,
{
    let write = move |s: &Store| match abandoned.is_set() {
        true => Err(other(REFUSED_WRITE.into())),
        false => f(s),
    };
    store.run(write).await
}

/// What the generated host traits are implemented for: the instance's resource table and KV state.
pub struct KvView<'a> {
    pub table: &'a mut ResourceTable,
    pub ctx: &'a KvCtx,
}

/// Marker tying `KvView` to the linker.
pub struct KvData;

impl HasData for KvData {
    type Data<'a> = KvView<'a>;
}

/// Links `edgekv:kv/store` into `linker`.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut wasmtime::component::Linker<T>,
    view: fn(&mut T) -> KvView<'_>,
) -> wasmtime::Result<()> {
    wit::add_to_linker::<T, KvData>(linker, view)
}

type Reply<T> = wasmtime::Result<Result<T, KvError>>;

impl KvView<'_> {
    /// The namespace behind a handle the guest holds.
    fn namespace_id(&self, handle: &Resource<NamespaceHandle>) -> wasmtime::Result<Uuid> {
        Ok(self.table.get(handle)?.id)
    }

    /// The span of operation `op` on the namespace behind `handle`.
    fn span(&self, handle: &Resource<NamespaceHandle>, op: &'static str) -> wasmtime::Result<Span> {
        let binding = &self.table.get(handle)?.binding;
        Ok(spans::kv_operation("edgekv:kv", op, binding))
    }

    /// Runs a store read inline. A WAL-mode reader never waits for the writer, so a point read or
    /// one list page is microseconds of work: cheaper than the two thread hand-offs of the blocking
    /// pool, and it cannot stall the executor.
    fn read<T>(&self, f: impl FnOnce(&Store) -> edgekv_store::Result<T>) -> Result<T, KvError> {
        f(&self.ctx.store).map_err(to_wit_error)
    }

    /// Runs a store write through `write`: it waits for its commit group. (Not borrowing
    /// `self` across the await keeps the host future `Send`.)
    fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> edgekv_store::Result<T> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, KvError>> + Send + 'static {
        let (store, abandoned) = (self.ctx.store.clone(), self.ctx.abandoned.clone());
        write(
            store,
            abandoned,
            move |s| f(s).map_err(to_wit_error),
            KvError::Other,
        )
    }
}

impl wit::Host for KvView<'_> {}

impl wit::HostNamespace for KvView<'_> {
    fn open(&mut self, binding: String) -> Reply<Resource<NamespaceHandle>> {
        let id = match self.ctx.grants.open(&binding) {
            Ok(id) => id,
            Err(e) => return Ok(Err(e)),
        };
        let binding = binding.into();
        Ok(Ok(self.table.push(NamespaceHandle { id, binding })?))
    }

    fn get(&mut self, handle: Resource<NamespaceHandle>, key: String) -> Reply<Option<wit::Entry>> {
        let id = self.namespace_id(&handle)?;
        let span = self.span(&handle, "kv.get")?;
        let found = span.in_scope(|| {
            self.read(|s| match s.get(&id, &key) {
                Ok(entry) => Ok(Some(entry)),
                Err(StoreError::KeyNotFound(_)) => Ok(None),
                Err(e) => Err(e),
            })
        });
        record(&span, &found);
        Ok(found.map(|entry| {
            entry.map(|e| wit::Entry {
                value: e.value,
                metadata: e.metadata,
                content_type: e.content_type,
                expires_at_ms: e.expires_at_ms.map(|ms| ms.max(0) as u64),
                etag: e.etag.into_string(),
            })
        }))
    }

    async fn put(
        &mut self,
        handle: Resource<NamespaceHandle>,
        key: String,
        value: Vec<u8>,
        options: wit::PutOptions,
    ) -> Reply<wit::PutResult> {
        let id = self.namespace_id(&handle)?;
        let put = Put {
            key,
            value,
            metadata: options.metadata,
            content_type: options.content_type,
            expiry: match options.expiration {
                None => Expiry::Never,
                Some(wit::Expiration::TtlSeconds(s)) => Expiry::TtlSecs(s),
                Some(wit::Expiration::AtUnixSeconds(s)) => Expiry::AtUnixSecs(s),
            },
            precondition: match options.precondition {
                None => Precondition::None,
                Some(wit::Precondition::IfMatch(etag)) => Precondition::EntryEtag(etag),
                Some(wit::Precondition::IfAbsent) => Precondition::Absent,
            },
        };
        let span = self.span(&handle, "kv.put")?;
        let out = self
            .call(move |s| s.put(&id, put))
            .instrument(span.clone())
            .await;
        record(&span, &out);
        Ok(out.map(|o| wit::PutResult {
            etag: o.etag.map(|e| e.to_string()).unwrap_or_default(),
            created: !o.existed,
        }))
    }

    async fn delete(
        &mut self,
        handle: Resource<NamespaceHandle>,
        key: String,
        if_match: Option<String>,
    ) -> Reply<bool> {
        let id = self.namespace_id(&handle)?;
        let precondition = if_match.map_or(Precondition::None, Precondition::EntryEtag);
        let span = self.span(&handle, "kv.delete")?;
        let out = self
            .call(move |s| s.delete(&id, Delete { key, precondition }))
            .instrument(span.clone())
            .await;
        record(&span, &out);
        Ok(out.map(|o| o.existed))
    }

    fn list(
        &mut self,
        handle: Resource<NamespaceHandle>,
        prefix: String,
        cursor: Option<String>,
        limit: Option<u32>,
    ) -> Reply<wit::KeyPage> {
        let id = self.namespace_id(&handle)?;
        let query = ListQuery {
            prefix,
            cursor,
            limit: limit.map(u64::from),
        };
        let span = self.span(&handle, "kv.list")?;
        let page = span.in_scope(|| self.read(|s| s.list(&id, &query)));
        record(&span, &page);
        Ok(page.map(|p| wit::KeyPage {
            keys: p
                .keys
                .into_iter()
                .map(|k| wit::KeyInfo {
                    name: k.key,
                    expires_at_ms: k.expires_at_ms.map(|ms| ms.max(0) as u64),
                    metadata: k.metadata,
                    size: k.size,
                })
                .collect(),
            cursor: p.cursor,
        }))
    }

    fn drop(&mut self, handle: Resource<NamespaceHandle>) -> wasmtime::Result<()> {
        self.table.delete(handle)?;
        Ok(())
    }
}

/// Records the outcome of a KV operation on its span: `ok` or the WIT error's variant.
fn record<T>(span: &Span, result: &Result<T, KvError>) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(KvError::NoSuchStore) => "no-such-store",
        Err(KvError::AccessDenied) => "access-denied",
        Err(KvError::InvalidKey(_)) => "invalid-key",
        Err(KvError::ValueTooLarge(_)) => "value-too-large",
        Err(KvError::MetadataTooLarge(_)) => "metadata-too-large",
        Err(KvError::InvalidExpiration(_)) => "invalid-expiration",
        Err(KvError::QuotaExceeded(_)) => "quota-exceeded",
        Err(KvError::Conflict(_)) => "conflict",
        Err(KvError::Other(_)) => "other",
    };
    spans::kv_outcome(span, outcome);
}

impl From<StoreError> for KvError {
    fn from(e: StoreError) -> KvError {
        to_wit_error(e)
    }
}

/// The WIT error for a store error: the variant names the broken rule, the message its limit and size.
pub fn to_wit_error(e: StoreError) -> KvError {
    let message = e.to_string();
    match e {
        StoreError::NamespaceNotFound(_) => KvError::NoSuchStore,
        StoreError::Conflict { current } => KvError::Conflict(current.map(|c| c.to_string())),
        StoreError::Rule(v) => match v.rule.family() {
            RuleFamily::Key => KvError::InvalidKey(message),
            RuleFamily::Value => KvError::ValueTooLarge(message),
            RuleFamily::Metadata => KvError::MetadataTooLarge(message),
            RuleFamily::Expiry => KvError::InvalidExpiration(message),
            RuleFamily::Quota => KvError::QuotaExceeded(message),
            RuleFamily::Request => KvError::Other(message),
        },
        _ => KvError::Other(message),
    }
}

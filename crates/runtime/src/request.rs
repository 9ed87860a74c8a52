//! Serving a request with an app: a fresh instance per request from the app's pre-linked
//! `ProxyPre`, a deadline enforced with epoch interruption (yielding to the executor every tick so a
//! looping guest never holds a worker thread), a memory cap, and the failure of that request alone
//! when the guest traps, runs out of time or out of memory.

use crate::cache;
use crate::egress::{EgressHooks, EgressPolicy};
use crate::engine::{Runtime, EPOCH_TICK};
use crate::instance::Instance;
use crate::keyvalue::{self, DraftCursors};
use crate::kv::{self, Grants, KvCtx};
use crate::LoadError;
use edgekv_store::Store;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wasmtime::component::Linker;
use wasmtime::UpdateDeadline;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::WasiHttpView;

/// Limits of one app's instances.
#[derive(Debug, Clone, Copy)]
pub struct AppLimits {
    /// How long one request may run.
    pub deadline: Duration,
    /// The most linear memory one instance may grow to.
    pub memory_bytes: usize,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits {
            deadline: Duration::from_secs(30),
            memory_bytes: 128 << 20,
        }
    }
}

/// Why a request failed inside the guest.
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    #[error("the guest ran past its {0:?} deadline")]
    Timeout(Duration),
    #[error("the guest exhausted its {0} MiB memory limit")]
    OutOfMemory(usize),
    #[error("the guest trapped: {0}")]
    Trap(String),
    #[error("the guest returned no response")]
    NoResponse,
    #[error("the guest answered with an error: {0}")]
    ErrorCode(String),
    #[error("the runtime is shutting down")]
    ShuttingDown,
}

impl GuestFailure {
    /// The HTTP status the client gets for this failure.
    pub fn status(&self) -> u16 {
        match self {
            GuestFailure::Timeout(_)
            | GuestFailure::OutOfMemory(_)
            | GuestFailure::ShuttingDown => 503,
            _ => 500,
        }
    }
}

/// A loaded, linked component ready to serve requests.
#[derive(Clone)]
pub struct App {
    pre: ProxyPre<Instance>,
    store: Store,
    grants: Arc<Grants>,
    /// `wasi:keyvalue@0.2.0-draft` list cursors, valid across this app's requests.
    kv_cursors: Arc<DraftCursors>,
    limits: AppLimits,
    egress: Option<EgressPolicy>,
    next_request: Arc<AtomicU64>,
    /// The engine's instance slots, shared by every app.
    slots: Arc<Semaphore>,
}

impl App {
    /// Loads (or takes from the cache) and links the component at `path`.
    pub fn load(
        runtime: &Runtime,
        path: &Path,
        store: Store,
        grants: Grants,
        limits: AppLimits,
    ) -> Result<App, LoadError> {
        let engine = &runtime.engine;
        let component = cache::load(engine, path, runtime.options.cache_dir.as_deref())?;
        let link_error = |e: wasmtime::Error| LoadError::Link {
            path: path.display().to_string(),
            reason: format!("{e:#}"),
        };
        let mut linker = Linker::<Instance>::new(engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(link_error)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(link_error)?;
        kv::add_to_linker(&mut linker, Instance::kv_view).map_err(link_error)?;
        keyvalue::add_to_linker(&mut linker, Instance::keyvalue_view).map_err(link_error)?;
        let pre = linker.instantiate_pre(&component).map_err(link_error)?;
        let pre = ProxyPre::new(pre).map_err(link_error)?;
        Ok(App {
            pre,
            store,
            grants: Arc::new(grants),
            kv_cursors: Arc::default(),
            limits,
            egress: runtime.options.egress.clone(),
            next_request: Arc::default(),
            slots: runtime.slots.clone(),
        })
    }

    /// Serves one request in a fresh instance, once an instance slot is free. The response body
    /// may still be streaming from the guest when this returns. The request body is any `http_body`
    /// body: hyper's `Incoming` from the front door, or one built in memory.
    pub async fn handle<B>(
        &self,
        req: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, GuestFailure>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let slot = self
            .slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GuestFailure::ShuttingDown)?;
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        let kv = KvCtx {
            store: self.store.clone(),
            grants: self.grants.clone(),
        };
        let deadline = Instant::now() + self.limits.deadline;
        let mut store = wasmtime::Store::new(
            self.pre.engine(),
            Instance::new(
                id,
                kv,
                self.kv_cursors.clone(),
                self.limits.memory_bytes,
                deadline,
                EgressHooks::new(self.egress.clone()),
            ),
        );
        store.limiter(|i| &mut i.limits);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(|mut ctx| {
            let instance = ctx.data_mut();
            if Instant::now() >= instance.deadline {
                instance.timed_out = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let setup = (|| {
            let req = store
                .data_mut()
                .http()
                .new_incoming_request(Scheme::Http, req)?;
            let out = store.data_mut().http().new_response_outparam(sender)?;
            Ok::<_, wasmtime::Error>((req, out))
        })();
        let (req, out) = setup.map_err(|e| GuestFailure::Trap(format!("{e:#}")))?;
        let pre = self.pre.clone();
        let limits = self.limits;
        let task = tokio::task::spawn(async move {
            let run = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, req, out)
                    .await
            };
            // A backstop for a guest blocked in a host call, where epochs are never checked.
            let result = tokio::time::timeout(limits.deadline + EPOCH_TICK * 50, run).await;
            let outcome = classify(result, store.data(), limits);
            drop(store);
            drop(slot); // the instance is gone: its slot is free
            outcome
        });
        match receiver.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(GuestFailure::ErrorCode(format!("{code:?}"))),
            Err(_) => Err(match task.await {
                Ok(Ok(())) => GuestFailure::NoResponse,
                Ok(Err(failure)) => failure,
                Err(e) => GuestFailure::Trap(format!("the guest task failed: {e}")),
            }),
        }
        .inspect_err(|failure| tracing::warn!(request = id, "request failed: {failure}"))
    }
}

fn classify(
    result: Result<wasmtime::Result<()>, tokio::time::error::Elapsed>,
    instance: &Instance,
    limits: AppLimits,
) -> Result<(), GuestFailure> {
    match result {
        Ok(Ok(())) => Ok(()),
        Err(_) => Err(GuestFailure::Timeout(limits.deadline)),
        Ok(Err(_)) if instance.timed_out => Err(GuestFailure::Timeout(limits.deadline)),
        Ok(Err(_)) if instance.limits.exhausted => {
            Err(GuestFailure::OutOfMemory(limits.memory_bytes >> 20))
        }
        Ok(Err(e)) => Err(GuestFailure::Trap(format!("{e:#}"))),
    }
}

//! Serving a request with an app: a fresh instance per request from the app's pre-linked
//! `ProxyPre` (or, for an app that chose `instance_reuse`, one kept from its earlier requests:
//! `warm`), run in the caller's task until it answers (no task per request and no hop to
//! another worker thread), a deadline enforced with epoch interruption (yielding to the executor
//! every tick so a looping guest never holds a worker thread), a memory cap, and the failure of
//! that request alone when the guest traps, runs out of time or out of memory. A caller that stops
//! waiting before the guest answers abandons the request and cancels the guest; a response body
//! dropped before its end cancels the guest still writing it (`abandon`).

use crate::abandon::{self, Abandoned, GuardedBody, WatchedBody};
use crate::cache;
use crate::egress::{EgressHooks, EgressPolicy};
use crate::engine::{Runtime, EPOCH_TICK};
use crate::instance::Instance;
use crate::keyvalue::{self, DraftCursors};
use crate::kv::{self, Grants, KvCtx};
use crate::metrics::AppRuns;
use crate::spans;
use crate::warm::{IdleInstances, WarmInstance, WarmPool};
use crate::LoadError;
use edgekv_store::{Interface, Store};
use http_body_util::BodyExt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore, TryAcquireError};
use tracing::Instrument;
use wasmtime::component::Linker;
use wasmtime::UpdateDeadline;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
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
    /// How many requests one instance serves, one at a time, before it is discarded: 1 is a
    /// fresh instance per request; more keep the guest's globals from one request to the next on
    /// that instance (a run that does not end well discards it at once).
    pub instance_reuse: u32,
}

impl Default for AppLimits {
    fn default() -> Self {
        AppLimits {
            deadline: Duration::from_secs(30),
            memory_bytes: 128 << 20,
            instance_reuse: 1,
        }
    }
}

/// Why a request failed inside the guest.
#[derive(Debug, thiserror::Error)]
pub enum GuestFailure {
    /// The guest was still running when its deadline, the duration held, passed.
    #[error("the guest ran past its {0:?} deadline")]
    Timeout(Duration),
    /// The guest failed after a memory growth past its cap was refused; holds the cap, in MiB.
    #[error("the guest exhausted its {0} MiB memory limit")]
    OutOfMemory(usize),
    /// The guest trapped, its instance could not be set up, or the runtime panicked running it;
    /// holds wasmtime's message with its causes (a trap's wasm backtrace too), for the log only.
    #[error("the guest trapped: {0}")]
    Trap(String),
    /// The guest's handler returned without setting a response.
    #[error("the guest returned no response")]
    NoResponse,
    /// The guest set an error code instead of a response; holds the code, debug-formatted.
    #[error("the guest answered with an error: {0}")]
    ErrorCode(String),
    /// No instance slot could be had because the engine's slots were closed.
    #[error("the runtime is shutting down")]
    ShuttingDown,
    /// The response body was dropped before its end while the guest was still writing it, and the
    /// guest was cancelled.
    #[error("the response was dropped before its end (the client stopped reading or went away)")]
    ResponseDropped,
}

impl GuestFailure {
    /// What the client is told: the kind of failure, never the guest's own details (a trap's
    /// message and wasm backtrace go to the server log only).
    pub fn summary(&self) -> String {
        match self {
            GuestFailure::Trap(_) => "the guest trapped".into(),
            GuestFailure::ErrorCode(_) => "the guest answered with an error".into(),
            other => other.to_string(),
        }
    }

    /// How a run that failed this way ended, as the metrics' `outcome` label names it. A guest
    /// that set an error code or no response still ran `ok`: the front door's status counts what
    /// the client got.
    pub fn outcome(&self) -> &'static str {
        match self {
            GuestFailure::NoResponse | GuestFailure::ErrorCode(_) => "ok",
            GuestFailure::Trap(_) => "trap",
            GuestFailure::Timeout(_) => "deadline",
            GuestFailure::OutOfMemory(_) => "out_of_memory",
            GuestFailure::ResponseDropped => "response_dropped",
            GuestFailure::ShuttingDown => "shutting_down",
        }
    }

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

/// A request that failed in the guest: its id (as the server log names it) and why.
#[derive(Debug, thiserror::Error)]
#[error("request {request}: {failure}")]
pub struct RequestFailure {
    /// The request's id, as the caller gave it: the log line that has the details carries it.
    pub request: Arc<str>,
    /// What went wrong in the guest.
    #[source]
    pub failure: GuestFailure,
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
    /// Where the app is served: its name in logs, traces and metrics.
    name: Arc<str>,
    /// The engine's instance slots, shared by every app.
    slots: Arc<Semaphore>,
    /// Every app's idle instances, whose slots a request may take; counts requests waiting for one.
    idle: Arc<IdleInstances>,
    /// This app's idle instances, when it reuses them.
    warm: Option<Arc<WarmPool>>,
    /// This app's run counters, when metrics are on.
    runs: Option<AppRuns>,
}

impl App {
    /// Loads (or takes from the cache) and links the component at `path`, the app served at
    /// `route` (as its metrics name it).
    pub fn load(
        runtime: &Runtime,
        route: &str,
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
            // The guest binding's: `wasi:keyvalue` buckets count as their own.
            store: store.via(Interface::Binding),
            grants: Arc::new(grants),
            kv_cursors: Arc::default(),
            limits,
            egress: runtime.options.egress.clone(),
            name: route.into(),
            slots: runtime.slots.clone(),
            idle: runtime.idle.clone(),
            warm: (limits.instance_reuse > 1)
                .then(|| WarmPool::new(limits.instance_reuse, &runtime.idle)),
            runs: runtime.metrics_if_on().map(|m| m.app(route)),
        })
    }

    /// The app's name in logs, traces and metrics: the route it is served at (`/`, `/api`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Serves one request in a fresh instance, once an instance slot is free, or in one kept from
    /// the app's earlier requests when it reuses instances. The guest runs in
    /// the calling task until it answers; the response body may still be streaming from it (in a
    /// task of its own) when this returns. The request body is any `http_body`
    /// body: hyper's `Incoming` from the front door, or one built in memory.
    ///
    /// The caller may give up on the request through `abandon` (the front door does at its request
    /// timeout): no write of it starts after, and once the returned future is dropped the guest is
    /// cancelled. Dropping the future before the guest answered also abandons the request when its
    /// body has not arrived whole; with the whole request in, the guest runs on to its end.
    /// Dropping the response body before its end cancels the guest writing it.
    ///
    /// `request_id` tags the guest's stdout and stderr lines and the log line of a failure.
    pub async fn handle<B>(
        &self,
        req: hyper::Request<B>,
        request_id: Arc<str>,
        abandon: Abandoned,
    ) -> Result<hyper::Response<HyperOutgoingBody>, RequestFailure>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        self.serve(request_id.clone(), req, abandon)
            .await
            .map_err(|failure| RequestFailure {
                request: request_id,
                failure,
            })
            .inspect_err(|f| {
                tracing::warn!(
                    request_id = &*f.request,
                    app = &*self.name,
                    "request failed: {}",
                    f.failure
                )
            })
    }

    async fn serve<B>(
        &self,
        id: Arc<str>,
        req: hyper::Request<B>,
        abandoned: Abandoned,
    ) -> Result<hyper::Response<HyperOutgoingBody>, GuestFailure>
    where
        B: hyper::body::Body<Data = bytes::Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let deadline = Instant::now() + self.limits.deadline;
        let kept = self.warm.as_ref().and_then(|warm| warm.take());
        let (mut store, proxy, slot, served) = match kept {
            Some(mut kept) => {
                kept.store
                    .data_mut()
                    .next_request(id, abandoned.clone(), deadline);
                (kept.store, Some(kept.proxy), kept.slot, kept.served)
            }
            None => {
                let slot = self.slot().await.inspect_err(|f| self.count(f))?;
                (
                    self.new_store(id, abandoned.clone(), deadline),
                    None,
                    slot,
                    0,
                )
            }
        };
        store.set_epoch_deadline(1);
        let req = req.map(|body| WatchedBody::new(body, abandoned.clone()));
        let (sender, receiver) = oneshot::channel();
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
        let runs = self.runs.clone();
        let warm = self.warm.clone();
        let request = abandoned.clone();
        let (cancel, cancelled) = abandon::cancel_on_early_drop();
        let span = spans::guest_call(&self.name);
        let guest: Guest = Box::pin(
            async move {
                let run = async {
                    let proxy = match proxy {
                        Some(proxy) => proxy,
                        None => pre.instantiate_async(&mut store).await?,
                    };
                    proxy
                        .wasi_http_incoming_handler()
                        .call_handle(&mut store, req, out)
                        .await?;
                    Ok(proxy)
                };
                // A backstop for a guest blocked in a host call, where epochs are never checked.
                let result = tokio::time::timeout(limits.deadline + EPOCH_TICK * 50, run);
                let outcome = tokio::select! {
                    result = result => classify(result, store.data(), limits),
                    () = cancelled.wait() => Err(GuestFailure::ResponseDropped),
                };
                if let Some(runs) = runs {
                    runs.count(
                        outcome
                            .as_ref()
                            .map_or_else(GuestFailure::outcome, |_| "ok"),
                    );
                }
                // Memory exhaustion discards the instance even when the guest got over it.
                let kept = !request.is_set() && !store.data().limits.exhausted;
                match (outcome, warm) {
                    (Ok(proxy), Some(warm)) if kept => {
                        warm.keep(WarmInstance {
                            store,
                            proxy,
                            served,
                            slot,
                        });
                        Ok(())
                    }
                    (outcome, _) => {
                        drop(store);
                        drop(slot); // the instance is gone: its slot is free
                        outcome.map(drop)
                    }
                }
            }
            .instrument(span),
        );
        match run_until_answered(guest, receiver, abandoned).await {
            Answer::Response(Ok(response)) => {
                Ok(response.map(|body| GuardedBody::new(body, cancel).boxed_unsync()))
            }
            Answer::Response(Err(code)) => Err(GuestFailure::ErrorCode(format!("{code:?}"))),
            Answer::Ended(Ok(())) => Err(GuestFailure::NoResponse),
            Answer::Ended(Err(failure)) => Err(failure),
        }
    }
}

impl App {
    /// The store of a fresh instance for one request.
    fn new_store(
        &self,
        id: Arc<str>,
        abandoned: Abandoned,
        deadline: Instant,
    ) -> wasmtime::Store<Instance> {
        let kv = KvCtx {
            store: self.store.clone(),
            grants: self.grants.clone(),
            abandoned,
        };
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
        store.epoch_deadline_callback(|mut ctx| {
            let instance = ctx.data_mut();
            if Instant::now() >= instance.deadline {
                instance.timed_out = true;
                return Ok(UpdateDeadline::Interrupt);
            }
            Ok(UpdateDeadline::Yield(1))
        });
        store
    }

    /// An instance slot: at once when one is free, else an idle instance's (of any app), else
    /// once one frees (counted as waiting until it has one, however it stops waiting).
    async fn slot(&self) -> Result<OwnedSemaphorePermit, GuestFailure> {
        match self.slots.clone().try_acquire_owned() {
            Ok(slot) => return Ok(slot),
            Err(TryAcquireError::Closed) => return Err(GuestFailure::ShuttingDown),
            Err(TryAcquireError::NoPermits) => {}
        }
        let (_wanting, evicted) = self.idle.want_slot();
        if evicted {
            if let Ok(slot) = self.slots.clone().try_acquire_owned() {
                return Ok(slot);
            }
        }
        self.slots
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| GuestFailure::ShuttingDown)
    }

    fn count(&self, failure: &GuestFailure) {
        if let Some(runs) = &self.runs {
            runs.count(failure.outcome());
        }
    }
}

/// A guest's run, from instantiation to the end of its handler.
type Guest = Pin<Box<dyn Future<Output = Result<(), GuestFailure>> + Send>>;

type ResponseResult = Result<hyper::Response<HyperOutgoingBody>, ErrorCode>;

enum Answer {
    /// What the guest passed to `response-outparam.set`.
    Response(ResponseResult),
    /// The guest ended without setting a response.
    Ended(Result<(), GuestFailure>),
}

/// Runs `guest` in the calling task until it answers. A guest still running then (writing its
/// body, or past it) goes on in a task of its own, so the response streams meanwhile; so does one
/// whose caller goes away first after the whole request arrived (its client hung up). One whose
/// request was abandoned, or whose body had not arrived whole, is cancelled there.
async fn run_until_answered(
    guest: Guest,
    mut receiver: oneshot::Receiver<ResponseResult>,
    abandoned: Abandoned,
) -> Answer {
    let mut guest = Inline {
        guest: Some(guest),
        answered: false,
        abandoned,
    };
    let answer = std::future::poll_fn(|cx| {
        if let Poll::Ready(outcome) = guest.poll(cx) {
            return Poll::Ready(match receiver.try_recv() {
                Ok(response) => Answer::Response(response),
                Err(_) => Answer::Ended(outcome),
            });
        }
        // A closed channel (the guest dropped its outparam unset) is answered when the guest ends.
        match Pin::new(&mut receiver).poll(cx) {
            Poll::Ready(Ok(response)) => Poll::Ready(Answer::Response(response)),
            Poll::Ready(Err(_)) | Poll::Pending => Poll::Pending,
        }
    })
    .await;
    guest.answered = true;
    // Most guests finish their body without waiting: one more turn often saves the task.
    std::future::poll_fn(|cx| Poll::Ready(guest.poll(cx).is_ready())).await;
    answer
}

/// A guest run in its caller's task. Dropped while still running, it moves to a task of its own,
/// unless it has not answered and its request was abandoned or is missing some of its body: then
/// the request is abandoned and the guest cancelled.
struct Inline {
    guest: Option<Guest>,
    answered: bool,
    abandoned: Abandoned,
}

impl Inline {
    /// Polls the guest, once it has not ended; a panic in wasmtime or a host call fails this
    /// request only.
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), GuestFailure>> {
        let Some(guest) = self.guest.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let polled = std::panic::catch_unwind(AssertUnwindSafe(|| guest.as_mut().poll(cx)))
            .unwrap_or_else(|_| {
                Poll::Ready(Err(GuestFailure::Trap(
                    "the runtime panicked running the guest".into(),
                )))
            });
        if polled.is_ready() {
            self.guest = None;
        }
        polled
    }
}

impl Drop for Inline {
    fn drop(&mut self) {
        let Some(guest) = self.guest.take() else {
            return;
        };
        if !self.answered && (self.abandoned.is_set() || !self.abandoned.body_whole()) {
            // Writes already on their way to a commit may land; none may start after this.
            self.abandoned.set();
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(guest);
        }
    }
}

fn classify<T>(
    result: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    instance: &Instance,
    limits: AppLimits,
) -> Result<T, GuestFailure> {
    match result {
        Ok(Ok(done)) => Ok(done),
        Err(_) => Err(GuestFailure::Timeout(limits.deadline)),
        Ok(Err(_)) if instance.timed_out => Err(GuestFailure::Timeout(limits.deadline)),
        Ok(Err(_)) if instance.limits.exhausted => {
            Err(GuestFailure::OutOfMemory(limits.memory_bytes >> 20))
        }
        Ok(Err(e)) => Err(GuestFailure::Trap(format!("{e:#}"))),
    }
}

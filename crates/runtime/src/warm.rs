//! Instances kept between requests, for apps that choose it (`instance_reuse = N`): such an app
//! serves up to N requests, one at a time, from one instance before it is discarded, as Workers
//! reuse an isolate, so the guest's globals survive from one request to the next on that instance.
//! An instance whose run did not end well (a trap, a deadline, memory exhaustion, a cancelled or
//! abandoned request) is never kept.
//!
//! An idle instance waits in its app's pool and keeps its instance slot. A request that finds no
//! slot free takes one from an idle instance (of any app) before it waits, and an instance that
//! ends its run while requests wait for a slot gives its slot up instead of idling: warm instances
//! never keep a request waiting.

use crate::instance::Instance;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::OwnedSemaphorePermit;
use wasmtime_wasi_http::p2::bindings::Proxy;

/// An instance that has served requests and may serve more, with the slot it holds.
pub(crate) struct WarmInstance {
    pub store: wasmtime::Store<Instance>,
    pub proxy: Proxy,
    /// Requests it has served.
    pub served: u32,
    /// Declared after the store, so it drops after it: the instance is gone before its slot frees.
    pub slot: OwnedSemaphorePermit,
}

/// One app's idle instances, the most recently used last.
pub(crate) struct WarmPool {
    /// Requests one instance may serve.
    reuse: u32,
    idle: Mutex<Vec<WarmInstance>>,
    runtime: Arc<IdleInstances>,
}

impl WarmPool {
    /// A pool for an app whose instances serve up to `reuse` requests, registered with the
    /// runtime so that requests of every app can take its idle slots.
    pub fn new(reuse: u32, runtime: &Arc<IdleInstances>) -> Arc<WarmPool> {
        let pool = Arc::new(WarmPool {
            reuse,
            idle: Mutex::default(),
            runtime: runtime.clone(),
        });
        let mut pools = runtime.pools.lock().unwrap_or_else(|e| e.into_inner());
        pools.retain(|p| p.strong_count() > 0);
        pools.push(Arc::downgrade(&pool));
        pool
    }

    /// The most recently used idle instance, if any.
    pub fn take(&self) -> Option<WarmInstance> {
        self.lock().pop()
    }

    /// Keeps `instance`, which just served a request that ended well, for the next request,
    /// unless it has served its share or a request is waiting for its slot.
    pub fn keep(&self, mut instance: WarmInstance) {
        instance.served += 1;
        if instance.served >= self.reuse || instance.slot.semaphore().is_closed() {
            return;
        }
        let mut idle = self.lock();
        // Checked under the lock a waiting request takes to look for idle instances: either it
        // sees this instance or this sees it waiting.
        if self.runtime.wanting.load(Ordering::SeqCst) == 0 {
            idle.push(instance);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<WarmInstance>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Every app's pool of idle instances, for requests that need a slot, and the count of those
/// requests (the metrics' slot waiters).
#[derive(Default)]
pub(crate) struct IdleInstances {
    pools: Mutex<Vec<Weak<WarmPool>>>,
    /// Requests looking for a slot that none was free for.
    wanting: AtomicUsize,
}

impl std::fmt::Debug for IdleInstances {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdleInstances")
            .field("wanting", &self.waiting())
            .finish_non_exhaustive()
    }
}

impl IdleInstances {
    /// Requests waiting for a slot now.
    pub fn waiting(&self) -> usize {
        self.wanting.load(Ordering::SeqCst)
    }

    /// Marks a request as wanting a slot until the returned guard drops, and discards the least
    /// recently used idle instance (of any app), whose slot then frees. Returns whether one was.
    pub fn want_slot(&self) -> (Wanting<'_>, bool) {
        self.wanting.fetch_add(1, Ordering::SeqCst);
        let wanting = Wanting(self);
        let pools: Vec<Arc<WarmPool>> = {
            let pools = self.pools.lock().unwrap_or_else(|e| e.into_inner());
            pools.iter().filter_map(Weak::upgrade).collect()
        };
        for pool in pools {
            let mut idle = pool.lock();
            if !idle.is_empty() {
                let evicted = idle.remove(0);
                drop(idle);
                drop(evicted);
                return (wanting, true);
            }
        }
        (wanting, false)
    }
}

/// A request wanting a slot; dropped once it has one or stops waiting.
pub(crate) struct Wanting<'a>(&'a IdleInstances);

impl Drop for Wanting<'_> {
    fn drop(&mut self) {
        self.0.wanting.fetch_sub(1, Ordering::SeqCst);
    }
}

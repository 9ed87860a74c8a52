//! The state of one guest instance: WASI (its wall clock the store's when that is manual),
//! `wasi:http` (outgoing requests behind the app's egress policy), the KV bindings (`edgekv:kv`
//! and `wasi:keyvalue`), its resource table, the memory cap, and what ended it (deadline or
//! memory) when it failed. What belongs to the request it serves (its id, whether it was
//! abandoned, its deadline) is set again for each request of an instance kept between requests.

use crate::abandon::Abandoned;
use crate::egress::EgressHooks;
use crate::guest_log::GuestLog;
use crate::keyvalue::{DraftCursors, KeyValueView};
use crate::kv::{KvCtx, KvView};
use edgekv_store::Store;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmtime::component::ResourceTable;
use wasmtime::ResourceLimiter;
use wasmtime_wasi::{HostWallClock, WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct Instance {
    wasi: WasiCtx,
    /// Its stdout and stderr.
    logs: [GuestLog; 2],
    http: WasiHttpCtx,
    /// What the guest's outgoing requests go through.
    egress: EgressHooks,
    table: ResourceTable,
    pub kv: KvCtx,
    /// The app's numeric `wasi:keyvalue@0.2.0-draft` list cursors (shared by its instances).
    pub kv_cursors: Arc<DraftCursors>,
    pub limits: MemoryCap,
    pub deadline: Instant,
    pub timed_out: bool,
}

impl Instance {
    pub fn new(
        request_id: Arc<str>,
        kv: KvCtx,
        kv_cursors: Arc<DraftCursors>,
        memory_bytes: usize,
        deadline: Instant,
        egress: EgressHooks,
    ) -> Self {
        let logs = GuestLog::pair(request_id);
        let mut wasi = WasiCtx::builder();
        wasi.stdout(logs[0].clone()).stderr(logs[1].clone());
        if kv.store.clock_is_manual() {
            wasi.wall_clock(StoreClock(kv.store.clone()));
        }
        let wasi = wasi.build();
        Instance {
            wasi,
            logs,
            http: WasiHttpCtx::new(),
            egress,
            table: ResourceTable::new(),
            kv,
            kv_cursors,
            limits: MemoryCap {
                max_bytes: memory_bytes,
                exhausted: false,
            },
            deadline,
            timed_out: false,
        }
    }

    /// Readies an instance that served a request for the next one.
    pub fn next_request(&mut self, request_id: Arc<str>, abandoned: Abandoned, deadline: Instant) {
        GuestLog::next_request(&self.logs, request_id);
        self.kv.abandoned = abandoned;
        self.deadline = deadline;
        self.timed_out = false;
    }

    pub fn kv_view(&mut self) -> KvView<'_> {
        KvView {
            table: &mut self.table,
            ctx: &self.kv,
        }
    }

    pub fn keyvalue_view(&mut self) -> KeyValueView<'_> {
        KeyValueView {
            table: &mut self.table,
            ctx: &self.kv,
            cursors: &self.kv_cursors,
        }
    }
}

impl WasiView for Instance {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for Instance {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.egress,
        }
    }
}

/// `wasi:clocks/wall-clock` on the store's manual clock, so a guest's `Date.now()` agrees with the
/// expiry the store applies. The monotonic clock stays real: it times, it does not tell the date.
struct StoreClock(Store);

impl HostWallClock for StoreClock {
    fn resolution(&self) -> Duration {
        Duration::from_millis(1)
    }

    fn now(&self) -> Duration {
        Duration::from_millis(u64::try_from(self.0.now_ms()).unwrap_or(0))
    }
}

/// Caps the linear memory of an instance and remembers whether the guest hit the cap.
pub struct MemoryCap {
    max_bytes: usize,
    pub exhausted: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            self.exhausted = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

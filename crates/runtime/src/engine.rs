//! The wasmtime engine: component model, epoch interruption driven by a ticker thread, and the pooling
//! allocator sized from one knob and kept warm (memory, tables and stacks stay resident between
//! instances and are reset cheaply), with a fallback to on-demand allocation where the address space
//! cannot be reserved.

use crate::metrics::RuntimeMetrics;
use crate::warm::IdleInstances;
use crate::LoadError;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::sync::Semaphore;
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; deadlines are counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine-wide settings.
#[derive(Clone)]
pub struct RuntimeOptions {
    /// Guest instances that may run at once: the pooling allocator's slots, which it reserves and
    /// sets up when the engine starts (about 8 µs each, most of it a guard page per fiber stack).
    /// Requests past this many wait for a slot rather than fail.
    pub max_instances: u32,
    /// The largest linear memory any app may be given, in bytes.
    pub max_memory_bytes: usize,
    /// Use the pooling allocator if the machine allows it.
    pub pooling: bool,
    /// Where compiled components are cached; `None` disables the cache.
    pub cache_dir: Option<std::path::PathBuf>,
    /// Which outgoing HTTP requests guests may not send; `None` allows all.
    pub egress: Option<crate::EgressPolicy>,
}

impl std::fmt::Debug for RuntimeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeOptions")
            .field("max_instances", &self.max_instances)
            .field("max_memory_bytes", &self.max_memory_bytes)
            .field("pooling", &self.pooling)
            .field("cache_dir", &self.cache_dir)
            .field("egress", &self.egress.is_some())
            .finish()
    }
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            max_instances: 128,
            max_memory_bytes: 128 << 20,
            pooling: true,
            cache_dir: None,
            egress: None,
        }
    }
}

/// A wasmtime engine shared by every app, with its epoch ticker.
#[derive(Clone)]
pub struct Runtime {
    pub(crate) engine: Engine,
    pub(crate) options: Arc<RuntimeOptions>,
    /// One permit per instance slot, held while an instance exists.
    pub(crate) slots: Arc<Semaphore>,
    /// Instances kept between requests, idle, whose slots a request may take, and the requests
    /// waiting for a slot.
    pub(crate) idle: Arc<IdleInstances>,
    /// Set once metrics are on ([`Runtime::metrics`]).
    metrics: Arc<OnceLock<Arc<RuntimeMetrics>>>,
}

impl Runtime {
    /// Builds the engine (pooling if possible) and starts the epoch ticker.
    pub fn new(options: RuntimeOptions) -> Result<Runtime, LoadError> {
        let engine = match options.pooling {
            true => Engine::new(&config(Some(&options))).or_else(|e| {
                tracing::warn!("pooling allocator unavailable ({e}); using on-demand allocation");
                Engine::new(&config(None))
            }),
            false => Engine::new(&config(None)),
        }
        .map_err(|e| LoadError::Engine(e.to_string()))?;
        start_ticker(&engine);
        Ok(Runtime {
            engine,
            slots: Arc::new(Semaphore::new(options.max_instances as usize)),
            idle: Arc::default(),
            metrics: Arc::default(),
            options: Arc::new(options),
        })
    }

    /// Turns counting on for the apps loaded from now on and returns the metrics, to register
    /// with a Prometheus registry.
    pub fn metrics(&self) -> Arc<RuntimeMetrics> {
        self.metrics
            .get_or_init(|| {
                Arc::new(RuntimeMetrics::new(
                    self.slots.clone(),
                    self.options.max_instances,
                    self.idle.clone(),
                ))
            })
            .clone()
    }

    /// The metrics, if they are on.
    pub(crate) fn metrics_if_on(&self) -> Option<&RuntimeMetrics> {
        self.metrics.get().map(Arc::as_ref)
    }

    /// The same engine, with `egress` as the policy of the apps loaded through it from now on.
    pub fn with_egress(mut self, egress: Option<crate::EgressPolicy>) -> Runtime {
        let mut options = (*self.options).clone();
        options.egress = egress;
        self.options = Arc::new(options);
        self
    }

    /// The options this runtime was built with, including the egress policy apps load with.
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }
}

fn config(pooling: Option<&RuntimeOptions>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true);
    if let Some(options) = pooling {
        let n = options.max_instances;
        let mut pool = PoolingAllocationConfig::default();
        // Core instances are only counted, not reserved: room for 16 per slot keeps every slot
        // usable by a componentize-py guest (14 core instances).
        pool.total_component_instances(n)
            .total_core_instances(n * 16)
            .total_memories(n * 2)
            .total_tables(n * 4)
            .total_stacks(n)
            .max_memory_size(options.max_memory_bytes)
            .linear_memory_keep_resident(2 << 20)
            .table_keep_resident(64 << 10)
            .async_stack_keep_resident(256 << 10)
            .pagemap_scan(Enabled::Auto);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// Advances the engine's epoch every tick for as long as the engine lives.
fn start_ticker(engine: &Engine) {
    let weak = engine.weak();
    let spawned = std::thread::Builder::new()
        .name("edgekv-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => return,
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the epoch ticker, guest deadlines will not fire: {e}");
    }
}

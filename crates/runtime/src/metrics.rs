//! What the runtime counts for its operators: each app's guest runs by outcome (ok, trap,
//! deadline, out of memory, ...), the instance slots in use and the requests waiting for one.
//!
//! Counting is off until [`crate::Runtime::metrics`] is called, before the apps are loaded (the
//! server does when its metrics are on). Each app resolves its counters once, when it loads, so a
//! run costs one atomic add. The slots are read from the runtime's semaphore at each scrape.

use crate::warm::IdleInstances;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// How a guest run ended, as the `outcome` label names it (see `GuestFailure::outcome`).
const OUTCOMES: [&str; 6] = [
    "ok",
    "trap",
    "deadline",
    "out_of_memory",
    "response_dropped",
    "shutting_down",
];

/// The labels of `edgekv_guest_runs_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RunLabels {
    /// The app's route, as the config declares it.
    app: String,
    outcome: &'static str,
}

/// The runtime's metrics. Register them with [`RuntimeMetrics::register`].
#[derive(Debug)]
pub struct RuntimeMetrics {
    runs: Family<RunLabels, Counter>,
    slots: Slots,
}

impl RuntimeMetrics {
    pub(crate) fn new(slots: Arc<Semaphore>, capacity: u32, idle: Arc<IdleInstances>) -> Self {
        RuntimeMetrics {
            runs: Family::default(),
            slots: Slots {
                slots,
                capacity,
                idle,
            },
        }
    }

    /// Adds every metric of the runtime to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "edgekv_guest_runs",
            "Guest runs by app and how they ended",
            self.runs.clone(),
        );
        registry.register_collector(Box::new(self.slots.clone()));
    }

    /// The counters of the app at `route`, one per outcome.
    pub(crate) fn app(&self, route: &str) -> AppRuns {
        let counter = |outcome| {
            self.runs.get_or_create_owned(&RunLabels {
                app: route.to_string(),
                outcome,
            })
        };
        AppRuns(OUTCOMES.map(counter))
    }
}

/// One app's run counters, in [`OUTCOMES`]' order.
#[derive(Debug, Clone)]
pub(crate) struct AppRuns([Counter; OUTCOMES.len()]);

impl AppRuns {
    /// Counts a run that ended with `outcome`, one of [`OUTCOMES`].
    pub fn count(&self, outcome: &str) {
        if let Some(index) = OUTCOMES.iter().position(|o| *o == outcome) {
            self.0[index].inc();
        }
    }
}

/// The instance slots, read at each scrape.
#[derive(Debug, Clone)]
struct Slots {
    slots: Arc<Semaphore>,
    capacity: u32,
    /// Counts the requests waiting for a slot.
    idle: Arc<IdleInstances>,
}

impl Collector for Slots {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let free = self.slots.available_permits() as i64;
        let gauges = [
            (
                "edgekv_instance_slots",
                "Guest instances that may run at once (--max-instances)",
                i64::from(self.capacity),
            ),
            (
                "edgekv_instance_slots_in_use",
                "Instance slots held: guests running, and idle reused instances",
                i64::from(self.capacity) - free,
            ),
            (
                "edgekv_instance_slot_waiters",
                "Requests waiting for a free instance slot",
                i64::try_from(self.idle.waiting()).unwrap_or(i64::MAX),
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

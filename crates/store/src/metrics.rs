//! What the store counts for its operators, in Prometheus' types: every entry operation by the
//! access path that made it ([`Interface`]), the operation and its outcome (the rule broken, when
//! one was); the writer's commit groups (their size and how long each took, and those that
//! failed); the jobs waiting for the writer; and the point-read cache's hits and misses.
//!
//! Counting is off until [`crate::Store::metrics`] is called once (the server does when its
//! metrics are on): until then each hook is one check of an unset cell. Label sets are bounded:
//! no key, namespace or value ever becomes a label.

use crate::error::StoreError;
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue, LabelValueEncoder};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::fmt::Write;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The access path a store handle serves (`interface` label): set with [`crate::Store::via`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Interface {
    /// The store's own work and callers that did not say (seeds, sweeps, tests).
    #[default]
    Internal,
    /// A guest, through `edgekv:kv/store`.
    Binding,
    /// A guest, through `wasi:keyvalue`.
    WasiKeyvalue,
    /// The Cloudflare Workers KV REST API.
    Cloudflare,
    /// The CloudFront KeyValueStore API.
    Cloudfront,
    /// The Telnyx Edge Compute KV API.
    Telnyx,
    /// The data browser and the admin API.
    Browser,
    /// `edgekv kv`.
    Cli,
}

impl Interface {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Interface::Internal => "internal",
            Interface::Binding => "binding",
            Interface::WasiKeyvalue => "wasi_keyvalue",
            Interface::Cloudflare => "cloudflare",
            Interface::Cloudfront => "cloudfront",
            Interface::Telnyx => "telnyx",
            Interface::Browser => "browser",
            Interface::Cli => "cli",
        }
    }
}

/// An entry operation, as the `operation` label names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Operation {
    Get,
    GetMany,
    Put,
    Delete,
    Batch,
    Import,
    List,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Get => "get",
            Operation::GetMany => "get_many",
            Operation::Put => "put",
            Operation::Delete => "delete",
            Operation::Batch => "batch",
            Operation::Import => "import",
            Operation::List => "list",
        }
    }
}

macro_rules! label_value {
    ($($t:ty),*) => {$(
        impl EncodeLabelValue for $t {
            fn encode(&self, encoder: &mut LabelValueEncoder) -> Result<(), std::fmt::Error> {
                encoder.write_str(self.as_str())
            }
        }
    )*};
}
label_value!(Interface, Operation);

/// The labels of `edgekv_kv_operations_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct OperationLabels {
    interface: Interface,
    operation: Operation,
    /// `ok`, or what went wrong: `key_not_found`, `namespace_not_found`, `namespace_not_ready`,
    /// `precondition_failed`, `rule_broken`, `invalid_cursor`, `unavailable`.
    outcome: &'static str,
    /// The rule broken (its snake_case name), empty unless `outcome` is `rule_broken`.
    rule: &'static str,
}

/// The labels of `edgekv_store_point_read_cache_lookups_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct CacheLabels {
    /// `hit` or `miss`.
    result: &'static str,
}

/// The store's metrics. Register them with [`StoreMetrics::register`].
#[derive(Debug)]
pub struct StoreMetrics {
    operations: Family<OperationLabels, Counter>,
    group_writes: Histogram,
    group_seconds: Histogram,
    failed_groups: Counter,
    queued: Gauge,
    cache: Family<CacheLabels, Counter>,
}

impl Default for StoreMetrics {
    fn default() -> Self {
        StoreMetrics {
            operations: Family::default(),
            group_writes: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            group_seconds: Histogram::new(exponential_buckets(0.000_05, 2.0, 16)),
            failed_groups: Counter::default(),
            queued: Gauge::default(),
            cache: Family::default(),
        }
    }
}

impl StoreMetrics {
    /// Adds every metric of the store to `registry`.
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "edgekv_kv_operations",
            "Entry operations by access path, operation and outcome",
            self.operations.clone(),
        );
        registry.register(
            "edgekv_store_commit_group_writes",
            "Writes committed together in one transaction of the writer",
            self.group_writes.clone(),
        );
        registry.register_with_unit(
            "edgekv_store_commit_group_duration",
            "Time from a commit group's begin to its commit",
            Unit::Seconds,
            self.group_seconds.clone(),
        );
        registry.register(
            "edgekv_store_commit_group_failures",
            "Commit groups whose transaction failed (every write of the group failed with it)",
            self.failed_groups.clone(),
        );
        registry.register(
            "edgekv_store_write_queue_depth",
            "Writes waiting for the writer thread",
            self.queued.clone(),
        );
        registry.register(
            "edgekv_store_point_read_cache_lookups",
            "Point reads looked up in the SQLite point-read cache, by result",
            self.cache.clone(),
        );
    }

    fn operation<T>(
        &self,
        interface: Interface,
        operation: Operation,
        result: &Result<T, StoreError>,
    ) {
        let (outcome, rule) = outcome(result);
        let labels = OperationLabels {
            interface,
            operation,
            outcome,
            rule,
        };
        self.operations.get_or_create(&labels).inc();
    }
}

/// The `outcome` and `rule` labels of a result.
fn outcome<T>(result: &Result<T, StoreError>) -> (&'static str, &'static str) {
    let outcome = match result {
        Ok(_) => "ok",
        Err(StoreError::Rule(violation)) => return ("rule_broken", violation.rule.name()),
        Err(StoreError::KeyNotFound(_)) => "key_not_found",
        Err(StoreError::NamespaceNotFound(_)) => "namespace_not_found",
        Err(StoreError::NamespaceNotReady { .. }) => "namespace_not_ready",
        Err(StoreError::NamespaceExists(_)) => "namespace_exists",
        Err(StoreError::Conflict { .. }) => "precondition_failed",
        Err(StoreError::InvalidCursor) => "invalid_cursor",
        Err(StoreError::Closed | StoreError::Storage(_)) => "unavailable",
    };
    (outcome, "")
}

/// Where a store and its backend record: empty until [`crate::Store::metrics`] fills it. Clones
/// share the cell, so the backend's writer and cache see metrics turned on after they started.
#[derive(Debug, Clone, Default)]
pub struct Observer(Arc<OnceLock<Arc<StoreMetrics>>>);

impl Observer {
    /// The metrics, making them on the first call.
    pub(crate) fn metrics(&self) -> Arc<StoreMetrics> {
        self.0.get_or_init(Arc::default).clone()
    }

    pub(crate) fn operation<T>(
        &self,
        interface: Interface,
        operation: Operation,
        result: &Result<T, StoreError>,
    ) {
        if let Some(metrics) = self.0.get() {
            metrics.operation(interface, operation, result);
        }
    }

    /// A commit group of `writes` ended after `took`, committed or not.
    pub(crate) fn commit_group(&self, writes: usize, took: Duration, committed: bool) {
        if let Some(metrics) = self.0.get() {
            metrics.group_writes.observe(writes as f64);
            metrics.group_seconds.observe(took.as_secs_f64());
            if !committed {
                metrics.failed_groups.inc();
            }
        }
    }

    /// Writes joined (positive) or left (negative) the writer's queue.
    pub(crate) fn queued(&self, change: i64) {
        if let Some(metrics) = self.0.get() {
            metrics.queued.inc_by(change);
        }
    }

    /// A point read was looked up in the cache.
    pub(crate) fn cache_lookup(&self, hit: bool) {
        if let Some(metrics) = self.0.get() {
            let result = if hit { "hit" } else { "miss" };
            metrics.cache.get_or_create(&CacheLabels { result }).inc();
        }
    }
}

//! The server's Prometheus metrics: what the front door counts (requests by route kind, app and
//! status class, with latency histograms; connections open on each listener, and how often each
//! reached its connection cap), gathered into one registry with the store's and the runtime's, which the
//! operations endpoint encodes at each scrape (`GET /_edgekv/metrics`, `/metrics` on the admin
//! listener). Off with `--metrics off`: then nothing is counted anywhere.

use edgekv_runtime::Runtime;
use edgekv_store::Store;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// The labels of `edgekv_http_requests_total`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct RequestLabels {
    /// `app`, `cloudflare`, `cloudfront`, `telnyx`, `browser`, `admin`, `operations` or `none`.
    kind: &'static str,
    /// The app's route for `app` requests, else empty.
    app: String,
    /// `1xx` .. `5xx`.
    status: &'static str,
}

/// The labels of `edgekv_http_request_duration_seconds`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct DurationLabels {
    kind: &'static str,
    app: String,
}

/// The labels of the per-listener connection metrics.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
struct ListenerLabels {
    /// `main`, `admin` or `browser`.
    listener: &'static str,
}

fn latency_histogram() -> Histogram {
    // 50 µs .. about 26 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 20))
}

/// What the front door counts, and the registry every part's metrics are in.
#[derive(Debug)]
pub struct ServerMetrics {
    requests: Family<RequestLabels, Counter>,
    durations: Family<DurationLabels, Histogram, fn() -> Histogram>,
    capped: Family<ListenerLabels, Counter>,
    connections: Arc<OpenConnections>,
    registry: Registry,
}

impl ServerMetrics {
    /// Turns the store's and the runtime's metrics on and gathers them with the front door's.
    pub fn new(store: &Store, runtime: Option<&Runtime>) -> Arc<ServerMetrics> {
        let mut metrics = ServerMetrics {
            requests: Family::default(),
            durations: Family::new_with_constructor(latency_histogram),
            capped: Family::default(),
            connections: Arc::default(),
            registry: Registry::default(),
        };
        let mut registry = Registry::default();
        metrics.register(&mut registry);
        store.metrics().register(&mut registry);
        if let Some(runtime) = runtime {
            runtime.metrics().register(&mut registry);
        }
        metrics.registry = registry;
        Arc::new(metrics)
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(
            "edgekv_http_requests",
            "Requests answered, by route kind, app and status class",
            self.requests.clone(),
        );
        registry.register_with_unit(
            "edgekv_http_request_duration",
            "Time from a request's headers to the end of its response body",
            Unit::Seconds,
            self.durations.clone(),
        );
        registry.register(
            "edgekv_http_connections_capped",
            "Times a listener reached its connection cap (--max-connections) and left new \
             connections waiting in the accept backlog until one closed",
            self.capped.clone(),
        );
        registry.register_collector(Box::new(self.connections.clone()));
    }

    /// The registry, encoded in the Prometheus text format (OpenMetrics).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// Counts a request answered with `status` after `took`.
    pub fn request_done(&self, kind: &'static str, app: &str, status: u16, took: Duration) {
        let status = match status {
            100..=199 => "1xx",
            200..=299 => "2xx",
            300..=399 => "3xx",
            400..=499 => "4xx",
            _ => "5xx",
        };
        let app = app.to_string();
        self.durations
            .get_or_create(&DurationLabels {
                kind,
                app: app.clone(),
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels { kind, app, status })
            .inc();
    }

    /// The listener `name`, whose open connections are the permits taken from `cap` of `capacity`.
    pub fn listener(&self, name: &'static str, cap: Arc<Semaphore>, capacity: usize) -> Counter {
        self.connections
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((name, cap, capacity));
        self.capped
            .get_or_create_owned(&ListenerLabels { listener: name })
    }
}

/// Each listener's open connections, read from its connection cap at each scrape.
#[derive(Debug, Default)]
struct OpenConnections(Mutex<Vec<(&'static str, Arc<Semaphore>, usize)>>);

impl Collector for OpenConnections {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let listeners = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut family = encoder.encode_descriptor(
            "edgekv_http_connections_open",
            "Connections open on each listener",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (name, cap, capacity) in listeners.iter() {
            let open = capacity.saturating_sub(cap.available_permits()) as i64;
            let labels = ListenerLabels { listener: name };
            ConstGauge::new(open).encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

//! The server's log lines and traces. Logs go to stderr, as text for people or as one JSON object
//! per line for machines, filtered by `RUST_LOG` (default: info, wasmtime and cranelift at warn).
//! Traces are exported over OTLP (HTTP/protobuf) when `OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set, configured by the standard `OTEL_*` variables; the
//! spans meant for them are at [`TRACE_TARGET`], which only the trace layer enables, so without an
//! exporter each span costs a disabled-callsite check. Incoming and outgoing requests carry the
//! W3C trace context (`traceparent`, `tracestate`).

use anyhow::Context as _;
use bytes::Bytes;
use clap::ValueEnum;
use edgekv_runtime::TRACE_TARGET;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_http::{HttpClient, HttpError};
use opentelemetry_otlp::{WithExportConfig as _, WithHttpConfig as _};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use std::io::IsTerminal;
use std::time::Duration;
use tokio::runtime::Handle;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The filter when `RUST_LOG` is unset or unreadable.
const DEFAULT_FILTER: &str = "info,wasmtime=warn,cranelift=warn";

/// The service name traces carry unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES` names one.
const SERVICE_NAME: &str = "edgekv";

/// How long one export may take (as `OTEL_EXPORTER_OTLP_TIMEOUT`'s default).
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest collector response read.
const MAX_RESPONSE: usize = 1 << 20;

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// One line of text per event, coloured when stderr is a terminal.
    #[default]
    Text,
    /// One JSON object per event: `timestamp`, `level`, `target`, `message` and the event's
    /// fields, all at the top level.
    Json,
}

/// The trace exporter, while there is one: shut it down to send what it holds.
#[must_use = "shut it down to send the spans it holds"]
pub struct Telemetry {
    traces: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Sends the spans not exported yet and stops the exporter.
    pub fn shutdown(self) {
        if let Some(traces) = self.traces {
            if let Err(e) = traces.shutdown() {
                tracing::warn!("could not send the last spans: {e}");
            }
        }
    }
}

/// Installs the process's log subscriber, with no traces.
pub fn init_logs(format: LogFormat) {
    tracing_subscriber::registry()
        .with(log_layer(format))
        .init();
}

/// Installs the process's log subscriber and, when an OTLP endpoint is configured, the trace
/// exporter, whose HTTP requests run on `runtime`.
pub fn init(format: LogFormat, runtime: &Handle) -> anyhow::Result<Telemetry> {
    let traces = traces_configured()
        .then(|| tracer_provider(runtime.clone()))
        .transpose()?;
    let trace_layer = traces.as_ref().map(|provider| {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        tracing_opentelemetry::layer()
            .with_tracer(provider.tracer("edgekv"))
            .with_tracked_inactivity(false)
            .with_threads(false)
            .with_location(false)
            .with_filter(Targets::new().with_target(TRACE_TARGET, LevelFilter::INFO))
    });
    tracing_subscriber::registry()
        .with(log_layer(format))
        .with(trace_layer)
        .init();
    Ok(Telemetry { traces })
}

/// The variables that name where traces go.
const ENDPOINT_VARIABLES: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// Whether the environment names an OTLP endpoint for traces.
fn traces_configured() -> bool {
    ENDPOINT_VARIABLES
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Refuses an https endpoint: the exporter speaks plain HTTP (a local collector forwards over TLS).
fn ensure_plain_http() -> anyhow::Result<()> {
    for name in ENDPOINT_VARIABLES {
        if let Ok(endpoint) = std::env::var(name) {
            if endpoint.trim().to_ascii_lowercase().starts_with("https:") {
                anyhow::bail!(
                    "{name}={endpoint}: edgekv exports traces over plain HTTP; point it at a \
                     local OpenTelemetry collector (http://...) that forwards over TLS"
                );
            }
        }
    }
    Ok(())
}

/// Log lines on stderr, filtered by `RUST_LOG`; never the spans meant for traces.
fn log_layer<S>(format: LogFormat) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER))
        .add_directive(
            format!("{TRACE_TARGET}=off")
                .parse()
                .expect("a constant directive"),
        );
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    match format {
        LogFormat::Text => fmt
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(filter)
            .boxed(),
        LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(filter)
            .boxed(),
    }
}

/// A tracer provider exporting in batches (`OTEL_BSP_*`) over OTLP HTTP/protobuf to the endpoint
/// the `OTEL_EXPORTER_OTLP_*` variables name.
fn tracer_provider(runtime: Handle) -> anyhow::Result<SdkTracerProvider> {
    ensure_plain_http()?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(ExportClient::new(runtime))
        .build()
        .context("setting up the OTLP trace exporter (OTEL_EXPORTER_OTLP_* variables)")?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource())
        .build())
}

/// The SDK's resource (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`), named `edgekv` when they
/// name no service.
fn resource() -> Resource {
    let named = std::env::var("OTEL_SERVICE_NAME").is_ok_and(|name| !name.is_empty())
        || std::env::var("OTEL_RESOURCE_ATTRIBUTES").is_ok_and(|attributes| {
            attributes
                .split(',')
                .any(|pair| pair.trim_start().starts_with("service.name="))
        });
    let resource = Resource::builder();
    match named {
        true => resource.build(),
        false => resource.with_service_name(SERVICE_NAME).build(),
    }
}

/// The exporter's HTTP client: hyper's, on the server's tokio runtime (the batch exporter runs on
/// a thread of its own, outside any runtime).
#[derive(Debug, Clone)]
struct ExportClient {
    runtime: Handle,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl ExportClient {
    fn new(runtime: Handle) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        ExportClient { runtime, client }
    }
}

#[async_trait::async_trait]
impl HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: http::Request<Bytes>,
    ) -> Result<http::Response<Bytes>, HttpError> {
        let client = self.client.clone();
        let exchange = async move {
            let response = client.request(request.map(Full::new)).await?;
            let (head, body) = response.into_parts();
            let body = Limited::new(body, MAX_RESPONSE).collect().await?.to_bytes();
            Ok::<_, HttpError>(http::Response::from_parts(head, body))
        };
        // The timer is made on the runtime too: the exporter's thread has none.
        let sent = self
            .runtime
            .spawn(async move { tokio::time::timeout(EXPORT_TIMEOUT, exchange).await })
            .await?;
        let result = sent.unwrap_or_else(|_| Err("the collector did not answer in time".into()));
        if let Err(e) = &result {
            tracing::debug!("trace export failed: {e}");
        }
        result
    }
}

//! The runtime's spans for traces: the guest call of a request and each KV operation of its
//! bindings (its name, interface, binding and outcome; never the key or the value), and the W3C
//! trace context a guest's outgoing requests carry. The spans are at a target only the trace
//! exporter enables: with none configured, each costs a disabled-callsite check.

use opentelemetry_http::HeaderInjector;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The target of every span meant for traces (the log's filter leaves it out).
pub const TRACE_TARGET: &str = "edgekv::trace";

/// The span of one guest call: instantiation, the handler, and the body it writes.
pub(crate) fn guest_call(app: &str) -> Span {
    tracing::info_span!(target: TRACE_TARGET, "guest", otel.name = "guest call", edgekv.app = app)
}

/// The span of one KV operation of a guest: `interface` (`edgekv:kv` or `wasi:keyvalue`), the
/// operation's name, and the binding the guest opened the namespace with.
pub(crate) fn kv_operation(
    interface: &'static str,
    operation: &'static str,
    binding: &str,
) -> Span {
    tracing::info_span!(
        target: TRACE_TARGET,
        "kv",
        otel.name = operation,
        kv.interface = interface,
        kv.operation = operation,
        kv.binding = binding,
        kv.outcome = Empty,
    )
}

/// Records how a KV operation ended: `ok`, or the name of the error (the rule broken).
pub(crate) fn kv_outcome(span: &Span, outcome: &str) {
    span.record("kv.outcome", outcome);
}

/// Adds the current span's trace context (`traceparent`, `tracestate`) to an outgoing request's
/// headers, with the propagator the trace exporter installed (none: nothing is added).
pub(crate) fn propagate(headers: &mut http::HeaderMap) {
    let context = Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut HeaderInjector(headers))
    });
}

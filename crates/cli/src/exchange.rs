//! One request-response exchange as the operator sees it: what kind of route served it, its
//! request id (the client's `x-request-id` when it is safe to echo, else a fresh one), which app
//! answered, when it started and how many body bytes went out. The exchange ends when the
//! response body has been sent whole or is dropped (the client went away, the connection failed):
//! that end is the single place that writes the access-log line and ends the request's server
//! span (a child of the client's `traceparent`, when it sent one).

use crate::metrics::ServerMetrics;
use edgekv_api::{browser, BoxError, Dialect};
use edgekv_runtime::TRACE_TARGET;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Bytes, Frame, SizeHint};
use hyper::header::HeaderValue;
use hyper::{HeaderMap, Method, Request, Response};
use opentelemetry_http::HeaderExtractor;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;
use tracing::field::Empty;
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The body of every response the front door sends.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// The longest client-given request id kept.
const MAX_REQUEST_ID: usize = 128;

/// What served a request, as access-log fields and metric labels name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteKind {
    /// A guest app.
    App,
    /// The Cloudflare Workers KV API.
    Cloudflare,
    /// The CloudFront KeyValueStore APIs (data and control plane).
    Cloudfront,
    /// The Telnyx Edge Compute KV API.
    Telnyx,
    /// The data browser and its API.
    Browser,
    /// The admin API a test suite drives (clock, snapshots, namespace reset and fork).
    Admin,
    /// The health endpoints and metrics.
    Operations,
    /// Nothing serves the path.
    None,
}

impl RouteKind {
    /// What a request `dialect` serves is: its management API (the admin API's routes share the
    /// browser's mount).
    pub fn of<B>(dialect: Dialect, req: &Request<B>) -> RouteKind {
        match dialect {
            Dialect::Cloudflare => RouteKind::Cloudflare,
            Dialect::CloudfrontData | Dialect::CloudfrontControl => RouteKind::Cloudfront,
            Dialect::Telnyx => RouteKind::Telnyx,
            Dialect::Browser if browser::is_admin(req.method(), req.uri().path()) => {
                RouteKind::Admin
            }
            Dialect::Browser => RouteKind::Browser,
            Dialect::Operations => RouteKind::Operations,
        }
    }

    /// The kind's name in logs and labels.
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::App => "app",
            RouteKind::Cloudflare => "cloudflare",
            RouteKind::Cloudfront => "cloudfront",
            RouteKind::Telnyx => "telnyx",
            RouteKind::Browser => "browser",
            RouteKind::Admin => "admin",
            RouteKind::Operations => "operations",
            RouteKind::None => "none",
        }
    }
}

/// The id of a request: the client's `x-request-id` when it is at most 128 bytes of
/// `[A-Za-z0-9._:/+=-]`, else a fresh UUID (v4, simple form). Either way safe to echo in a header
/// and to write in a log line.
pub fn request_id(headers: &HeaderMap) -> Arc<str> {
    headers
        .get(REQUEST_ID)
        .and_then(|value| value.to_str().ok())
        .filter(|id| is_safe_id(id))
        .map(Arc::from)
        .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string().into())
}

fn is_safe_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= MAX_REQUEST_ID
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._:/+=-".contains(&b))
}

/// One request on its way through the front door.
pub struct Exchange {
    /// The request's id.
    pub id: Arc<str>,
    method: Method,
    kind: RouteKind,
    app: Option<Arc<str>>,
    start: Instant,
    /// The request's server span (disabled unless traces are exported).
    pub span: Span,
    /// Where the exchange is counted, when metrics are on.
    metrics: Option<Arc<ServerMetrics>>,
}

impl Exchange {
    /// An exchange starting now, for `req` received on `local`, served by `kind` (and the app
    /// named `app`, for an app route), counted in `metrics` when they are on.
    pub fn begin<B>(
        req: &Request<B>,
        local: SocketAddr,
        kind: RouteKind,
        app: Option<&str>,
        metrics: Option<Arc<ServerMetrics>>,
    ) -> Exchange {
        let id = request_id(req.headers());
        let span = server_span(req, local, kind, app, &id);
        Exchange {
            id,
            method: req.method().clone(),
            kind,
            app: app.map(Arc::from),
            start: Instant::now(),
            span,
            metrics,
        }
    }

    /// Sends `response` as this exchange's answer: tags it with the request id, and counts its
    /// body to the end, where the exchange ends.
    pub fn respond(self, mut response: Response<Body>) -> Response<Body> {
        if let Ok(id) = HeaderValue::from_str(&self.id) {
            response.headers_mut().insert(REQUEST_ID, id);
        }
        let status = response.status().as_u16();
        // As i64: the trace layer keeps integers only as signed ones (a u64 becomes text).
        self.span
            .record("http.response.status_code", i64::from(status));
        if status >= 500 {
            self.span.record("otel.status_code", "error");
        }
        response.map(|body| {
            Body::new(CountedBody {
                inner: body,
                end: Some(End {
                    exchange: self,
                    status,
                    bytes: 0,
                }),
            })
        })
    }
}

/// The server span of `req` (OpenTelemetry's HTTP semantic conventions), a child of the trace
/// context the request carries.
fn server_span<B>(
    req: &Request<B>,
    local: SocketAddr,
    kind: RouteKind,
    app: Option<&str>,
    id: &str,
) -> Span {
    let method = req.method().as_str();
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    let span = tracing::info_span!(
        target: TRACE_TARGET,
        "request",
        otel.name = format!("{method} {}", kind.as_str()),
        otel.kind = "server",
        otel.status_code = Empty,
        http.request.method = method,
        http.route = kind.as_str(),
        url.path = req.uri().path(),
        url.scheme = "http",
        server.address = %local.ip(),
        server.port = i64::from(local.port()),
        user_agent.original = header(hyper::header::USER_AGENT),
        http.response.status_code = Empty,
        edgekv.route_kind = kind.as_str(),
        edgekv.app = app,
        edgekv.request_id = id,
    );
    if !span.is_disabled() {
        let parent = opentelemetry::global::get_text_map_propagator(|propagator| {
            propagator.extract(&HeaderExtractor(req.headers()))
        });
        let _ = span.set_parent(parent);
    }
    span
}

/// What is known at the end of an exchange; dropping it ends the exchange.
struct End {
    exchange: Exchange,
    status: u16,
    bytes: u64,
}

impl Drop for End {
    fn drop(&mut self) {
        let Exchange {
            id,
            method,
            kind,
            app,
            start,
            metrics,
            ..
        } = &self.exchange;
        let duration = start.elapsed();
        if let Some(metrics) = metrics {
            let app = app.as_deref().unwrap_or("");
            metrics.request_done(kind.as_str(), app, self.status, duration);
        }
        tracing::info!(
            target: "edgekv::access",
            method = method.as_str(),
            kind = kind.as_str(),
            app = app.as_deref(),
            status = self.status,
            duration_ms = duration.as_secs_f64() * 1e3,
            bytes = self.bytes,
            request_id = &**id,
            "{method} {} {}",
            kind.as_str(),
            self.status,
        );
    }
}

/// A response body that counts the bytes passing through it, and ends its exchange when it ends
/// or is dropped.
struct CountedBody {
    inner: Body,
    end: Option<End>,
}

impl hyper::body::Body for CountedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(data), Some(end)) = (frame.data_ref(), self.end.as_mut()) {
                    end.bytes += data.len() as u64;
                }
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => self.end = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_id(id: &[u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_bytes(id).unwrap());
        headers
    }

    #[test]
    fn a_safe_client_id_is_kept() {
        for id in ["abc-123", "a.b_c:d/e+f=g", &"x".repeat(128)] {
            assert_eq!(&*request_id(&with_id(id.as_bytes())), id);
        }
    }

    #[test]
    fn an_unsafe_or_missing_id_is_replaced_by_a_fresh_one() {
        let long = "x".repeat(129);
        let unsafe_ids: [&[u8]; 6] = [
            long.as_bytes(),
            b"has space",
            b"tab\there",
            b"",
            b"quote\"",
            b"\xc3\xa9t\xc3\xa9",
        ];
        let mut seen = std::collections::HashSet::new();
        for id in unsafe_ids {
            let fresh = request_id(&with_id(id));
            assert_eq!(fresh.len(), 32, "{fresh}");
            assert!(fresh.bytes().all(|b| b.is_ascii_hexdigit()), "{fresh}");
            assert!(seen.insert(fresh));
        }
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }
}

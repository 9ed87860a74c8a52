//! The operations endpoints a load balancer, an orchestrator or Prometheus polls. Without
//! credentials (they tell only whether the server works): `GET /_edgekv/livez` (the process serves
//! requests) and `GET /_edgekv/readyz` (the store answers: 503 with the reason otherwise). The
//! listeners open only once every app is loaded, so a server that answers has its apps.
//! `GET /_edgekv/metrics`: the server's metrics in the Prometheus text format, with the API token
//! as a bearer token (404 when metrics are off).
//!
//! On the admin listener, which serves no guest, they are also at its root: `/livez`, `/readyz`,
//! and `/metrics` without credentials (the admin listener is the operator's own network).

use crate::rest::reply;
use crate::rest::route::{Mount, Seg};
use crate::{Body, Management};
use edgekv_store::Store;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};

const LIVEZ: Seg = Seg::Lit("livez");
const READYZ: Seg = Seg::Lit("readyz");
const METRICS: Seg = Seg::Lit("metrics");

/// Where the endpoints are on every management listener: below `/_edgekv/`.
pub const MOUNT: Mount = Mount(&[
    &[Seg::Lit("_edgekv"), LIVEZ],
    &[Seg::Lit("_edgekv"), READYZ],
    &[Seg::Lit("_edgekv"), METRICS],
]);

/// Where they also are on the admin listener: at its root.
pub const ADMIN_ROOT: Mount = Mount(&[&[LIVEZ], &[READYZ], &[METRICS]]);

/// The content type of the text the metrics are encoded in.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves one request for an endpoint.
pub async fn handle(m: &Management, req: Request<Body>) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        let mut refused = text(StatusCode::METHOD_NOT_ALLOWED, "use GET\n".into());
        refused
            .headers_mut()
            .insert(ALLOW, hyper::header::HeaderValue::from_static("GET, HEAD"));
        return refused;
    }
    let path = req.uri().path().trim_end_matches('/');
    if path.ends_with("/livez") {
        text(StatusCode::OK, "ok\n".into())
    } else if path.ends_with("/readyz") {
        ready(m.store()).await
    } else if path == "/_edgekv/metrics" && !m.credentials().bearer_ok(req.headers()) {
        let mut refused = text(
            StatusCode::UNAUTHORIZED,
            "the metrics need the API token: Authorization: Bearer <token>\n".into(),
        );
        refused.headers_mut().insert(
            WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
        refused
    } else if path.ends_with("/metrics") {
        metrics(m)
    } else {
        text(
            StatusCode::NOT_FOUND,
            "no such endpoint: /livez, /readyz, /metrics\n".into(),
        )
    }
}

/// The metrics, or 404 when they are off.
fn metrics(m: &Management) -> Response<Body> {
    let Some(encoded) = m.scrape() else {
        return text(
            StatusCode::NOT_FOUND,
            "metrics are off (edgekv serve --metrics off)\n".into(),
        );
    };
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, OPENMETRICS)
        .header(CACHE_CONTROL, "no-store");
    reply::or_500(reply::bytes(builder, encoded))
}

/// 200 when the store answers a read, else 503 with why not.
async fn ready(store: &Store) -> Response<Body> {
    match store.run(|s| s.ping()).await {
        Ok(()) => text(StatusCode::OK, "ok\n".into()),
        Err(e) => text(StatusCode::SERVICE_UNAVAILABLE, format!("store: {e}\n")),
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let builder = Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(CACHE_CONTROL, "no-store");
    reply::or_500(reply::bytes(builder, body))
}

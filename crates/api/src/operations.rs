//! The operations endpoints a load balancer or an orchestrator polls, without credentials (they
//! tell only whether the server works): `GET /_edgekv/livez` (the process serves requests) and
//! `GET /_edgekv/readyz` (the store answers: 503 with the reason otherwise). The listeners open only
//! once every app is loaded, so a server that answers has its apps. On the admin listener, which
//! serves no guest, they are also at its root: `/livez`, `/readyz`.

use crate::rest::reply;
use crate::rest::route::{Mount, Seg};
use crate::{Body, Management};
use edgekv_store::Store;
use hyper::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};

const LIVEZ: Seg = Seg::Lit("livez");
const READYZ: Seg = Seg::Lit("readyz");

/// Where the endpoints are on every management listener: below `/_edgekv/`.
pub const MOUNT: Mount = Mount(&[
    &[Seg::Lit("_edgekv"), LIVEZ],
    &[Seg::Lit("_edgekv"), READYZ],
]);

/// Where they also are on the admin listener: at its root.
pub const ADMIN_ROOT: Mount = Mount(&[&[LIVEZ], &[READYZ]]);

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
    } else {
        text(
            StatusCode::NOT_FOUND,
            "no such endpoint: /livez, /readyz\n".into(),
        )
    }
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

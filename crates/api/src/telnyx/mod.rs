//! The Telnyx Edge Compute KV API under `/v2/storage/kvs`: bearer auth, routing to the 8 operations
//! (everything after `/keys/` is the key, so `/` may come raw or percent-encoded), and Telnyx's error
//! shape `{"errors":[{code, title, detail, source, meta}]}`.

mod errors;
mod keys;
mod namespaces;

use crate::{route, Body, Management};
use errors::TxError;
use hyper::body::Incoming;
use hyper::{Method, Request, Response};

/// Serves one Telnyx API request.
pub async fn handle(m: &Management, req: Request<Incoming>) -> Response<Body> {
    match serve(m, req).await {
        Ok(response) => response,
        Err(e) => e.response(),
    }
}

async fn serve(m: &Management, req: Request<Incoming>) -> Result<Response<Body>, TxError> {
    if !m.credentials().bearer_ok(req.headers()) {
        return Err(TxError::unauthorized());
    }
    let target = route::target(req.uri()).to_string();
    let segments = route::segments(req.uri().path())
        .map_err(|_| TxError::bad_request("The path is not valid percent-encoded UTF-8", None))?;
    // ["v2", "storage", "kvs", ...]
    let rest: Vec<&str> = segments.iter().skip(3).map(String::as_str).collect();
    let method = req.method().clone();
    match (&method, rest.as_slice()) {
        (&Method::POST, [] | [""]) => namespaces::create(m, req).await,
        (&Method::GET, [] | [""]) => namespaces::list(m, &target).await,
        (&Method::GET, [id]) => namespaces::get(m, id).await,
        (&Method::DELETE, [id]) => namespaces::delete(m, id).await,
        (&Method::GET, [id, "keys"]) => keys::list(m, id, &target).await,
        (_, [id, "keys", key @ ..]) if !key.is_empty() => {
            let key = key.join("/");
            match method {
                Method::PUT => keys::put(m, id, key, &target, req).await,
                Method::GET => keys::get(m, id, key).await,
                Method::DELETE => keys::delete(m, id, key).await,
                _ => Err(TxError::not_found("No such route")),
            }
        }
        _ => Err(TxError::not_found("No such route")),
    }
}

/// A namespace id in a path: a UUID.
fn namespace_id(id: &str) -> Result<edgekv_store::Uuid, TxError> {
    edgekv_store::Uuid::try_parse(id).map_err(|_| TxError::invalid_id())
}

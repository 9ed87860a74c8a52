//! The plain hello with one KV read in it: `GET /kv/{key}` answers the value at `key` of the
//! `default` binding with its `etag`, or 404 with an empty body. No routing, no headers read, no
//! percent-decoding: next to hello it shows what the `edgekv:kv` binding itself adds to a request
//! (an `open`, a `get` and the value), where rust-kv-api also measures a general HTTP router.

wit_bindgen::generate!({
    world: "edgekv:kv/edge-app",
    path: "../../../wit",
    generate_all,
});

use edgekv::kv::store::{Entry, Namespace};
use exports::wasi::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct KvHello;

impl Guest for KvHello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        drop(request);
        let key = path.strip_prefix("/kv/").unwrap_or_default();
        let entry = Namespace::open("default").ok().and_then(|ns| ns.get(key).ok().flatten());
        respond(out, entry);
    }
}

/// 200 with the entry's value and `etag`, or 404 with an empty body.
fn respond(out: ResponseOutparam, entry: Option<Entry>) {
    let (status, headers, body) = match entry {
        Some(e) => (200, vec![("etag".to_string(), e.etag.into_bytes())], e.value),
        None => (404, Vec::new(), Vec::new()),
    };
    let response = OutgoingResponse::new(Fields::from_list(&headers).unwrap_or_else(|_| Fields::new()));
    let _ = response.set_status_code(status);
    let Ok(body_handle) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body_handle.write() {
        for chunk in body.chunks(4096) {
            if stream.blocking_write_and_flush(chunk).is_err() {
                break;
            }
        }
    }
    let _ = OutgoingBody::finish(body_handle, None);
}

export!(KvHello);

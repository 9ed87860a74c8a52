//! keyvalue-draft2: a test guest that exposes every `wasi:keyvalue@0.2.0-draft2` operation over HTTP.
//! It imports only `wasi:keyvalue` and `wasi:http` (world `edgekv:kv/keyvalue-app`), as a Spin guest
//! would.
//!
//! Routes below are served at `/` or under `/draft2` (e.g. `/draft2/kv/{key}`). Every route takes
//! `x-binding` (default `default`): the identifier passed to `store::open`.
//! - `GET /kv/{key}`: the value (404 when `get` answers none); `PUT /kv/{key}`: `set` the body;
//!   `DELETE /kv/{key}`: `delete`; `GET /exists/{key}`: `{"exists":bool}`.
//! - `GET /keys?cursor=`: one `list-keys` page, `{"keys":[...],"cursor":"..."|null}`.
//!   `GET /all-keys`: pages with the cursor inside one request, `{"keys":[...],"pages":n}`.
//! - `POST /incr/{key}?delta=N` (default 1): `increment`, `{"value":n}`.
//! - `POST /cas/{key}`: `cas::new`, then `swap` to the body. `x-expect`: the value the client expects
//!   `current` to be (412 `unexpected-value` otherwise); `x-interleave`: a value the guest `set`s
//!   between `cas::new` and `swap`, standing in for a concurrent writer. A failed swap answers 412
//!   `{"error":"cas-failed","current":...}` with the current value of the handle it got back.
//! - `POST /cas-incr/{key}`: adds 1 to a decimal counter by CAS, retrying on `cas-failed` with the
//!   handle it returns; `{"value":n,"retries":n}`.
//! - `POST /batch/get` (keys, one a line): `[{"key":..,"value":..}|null,...]`;
//!   `POST /batch/set` (`key<TAB>value` lines); `POST /batch/delete` (keys, one a line).
//!
//! A store error answers 403 `access-denied`, 404 `no-such-store`, or 400
//! `{"error":"other","variant":"<text before the first ': '>","message":"<the whole string>"}`.

// The request/response plumbing of the Rust app template (rust-kv-api), shared rather than copied.
#[path = "../../../../templates/rust/src/http.rs"]
mod http;
#[path = "../../keyvalue_shared.rs"]
mod shared;

wit_bindgen::generate!({
    world: "edgekv:kv/keyvalue-app",
    path: "../../../wit",
    generate_all,
});

use exports::wasi::http::incoming_handler::Guest;
use http::{decode, json_string, param, Reply, Request};
use shared::{batch_route, error_reply, get, json_list, json_value, ok};
use wasi::http::types::{IncomingRequest, Method, ResponseOutparam};
use wasi::keyvalue0_2_0_draft2::atomics::{self, Cas, CasError};
use wasi::keyvalue0_2_0_draft2::batch;
use wasi::keyvalue0_2_0_draft2::store::{self, Bucket, Error};

/// The route prefix this guest may be served under (alongside other apps); it is stripped.
const MOUNT: &str = "/draft2";

const ROUTES: &str = "routes: GET/PUT/DELETE /kv/{key}, GET /exists/{key}, GET /keys?cursor=, GET /all-keys, \
POST /incr/{key}?delta=, POST /cas/{key}, POST /cas-incr/{key}, POST /batch/get|set|delete";

struct App;

impl Guest for App {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let reply = match Request::read(request) {
            Ok(request) => route(&request),
            Err(failed) => failed.reply(),
        };
        reply.send(out);
    }
}

export!(App);

fn route(req: &Request) -> Reply {
    let bucket = match store::open(req.header("x-binding").as_deref().unwrap_or("default")) {
        Ok(bucket) => bucket,
        Err(e) => return error_reply(e),
    };
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let path = path.strip_prefix(MOUNT).filter(|rest| rest.starts_with('/')).unwrap_or(path);
    let (head, rest) = match path.trim_start_matches('/').split_once('/') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path.trim_start_matches('/'), None),
    };
    let key = match rest.map(decode) {
        Some(None) => return Reply::text(400, "the key is not valid percent-encoded UTF-8"),
        Some(Some(key)) => Some(key),
        None => None,
    };
    let result = match (&req.method, head, key.as_deref()) {
        (Method::Get, "kv", Some(key)) => get(&bucket, key),
        (Method::Put, "kv", Some(key)) => bucket.set(key, &req.body).map(|()| ok()),
        (Method::Delete, "kv", Some(key)) => bucket.delete(key).map(|()| ok()),
        (Method::Get, "exists", Some(key)) => {
            bucket.exists(key).map(|e| Reply::json(200, format!("{{\"exists\":{e}}}")))
        }
        (Method::Get, "keys", None) => keys(&bucket, query),
        (Method::Get, "all-keys", None) => all_keys(&bucket),
        (Method::Post, "incr", Some(key)) => incr(&bucket, key, query),
        (Method::Post, "cas", Some(key)) => cas(&bucket, req, key),
        (Method::Post, "cas-incr", Some(key)) => cas_incr(&bucket, key),
        (Method::Post, "batch", Some(op)) => batch_route(&bucket, req, op),
        _ => Ok(Reply::text(404, ROUTES)),
    };
    result.unwrap_or_else(error_reply)
}

fn keys(bucket: &Bucket, query: &str) -> Result<Reply, Error> {
    let page = bucket.list_keys(param(query, "cursor").as_deref())?;
    let cursor = page.cursor.as_deref().map_or("null".into(), json_string);
    Ok(Reply::json(200, format!("{{\"keys\":{},\"cursor\":{cursor}}}", json_list(&page.keys))))
}

fn all_keys(bucket: &Bucket) -> Result<Reply, Error> {
    let (mut keys, mut cursor, mut pages) = (Vec::new(), None, 0);
    loop {
        let page = bucket.list_keys(cursor.as_deref())?;
        pages += 1;
        keys.extend(page.keys);
        cursor = page.cursor;
        if cursor.is_none() {
            break;
        }
    }
    Ok(Reply::json(200, format!("{{\"keys\":{},\"pages\":{pages}}}", json_list(&keys))))
}

fn incr(bucket: &Bucket, key: &str, query: &str) -> Result<Reply, Error> {
    let delta = match param(query, "delta").map(|d| d.parse::<i64>()) {
        None => 1,
        Some(Ok(delta)) => delta,
        Some(Err(_)) => return Ok(Reply::text(400, "delta must be a signed 64-bit integer")),
    };
    let value = atomics::increment(bucket, key, delta)?;
    Ok(Reply::json(200, format!("{{\"value\":{value}}}")))
}

fn cas(bucket: &Bucket, req: &Request, key: &str) -> Result<Reply, Error> {
    let handle = Cas::new(bucket, key)?;
    let current = handle.current()?;
    if let Some(expect) = req.header("x-expect") {
        if current.as_deref() != Some(expect.as_bytes()) {
            let body = format!("{{\"error\":\"unexpected-value\",\"current\":{}}}", json_value(current.as_deref()));
            return Ok(Reply::json(412, body));
        }
    }
    if let Some(intruder) = req.header("x-interleave") {
        bucket.set(key, intruder.as_bytes())?;
    }
    match atomics::swap(handle, &req.body) {
        Ok(()) => Ok(Reply::json(200, format!("{{\"swapped\":true,\"previous\":{}}}", json_value(current.as_deref())))),
        Err(CasError::CasFailed(fresh)) => {
            let latest = fresh.current()?;
            Ok(Reply::json(412, format!("{{\"error\":\"cas-failed\",\"current\":{}}}", json_value(latest.as_deref()))))
        }
        Err(CasError::StoreError(e)) => Err(e),
    }
}

fn cas_incr(bucket: &Bucket, key: &str) -> Result<Reply, Error> {
    let mut handle = Cas::new(bucket, key)?;
    let mut retries = 0u32;
    loop {
        let current = match handle.current()? {
            None => 0,
            Some(value) => match std::str::from_utf8(&value).ok().and_then(|t| t.parse::<i64>().ok()) {
                Some(n) => n,
                None => return Ok(Reply::text(409, "the value is not a decimal counter")),
            },
        };
        let next = current + 1;
        match atomics::swap(handle, next.to_string().as_bytes()) {
            Ok(()) => return Ok(Reply::json(200, format!("{{\"value\":{next},\"retries\":{retries}}}"))),
            Err(CasError::CasFailed(fresh)) => {
                retries += 1;
                handle = fresh;
            }
            Err(CasError::StoreError(e)) => return Err(e),
        }
    }
}

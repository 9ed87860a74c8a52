//! {{name}}: an edgekv guest (made with `edgekv new --lang rust`).
//!
//! - `GET /`: a greeting with a visit count kept in KV under `visits` (incremented with an ETag
//!   compare-and-swap, so concurrent visits are all counted).
//! - `GET /kv/{key}`: the value, with `etag`, `content-type`, `x-metadata` and `x-expires-at-ms`.
//! - `PUT /kv/{key}`: writes the body. Headers: `content-type`, `x-metadata` (JSON), `x-ttl`
//!   (seconds) or `x-expiration` (unix seconds), `if-match` (ETag) or `if-none-match: *` (create
//!   only). Answers 201 (created) or 200 with the new `etag`. A body that did not arrive whole (its
//!   stream failed instead of closing: the client went away, or sent a malformed chunk) is
//!   answered 400 and nothing is written.
//! - `DELETE /kv/{key}`: optional `if-match`. Answers `{"deleted":true|false}`.
//! - `GET /kv?prefix=&cursor=&limit=`: one page of keys as JSON.
//! - `GET /now`: the guest's wall clock (`wasi:clocks/wall-clock`) as `{"now_ms": ...}`.
//!
//! Every route takes `x-binding` (default `default`) to pick the namespace. A binding error becomes
//! a 4xx whose JSON body names the error variant: `{"error":"value-too-large","message":"..."}`.
//!
//! The KV binding comes from the `edgekv-guest` crate (copied into `edgekv-guest/`); this crate
//! generates only the `wasi:http/proxy` bindings it serves requests with. Build and serve with
//! `edgekv dev`.

mod http;

wit_bindgen::generate!({
    world: "wasi:http/proxy@0.2.12",
    path: "wit",
    generate_all,
});

use edgekv_guest::{Error, Namespace, Page};
use std::time::Duration;
use exports::wasi::http::incoming_handler::Guest;
use http::{decode, json_string, param, Reply, Request};
use wasi::http::types::{IncomingRequest, Method, ResponseOutparam};

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
    if matches!(req.method, Method::Get) && req.path == "/now" {
        return now();
    }
    let binding = req.header("x-binding");
    let namespace = match Namespace::open(binding.as_deref().unwrap_or("default")) {
        Ok(ns) => ns,
        Err(e) => return error_reply(e),
    };
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    if matches!(req.method, Method::Get) && path == "/" {
        return visit(&namespace).map_or_else(error_reply, |count| Reply::text(200, &format!("{GREETING} (visit {count})")));
    }
    let result = match (&req.method, path.strip_prefix("/kv")) {
        (Method::Get, Some("") | Some("/")) => list(&namespace, query),
        (_, Some(rest)) if rest.starts_with('/') => match decode(&rest[1..]) {
            Some(key) => entry_route(&namespace, req, &key),
            None => Ok(Reply::text(400, "the key is not valid percent-encoded UTF-8")),
        },
        _ => Ok(Reply::text(404, "routes: GET /, GET/PUT/DELETE /kv/{key}, GET /kv?prefix=&cursor=&limit=, GET /now")),
    };
    result.unwrap_or_else(error_reply)
}

/// The guest's wall clock, in milliseconds since the Unix epoch.
fn now() -> Reply {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let ms = since_epoch.map_or(0, |d| d.as_millis());
    Reply::json(200, format!("{{\"now_ms\":{ms}}}"))
}

/// What `GET /` says before the visit count.
const GREETING: &str = "Hello from {{name}}!";

/// Counts one visit and returns the new count: read the count and its ETag, write count + 1 only
/// if the ETag is still the same, and read again when another request wrote first.
fn visit(ns: &Namespace) -> Result<u64, Error> {
    loop {
        let (count, put) = match ns.get_with_metadata("visits")? {
            Some(entry) => {
                let count = entry.text().and_then(|t| t.trim().parse().ok()).unwrap_or(0u64);
                (count, ns.put("visits", (count + 1).to_string()).if_match(&entry.etag))
            }
            None => (0, ns.put("visits", "1").if_absent()),
        };
        match put.send() {
            Ok(_) => return Ok(count + 1),
            Err(Error::Conflict { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
}

fn entry_route(ns: &Namespace, req: &Request, key: &str) -> Result<Reply, Error> {
    match req.method {
        Method::Get => get(ns, key),
        Method::Put => put(ns, req, key),
        Method::Delete => {
            let deleted = match req.header("if-match") {
                Some(etag) => ns.delete_if_match(key, &etag)?,
                None => ns.delete(key)?,
            };
            Ok(Reply::json(200, format!("{{\"deleted\":{deleted}}}")))
        }
        _ => Ok(Reply::text(405, "use GET, PUT or DELETE")),
    }
}

fn get(ns: &Namespace, key: &str) -> Result<Reply, Error> {
    let Some(entry) = ns.get_with_metadata(key)? else {
        return Ok(Reply::json(404, "{\"error\":\"not-found\"}".into()));
    };
    let content_type = entry.content_type.unwrap_or_else(|| "application/octet-stream".into());
    let mut reply = Reply::new(200, entry.value).header("content-type", &content_type).header("etag", &entry.etag);
    if let Some(metadata) = entry.metadata {
        reply = reply.header("x-metadata", &metadata);
    }
    if let Some(at) = entry.expires_at_ms {
        reply = reply.header("x-expires-at-ms", &at.to_string());
    }
    Ok(reply)
}

fn put(ns: &Namespace, req: &Request, key: &str) -> Result<Reply, Error> {
    let number = |name: &str| req.header(name).map(|v| v.trim().parse::<u64>());
    let mut put = ns.put(key, &req.body);
    match (number("x-ttl"), number("x-expiration")) {
        (Some(Ok(ttl)), _) => put = put.ttl(Duration::from_secs(ttl)),
        (None, Some(Ok(at))) => put = put.expires_at_unix(at),
        (None, None) => {}
        _ => return Ok(Reply::text(400, "x-ttl and x-expiration must be whole seconds")),
    }
    match (req.header("if-match"), req.header("if-none-match")) {
        (Some(etag), _) => put = put.if_match(etag),
        (None, Some(any)) if any == "*" => put = put.if_absent(),
        _ => {}
    }
    if let Some(metadata) = req.header("x-metadata") {
        put = put.metadata(metadata);
    }
    if let Some(content_type) = req.header("content-type") {
        put = put.content_type(content_type);
    }
    let done = put.send()?;
    let status = if done.created { 201 } else { 200 };
    let body = format!("{{\"etag\":{},\"created\":{}}}", json_string(&done.etag), done.created);
    Ok(Reply::json(status, body).header("etag", &done.etag))
}

fn list(ns: &Namespace, query: &str) -> Result<Reply, Error> {
    let limit = match param(query, "limit").map(|l| l.parse::<u32>()) {
        Some(Ok(limit)) => Some(limit),
        Some(Err(_)) => return Ok(Reply::text(400, "limit must be a number")),
        None => None,
    };
    let mut listing = ns.list().prefix(param(query, "prefix").unwrap_or_default());
    if let Some(cursor) = param(query, "cursor") {
        listing = listing.cursor(cursor);
    }
    if let Some(limit) = limit {
        listing = listing.limit(limit);
    }
    // The first item of a listing is always a page (or its error).
    let page = listing.next().unwrap_or_else(|| Ok(Page { keys: Vec::new(), cursor: None }))?;
    let keys: Vec<String> = page
        .keys
        .iter()
        .map(|k| {
            format!(
                "{{\"name\":{},\"expires_at_ms\":{},\"metadata\":{},\"size\":{}}}",
                json_string(&k.name),
                k.expires_at_ms.map_or("null".into(), |v| v.to_string()),
                k.metadata.clone().unwrap_or_else(|| "null".into()),
                k.size
            )
        })
        .collect();
    let cursor = page.cursor.as_deref().map_or("null".into(), json_string);
    Ok(Reply::json(200, format!("{{\"keys\":[{}],\"cursor\":{cursor}}}", keys.join(","))))
}

/// A binding error as a 4xx whose body names the variant.
fn error_reply(e: Error) -> Reply {
    let status = match e {
        Error::NoSuchStore => 404,
        Error::AccessDenied => 403,
        Error::InvalidKey(_) | Error::InvalidExpiration(_) | Error::Other(_) => 400,
        Error::ValueTooLarge(_) | Error::MetadataTooLarge(_) | Error::QuotaExceeded(_) => 413,
        Error::Conflict { current_etag } => {
            let current = current_etag.as_deref().map_or("null".into(), json_string);
            return Reply::json(412, format!("{{\"error\":\"conflict\",\"current_etag\":{current}}}"));
        }
    };
    let message = e.message().map_or("null".into(), json_string);
    Reply::json(status, format!("{{\"error\":\"{}\",\"message\":{message}}}", e.variant()))
}

//! rust-kv-api: an edgekv guest that exposes the `edgekv:kv` binding over HTTP.
//!
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

mod http;

wit_bindgen::generate!({
    world: "edgekv:kv/edge-app",
    path: "../../wit",
    generate_all,
});

use edgekv::kv::store::{Error, Expiration, Namespace, Precondition, PutOptions};
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
    let result = match (&req.method, path.strip_prefix("/kv")) {
        (Method::Get, Some("") | Some("/")) => list(&namespace, query),
        (_, Some(rest)) if rest.starts_with('/') => match decode(&rest[1..]) {
            Some(key) => entry_route(&namespace, req, &key),
            None => Ok(Reply::text(400, "the key is not valid percent-encoded UTF-8")),
        },
        _ => Ok(Reply::text(404, "routes: GET/PUT/DELETE /kv/{key}, GET /kv?prefix=&cursor=&limit=")),
    };
    result.unwrap_or_else(error_reply)
}

fn now() -> Reply {
    let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    let ms = since_epoch.map_or(0, |d| d.as_millis());
    Reply::json(200, format!("{{\"now_ms\":{ms}}}"))
}

fn entry_route(ns: &Namespace, req: &Request, key: &str) -> Result<Reply, Error> {
    match req.method {
        Method::Get => get(ns, key),
        Method::Put => put(ns, req, key),
        Method::Delete => {
            let deleted = ns.delete(key, req.header("if-match").as_deref())?;
            Ok(Reply::json(200, format!("{{\"deleted\":{deleted}}}")))
        }
        _ => Ok(Reply::text(405, "use GET, PUT or DELETE")),
    }
}

fn get(ns: &Namespace, key: &str) -> Result<Reply, Error> {
    let Some(entry) = ns.get(key)? else {
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
    let expiration = match (number("x-ttl"), number("x-expiration")) {
        (Some(Ok(ttl)), _) => Some(Expiration::TtlSeconds(ttl)),
        (None, Some(Ok(at))) => Some(Expiration::AtUnixSeconds(at)),
        (None, None) => None,
        _ => return Ok(Reply::text(400, "x-ttl and x-expiration must be whole seconds")),
    };
    let precondition = match (req.header("if-match"), req.header("if-none-match")) {
        (Some(etag), _) => Some(Precondition::IfMatch(etag)),
        (None, Some(any)) if any == "*" => Some(Precondition::IfAbsent),
        _ => None,
    };
    let options = PutOptions {
        metadata: req.header("x-metadata"),
        content_type: req.header("content-type"),
        expiration,
        precondition,
    };
    let done = ns.put(key, &req.body, &options)?;
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
    let page = ns.list(&param(query, "prefix").unwrap_or_default(), param(query, "cursor").as_deref(), limit)?;
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

/// A binding error as a 4xx (5xx for `other`) whose body names the variant.
fn error_reply(e: Error) -> Reply {
    let (status, name, detail) = match e {
        Error::NoSuchStore => (404, "no-such-store", None),
        Error::AccessDenied => (403, "access-denied", None),
        Error::InvalidKey(m) => (400, "invalid-key", Some(m)),
        Error::ValueTooLarge(m) => (413, "value-too-large", Some(m)),
        Error::MetadataTooLarge(m) => (413, "metadata-too-large", Some(m)),
        Error::InvalidExpiration(m) => (400, "invalid-expiration", Some(m)),
        Error::QuotaExceeded(m) => (413, "quota-exceeded", Some(m)),
        Error::Conflict(current) => {
            let current = current.as_deref().map_or("null".into(), json_string);
            return Reply::json(412, format!("{{\"error\":\"conflict\",\"current_etag\":{current}}}"));
        }
        Error::Other(m) => (400, "other", Some(m)),
    };
    let message = detail.as_deref().map_or("null".into(), json_string);
    Reply::json(status, format!("{{\"error\":\"{name}\",\"message\":{message}}}"))
}

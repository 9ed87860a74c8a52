//! The JSON API behind the browser page, under `/_edgekv/api/`:
//!
//! - `GET namespaces`: every namespace with its profile, item count and size.
//! - `GET namespaces/{id}/keys?prefix=&cursor=&limit=`: one page of keys.
//! - `GET namespaces/{id}/values/{key}`: the entry: value (base64, and as text when it is UTF-8),
//!   metadata, content type, expiry and ETag.
//! - `PUT namespaces/{id}/values/{key}` with `If-Match: <etag>` (edit) or `If-None-Match: *`
//!   (create); JSON body `{value, encoding: "text"|"base64", metadata, content_type, expires_at_ms}`.
//! - `DELETE namespaces/{id}/values/{key}` with `If-Match: <etag>`.
//!
//! Errors are `{"error": "<kind>", "message": "..."}`; a failed precondition is 412 with
//! `current_etag`.

use crate::rest::body::{self, BodyError};
use crate::rest::route::{self, Dispatched, Route, Seg, Verb};
use crate::{blocking, full, Body, Management};
use base64::Engine as _;
use edgekv_store::{
    Delete, Entry, Expiry, ListQuery, Namespace, NamespaceQuery, Precondition, Put, RuleFamily,
    Store, StoreError, Uuid,
};

use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// The largest edit body: a 25 MiB value in base64, with room for the rest.
const MAX_EDIT_BODY: u64 = 36 << 20;

/// The browser API's operations.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Page,
    Namespaces,
    Keys,
    GetEntry,
    PutEntry,
    DeleteEntry,
}

const NS: Seg = Seg::Param("namespace");
const KEY: Seg = Seg::Rest("key");

/// Every route, below `/_edgekv`.
#[rustfmt::skip]
pub const ROUTES: &[Route<Op>] = &[
    Route { verb: Verb::Get, pattern: &[], op: Op::Page },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces")], op: Op::Namespaces },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("keys")], op: Op::Keys },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("values"), KEY], op: Op::GetEntry },
    Route { verb: Verb::Put, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("values"), KEY], op: Op::PutEntry },
    Route { verb: Verb::Delete, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("values"), KEY], op: Op::DeleteEntry },
];

/// Serves an API operation (everything but `Op::Page`).
pub async fn serve(
    m: &Management,
    req: Request<Body>,
    mut found: Dispatched<Op>,
) -> Response<Body> {
    let store = m.store();
    let target = route::target(req.uri()).to_string();
    let (ns, key) = (found.param(), found.param());
    let result = match found.op {
        Op::Page => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "not an API route",
        )),
        Op::Namespaces => namespaces(store).await,
        Op::Keys => keys(store, &ns, &target).await,
        Op::GetEntry => entry(store, &ns, key).await,
        Op::PutEntry => put(store, &ns, key, req).await,
        Op::DeleteEntry => delete(store, &ns, key, &req).await,
    };
    result.unwrap_or_else(|f| f.response())
}

async fn namespaces(store: &Store) -> Result<Response<Body>, Failure> {
    let query = NamespaceQuery {
        limit: u64::MAX >> 1,
        ..NamespaceQuery::default()
    };
    let page = blocking(store, move |s| s.list_namespaces(&query)).await?;
    let list: Vec<Value> = page.namespaces.iter().map(describe).collect();
    Ok(ok(json!({ "namespaces": list })))
}

fn describe(ns: &Namespace) -> Value {
    json!({
        "id": ns.id.to_string(),
        "name": ns.name,
        "profile": ns.profile.as_str(),
        "ttl_enabled": ns.ttl_enabled,
        "item_count": ns.item_count,
        "total_bytes": ns.total_bytes,
        "version": ns.version,
    })
}

async fn keys(store: &Store, ns: &str, target: &str) -> Result<Response<Body>, Failure> {
    let id = namespace_id(store, ns).await?;
    let limit = match route::query_param(target, "limit") {
        None => Some(100),
        Some(raw) => Some(raw.parse::<u64>().map_err(|_| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "limit must be a whole number",
            )
        })?),
    };
    let query = ListQuery {
        prefix: route::query_param(target, "prefix").unwrap_or_default(),
        cursor: route::query_param(target, "cursor").filter(|c| !c.is_empty()),
        limit,
    };
    let page = blocking(store, move |s| s.list(&id, &query)).await?;
    let keys: Vec<Value> = page
        .keys
        .iter()
        .map(|k| {
            json!({
                "name": k.key,
                "size": k.size,
                "expires_at_ms": k.expires_at_ms,
                "modified_at_ms": k.modified_at_ms,
                "has_metadata": k.metadata.is_some(),
            })
        })
        .collect();
    Ok(ok(json!({ "keys": keys, "cursor": page.cursor })))
}

async fn entry(store: &Store, ns: &str, key: String) -> Result<Response<Body>, Failure> {
    let id = namespace_id(store, ns).await?;
    let entry = blocking(store, move |s| s.get(&id, &key)).await?;
    Ok(ok(entry_json(&entry)))
}

fn entry_json(e: &Entry) -> Value {
    let metadata = e
        .metadata
        .as_deref()
        .and_then(|m| serde_json::from_str::<Value>(m).ok());
    json!({
        "key": e.key,
        "size": e.value.len(),
        "value_base64": base64::engine::general_purpose::STANDARD.encode(&e.value),
        "text": std::str::from_utf8(&e.value).ok(),
        "metadata": metadata,
        "content_type": e.content_type,
        "expires_at_ms": e.expires_at_ms,
        "modified_at_ms": e.modified_at_ms,
        "etag": e.etag.as_str(),
    })
}

/// The body of an edit.
#[derive(Deserialize)]
struct Edit {
    value: String,
    #[serde(default)]
    encoding: Encoding,
    #[serde(default)]
    metadata: Option<Value>,
    #[serde(default)]
    content_type: Option<String>,
    #[serde(default)]
    expires_at_ms: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "lowercase")]
enum Encoding {
    #[default]
    Text,
    Base64,
}

async fn put(
    store: &Store,
    ns: &str,
    key: String,
    req: Request<Body>,
) -> Result<Response<Body>, Failure> {
    let id = namespace_id(store, ns).await?;
    let precondition = write_precondition(&req, true)?;
    let body = body::read_request(req, MAX_EDIT_BODY)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { .. } => Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-large",
                "the edit body is over 36 MiB",
            ),
            BodyError::Incomplete(_) => Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                "the edit body did not arrive whole",
            ),
        })?;
    let edit: Edit = serde_json::from_slice(&body).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            format!("bad edit body: {e}"),
        )
    })?;
    let value = match edit.encoding {
        Encoding::Text => edit.value.into_bytes(),
        Encoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(edit.value.as_bytes())
            .map_err(|_| {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    "value is not valid base64",
                )
            })?,
    };
    let put = Put {
        key,
        value,
        metadata: edit
            .metadata
            .filter(|m| !m.is_null())
            .map(|m| m.to_string()),
        content_type: edit.content_type.filter(|c| !c.is_empty()),
        expiry: edit
            .expires_at_ms
            .map_or(Expiry::Never, |ms| Expiry::AtUnixSecs(ms / 1000)),
        precondition,
    };
    let out = blocking(store, move |s| s.put(&id, put)).await?;
    let etag = out.etag.map(|e| e.as_str().to_string());
    let status = if out.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(json_response(
        status,
        json!({ "etag": etag, "created": !out.existed }),
    ))
}

async fn delete(
    store: &Store,
    ns: &str,
    key: String,
    req: &Request<Body>,
) -> Result<Response<Body>, Failure> {
    let id = namespace_id(store, ns).await?;
    let precondition = write_precondition(req, false)?;
    let out = blocking(store, move |s| s.delete(&id, Delete { key, precondition })).await?;
    Ok(ok(json!({ "deleted": out.existed })))
}

/// The precondition of a browser write: it must name the ETag it read (`If-Match`), or, for a
/// put, ask to create (`If-None-Match: *`). A write without one is refused (428).
fn write_precondition(req: &Request<Body>, create_allowed: bool) -> Result<Precondition, Failure> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    match (header("if-match"), header("if-none-match")) {
        (Some(etag), _) => Ok(Precondition::EntryEtag(etag.to_string())),
        (None, Some("*")) if create_allowed => Ok(Precondition::Absent),
        _ => Err(Failure::new(
            StatusCode::PRECONDITION_REQUIRED,
            "precondition-required",
            "send If-Match with the entry's ETag (or If-None-Match: * to create)",
        )),
    }
}

async fn namespace_id(store: &Store, ns: &str) -> Result<Uuid, Failure> {
    let ns = ns.to_string();
    let namespace = blocking(store, move |s| s.namespace(&ns)).await?;
    Ok(namespace.id)
}

fn ok(body: Value) -> Response<Body> {
    json_response(StatusCode::OK, body)
}

fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    let mut response = Response::new(full(body.to_string()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
        .headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// An error response of the browser API.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    Failure::new(status, kind, message).response()
}

/// A failed browser API call.
struct Failure {
    status: StatusCode,
    body: Value,
}

impl Failure {
    fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Failure {
            status,
            body: json!({ "error": kind, "message": message.into() }),
        }
    }

    fn response(self) -> Response<Body> {
        json_response(self.status, self.body)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let message = match &e {
            StoreError::Rule(v) => v.describe(),
            e => e.to_string(),
        };
        let (status, kind) = match &e {
            StoreError::NamespaceNotFound(_) => (StatusCode::NOT_FOUND, "no-such-namespace"),
            StoreError::KeyNotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            StoreError::Conflict { current } => {
                let current = current.as_ref().map(|c| c.as_str().to_string());
                return Failure {
                    status: StatusCode::PRECONDITION_FAILED,
                    body: json!({ "error": "conflict", "message": message, "current_etag": current }),
                };
            }
            StoreError::Rule(v) => match v.rule.family() {
                RuleFamily::Key => (StatusCode::BAD_REQUEST, "invalid-key"),
                RuleFamily::Value => (StatusCode::PAYLOAD_TOO_LARGE, "value-too-large"),
                RuleFamily::Metadata => (StatusCode::PAYLOAD_TOO_LARGE, "metadata-too-large"),
                RuleFamily::Expiry => (StatusCode::BAD_REQUEST, "invalid-expiration"),
                RuleFamily::Quota => (StatusCode::PAYLOAD_TOO_LARGE, "quota-exceeded"),
                RuleFamily::Request => (StatusCode::BAD_REQUEST, "invalid-request"),
            },
            StoreError::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid-cursor"),
            StoreError::NamespaceNotReady { .. } => (StatusCode::CONFLICT, "namespace-not-ready"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        Failure::new(status, kind, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_name_their_kind() {
        let conflict = Failure::from(StoreError::Conflict { current: None });
        assert_eq!(conflict.status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(conflict.body["error"], "conflict");
        assert!(conflict.body["current_etag"].is_null());
        let big = Failure::from(StoreError::Rule(edgekv_store::RuleViolation {
            rule: edgekv_store::Rule::MetadataTooLarge,
            limit: 1024,
            actual: 1500,
        }));
        assert_eq!(big.body["error"], "metadata-too-large");
        assert_eq!(
            big.body["message"],
            "The metadata is 1500 bytes as compact JSON, over the limit of 1024 bytes"
        );
        let missing = Failure::from(StoreError::KeyNotFound("k".into()));
        assert_eq!(
            (missing.status, missing.body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not-found"))
        );
    }
}

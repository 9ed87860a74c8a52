//! The JSON API behind the browser page, under `/_edgekv/api/`:
//!
//! - `GET namespaces`: every namespace with its profile, item count and size.
//! - `GET namespaces/{id}/keys?prefix=&cursor=&limit=`: one page of keys.
//! - `GET namespaces/{id}/values/{key}`: the entry: value (base64, and as text when it is UTF-8),
//!   metadata, content type, expiry and ETag.
//! - `PUT namespaces/{id}/values/{key}` with `If-Match: <etag>` (edit) or `If-None-Match: *`
//!   (create); JSON body `{value, encoding: "text"|"base64", metadata, content_type, expires_at_ms}`.
//! - `DELETE namespaces/{id}/values/{key}` with `If-Match: <etag>`.
//! - The admin API's routes (`snapshots`), routed here and answered by `crate::admin`.
//!
//! The admin API's routes for test suites are in the same table, served by `crate::admin`:
//! `POST namespaces/{id}/reset` and `POST namespaces/{id}/fork`.
//!
//! Errors are `{"error": "<kind>", "message": "..."}`; a failed precondition is 412 with
//! `current_etag`. The namespace's limits decide: an edit body is capped from them (read before
//! the body), and a key page is at most the namespace's largest (a larger `limit` is taken as
//! that, so the page's own page size works on every namespace).

use crate::admin;
use crate::browser::answer::{answer, describe, namespace_id, ok, Failure};
use crate::rest::body::{self, BodyError};
use crate::rest::route::{self, Dispatched, Route, Seg, Verb};
use crate::{Body, Management};
use base64::Engine as _;
use edgekv_store::{
    Delete, Entry, Expiry, Limits, ListQuery, NamespaceQuery, Precondition, Put, Store, StoreError,
};

use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// The keys a page lists when the page asks for no `limit`: the browser's own convention, a
/// screenful, not a KV rule. Like any `limit`, it is taken as the namespace's largest page when
/// that is smaller.
const PAGE_SIZE: u64 = 100;

/// What an edit body may hold beyond its value, metadata and content type (each capped by the
/// namespace's limits): the field names, `encoding`, `expires_at_ms` and JSON punctuation and
/// whitespace. A framing allowance of the browser's JSON, not a KV rule.
const EDIT_FRAMING_BYTES: u64 = 64 * 1024;

/// The largest edit body of a namespace with `limits`: its largest value in base64 (the longer of
/// the two encodings for most values), its largest metadata and content type, and the framing.
fn edit_body_limit(limits: &Limits) -> u64 {
    let value_in_base64 = limits.max_value_bytes.div_ceil(3).saturating_mul(4);
    value_in_base64
        .saturating_add(limits.max_metadata_bytes)
        .saturating_add(limits.max_content_type_bytes)
        .saturating_add(EDIT_FRAMING_BYTES)
}

/// The browser API's operations.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// `GET /_edgekv/`: the page.
    Page,
    /// `GET api/namespaces`.
    Namespaces,
    /// `GET api/namespaces/{namespace}/keys`.
    Keys,
    /// `GET api/namespaces/{namespace}/values/{key}`.
    GetEntry,
    /// `PUT api/namespaces/{namespace}/values/{key}`.
    PutEntry,
    /// `DELETE api/namespaces/{namespace}/values/{key}`.
    DeleteEntry,
    /// `GET api/clock`.
    Clock,
    /// `POST api/clock`.
    MoveClock,
    /// `GET api/snapshots`.
    ListSnapshots,
    /// `POST api/snapshots`.
    TakeSnapshot,
    /// `POST api/snapshots/{name}/restore`.
    RestoreSnapshot,
    /// `DELETE api/snapshots/{name}`.
    DeleteSnapshot,
    /// `POST api/namespaces/{namespace}/reset` (admin).
    ResetNamespace,
    /// `POST api/namespaces/{namespace}/fork` (admin).
    ForkNamespace,
}

impl Op {
    /// Whether the operation is the admin API's (what a test suite drives: the clock, snapshots,
    /// namespace reset and fork) rather than the data browser's.
    pub fn is_admin(self) -> bool {
        matches!(
            self,
            Op::Clock
                | Op::MoveClock
                | Op::ListSnapshots
                | Op::TakeSnapshot
                | Op::RestoreSnapshot
                | Op::DeleteSnapshot
                | Op::ResetNamespace
                | Op::ForkNamespace
        )
    }
}

const NS: Seg = Seg::Param("namespace");
const KEY: Seg = Seg::Rest("key");
const SNAPSHOT: Seg = Seg::Param("name");

/// Every route, below `/_edgekv`.
#[rustfmt::skip]
pub const ROUTES: &[Route<Op>] = &[
    Route { verb: Verb::Get, pattern: &[], op: Op::Page },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces")], op: Op::Namespaces },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("keys")], op: Op::Keys },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("values"), KEY], op: Op::GetEntry },
    Route { verb: Verb::Put, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("values"), KEY], op: Op::PutEntry },
    Route { verb: Verb::Delete, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("values"), KEY], op: Op::DeleteEntry },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("clock")], op: Op::Clock },
    Route { verb: Verb::Post, pattern: &[Seg::Lit("api"), Seg::Lit("clock")], op: Op::MoveClock },
    Route { verb: Verb::Get, pattern: &[Seg::Lit("api"), Seg::Lit("snapshots")], op: Op::ListSnapshots },
    Route { verb: Verb::Post, pattern: &[Seg::Lit("api"), Seg::Lit("snapshots")], op: Op::TakeSnapshot },
    Route { verb: Verb::Post, pattern: &[Seg::Lit("api"), Seg::Lit("snapshots"), SNAPSHOT, Seg::Lit("restore")], op: Op::RestoreSnapshot },
    Route { verb: Verb::Delete, pattern: &[Seg::Lit("api"), Seg::Lit("snapshots"), SNAPSHOT], op: Op::DeleteSnapshot },
    Route { verb: Verb::Post, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("reset")], op: Op::ResetNamespace },
    Route { verb: Verb::Post, pattern: &[Seg::Lit("api"), Seg::Lit("namespaces"), NS, Seg::Lit("fork")], op: Op::ForkNamespace },
];

/// Serves an API operation (everything but `Op::Page`).
pub async fn serve(
    m: &Management,
    req: Request<Body>,
    mut found: Dispatched<Op>,
) -> Response<Body> {
    let store = m.store();
    let target = route::target(req.uri()).to_string();
    // The first parameter is the namespace, or the snapshot's name on the snapshot routes.
    let (namespace, key) = (found.param(), found.param());
    let result = match found.op {
        Op::Page => Err(Failure::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "not an API route",
        )),
        Op::Namespaces => namespaces(store).await,
        Op::Keys => keys(store, &namespace, &target).await,
        Op::GetEntry => entry(store, &namespace, key).await,
        Op::PutEntry => put(store, &namespace, key, req).await,
        Op::DeleteEntry => delete(store, &namespace, key, &req).await,
        Op::Clock => admin::clock::show(store),
        Op::MoveClock => admin::clock::advance(store, req).await,
        Op::ListSnapshots => admin::snapshots::list(m).await,
        Op::TakeSnapshot => admin::snapshots::take(m, req).await,
        Op::RestoreSnapshot => admin::snapshots::restore(m, &namespace).await,
        Op::DeleteSnapshot => admin::snapshots::delete(m, &namespace).await,
        Op::ResetNamespace => admin::namespaces::reset(m, &namespace, req).await,
        Op::ForkNamespace => admin::namespaces::fork(m, &namespace, req).await,
    };
    result.unwrap_or_else(|f| f.response())
}

async fn namespaces(store: &Store) -> Result<Response<Body>, Failure> {
    let query = NamespaceQuery {
        limit: u64::MAX >> 1,
        ..NamespaceQuery::default()
    };
    let page = store.run(move |s| s.list_namespaces(&query)).await?;
    let list: Vec<Value> = page.namespaces.iter().map(describe).collect();
    ok(json!({ "namespaces": list }))
}

/// The page size a key listing asks for, if any (the store refuses 0).
fn requested_limit(target: &str) -> Result<Option<u64>, Failure> {
    route::query_param(target, "limit")
        .map(|raw| {
            raw.parse::<u64>().map_err(|_| {
                Failure::new(
                    StatusCode::BAD_REQUEST,
                    "invalid-request",
                    "limit must be a whole number",
                )
            })
        })
        .transpose()
}

async fn keys(store: &Store, namespace: &str, target: &str) -> Result<Response<Body>, Failure> {
    let namespace_id = namespace_id(store, namespace).await?;
    let requested = requested_limit(target)?;
    let prefix = route::query_param(target, "prefix").unwrap_or_default();
    let cursor = route::query_param(target, "cursor").filter(|c| !c.is_empty());
    let page = store
        .run(move |s| {
            let largest = s.limits(&namespace_id)?.max_list_limit;
            let query = ListQuery {
                prefix,
                cursor,
                limit: Some(requested.unwrap_or(PAGE_SIZE).min(largest)),
            };
            s.list(&namespace_id, &query)
        })
        .await?;
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
    ok(json!({ "keys": keys, "cursor": page.cursor }))
}

async fn entry(store: &Store, namespace: &str, key: String) -> Result<Response<Body>, Failure> {
    let namespace_id = namespace_id(store, namespace).await?;
    let entry = store.run(move |s| s.get(&namespace_id, &key)).await?;
    ok(entry_json(&entry))
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

/// The failure for an edit body that could not be read, quoting the limit that applied.
fn edit_body_error(e: BodyError, limits: &Limits) -> Failure {
    match e {
        BodyError::TooLarge { limit, .. } => Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!(
                "the edit body is over {limit} bytes, the most an edit of this namespace needs \
                 (a value of up to {} bytes in base64, with its metadata and content type)",
                limits.max_value_bytes
            ),
        ),
        BodyError::Incomplete(_) => Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "the edit body did not arrive whole",
        ),
    }
}

async fn put(
    store: &Store,
    namespace: &str,
    key: String,
    req: Request<Body>,
) -> Result<Response<Body>, Failure> {
    let namespace = namespace.to_string();
    let (namespace_id, limits) = store
        .run(move |s| {
            let found = s.namespace(&namespace)?;
            Ok::<_, StoreError>((found.id, s.limits(&found.id)?))
        })
        .await?;
    let precondition = write_precondition(&req, true)?;
    let body = body::read_request(req, edit_body_limit(&limits))
        .await
        .map_err(|e| edit_body_error(e, &limits))?;
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
    let out = store.run(move |s| s.put(&namespace_id, put)).await?;
    let etag = out.etag.map(|e| e.as_str().to_string());
    let status = if out.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    answer(status, &json!({ "etag": etag, "created": !out.existed }))
}

async fn delete(
    store: &Store,
    namespace: &str,
    key: String,
    req: &Request<Body>,
) -> Result<Response<Body>, Failure> {
    let namespace_id = namespace_id(store, namespace).await?;
    let precondition = write_precondition(req, false)?;
    let delete = Delete { key, precondition };
    let out = store.run(move |s| s.delete(&namespace_id, delete)).await?;
    ok(json!({ "deleted": out.existed }))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_edit_body_limit_follows_the_namespace_value_limit() {
        let mut limits = edgekv_store::Profile::Cloudflare.limits();
        let framing = 1024 + 256 + EDIT_FRAMING_BYTES;
        assert_eq!(edit_body_limit(&limits), 34_952_536 + framing);
        limits.max_value_bytes = 3;
        assert_eq!(edit_body_limit(&limits), 4 + framing);
    }
}

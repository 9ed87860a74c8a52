//! The KeyValueStore data plane: DescribeKeyValueStore, GetKey, ListKeys, PutKey, DeleteKey and
//! UpdateKeys. The store is named in the path, so its limits are read once the head passes and
//! before the body is read: they cap the body. Mutations need `If-Match` with the store's ETag and
//! answer the new `ETag` with `ItemCount` and `TotalSizeInBytes`.

use super::errors::CfrError;
use super::{arn, epoch_seconds, Plane};
use crate::rest::reply;
use crate::rest::route::{self, Mount, Route, Seg, Verb};
use crate::{Body, Management};
use edgekv_store::{
    Batch, BatchOp, Delete, Limits, ListQuery, MissingKeys, Precondition, Profile, Put, Stats,
    StoreError, Uuid, WriteOutcome,
};
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// ListKeys' page when the request names none: the API's documented default (a REST convention,
/// not a KV rule), never more than the store's own largest page.
const DEFAULT_MAX_RESULTS: u64 = 10;

/// Room in a request body for its JSON beyond the bytes the store's rules count (a REST
/// convention, not a KV rule): member names, quotes, commas and the escapes (`\"`, `\uXXXX`) of
/// keys and values. A PutKey body may be the store's value limit plus this; an UpdateKeys body its
/// batch-payload limit plus this. 1 MiB: a batch at the default 3 MiB quota has a third of its
/// size again for framing.
const JSON_FRAMING_BYTES: u64 = 1024 * 1024;

/// Serves one data-plane request: the head checked, the store and its limits found, the body read
/// under the cap they give and its signature verified, then the operation.
pub async fn handle(
    m: &Management,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Response<Body>, CfrError> {
    let claim = super::check_head(m, Plane::Data, parts)?;
    let mut found = route::dispatch(&MOUNT, ROUTES, &parts.method, parts.uri.path())
        .map_err(super::unrouted)?;
    let store_arn = found.param();
    // A store that is not found is answered only to a request whose signature verifies, and
    // until then its body is capped as a store of the profile's own limits would cap it.
    let store = find(m, &store_arn).await;
    let limit = match &store {
        Ok((_, limits)) => body_limit(found.op, limits),
        Err(_) => body_limit(found.op, &Profile::Cloudfront.limits()),
    };
    let body = super::read_verified(m, parts, &claim, body, limit).await?;
    let (namespace_id, limits) = store?;
    let target = route::target(&parts.uri);
    let key = found.param();
    match found.op {
        Op::Describe => describe(m, namespace_id).await,
        Op::ListKeys => list(m, namespace_id, &limits, target).await,
        Op::UpdateKeys => update_keys(m, namespace_id, if_match(parts)?, &body).await,
        Op::GetKey => get(m, namespace_id, key).await,
        Op::PutKey => put(m, namespace_id, key, if_match(parts)?, &body).await,
        Op::DeleteKey => delete(m, namespace_id, key, if_match(parts)?).await,
    }
}

/// The largest body `op` may carry in a store with `limits`: what the store's rule for it
/// counts, plus `JSON_FRAMING_BYTES`.
fn body_limit(op: Op, limits: &Limits) -> u64 {
    let counted = match op {
        Op::PutKey => limits.max_value_bytes,
        Op::UpdateKeys => limits.max_batch_bytes.unwrap_or(u64::MAX),
        Op::Describe | Op::ListKeys | Op::GetKey | Op::DeleteKey => 0,
    };
    counted.saturating_add(JSON_FRAMING_BYTES)
}

/// Where every route is: `/key-value-stores`, then a store's ARN in this account.
pub const MOUNT: Mount = Mount(&[&[Seg::Lit("key-value-stores")]]);

/// The data plane's operations.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    Describe,
    ListKeys,
    UpdateKeys,
    GetKey,
    PutKey,
    DeleteKey,
}

const ARN: Seg = Seg::Param("KvsARN");
const KEYS: Seg = Seg::Lit("keys");
const KEY: Seg = Seg::Param("Key");

/// Every route, below `MOUNT`: the store's ARN first, then (a key is one segment: SDKs
/// percent-encode its slashes) the operation's path.
#[rustfmt::skip]
pub const ROUTES: &[Route<Op>] = &[
    Route { verb: Verb::Get, pattern: &[ARN], op: Op::Describe },
    Route { verb: Verb::Get, pattern: &[ARN, KEYS], op: Op::ListKeys },
    Route { verb: Verb::Post, pattern: &[ARN, KEYS], op: Op::UpdateKeys },
    Route { verb: Verb::Get, pattern: &[ARN, KEYS, KEY], op: Op::GetKey },
    Route { verb: Verb::Put, pattern: &[ARN, KEYS, KEY], op: Op::PutKey },
    Route { verb: Verb::Delete, pattern: &[ARN, KEYS, KEY], op: Op::DeleteKey },
];

/// The store an ARN of this account names, with its limits: only stores with the `cloudfront`
/// profile are key value stores; others are not found.
async fn find(m: &Management, store_arn: &str) -> Result<(Uuid, Limits), CfrError> {
    let not_found =
        || CfrError::not_found(format!("The key value store {store_arn} was not found"));
    let prefix = format!(
        "arn:aws:cloudfront::{}:key-value-store/",
        m.credentials().aws_account_id
    );
    let namespace_id = store_arn
        .strip_prefix(&prefix)
        .and_then(|id| Uuid::try_parse(id).ok())
        .ok_or_else(not_found)?;
    let (profile, limits) = m
        .store()
        .run(move |s| {
            let profile = s.namespace(&namespace_id.to_string())?.profile;
            Ok((profile, s.limits(&namespace_id)?))
        })
        .await
        .map_err(|e| match e {
            StoreError::NamespaceNotFound(_) => not_found(),
            e => CfrError::from_store(e),
        })?;
    match profile {
        Profile::Cloudfront => Ok((namespace_id, limits)),
        _ => Err(not_found()),
    }
}

fn if_match(parts: &http::request::Parts) -> Result<String, CfrError> {
    parts
        .headers
        .get(hyper::header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .ok_or_else(|| CfrError::validation("The If-Match header is required"))
}

/// A 200 JSON response, with the store's `ETag` where there is one.
fn ok(etag: Option<&str>, body: &Value) -> Result<Response<Body>, CfrError> {
    let mut head = Plane::Data.head(StatusCode::OK);
    if let Some(etag) = etag {
        head = head.header(hyper::header::ETAG, etag);
    }
    Ok(reply::json(head, body)?)
}

fn counts(stats: Stats) -> Value {
    json!({"ItemCount": stats.item_count, "TotalSizeInBytes": stats.total_bytes})
}

fn written(out: WriteOutcome) -> Result<Response<Body>, CfrError> {
    ok(Some(out.namespace_etag.as_str()), &counts(out.stats))
}

async fn describe(m: &Management, namespace_id: Uuid) -> Result<Response<Body>, CfrError> {
    let ns = m
        .store()
        .run(move |s| s.namespace(&namespace_id.to_string()))
        .await
        .map_err(CfrError::from_store)?;
    let body = json!({
        "ItemCount": ns.item_count,
        "TotalSizeInBytes": ns.total_bytes,
        "KvsARN": arn(&m.credentials().aws_account_id, &ns.id),
        "Created": epoch_seconds(ns.created_at_ms),
        "LastModified": epoch_seconds(ns.modified_at_ms),
        "Status": "READY",
    });
    ok(Some(ns.etag().as_str()), &body)
}

async fn get(m: &Management, namespace_id: Uuid, key: String) -> Result<Response<Body>, CfrError> {
    let (entry, ns) = m
        .store()
        .run(move |s| {
            Ok((
                s.get(&namespace_id, &key)?,
                s.namespace(&namespace_id.to_string())?,
            ))
        })
        .await
        .map_err(CfrError::from_store)?;
    let body = json!({
        "Key": entry.key,
        "Value": String::from_utf8_lossy(&entry.value),
        "ItemCount": ns.item_count,
        "TotalSizeInBytes": ns.total_bytes,
    });
    ok(None, &body)
}

async fn list(
    m: &Management,
    namespace_id: Uuid,
    limits: &Limits,
    target: &str,
) -> Result<Response<Body>, CfrError> {
    // The store checks the page against its own largest (ListLimit); only a number reaches it.
    let limit = match route::query_param(target, "MaxResults") {
        None => DEFAULT_MAX_RESULTS.min(limits.max_list_limit),
        Some(raw) => raw.trim().parse::<u64>().map_err(|_| {
            CfrError::validation(format!("MaxResults must be a whole number, got {raw}"))
        })?,
    };
    let query = ListQuery {
        prefix: String::new(),
        cursor: route::query_param(target, "NextToken"),
        limit: Some(limit),
    };
    let (keys, values, cursor) = m
        .store()
        .run(move |s| {
            let page = s.list(&namespace_id, &query)?;
            let names: Vec<String> = page.keys.into_iter().map(|k| k.key).collect();
            let values = s.get_many(&namespace_id, &names)?;
            Ok((names, values, page.cursor))
        })
        .await
        .map_err(CfrError::from_store)?;
    let items: Vec<Value> = keys
        .into_iter()
        .zip(values)
        .filter_map(|(key, entry)| {
            entry.map(|e| json!({"Key": key, "Value": String::from_utf8_lossy(&e.value)}))
        })
        .collect();
    let mut body = json!({"Items": items});
    if let Some(cursor) = cursor {
        body["NextToken"] = json!(cursor);
    }
    ok(None, &body)
}

#[derive(Deserialize)]
struct PutBody {
    #[serde(rename = "Value")]
    value: String,
}

fn parse<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, CfrError> {
    serde_json::from_slice(body)
        .map_err(|e| CfrError::validation(format!("Invalid request body: {e}")))
}

async fn put(
    m: &Management,
    namespace_id: Uuid,
    key: String,
    etag: String,
    body: &[u8],
) -> Result<Response<Body>, CfrError> {
    let PutBody { value } = parse(body)?;
    let put = Put {
        key,
        value: value.into_bytes(),
        precondition: Precondition::NamespaceEtag(etag),
        ..Put::default()
    };
    let out = m
        .store()
        .run(move |s| s.put(&namespace_id, put))
        .await
        .map_err(CfrError::from_store)?;
    written(out)
}

async fn delete(
    m: &Management,
    namespace_id: Uuid,
    key: String,
    etag: String,
) -> Result<Response<Body>, CfrError> {
    let missing = key.clone();
    let delete = Delete {
        key,
        precondition: Precondition::NamespaceEtag(etag),
    };
    let out = m
        .store()
        .run(move |s| s.delete(&namespace_id, delete))
        .await
        .map_err(CfrError::from_store)?;
    if !out.existed {
        return Err(CfrError::not_found(format!("Key not found: {missing}")));
    }
    written(out)
}

#[derive(Deserialize)]
struct UpdateBody {
    #[serde(rename = "Puts", default)]
    puts: Vec<PutItem>,
    #[serde(rename = "Deletes", default)]
    deletes: Vec<DeleteItem>,
}

#[derive(Deserialize)]
struct PutItem {
    #[serde(rename = "Key")]
    key: String,
    #[serde(rename = "Value")]
    value: String,
}

#[derive(Deserialize)]
struct DeleteItem {
    #[serde(rename = "Key")]
    key: String,
}

async fn update_keys(
    m: &Management,
    namespace_id: Uuid,
    etag: String,
    body: &[u8],
) -> Result<Response<Body>, CfrError> {
    let update: UpdateBody = parse(body)?;
    let puts = update
        .puts
        .into_iter()
        .map(|p| BatchOp::Put(Put::new(p.key, p.value.into_bytes())));
    let deletes = update
        .deletes
        .into_iter()
        .map(|d| BatchOp::Delete(Delete::new(d.key)));
    let batch = Batch {
        ops: puts.chain(deletes).collect(),
        if_match: Some(etag),
        missing_keys: MissingKeys::Fail,
    };
    let out = m
        .store()
        .run(move |s| s.apply(&namespace_id, batch))
        .await
        .map_err(CfrError::from_store)?;
    written(out)
}

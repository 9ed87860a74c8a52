//! The KeyValueStore data plane: DescribeKeyValueStore, GetKey, ListKeys, PutKey, DeleteKey and
//! UpdateKeys. Mutations need `If-Match` with the store's ETag and answer the new `ETag` with
//! `ItemCount` and `TotalSizeInBytes`.

use super::errors::CfrError;
use super::{arn, epoch_seconds};
use crate::rest::route::{self, Mount, Route, Seg, Verb};
use crate::{blocking, full, Body, Management};
use bytes::Bytes;
use edgekv_store::{
    Batch, BatchOp, Delete, ListQuery, MissingKeys, Precondition, Profile, Put, Stats, Uuid,
    WriteOutcome,
};
use hyper::{Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

const DEFAULT_MAX_RESULTS: u64 = 10;
const MAX_RESULTS: u64 = 50;

pub async fn handle(
    m: &Management,
    parts: &http::request::Parts,
    body: Bytes,
) -> Result<Response<Body>, CfrError> {
    let mut found = route::dispatch(&MOUNT, ROUTES, &parts.method, parts.uri.path())
        .map_err(super::unrouted)?;
    let store_arn = found.param();
    let id = store_id(m, &store_arn)?;
    ensure_cloudfront(m, id, &store_arn).await?;
    let target = route::target(&parts.uri);
    let key = found.param();
    match found.op {
        Op::Describe => describe(m, id).await,
        Op::ListKeys => list(m, id, target).await,
        Op::UpdateKeys => update_keys(m, id, if_match(parts)?, &body).await,
        Op::GetKey => get(m, id, key).await,
        Op::PutKey => put(m, id, key, if_match(parts)?, &body).await,
        Op::DeleteKey => delete(m, id, key, if_match(parts)?).await,
    }
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

/// The store id in an ARN of this account.
fn store_id(m: &Management, store_arn: &str) -> Result<Uuid, CfrError> {
    let prefix = format!(
        "arn:aws:cloudfront::{}:key-value-store/",
        m.credentials().aws_account_id
    );
    store_arn
        .strip_prefix(&prefix)
        .and_then(|id| Uuid::try_parse(id).ok())
        .ok_or_else(|| {
            CfrError::not_found(format!("The key value store {store_arn} was not found"))
        })
}

/// Only stores with the `cloudfront` profile are key value stores; others are not found.
async fn ensure_cloudfront(m: &Management, id: Uuid, store_arn: &str) -> Result<(), CfrError> {
    let ns = blocking(m.store(), move |s| s.namespace(&id.to_string()))
        .await
        .map_err(CfrError::from_store)?;
    match ns.profile {
        Profile::Cloudfront => Ok(()),
        _ => Err(CfrError::not_found(format!(
            "The key value store {store_arn} was not found"
        ))),
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

fn json_response(etag: Option<&str>, body: Value) -> Response<Body> {
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("x-amzn-requestid", Uuid::new_v4().to_string());
    if let Some(etag) = etag {
        response = response.header("etag", etag);
    }
    response
        .body(full(body.to_string()))
        .unwrap_or_else(|_| Response::new(full("{}")))
}

fn counts(stats: Stats) -> Value {
    json!({"ItemCount": stats.item_count, "TotalSizeInBytes": stats.total_bytes})
}

fn written(out: WriteOutcome) -> Response<Body> {
    json_response(Some(out.namespace_etag.as_str()), counts(out.stats))
}

async fn describe(m: &Management, id: Uuid) -> Result<Response<Body>, CfrError> {
    let ns = blocking(m.store(), move |s| s.namespace(&id.to_string()))
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
    Ok(json_response(Some(ns.etag().as_str()), body))
}

async fn get(m: &Management, id: Uuid, key: String) -> Result<Response<Body>, CfrError> {
    let (entry, ns) = blocking(m.store(), move |s| {
        Ok((s.get(&id, &key)?, s.namespace(&id.to_string())?))
    })
    .await
    .map_err(CfrError::from_store)?;
    let body = json!({
        "Key": entry.key,
        "Value": String::from_utf8_lossy(&entry.value),
        "ItemCount": ns.item_count,
        "TotalSizeInBytes": ns.total_bytes,
    });
    Ok(json_response(None, body))
}

async fn list(m: &Management, id: Uuid, target: &str) -> Result<Response<Body>, CfrError> {
    let limit = match route::query_param(target, "MaxResults") {
        None => DEFAULT_MAX_RESULTS,
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
            _ => {
                return Err(CfrError::validation(format!(
                    "MaxResults must be between 1 and {MAX_RESULTS}, got {raw}"
                )))
            }
        },
    };
    let query = ListQuery {
        prefix: String::new(),
        cursor: route::query_param(target, "NextToken"),
        limit: Some(limit),
    };
    let (keys, values, cursor) = blocking(m.store(), move |s| {
        let page = s.list(&id, &query)?;
        let names: Vec<String> = page.keys.into_iter().map(|k| k.key).collect();
        let values = s.get_many(&id, &names)?;
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
    Ok(json_response(None, body))
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
    id: Uuid,
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
    let out = blocking(m.store(), move |s| s.put(&id, put))
        .await
        .map_err(CfrError::from_store)?;
    Ok(written(out))
}

async fn delete(
    m: &Management,
    id: Uuid,
    key: String,
    etag: String,
) -> Result<Response<Body>, CfrError> {
    let missing = key.clone();
    let delete = Delete {
        key,
        precondition: Precondition::NamespaceEtag(etag),
    };
    let out = blocking(m.store(), move |s| s.delete(&id, delete))
        .await
        .map_err(CfrError::from_store)?;
    if !out.existed {
        return Err(CfrError::not_found(format!("Key not found: {missing}")));
    }
    Ok(written(out))
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
    id: Uuid,
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
    let out = blocking(m.store(), move |s| s.apply(&id, batch))
        .await
        .map_err(CfrError::from_store)?;
    Ok(written(out))
}

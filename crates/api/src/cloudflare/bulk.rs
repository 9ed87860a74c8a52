//! Bulk operations: write (`PUT /bulk`: items of `bulk_json`), delete (`POST /bulk/delete` and the
//! legacy `DELETE /bulk` that wrangler sends) and get (`POST /bulk/get`: text or json values,
//! optionally with metadata). Writes and deletes apply all or nothing. Each request body is capped
//! by the namespace's bound on one batch request.

use super::bulk_json::Item;
use super::envelope::{success, CfError};
use super::values::parse_metadata;
use super::{limits, Call};
use crate::rest::body;
use crate::Body;
use edgekv_store::{Batch, BatchOp, Delete, Entry, Limits, Rule, Uuid};

use hyper::{Request, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The request bound for a namespace whose batches have no byte limit of their own: what the
/// server holds in memory for one request, not a KV rule.
const UNBOUNDED_BATCH_BODY_BYTES: u64 = 1 << 30;

/// The largest bulk request body namespace `limits` take: Cloudflare bounds the whole request,
/// which is the namespace's batch bound.
fn body_limit(limits: &Limits) -> u64 {
    limits.max_batch_bytes.unwrap_or(UNBOUNDED_BATCH_BODY_BYTES)
}

/// The JSON body of bulk operation `op` on namespace `id`, capped from its limits: one too large
/// breaks the batch rule, and is answered as the store answers that.
async fn read_json<T: DeserializeOwned>(
    call: &Call<'_>,
    id: Uuid,
    op: &str,
    req: Request<Body>,
) -> Result<T, CfError> {
    let limit = body_limit(&limits(call, id, op).await?);
    let body = body::read_request(req, limit)
        .await
        .map_err(|e| CfError::from_body_rule(op, Rule::BatchTooLarge, e))?;
    serde_json::from_slice(&body)
        .map_err(|e| CfError::bad_request(10001, format!("Invalid JSON body: {e}")))
}

fn bulk_result(count: usize) -> Result<Response<Body>, CfError> {
    success(
        json!({"successful_key_count": count, "unsuccessful_keys": []}),
        None,
    )
}

/// Applies `ops` as one batch (all or nothing) and answers their count.
async fn apply(
    call: &Call<'_>,
    id: Uuid,
    op: &'static str,
    ops: Vec<BatchOp>,
) -> Result<Response<Body>, CfError> {
    let count = ops.len();
    let batch = Batch {
        ops,
        ..Batch::default()
    };
    call.m
        .store()
        .run(move |s| s.apply(&id, batch))
        .await
        .map_err(|e| CfError::from_store(op, e))?;
    bulk_result(count)
}

pub async fn write(
    call: &Call<'_>,
    id: Uuid,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let items: Vec<Item> = read_json(call, id, "bulk put", req).await?;
    let ops = items
        .into_iter()
        .map(|item| Ok(BatchOp::Put(item.into_put()?)))
        .collect::<Result<Vec<_>, CfError>>()?;
    apply(call, id, "bulk put", ops).await
}

pub async fn delete(
    call: &Call<'_>,
    id: Uuid,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let keys: Vec<String> = read_json(call, id, "bulk delete", req).await?;
    let ops = keys
        .into_iter()
        .map(|key| BatchOp::Delete(Delete::new(key)))
        .collect();
    apply(call, id, "bulk delete", ops).await
}

/// A bulk get body: `keys` (at least one), `type` (`text`, the default, or `json`) and
/// `withMetadata` (false by default).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetRequest {
    keys: Vec<String>,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    with_metadata: bool,
}

pub async fn get(call: &Call<'_>, id: Uuid, req: Request<Body>) -> Result<Response<Body>, CfError> {
    let request: GetRequest = read_json(call, id, "bulk get keys", req).await?;
    let as_json = as_json(request.kind.as_deref())?;
    if request.keys.is_empty() {
        return Err(CfError::bad_request(
            10001,
            "You must request a minimum of 1 key",
        ));
    }
    let keys = request.keys.clone();
    let entries = call
        .m
        .store()
        .run(move |s| s.get_many(&id, &keys))
        .await
        .map_err(|e| CfError::from_store("bulk get keys", e))?;
    let mut values = Map::new();
    for (key, entry) in request.keys.into_iter().zip(entries) {
        let rendered = match entry {
            None => Value::Null,
            Some(entry) => render(entry, as_json, request.with_metadata)?,
        };
        values.insert(key, rendered);
    }
    success(json!({"values": values}), None)
}

/// Whether a bulk get's `type` asks for values parsed as JSON (`json`) or as text (`text`, the
/// default).
fn as_json(kind: Option<&str>) -> Result<bool, CfError> {
    match kind {
        None | Some("text") => Ok(false),
        Some("json") => Ok(true),
        Some(other) => Err(CfError::bad_request(
            10001,
            format!("\"{other}\" is not a valid type. Use \"json\" or \"text\""),
        )),
    }
}

/// One found entry of a bulk get: its value, or `{value, metadata, expiration?}` with metadata.
fn render(entry: Entry, as_json: bool, with_metadata: bool) -> Result<Value, CfError> {
    let value = decode_value(entry.value, as_json).ok_or_else(|| {
        let kind = if as_json { "json" } else { "text" };
        CfError::bad_request(
            10001,
            format!("At least one of the requested keys corresponds to a non-{kind} value"),
        )
    })?;
    if !with_metadata {
        return Ok(value);
    }
    let mut item = json!({"value": value, "metadata": parse_metadata(entry.metadata.as_deref())});
    if let Some(at) = entry.expires_at_ms {
        item["expiration"] = json!(at / 1000);
    }
    Ok(item)
}

/// A stored value as text, or parsed as JSON; `None` when it is not that.
pub fn decode_value(bytes: Vec<u8>, as_json: bool) -> Option<Value> {
    let text = String::from_utf8(bytes).ok()?;
    match as_json {
        true => serde_json::from_str(&text).ok(),
        false => Some(Value::String(text)),
    }
}

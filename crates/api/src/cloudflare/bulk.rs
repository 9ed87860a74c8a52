//! Bulk operations: write (`PUT /bulk`: base64 values, metadata, expiry per item), delete
//! (`POST /bulk/delete` and the legacy `DELETE /bulk` that wrangler sends) and get (`POST /bulk/get`:
//! text or json values, optionally with metadata). Writes and deletes apply all or nothing.

use super::envelope::{success, CfError};
use super::values::parse_metadata;
use super::{namespace_id, Call};
use crate::rest::body;
use crate::{blocking, Body};
use base64::Engine;
use edgekv_store::{Batch, BatchOp, Delete, Expiry, Put};

use hyper::{Request, Response};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

/// The largest bulk request body (100 MB).
const MAX_BULK_BODY: u64 = 100 * 1000 * 1000;

/// One item of a bulk write body: `key`, `value` (text, or base64 when `base64` is true), and
/// optional `expiration` (unix seconds), `expiration_ttl` (seconds) and `metadata` (any JSON).
#[derive(Deserialize)]
pub struct WriteItem {
    key: String,
    value: String,
    #[serde(default)]
    base64: bool,
    expiration: Option<f64>,
    expiration_ttl: Option<f64>,
    metadata: Option<Value>,
}

async fn read_json<T: DeserializeOwned>(req: Request<Body>) -> Result<T, CfError> {
    let body = body::read_request(req, MAX_BULK_BODY)
        .await
        .map_err(CfError::from_body)?;
    serde_json::from_slice(&body)
        .map_err(|e| CfError::bad_request(10001, format!("Invalid JSON body: {e}")))
}

/// The store write a bulk item asks for: `expiration_ttl` wins over `expiration`, negative times
/// count as 0, JSON `null` metadata as none; the store checks its limits when the batch applies.
/// A `base64` value that does not decode is Cloudflare error 10012.
pub fn to_put(item: WriteItem) -> Result<Put, CfError> {
    let value = match item.base64 {
        true => base64::engine::general_purpose::STANDARD
            .decode(item.value.as_bytes())
            .map_err(|_| {
                CfError::bad_request(
                    10012,
                    format!("Malformed base64 value for key {:?}", item.key),
                )
            })?,
        false => item.value.into_bytes(),
    };
    let expiry = match (item.expiration_ttl, item.expiration) {
        (Some(ttl), _) => Expiry::TtlSecs(ttl.max(0.0) as u64),
        (None, Some(at)) => Expiry::AtUnixSecs(at.max(0.0) as u64),
        (None, None) => Expiry::Never,
    };
    let metadata = item
        .metadata
        .filter(|m| !m.is_null())
        .map(|m| m.to_string());
    Ok(Put {
        key: item.key,
        value,
        metadata,
        expiry,
        ..Put::default()
    })
}

fn bulk_result(count: usize) -> Response<Body> {
    success(
        json!({"successful_key_count": count, "unsuccessful_keys": []}),
        None,
    )
}

pub async fn write(
    call: &Call<'_>,
    ns: &str,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let items: Vec<WriteItem> = read_json(req).await?;
    let ops = items
        .into_iter()
        .map(|item| to_put(item).map(BatchOp::Put))
        .collect::<Result<Vec<_>, _>>()?;
    let count = ops.len();
    let batch = Batch {
        ops,
        ..Batch::default()
    };
    blocking(call.m.store(), move |s| s.apply(&id, batch))
        .await
        .map_err(|e| CfError::from_store("bulk put", e))?;
    Ok(bulk_result(count))
}

pub async fn delete(
    call: &Call<'_>,
    ns: &str,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let keys: Vec<String> = read_json(req).await?;
    let count = keys.len();
    let ops = keys
        .into_iter()
        .map(|key| BatchOp::Delete(Delete::new(key)))
        .collect();
    let batch = Batch {
        ops,
        ..Batch::default()
    };
    blocking(call.m.store(), move |s| s.apply(&id, batch))
        .await
        .map_err(|e| CfError::from_store("bulk delete", e))?;
    Ok(bulk_result(count))
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

pub async fn get(call: &Call<'_>, ns: &str, req: Request<Body>) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let request: GetRequest = read_json(req).await?;
    let as_json = match request.kind.as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(other) => {
            return Err(CfError::bad_request(
                10001,
                format!("\"{other}\" is not a valid type. Use \"json\" or \"text\""),
            ))
        }
    };
    if request.keys.is_empty() {
        return Err(CfError::bad_request(
            10001,
            "You must request a minimum of 1 key",
        ));
    }
    let keys = request.keys.clone();
    let entries = blocking(call.m.store(), move |s| s.get_many(&id, &keys))
        .await
        .map_err(|e| CfError::from_store("bulk get keys", e))?;
    let kind = if as_json { "json" } else { "text" };
    let mut values = Map::new();
    for (key, entry) in request.keys.into_iter().zip(entries) {
        let rendered = match entry {
            None => Value::Null,
            Some(entry) => {
                let value = decode_value(entry.value, as_json).ok_or_else(|| {
                    CfError::bad_request(
                        10001,
                        format!(
                            "At least one of the requested keys corresponds to a non-{kind} value"
                        ),
                    )
                })?;
                match request.with_metadata {
                    false => value,
                    true => {
                        let mut item = json!({"value": value, "metadata": parse_metadata(entry.metadata.as_deref())});
                        if let Some(at) = entry.expires_at_ms {
                            item["expiration"] = json!(at / 1000);
                        }
                        item
                    }
                }
            }
        };
        values.insert(key, rendered);
    }
    Ok(success(json!({"values": values}), None))
}

/// A stored value as text, or parsed as JSON; `None` when it is not that.
pub fn decode_value(bytes: Vec<u8>, as_json: bool) -> Option<Value> {
    let text = String::from_utf8(bytes).ok()?;
    match as_json {
        true => serde_json::from_str(&text).ok(),
        false => Some(Value::String(text)),
    }
}

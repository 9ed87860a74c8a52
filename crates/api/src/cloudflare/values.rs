//! Values and keys: write (a raw body of any content type, or multipart with `value` and optional
//! `metadata`; `expiration` / `expiration_ttl`, TTL winning), read (raw bytes with an `expiration`
//! header), delete (idempotent), metadata read, and key listing with `result_info {count, cursor}`.
//! A write's body is capped by the namespace's own value and metadata limits.

use super::bulk_json;
use super::envelope::{success, CfError};
use super::{limits, number, Call};
use crate::rest::{body, reply};
use crate::Body;
use edgekv_store::{Delete, Expiry, Limits, ListQuery, Put, Rule, Uuid};
use http_body_util::{BodyExt, Full};

use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

/// Room for a multipart body's framing (boundaries, part headers) on top of the value and
/// metadata it carries: a REST allowance, not a KV rule.
const MULTIPART_FRAMING_BYTES: u64 = 64 * 1024;
/// The smallest page a REST key listing takes (the API's `limit` is 10..=1000; the binding's is
/// 1..=1000): a convention of the REST API, not a KV rule. The upper bound is the namespace's.
const MIN_LIST_PAGE: u64 = 10;

pub async fn put(
    call: &Call<'_>,
    id: Uuid,
    key: String,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let expiry = expiry(call)?;
    let limits = limits(call, id, "put").await?;
    let (value, metadata) = read_value(req, &limits).await?;
    let put = Put {
        key,
        value,
        metadata,
        expiry,
        ..Put::default()
    };
    call.m
        .store()
        .run(move |s| s.put(&id, put))
        .await
        .map_err(|e| CfError::from_store("put", e))?;
    success(json!({}), None)
}

/// The `expiration_ttl` and `expiration` query parameters (floats accepted), as the bulk format
/// reads them: the TTL wins.
fn expiry(call: &Call<'_>) -> Result<Expiry, CfError> {
    let ttl = number(call, "expiration_ttl", 10034)?;
    let at = number(call, "expiration", 10033)?;
    let whole = |n: f64| n.max(0.0) as u64;
    Ok(bulk_json::expiry(ttl.map(whole), at.map(whole)))
}

/// The value (and metadata, for multipart) of a write. A raw body is the value, so one over the
/// namespace's value limit breaks the value rule; a multipart body may carry the value, the
/// metadata and its framing.
async fn read_value(
    req: Request<Body>,
    limits: &Limits,
) -> Result<(Vec<u8>, Option<String>), CfError> {
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Ok(boundary) = multer::parse_boundary(content_type) {
        let cap = limits.max_value_bytes + limits.max_metadata_bytes + MULTIPART_FRAMING_BYTES;
        let bytes = body::read_request(req, cap)
            .await
            .map_err(CfError::from_body)?;
        return read_multipart(Full::new(bytes), boundary).await;
    }
    let value = body::read_request(req, limits.max_value_bytes)
        .await
        .map_err(|e| CfError::from_body_rule("put", Rule::ValueTooLarge, e))?;
    Ok((Vec::from(value), None))
}

/// The `value` and `metadata` fields of a multipart body, already read whole under its cap: the
/// store checks the value and the metadata against the namespace's own limits, so its errors name
/// them. Generic over the body so the fuzz targets (`tests/fuzz`) can feed it in-memory chunks.
pub async fn read_multipart<B>(
    body: B,
    boundary: String,
) -> Result<(Vec<u8>, Option<String>), CfError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Into<bytes::Bytes> + 'static,
    B::Error: Into<crate::BoxError> + 'static,
{
    let mut parts = multer::Multipart::new(body.into_data_stream(), boundary);
    let (mut value, mut metadata) = (None, None);
    loop {
        let field = match parts.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(multipart_error(None, e)),
        };
        let name = field.name().map(str::to_string);
        let bytes = read_field(field, name.as_deref()).await?;
        match name.as_deref() {
            Some("value") => value = Some(bytes),
            Some("metadata") => {
                let text = String::from_utf8(bytes)
                    .map_err(|_| CfError::bad_request(10047, "Invalid metadata JSON"))?;
                metadata = Some(text);
            }
            _ => {}
        }
    }
    let value = value.ok_or_else(|| CfError::bad_request(10001, "Missing value field"))?;
    Ok((value, metadata))
}

/// A multipart field's bytes, appended chunk by chunk into one buffer.
async fn read_field(mut field: multer::Field<'_>, name: Option<&str>) -> Result<Vec<u8>, CfError> {
    let mut bytes = Vec::new();
    loop {
        match field.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) => return Ok(bytes),
            Err(e) => return Err(multipart_error(name, e)),
        }
    }
}

/// The error for a multipart body that is malformed or cut short while reading field `name`.
fn multipart_error(name: Option<&str>, e: multer::Error) -> CfError {
    let field = name.map_or(String::new(), |name| format!(" (field {name:?})"));
    CfError::bad_request(10001, format!("Invalid multipart body{field}: {e}"))
}

pub async fn get(call: &Call<'_>, id: Uuid, key: String) -> Result<Response<Body>, CfError> {
    let entry = call
        .m
        .store()
        .run(move |s| s.get(&id, &key))
        .await
        .map_err(|e| CfError::from_store("get", e))?;
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/octet-stream");
    if let Some(at) = entry.expires_at_ms {
        response = response.header("expiration", (at / 1000).to_string());
    }
    Ok(reply::bytes(response, entry.value)?)
}

pub async fn delete(call: &Call<'_>, id: Uuid, key: String) -> Result<Response<Body>, CfError> {
    let delete = Delete {
        key,
        ..Delete::default()
    };
    call.m
        .store()
        .run(move |s| s.delete(&id, delete))
        .await
        .map_err(|e| CfError::from_store("remove key", e))?;
    success(json!({}), None)
}

pub async fn metadata(call: &Call<'_>, id: Uuid, key: String) -> Result<Response<Body>, CfError> {
    let entry = call
        .m
        .store()
        .run(move |s| s.get(&id, &key))
        .await
        .map_err(|e| CfError::from_store("get", e))?;
    success(parse_metadata(entry.metadata.as_deref()), None)
}

/// Stored metadata (compact JSON text) as a JSON value; `null` when absent.
pub fn parse_metadata(metadata: Option<&str>) -> Value {
    metadata
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null)
}

pub async fn list(call: &Call<'_>, id: Uuid) -> Result<Response<Body>, CfError> {
    let query = ListQuery {
        prefix: call.query("prefix").unwrap_or_default(),
        cursor: call.query("cursor").filter(|c| !c.is_empty()),
        limit: page_size(call)?,
    };
    let page = call
        .m
        .store()
        .run(move |s| s.list(&id, &query))
        .await
        .map_err(|e| CfError::from_store("list keys", e))?;
    let keys: Vec<Value> = page
        .keys
        .iter()
        .map(|k| {
            let mut key = json!({"name": k.key});
            if let Some(at) = k.expires_at_ms {
                key["expiration"] = json!(at / 1000);
            }
            if k.metadata.is_some() {
                key["metadata"] = parse_metadata(k.metadata.as_deref());
            }
            key
        })
        .collect();
    let info = json!({"count": keys.len(), "cursor": page.cursor.unwrap_or_default()});
    success(Value::Array(keys), Some(info))
}

/// The `limit` of a key listing: at least the REST minimum here; the store bounds it above by the
/// namespace's largest page.
fn page_size(call: &Call<'_>) -> Result<Option<u64>, CfError> {
    match number(call, "limit", 10028)? {
        Some(limit) if limit < MIN_LIST_PAGE as f64 => Err(CfError::bad_request(
            10028,
            format!("Invalid key_count_limit of {limit}. Please specify an integer no less than {MIN_LIST_PAGE}."),
        )),
        limit => Ok(limit.map(|l| l as u64)),
    }
}

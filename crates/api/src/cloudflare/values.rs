//! Values and keys: write (a raw body of any content type, or multipart with `value` and optional
//! `metadata`; `expiration` / `expiration_ttl`, TTL winning), read (raw bytes with an `expiration`
//! header), delete (idempotent), metadata read, and key listing with `result_info {count, cursor}`.

use super::envelope::{success, CfError};
use super::{namespace_id, number, Call};
use crate::{blocking, full, Body};
use edgekv_store::{Delete, Expiry, ListQuery, Put};
use http_body_util::BodyExt;

use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

/// The largest value the API takes (25 MiB); the store checks the namespace's own limit.
const MAX_VALUE: u64 = 25 * 1024 * 1024;
/// Room for multipart framing and metadata on top of the value.
const MULTIPART_SLACK: u64 = 64 * 1024;

pub async fn put(
    call: &Call<'_>,
    ns: &str,
    key: String,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let expiry = expiry(call)?;
    let (value, metadata) = read_value(req).await?;
    let put = Put {
        key,
        value,
        metadata,
        expiry,
        ..Put::default()
    };
    blocking(call.m.store(), move |s| s.put(&id, put))
        .await
        .map_err(|e| CfError::from_store("put", e))?;
    Ok(success(json!({}), None))
}

/// `expiration_ttl` wins over `expiration`; both accept floats.
fn expiry(call: &Call<'_>) -> Result<Expiry, CfError> {
    let ttl = number(call, "expiration_ttl", 10034)?;
    let at = number(call, "expiration", 10033)?;
    Ok(match (ttl, at) {
        (Some(ttl), _) => Expiry::TtlSecs(ttl.max(0.0) as u64),
        (None, Some(at)) => Expiry::AtUnixSecs(at.max(0.0) as u64),
        (None, None) => Expiry::Never,
    })
}

/// The value (and metadata, for multipart) of a write.
async fn read_value(req: Request<Body>) -> Result<(Vec<u8>, Option<String>), CfError> {
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if let Ok(boundary) = multer::parse_boundary(content_type) {
        refuse_declared_oversize(&req, MAX_VALUE + MULTIPART_SLACK)?;
        return read_multipart(req.into_body(), boundary).await;
    }
    let declared = refuse_declared_oversize(&req, MAX_VALUE)?;
    Ok((read_raw(req.into_body(), declared).await?, None))
}

/// Appends the body's frames to one buffer as they arrive (so the value is held once), refusing
/// with 413 as soon as it passes the limit.
async fn read_raw(mut body: Body, declared: Option<u64>) -> Result<Vec<u8>, CfError> {
    let mut value = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| CfError::bad_request(10001, format!("Invalid request body: {e}")))?;
        if let Ok(chunk) = frame.into_data() {
            if (value.len() + chunk.len()) as u64 > MAX_VALUE {
                return Err(too_large((value.len() + chunk.len()) as u64));
            }
            value.extend_from_slice(&chunk);
        }
    }
    Ok(value)
}

/// Refuses at once a body whose Content-Length is already over the limit; else the declared length.
fn refuse_declared_oversize(req: &Request<Body>, limit: u64) -> Result<Option<u64>, CfError> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    match declared {
        Some(len) if len > limit => Err(too_large(len)),
        _ => Ok(declared),
    }
}

fn too_large(len: u64) -> CfError {
    CfError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        10024,
        format!("Value length of {len} exceeds limit of {MAX_VALUE}."),
    )
}

/// The `value` and `metadata` fields of a multipart body. Only the whole body is capped: the store
/// checks the metadata against the namespace's own limit, so its error names the metadata and that
/// limit. Generic over the body so the fuzz targets (`tests/fuzz`) can feed it in-memory chunks; the
/// server passes the `Incoming` body.
pub async fn read_multipart<B>(
    body: B,
    boundary: String,
) -> Result<(Vec<u8>, Option<String>), CfError>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Into<bytes::Bytes> + 'static,
    B::Error: Into<crate::BoxError> + 'static,
{
    let limits = multer::Constraints::new()
        .size_limit(multer::SizeLimit::new().whole_stream(MAX_VALUE + MULTIPART_SLACK));
    let mut parts = multer::Multipart::with_constraints(body.into_data_stream(), boundary, limits);
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

/// The error for a multipart body that broke off while reading field `name`: over the size cap
/// (413, naming the value only when the value is what overflowed), else malformed or cut short (400).
fn multipart_error(name: Option<&str>, e: multer::Error) -> CfError {
    match e {
        multer::Error::StreamSizeExceeded { .. } | multer::Error::FieldSizeExceeded { .. } => {
            match name {
                Some("value") => too_large(MAX_VALUE + 1),
                _ => CfError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    10024,
                    format!(
                        "Request body exceeds the limit of {} bytes.",
                        MAX_VALUE + MULTIPART_SLACK
                    ),
                ),
            }
        }
        e => CfError::bad_request(10001, format!("Invalid multipart body: {e}")),
    }
}

pub async fn get(call: &Call<'_>, ns: &str, key: String) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let entry = blocking(call.m.store(), move |s| s.get(&id, &key))
        .await
        .map_err(|e| CfError::from_store("get", e))?;
    let mut response = Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/octet-stream");
    if let Some(at) = entry.expires_at_ms {
        response = response.header("expiration", (at / 1000).to_string());
    }
    response
        .body(full(entry.value))
        .map_err(|e| CfError::new(StatusCode::INTERNAL_SERVER_ERROR, 10001, e.to_string()))
}

pub async fn delete(call: &Call<'_>, ns: &str, key: String) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let delete = Delete {
        key,
        ..Delete::default()
    };
    blocking(call.m.store(), move |s| s.delete(&id, delete))
        .await
        .map_err(|e| CfError::from_store("remove key", e))?;
    Ok(success(json!({}), None))
}

pub async fn metadata(call: &Call<'_>, ns: &str, key: String) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let entry = blocking(call.m.store(), move |s| s.get(&id, &key))
        .await
        .map_err(|e| CfError::from_store("get", e))?;
    Ok(success(parse_metadata(entry.metadata.as_deref()), None))
}

/// Stored metadata (compact JSON text) as a JSON value; `null` when absent.
pub fn parse_metadata(metadata: Option<&str>) -> Value {
    metadata
        .and_then(|m| serde_json::from_str(m).ok())
        .unwrap_or(Value::Null)
}

pub async fn list(call: &Call<'_>, ns: &str) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let limit = number(call, "limit", 10028)?;
    if let Some(limit) = limit.filter(|l| !(10.0..=1000.0).contains(l)) {
        return Err(CfError::bad_request(
            10028,
            format!("Invalid key_count_limit of {limit}. It must be 10..=1000."),
        ));
    }
    let query = ListQuery {
        prefix: call.query("prefix").unwrap_or_default(),
        cursor: call.query("cursor").filter(|c| !c.is_empty()),
        limit: limit.map(|l| l as u64),
    };
    let page = blocking(call.m.store(), move |s| s.list(&id, &query))
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
    Ok(success(Value::Array(keys), Some(info)))
}

//! Key operations: put (raw body stored verbatim with its Content-Type, 201 created / 200 updated,
//! `ttl_secs`), get (raw bytes with the stored Content-Type, whatever the Accept header), delete
//! (idempotent) and list (prefix, limit capped at 1000, cursor; `meta.cursor` absent on the last page).

use super::errors::{json_response, TxError};
use super::namespace_id;
use super::namespaces::timestamp;
use crate::rest::body::{self, BodyError};
use crate::rest::route;
use crate::{blocking, full, Body, Management};
use edgekv_store::{Delete, Expiry, ListQuery, Put};

use hyper::{Request, Response, StatusCode};
use serde_json::{json, Value};

/// The largest value (1 MiB); the body is refused as soon as it is known to be larger.
const MAX_VALUE: u64 = 1024 * 1024;
const MAX_LIST: u64 = 1000;
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

fn ttl(target: &str) -> Result<Expiry, TxError> {
    if route::query_param(target, "ttl").is_some() {
        return Err(TxError::unprocessable(
            "Use ttl_secs; the ttl parameter is not supported",
            "ttl",
        ));
    }
    match route::query_param(target, "ttl_secs") {
        None => Ok(Expiry::Never),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(secs) => Ok(Expiry::TtlSecs(secs)),
            Err(_) => Err(TxError::unprocessable(
                format!("ttl_secs must be an integer from 1 to 9223372036, got {raw:?}"),
                "ttl_secs",
            )),
        },
    }
}

pub async fn put(
    m: &Management,
    id: &str,
    key: String,
    target: &str,
    req: Request<Body>,
) -> Result<Response<Body>, TxError> {
    let id = namespace_id(id)?;
    let expiry = ttl(target)?;
    let content_type = req
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .unwrap_or(DEFAULT_CONTENT_TYPE)
        .to_string();
    let value = body::read_request(req, MAX_VALUE)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { .. } => {
                TxError::too_large(format!("The value is larger than {MAX_VALUE} bytes"))
            }
            BodyError::Incomplete(_) => {
                TxError::bad_request("The request body did not arrive whole", None)
            }
        })?;
    let put = Put {
        key,
        value: Vec::from(value),
        content_type: Some(content_type),
        expiry,
        ..Put::default()
    };
    let out = blocking(m.store(), move |s| s.put(&id, put))
        .await
        .map_err(TxError::from_store)?;
    let status = if out.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(Response::builder()
        .status(status)
        .body(full(""))
        .unwrap_or_else(|_| Response::new(full(""))))
}

pub async fn get(m: &Management, id: &str, key: String) -> Result<Response<Body>, TxError> {
    let id = namespace_id(id)?;
    let entry = blocking(m.store(), move |s| s.get(&id, &key))
        .await
        .map_err(TxError::from_store)?;
    let content_type = entry
        .content_type
        .unwrap_or_else(|| DEFAULT_CONTENT_TYPE.to_string());
    Ok(Response::builder()
        .status(StatusCode::OK)
        .header("content-type", content_type)
        .body(full(entry.value))
        .unwrap_or_else(|_| Response::new(full(""))))
}

pub async fn delete(m: &Management, id: &str, key: String) -> Result<Response<Body>, TxError> {
    let id = namespace_id(id)?;
    let delete = Delete {
        key,
        ..Delete::default()
    };
    blocking(m.store(), move |s| s.delete(&id, delete))
        .await
        .map_err(TxError::from_store)?;
    Ok(Response::builder()
        .status(StatusCode::OK)
        .body(full(""))
        .unwrap_or_else(|_| Response::new(full(""))))
}

pub async fn list(m: &Management, id: &str, target: &str) -> Result<Response<Body>, TxError> {
    let id = namespace_id(id)?;
    let limit = match route::query_param(target, "limit") {
        None => MAX_LIST,
        Some(raw) => match raw.trim().parse::<i64>() {
            Ok(n) if n >= 1 => (n as u64).min(MAX_LIST),
            _ => {
                return Err(TxError::bad_request(
                    "limit must be a positive integer",
                    Some(json!({"parameter": "limit"})),
                ))
            }
        },
    };
    let query = ListQuery {
        prefix: route::query_param(target, "prefix").unwrap_or_default(),
        cursor: route::query_param(target, "cursor").filter(|c| !c.is_empty()),
        limit: Some(limit),
    };
    let page = blocking(m.store(), move |s| s.list(&id, &query))
        .await
        .map_err(TxError::from_store)?;
    let data: Vec<Value> = page
        .keys
        .iter()
        .map(|k| json!({"key": k.key, "size_bytes": k.size, "updated_at": timestamp(k.modified_at_ms)}))
        .collect();
    let mut meta = json!({"has_more": page.cursor.is_some()});
    if let Some(cursor) = page.cursor {
        meta["cursor"] = json!(cursor);
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"record_type": "storage_kv_key", "data": data, "meta": meta}),
    ))
}

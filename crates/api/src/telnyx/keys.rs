//! Key operations: put (raw body stored verbatim with its Content-Type, 201 created / 200 updated,
//! `ttl_secs`), get (raw bytes with the stored Content-Type, whatever the Accept header), delete
//! (idempotent) and list (prefix, limit, cursor; `meta.cursor` absent on the last page). The
//! namespace's limits decide: a put's body is capped at its value limit (read before the body),
//! and a list `limit` above its largest page is taken as that page, as the API documents.

use super::errors::TxError;
use super::namespaces::timestamp;
use super::parse_namespace_id;
use crate::rest::body::{self, BodyError};
use crate::rest::{reply, route};
use crate::{Body, Management};
use edgekv_store::{Delete, Expiry, ListQuery, Put, Rule, RuleViolation, StoreError};

use hyper::header::CONTENT_TYPE;
use hyper::{HeaderMap, Request, Response, StatusCode};
use serde_json::{json, Value};

/// The content type of a value put without one, and of a value read that has none.
const DEFAULT_CONTENT_TYPE: &str = "application/octet-stream";

/// The expiry a put asks for: `ttl_secs` as sent (its bounds are the namespace's, which the store
/// checks), or none; the `ttl` parameter is refused, as the API does.
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
                format!("ttl_secs must be a whole number of seconds, got {raw:?}"),
                "ttl_secs",
            )),
        },
    }
}

/// The content type a put stores: its `Content-Type` as sent (the store decides whether it is one
/// it keeps), or the default when there is none or it is empty.
fn content_type(headers: &HeaderMap) -> String {
    match headers.get(CONTENT_TYPE) {
        Some(value) if !value.is_empty() => String::from_utf8_lossy(value.as_bytes()).into_owned(),
        _ => DEFAULT_CONTENT_TYPE.to_string(),
    }
}

/// The error for a put's body that could not be read: one over the value limit breaks the value
/// rule, and is answered as the store answers that rule.
fn value_body_error(e: BodyError) -> TxError {
    match e {
        BodyError::TooLarge { limit, length } => TxError::from(StoreError::Rule(RuleViolation {
            rule: Rule::ValueTooLarge,
            limit,
            actual: length,
        })),
        BodyError::Incomplete(_) => TxError::incomplete_body(),
    }
}

/// `PUT /{namespace_id}/keys/{key}`.
pub async fn put(
    m: &Management,
    namespace_id: &str,
    key: String,
    target: &str,
    req: Request<Body>,
) -> Result<Response<Body>, TxError> {
    let namespace_id = parse_namespace_id(namespace_id)?;
    let expiry = ttl(target)?;
    let content_type = content_type(req.headers());
    let limits = m.store().run(move |s| s.limits(&namespace_id)).await?;
    let value = body::read_request(req, limits.max_value_bytes)
        .await
        .map_err(value_body_error)?;
    let put = Put {
        key,
        value: Vec::from(value),
        content_type: Some(content_type),
        expiry,
        ..Put::default()
    };
    let out = m.store().run(move |s| s.put(&namespace_id, put)).await?;
    Ok(reply::empty(if out.existed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }))
}

/// `GET /{namespace_id}/keys/{key}`.
pub async fn get(
    m: &Management,
    namespace_id: &str,
    key: String,
) -> Result<Response<Body>, TxError> {
    let namespace_id = parse_namespace_id(namespace_id)?;
    let entry = m.store().run(move |s| s.get(&namespace_id, &key)).await?;
    value_response(entry.content_type.as_deref(), entry.value)
}

/// A value as the API answers a get: its bytes, under its stored content type. A content type
/// that is not a header value (stored by an older edgekv, before the store kept to header values)
/// cannot be sent: a 500, not an empty 200.
fn value_response(content_type: Option<&str>, value: Vec<u8>) -> Result<Response<Body>, TxError> {
    let builder = Response::builder()
        .status(StatusCode::OK)
        .header(CONTENT_TYPE, content_type.unwrap_or(DEFAULT_CONTENT_TYPE));
    Ok(reply::bytes(builder, value)?)
}

/// `DELETE /{namespace_id}/keys/{key}`: 200 whether or not the key existed.
pub async fn delete(
    m: &Management,
    namespace_id: &str,
    key: String,
) -> Result<Response<Body>, TxError> {
    let namespace_id = parse_namespace_id(namespace_id)?;
    let delete = Delete {
        key,
        ..Delete::default()
    };
    m.store()
        .run(move |s| s.delete(&namespace_id, delete))
        .await?;
    Ok(reply::empty(StatusCode::OK))
}

/// The page size a list asks for, if any: an integer (0 is the store's to refuse); one above the
/// namespace's largest page is taken as that page when the store is asked.
fn requested_limit(target: &str) -> Result<Option<u64>, TxError> {
    route::query_param(target, "limit")
        .map(|raw| {
            raw.trim().parse::<u64>().map_err(|_| {
                TxError::bad_request(
                    "limit must be a positive integer",
                    Some(json!({"parameter": "limit"})),
                )
            })
        })
        .transpose()
}

/// `GET /{namespace_id}/keys?prefix=&limit=&cursor=`.
pub async fn list(
    m: &Management,
    namespace_id: &str,
    target: &str,
) -> Result<Response<Body>, TxError> {
    let namespace_id = parse_namespace_id(namespace_id)?;
    let requested = requested_limit(target)?;
    let prefix = route::query_param(target, "prefix").unwrap_or_default();
    let cursor = route::query_param(target, "cursor").filter(|c| !c.is_empty());
    let page = m
        .store()
        .run(move |s| {
            let largest = s.limits(&namespace_id)?.max_list_limit;
            let query = ListQuery {
                prefix,
                cursor,
                limit: requested.map(|limit| limit.min(largest)),
            };
            s.list(&namespace_id, &query)
        })
        .await?;
    let data: Vec<Value> = page
        .keys
        .iter()
        .map(|k| json!({"key": k.key, "size_bytes": k.size, "updated_at": timestamp(k.modified_at_ms)}))
        .collect();
    let mut meta = json!({"has_more": page.cursor.is_some()});
    if let Some(cursor) = page.cursor {
        meta["cursor"] = json!(cursor);
    }
    let body = json!({"record_type": "storage_kv_key", "data": data, "meta": meta});
    Ok(reply::json(
        Response::builder().status(StatusCode::OK),
        &body,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(content_type: Option<&str>) -> Result<Response<Body>, TxError> {
        value_response(content_type, b"value".to_vec())
    }

    #[test]
    fn a_value_is_sent_under_its_content_type() {
        let response = entry(Some("text/plain")).unwrap();
        assert_eq!(response.headers()[CONTENT_TYPE], "text/plain");
        let response = entry(None).unwrap();
        assert_eq!(response.headers()[CONTENT_TYPE], DEFAULT_CONTENT_TYPE);
    }

    /// A row an older edgekv wrote, with a content type that is no header value: a 500 in the
    /// Telnyx shape, never a 200 with an empty body.
    #[test]
    fn a_stored_content_type_that_is_no_header_value_is_a_500() {
        let e = entry(Some("text/plain\r\nx-injected: 1")).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::INTERNAL_SERVER_ERROR, "10000")
        );
    }

    #[test]
    fn a_body_over_the_value_limit_is_the_value_rule_quoting_that_limit() {
        let e = value_body_error(BodyError::TooLarge {
            limit: 2048,
            length: 2049,
        });
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(
            e.detail,
            "The value is 2049 bytes, over the limit of 2048 bytes"
        );
    }
}

//! Namespace operations: create (201, provisioned at once), list (`page[number]`, `page[size]`
//! capped at `MAX_PAGE_SIZE`, meta with totals, an empty page past the end), get, delete (answered
//! with status `deleting`; the namespace is then gone). Namespaces created here get the `telnyx`
//! profile.

use super::errors::TxError;
use super::parse_namespace_id;
use crate::rest::body::{self, BodyError};
use crate::rest::{reply, route};
use crate::{Body, Management};
use edgekv_store::{
    Namespace, NamespaceOrder, NamespaceQuery, NamespaceStatus, NewNamespace, Profile, StoreError,
};

use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

/// The largest `page[size]` of a namespace listing; larger sizes are taken as this. A REST
/// convention of the API (its documented page bound), not a KV rule.
const MAX_PAGE_SIZE: u64 = 250;

/// The `page[size]` of a namespace listing that asks for none, as the API documents.
const DEFAULT_PAGE_SIZE: u64 = 20;

/// The largest create body read: a REST convention for a small JSON body (`{"name": ...}`, whose
/// name the store bounds), not a KV rule.
const CREATE_BODY_BYTES: u64 = 64 * 1024;

/// RFC 3339 UTC, seconds precision, as the API renders times.
pub fn timestamp(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

/// A namespace's status as the API names it.
fn status(namespace: &Namespace) -> &'static str {
    match namespace.status {
        NamespaceStatus::Pending => "pending",
        NamespaceStatus::Ready => "provision_ok",
        NamespaceStatus::Deleting => "deleting",
        NamespaceStatus::Failed => "provision_failed",
    }
}

/// A `KvNamespace`, with `status`.
fn render(namespace: &Namespace, status: &str) -> Value {
    json!({
        "record_type": "storage_kv",
        "id": namespace.id.hyphenated().to_string(),
        "name": namespace.name,
        "status": status,
        "created_at": timestamp(namespace.created_at_ms),
        "updated_at": timestamp(namespace.modified_at_ms),
    })
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
}

/// A namespace as the API answers for it, with `status`.
fn one(
    status_code: StatusCode,
    namespace: &Namespace,
    status: &str,
) -> Result<Response<Body>, TxError> {
    let body = json!({"data": render(namespace, status)});
    Ok(reply::json(Response::builder().status(status_code), &body)?)
}

fn create_body_error(e: BodyError) -> TxError {
    match e {
        BodyError::TooLarge { limit, .. } => {
            TxError::too_large(format!("The request body is larger than {limit} bytes"))
        }
        BodyError::Incomplete(_) => TxError::incomplete_body(),
    }
}

/// `POST /`: `{"name": ...}`.
pub async fn create(m: &Management, req: Request<Body>) -> Result<Response<Body>, TxError> {
    let body = body::read_request(req, CREATE_BODY_BYTES)
        .await
        .map_err(create_body_error)?;
    let parsed: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| TxError::bad_request(format!("Invalid JSON body: {e}"), None))?;
    let name = parsed.name.unwrap_or_default();
    let namespace = m
        .store()
        .run(move |s| s.create_namespace(NewNamespace::new(name, Profile::Telnyx)))
        .await?;
    one(StatusCode::CREATED, &namespace, status(&namespace))
}

/// A positive integer query parameter; `None` when absent.
fn page_param(target: &str, name: &str) -> Result<Option<u64>, TxError> {
    match route::query_param(target, name) {
        None => Ok(None),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if n >= 1 => Ok(Some(n)),
            _ => Err(TxError::bad_request(
                format!("{name} must be a positive integer"),
                Some(json!({"parameter": name})),
            )),
        },
    }
}

/// `GET /?page[number]=&page[size]=`.
pub async fn list(m: &Management, target: &str) -> Result<Response<Body>, TxError> {
    let number = page_param(target, "page[number]")?.unwrap_or(1);
    let size = page_param(target, "page[size]")?
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(MAX_PAGE_SIZE);
    let query = NamespaceQuery {
        order: NamespaceOrder::Created,
        offset: (number - 1).saturating_mul(size),
        limit: size,
        ..NamespaceQuery::default()
    };
    let page = m.store().run(move |s| s.list_namespaces(&query)).await?;
    let data: Vec<Value> = page
        .namespaces
        .iter()
        .map(|namespace| render(namespace, status(namespace)))
        .collect();
    let meta = json!({
        "page_number": number,
        "page_size": size,
        "total_pages": page.total.div_ceil(size),
        "total_results": page.total,
    });
    let body = json!({"data": data, "meta": meta});
    Ok(reply::json(
        Response::builder().status(StatusCode::OK),
        &body,
    )?)
}

/// `GET /{namespace_id}`.
pub async fn get(m: &Management, namespace_id: &str) -> Result<Response<Body>, TxError> {
    let namespace_id = parse_namespace_id(namespace_id)?;
    let namespace = m
        .store()
        .run(move |s| s.namespace(&namespace_id.to_string()))
        .await?;
    one(StatusCode::OK, &namespace, status(&namespace))
}

/// Deletes at once; the answer shows the namespace `deleting`, as the asynchronous API does, and
/// it is gone (404) from then on.
pub async fn delete(m: &Management, namespace_id: &str) -> Result<Response<Body>, TxError> {
    let namespace_id = parse_namespace_id(namespace_id)?;
    let namespace = m
        .store()
        .run(move |s| {
            let namespace = s.namespace(&namespace_id.to_string())?;
            s.delete_namespace(&namespace_id, None)?;
            Ok::<_, StoreError>(namespace)
        })
        .await?;
    one(StatusCode::OK, &namespace, "deleting")
}

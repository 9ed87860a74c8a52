//! Namespace operations: create (201, provisioned at once), list (`page[number]`, `page[size]`
//! capped at 250, meta with totals, an empty page past the end), get, delete (answered with status
//! `deleting`; the namespace is then gone). Namespaces created here get the `telnyx` profile.

use super::errors::{json_response, TxError};
use super::namespace_id;
use crate::rest::body::{self, BodyError};
use crate::rest::route;
use crate::{blocking, Body, Management};
use edgekv_store::{
    Namespace, NamespaceOrder, NamespaceQuery, NamespaceStatus, NewNamespace, Profile,
};

use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

const MAX_PAGE_SIZE: u64 = 250;

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

fn status(ns: &Namespace) -> &'static str {
    match ns.status {
        NamespaceStatus::Pending => "pending",
        NamespaceStatus::Ready => "provision_ok",
        NamespaceStatus::Deleting => "deleting",
        NamespaceStatus::Failed => "provision_failed",
    }
}

fn render(ns: &Namespace, status: &str) -> Value {
    json!({
        "record_type": "storage_kv",
        "id": ns.id.hyphenated().to_string(),
        "name": ns.name,
        "status": status,
        "created_at": timestamp(ns.created_at_ms),
        "updated_at": timestamp(ns.modified_at_ms),
    })
}

#[derive(Deserialize)]
struct CreateBody {
    name: Option<String>,
}

pub async fn create(m: &Management, req: Request<Body>) -> Result<Response<Body>, TxError> {
    let body = body::read_request(req, 64 * 1024)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge { limit, .. } => {
                TxError::too_large(format!("The request body is larger than {limit} bytes"))
            }
            BodyError::Incomplete(_) => {
                TxError::bad_request("The request body did not arrive whole", None)
            }
        })?;
    let parsed: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| TxError::bad_request(format!("Invalid JSON body: {e}"), None))?;
    let name = parsed.name.unwrap_or_default();
    let ns = blocking(m.store(), move |s| {
        s.create_namespace(NewNamespace::new(name, Profile::Telnyx))
    })
    .await
    .map_err(TxError::from_store)?;
    Ok(json_response(
        StatusCode::CREATED,
        json!({"data": render(&ns, status(&ns))}),
    ))
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

pub async fn list(m: &Management, target: &str) -> Result<Response<Body>, TxError> {
    let number = page_param(target, "page[number]")?.unwrap_or(1);
    let size = page_param(target, "page[size]")?
        .unwrap_or(20)
        .min(MAX_PAGE_SIZE);
    let query = NamespaceQuery {
        order: NamespaceOrder::Created,
        offset: (number - 1).saturating_mul(size),
        limit: size,
        ..NamespaceQuery::default()
    };
    let page = blocking(m.store(), move |s| s.list_namespaces(&query))
        .await
        .map_err(TxError::from_store)?;
    let data: Vec<Value> = page
        .namespaces
        .iter()
        .map(|ns| render(ns, status(ns)))
        .collect();
    let meta = json!({
        "page_number": number,
        "page_size": size,
        "total_pages": page.total.div_ceil(size),
        "total_results": page.total,
    });
    Ok(json_response(
        StatusCode::OK,
        json!({"data": data, "meta": meta}),
    ))
}

pub async fn get(m: &Management, id: &str) -> Result<Response<Body>, TxError> {
    let id = namespace_id(id)?;
    let ns = blocking(m.store(), move |s| s.namespace(&id.to_string()))
        .await
        .map_err(TxError::from_store)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"data": render(&ns, status(&ns))}),
    ))
}

/// Deletes at once; the answer shows the namespace `deleting`, as the asynchronous API does, and
/// it is gone (404) from then on.
pub async fn delete(m: &Management, id: &str) -> Result<Response<Body>, TxError> {
    let id = namespace_id(id)?;
    let ns = blocking(m.store(), move |s| {
        let ns = s.namespace(&id.to_string())?;
        s.delete_namespace(&id, None)?;
        Ok(ns)
    })
    .await
    .map_err(TxError::from_store)?;
    Ok(json_response(
        StatusCode::OK,
        json!({"data": render(&ns, "deleting")}),
    ))
}

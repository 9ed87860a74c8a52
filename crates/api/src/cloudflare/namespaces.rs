//! Namespace operations: list (page, per_page, order, direction; an empty page past the end),
//! create, get, rename, delete. Namespaces created here get the `cloudflare` profile.

use super::envelope::{success, CfError};
use super::{number, Call};
use crate::rest::body;
use crate::Body;
use edgekv_store::{
    Namespace, NamespaceOrder, NamespaceQuery, NamespaceUpdate, NewNamespace, Profile, Uuid,
};

use hyper::{Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// The largest namespace create or rename body read: room for a title (which the store bounds)
/// in JSON, a REST allowance rather than a KV rule.
const TITLE_BODY_BYTES: u64 = 64 * 1024;
/// The REST API's `per_page` bounds and default for a namespace listing: conventions of the API's
/// paging, not KV rules.
const PER_PAGE: std::ops::RangeInclusive<f64> = 1.0..=1000.0;
const DEFAULT_PER_PAGE: f64 = 20.0;

/// A namespace as the API shows it.
pub fn render(namespace: &Namespace) -> Value {
    json!({"id": namespace.id.simple().to_string(), "title": namespace.name, "supports_url_encoding": true})
}

pub async fn list(call: &Call<'_>) -> Result<Response<Body>, CfError> {
    let (page, per_page) = paging(call)?;
    let query = NamespaceQuery {
        order: order(call)?,
        descending: descending(call)?,
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
        profile: None,
    };
    let found = call
        .m
        .store()
        .run(move |s| s.list_namespaces(&query))
        .await
        .map_err(|e| CfError::from_store("list namespaces", e))?;
    let result: Vec<Value> = found.namespaces.iter().map(render).collect();
    let info = json!({"count": result.len(), "page": page, "per_page": per_page, "total_count": found.total});
    success(Value::Array(result), Some(info))
}

/// `page` (from 1) and `per_page` of a namespace listing.
fn paging(call: &Call<'_>) -> Result<(u64, u64), CfError> {
    let page = number(call, "page", 10007)?.unwrap_or(1.0);
    let per_page = number(call, "per_page", 10008)?.unwrap_or(DEFAULT_PER_PAGE);
    if page < 1.0 {
        return Err(CfError::bad_request(
            10007,
            format!("Invalid page of {page}."),
        ));
    }
    if !PER_PAGE.contains(&per_page) {
        return Err(CfError::bad_request(
            10008,
            format!(
                "Invalid per_page of {per_page}. It must be {}..={}.",
                PER_PAGE.start(),
                PER_PAGE.end()
            ),
        ));
    }
    Ok((page as u64, per_page as u64))
}

/// `order`: `title` (the default) or `id`.
fn order(call: &Call<'_>) -> Result<NamespaceOrder, CfError> {
    match call.query("order").as_deref() {
        None | Some("") | Some("title") => Ok(NamespaceOrder::Name),
        Some("id") => Ok(NamespaceOrder::Id),
        Some(other) => Err(CfError::bad_request(
            10043,
            format!("Invalid order of {other}. Use id or title."),
        )),
    }
}

/// `direction`: `asc` (the default) or `desc`.
fn descending(call: &Call<'_>) -> Result<bool, CfError> {
    match call.query("direction").as_deref() {
        None | Some("") | Some("asc") => Ok(false),
        Some("desc") => Ok(true),
        Some(other) => Err(CfError::bad_request(
            10044,
            format!("Invalid direction of {other}. Use asc or desc."),
        )),
    }
}

#[derive(Deserialize)]
struct Title {
    title: Option<String>,
}

async fn read_title(req: Request<Body>) -> Result<String, CfError> {
    let body = body::read_request(req, TITLE_BODY_BYTES)
        .await
        .map_err(CfError::from_body)?;
    let parsed: Title = serde_json::from_slice(&body)
        .map_err(|e| CfError::bad_request(10001, format!("Invalid JSON body: {e}")))?;
    match parsed.title {
        Some(title) if !title.is_empty() => Ok(title),
        _ => Err(CfError::bad_request(10019, "missing title")),
    }
}

pub async fn create(call: &Call<'_>, req: Request<Body>) -> Result<Response<Body>, CfError> {
    let title = read_title(req).await?;
    let created = call
        .m
        .store()
        .run(move |s| s.create_namespace(NewNamespace::new(title, Profile::Cloudflare)))
        .await
        .map_err(|e| CfError::from_store("create namespace", e))?;
    success(render(&created), None)
}

pub async fn get(call: &Call<'_>, id: Uuid) -> Result<Response<Body>, CfError> {
    let found = call
        .m
        .store()
        .run(move |s| s.namespace(&id.to_string()))
        .await
        .map_err(|e| CfError::from_store("get namespace", e))?;
    success(render(&found), None)
}

pub async fn rename(
    call: &Call<'_>,
    id: Uuid,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let title = read_title(req).await?;
    let update = NamespaceUpdate {
        name: Some(title),
        ..NamespaceUpdate::default()
    };
    let renamed = call
        .m
        .store()
        .run(move |s| s.update_namespace(&id, update))
        .await
        .map_err(|e| CfError::from_store("rename namespace", e))?;
    success(render(&renamed), None)
}

pub async fn delete(call: &Call<'_>, id: Uuid) -> Result<Response<Body>, CfError> {
    call.m
        .store()
        .run(move |s| s.delete_namespace(&id, None))
        .await
        .map_err(|e| CfError::from_store("delete namespace", e))?;
    success(json!({}), None)
}

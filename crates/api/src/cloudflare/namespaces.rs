//! Namespace operations: list (page, per_page, order, direction; an empty page past the end),
//! create, get, rename, delete. Namespaces created here get the `cloudflare` profile.

use super::envelope::{success, CfError};
use super::{namespace_id, number, Call};
use crate::rest::body;
use crate::{blocking, Body};
use edgekv_store::{
    Namespace, NamespaceOrder, NamespaceQuery, NamespaceUpdate, NewNamespace, Profile,
};

use hyper::{Request, Response};
use serde::Deserialize;
use serde_json::{json, Value};

/// The largest namespace-management body read (a title is at most 512 bytes).
const MAX_BODY: u64 = 64 * 1024;

pub fn render(ns: &Namespace) -> Value {
    json!({"id": ns.id.simple().to_string(), "title": ns.name, "supports_url_encoding": true})
}

pub async fn list(call: &Call<'_>) -> Result<Response<Body>, CfError> {
    let page = number(call, "page", 10007)?.unwrap_or(1.0);
    let per_page = number(call, "per_page", 10008)?.unwrap_or(20.0);
    if page < 1.0 {
        return Err(CfError::bad_request(
            10007,
            format!("Invalid page of {page}."),
        ));
    }
    if !(1.0..=1000.0).contains(&per_page) {
        return Err(CfError::bad_request(
            10008,
            format!("Invalid per_page of {per_page}. It must be 1..=1000."),
        ));
    }
    let order = match call.query("order").as_deref() {
        None | Some("") | Some("title") => NamespaceOrder::Name,
        Some("id") => NamespaceOrder::Id,
        Some(other) => {
            return Err(CfError::bad_request(
                10043,
                format!("Invalid order of {other}. Use id or title."),
            ))
        }
    };
    let descending = match call.query("direction").as_deref() {
        None | Some("") | Some("asc") => false,
        Some("desc") => true,
        Some(other) => {
            return Err(CfError::bad_request(
                10044,
                format!("Invalid direction of {other}. Use asc or desc."),
            ))
        }
    };
    let (page, per_page) = (page as u64, per_page as u64);
    let query = NamespaceQuery {
        order,
        descending,
        offset: (page - 1).saturating_mul(per_page),
        limit: per_page,
        profile: None,
    };
    let found = blocking(call.m.store(), move |s| s.list_namespaces(&query))
        .await
        .map_err(|e| CfError::from_store("list namespaces", e))?;
    let result: Vec<Value> = found.namespaces.iter().map(render).collect();
    let info = json!({"count": result.len(), "page": page, "per_page": per_page, "total_count": found.total});
    Ok(success(Value::Array(result), Some(info)))
}

#[derive(Deserialize)]
struct Title {
    title: Option<String>,
}

async fn read_title(req: Request<Body>) -> Result<String, CfError> {
    let body = body::read_request(req, MAX_BODY)
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
    let ns = blocking(call.m.store(), move |s| {
        s.create_namespace(NewNamespace::new(title, Profile::Cloudflare))
    })
    .await
    .map_err(|e| CfError::from_store("create namespace", e))?;
    Ok(success(render(&ns), None))
}

pub async fn get(call: &Call<'_>, ns: &str) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let ns = blocking(call.m.store(), move |s| s.namespace(&id.to_string()))
        .await
        .map_err(|e| CfError::from_store("get namespace", e))?;
    Ok(success(render(&ns), None))
}

pub async fn rename(
    call: &Call<'_>,
    ns: &str,
    req: Request<Body>,
) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    let title = read_title(req).await?;
    let update = NamespaceUpdate {
        name: Some(title),
        ..NamespaceUpdate::default()
    };
    let ns = blocking(call.m.store(), move |s| s.update_namespace(&id, update))
        .await
        .map_err(|e| CfError::from_store("rename namespace", e))?;
    Ok(success(render(&ns), None))
}

pub async fn delete(call: &Call<'_>, ns: &str) -> Result<Response<Body>, CfError> {
    let id = namespace_id(ns)?;
    blocking(call.m.store(), move |s| s.delete_namespace(&id, None))
        .await
        .map_err(|e| CfError::from_store("delete namespace", e))?;
    Ok(success(json!({}), None))
}

//! The Cloudflare Workers KV REST API (v4) under `/client/v4/accounts/{account}/storage/kv/namespaces`
//! (and the same without `/client/v4`): authentication, raw-path routing to the 13 operations, and
//! the envelope. Each operation module only translates HTTP to store calls.

mod bulk;
mod envelope;
mod namespaces;
mod values;

use crate::credentials::constant_time_eq;
use crate::{route, Body, Credentials, Management};
use envelope::{failure, CfError};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response, StatusCode};

/// Serves one Cloudflare API request.
pub async fn handle(m: &Management, req: Request<Incoming>) -> Response<Body> {
    match serve(m, req).await {
        Ok(response) => response,
        Err(e) => failure(&e),
    }
}

/// What a parsed request addresses, below `.../storage/kv/namespaces`.
struct Call<'a> {
    m: &'a Management,
    target: String,
}

impl Call<'_> {
    fn query(&self, name: &str) -> Option<String> {
        route::query_param(&self.target, name)
    }
}

async fn serve(m: &Management, req: Request<Incoming>) -> Result<Response<Body>, CfError> {
    authenticate(m.credentials(), req.headers())?;
    let target = route::target(req.uri()).to_string();
    let segments = route::segments(req.uri().path())
        .map_err(|_| CfError::bad_request(10001, "Could not URL-decode the request path"))?;
    let rest = below_namespaces(&segments, &m.credentials().cloudflare_account_id)?;
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let call = Call { m, target };
    let method = req.method().clone();
    match (&method, rest.as_slice()) {
        (&Method::GET, []) => namespaces::list(&call).await,
        (&Method::POST, []) => namespaces::create(&call, req).await,
        (&Method::GET, [ns]) => namespaces::get(&call, ns).await,
        (&Method::PUT, [ns]) => namespaces::rename(&call, ns, req).await,
        (&Method::DELETE, [ns]) => namespaces::delete(&call, ns).await,
        (_, [ns, "values", key @ ..]) if !key.is_empty() => {
            let key = key.join("/");
            match method {
                Method::PUT => values::put(&call, ns, key, req).await,
                Method::GET => values::get(&call, ns, key).await,
                Method::DELETE => values::delete(&call, ns, key).await,
                _ => Err(CfError::no_route()),
            }
        }
        (&Method::GET, [ns, "metadata", key @ ..]) if !key.is_empty() => {
            values::metadata(&call, ns, key.join("/")).await
        }
        (&Method::GET, [ns, "keys"]) => values::list(&call, ns).await,
        (&Method::PUT, [ns, "bulk"]) => bulk::write(&call, ns, req).await,
        (&Method::POST, [ns, "bulk", "delete"]) | (&Method::DELETE, [ns, "bulk"]) => {
            bulk::delete(&call, ns, req).await
        }
        (&Method::POST, [ns, "bulk", "get"]) => bulk::get(&call, ns, req).await,
        _ => Err(CfError::no_route()),
    }
}

/// The decoded segments after `namespaces`, once the account in the path is checked.
fn below_namespaces<'s>(segments: &'s [String], account: &str) -> Result<&'s [String], CfError> {
    let start = match segments.first().map(String::as_str) {
        Some("client") => 2,
        _ => 0,
    };
    let prefix = segments
        .get(start..start + 5)
        .ok_or_else(CfError::no_route)?;
    if prefix[0] != "accounts" || prefix[2..] != ["storage", "kv", "namespaces"] {
        return Err(CfError::no_route());
    }
    if !constant_time_eq(prefix[1].as_bytes(), account.as_bytes()) {
        return Err(CfError::new(
            StatusCode::FORBIDDEN,
            10000,
            "Authentication error",
        ));
    }
    match &segments[start + 5..] {
        [only] if only.is_empty() => Ok(&[]),
        rest => Ok(rest),
    }
}

/// Accepts `Authorization: Bearer <token>` or `X-Auth-Email` + `X-Auth-Key: <token>`.
fn authenticate(credentials: &Credentials, headers: &HeaderMap) -> Result<(), CfError> {
    let has_bearer = headers.contains_key(hyper::header::AUTHORIZATION);
    let key = headers.get("x-auth-key").and_then(|v| v.to_str().ok());
    let email = headers.get("x-auth-email");
    match (has_bearer, key, email) {
        (true, _, _) if credentials.bearer_ok(headers) => Ok(()),
        (false, Some(key), Some(_))
            if constant_time_eq(key.as_bytes(), credentials.api_token.as_bytes()) =>
        {
            Ok(())
        }
        (false, None, None) => Err(CfError::bad_request(
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        )),
        (false, Some(_), None) | (false, None, Some(_)) => Err(CfError::bad_request(
            9106,
            "Missing X-Auth-Key, X-Auth-Email or Authorization headers",
        )),
        _ => Err(CfError::new(
            StatusCode::FORBIDDEN,
            10000,
            "Authentication error",
        )),
    }
}

/// Parses a numeric query parameter the way the real API does: floats accepted and truncated.
fn number(call: &Call<'_>, name: &str, code: u32) -> Result<Option<f64>, CfError> {
    match call.query(name) {
        None => Ok(None),
        Some(raw) if raw.is_empty() => Ok(None),
        Some(raw) => match raw.trim().parse::<f64>() {
            Ok(n) if n.is_finite() => Ok(Some(n.trunc())),
            _ => Err(CfError::bad_request(
                code,
                format!("Invalid {name} of {raw}."),
            )),
        },
    }
}

/// The namespace id in a path: 32 hex digits.
fn namespace_id(ns: &str) -> Result<edgekv_store::Uuid, CfError> {
    edgekv_store::Uuid::try_parse(ns)
        .map_err(|_| CfError::new(StatusCode::NOT_FOUND, 10013, "namespace not found"))
}

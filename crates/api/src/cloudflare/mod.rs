//! The Cloudflare Workers KV REST API (v4) under `/client/v4/accounts/{account}/storage/kv/namespaces`
//! (and the same without `/client/v4`): authentication, raw-path routing to the 13 operations, and
//! the envelope. Each operation module only translates HTTP to store calls; `bulk_json` is the
//! bulk item format, shared with `edgekv kv import` and `export`.

mod bulk;
pub mod bulk_json;
mod envelope;
mod namespaces;
mod values;

// For `crate::fuzzing` (the fuzz targets in tests/fuzz) only.
#[doc(hidden)]
pub use bulk::{decode_value, GetRequest};
#[doc(hidden)]
pub use values::read_multipart;

use crate::credentials::constant_time_eq;
use crate::rest::route::{self, Mount, Route, Seg, Unrouted, Verb};
use crate::{Body, Credentials, Management};
use edgekv_store::{Limits, Uuid};
use envelope::{failure, CfError};

use hyper::{HeaderMap, Request, Response, StatusCode};

/// Serves one Cloudflare API request.
pub async fn handle(m: &Management, req: Request<Body>) -> Response<Body> {
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

async fn serve(m: &Management, req: Request<Body>) -> Result<Response<Body>, CfError> {
    authenticate(m.credentials(), req.headers())?;
    let mut found =
        route::dispatch(&MOUNT, ROUTES, req.method(), req.uri().path()).map_err(|e| match e {
            Unrouted::BadPath(_) => {
                CfError::bad_request(10001, "Could not URL-decode the request path")
            }
            Unrouted::NoRoute => CfError::no_route(),
        })?;
    let account = found.mount.first().map_or("", String::as_str);
    if !constant_time_eq(
        account.as_bytes(),
        m.credentials().cloudflare_account_id.as_bytes(),
    ) {
        return Err(CfError::new(
            StatusCode::FORBIDDEN,
            10000,
            "Authentication error",
        ));
    }
    let call = Call {
        m,
        target: route::target(req.uri()).to_string(),
    };
    let (namespace, key) = (found.param(), found.param());
    let id = || namespace_id(&namespace);
    match found.op {
        Op::ListNamespaces => namespaces::list(&call).await,
        Op::CreateNamespace => namespaces::create(&call, req).await,
        Op::GetNamespace => namespaces::get(&call, id()?).await,
        Op::RenameNamespace => namespaces::rename(&call, id()?, req).await,
        Op::DeleteNamespace => namespaces::delete(&call, id()?).await,
        Op::PutValue => values::put(&call, id()?, key, req).await,
        Op::GetValue => values::get(&call, id()?, key).await,
        Op::DeleteValue => values::delete(&call, id()?, key).await,
        Op::GetMetadata => values::metadata(&call, id()?, key).await,
        Op::ListKeys => values::list(&call, id()?).await,
        Op::BulkWrite => bulk::write(&call, id()?, req).await,
        Op::BulkDelete => bulk::delete(&call, id()?, req).await,
        Op::BulkGet => bulk::get(&call, id()?, req).await,
    }
}

const ACCOUNT: Seg = Seg::Param("account");

/// Where every route is: `.../accounts/{account}/storage/kv/namespaces`, below `/client/v4` or not;
/// `{account}` must be the configured account id.
#[rustfmt::skip]
pub const MOUNT: Mount = Mount(&[
    &[Seg::Lit("client"), Seg::Lit("v4"), Seg::Lit("accounts"), ACCOUNT, Seg::Lit("storage"), Seg::Lit("kv"), Seg::Lit("namespaces")],
    &[Seg::Lit("accounts"), ACCOUNT, Seg::Lit("storage"), Seg::Lit("kv"), Seg::Lit("namespaces")],
]);

/// The operations of the API.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    ListNamespaces,
    CreateNamespace,
    GetNamespace,
    RenameNamespace,
    DeleteNamespace,
    PutValue,
    GetValue,
    DeleteValue,
    GetMetadata,
    ListKeys,
    BulkWrite,
    BulkDelete,
    BulkGet,
}

const NS: Seg = Seg::Param("namespace_id");
const KEY: Seg = Seg::Rest("key_name");

/// Every route, below `MOUNT`. A key is everything after `values/` or `metadata/`.
#[rustfmt::skip]
pub const ROUTES: &[Route<Op>] = &[
    Route { verb: Verb::Get, pattern: &[], op: Op::ListNamespaces },
    Route { verb: Verb::Post, pattern: &[], op: Op::CreateNamespace },
    Route { verb: Verb::Get, pattern: &[NS], op: Op::GetNamespace },
    Route { verb: Verb::Put, pattern: &[NS], op: Op::RenameNamespace },
    Route { verb: Verb::Delete, pattern: &[NS], op: Op::DeleteNamespace },
    Route { verb: Verb::Put, pattern: &[NS, Seg::Lit("values"), KEY], op: Op::PutValue },
    Route { verb: Verb::Get, pattern: &[NS, Seg::Lit("values"), KEY], op: Op::GetValue },
    Route { verb: Verb::Delete, pattern: &[NS, Seg::Lit("values"), KEY], op: Op::DeleteValue },
    Route { verb: Verb::Get, pattern: &[NS, Seg::Lit("metadata"), KEY], op: Op::GetMetadata },
    Route { verb: Verb::Get, pattern: &[NS, Seg::Lit("keys")], op: Op::ListKeys },
    Route { verb: Verb::Put, pattern: &[NS, Seg::Lit("bulk")], op: Op::BulkWrite },
    Route { verb: Verb::Post, pattern: &[NS, Seg::Lit("bulk"), Seg::Lit("delete")], op: Op::BulkDelete },
    Route { verb: Verb::Delete, pattern: &[NS, Seg::Lit("bulk")], op: Op::BulkDelete },
    Route { verb: Verb::Post, pattern: &[NS, Seg::Lit("bulk"), Seg::Lit("get")], op: Op::BulkGet },
];

/// Accepts `Authorization: Bearer <token>` or `X-Auth-Email` + `X-Auth-Key: <token>`.
fn authenticate(credentials: &Credentials, headers: &HeaderMap) -> Result<(), CfError> {
    let has_bearer = headers.contains_key(hyper::header::AUTHORIZATION);
    let key = headers.get("x-auth-key").and_then(|v| v.to_str().ok());
    let email = headers.get("x-auth-email");
    match (has_bearer, key, email) {
        (true, _, _) if credentials.bearer_ok(headers) => Ok(()),
        (false, Some(key), Some(_)) if credentials.api_token.matches(key.as_bytes()) => Ok(()),
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
fn namespace_id(namespace: &str) -> Result<Uuid, CfError> {
    Uuid::try_parse(namespace)
        .map_err(|_| CfError::new(StatusCode::NOT_FOUND, 10013, "namespace not found"))
}

/// The effective limits of namespace `id`, read before a body is, so the body is capped by them;
/// a missing namespace is answered as the store answers it during `op`.
async fn limits(call: &Call<'_>, id: Uuid, op: &str) -> Result<Limits, CfError> {
    call.m
        .store()
        .run(move |s| s.limits(&id))
        .await
        .map_err(|e| CfError::from_store(op, e))
}

//! The Telnyx Edge Compute KV API under `/v2/storage/kvs`: bearer auth, routing to the 8 operations
//! (everything after `/keys/` is the key, so `/` may come raw or percent-encoded), and Telnyx's error
//! shape `{"errors":[{code, title, detail, source, meta}]}` (`errors`).

mod errors;
mod keys;
mod namespaces;

use crate::rest::route::{self, Mount, Route, Seg, Unrouted, Verb};
use crate::{Body, Management};
use errors::TxError;

use hyper::{Request, Response};

/// Serves one Telnyx API request.
pub async fn handle(m: &Management, req: Request<Body>) -> Response<Body> {
    match serve(m, req).await {
        Ok(response) => response,
        Err(e) => e.response(),
    }
}

async fn serve(m: &Management, req: Request<Body>) -> Result<Response<Body>, TxError> {
    if !m.credentials().bearer_ok(req.headers()) {
        return Err(TxError::unauthorized());
    }
    let target = route::target(req.uri()).to_string();
    let mut found =
        route::dispatch(&MOUNT, ROUTES, req.method(), req.uri().path()).map_err(|e| match e {
            Unrouted::BadPath(_) => {
                TxError::bad_request("The path is not valid percent-encoded UTF-8", None)
            }
            Unrouted::NoRoute => TxError::not_found("No such route"),
        })?;
    let (namespace_id, key) = (found.param(), found.param());
    match found.op {
        Op::CreateNamespace => namespaces::create(m, req).await,
        Op::ListNamespaces => namespaces::list(m, &target).await,
        Op::GetNamespace => namespaces::get(m, &namespace_id).await,
        Op::DeleteNamespace => namespaces::delete(m, &namespace_id).await,
        Op::ListKeys => keys::list(m, &namespace_id, &target).await,
        Op::PutKey => keys::put(m, &namespace_id, key, &target, req).await,
        Op::GetKey => keys::get(m, &namespace_id, key).await,
        Op::DeleteKey => keys::delete(m, &namespace_id, key).await,
    }
}

/// Where every route is: `/v2/storage/kvs`.
pub const MOUNT: Mount = Mount(&[&[Seg::Lit("v2"), Seg::Lit("storage"), Seg::Lit("kvs")]]);

/// The operations of the API.
#[derive(Debug, Clone, Copy)]
pub enum Op {
    /// `POST /`: CreateKvNamespace.
    CreateNamespace,
    /// `GET /`: ListKvNamespaces.
    ListNamespaces,
    /// `GET /{namespace_id}`: GetKvNamespace.
    GetNamespace,
    /// `DELETE /{namespace_id}`: DeleteKvNamespace.
    DeleteNamespace,
    /// `GET /{namespace_id}/keys`: ListKvKeys.
    ListKeys,
    /// `PUT /{namespace_id}/keys/{key}`: PutKvKey.
    PutKey,
    /// `GET /{namespace_id}/keys/{key}`: GetKvKey.
    GetKey,
    /// `DELETE /{namespace_id}/keys/{key}`: DeleteKvKey.
    DeleteKey,
}

const ID: Seg = Seg::Param("namespace_id");
const KEY: Seg = Seg::Rest("key");

/// Every route, below `MOUNT`. Everything after `/keys/` is the key, raw slashes included.
#[rustfmt::skip]
pub const ROUTES: &[Route<Op>] = &[
    Route { verb: Verb::Post, pattern: &[], op: Op::CreateNamespace },
    Route { verb: Verb::Get, pattern: &[], op: Op::ListNamespaces },
    Route { verb: Verb::Get, pattern: &[ID], op: Op::GetNamespace },
    Route { verb: Verb::Delete, pattern: &[ID], op: Op::DeleteNamespace },
    Route { verb: Verb::Get, pattern: &[ID, Seg::Lit("keys")], op: Op::ListKeys },
    Route { verb: Verb::Put, pattern: &[ID, Seg::Lit("keys"), KEY], op: Op::PutKey },
    Route { verb: Verb::Get, pattern: &[ID, Seg::Lit("keys"), KEY], op: Op::GetKey },
    Route { verb: Verb::Delete, pattern: &[ID, Seg::Lit("keys"), KEY], op: Op::DeleteKey },
];

/// A namespace id in a path: a UUID.
fn parse_namespace_id(namespace_id: &str) -> Result<edgekv_store::Uuid, TxError> {
    edgekv_store::Uuid::try_parse(namespace_id).map_err(|_| TxError::invalid_id())
}

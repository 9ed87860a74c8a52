//! AWS CloudFront KeyValueStore: the data plane (`cloudfront-keyvaluestore`, rest-json, under
//! `/key-value-stores/{KvsARN}`) and the control plane that creates stores (`cloudfront`, rest-xml,
//! under `/2020-05-31/key-value-store`). Every request's SigV4A or SigV4 signature is verified
//! first: what the head decides (header shape, access key, service, date, signed headers, path,
//! declared length) before any body byte is read (`check_head`), then the signature over the
//! body, which is read within the shared budget of `unverified` and under the cap the plane
//! chooses (`read_verified`). What both planes share lives here: the head of their responses,
//! the control plane's XML namespace (its error documents use it too), ARNs and timestamps.

pub(crate) mod control_plane;
pub(crate) mod data_plane;
mod errors;
pub(crate) mod sigv4;
pub(crate) mod unverified;

use crate::rest::body::{declared_length, BodyError};
use crate::rest::route::Unrouted;
use crate::{Body, Management};
use bytes::Bytes;
use errors::CfrError;
use http::response::Builder;
use hyper::{Request, Response, StatusCode};
use sigv4::{Claim, SignatureError};
use unverified::Unread;

/// The most any request body may be before its signature is verified, whatever the store's
/// limits: a security bound, not a KV rule. Anyone who knows the (non-secret) access key id can
/// make the server hold this much per request until the signature is checked. It fits an
/// UpdateKeys batch at the default 3 MiB payload quota with `data_plane`'s JSON framing allowance.
pub const PRE_AUTH_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// The bytes all request bodies not yet verified may hold together: 16 of the largest at once,
/// far more than SDK clients send at a time.
pub const UNVERIFIED_BODY_BYTES: usize = 16 * PRE_AUTH_BODY_BYTES as usize;

/// The XML namespace of the control plane's documents, its error documents included.
const XMLNS: &str = "http://cloudfront.amazonaws.com/doc/2020-05-31/";

/// Which CloudFront API a request is for.
#[derive(Debug, Clone, Copy)]
pub enum Plane {
    /// `cloudfront-keyvaluestore`: keys of a store (rest-json).
    Data,
    /// `cloudfront`: the stores themselves (rest-xml).
    Control,
}

impl Plane {
    /// The service a signature must be scoped to.
    fn service(self) -> &'static str {
        match self {
            Plane::Data => "cloudfront-keyvaluestore",
            Plane::Control => "cloudfront",
        }
    }

    /// The head of a response of this plane: `status` and a request id, in the header its
    /// protocol names (rest-json `x-amzn-RequestId`, rest-xml `x-amz-request-id`).
    fn head(self, status: StatusCode) -> Builder {
        let request_id = match self {
            Plane::Data => "x-amzn-requestid",
            Plane::Control => "x-amz-request-id",
        };
        Response::builder()
            .status(status)
            .header(request_id, edgekv_store::Uuid::new_v4().to_string())
    }
}

/// Serves one CloudFront request.
pub async fn handle(m: &Management, plane: Plane, req: Request<Body>) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let result = match plane {
        Plane::Data => data_plane::handle(m, &parts, body).await,
        Plane::Control => control_plane::handle(m, &parts, body).await,
    };
    result.unwrap_or_else(|e| e.response(plane))
}

/// All the head of a request decides about its signature, before any body byte is read: a
/// declared length within `PRE_AUTH_BODY_BYTES`, then `sigv4::check_head`.
fn check_head<'p>(
    m: &Management,
    plane: Plane,
    parts: &'p http::request::Parts,
) -> Result<Claim<'p>, CfrError> {
    if declared_length(&parts.headers).is_some_and(|n| n > PRE_AUTH_BODY_BYTES) {
        return Err(too_large(PRE_AUTH_BODY_BYTES));
    }
    sigv4::check_head(
        &parts.headers,
        parts.uri.path(),
        plane.service(),
        &m.credentials().aws_access_key_id,
        unix_now(),
    )
    .map_err(refusal)
}

/// The body of a request whose head passed `check_head`, read whole within the budget of
/// unverified bodies and at most `limit` bytes (never more than `PRE_AUTH_BODY_BYTES`), once its
/// signature verifies over it.
async fn read_verified(
    m: &Management,
    parts: &http::request::Parts,
    claim: &Claim<'_>,
    body: Body,
    limit: u64,
) -> Result<Bytes, CfrError> {
    let limit = limit.min(PRE_AUTH_BODY_BYTES);
    let body = m
        .unverified_bodies()
        .read(&parts.headers, body, limit)
        .await
        .map_err(unread)?;
    let signed = sigv4::Signed {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body.bytes,
    };
    let c = m.credentials();
    sigv4::check_signature(
        &signed,
        claim,
        &c.aws_access_key_id,
        c.aws_secret_access_key.expose(),
    )
    .map_err(refusal)?;
    Ok(body.verified())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The error for a body over the `limit` that applied, in bytes.
fn too_large(limit: u64) -> CfrError {
    CfrError::new(
        StatusCode::PAYMENT_REQUIRED,
        "ServiceQuotaExceededException",
        format!("The request body is larger than {limit} bytes"),
    )
}

/// The error for a signature refused. A path with dot segments is the client's input, not its
/// credentials: it is refused the same way whoever signed it, and SDKs send keys `.` and `..` so.
fn refusal(e: SignatureError) -> CfrError {
    match e {
        SignatureError::PathNotNormal => CfrError::validation(
            "The request path has an empty, '.' or '..' segment, which a signature cannot \
             cover: keys '.' and '..' cannot be named in a path (write and delete them with \
             UpdateKeys, read them with ListKeys)",
        ),
        e => CfrError::access_denied(e.to_string()),
    }
}

/// The error for a body not read.
fn unread(e: Unread) -> CfrError {
    match e {
        Unread::Body(BodyError::TooLarge { limit, .. }) => too_large(limit),
        Unread::Body(e @ BodyError::Incomplete(_)) => CfrError::validation(e.to_string()),
        // Retried by SDKs (503), after a back-off.
        Unread::BudgetSpent => CfrError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "InternalServerException",
            "Too many request bodies are being received at once; retry later",
        ),
    }
}

/// The error for a request no route of its plane names.
fn unrouted(e: Unrouted) -> CfrError {
    match e {
        Unrouted::BadPath(_) => CfrError::validation("The path is not valid percent-encoded UTF-8"),
        Unrouted::NoRoute => CfrError::validation("Unknown operation"),
    }
}

/// The ARN of a store.
pub fn arn(account: &str, id: &edgekv_store::Uuid) -> String {
    format!(
        "arn:aws:cloudfront::{account}:key-value-store/{}",
        id.hyphenated()
    )
}

/// Unix seconds with milliseconds, as the APIs render timestamps.
fn epoch_seconds(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

//! AWS CloudFront KeyValueStore: the data plane (`cloudfront-keyvaluestore`, rest-json, under
//! `/key-value-stores/{KvsARN}`) and the control plane that creates stores (`cloudfront`, rest-xml,
//! under `/2020-05-31/key-value-store`). Every request's SigV4A or SigV4 signature is verified
//! first: what the head decides (header shape, access key, service, date, signed headers, path,
//! declared length) before any body byte is read, then the signature over the body, which is read
//! within the shared budget of `unverified`.

pub(crate) mod control_plane;
pub(crate) mod data_plane;
mod errors;
pub(crate) mod sigv4;
pub(crate) mod unverified;

use crate::rest::body::BodyError;
use crate::rest::route::Unrouted;
use crate::{Body, Management};
use bytes::Bytes;
use errors::CfrError;

use hyper::{Request, Response, StatusCode};
use sigv4::SignatureError;
use unverified::Unread;

/// The largest request body read (UpdateKeys carries at most 3 MB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The bytes all request bodies not yet verified may hold together: 16 of the largest at once,
/// far more than SDK clients send at a time.
pub const UNVERIFIED_BODY_BYTES: usize = 16 * MAX_BODY;

/// Which CloudFront API a request is for.
#[derive(Debug, Clone, Copy)]
pub enum Plane {
    Data,
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
}

/// Serves one CloudFront request.
pub async fn handle(m: &Management, plane: Plane, req: Request<Body>) -> Response<Body> {
    let respond = |e: CfrError| match plane {
        Plane::Data => e.json_response(),
        Plane::Control => e.xml_response(),
    };
    let (parts, body) = req.into_parts();
    let body = match authenticate(m, plane, &parts, body).await {
        Ok(body) => body,
        Err(e) => return respond(e),
    };
    let result = match plane {
        Plane::Data => data_plane::handle(m, &parts, body).await,
        Plane::Control => control_plane::handle(m, &parts, body).await,
    };
    result.unwrap_or_else(respond)
}

/// The body of a request whose signature verifies. All that the head decides is checked before
/// any body byte is read; the body is then read within the budget of unverified bodies.
async fn authenticate(
    m: &Management,
    plane: Plane,
    parts: &http::request::Parts,
    body: Body,
) -> Result<Bytes, CfrError> {
    if declared_length(&parts.headers).is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let c = m.credentials();
    let claim = sigv4::check_head(
        &parts.headers,
        parts.uri.path(),
        plane.service(),
        &c.aws_access_key_id,
        unix_now(),
    )
    .map_err(refusal)?;
    let body = m
        .unverified_bodies()
        .read(body, MAX_BODY)
        .await
        .map_err(unread)?;
    let signed = sigv4::Signed {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body: &body.bytes,
    };
    sigv4::check_signature(
        &signed,
        &claim,
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

/// The body length a request declares, if any.
fn declared_length(headers: &hyper::HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

fn too_large() -> CfrError {
    CfrError::new(
        StatusCode::PAYMENT_REQUIRED,
        "ServiceQuotaExceededException",
        "The request body is larger than 3 MB",
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
        Unread::Body(BodyError::TooLarge { .. }) => too_large(),
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

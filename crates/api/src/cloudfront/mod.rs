//! AWS CloudFront KeyValueStore: the data plane (`cloudfront-keyvaluestore`, rest-json, under
//! `/key-value-stores/{KvsARN}`) and the control plane that creates stores (`cloudfront`, rest-xml,
//! under `/2020-05-31/key-value-store`). Every request's SigV4A or SigV4 signature is verified first.

pub(crate) mod control_plane;
pub(crate) mod data_plane;
mod errors;
pub(crate) mod sigv4;

use crate::{Body, Management};
use bytes::Bytes;
use errors::CfrError;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};

/// The largest request body read (UpdateKeys carries at most 3 MB).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// Which CloudFront API a request is for.
#[derive(Debug, Clone, Copy)]
pub enum Plane {
    Data,
    Control,
}

/// Serves one CloudFront request.
pub async fn handle(m: &Management, plane: Plane, req: Request<Incoming>) -> Response<Body> {
    let respond = |e: CfrError| match plane {
        Plane::Data => e.json_response(),
        Plane::Control => e.xml_response(),
    };
    let (parts, body) = req.into_parts();
    if declared_length(&parts.headers).is_some_and(|n| n > MAX_BODY as u64) {
        return respond(too_large());
    }
    let body = match read_body(body).await {
        Ok(body) => body,
        Err(e) => return respond(e),
    };
    if let Err(e) = authenticate(m, plane, &parts, &body) {
        return respond(e);
    }
    let result = match plane {
        Plane::Data => data_plane::handle(m, &parts, body).await,
        Plane::Control => control_plane::handle(m, &parts, body).await,
    };
    result.unwrap_or_else(respond)
}

async fn read_body(body: Incoming) -> Result<Bytes, CfrError> {
    http_body_util::Limited::new(body, MAX_BODY + 1)
        .collect()
        .await
        .map(|c| c.to_bytes())
        .map_err(|_| too_large())
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
        hyper::StatusCode::PAYMENT_REQUIRED,
        "ServiceQuotaExceededException",
        "The request body is larger than 3 MB",
    )
}

fn authenticate(
    m: &Management,
    plane: Plane,
    parts: &http::request::Parts,
    body: &[u8],
) -> Result<(), CfrError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let signed = sigv4::Signed {
        method: parts.method.as_str(),
        raw_path: parts.uri.path(),
        raw_query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        body,
    };
    let service = match plane {
        Plane::Data => "cloudfront-keyvaluestore",
        Plane::Control => "cloudfront",
    };
    let c = m.credentials();
    sigv4::verify(
        &signed,
        service,
        &c.aws_access_key_id,
        c.aws_secret_access_key.expose(),
        now,
    )
    .map_err(|e| CfrError::access_denied(e.to_string()))
}

/// The decoded path segments of a request.
fn segments(parts: &http::request::Parts) -> Result<Vec<String>, CfrError> {
    crate::route::segments(parts.uri.path())
        .map_err(|_| CfrError::validation("The path is not valid percent-encoded UTF-8"))
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

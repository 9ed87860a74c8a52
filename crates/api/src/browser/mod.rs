//! The local data browser under `/_edgekv/`: one self-contained page (no external assets) and the
//! small JSON API it calls. It lists namespaces with their item counts and sizes, pages keys by
//! prefix, shows an entry, and edits or deletes it with the entry's ETag as precondition. Every
//! read and write goes through the store, so the profile's rules apply as on every other path.
//!
//! Auth is the management API token, as `Authorization: Basic` (any user name, the token as
//! password: what a browser prompts for) or `Bearer`. Writes also need the `x-edgekv-browser`
//! header, which a cross-site form cannot send, so a logged-in browser cannot be made to write by
//! another site.

pub(crate) mod api;

use crate::credentials::Secret;
use crate::{full, route, Body, Management};
use base64::Engine as _;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};

/// The path prefix the browser is served under.
pub const PREFIX: &str = "/_edgekv";

const PAGE: &str = include_str!("page.html");

/// The header every browser write must carry (the page's `fetch` sets it).
const WRITE_GUARD: &str = "x-edgekv-browser";

/// Serves one request under `/_edgekv`.
pub async fn handle(m: &Management, req: Request<Incoming>) -> Response<Body> {
    if !authorized(&m.credentials().api_token, req.headers()) {
        return unauthorized();
    }
    let segments = match route::segments(route::raw_path(route::target(req.uri()))) {
        Ok(segments) => segments,
        Err(_) => {
            return api::error(
                StatusCode::BAD_REQUEST,
                "bad-path",
                "the path is not valid UTF-8",
            )
        }
    };
    let rest: Vec<&str> = segments.iter().skip(1).map(String::as_str).collect();
    let writes = matches!(*req.method(), Method::PUT | Method::DELETE);
    if writes && !req.headers().contains_key(WRITE_GUARD) {
        return api::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "browser writes need the x-edgekv-browser header",
        );
    }
    match route::find(api::ROUTES, req.method(), &rest) {
        Some((api::Op::Page, _)) => page(),
        Some((op, params)) => api::serve(m, req, op, params).await,
        None => api::error(StatusCode::NOT_FOUND, "not-found", "no such browser route"),
    }
}

fn page() -> Response<Body> {
    let mut response = Response::new(full(PAGE));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    // Everything is inline; nothing may load from anywhere else.
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    headers.insert("cache-control", HeaderValue::from_static("no-store"));
    response
}

/// Whether the request carries the API token as Basic (password) or Bearer credentials.
fn authorized(token: &Secret, headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let presented = match scheme.to_ascii_lowercase().as_str() {
        "bearer" => rest.trim().as_bytes().to_vec(),
        "basic" => match base64::engine::general_purpose::STANDARD.decode(rest.trim()) {
            Ok(decoded) => match decoded.iter().position(|&b| b == b':') {
                Some(colon) => decoded[colon + 1..].to_vec(),
                None => return false,
            },
            Err(_) => return false,
        },
        _ => return false,
    };
    token.matches(&presented)
}

fn unauthorized() -> Response<Body> {
    let mut response = api::error(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "sign in with the edgekv API token as the password (any user name)",
    );
    response.headers_mut().insert(
        "www-authenticate",
        HeaderValue::from_static("Basic realm=\"edgekv\", charset=\"UTF-8\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn basic_and_bearer_take_the_token() {
        let tok = Secret::new("tok").unwrap();
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        assert!(authorized(&tok, &with(&basic("anyone:tok"))));
        assert!(authorized(&tok, &with(&basic(":tok"))));
        assert!(authorized(&tok, &with("Bearer tok")));
        assert!(!authorized(&tok, &with(&basic("tok:wrong"))));
        assert!(!authorized(&tok, &with(&basic("tok"))));
        assert!(!authorized(&tok, &with("Basic !!!")));
        assert!(!authorized(&tok, &with("Bearer tokx")));
        assert!(!authorized(&tok, &with("Digest tok")));
        assert!(!authorized(&tok, &HeaderMap::new()));
    }

    #[test]
    fn empty_credentials_are_refused() {
        let tok = Secret::new("tok").unwrap();
        let basic = |s: &str| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(s)
            )
        };
        for value in [
            basic("anyone:"),
            basic(":"),
            "Basic ".into(),
            "Bearer ".into(),
            "Bearer".into(),
        ] {
            assert!(!authorized(&tok, &with(&value)), "{value:?}");
        }
    }
}

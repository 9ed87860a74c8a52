//! The local data browser under `/_edgekv/`: one self-contained page (no external assets) and the
//! small JSON API it calls. It lists namespaces with their item counts and sizes, pages keys by
//! prefix, shows an entry, and edits or deletes it with the entry's ETag as precondition. Every
//! read and write goes through the store, so the profile's rules apply as on every other path.
//!
//! Auth is the management API token. Where the page is served (a listener with no guest content,
//! `Surfaces::browser_ui`), the token comes as `Authorization: Basic` (any user name, the token as
//! password: what a browser prompts for) or `Bearer`. On a listener that also serves guests, whose
//! pages share its origin, only `Bearer` counts and there is no page: a credential a browser
//! attaches by itself would be usable by any script a guest serves. A write signed in with Basic
//! (what a browser attaches by itself) also needs the `x-edgekv-browser` header, which a
//! cross-origin page cannot send without a CORS preflight that is never granted (no response here
//! carries CORS headers); a Bearer token is never attached by a browser, so a script's write with
//! one needs nothing more. Every response forbids framing and
//! sniffing.

pub(crate) mod answer;
pub(crate) mod api;

use crate::credentials::{authorization, Secret};
use crate::rest::reply;
use crate::rest::route::{self, Mount, Seg, Unrouted};
use crate::{Body, Management, Surfaces};
use base64::Engine as _;

use hyper::header::{
    HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY,
    X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

/// Where the browser is served: `/_edgekv`.
pub const MOUNT: Mount = Mount(&[&[Seg::Lit("_edgekv")]]);

const PAGE: &str = include_str!("page.html");

/// The header every browser write must carry (the page's `fetch` sets it).
const WRITE_GUARD: &str = "x-edgekv-browser";

/// Whether a request to the browser's mount is for the admin API (see [`api::Op::is_admin`]).
pub fn is_admin(method: &hyper::Method, path: &str) -> bool {
    route::dispatch(&MOUNT, api::ROUTES, method, path).is_ok_and(|found| found.op.is_admin())
}

/// Serves one request under `/_edgekv`.
pub async fn handle(m: &Management, req: Request<Body>) -> Response<Body> {
    let sign_in = SignIn::on(m.surfaces());
    let mut response = serve(m, sign_in, req).await;
    harden(response.headers_mut());
    response
}

async fn serve(m: &Management, sign_in: SignIn, req: Request<Body>) -> Response<Body> {
    if !sign_in.accepts(&m.credentials().api_token, req.headers()) {
        return sign_in.challenge();
    }
    let writes = !matches!(*req.method(), Method::GET | Method::HEAD);
    if writes && signed_in_by_basic(req.headers()) && !req.headers().contains_key(WRITE_GUARD) {
        return answer::error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "browser writes need the x-edgekv-browser header",
        );
    }
    match route::dispatch(&MOUNT, api::ROUTES, req.method(), req.uri().path()) {
        Err(Unrouted::BadPath(_)) => answer::error(
            StatusCode::BAD_REQUEST,
            "bad-path",
            "the path is not valid UTF-8",
        ),
        Err(Unrouted::NoRoute) => {
            answer::error(StatusCode::NOT_FOUND, "not-found", "no such browser route")
        }
        Ok(found) if matches!(found.op, api::Op::Page) => match sign_in {
            SignIn::BearerOnly => answer::error(
                StatusCode::NOT_FOUND,
                "not-found",
                "the data browser's page has a listener of its own: `edgekv serve` prints its address",
            ),
            SignIn::BasicOrBearer => page(),
        },
        Ok(found) => api::serve(m, req, found).await,
    }
}

/// How a request shows it holds the API token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignIn {
    /// `Authorization: Basic` (any user name, the token as password) or `Bearer`.
    BasicOrBearer,
    /// `Authorization: Bearer` only.
    BearerOnly,
}

impl SignIn {
    fn on(surfaces: Surfaces) -> SignIn {
        if surfaces.browser_ui() {
            SignIn::BasicOrBearer
        } else {
            SignIn::BearerOnly
        }
    }

    /// Whether `headers` carry the API token in a form this sign-in takes.
    fn accepts(self, token: &Secret, headers: &HeaderMap) -> bool {
        let Some((scheme, credentials)) = authorization(headers) else {
            return false;
        };
        let presented = match scheme.as_str() {
            "bearer" => credentials.as_bytes().to_vec(),
            "basic" if self == SignIn::BasicOrBearer => match basic_password(credentials) {
                Some(password) => password,
                None => return false,
            },
            _ => return false,
        };
        token.matches(&presented)
    }

    /// The 401 for a request without acceptable credentials. A Basic challenge makes a browser
    /// prompt for the token, so only the page's own listener sends one.
    fn challenge(self) -> Response<Body> {
        let (message, challenge) = match self {
            SignIn::BasicOrBearer => (
                "sign in with the edgekv API token as the password (any user name)",
                "Basic realm=\"edgekv\", charset=\"UTF-8\"",
            ),
            SignIn::BearerOnly => (
                "send the edgekv API token as `Authorization: Bearer <token>`",
                "Bearer realm=\"edgekv\"",
            ),
        };
        let mut response = answer::error(StatusCode::UNAUTHORIZED, "unauthorized", message);
        response
            .headers_mut()
            .insert("www-authenticate", HeaderValue::from_static(challenge));
        response
    }
}

/// Whether the request signed in with Basic credentials, which a browser attaches by itself.
fn signed_in_by_basic(headers: &HeaderMap) -> bool {
    authorization(headers).is_some_and(|(scheme, _)| scheme == "basic")
}

/// The password of Basic credentials (`base64(user:password)`).
fn basic_password(encoded: &str) -> Option<Vec<u8>> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    let colon = decoded.iter().position(|&b| b == b':')?;
    Some(decoded[colon + 1..].to_vec())
}

/// The page, under its own policy.
fn page() -> Response<Body> {
    let builder = Response::builder()
        .header(CONTENT_TYPE, "text/html; charset=utf-8")
        .header(CONTENT_SECURITY_POLICY, page_csp());
    reply::bytes(builder, PAGE).unwrap_or_else(|unbuilt| answer::Failure::from(unbuilt).response())
}

/// The page's policy: its one inline script (by hash) and inline styles run, it talks only to
/// its own origin, loads nothing else, and no page may frame it.
fn page_csp() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        format!(
            "default-src 'none'; script-src 'sha256-{}'; style-src 'unsafe-inline'; \
             connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'",
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(page_script(PAGE)))
        )
    })
}

/// The text of the page's inline script.
fn page_script(page: &str) -> &str {
    let start = page.find("<script>").map_or(0, |i| i + "<script>".len());
    let end = page[start..]
        .find("</script>")
        .map_or(page.len(), |i| start + i);
    &page[start..end]
}

/// Headers every browser response carries, the page's and the API's alike: nothing may frame,
/// sniff, embed from another origin or cache them, and an API response opened as a document runs
/// nothing.
fn harden(headers: &mut HeaderMap) {
    headers
        .entry(CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; sandbox",
        ));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("same-origin"),
    );
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::AUTHORIZATION;

    fn with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn basic(s: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(s)
        )
    }

    #[test]
    fn the_page_listener_takes_basic_and_bearer() {
        let ui = SignIn::BasicOrBearer;
        let tok = Secret::new("tok").unwrap();
        assert!(ui.accepts(&tok, &with(&basic("anyone:tok"))));
        assert!(ui.accepts(&tok, &with(&basic(":tok"))));
        assert!(ui.accepts(&tok, &with("Bearer tok")));
        assert!(!ui.accepts(&tok, &with(&basic("tok:wrong"))));
        assert!(!ui.accepts(&tok, &with(&basic("tok"))));
        assert!(!ui.accepts(&tok, &with("Basic !!!")));
        assert!(!ui.accepts(&tok, &with("Bearer tokx")));
        assert!(!ui.accepts(&tok, &with("Digest tok")));
        assert!(!ui.accepts(&tok, &HeaderMap::new()));
    }

    #[test]
    fn a_listener_shared_with_guests_takes_only_bearer() {
        let scripts = SignIn::on(Surfaces::Apis);
        let tok = Secret::new("tok").unwrap();
        assert_eq!(scripts, SignIn::BearerOnly);
        assert!(scripts.accepts(&tok, &with("Bearer tok")));
        assert!(!scripts.accepts(&tok, &with(&basic("anyone:tok"))));
        assert!(!scripts.accepts(&tok, &with(&basic(":tok"))));
        let challenge = scripts.challenge();
        let header = challenge.headers()["www-authenticate"].to_str().unwrap();
        assert!(header.starts_with("Bearer"), "{header}");
    }

    #[test]
    fn the_page_policy_allows_exactly_its_own_script() {
        let script = page_script(PAGE);
        assert!(
            script.contains("async function call("),
            "found the inline script"
        );
        assert!(!script.contains("</script>"));
        assert_eq!(PAGE.matches("<script").count(), 1, "one inline script");
        let csp = page_csp();
        assert!(csp.contains("script-src 'sha256-"), "{csp}");
        assert!(!csp.contains("script-src 'unsafe-inline'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    }

    #[test]
    fn empty_credentials_are_refused() {
        let tok = Secret::new("tok").unwrap();
        for value in [
            basic("anyone:"),
            basic(":"),
            "Basic ".into(),
            "Bearer ".into(),
            "Bearer".into(),
        ] {
            assert!(
                !SignIn::BasicOrBearer.accepts(&tok, &with(&value)),
                "{value:?}"
            );
        }
    }
}

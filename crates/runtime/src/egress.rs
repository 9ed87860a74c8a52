//! Outgoing HTTP from guests (`wasi:http/outgoing-handler`). Every request a guest sends passes the
//! app's [`EgressPolicy`] first; a refused one fails with `HTTP-request-denied` and a log line, and is
//! never sent. The server uses this to keep guests off its own management APIs, whose credentials
//! guests must not be able to borrow (the management listener is reachable on loopback). The same
//! hooks answer which header names guests may not set, from wasi:http's own list.

use http::HeaderName;
use http_body_util::BodyExt;
use std::future::Future;
use std::sync::Arc;
use wasmtime_wasi_http::{Error, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

/// wasi:http's forbidden header names, as one static: the default hook builds the list, and a
/// closure to search it, for every header of every request and response.
static FORBIDDEN_HEADERS: [HeaderName; 9] = wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS;

/// Decides on an outgoing request from its URI: `Some(reason)` refuses it.
pub type EgressPolicy = Arc<dyn Fn(&http::Uri) -> Option<String> + Send + Sync>;

/// The `wasi:http` hooks of one instance: the default sender behind the app's policy.
#[derive(Default)]
pub struct EgressHooks {
    policy: Option<EgressPolicy>,
}

impl EgressHooks {
    pub fn new(policy: Option<EgressPolicy>) -> Self {
        EgressHooks { policy }
    }

    /// Why `uri` is refused, if it is.
    pub fn refusal(&self, uri: &http::Uri) -> Option<String> {
        self.policy.as_ref().and_then(|policy| policy(uri))
    }
}

type Sent = wasmtime_wasi_http::Result<(
    http::Response<WasiBody>,
    Box<dyn Future<Output = Result<(), Error>> + Send>,
)>;

impl WasiHttpHooks for EgressHooks {
    fn is_forbidden_header(&mut self, name: &HeaderName) -> bool {
        FORBIDDEN_HEADERS.contains(name)
    }

    fn forbidden_header_filter(&mut self) -> ForbiddenHeaderFilter {
        Arc::new(|name| FORBIDDEN_HEADERS.contains(name))
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        drop(fut);
        if let Some(reason) = self.refusal(request.uri()) {
            tracing::warn!("refused a guest's request to {}: {reason}", request.uri());
            return Box::new(async { Err(Error::HttpRequestDenied) });
        }
        Box::new(async move {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((
                response.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = _> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_forbidden_headers_are_wasi_https_own() {
        let mut hooks = EgressHooks::default();
        for name in wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS {
            assert!(hooks.is_forbidden_header(&name), "{name}");
            assert!(hooks.forbidden_header_filter()(&name), "{name}");
        }
        for name in ["content-type", "etag", "x-binding", "authorization"] {
            assert!(!hooks.is_forbidden_header(&HeaderName::from_static(name)));
        }
    }

    #[test]
    fn the_policy_decides() {
        let policy: EgressPolicy = Arc::new(|uri: &http::Uri| {
            (uri.path().starts_with("/admin")).then(|| "management".to_string())
        });
        let hooks = EgressHooks::new(Some(policy));
        assert!(hooks
            .refusal(&"http://127.0.0.1:1/admin/x".parse().unwrap())
            .is_some());
        assert!(hooks
            .refusal(&"http://127.0.0.1:1/app".parse().unwrap())
            .is_none());
        assert!(EgressHooks::default()
            .refusal(&"http://x/admin".parse().unwrap())
            .is_none());
    }
}

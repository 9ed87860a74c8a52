//! Outgoing HTTP from guests (`wasi:http/outgoing-handler`). Every request a guest sends is
//! resolved first and each address it would connect to passes the app's [`EgressPolicy`]; a
//! refused one fails with `HTTP-request-denied` and a log line, and is never sent ([`send`] owns
//! resolving, checking and connecting to exactly the checked addresses). The server uses this to
//! keep guests off its own management APIs, whose credentials guests must not be able to borrow
//! (the management listener is reachable on loopback). The same hooks answer which header names
//! guests may not set, from wasi:http's own list. Each outgoing request carries the trace context of
//! the guest call that sends it (`traceparent`), when traces are exported.

mod send;

use http::HeaderName;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use wasmtime_wasi_http::{Error, ForbiddenHeaderFilter, RequestOptions, WasiBody, WasiHttpHooks};

pub use send::destinations;

/// wasi:http's forbidden header names, as one static: the default hook builds the list, and a
/// closure to search it, for every header of every request and response.
static FORBIDDEN_HEADERS: [HeaderName; 9] = wasmtime_wasi_http::DEFAULT_FORBIDDEN_HEADERS;

/// Decides on an outgoing request from an address it would connect to (as resolved, never as
/// spelled in the URL) and its target (path and query): `Some(reason)` refuses it.
pub type EgressPolicy = Arc<dyn Fn(SocketAddr, &str) -> Option<String> + Send + Sync>;

/// The `wasi:http` hooks of one instance: outgoing requests go through the app's policy.
#[derive(Default)]
pub struct EgressHooks {
    policy: Option<EgressPolicy>,
}

impl EgressHooks {
    pub fn new(policy: Option<EgressPolicy>) -> Self {
        EgressHooks { policy }
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
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> Box<dyn Future<Output = Sent> + Send> {
        drop(fut);
        crate::spans::propagate(request.headers_mut());
        Box::new(send::send(request, options, self.policy.clone()))
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

    fn get(url: &str) -> http::Request<WasiBody> {
        use http_body_util::BodyExt;
        let body = http_body_util::Empty::new()
            .map_err(|never| match never {})
            .boxed_unsync();
        http::Request::get(url)
            .header("host", "upstream.test")
            .body(body)
            .unwrap()
    }

    /// A policy that refuses `/admin...` and records every address it is asked about.
    fn recording_policy() -> (EgressPolicy, Arc<std::sync::Mutex<Vec<SocketAddr>>>) {
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = asked.clone();
        let policy: EgressPolicy = Arc::new(move |addr, target: &str| {
            seen.lock().unwrap().push(addr);
            target
                .starts_with("/admin")
                .then(|| "management".to_string())
        });
        (policy, asked)
    }

    async fn send(hooks: &mut EgressHooks, url: &str) -> Sent {
        Box::into_pin(hooks.send_request(get(url), None, Box::new(async { Ok(()) }))).await
    }

    #[tokio::test]
    async fn a_refused_request_is_decided_on_the_resolved_address_and_never_connects() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (policy, asked) = recording_policy();
        let mut hooks = EgressHooks::new(Some(policy));
        for host in ["127.1", "2130706433", "0x7f000001", "[::ffff:127.0.0.1]"] {
            let result = send(&mut hooks, &format!("http://{host}:{port}/admin/x")).await;
            assert!(matches!(result, Err(Error::HttpRequestDenied)), "{host}");
        }
        let asked = asked.lock().unwrap().clone();
        assert_eq!(asked.len(), 4);
        for addr in asked {
            assert_eq!(addr.port(), port);
            assert!(addr.ip().to_canonical().is_loopback(), "{addr}");
        }
        // A connection to loopback is in the accept queue by the time `connect` returns.
        let pending = listener.into_std().unwrap().accept();
        assert!(
            pending.is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "a refused request connected"
        );
    }

    #[tokio::test]
    async fn an_allowed_request_goes_to_the_checked_address_with_its_host_header() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = conn.read(&mut buf).await.unwrap();
                assert!(n > 0, "the client closed early");
                head.extend_from_slice(&buf[..n]);
            }
            conn.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
                .await
                .unwrap();
            String::from_utf8(head).unwrap()
        });
        let (policy, asked) = recording_policy();
        let mut hooks = EgressHooks::new(Some(policy));
        let (response, _io) = send(&mut hooks, &format!("http://127.1:{port}/app?q=1"))
            .await
            .unwrap();
        assert_eq!(response.status(), 204);
        let head = upstream.await.unwrap().to_ascii_lowercase();
        assert!(head.starts_with("get /app?q=1 http/1.1\r\n"), "{head}");
        assert!(head.contains("\r\nhost: upstream.test\r\n"), "{head}");
        let checked: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        assert_eq!(*asked.lock().unwrap(), vec![checked]);
    }

    #[tokio::test]
    async fn https_speaks_tls_to_the_checked_address_under_the_urls_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = tokio::spawn(async move {
            use tokio::io::AsyncReadExt;
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut hello = [0u8; 5];
            conn.read_exact(&mut hello).await.unwrap();
            hello
        });
        let (policy, asked) = recording_policy();
        let mut hooks = EgressHooks::new(Some(policy));
        let result = send(&mut hooks, &format!("https://localhost:{port}/app")).await;
        // The upstream hangs up after a TLS handshake record: a TLS error, after a valid name.
        assert!(matches!(result, Err(Error::Tls(_))), "{:?}", result.err());
        assert_eq!(
            upstream.await.unwrap()[0],
            0x16,
            "not a TLS handshake record"
        );
        assert!(asked.lock().unwrap().iter().all(|a| a.port() == port));
    }

    #[tokio::test]
    async fn without_a_policy_everything_is_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut hooks = EgressHooks::default();
        let sent = tokio::spawn(async move {
            let url = format!("http://127.0.0.1:{port}/admin");
            let _ = send(&mut hooks, &url).await;
        });
        let accepted = listener.accept().await;
        assert!(accepted.is_ok());
        sent.abort();
    }
}

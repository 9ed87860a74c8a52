//! Sending a guest's outgoing request to the addresses its policy approved. The host of the URL's
//! authority is resolved once (the system resolver: the spelling `127.1`, `0x7f000001` or
//! `localhost` becomes the address it names), every address is put to the policy, and the
//! connection goes to those addresses and no others: there is no second lookup that a name could
//! answer differently. The request keeps its Host header and, for https, the URL's host as the TLS
//! server name. The exchange itself (HTTP/1.1, webpki roots, the request options' timeouts) is that
//! of wasmtime-wasi-http's `default_send_request`.

use super::{EgressPolicy, Sent};
use bytes::Bytes;
use http::uri::{PathAndQuery, Scheme};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, LazyLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody};

/// wasi:http's default for a timeout the guest left unset.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The client configuration of every https request: the webpki roots, no client certificate.
static TLS: LazyLock<Arc<rustls::ClientConfig>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.into(),
    };
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Arc::new(config)
});

/// The host (without the brackets of an IPv6 literal) and port a URI names.
fn host_and_port(uri: &http::Uri) -> Result<(&str, u16), Error> {
    let authority = uri.authority().ok_or(Error::HttpRequestUriInvalid)?;
    let default_port = if uri.scheme() == Some(&Scheme::HTTPS) {
        443
    } else {
        80
    };
    let host = authority.host();
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Ok((host, authority.port_u16().unwrap_or(default_port)))
}

/// Every address the authority of `uri` resolves to, as the system resolver spells them out.
pub async fn destinations(uri: &http::Uri) -> Result<Vec<SocketAddr>, Error> {
    let (host, port) = host_and_port(uri)?;
    // `Error::Connect` carrying the resolver's error is what wasi:http maps to `DNS-error`.
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(Error::Connect)?
        .collect();
    if addrs.is_empty() {
        return Err(Error::DnsError {
            rcode: Some("address not available".to_string()),
            info_code: None,
        });
    }
    Ok(addrs)
}

/// The guest's timeouts, wasi:http's defaults where it set none.
struct Timeouts {
    connect: Duration,
    first_byte: Duration,
    between_bytes: Duration,
}

impl Timeouts {
    fn of(options: Option<RequestOptions>) -> Timeouts {
        let options = options.unwrap_or_default();
        Timeouts {
            connect: options.connect_timeout.unwrap_or(DEFAULT_TIMEOUT),
            first_byte: options.first_byte_timeout.unwrap_or(DEFAULT_TIMEOUT),
            // Tokio panics on an interval of zero; a nanosecond is as good as none.
            between_bytes: options
                .between_bytes_timeout
                .unwrap_or(DEFAULT_TIMEOUT)
                .max(Duration::from_nanos(1)),
        }
    }
}

/// Resolves, asks `policy` about every address, then sends `request` over a connection to one of
/// them.
pub async fn send(
    mut request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
    policy: Option<EgressPolicy>,
) -> Sent {
    let timeouts = Timeouts::of(options);
    let addrs = tokio::time::timeout(timeouts.connect, destinations(request.uri()))
        .await
        .map_err(|_| Error::DnsTimeout)??;
    let target = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    if let Some(policy) = policy {
        let refused = addrs
            .iter()
            .find_map(|&addr| policy(addr, target.as_str()).map(|reason| (addr, reason)));
        if let Some((addr, reason)) = refused {
            tracing::warn!(
                "refused a guest's request to {} ({addr}): {reason}",
                request.uri()
            );
            return Err(Error::HttpRequestDenied);
        }
    }
    let stream = connect(request.uri(), &addrs, timeouts.connect).await?;
    let (mut sender, conn) = tokio::time::timeout(
        timeouts.connect,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| Error::ConnectionTimeout)??;

    // The request line carries the origin form; the authority is in the Host header already.
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(target)
        .build()
        .map_err(|_| Error::HttpRequestUriInvalid)?;
    let send = async {
        let response = tokio::time::timeout(timeouts.first_byte, sender.send_request(request))
            .await
            .map_err(|_| Error::ConnectionReadTimeout)??;
        let mut timeout = tokio::time::interval(timeouts.between_bytes);
        timeout.reset();
        Ok::<_, Error>(response.map(|incoming| TimedBody { incoming, timeout }))
    };
    let mut send = std::pin::pin!(send);
    let mut conn = Some(conn);
    // Drive the connection while waiting for the response head.
    let response = std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = send.as_mut().poll(cx) {
            return Poll::Ready(result);
        }
        let Some(running) = conn.as_mut() else {
            return Poll::Pending;
        };
        let finished = ready!(Pin::new(running).poll(cx));
        conn = None;
        match finished {
            Ok(()) => send.as_mut().poll(cx),
            Err(e) => Poll::Ready(Err(Error::from(e))),
        }
    })
    .await?;
    let io = async move {
        match conn {
            None => Ok(()),
            Some(conn) => conn.await.map_err(|e| {
                if e.is_timeout() {
                    Error::HttpResponseTimeout
                } else {
                    Error::from(e)
                }
            }),
        }
    };
    Ok((
        response.map(BodyExt::boxed_unsync),
        Box::new(io) as Box<dyn Future<Output = _> + Send>,
    ))
}

trait Stream: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Sync + Unpin + 'static> Stream for T {}

/// A connection to one of `addrs` (the first that answers), wrapped in TLS for https.
async fn connect(
    uri: &http::Uri,
    addrs: &[SocketAddr],
    timeout: Duration,
) -> Result<Box<dyn Stream>, Error> {
    let tcp = tokio::time::timeout(timeout, TcpStream::connect(addrs))
        .await
        .map_err(|_| Error::ConnectionTimeout)?
        .map_err(Error::Connect)?;
    if uri.scheme() != Some(&Scheme::HTTPS) {
        return Ok(Box::new(tcp));
    }
    let (host, _) = host_and_port(uri)?;
    let name = match host.parse::<IpAddr>() {
        Ok(ip) => rustls::pki_types::ServerName::from(ip),
        Err(_) => rustls::pki_types::ServerName::try_from(host.to_string())?,
    };
    let tls = tokio_rustls::TlsConnector::from(TLS.clone())
        .connect(name, tcp)
        .await
        .map_err(Error::Tls)?;
    Ok(Box::new(tls))
}

/// A response body that fails when the upstream goes quiet for longer than the guest's
/// between-bytes timeout.
struct TimedBody {
    incoming: Incoming,
    timeout: tokio::time::Interval,
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Error>>> {
        match Pin::new(&mut self.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.timeout.reset();
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) if e.is_timeout() => {
                Poll::Ready(Some(Err(Error::HttpResponseTimeout)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(Error::from(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                ready!(self.timeout.poll_tick(cx));
                Poll::Ready(Some(Err(Error::ConnectionReadTimeout)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

//! The front door: one hyper server per listener. Each request is routed on its raw target, before
//! any decoding: management prefixes go to the REST dialects, everything else to the app whose route
//! is the longest prefix of the path. Every request is one [`Exchange`] (request id, access log).
//! Shutdown stops accepting and lets in-flight requests finish.
//!
//! Which surfaces a listener serves is fixed when its door is built: the public door serves guests
//! and never the data browser's page or its browser sign-in (a guest's page would share their
//! origin); a private door (admin or browser listener) serves no guest content.
//!
//! Hostile or slow clients are bounded here: a cap on open connections (each listener its own, so
//! clients of one cannot lock out another; at the cap the next connection waits in the accept
//! backlog), a header size limit (431), a deadline for the headers and one for the rest of the
//! request (408), and a write timeout: a response that waits longer than that for its reader to
//! take more closes the connection, which cancels the guest writing it. A request cut off by its
//! deadline, or whose client went away before its body was in, is abandoned: its guest is
//! cancelled and may not change data after.
//!
//! A listener may serve TLS (`crate::tls` loads its certificate): every bound above holds there
//! too, the handshake itself within the header deadline, and a connection speaks HTTP/2 when its
//! client offered it through ALPN. HTTP/2 has no header read timeout of its own: there the header
//! deadline closes a connection that has had no request open (being handled or its response being
//! sent) for that long, and each of its requests has the request deadline, as on HTTP/1.
//!
//! What a management handler leaves of a small request body is read before its answer goes out
//! (`crate::leftover`), so an early answer is not lost to a reset and the connection stays open.

use crate::exchange::{Body, Exchange, RouteKind};
use crate::leftover::Leftover;
use crate::metrics::ServerMetrics;
use crate::reload::Routes;
use crate::tls;
use edgekv_api::{BoxError, Dialect, Management, Surfaces};
use edgekv_runtime::{Abandoned, App, RequestFailure};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::body::{Frame, SizeHint};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_io_timeout::TimeoutStream;
use tokio_rustls::TlsAcceptor;
use tracing::Instrument;

/// How the front door bounds its clients.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// Open connections on this listener (every listener has its own).
    pub connections: Arc<Semaphore>,
    /// Counts connections that wait at the cap, when metrics are on.
    pub capped: Option<prometheus_client::metrics::counter::Counter>,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a request may take, from its headers to the start of its response (a slow body
    /// counts against it).
    pub request_timeout: Duration,
    /// How long a response may wait for its client to read more of it.
    pub write_timeout: Duration,
    /// Where requests are counted, when metrics are on.
    pub metrics: Option<Arc<ServerMetrics>>,
}

/// The largest request head (request line and headers) read; a bigger one is answered 431.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long shutdown waits for in-flight requests.
const DRAIN: Duration = Duration::from_secs(30);

/// What one listener serves.
pub struct FrontDoor {
    /// The management surfaces this listener answers, if any.
    management: Option<Management>,
    /// Apps by route, longest route first.
    apps: Routes,
    limits: ClientLimits,
}

impl FrontDoor {
    /// The public listener: the apps, and the management APIs unless they have a listener of
    /// their own. Only their API surfaces: the browser's API takes the bearer token alone here.
    pub fn public(management: Option<Management>, mut apps: Routes, limits: ClientLimits) -> Self {
        apps.sort_by_key(|(route, _)| std::cmp::Reverse(route.len()));
        FrontDoor {
            management: management.map(|m| m.serving(Surfaces::Apis)),
            apps,
            limits,
        }
    }

    /// A listener that serves no guest content: the admin listener, the browser's own, or both.
    pub fn private(management: Management, limits: ClientLimits) -> Self {
        FrontDoor {
            management: Some(management.privately()),
            apps: Vec::new(),
            limits,
        }
    }

    /// Routes `req`, received on `local`, within the request timeout, as one [`Exchange`]: its
    /// response carries the request id and its end is logged. At the timeout the request is
    /// abandoned before its handling is dropped, so a guest still running is cancelled and no
    /// write of it starts after the client was told 408.
    async fn answer(&self, req: Request<Incoming>, local: SocketAddr) -> Response<Body> {
        let route = self.route_of(&req);
        let exchange = Exchange::begin(
            &req,
            local,
            route.kind(&req),
            route.app().map(App::name),
            self.limits.metrics.clone(),
        );
        let timeout = self.limits.request_timeout;
        let abandon = Abandoned::default();
        let routed = self
            .route(route, req, local, exchange.id.clone(), abandon.clone())
            .instrument(exchange.span.clone());
        tokio::pin!(routed);
        let response = tokio::select! {
            response = &mut routed => response,
            () = tokio::time::sleep(timeout) => {
                abandon.set();
                let mut response = text(
                    StatusCode::REQUEST_TIMEOUT,
                    format!("edgekv: the request took longer than {timeout:?}\n"),
                );
                response.headers_mut().insert(
                    hyper::header::CONNECTION,
                    hyper::header::HeaderValue::from_static("close"),
                );
                response
            }
        };
        exchange.respond(response)
    }

    /// What serves `req`: a management API when one claims its raw target, else the app whose
    /// route is the longest prefix of its path.
    fn route_of(&self, req: &Request<Incoming>) -> Route<'_> {
        let target = edgekv_api::rest::route::target(req.uri());
        if let Some(management) = &self.management {
            if let Some(dialect) = management.dialect_of(target) {
                return Route::Management(management, dialect);
            }
        }
        match self.app_for(req.uri().path()) {
            Some(app) => Route::App(app),
            None => Route::None,
        }
    }

    async fn route(
        &self,
        route: Route<'_>,
        mut req: Request<Incoming>,
        local: SocketAddr,
        request_id: Arc<str>,
        abandon: Abandoned,
    ) -> Response<Body> {
        if let Route::Management(management, dialect) = route {
            let leftover = Leftover::default();
            let response = management
                .handle(dialect, req.map(|body| leftover.watch(body)))
                .await;
            leftover.drain().await;
            return response.map(|b| b.boxed_unsync());
        }
        if let Err(refused) = ensure_host(&mut req, local) {
            return refused;
        }
        match route {
            Route::App(app) => match app.handle(req, request_id, abandon).await {
                Ok(response) => response.map(|b| {
                    b.map_err(|e| BoxError::from(format!("{e:?}")))
                        .boxed_unsync()
                }),
                Err(RequestFailure { request, failure }) => {
                    let status = StatusCode::from_u16(failure.status())
                        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                    let summary = failure.summary();
                    text(
                        status,
                        format!("edgekv: {summary} (request {request}: the server log has the details)\n"),
                    )
                }
            },
            Route::Management(..) | Route::None => text(
                StatusCode::NOT_FOUND,
                "edgekv: no app serves this path\n".into(),
            ),
        }
    }

    fn app_for(&self, path: &str) -> Option<Arc<App>> {
        self.apps
            .iter()
            .find(|(route, _)| {
                let route = route.trim_end_matches('/');
                path.strip_prefix(route)
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            })
            .map(|(_, live)| live.get())
    }
}

/// What serves one request.
enum Route<'a> {
    /// A management API.
    Management(&'a Management, Dialect),
    /// An app (the version current when the request came in).
    App(Arc<App>),
    /// Nothing: 404.
    None,
}

impl Route<'_> {
    /// What `req`, routed here, is as logs and metrics name it.
    fn kind<B>(&self, req: &Request<B>) -> RouteKind {
        match self {
            Route::Management(_, dialect) => RouteKind::of(*dialect, req),
            Route::App(_) => RouteKind::App,
            Route::None => RouteKind::None,
        }
    }

    fn app(&self) -> Option<&App> {
        match self {
            Route::App(app) => Some(app),
            _ => None,
        }
    }
}

/// Guests are told the request's authority (`wasi:http` requires one). HTTP/1.1 requires `Host`
/// (RFC 9112, section 3.2: a request without it is answered 400); an HTTP/1.0 request may omit it,
/// and then names the listener's own address.
#[allow(clippy::result_large_err)]
fn ensure_host(req: &mut Request<Incoming>, local: SocketAddr) -> Result<(), Response<Body>> {
    if req.uri().authority().is_some() || req.headers().contains_key(hyper::header::HOST) {
        return Ok(());
    }
    if req.version() != hyper::Version::HTTP_10 {
        return Err(text(
            StatusCode::BAD_REQUEST,
            "edgekv: an HTTP/1.1 request needs a Host header\n".into(),
        ));
    }
    let host = hyper::header::HeaderValue::from_str(&local.to_string())
        .map_err(|_| text(StatusCode::BAD_REQUEST, "edgekv: no Host header\n".into()))?;
    req.headers_mut().insert(hyper::header::HOST, host);
    Ok(())
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response.headers_mut().insert(
        "content-type",
        hyper::header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Serves `listener` until `shutdown` resolves, then drains in-flight requests. With `tls`, every
/// connection is a TLS one: its handshake must end within the header timeout (a client that
/// connects and never handshakes does not keep its connection slot), then it speaks HTTP/2 when
/// ALPN chose it, else HTTP/1.1.
pub async fn serve(
    listener: TcpListener,
    door: Arc<FrontDoor>,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // At the connection cap, wait for a connection to close before accepting another.
        let permit = match door.limits.connections.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if let Some(capped) = &door.limits.capped {
                    capped.inc();
                }
                tokio::select! {
                    permit = door.limits.connections.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    _ = &mut shutdown => break,
                }
            }
        };
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                // Responses go out as headers then body chunks: without TCP_NODELAY, Nagle's
                // algorithm holds the tail back until the client's delayed ACK (tens of ms).
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!("cannot set TCP_NODELAY: {e}");
                }
                let Ok(local) = stream.local_addr() else {
                    continue;
                };
                // A write that makes no progress for this long fails the connection.
                let mut stream = TimeoutStream::new(stream);
                stream.set_write_timeout(Some(door.limits.write_timeout));
                let stream = Box::pin(stream);
                let connection = Connection {
                    door: door.clone(),
                    local,
                    watcher: graceful.watcher(),
                };
                match &tls {
                    None => tokio::spawn(async move {
                        connection.http1(stream).await;
                        drop(permit);
                    }),
                    Some(tls) => {
                        let tls = tls.clone();
                        tokio::spawn(async move {
                            connection.tls(tls, stream).await;
                            drop(permit);
                        })
                    }
                };
            }
            _ = &mut shutdown => break,
        }
    }
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("gave up waiting for in-flight requests after {DRAIN:?}");
    }
}

/// One accepted connection: what serves it, the address it came in on, and shutdown's watch.
struct Connection {
    door: Arc<FrontDoor>,
    local: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    /// Serves HTTP/1.1 on `io` until the client or the server closes it.
    async fn http1<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            door,
            local,
            watcher,
        } = self;
        let header_timeout = door.limits.header_timeout;
        let service = service_fn(move |req| {
            let door = door.clone();
            async move { Ok::<_, Infallible>(door.answer(req, local).await) }
        });
        let conn = http1::Builder::new()
            .keep_alive(true)
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_header_size(MAX_HEADER_BYTES)
            .max_buf_size(MAX_HEADER_BYTES)
            .serve_connection(TokioIo::new(io), service);
        if let Err(e) = watcher.watch(conn).await {
            tracing::debug!("connection ended: {e}");
        }
    }

    /// Completes the TLS handshake within the header timeout, then serves what ALPN chose.
    async fn tls<I>(self, acceptor: TlsAcceptor, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let header_timeout = self.door.limits.header_timeout;
        let stream = match tokio::time::timeout(header_timeout, acceptor.accept(io)).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                tracing::debug!("TLS handshake failed: {e}");
                return;
            }
            Err(_) => {
                tracing::debug!("no TLS handshake within {header_timeout:?}: closing");
                return;
            }
        };
        if tls::negotiated_h2(&stream) {
            self.http2(stream).await;
        } else {
            self.http1(stream).await;
        }
    }

    /// Serves HTTP/2 on `io`. HTTP/2 has no header read timeout of its own; its equivalent here: a
    /// connection with no request open (none being handled, no response being sent) for the
    /// header timeout is closed, as an HTTP/1 connection that sends no request head is.
    async fn http2<I>(self, io: I)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Connection {
            door,
            local,
            watcher,
        } = self;
        let header_timeout = door.limits.header_timeout;
        let (open, idle) = watch::channel(0usize);
        let open = Arc::new(open);
        let service = service_fn(move |req| {
            let door = door.clone();
            let request = OpenRequest::new(open.clone());
            async move {
                let response = door.answer(req, local).await;
                Ok::<_, Infallible>(response.map(|body| Counted {
                    body,
                    _request: request,
                }))
            }
        });
        let conn = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .max_header_list_size(MAX_HEADER_BYTES as u32)
            .serve_connection(TokioIo::new(io), service);
        let conn = watcher.watch(conn);
        tokio::select! {
            ended = conn => if let Err(e) = ended {
                tracing::debug!("connection ended: {e}");
            },
            () = idle_for(idle, header_timeout) => {
                tracing::debug!("no HTTP/2 request for {header_timeout:?}: closing");
            }
        }
    }
}

/// Resolves once the count of open requests has stayed 0 for `timeout`.
async fn idle_for(mut open: watch::Receiver<usize>, timeout: Duration) {
    loop {
        if *open.borrow_and_update() == 0 {
            // Any change (a request opening, even one that is over by the next look) restarts it.
            if tokio::time::timeout(timeout, open.changed()).await.is_err() {
                return;
            }
        } else if open.changed().await.is_err() {
            return std::future::pending().await;
        }
    }
}

/// One open request of an HTTP/2 connection: counted from its headers to the end of its response.
struct OpenRequest(Arc<watch::Sender<usize>>);

impl OpenRequest {
    fn new(open: Arc<watch::Sender<usize>>) -> Self {
        open.send_modify(|n| *n += 1);
        OpenRequest(open)
    }
}

impl Drop for OpenRequest {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n -= 1);
    }
}

/// A response body that keeps its request open until the body is sent or dropped.
struct Counted {
    body: Body,
    /// Held, never read: dropped with the body.
    _request: OpenRequest,
}

impl hyper::body::Body for Counted {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

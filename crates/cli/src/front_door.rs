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

use crate::exchange::{Exchange, RouteKind};
use crate::reload::LiveApp;
use edgekv_api::{BoxError, Dialect, Management, Surfaces};
use edgekv_runtime::{Abandoned, App, RequestFailure};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_io_timeout::TimeoutStream;
use tracing::Instrument;

/// How the front door bounds its clients.
#[derive(Debug, Clone)]
pub struct ClientLimits {
    /// Open connections on this listener (every listener has its own).
    pub connections: Arc<Semaphore>,
    /// How long a client may take to send a request's headers.
    pub header_timeout: Duration,
    /// How long a request may take, from its headers to the start of its response (a slow body
    /// counts against it).
    pub request_timeout: Duration,
    /// How long a response may wait for its client to read more of it.
    pub write_timeout: Duration,
}

/// The body of every response the front door sends.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// The largest request head (request line and headers) read; a bigger one is answered 431.
const MAX_HEADER_BYTES: usize = 64 * 1024;

/// How long shutdown waits for in-flight requests.
const DRAIN: Duration = Duration::from_secs(30);

/// What one listener serves.
pub struct FrontDoor {
    /// The management surfaces this listener answers, if any.
    management: Option<Management>,
    /// Apps by route, longest route first.
    apps: Vec<(String, Arc<LiveApp>)>,
    limits: ClientLimits,
}

impl FrontDoor {
    /// The public listener: the apps, and the management APIs unless they have a listener of
    /// their own. Only their API surfaces: the browser's API takes the bearer token alone here.
    pub fn public(
        management: Option<Management>,
        mut apps: Vec<(String, Arc<LiveApp>)>,
        limits: ClientLimits,
    ) -> Self {
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
            management: Some(management),
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
        let exchange = Exchange::begin(&req, local, route.kind(), route.app().map(App::name));
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
            return management
                .handle(dialect, req)
                .await
                .map(|b| b.boxed_unsync());
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

    fn app_for(&self, path: &str) -> Option<App> {
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
    App(App),
    /// Nothing: 404.
    None,
}

impl Route<'_> {
    fn kind(&self) -> RouteKind {
        match self {
            Route::Management(_, dialect) => RouteKind::of(*dialect),
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

/// Serves `listener` until `shutdown` resolves, then drains in-flight requests.
pub async fn serve(
    listener: TcpListener,
    door: Arc<FrontDoor>,
    shutdown: impl Future<Output = ()>,
) {
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        // At the connection cap, wait for a connection to close before accepting another.
        let permit = tokio::select! {
            permit = door.limits.connections.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
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
                let header_timeout = door.limits.header_timeout;
                // A write that makes no progress for this long fails the connection.
                let mut stream = TimeoutStream::new(stream);
                stream.set_write_timeout(Some(door.limits.write_timeout));
                let door = door.clone();
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
                    .serve_connection(TokioIo::new(Box::pin(stream)), service);
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    if let Err(e) = conn.await {
                        tracing::debug!("connection ended: {e}");
                    }
                    drop(permit);
                });
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

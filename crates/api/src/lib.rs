//! edgekv-api: the management REST APIs of Cloudflare Workers KV, AWS CloudFront KeyValueStore and
//! Telnyx Edge Compute KV, served over the store. Each dialect module translates its HTTP requests
//! into store calls and store errors into its own error format; the KV rules stay in the store.
//! The same side serves edgekv's own data browser (`browser`) and its admin API for test suites
//! (`admin`).

mod admin;
pub mod browser;
mod cloudflare;
mod cloudfront;
pub mod credentials;
mod dialect;
mod operations;
pub mod rest;
mod telnyx;

pub use cloudflare::bulk_json;
pub use credentials::{Credentials, InvalidCredential, Secret};
pub use dialect::Dialect;

use bytes::Bytes;
use edgekv_store::{Store, Uuid};
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::{Request, Response};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The error type of bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A request or response body as the dialects see it: whatever the transport's body is (hyper's
/// `Incoming` from a socket, whole bytes in a test), boxed once at the door.
pub type Body = BoxBody<Bytes, BoxError>;

/// A whole response body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// Which management surfaces a listener answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Surfaces {
    /// The REST dialects, and the browser's API for scripts: bearer token only, no page. What a
    /// listener that also serves guest content answers: a page a guest serves shares its origin,
    /// so nothing a browser attaches by itself (Basic auth, cookies) may count there.
    #[default]
    Apis,
    /// The data browser alone: its page, and its API signed in as a browser does (Basic) or with
    /// the bearer token.
    Browser,
    /// The REST dialects and the data browser: a listener that serves no guest content.
    ApisAndBrowser,
}

impl Surfaces {
    /// Whether the data browser's page and its browser sign-in are served.
    pub fn browser_ui(self) -> bool {
        matches!(self, Surfaces::Browser | Surfaces::ApisAndBrowser)
    }
}

/// Encodes the server's metrics in the Prometheus text format, at each scrape.
pub type Scrape = Arc<dyn Fn() -> String + Send + Sync>;

/// The management side of the front door: every dialect over one store.
#[derive(Clone)]
pub struct Management {
    /// The store, its operations counted as the dialect serving a request makes them.
    store: Store,
    credentials: Arc<Credentials>,
    unverified_bodies: cloudfront::unverified::BodyBudget,
    surfaces: Surfaces,
    /// Whether the listener serves no guest content (the admin listener): the operations
    /// endpoints are then also at its root.
    private: bool,
    metrics: Option<Scrape>,
    snapshots: Option<Arc<admin::snapshots::SnapshotDir>>,
    /// Namespace id -> its seed file, for the admin API's reseed.
    seeds: Arc<HashMap<Uuid, PathBuf>>,
}

impl Management {
    /// Serves the REST dialects and the browser's API for scripts (`Surfaces::Apis`).
    pub fn new(store: Store, credentials: Credentials) -> Self {
        Management {
            store,
            credentials: Arc::new(credentials),
            unverified_bodies: cloudfront::unverified::BodyBudget::new(
                cloudfront::UNVERIFIED_BODY_BYTES,
            ),
            surfaces: Surfaces::Apis,
            private: false,
            metrics: None,
            snapshots: None,
            seeds: Arc::default(),
        }
    }

    /// The same management side, keeping the admin API's named snapshots as files in `dir`
    /// (created when the first is taken). Without one, the snapshot routes answer 404.
    pub fn with_snapshot_dir(self, dir: impl Into<std::path::PathBuf>) -> Self {
        let snapshots = Some(Arc::new(admin::snapshots::SnapshotDir::new(dir.into())));
        Management { snapshots, ..self }
    }

    /// Where the named snapshots live, if this server keeps them.
    pub(crate) fn snapshot_dir(&self) -> Option<&admin::snapshots::SnapshotDir> {
        self.snapshots.as_deref()
    }

    /// The same management side, serving the server's metrics (`GET /_edgekv/metrics`).
    pub fn with_metrics(self, scrape: Scrape) -> Self {
        Management {
            metrics: Some(scrape),
            ..self
        }
    }

    /// The server's metrics, encoded now; `None` when metrics are off.
    pub(crate) fn scrape(&self) -> Option<String> {
        self.metrics.as_ref().map(|scrape| scrape())
    }

    /// The same management side, on a listener that serves no guest content.
    pub fn privately(self) -> Self {
        Management {
            private: true,
            ..self
        }
    }

    /// The same management side, knowing each seeded namespace's seed file (Cloudflare bulk
    /// JSON), which the admin API's reset re-applies when asked to reseed.
    pub fn with_seeds(self, seeds: HashMap<Uuid, PathBuf>) -> Self {
        Management {
            seeds: Arc::new(seeds),
            ..self
        }
    }

    /// The seed file of namespace `id`, if it has one.
    pub fn seed(&self, id: &Uuid) -> Option<&Path> {
        self.seeds.get(id).map(PathBuf::as_path)
    }

    /// The same management side, answering `surfaces`.
    pub fn serving(self, surfaces: Surfaces) -> Self {
        Management { surfaces, ..self }
    }

    /// The management surfaces this listener answers.
    pub fn surfaces(&self) -> Surfaces {
        self.surfaces
    }

    /// The dialect this listener serves a raw request target with, if any: `Dialect::of`, less
    /// the REST dialects on a browser-only listener, plus the operations endpoints at the root of
    /// a listener that serves no guest and has the REST dialects (the admin listener).
    pub fn dialect_of(&self, raw_target: &str) -> Option<Dialect> {
        if self.private
            && self.surfaces != Surfaces::Browser
            && operations::ADMIN_ROOT.claims(rest::route::raw_path(raw_target))
        {
            return Some(Dialect::Operations);
        }
        let dialect = Dialect::of(raw_target)?;
        match self.surfaces {
            Surfaces::Browser if dialect != Dialect::Browser => None,
            _ => Some(dialect),
        }
    }

    /// The store every dialect reads and writes.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The credentials every dialect checks requests against.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// The bytes CloudFront request bodies may hold before their signature is verified.
    fn unverified_bodies(&self) -> &cloudfront::unverified::BodyBudget {
        &self.unverified_bodies
    }

    /// Serves a request whose raw target `dialect_of` matched. Generic over the body, as the
    /// runtime's `App::handle` is, so the dialects can be driven in process.
    pub async fn handle<B>(&self, dialect: Dialect, req: Request<B>) -> Response<Body>
    where
        B: hyper::body::Body<Data = Bytes> + Send + Sync + 'static,
        B::Error: Into<BoxError>,
    {
        let req = req.map(|body| body.map_err(Into::into).boxed());
        let m = &Management {
            store: self.store.via(dialect.interface()),
            ..self.clone()
        };
        match dialect {
            Dialect::Cloudflare => cloudflare::handle(m, req).await,
            Dialect::Telnyx => telnyx::handle(m, req).await,
            Dialect::CloudfrontData => cloudfront::handle(m, cloudfront::Plane::Data, req).await,
            Dialect::CloudfrontControl => {
                cloudfront::handle(m, cloudfront::Plane::Control, req).await
            }
            Dialect::Operations => operations::handle(m, req).await,
            Dialect::Browser => browser::handle(m, req).await,
        }
    }
}

/// Every management route of every dialect that needs credentials, as (dialect, method, a request
/// target for it), with made-up ids and keys: every dialect but the operations endpoints, which
/// are public. Each dialect routes only through its table, so this is the whole surface a client
/// can reach with credentials; the auth tests send each of these without, with wrong and with
/// malformed credentials.
pub fn route_table(credentials: &Credentials) -> Vec<(Dialect, &'static str, String)> {
    const UUID: &str = "6f1c2b9a-4d3e-4f5a-8b7c-0d1e2f3a4b5c";
    let store_id = UUID.parse().unwrap_or_default();
    let arn = cloudfront::arn(&credentials.aws_account_id, &store_id);
    let fill = |name: &str| match name {
        "account" => credentials.cloudflare_account_id.clone(),
        "namespace_id" | "namespace" => UUID.to_string(),
        "KvsARN" => percent_encoding::utf8_percent_encode(&arn, percent_encoding::NON_ALPHANUMERIC)
            .collect(),
        "Name" => "store-name".to_string(),
        _ => "some-key".to_string(),
    };
    let routes = |dialect: Dialect| -> Vec<(rest::route::Verb, &'static [rest::route::Seg])> {
        fn of<Op>(
            table: &[rest::route::Route<Op>],
        ) -> Vec<(rest::route::Verb, &'static [rest::route::Seg])> {
            table.iter().map(|r| (r.verb, r.pattern)).collect()
        }
        match dialect {
            Dialect::Cloudflare => of(cloudflare::ROUTES),
            Dialect::CloudfrontData => of(cloudfront::data_plane::ROUTES),
            Dialect::CloudfrontControl => of(cloudfront::control_plane::ROUTES),
            Dialect::Telnyx => of(telnyx::ROUTES),
            Dialect::Browser => of(browser::api::ROUTES),
            Dialect::Operations => Vec::new(),
        }
    };
    let mut table = Vec::new();
    for dialect in Dialect::ALL {
        let prefix = dialect.mount().example(fill);
        for (verb, pattern) in routes(dialect) {
            let target = rest::route::example(&prefix, pattern, fill);
            table.push((dialect, verb.as_str(), target));
        }
    }
    table
}

/// Internal parsers, reachable only for the fuzz targets in `tests/fuzz`. Not an API: no stability.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::cloudflare::{decode_value, read_multipart, GetRequest};
    pub use crate::cloudfront::sigv4::{
        canonical_query, canonical_request, canonical_uri, check_date, check_head, check_signature,
        check_signed_headers, parse_authorization, verify, Authorization, Claim, SignatureError,
        Signed,
    };
}

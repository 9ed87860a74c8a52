//! edgekv-api: the management REST APIs of Cloudflare Workers KV, AWS CloudFront KeyValueStore and
//! Telnyx Edge Compute KV, served over the store. Each dialect module translates its HTTP requests
//! into store calls and store errors into its own error format; the KV rules stay in the store.

mod cloudflare;
mod cloudfront;
pub mod credentials;
pub mod route;
mod telnyx;

pub use credentials::Credentials;
pub use route::Dialect;

use bytes::Bytes;
use edgekv_store::Store;
use http_body_util::{combinators::BoxBody, BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};

/// The error type of response bodies.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Every response body the front door sends.
pub type Body = BoxBody<Bytes, BoxError>;

/// A whole response body from bytes.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// The management side of the front door: every dialect over one store.
#[derive(Clone)]
pub struct Management {
    store: Store,
    credentials: Credentials,
}

impl Management {
    pub fn new(store: Store, credentials: Credentials) -> Self {
        Management { store, credentials }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// Serves a request whose raw target `Dialect::of` matched.
    pub async fn handle(&self, dialect: Dialect, req: Request<Incoming>) -> Response<Body> {
        match dialect {
            Dialect::Cloudflare => cloudflare::handle(self, req).await,
            Dialect::Telnyx => telnyx::handle(self, req).await,
            Dialect::CloudfrontData => cloudfront::handle(self, cloudfront::Plane::Data, req).await,
            Dialect::CloudfrontControl => {
                cloudfront::handle(self, cloudfront::Plane::Control, req).await
            }
        }
    }
}

/// Runs a blocking store call off the async executor.
pub async fn blocking<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> edgekv_store::Result<T> + Send + 'static,
) -> edgekv_store::Result<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || f(&store))
        .await
        .unwrap_or(Err(edgekv_store::StoreError::Closed))
}

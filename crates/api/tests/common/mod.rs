//! Shared set-up for the api crate's in-process tests: a management side over a store in a
//! temporary directory, and `call`, which routes one request the way the front door does
//! (`Management::dialect_of`, then `Management::handle`) and collects the whole answer.

#![allow(dead_code)]

use bytes::Bytes;
use edgekv_api::{Credentials, Management, Secret, Surfaces};
use edgekv_store::{Store, StoreOptions};
use http_body_util::{BodyExt, Full};
use hyper::{HeaderMap, Request, StatusCode};

/// The credentials every test management side checks against.
pub fn credentials() -> Credentials {
    Credentials {
        api_token: Secret::new("right-token").unwrap(),
        cloudflare_account_id: "0123456789abcdef0123456789abcdef".into(),
        aws_access_key_id: "AKIAEDGEKVAUTHTEST01".into(),
        aws_secret_access_key: Secret::new("right-secret").unwrap(),
        aws_account_id: "123456789012".into(),
    }
}

/// A management side over a fresh store.
pub struct Harness {
    pub management: Management,
    pub store: Store,
    _dir: tempfile::TempDir,
}

/// What a request was answered.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Answer {
    /// The body as text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text()))
    }
}

impl Harness {
    /// A management side answering `Surfaces::Apis` (what a main port serves).
    pub fn new() -> Harness {
        Harness::serving(Surfaces::Apis)
    }

    /// A management side answering `surfaces`.
    pub fn serving(surfaces: Surfaces) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let options = StoreOptions {
            sweep_interval: None,
            ..StoreOptions::default()
        };
        let store = Store::open(&dir.path().join("kv.sqlite3"), options).unwrap();
        let management = Management::new(store.clone(), credentials()).serving(surfaces);
        Harness {
            management,
            store,
            _dir: dir,
        }
    }

    /// Sends one request in process, as the front door routes it; a target no dialect of this
    /// listener claims is answered 404 "not served on this listener".
    pub async fn call(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, String)],
        body: impl Into<Bytes>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(target)
            .header("host", "127.0.0.1");
        for (name, value) in headers {
            req = req.header(*name, value);
        }
        let req = req.body(Full::new(body.into())).unwrap();
        let Some(dialect) = self.management.dialect_of(target) else {
            return Answer {
                status: StatusCode::NOT_FOUND,
                headers: HeaderMap::new(),
                body: Bytes::from_static(b"not served on this listener"),
            };
        };
        let response = self.management.handle(dialect, req).await;
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
        }
    }
}

//! Namespace reset and fork over HTTP:
//!
//! - `POST namespaces/{namespace}/reset`, body optional: empties the namespace in place (same id,
//!   name, profile and limits; its version rises). `{"reseed": true}` refills it from its seed,
//!   the bulk JSON file its `[[namespaces]]` entry of edgekv.toml names, in the same transaction;
//!   a namespace without a seed is 400 `no-seed`. 200 with the namespace afterwards.
//! - `POST namespaces/{namespace}/fork` with `{"name": "NEW"}`: copies the namespace (entries,
//!   profile, TTL support, limits) to a new namespace. 201 with the new namespace.
//!
//! `{namespace}` is an id or a name. Namespaces are described as `GET namespaces` lists them.

use crate::browser::answer::{answer, describe, json_body, namespace_id, Failure};
use crate::{Body, Management};
use edgekv_store::{SeedError, Store, StoreError};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use std::path::PathBuf;

/// The most a reset or fork body holds: a small JSON object.
const BODY_LIMIT: u64 = 64 * 1024;

/// The body of a reset.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Reset {
    /// Refill the namespace from its seed.
    #[serde(default)]
    reseed: bool,
}

/// What a fork body is.
const FORK_SHAPE: &str = r#"{"name": "<the new namespace's name>"}"#;

/// The body of a fork.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Fork {
    /// The new namespace's name.
    name: String,
}

/// `POST namespaces/{namespace}/reset`.
pub(crate) async fn reset(
    m: &Management,
    namespace: &str,
    req: Request<Body>,
) -> Result<Response<Body>, Failure> {
    let reset: Reset = json_body(req, BODY_LIMIT, r#"{"reseed": true}, or nothing"#)
        .await?
        .unwrap_or_default();
    let store = m.store();
    let id = namespace_id(store, namespace).await?;
    let seed = match reset.reseed {
        false => None,
        true => Some(m.seed(&id).map(PathBuf::from).ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "no-seed",
                format!(
                    "namespace {namespace:?} has no seed: name a Cloudflare bulk JSON file with \
                     `seed = \"...\"` in its [[namespaces]] entry of edgekv.toml"
                ),
            )
        })?),
    };
    let shown = seed.as_ref().map(|path| path.display().to_string());
    let outcome = store
        .run(move |s: &Store| {
            let content = match &seed {
                Some(path) => match read_seed(path) {
                    Ok(puts) => puts,
                    Err(failure) => return Ok(Err(failure)),
                },
                None => Vec::new(),
            };
            Ok::<_, StoreError>(Ok(s.reset_namespace(&id, content)))
        })
        .await??;
    let namespace = outcome.map_err(|e| seed_failure(e, shown.as_deref()))?;
    answer(StatusCode::OK, &describe(&namespace))
}

/// `POST namespaces/{namespace}/fork`.
pub(crate) async fn fork(
    m: &Management,
    namespace: &str,
    req: Request<Body>,
) -> Result<Response<Body>, Failure> {
    let fork: Fork = json_body(req, BODY_LIMIT, FORK_SHAPE)
        .await?
        .ok_or_else(|| {
            Failure::new(
                StatusCode::BAD_REQUEST,
                "invalid-request",
                format!("send {FORK_SHAPE}"),
            )
        })?;
    let store = m.store();
    let id = namespace_id(store, namespace).await?;
    let forked = store
        .run(move |s| s.fork_namespace(&id, &fork.name))
        .await?;
    answer(StatusCode::CREATED, &describe(&forked))
}

/// The seed file's writes, or the failure naming the file.
fn read_seed(path: &std::path::Path) -> Result<Vec<edgekv_store::Put>, Failure> {
    crate::bulk_json::read_file(path)
        .map_err(|e| Failure::new(StatusCode::BAD_REQUEST, "invalid-seed", format!("seed {e}")))
}

/// A refused reset: a seed's put is named by the file and the key.
fn seed_failure(e: SeedError, seed: Option<&str>) -> Failure {
    match e {
        SeedError::Entry { key, source } => {
            let file = seed.unwrap_or("content");
            Failure::from(source).context(&format!("seed {file}: key {key:?}"))
        }
        SeedError::Store(e) => Failure::from(e),
    }
}

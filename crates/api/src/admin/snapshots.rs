//! Named snapshots of the whole store, kept as files in one directory (`<data-dir>/snapshots/`,
//! set with [`Management::with_snapshot_dir`](crate::Management::with_snapshot_dir)):
//!
//! - `GET snapshots`: every snapshot, by name: `name`, `created_at` (RFC 3339), `size` (bytes).
//! - `POST snapshots` with `{"name": "s1"}`: takes one (201); 409 if the name is taken, 400 for a
//!   name that is not 1 to 64 letters, digits, `.`, `_` or `-`.
//! - `POST snapshots/{name}/restore`: replaces every namespace and entry with the snapshot's, in
//!   one transaction ([`Store::restore_from`]); the snapshot stays.
//! - `DELETE snapshots/{name}`: 204; 404 when there is no such snapshot.
//!
//! Snapshot `s1` is the SQLite store file `s1.sqlite3` ([`Store::snapshot_to`]). These calls run
//! one at a time, so a name is taken once and a snapshot is not dropped while it is restored.

use crate::browser::answer::{answer, json_body, Failure};
use crate::rest::reply;
use crate::{Body, Management};
use edgekv_store::{SnapshotError, Store};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;
use time::format_description::well_known::Rfc3339;

/// The file name extension of a snapshot.
const EXTENSION: &str = "sqlite3";
/// The longest snapshot name.
const MAX_NAME: usize = 64;
/// The largest body of a take: a name and JSON punctuation.
const TAKE_BODY_BYTES: u64 = 4096;

/// Where the named snapshots live, and the lock that runs their operations one at a time.
#[derive(Clone)]
pub(crate) struct SnapshotDir {
    path: PathBuf,
    busy: Arc<tokio::sync::Mutex<()>>,
}

impl SnapshotDir {
    pub(crate) fn new(path: PathBuf) -> Self {
        SnapshotDir {
            path,
            busy: Arc::default(),
        }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.path.join(format!("{name}.{EXTENSION}"))
    }
}

/// What a take body is.
const TAKE_SHAPE: &str = r#"{"name": "s1"}"#;

/// The body of a take.
#[derive(Deserialize)]
struct Take {
    name: String,
}

/// `GET snapshots`.
pub(crate) async fn list(m: &Management) -> Result<Response<Body>, Failure> {
    let dir = configured(m)?;
    let path = dir.path.clone();
    let listed = tokio::task::spawn_blocking(move || listing(&path))
        .await
        .map_err(|_| internal("the listing did not finish"))?;
    let snapshots = listed.map_err(|e| internal(format!("reading the snapshots: {e}")))?;
    answer(StatusCode::OK, &json!({ "snapshots": snapshots }))
}

/// `POST snapshots`.
pub(crate) async fn take(m: &Management, req: Request<Body>) -> Result<Response<Body>, Failure> {
    let dir = configured(m)?.clone();
    let take: Take = json_body(req, TAKE_BODY_BYTES, TAKE_SHAPE)
        .await?
        .ok_or_else(|| bad(format!("send {TAKE_SHAPE}")))?;
    check_name(&take.name)?;
    let _busy = dir.busy.lock().await;
    let file = dir.file(&take.name);
    if file.exists() {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "snapshot-exists",
            format!("a snapshot named {:?} exists; delete it first", take.name),
        ));
    }
    let (into, taken) = (dir.path.clone(), file.clone());
    run(m.store(), move |s| {
        std::fs::create_dir_all(&into).map_err(|e| failed_io(&into, e))?;
        s.snapshot_to(&taken)
    })
    .await?;
    let described = describe(&take.name, &file).map_err(|e| internal(e.to_string()))?;
    answer(StatusCode::CREATED, &described)
}

/// `POST snapshots/{name}/restore`.
pub(crate) async fn restore(m: &Management, name: &str) -> Result<Response<Body>, Failure> {
    let dir = configured(m)?.clone();
    let _busy = dir.busy.lock().await;
    let file = existing(&dir, name)?;
    let restored = run(m.store(), move |s| s.restore_from(&file)).await?;
    answer(
        StatusCode::OK,
        &json!({ "name": name, "namespaces": restored.namespaces, "keys": restored.keys }),
    )
}

/// `DELETE snapshots/{name}`.
pub(crate) async fn delete(m: &Management, name: &str) -> Result<Response<Body>, Failure> {
    let dir = configured(m)?.clone();
    let _busy = dir.busy.lock().await;
    let file = existing(&dir, name)?;
    std::fs::remove_file(&file).map_err(|e| internal(format!("{}: {e}", file.display())))?;
    Ok(reply::empty(StatusCode::NO_CONTENT))
}

fn configured(m: &Management) -> Result<&SnapshotDir, Failure> {
    m.snapshot_dir().ok_or_else(|| {
        Failure::new(
            StatusCode::NOT_FOUND,
            "not-found",
            "this server keeps no named snapshots (it has no data directory)",
        )
    })
}

/// The file of snapshot `name`, which must exist.
fn existing(dir: &SnapshotDir, name: &str) -> Result<PathBuf, Failure> {
    let file = dir.file(name);
    if check_name(name).is_err() || !file.is_file() {
        return Err(Failure::new(
            StatusCode::NOT_FOUND,
            "no-such-snapshot",
            format!("no snapshot named {name:?}"),
        ));
    }
    Ok(file)
}

/// A name is 1 to 64 ASCII letters, digits, `.`, `_` and `-`.
fn check_name(name: &str) -> Result<(), Failure> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(allowed) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid-name",
            format!(
                "a snapshot name is 1 to {MAX_NAME} letters, digits, '.', '_' or '-'; \
                 {name:?} is not"
            ),
        ));
    }
    Ok(())
}

/// Every snapshot in `dir`, by name; none when the directory does not exist yet.
fn listing(dir: &Path) -> std::io::Result<Vec<Value>> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        entries => entries?,
    };
    let mut snapshots = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(&format!(".{EXTENSION}")));
        if let Some(name) = name.filter(|n| check_name(n).is_ok()) {
            snapshots.push((name.to_string(), describe(name, &path)?));
        }
    }
    snapshots.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(snapshots.into_iter().map(|(_, v)| v).collect())
}

fn describe(name: &str, file: &Path) -> std::io::Result<Value> {
    let meta = std::fs::metadata(file)?;
    let created = meta
        .modified()
        .unwrap_or(SystemTime::UNIX_EPOCH)
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let created = time::OffsetDateTime::UNIX_EPOCH + created;
    Ok(json!({
        "name": name,
        "created_at": created.format(&Rfc3339).unwrap_or_default(),
        "size": meta.len(),
    }))
}

/// Runs a snapshot call on the store's blocking pool.
async fn run<T: Send + 'static>(
    store: &Store,
    f: impl FnOnce(&Store) -> Result<T, SnapshotError> + Send + 'static,
) -> Result<T, Failure> {
    store
        .run(move |s| f(s).map_err(Refused))
        .await
        .map_err(|Refused(e)| match e {
            SnapshotError::Store(e) => Failure::from(e),
            e => {
                tracing::error!("admin API: snapshot failed: {e}");
                internal(e.to_string())
            }
        })
}

/// A [`SnapshotError`] carried through [`Store::run`], which needs `From<StoreError>`.
struct Refused(SnapshotError);

impl From<edgekv_store::StoreError> for Refused {
    fn from(e: edgekv_store::StoreError) -> Self {
        Refused(e.into())
    }
}

fn failed_io(path: &Path, source: std::io::Error) -> SnapshotError {
    SnapshotError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "invalid-request", message)
}

fn internal(message: impl Into<String>) -> Failure {
    Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
}

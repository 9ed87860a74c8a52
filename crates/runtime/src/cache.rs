//! The compiled-component cache: machine code for a component, stored in the cache directory under
//! the SHA-256 of the component bytes and the engine's compatibility hash, so a restart or a second
//! app with the same component does not recompile.

use crate::LoadError;
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// Loads the component at `path`, from the cache when it holds a compiled copy.
pub fn load(
    engine: &Engine,
    path: &Path,
    cache_dir: Option<&Path>,
) -> Result<Component, LoadError> {
    let shown = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    let Some(dir) = cache_dir else {
        return compile(engine, &bytes, &shown);
    };
    let cached = dir.join(format!("{}.cwasm", key(engine, &bytes)));
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of an engine with the same
        // compatibility hash (part of its name) into edgekv's own cache directory.
        match unsafe { Component::deserialize_file(engine, &cached) } {
            Ok(component) => return Ok(component),
            Err(e) => tracing::warn!("ignoring unreadable cache entry {}: {e}", cached.display()),
        }
    }
    let component = compile(engine, &bytes, &shown)?;
    store(&component, &cached);
    Ok(component)
}

fn compile(engine: &Engine, bytes: &[u8], shown: &str) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Compile {
        path: shown.to_string(),
        reason: format!("{e:#}"),
    })
}

/// Writes a compiled component atomically (temporary file, then rename); a failure only logs.
fn store(component: &Component, cached: &PathBuf) {
    let write = || -> std::io::Result<()> {
        let bytes = component.serialize().map_err(std::io::Error::other)?;
        if let Some(dir) = cached.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, cached)
    };
    if let Err(e) = write() {
        tracing::warn!(
            "cannot cache compiled component at {}: {e}",
            cached.display()
        );
    }
}

fn key(engine: &Engine, bytes: &[u8]) -> String {
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    engine
        .precompile_compatibility_hash()
        .hash(&mut engine_hash);
    let mut digest = Sha256::new();
    digest.update(bytes);
    digest.update(engine_hash.finish().to_le_bytes());
    hex::encode(digest.finalize())
}

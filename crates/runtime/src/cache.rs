//! The compiled-component cache: machine code for a component, stored in the cache directory under
//! the SHA-256 of the component bytes and the engine's compatibility hash, so a restart, a second
//! app with the same component or the next build of edgekv (when it compiles the same way) does
//! not recompile.
//!
//! Deserialising an entry turns its bytes into code that runs unchecked, so only entries this cache
//! wrote are deserialised: each starts with an HMAC-SHA256 tag over its name and its bytes, keyed
//! with a random key in the cache directory (`cache.key`, mode 0600, made on first use and shared by
//! every server of the user that uses the directory). An entry whose tag does not verify (changed,
//! truncated, copied in from elsewhere or moved under another name) is logged, recompiled and
//! rewritten. Without a usable key the cache is not used.

use crate::LoadError;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use wasmtime::component::Component;
use wasmtime::Engine;

/// The file holding the key, in the cache directory.
const KEY_FILE: &str = "cache.key";
const KEY_LEN: usize = 32;
/// The length of an entry's tag, before its serialized component.
const TAG_LEN: usize = 32;

type Key = [u8; KEY_LEN];

/// Loads the component at `path`, from the cache when it holds a compiled copy of its own.
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
    let key = match cache_key(dir) {
        Ok(key) => key,
        Err(e) => {
            tracing::warn!("not using the component cache in {}: {e}", dir.display());
            return compile(engine, &bytes, &shown);
        }
    };
    let name = entry_name(engine, &bytes);
    let cached = dir.join(&name);
    if let Some(component) = read_entry(engine, &key, &cached, &name) {
        return Ok(component);
    }
    let component = compile(engine, &bytes, &shown)?;
    write_entry(&component, &key, &cached, &name);
    Ok(component)
}

fn compile(engine: &Engine, bytes: &[u8], shown: &str) -> Result<Component, LoadError> {
    Component::new(engine, bytes).map_err(|e| LoadError::Compile {
        path: shown.to_string(),
        reason: format!("{e:#}"),
    })
}

/// The entry at `cached`, if there is one and its tag is this cache's.
fn read_entry(engine: &Engine, key: &Key, cached: &Path, name: &str) -> Option<Component> {
    let entry = match std::fs::read(cached) {
        Ok(entry) => entry,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!("cannot read cache entry {}: {e}", cached.display());
            return None;
        }
    };
    let Some((tag, serialized)) = entry.split_at_checked(TAG_LEN) else {
        tracing::warn!("refusing cache entry {}: too short", cached.display());
        return None;
    };
    if tagger(key, name, serialized).verify_slice(tag).is_err() {
        tracing::warn!(
            "refusing cache entry {}: it was not written by this cache (recompiling)",
            cached.display()
        );
        return None;
    }
    // SAFETY: the bytes are those that `Component::serialize` gave `write_entry` for this name (the
    // tag proves it), with the engine's compatibility hash part of the name.
    match unsafe { Component::deserialize(engine, serialized) } {
        Ok(component) => Some(component),
        Err(e) => {
            tracing::warn!("ignoring unreadable cache entry {}: {e}", cached.display());
            None
        }
    }
}

/// Writes a compiled component with its tag, atomically (temporary file, then rename); a failure
/// only logs.
fn write_entry(component: &Component, key: &Key, cached: &PathBuf, name: &str) {
    let write = || -> io::Result<()> {
        let serialized = component.serialize().map_err(io::Error::other)?;
        let tag = tagger(key, name, &serialized).finalize().into_bytes();
        let tmp = cached.with_extension(format!("tmp{}", std::process::id()));
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(&tag)?;
        file.write_all(&serialized)?;
        drop(file);
        std::fs::rename(&tmp, cached)
    };
    if let Err(e) = write() {
        tracing::warn!(
            "cannot cache compiled component at {}: {e}",
            cached.display()
        );
    }
}

/// The MAC of the entry called `name` holding `serialized`, before finalising or verifying.
fn tagger(key: &Key, name: &str, serialized: &[u8]) -> Hmac<Sha256> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(&(name.len() as u64).to_le_bytes());
    mac.update(name.as_bytes());
    mac.update(serialized);
    mac
}

/// The file name of the entry for a component's `bytes` compiled by `engine`.
fn entry_name(engine: &Engine, bytes: &[u8]) -> String {
    name_for(bytes, &engine.precompile_compatibility_hash())
}

/// The file name of the entry for `bytes` compiled by an engine whose compatibility hash is
/// `compatibility`: SHA-256 over both, so every build of edgekv that compiles the same way names
/// an entry the same (`std`'s `DefaultHasher` may change between Rust releases).
fn name_for(bytes: &[u8], compatibility: &impl Hash) -> String {
    let mut digest = Sha256Hasher(Sha256::new());
    digest.0.update((bytes.len() as u64).to_le_bytes());
    digest.0.update(bytes);
    compatibility.hash(&mut digest);
    format!("{}.cwasm", hex::encode(digest.0.finalize()))
}

/// Feeds what a `Hash` value writes into SHA-256 (as wasmtime's own cache does).
struct Sha256Hasher(Sha256);

impl Hasher for Sha256Hasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// Never called: the digest is read with `finalize`.
    fn finish(&self) -> u64 {
        unreachable!("Sha256Hasher is read with finalize, not finish")
    }
}

/// The cache's key: read from `dir`, or made there if it has none yet.
fn cache_key(dir: &Path) -> io::Result<Key> {
    let path = dir.join(KEY_FILE);
    match read_key(&path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_key(dir, &path),
        read => read,
    }
}

fn read_key(path: &Path) -> io::Result<Key> {
    let mut file = std::fs::File::open(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // A key that others can read lets them forge entries.
        if file.metadata()?.permissions().mode() & 0o077 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!("{} must be readable by its owner only", path.display()),
            ));
        }
    }
    let mut key = [0; KEY_LEN];
    file.read_exact(&mut key)?;
    Ok(key)
}

/// Makes a key and publishes it at `path` only when complete and only if no other server did
/// first (a hard link does not replace): every server sharing the directory ends with one key.
fn create_key(dir: &Path, path: &Path) -> io::Result<Key> {
    create_private_dir(dir)?;
    let mut key = [0; KEY_LEN];
    let mut nonce = [0; 8];
    getrandom::fill(&mut key).map_err(io::Error::other)?;
    getrandom::fill(&mut nonce).map_err(io::Error::other)?;
    let tmp = dir.join(format!("{KEY_FILE}.{}.tmp", hex::encode(nonce)));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = options
        .open(&tmp)
        .and_then(|mut file| file.write_all(&key).and_then(|()| file.sync_all()));
    let published = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match published {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => read_key(path),
        Err(e) => Err(e),
    }
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid component with no content but a custom section holding `label`.
    fn component(label: &str) -> Vec<u8> {
        let mut bytes = b"\0asm\x0d\0\x01\0".to_vec();
        let name = b"label";
        let size = 1 + name.len() + label.len();
        assert!(size < 128 && name.len() < 128);
        bytes.extend([0, size as u8, name.len() as u8]);
        bytes.extend(name);
        bytes.extend(label.as_bytes());
        bytes
    }

    struct Cache {
        engine: Engine,
        dir: tempfile::TempDir,
    }

    impl Cache {
        fn new() -> Cache {
            Cache {
                engine: Engine::default(),
                dir: tempfile::tempdir().unwrap(),
            }
        }

        /// Writes `label`'s component to disk, loads it through the cache; its entry's path.
        fn load(&self, label: &str) -> PathBuf {
            let wasm = self.dir.path().join(format!("{label}.wasm"));
            std::fs::write(&wasm, component(label)).unwrap();
            let cache = self.dir.path().join("cache");
            load(&self.engine, &wasm, Some(&cache)).unwrap();
            cache.join(entry_name(&self.engine, &component(label)))
        }
    }

    /// What an engine's compatibility hash writes, fixed.
    struct Compatibility;

    impl Hash for Compatibility {
        fn hash<H: Hasher>(&self, state: &mut H) {
            state.write(b"wasmtime 48 x86_64 cranelift");
        }
    }

    /// Entry names are a stable digest: a cache written by one build is found by the next.
    #[test]
    fn an_entry_name_is_the_same_in_every_build() {
        assert_eq!(
            name_for(&component("a"), &Compatibility),
            "5cbd63760af435bcefec7b0219b4ab99c7c28d53f9d93e44c0f5d09825d371ce.cwasm"
        );
    }

    #[test]
    fn an_entry_is_written_once_and_reused() {
        let cache = Cache::new();
        let entry = cache.load("a");
        let written = std::fs::read(&entry).unwrap();
        let modified = entry.metadata().unwrap().modified().unwrap();
        assert_eq!(cache.load("a"), entry);
        assert_eq!(std::fs::read(&entry).unwrap(), written);
        assert_eq!(entry.metadata().unwrap().modified().unwrap(), modified);
    }

    #[test]
    fn an_entry_moved_under_another_name_is_refused_and_rewritten() {
        let cache = Cache::new();
        let a = cache.load("a");
        let b = cache.load("b");
        let own = std::fs::read(&b).unwrap();
        std::fs::copy(&a, &b).unwrap();
        cache.load("b");
        assert_eq!(std::fs::read(&b).unwrap(), own);
    }

    #[test]
    fn an_entry_with_any_byte_changed_is_refused_and_rewritten() {
        let cache = Cache::new();
        let entry = cache.load("a");
        let own = std::fs::read(&entry).unwrap();
        for at in [0, TAG_LEN - 1, TAG_LEN, own.len() / 2, own.len() - 1] {
            let mut changed = own.clone();
            changed[at] ^= 0x01;
            std::fs::write(&entry, &changed).unwrap();
            cache.load("a");
            assert_eq!(std::fs::read(&entry).unwrap(), own, "byte {at}");
        }
        for short in [0, TAG_LEN - 1, TAG_LEN, own.len() - 1] {
            std::fs::write(&entry, &own[..short]).unwrap();
            cache.load("a");
            assert_eq!(std::fs::read(&entry).unwrap(), own, "{short} bytes");
        }
    }

    #[test]
    fn an_entry_of_another_key_is_refused() {
        let first = Cache::new();
        let entry = first.load("a");
        let foreign = std::fs::read(&entry).unwrap();
        let second = Cache::new();
        let own_entry = second.load("a");
        let own = std::fs::read(&own_entry).unwrap();
        assert_ne!(foreign, own, "two caches share no key");
        std::fs::write(&own_entry, &foreign).unwrap();
        second.load("a");
        assert_eq!(std::fs::read(&own_entry).unwrap(), own);
    }

    #[cfg(unix)]
    #[test]
    fn the_key_is_private_and_one_that_is_not_disables_the_cache() {
        use std::os::unix::fs::PermissionsExt;
        let cache = Cache::new();
        let entry = cache.load("a");
        let key = entry.with_file_name(KEY_FILE);
        assert_eq!(key.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::remove_file(&entry).unwrap();
        cache.load("a");
        assert!(!entry.exists(), "a cache with a readable key was used");
    }

    #[test]
    fn servers_sharing_a_directory_share_one_key() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<Key> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| cache_key(dir.path()))).collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap().unwrap())
                .collect()
        });
        assert!(keys.iter().all(|k| *k == keys[0]));
        assert_eq!(cache_key(dir.path()).unwrap(), keys[0]);
    }
}

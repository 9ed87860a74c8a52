//! `edgekv-guest`: the edgekv KV binding for Rust guests.
//!
//! A guest opens a namespace by the binding name its app is granted in `edgekv.toml` (`default`
//! when the server runs one component with `edgekv serve app.wasm`) and reads and writes entries in
//! it. The namespace's profile (cloudflare, cloudfront or telnyx) decides the rules every write must
//! follow; a write that breaks one fails with the [`Error`] that names the rule, and writes nothing.
//!
//! The crate generates the `edgekv:kv/store` bindings from edgekv's `wit/` and keeps them private:
//! a guest only sees the types below. It does not bind `wasi:http`; a guest generates (or takes from
//! a crate) its own handler bindings, and the component links both.
//!
//! ```no_run
//! use edgekv_guest::{Error, Namespace};
//! use std::time::Duration;
//!
//! fn visit() -> Result<u64, Error> {
//!     let ns = Namespace::open("default")?;
//!     loop {
//!         let (count, put) = match ns.get_with_metadata("visits")? {
//!             Some(entry) => {
//!                 let count = entry.text().and_then(|t| t.parse().ok()).unwrap_or(0u64);
//!                 (count, ns.put("visits", (count + 1).to_string()).if_match(&entry.etag))
//!             }
//!             None => (0, ns.put("visits", "1").if_absent()),
//!         };
//!         match put.metadata(r#"{"by":"visit"}"#).ttl(Duration::from_secs(86_400)).send() {
//!             Ok(_) => return Ok(count + 1),
//!             Err(Error::Conflict { .. }) => continue, // someone else wrote first: read again
//!             Err(e) => return Err(e),
//!         }
//!     }
//! }
//!
//! # fn main() -> Result<(), Error> {
//! let ns = Namespace::open("default")?;
//! for page in ns.list().prefix("user/").limit(100) {
//!     for key in page?.keys {
//!         println!("{} ({} bytes)", key.name, key.size);
//!     }
//! }
//! # Ok(())
//! # }
//! ```
#![deny(missing_docs)]

mod bindings {
    wit_bindgen::generate!({
        world: "edgekv:kv/imports",
        path: "../../wit",
    });
}

mod error;
mod list;
mod put;

pub use error::Error;
pub use list::{KeyInfo, List, Page};
pub use put::{Put, PutResult};

use bindings::edgekv::kv::store as raw;

/// An open namespace: the one granted to this app under a binding name.
pub struct Namespace {
    inner: raw::Namespace,
}

/// A live entry read with [`Namespace::get_with_metadata`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The value's bytes.
    pub value: Vec<u8>,
    /// The entry's metadata as JSON text (stored compact), if it has any.
    pub metadata: Option<String>,
    /// The content type written with the value, if any.
    pub content_type: Option<String>,
    /// When the entry expires, in unix milliseconds, if it does.
    pub expires_at_ms: Option<u64>,
    /// Changes on every write of this key and is never reused: pass it to [`Put::if_match`] or
    /// [`Namespace::delete_if_match`] for compare-and-swap.
    pub etag: String,
}

impl Entry {
    /// The value as UTF-8 text, or `None` if it is not valid UTF-8.
    pub fn text(&self) -> Option<&str> {
        std::str::from_utf8(&self.value).ok()
    }
}

impl Namespace {
    /// Opens the namespace granted to this app under `binding`.
    ///
    /// Fails with [`Error::AccessDenied`] when the app was not granted `binding`, and with
    /// [`Error::NoSuchStore`] when it was but no namespace is configured behind it.
    pub fn open(binding: &str) -> Result<Namespace, Error> {
        Ok(Namespace { inner: raw::Namespace::open(binding)? })
    }

    /// The value at `key`, or `None` if no live entry has that key.
    pub fn get(&self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.inner.get(key)?.map(|entry| entry.value))
    }

    /// The live entry at `key` with its metadata, content type, expiry and ETag, or `None`.
    pub fn get_with_metadata(&self, key: &str) -> Result<Option<Entry>, Error> {
        Ok(self.inner.get(key)?.map(|e| Entry {
            value: e.value,
            metadata: e.metadata,
            content_type: e.content_type,
            expires_at_ms: e.expires_at_ms,
            etag: e.etag,
        }))
    }

    /// A write of `value` at `key`, sent by [`Put::send`] after its options are set.
    pub fn put<'a>(&'a self, key: &'a str, value: impl AsRef<[u8]> + 'a) -> Put<'a> {
        Put::new(&self.inner, key, Box::new(value))
    }

    /// Deletes `key`; returns whether a live entry was there.
    pub fn delete(&self, key: &str) -> Result<bool, Error> {
        Ok(self.inner.delete(key, None)?)
    }

    /// Deletes `key` only if its ETag is `etag`; otherwise fails with [`Error::Conflict`] and
    /// deletes nothing. Returns whether a live entry was there.
    pub fn delete_if_match(&self, key: &str, etag: &str) -> Result<bool, Error> {
        Ok(self.inner.delete(key, Some(etag))?)
    }

    /// The keys of this namespace in UTF-8 byte order, as an iterator over pages; narrow it with
    /// [`List::prefix`], start it at [`List::cursor`] and size its pages with [`List::limit`].
    pub fn list(&self) -> List<'_> {
        List::new(&self.inner)
    }
}

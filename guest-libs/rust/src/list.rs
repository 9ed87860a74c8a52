//! Listing keys: the page iterator [`Namespace::list`](crate::Namespace::list) returns.

use crate::bindings::edgekv::kv::store as raw;
use crate::Error;

/// The keys of a namespace in UTF-8 byte order, one [`Page`] per item. The first item is always
/// a page (possibly empty); iteration ends after the page that has no cursor, or after an error.
#[must_use = "a listing reads nothing until it is iterated"]
pub struct List<'a> {
    namespace: &'a raw::Namespace,
    prefix: String,
    cursor: Option<String>,
    limit: Option<u32>,
    done: bool,
}

/// One page of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The keys of this page, in UTF-8 byte order.
    pub keys: Vec<KeyInfo>,
    /// Where the next page starts (pass it to [`List::cursor`] to resume later), or `None` on the
    /// last page.
    pub cursor: Option<String>,
}

/// One key of a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key.
    pub name: String,
    /// When the entry expires, in unix milliseconds, if it does.
    pub expires_at_ms: Option<u64>,
    /// The entry's metadata as JSON text, if it has any.
    pub metadata: Option<String>,
    /// The size of the value in bytes.
    pub size: u64,
}

impl<'a> List<'a> {
    pub(crate) fn new(namespace: &'a raw::Namespace) -> List<'a> {
        List { namespace, prefix: String::new(), cursor: None, limit: None, done: false }
    }

    /// Lists only keys that start with `prefix`.
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Starts after the page that returned `cursor`.
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// At most `limit` keys per page (the profile sets the default and the maximum: 1000 for
    /// cloudflare).
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = Some(limit);
        self
    }
}

impl Iterator for List<'_> {
    type Item = Result<Page, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let page = match self.namespace.list(&self.prefix, self.cursor.as_deref(), self.limit) {
            Ok(page) => page,
            Err(e) => {
                self.done = true;
                return Some(Err(e.into()));
            }
        };
        self.cursor = page.cursor.clone();
        self.done = page.cursor.is_none();
        let keys = page
            .keys
            .into_iter()
            .map(|k| KeyInfo { name: k.name, expires_at_ms: k.expires_at_ms, metadata: k.metadata, size: k.size })
            .collect();
        Some(Ok(Page { keys, cursor: page.cursor }))
    }
}

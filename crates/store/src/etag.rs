//! ETags: opaque strings derived from a namespace's id and a version number. Versions only grow, so a
//! deleted-then-recreated key never gets an old ETag back, and two namespaces never share an ETag.

use std::fmt;

/// An opaque ETag. Compare with `==` against what a client sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(String);

impl Etag {
    /// The ETag of a namespace at `version`.
    pub(crate) fn namespace(ns_id: &uuid::Uuid, version: i64) -> Etag {
        Etag(format!("{}N{:X}", tag_prefix(ns_id), version))
    }

    /// The ETag of an entry last written at namespace `version`.
    pub(crate) fn entry(ns_id: &uuid::Uuid, version: i64) -> Etag {
        Etag(format!("{}E{:X}", tag_prefix(ns_id), version))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether a client-sent ETag (optionally quoted, as HTTP sends it) names this one.
    pub fn matches(&self, sent: &str) -> bool {
        let sent = sent.trim();
        let sent = sent.strip_prefix("W/").unwrap_or(sent);
        sent.strip_prefix('"')
            .and_then(|s| s.strip_suffix('"'))
            .unwrap_or(sent)
            == self.0
    }
}

fn tag_prefix(ns_id: &uuid::Uuid) -> String {
    ns_id.simple().to_string()[..8].to_ascii_uppercase()
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

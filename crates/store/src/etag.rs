//! ETags: opaque strings derived from a namespace's id and a version number. Versions only grow, so a
//! deleted-then-recreated key never gets an old ETag back, and two namespaces never share an ETag.

use std::fmt;

/// An opaque ETag. Compare with `==` against what a client sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(String);

impl Etag {
    /// The ETag of a namespace at `version`.
    pub(crate) fn namespace(ns_id: &uuid::Uuid, version: i64) -> Etag {
        Etag(format!("{:08X}N{version:X}", tag_prefix(ns_id)))
    }

    /// The ETag of an entry last written at namespace `version`.
    pub(crate) fn entry(ns_id: &uuid::Uuid, version: i64) -> Etag {
        Etag(format!("{:08X}E{version:X}", tag_prefix(ns_id)))
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

/// The namespace's part of its ETags: the first 8 hex digits of its id (this is on every read's
/// path, so it is formatted straight from the bytes).
fn tag_prefix(ns_id: &uuid::Uuid) -> u32 {
    let b = ns_id.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_etag_is_the_id_prefix_the_kind_and_the_version_in_hex() {
        let id = uuid::Uuid::parse_str("0a1b2c3d-4e5f-6789-abcd-ef0123456789").unwrap();
        assert_eq!(Etag::entry(&id, 255).as_str(), "0A1B2C3DEFF");
        assert_eq!(Etag::namespace(&id, 1).as_str(), "0A1B2C3DN1");
        let low = uuid::Uuid::parse_str("00000001-0000-0000-0000-000000000000").unwrap();
        assert_eq!(Etag::entry(&low, 16).as_str(), "00000001E10");
    }
}

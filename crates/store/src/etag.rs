//! ETags: opaque strings derived from a namespace's id and a version number. Versions only grow, so a
//! deleted-then-recreated key never gets an old ETag back. Two namespaces can share an ETag only
//! if their ids begin with the same 4 bytes (1 chance in 2^32 for two random UUIDs).

use std::fmt;

/// An opaque ETag. Compare with `==` against what a client sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Etag(String);

impl Etag {
    /// The ETag of a namespace at `version`.
    pub(crate) fn namespace(ns_id: &uuid::Uuid, version: i64) -> Etag {
        tagged(ns_id, 'N', version)
    }

    /// The ETag of an entry last written at namespace `version`.
    pub(crate) fn entry(ns_id: &uuid::Uuid, version: i64) -> Etag {
        tagged(ns_id, 'E', version)
    }

    /// The ETag's text, unquoted.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ETag's text, unquoted, as an owned string.
    pub fn into_string(self) -> String {
        self.0
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

/// `PPPPPPPP` `kind` `V...`: the namespace's [`tag_prefix`] in 8 hex digits, then the version in
/// hex. This is on every read's path, so it is written digit by digit rather than through `format!`.
fn tagged(ns_id: &uuid::Uuid, kind: char, version: i64) -> Etag {
    let mut tag = String::with_capacity(8 + 1 + 16);
    push_hex(&mut tag, u64::from(tag_prefix(ns_id)), 8);
    tag.push(kind);
    let version = version as u64;
    let digits = (64 - version.leading_zeros()).div_ceil(4).max(1) as usize;
    push_hex(&mut tag, version, digits);
    Etag(tag)
}

/// The namespace's part of its ETags: the first 4 bytes of its id.
fn tag_prefix(ns_id: &uuid::Uuid) -> u32 {
    let b = ns_id.as_bytes();
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

/// The low `digits` hex digits of `n`, upper case, most significant first.
fn push_hex(out: &mut String, n: u64, digits: usize) {
    for i in (0..digits).rev() {
        out.push(char::from(
            b"0123456789ABCDEF"[(n >> (4 * i)) as usize & 0xF],
        ));
    }
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
        assert_eq!(Etag::entry(&low, 0).as_str(), "00000001E0");
    }

    #[test]
    fn an_etag_is_what_format_writes_for_any_version() {
        let id = uuid::Uuid::parse_str("fedcba98-0000-0000-0000-000000000000").unwrap();
        for version in [0, 1, 9, 10, 15, 16, 255, 256, 4095, 1 << 31, i64::MAX] {
            assert_eq!(
                Etag::entry(&id, version).as_str(),
                format!("FEDCBA98E{version:X}")
            );
            assert_eq!(
                Etag::namespace(&id, version).as_str(),
                format!("FEDCBA98N{version:X}")
            );
        }
    }
}

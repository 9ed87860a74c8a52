//! Which management API a raw request target belongs to, decided on the raw target before any
//! decoding. Absolute-form targets (`http://host:port/path`, sent through proxies) are accepted.

/// A management API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/client/v4/accounts/{account}/storage/kv/namespaces...` (and the same without `/client/v4`).
    Cloudflare,
    /// `/key-value-stores/...` (rest-json data plane).
    CloudfrontData,
    /// `/2020-05-31/key-value-store...` (rest-xml control plane).
    CloudfrontControl,
    /// `/v2/storage/kvs...`.
    Telnyx,
}

impl Dialect {
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Cloudflare => "Cloudflare Workers KV",
            Dialect::CloudfrontData => "CloudFront KeyValueStore",
            Dialect::CloudfrontControl => "CloudFront (key value store control plane)",
            Dialect::Telnyx => "Telnyx Edge Compute KV",
        }
    }

    /// The dialect a raw request target (path and query as received) is for, if any.
    pub fn of(raw_target: &str) -> Option<Dialect> {
        let path = raw_path(raw_target);
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with(['/', '?']))
        };
        if under("/v2/storage/kvs") {
            Some(Dialect::Telnyx)
        } else if under("/2020-05-31/key-value-store") {
            Some(Dialect::CloudfrontControl)
        } else if under("/key-value-stores") {
            Some(Dialect::CloudfrontData)
        } else if is_cloudflare(path) {
            Some(Dialect::Cloudflare)
        } else {
            None
        }
    }
}

/// The raw request target of a parsed URI: path and query as received (`/` when absent), without
/// the scheme and authority of an absolute-form target.
pub fn target(uri: &hyper::Uri) -> &str {
    uri.path_and_query().map_or("/", |p| p.as_str())
}

/// The path of a raw target: without the scheme and authority of an absolute-form target, without
/// the query.
pub fn raw_path(raw_target: &str) -> &str {
    let target = match raw_target.find("://") {
        Some(i) if !raw_target[..i].contains('/') => {
            let rest = &raw_target[i + 3..];
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => raw_target,
    };
    target.split(['?', '#']).next().unwrap_or(target)
}

/// Why a raw path cannot be split into segments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("a path segment is not valid percent-encoded UTF-8")]
    NotUtf8,
}

/// Splits a raw path on `/` and percent-decodes each segment exactly once. `+` stays a plus, and
/// `.`/`..` are kept as they are (no dot-segment normalisation): dialects decide what they mean.
/// The leading empty segment of an absolute path is dropped.
pub fn segments(raw_path: &str) -> Result<Vec<String>, PathError> {
    raw_path
        .strip_prefix('/')
        .unwrap_or(raw_path)
        .split('/')
        .map(|segment| {
            percent_encoding::percent_decode_str(segment)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| PathError::NotUtf8)
        })
        .collect()
}

/// The decoded value of query parameter `name` (`+` read as a space, as forms send it), if present.
pub fn query_param(raw_target: &str, name: &str) -> Option<String> {
    query_pairs(raw_target)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

/// Every decoded query parameter, in order.
pub fn query_pairs(raw_target: &str) -> Vec<(String, String)> {
    let Some((_, query)) = raw_target.split_once('?') else {
        return Vec::new();
    };
    let query = query.split('#').next().unwrap_or(query);
    let decode = |s: &str| {
        let spaced = s.replace('+', " ");
        percent_encoding::percent_decode_str(&spaced)
            .decode_utf8_lossy()
            .into_owned()
    };
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
}

fn is_cloudflare(path: &str) -> bool {
    let path = path.strip_prefix("/client/v4").unwrap_or(path);
    let mut segments = path.split('/').skip(1);
    segments.next() == Some("accounts")
        && segments.next().is_some_and(|account| !account.is_empty())
        && segments.next() == Some("storage")
        && segments.next() == Some("kv")
        && segments.next() == Some("namespaces")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_raw_prefix() {
        let cf = "/client/v4/accounts/abc/storage/kv/namespaces/ns/values/a%2Fb";
        assert_eq!(Dialect::of(cf), Some(Dialect::Cloudflare));
        assert_eq!(
            Dialect::of("/accounts/abc/storage/kv/namespaces"),
            Some(Dialect::Cloudflare)
        );
        assert_eq!(
            Dialect::of("/v2/storage/kvs?page[number]=1"),
            Some(Dialect::Telnyx)
        );
        assert_eq!(Dialect::of("/v2/storage/kvsx"), None);
        assert_eq!(
            Dialect::of("/key-value-stores/arn%3Aaws/keys"),
            Some(Dialect::CloudfrontData)
        );
        assert_eq!(
            Dialect::of("/2020-05-31/key-value-store/x"),
            Some(Dialect::CloudfrontControl)
        );
        assert_eq!(
            Dialect::of("http://127.0.0.1:9/v2/storage/kvs/x"),
            Some(Dialect::Telnyx)
        );
        assert_eq!(Dialect::of("/kv/hello"), None);
        assert_eq!(Dialect::of("/"), None);
    }

    #[test]
    fn segments_decode_once_and_keep_dots_and_plus() {
        let segs = segments("/keys/a%2Fb/a+b/%252F/./..").unwrap();
        assert_eq!(segs, ["keys", "a/b", "a+b", "%2F", ".", ".."]);
        assert_eq!(segments("/x/%FF"), Err(PathError::NotUtf8));
        assert_eq!(segments("/x/"), Ok(vec!["x".to_string(), String::new()]));
    }

    #[test]
    fn query_params_decode() {
        let t = "/p?prefix=a%2Fb&limit=10&x=a+b&flag";
        assert_eq!(query_param(t, "prefix").as_deref(), Some("a/b"));
        assert_eq!(query_param(t, "x").as_deref(), Some("a b"));
        assert_eq!(query_param(t, "flag").as_deref(), Some(""));
        assert_eq!(query_param(t, "nope"), None);
    }
}

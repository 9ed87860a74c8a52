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
    /// `/_edgekv...`: edgekv's own data browser.
    Browser,
}

impl Dialect {
    /// The API's product name, as messages to operators and guests name it.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::Cloudflare => "Cloudflare Workers KV",
            Dialect::CloudfrontData => "CloudFront KeyValueStore",
            Dialect::CloudfrontControl => "CloudFront (key value store control plane)",
            Dialect::Telnyx => "Telnyx Edge Compute KV",
            Dialect::Browser => "edgekv data browser",
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
        } else if under(crate::browser::PREFIX) {
            Some(Dialect::Browser)
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
        // Absolute form: a scheme (nothing before `://` is a `/`, `?` or `#`), then an authority
        // that ends at the first `/`, `?` or `#`.
        Some(i) if !raw_target[..i].contains(['/', '?', '#']) => {
            let rest = &raw_target[i + 3..];
            match rest.find(['/', '?', '#']) {
                Some(end) if rest[end..].starts_with('/') => &rest[end..],
                _ => "/",
            }
        }
        _ => raw_target,
    };
    // An empty path (hyper gives `?q` as the target of `http://host?q`) is `/`, as in hyper.
    match target.split(['?', '#']).next() {
        Some("") | None => "/",
        Some(path) => path,
    }
}

/// Why a raw path cannot be split into segments.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    /// A segment percent-decodes to bytes that are not UTF-8 (e.g. `%FF`).
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

/// An HTTP method in a route table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `GET`: reads a value, a listing, a namespace or a store, or fetches the browser page.
    Get,
    /// `PUT`: writes a key or keys in bulk, or renames or updates a namespace or store.
    Put,
    /// `POST`: creates a namespace or store, or reads, writes or deletes keys in a batch.
    Post,
    /// `DELETE`: deletes a key, keys in bulk, a namespace or a store.
    Delete,
}

impl Verb {
    /// The method's name as on the wire, upper-case.
    pub fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Put => "PUT",
            Verb::Post => "POST",
            Verb::Delete => "DELETE",
        }
    }

    fn matches(self, method: &hyper::Method) -> bool {
        method.as_str() == self.as_str()
    }
}

/// One segment of a route pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seg {
    /// This exact (decoded) segment.
    Lit(&'static str),
    /// Any one segment, captured.
    Param(&'static str),
    /// One or more segments, captured joined with `/` (keys may contain slashes).
    Rest(&'static str),
}

/// A route of a dialect: method and pattern below the dialect's prefix, and the operation it names.
/// Each dialect routes only through its table, so the table lists every route it serves (the
/// auth tests walk it).
#[derive(Debug, Clone, Copy)]
pub struct Route<Op: 'static> {
    /// The method the route answers.
    pub verb: Verb,
    /// The path segments below the dialect's prefix, matched one by one.
    pub pattern: &'static [Seg],
    /// The dialect's operation the route names.
    pub op: Op,
}

/// The operation `segments` (decoded, below the dialect's prefix) name in `table`, with the captured
/// parameters in pattern order. A lone empty segment (a trailing slash) counts as none.
pub fn find<Op: Copy>(
    table: &[Route<Op>],
    method: &hyper::Method,
    segments: &[&str],
) -> Option<(Op, Vec<String>)> {
    let segments = match segments {
        [""] => &[][..],
        other => other,
    };
    table
        .iter()
        .filter(|route| route.verb.matches(method))
        .find_map(|route| capture(route.pattern, segments).map(|params| (route.op, params)))
}

fn capture(pattern: &[Seg], segments: &[&str]) -> Option<Vec<String>> {
    let mut params = Vec::new();
    for (i, seg) in pattern.iter().enumerate() {
        match seg {
            Seg::Lit(lit) => (*segments.get(i)? == *lit).then_some(())?,
            Seg::Param(_) => params.push(segments.get(i)?.to_string()),
            Seg::Rest(_) => {
                let rest = segments.get(i..).filter(|r| !r.is_empty())?;
                params.push(rest.join("/"));
                return Some(params);
            }
        }
    }
    (segments.len() == pattern.len()).then_some(params)
}

/// A request target for `pattern` below `prefix`, each parameter filled by `fill(name)`.
pub fn example(prefix: &str, pattern: &[Seg], fill: impl Fn(&str) -> String) -> String {
    let mut target = prefix.to_string();
    for seg in pattern {
        target.push('/');
        match seg {
            Seg::Lit(lit) => target.push_str(lit),
            Seg::Param(name) | Seg::Rest(name) => target.push_str(&fill(name)),
        }
    }
    target
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

    /// Found by the `route` fuzz target (tests/fuzz): for `GET http://host?x://y/v2/storage/kvs`
    /// hyper's target is `?x://y/v2/storage/kvs` and its path `/`, but `raw_path` read the query as
    /// an absolute-form target and routed it to Telnyx; and `?q` had the empty path.
    #[test]
    fn raw_path_of_a_query_only_target_is_root() {
        assert_eq!(raw_path("?x://y/v2/storage/kvs"), "/");
        assert_eq!(Dialect::of("?x://y/v2/storage/kvs"), None);
        assert_eq!(raw_path("?//st"), "/");
        assert_eq!(raw_path(""), "/");
        assert_eq!(raw_path("http://h?x://y/v2/storage/kvs"), "/");
        assert_eq!(raw_path("http://h#f/v2/storage/kvs"), "/");
        assert_eq!(raw_path("http://h/v2/storage/kvs?x=1"), "/v2/storage/kvs");
        assert_eq!(raw_path("/a://b?c"), "/a://b");
    }

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
        assert_eq!(Dialect::of("/_edgekv/"), Some(Dialect::Browser));
        assert_eq!(Dialect::of("/_edgekv?x"), Some(Dialect::Browser));
        assert_eq!(Dialect::of("/_edgekvx"), None);
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
    fn route_tables_capture_params_and_rest() {
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Op {
            List,
            Get,
            Keys,
        }
        const TABLE: &[Route<Op>] = &[
            Route {
                verb: Verb::Get,
                pattern: &[],
                op: Op::List,
            },
            Route {
                verb: Verb::Get,
                pattern: &[Seg::Param("id"), Seg::Lit("keys")],
                op: Op::Keys,
            },
            Route {
                verb: Verb::Get,
                pattern: &[Seg::Param("id"), Seg::Lit("keys"), Seg::Rest("key")],
                op: Op::Get,
            },
        ];
        let get = hyper::Method::GET;
        assert_eq!(find(TABLE, &get, &[]), Some((Op::List, vec![])));
        assert_eq!(find(TABLE, &get, &[""]), Some((Op::List, vec![])));
        assert_eq!(
            find(TABLE, &get, &["n", "keys"]),
            Some((Op::Keys, vec!["n".into()]))
        );
        assert_eq!(
            find(TABLE, &get, &["n", "keys", "a", "b"]),
            Some((Op::Get, vec!["n".into(), "a/b".into()]))
        );
        assert_eq!(find(TABLE, &get, &["n"]), None);
        assert_eq!(find(TABLE, &hyper::Method::PUT, &[]), None);
        let target = example("/p", TABLE[2].pattern, |name| format!("<{name}>"));
        assert_eq!(target, "/p/<id>/keys/<key>");
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

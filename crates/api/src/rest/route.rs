//! Routing a request within a dialect: where the dialect is mounted (`Mount`, matched on the raw
//! path before any decoding, so the front door can tell which API a target is for), the decoded
//! path segments below it, and the operation its route table names (`dispatch`). Also the raw
//! target's parts: path (absolute-form targets, sent through proxies, are accepted) and query.

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

/// Where a dialect's routes are: the path segments every one of them is below, in one or more
/// spellings (Cloudflare's with and without `/client/v4`). Only `Lit` and `Param` segments.
#[derive(Debug, Clone, Copy)]
pub struct Mount(pub &'static [&'static [Seg]]);

impl Mount {
    /// Whether a raw path (as received, not decoded) is below this mount: the front door asks
    /// this before anything is decoded. A `Param` takes any non-empty segment.
    pub fn claims(&self, raw_path: &str) -> bool {
        let raw: Vec<&str> = raw_path
            .strip_prefix('/')
            .unwrap_or(raw_path)
            .split('/')
            .collect();
        self.0
            .iter()
            .any(|spelling| below(spelling, &raw).is_some())
    }

    /// The parameters the mount captured and the decoded segments below it, if `segments` (a
    /// whole decoded path) are below it.
    fn split<'s>(&self, segments: &'s [String]) -> Option<(Vec<String>, &'s [String])> {
        self.0.iter().find_map(|spelling| {
            let params = below(spelling, segments)?;
            Some((params, &segments[spelling.len()..]))
        })
    }

    /// A request target for the mount's first spelling, each parameter filled by `fill(name)`.
    pub fn example(&self, fill: impl Fn(&str) -> String) -> String {
        example("", self.0.first().copied().unwrap_or_default(), fill)
    }
}

/// The parameters `spelling` captures at the start of `segments`, if they start with it.
fn below<S: AsRef<str>>(spelling: &[Seg], segments: &[S]) -> Option<Vec<String>> {
    let mut params = Vec::new();
    for (seg, got) in spelling.iter().zip(segments) {
        let got = got.as_ref();
        match seg {
            Seg::Lit(lit) if got == *lit => {}
            Seg::Param(_) if !got.is_empty() => params.push(got.to_string()),
            _ => return None,
        }
    }
    (segments.len() >= spelling.len()).then_some(params)
}

/// A request's operation, as its dialect's route table names it.
#[derive(Debug)]
pub struct Dispatched<Op> {
    /// The operation.
    pub op: Op,
    /// The parameters the mount captured (Cloudflare's account id), in order.
    pub mount: Vec<String>,
    /// The parameters the route captured, in pattern order.
    pub params: std::vec::IntoIter<String>,
}

impl<Op> Dispatched<Op> {
    /// The next parameter the route captured; empty once all are taken (the route table says how
    /// many there are).
    pub fn param(&mut self) -> String {
        self.params.next().unwrap_or_default()
    }
}

/// Why a request has no operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unrouted {
    /// The path does not decode.
    #[error(transparent)]
    BadPath(#[from] PathError),
    /// No route of the table matches the method and path.
    #[error("no route for the method and path")]
    NoRoute,
}

/// The operation of a request with `method` and raw `raw_path`, below `mount`, in `table`.
pub fn dispatch<Op: Copy>(
    mount: &Mount,
    table: &[Route<Op>],
    method: &hyper::Method,
    raw_path: &str,
) -> Result<Dispatched<Op>, Unrouted> {
    let segments = segments(raw_path)?;
    let (mount_params, below) = mount.split(&segments).ok_or(Unrouted::NoRoute)?;
    let below: Vec<&str> = below.iter().map(String::as_str).collect();
    let (op, params) = find(table, method, &below).ok_or(Unrouted::NoRoute)?;
    Ok(Dispatched {
        op,
        mount: mount_params,
        params: params.into_iter(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the `route` fuzz target (tests/fuzz): for `GET http://host?x://y/v2/storage/kvs`
    /// hyper's target is `?x://y/v2/storage/kvs` and its path `/`, but `raw_path` read the query as
    /// an absolute-form target (and so routed it to Telnyx); and `?q` had the empty path.
    #[test]
    fn raw_path_of_a_query_only_target_is_root() {
        assert_eq!(raw_path("?x://y/v2/storage/kvs"), "/");
        assert_eq!(raw_path("?//st"), "/");
        assert_eq!(raw_path(""), "/");
        assert_eq!(raw_path("http://h?x://y/v2/storage/kvs"), "/");
        assert_eq!(raw_path("http://h#f/v2/storage/kvs"), "/");
        assert_eq!(raw_path("http://h/v2/storage/kvs?x=1"), "/v2/storage/kvs");
        assert_eq!(raw_path("/a://b?c"), "/a://b");
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

    const CF: Mount = Mount(&[
        &[
            Seg::Lit("client"),
            Seg::Lit("v4"),
            Seg::Lit("accounts"),
            Seg::Param("a"),
        ],
        &[Seg::Lit("accounts"), Seg::Param("a")],
    ]);

    #[test]
    fn mounts_claim_raw_paths_in_any_spelling() {
        assert!(CF.claims("/client/v4/accounts/x"));
        assert!(CF.claims("/accounts/x/values/a%2Fb"));
        assert!(!CF.claims("/accounts/"));
        assert!(!CF.claims("/accounts"));
        assert!(!CF.claims("/accountsx/x"));
        assert!(!CF.claims("/client/v4/accounts%2Fx"));
        assert!(!CF.claims("/"));
    }

    #[test]
    fn dispatch_splits_the_mount_and_finds_the_route() {
        const TABLE: &[Route<u8>] = &[
            Route {
                verb: Verb::Get,
                pattern: &[],
                op: 0,
            },
            Route {
                verb: Verb::Get,
                pattern: &[Seg::Lit("values"), Seg::Rest("key")],
                op: 1,
            },
        ];
        let get = hyper::Method::GET;
        let mut found = dispatch(&CF, TABLE, &get, "/client/v4/accounts/x/values/a%2Fb/c").unwrap();
        assert_eq!(
            (found.op, found.mount.as_slice()),
            (1, &["x".to_string()][..])
        );
        assert_eq!(found.param(), "a/b/c");
        assert_eq!(found.param(), "");
        assert_eq!(dispatch(&CF, TABLE, &get, "/accounts/x/").unwrap().op, 0);
        assert_eq!(
            dispatch(&CF, TABLE, &get, "/accounts/x/nope").unwrap_err(),
            Unrouted::NoRoute
        );
        assert_eq!(
            dispatch(&CF, TABLE, &get, "/accounts/x/values/%FF").unwrap_err(),
            Unrouted::BadPath(PathError::NotUtf8)
        );
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

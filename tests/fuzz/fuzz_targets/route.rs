//! The raw request-target parser (`edgekv_api::rest::route`): `target`, `raw_path`, `segments`,
//! `query_pairs` / `query_param` and `Dialect::of`, on any target.
//!
//! Invariants:
//! - nothing panics;
//! - `raw_path` has no query or fragment, and is stable (`raw_path(raw_path(t)) == raw_path(t)`), so
//!   `Dialect::of` decides on the same path whichever form it is given;
//! - `segments` decodes exactly once: the segments, percent-encoded again and rejoined, split back
//!   into the same segments; the same for `query_pairs`;
//! - `query_param` is the first pair of that name;
//! - on a target hyper accepts, `raw_path(target(uri))` is hyper's own path and the query after the
//!   first `?` is hyper's query, so routing and the handlers read the same request.
#![no_main]

use edgekv_api::rest::route;
use edgekv_api::Dialect;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but the unreserved set.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fuzz_target!(|data: &[u8]| {
    let raw = String::from_utf8_lossy(data);
    check_raw_target(&raw);
    if let Ok(uri) = hyper::Uri::try_from(data) {
        check_uri(&uri);
    }
});

fn check_raw_target(raw: &str) {
    let path = route::raw_path(raw);
    assert!(
        !path.contains(['?', '#']),
        "raw_path({raw:?}) = {path:?} keeps a query or fragment"
    );
    assert_eq!(
        route::raw_path(path),
        path,
        "raw_path is not stable on {raw:?}"
    );
    let dialect = Dialect::of(raw);
    assert_eq!(
        Dialect::of(path),
        dialect,
        "Dialect::of differs on {raw:?} and its path"
    );
    if let Some(d) = dialect {
        let _ = d.name();
    }

    if let Ok(segments) = route::segments(path) {
        let again: Vec<String> = segments
            .iter()
            .map(|s| utf8_percent_encode(s, COMPONENT).to_string())
            .collect();
        let canonical = format!("/{}", again.join("/"));
        assert_eq!(
            route::segments(&canonical).as_ref(),
            Ok(&segments),
            "segments of {path:?} do not survive re-encoding as {canonical:?}"
        );
    }

    let pairs = route::query_pairs(raw);
    let canonical = pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                utf8_percent_encode(k, COMPONENT),
                utf8_percent_encode(v, COMPONENT)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    assert_eq!(
        route::query_pairs(&format!("/?{canonical}")),
        pairs,
        "query pairs of {raw:?} do not survive re-encoding as {canonical:?}"
    );
    if let Some((name, value)) = pairs.first() {
        assert_eq!(route::query_param(raw, name).as_ref(), Some(value));
    }
    let longest = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    assert_eq!(route::query_param(raw, &"x".repeat(longest + 1)), None);
}

fn check_uri(uri: &hyper::Uri) {
    let target = route::target(uri);
    check_raw_target(target);
    // An authority-form target (`CONNECT host:port`) has no path: hyper says "", `target` says "/".
    let path = match uri.path_and_query() {
        Some(_) => uri.path(),
        None => "/",
    };
    assert_eq!(
        route::raw_path(target),
        path,
        "raw_path(target) is not hyper's path for {uri:?} (target {target:?})"
    );
    assert_eq!(
        target.split_once('?').map(|(_, q)| q),
        uri.query(),
        "the query of target {target:?} is not hyper's for {uri:?}"
    );
}

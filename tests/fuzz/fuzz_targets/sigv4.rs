//! The CloudFront dialect's request signatures (`cloudfront::sigv4`): the SigV4 / SigV4A
//! `Authorization` header parser, the signed-headers rule, the canonical-request builder
//! (`canonical_uri`, `canonical_query`) and `verify` end to end.
//!
//! Input: a request as text, `METHOD TARGET` on the first line, then `Name: value` header lines, an
//! empty line and the body (the seeds are the boto3 requests of the wire logs).
//!
//! Invariants:
//! - nothing panics; every refusal is `Malformed` (or `Mismatch` for a stated body hash, or
//!   `PathNotNormal` for a path with dot or empty segments);
//! - a parsed header is one the parser's own rules allow (algorithm, scope shape, date and service
//!   taken from the scope) and its canonical form `ALG Credential=…, SignedHeaders=…, Signature=…`
//!   parses to the same fields;
//! - `canonical_uri` refuses exactly the paths with a dot or empty segment (`PathNotNormal`), and
//!   otherwise is the path itself encoded again (`/`-rooted, fully encoded, decoding to the path),
//!   so one signed URI is one routed path; `canonical_query` is sorted and idempotent;
//! - a canonical request is method, URI, query, one line per signed header, the signed headers and
//!   the body's SHA-256, in that order;
//! - `verify` accepts only what every step above accepts, for the configured key, and refuses what
//!   `check_head` (the checks made before a body is read) refuses, with the same error.
#![no_main]

use edgekv_api::fuzzing::{
    canonical_query, canonical_request, canonical_uri, check_head, check_signed_headers,
    parse_authorization, verify, SignatureError, Signed,
};
use hyper::header::{HeaderName, HeaderValue};
use hyper::HeaderMap;
use libfuzzer_sys::fuzz_target;

const SIGV4A: &str = "AWS4-ECDSA-P256-SHA256";
const SIGV4: &str = "AWS4-HMAC-SHA256";
// The test credentials the wire logs were captured with.
const AKID: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

struct Request {
    method: String,
    target: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn parse_request(data: &[u8]) -> Request {
    let mut lines = data.split(|&b| b == b'\n');
    let first = String::from_utf8_lossy(lines.next().unwrap_or_default()).into_owned();
    let (method, target) = first.split_once(' ').unwrap_or((&first, "/"));
    let (method, target) = (method.to_string(), target.to_string());
    let mut headers = HeaderMap::new();
    let mut consumed = first.len() + 1;
    for line in lines.by_ref() {
        consumed += line.len() + 1;
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = HeaderName::from_bytes(line[..colon].trim_ascii());
        let value = HeaderValue::from_bytes(line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) = (name, value) {
            headers.append(name, value);
        }
    }
    let body = data.get(consumed..).unwrap_or_default().to_vec();
    Request {
        method,
        target,
        headers,
        body,
    }
}

fn is_canonical_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~')
}

/// Every byte unreserved, or `%` and two upper-case hex digits (and `/` where allowed).
fn assert_encoded(s: &str, slash: bool) {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3).unwrap_or_default();
            assert_eq!(hex.len(), 2, "cut escape in {s:?}");
            assert!(
                hex.iter()
                    .all(|h| h.is_ascii_digit() || (b'A'..=b'F').contains(h)),
                "bad escape in {s:?}"
            );
            i += 3;
        } else {
            assert!(
                is_canonical_byte(b) || (slash && b == b'/'),
                "{b:#x} left raw in {s:?}"
            );
            i += 1;
        }
    }
}

fn check_canonical_uri(raw_path: &str) -> Option<String> {
    // `/`, or `/`-separated segments, none empty, `.` or `..`, with an optional trailing `/`.
    let inner = raw_path.strip_prefix('/');
    let inner = inner.map(|p| p.strip_suffix('/').unwrap_or(p));
    let normal = raw_path == "/"
        || inner.is_some_and(|inner| inner.split('/').all(|s| !matches!(s, "" | "." | "..")));
    let uri = match canonical_uri(raw_path) {
        Ok(uri) => uri,
        Err(e) => {
            assert_eq!(e, SignatureError::PathNotNormal);
            assert!(!normal, "{raw_path:?} refused, but it has no dot or empty segment");
            return None;
        }
    };
    assert!(normal, "{raw_path:?} accepted with a dot or empty segment");
    assert!(uri.starts_with('/'), "{uri:?} is not rooted");
    assert_encoded(&uri, true);
    let decoded = percent_encoding::percent_decode_str(&uri).collect::<Vec<u8>>();
    assert_eq!(decoded, raw_path.as_bytes(), "{uri:?} does not encode {raw_path:?}");
    assert_eq!(
        canonical_uri(&uri).as_ref(),
        Ok(&uri.replace('%', "%25")),
        "encoding {uri:?} again changes more than its escapes"
    );
    Some(uri)
}

fn check_canonical_query(raw_query: &str) -> String {
    let query = canonical_query(raw_query);
    let pairs: Vec<&str> = if query.is_empty() {
        Vec::new()
    } else {
        query.split('&').collect()
    };
    for pair in &pairs {
        let (k, v) = pair.split_once('=').expect("every canonical pair has `=`");
        assert_encoded(k, false);
        assert_encoded(v, false);
    }
    let split: Vec<(&str, &str)> = pairs.iter().filter_map(|p| p.split_once('=')).collect();
    assert!(split.is_sorted(), "{query:?} is not sorted");
    assert_eq!(
        canonical_query(&query),
        query,
        "canonical_query is not idempotent"
    );
    query
}

fn check_authorization(header: &str) {
    let auth = match parse_authorization(header) {
        Ok(auth) => auth,
        Err(e) => {
            assert!(matches!(e, SignatureError::Malformed(_)), "{e:?}");
            return;
        }
    };
    assert!(auth.algorithm == SIGV4A || auth.algorithm == SIGV4);
    assert!(!auth.access_key_id.contains('/'));
    let parts: Vec<&str> = auth.scope.split('/').collect();
    assert_eq!(parts.len(), if auth.algorithm == SIGV4A { 3 } else { 4 });
    assert_eq!(parts.last(), Some(&"aws4_request"));
    assert_eq!(auth.date, parts[0]);
    assert_eq!(auth.service, parts[parts.len() - 2]);
    for field in [auth.signed_headers, auth.signature, auth.scope] {
        assert!(!field.contains(','));
    }
    let canonical = format!(
        "{} Credential={}/{}, SignedHeaders={}, Signature={}",
        auth.algorithm, auth.access_key_id, auth.scope, auth.signed_headers, auth.signature
    );
    assert_eq!(
        parse_authorization(&canonical).as_ref(),
        Ok(&auth),
        "the canonical form {canonical:?} of {header:?} parses differently"
    );
}

fn unix_time(amz_date: &str) -> Option<i64> {
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    Some(
        time::PrimitiveDateTime::parse(amz_date, &format)
            .ok()?
            .assume_utc()
            .unix_timestamp(),
    )
}

fuzz_target!(|data: &[u8]| {
    let request = parse_request(data);
    let (raw_path, raw_query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let uri = check_canonical_uri(raw_path);
    let query = check_canonical_query(raw_query);

    let header = request
        .headers
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if let Some(header) = header {
        check_authorization(header);
    }
    // A header line that HeaderValue refuses still reaches the parser as text.
    check_authorization(&String::from_utf8_lossy(
        data.split(|&b| b == b'\n').nth(1).unwrap_or_default(),
    ));

    let auth = header.and_then(|h| parse_authorization(h).ok());
    let (algorithm, signed_headers) = auth.as_ref().map_or((SIGV4, "host;x-amz-date"), |a| {
        (a.algorithm, a.signed_headers)
    });
    if check_signed_headers(algorithm, signed_headers).is_ok() {
        let names: Vec<&str> = signed_headers.split(';').collect();
        assert!(names.contains(&"host"));
        if algorithm == SIGV4A {
            assert!(names.contains(&"x-amz-region-set"));
        }
    }

    let signed = Signed {
        method: &request.method,
        raw_path,
        raw_query,
        headers: &request.headers,
        body: &request.body,
    };
    let canonical = canonical_request(&signed, signed_headers);
    match &canonical {
        Ok(canonical) => {
            let uri = uri.as_deref().expect("a canonical request for a refused path");
            let head = format!("{}\n{uri}\n{query}\n", request.method);
            assert!(
                canonical.starts_with(&head),
                "{canonical:?} does not start with {head:?}"
            );
            let payload = sha256_hex(&request.body);
            let tail = format!("\n\n{signed_headers}\n{payload}");
            assert!(
                canonical.ends_with(&tail),
                "{canonical:?} does not end with {tail:?}"
            );
            let names = signed_headers.split(';').count();
            let lines = canonical[head.len()..canonical.len() - tail.len()].split('\n');
            assert_eq!(lines.clone().count(), names, "one line per signed header");
            for (line, name) in lines.zip(signed_headers.split(';')) {
                assert!(
                    line.starts_with(&format!("{name}:")),
                    "{line:?} is not header {name}"
                );
            }
        }
        Err(e) => assert!(
            matches!(
                e,
                SignatureError::Malformed(_)
                    | SignatureError::Mismatch
                    | SignatureError::PathNotNormal
            ),
            "{e:?}"
        ),
    }

    let service = match auth.as_ref().map(|a| a.service) {
        Some("cloudfront") => "cloudfront",
        _ => "cloudfront-keyvaluestore",
    };
    let now = request
        .headers
        .get("x-amz-date")
        .and_then(|v| v.to_str().ok())
        .and_then(unix_time)
        .unwrap_or(1_795_441_179);
    let verdict = verify(&signed, service, AKID, SECRET, now);
    // What the head refuses is refused before any body is read, with the error `verify` gives.
    if let Err(e) = check_head(&request.headers, raw_path, service, AKID, now) {
        assert_eq!(verdict.as_ref().err(), Some(&e));
    }
    if verdict.is_ok() {
        let auth = auth.expect("verified without a parsed Authorization header");
        assert_eq!(auth.access_key_id, AKID);
        assert_eq!(auth.service, service);
        assert!(check_signed_headers(auth.algorithm, auth.signed_headers).is_ok());
        assert!(canonical.is_ok());
    }
});

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    use std::fmt::Write;
    sha2::Sha256::digest(bytes)
        .iter()
        .fold(String::new(), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

//! Every management route of every dialect, taken from the routers' own tables
//! (`edgekv_api::route_table`), in process, refuses a request without credentials, with wrong ones and with
//! malformed ones, each in the dialect's error format; and with the right ones it reaches an
//! operation (not the dialect's "no such route"). A route added to a table is covered here without
//! anyone editing this test; a route can only be served through a table.

mod common;
#[path = "cloudfront/sign.rs"]
mod sign;

use common::{credentials, Harness};
use edgekv_api::{Dialect, Surfaces};
use hyper::{HeaderMap, StatusCode};

/// (name, headers) of each kind of bad credentials, for a dialect.
fn bad_credentials(dialect: Dialect) -> Vec<(&'static str, Vec<(&'static str, String)>)> {
    let amz_date = ("x-amz-date", "20260101T000000Z".to_string());
    match dialect {
        Dialect::Cloudflare | Dialect::Telnyx => vec![
            ("missing", vec![]),
            ("wrong", vec![("authorization", "Bearer wrong-token".into())]),
            ("malformed", vec![("authorization", "Bearer".into())]),
            ("wrong scheme", vec![("authorization", "Basic cmlnaHQtdG9rZW4=".into())]),
            ("empty bearer", vec![("authorization", "Bearer ".into())]),
            ("empty key", vec![("x-auth-email", "a@example.com".into()), ("x-auth-key", String::new())]),
        ],
        Dialect::CloudfrontData | Dialect::CloudfrontControl => vec![
            ("missing", vec![]),
            (
                "wrong",
                vec![
                    ("authorization", format!(
                        "AWS4-HMAC-SHA256 Credential=AKIAEDGEKVAUTHTEST01/20260101/us-east-1/cloudfront/aws4_request, \
                         SignedHeaders=host;x-amz-date, Signature={}", "0".repeat(64))),
                    amz_date.clone(),
                ],
            ),
            ("malformed", vec![("authorization", "AWS4-HMAC-SHA256 nonsense".into()), amz_date]),
            ("bearer", vec![("authorization", "Bearer right-token".into())]),
        ],
        Dialect::Browser => vec![
            ("missing", vec![]),
            ("wrong", vec![("authorization", "Basic ZWRnZWt2Ondyb25n".into())]),
            ("malformed", vec![("authorization", "Basic !!!".into())]),
            ("empty password", vec![("authorization", "Basic ZWRnZWt2Og==".into())]),
            ("empty bearer", vec![("authorization", "Bearer ".into())]),
            // What a signed-in browser attaches by itself: on a listener shared with guest
            // content (`Surfaces::Apis`, what these tests serve) only Bearer counts.
            ("right token as Basic", vec![("authorization", "Basic ZWRnZWt2OnJpZ2h0LXRva2Vu".into())]),
        ],
        // Public: not in the route table.
        Dialect::Operations => vec![],
    }
}

/// Whether a refusal is in the dialect's own error format.
fn refused(dialect: Dialect, status: StatusCode, body: &str) -> bool {
    let json = || serde_json::from_str::<serde_json::Value>(body).unwrap_or_default();
    match dialect {
        Dialect::Cloudflare => {
            matches!(status.as_u16(), 400 | 401 | 403)
                && json()["success"] == false
                && matches!(json()["errors"][0]["code"].as_u64(), Some(9106 | 10000))
        }
        Dialect::Telnyx => {
            status == StatusCode::UNAUTHORIZED && json()["errors"][0]["code"] == "10009"
        }
        Dialect::CloudfrontData => {
            status == StatusCode::FORBIDDEN && json()["__type"] == "AccessDeniedException"
        }
        Dialect::CloudfrontControl => {
            status == StatusCode::FORBIDDEN && body.contains("<Code>AccessDenied</Code>")
        }
        Dialect::Browser => status == StatusCode::UNAUTHORIZED && json()["error"] == "unauthorized",
        Dialect::Operations => false,
    }
}

#[tokio::test]
async fn every_route_refuses_missing_wrong_and_malformed_credentials() {
    let h = Harness::new();
    let table = edgekv_api::route_table(&credentials());
    assert!(table.len() >= 38, "{} routes", table.len());
    let mut failures = Vec::new();
    for (dialect, method, target) in &table {
        assert_eq!(
            Dialect::of(target),
            Some(*dialect),
            "{target} routes to its dialect"
        );
        for (kind, headers) in bad_credentials(*dialect) {
            let answer = h.call(method, target, &headers, "").await;
            let (status, body) = (answer.status, answer.text());
            if !refused(*dialect, status, &body) {
                failures.push(format!(
                    "{method} {target} with {kind} credentials: {status} {body}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[tokio::test]
async fn with_the_right_credentials_every_route_reaches_an_operation() {
    let h = Harness::new();
    let no_route = |dialect: Dialect, body: &str| match dialect {
        Dialect::Cloudflare => body.contains("\"code\":7003"),
        Dialect::Telnyx => body.contains("No such route"),
        Dialect::Browser => body.contains("no such browser route"),
        Dialect::Operations => body.contains("no such endpoint"),
        Dialect::CloudfrontData | Dialect::CloudfrontControl => body.contains("Unknown operation"),
    };
    let c = credentials();
    for (dialect, method, target) in edgekv_api::route_table(&credentials()) {
        let headers = match dialect {
            Dialect::Browser => vec![
                ("authorization", "Bearer right-token".to_string()),
                ("x-edgekv-browser", "1".to_string()),
            ],
            Dialect::CloudfrontData | Dialect::CloudfrontControl => sign::sign(
                method,
                &target,
                &[],
                b"",
                sign::service_of(&target),
                (&c.aws_access_key_id, c.aws_secret_access_key.expose()),
                time::OffsetDateTime::now_utc(),
            ),
            _ => vec![("authorization", "Bearer right-token".to_string())],
        };
        let answer = h.call(method, &target, &headers, "").await;
        let (status, body) = (answer.status, answer.text());
        assert!(
            !no_route(dialect, &body),
            "{method} {target}: {status} {body}"
        );
        assert!(
            status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
            "{method} {target}: {status} {body}"
        );
    }
}

/// A SigV4 `Authorization` header for a GET of `path` at `amz_date`, signed with `secret`.
fn sign_get(path: &str, amz_date: &str, access_key_id: &str, secret: &str) -> HeaderMap {
    use edgekv_api::fuzzing::{canonical_request, Signed};
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let hmac = |key: &[u8], message: &str| {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(message.as_bytes());
        mac.finalize().into_bytes().to_vec()
    };
    let mut headers = HeaderMap::new();
    headers.insert("host", "127.0.0.1".parse().unwrap());
    headers.insert("x-amz-date", amz_date.parse().unwrap());
    let signed = Signed {
        method: "GET",
        raw_path: path,
        raw_query: "",
        headers: &headers,
        body: b"",
    };
    let canonical = canonical_request(&signed, "host;x-amz-date").unwrap();
    let date = &amz_date[..8];
    let scope = format!("{date}/us-east-1/cloudfront-keyvaluestore/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = ["us-east-1", "cloudfront-keyvaluestore", "aws4_request"]
        .iter()
        .fold(
            hmac(format!("AWS4{secret}").as_bytes(), date),
            |key, part| hmac(&key, part),
        );
    let signature = hex::encode(hmac(&key, &string_to_sign));
    headers.insert(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={access_key_id}/{scope}, \
             SignedHeaders=host;x-amz-date, Signature={signature}"
        )
        .parse()
        .unwrap(),
    );
    headers
}

/// A configured secret that is empty is known to every client: nothing signed with it verifies,
/// while the same request signed with a real secret does.
#[test]
fn an_empty_aws_secret_verifies_no_signature() {
    use edgekv_api::fuzzing::{verify, SignatureError, Signed};
    let (path, amz_date, now) = ("/key-value-stores", "20260101T000000Z", 1_767_225_600);
    let check = |key_id: &str, secret: &str| {
        let headers = sign_get(path, amz_date, key_id, secret);
        let signed = Signed {
            method: "GET",
            raw_path: path,
            raw_query: "",
            headers: &headers,
            body: b"",
        };
        verify(&signed, "cloudfront-keyvaluestore", key_id, secret, now)
    };
    assert_eq!(check("AKIDEXAMPLE", "right-secret"), Ok(()));
    assert_eq!(
        check("AKIDEXAMPLE", ""),
        Err(SignatureError::UnknownAccessKey)
    );
    assert_eq!(check("", ""), Err(SignatureError::UnknownAccessKey));
}

#[tokio::test]
async fn the_browser_listener_takes_a_browser_sign_in_and_serves_nothing_else() {
    let h = Harness::serving(Surfaces::Browser);
    for (dialect, method, target) in edgekv_api::route_table(&credentials()) {
        let basic = vec![
            (
                "authorization",
                "Basic ZWRnZWt2OnJpZ2h0LXRva2Vu".to_string(),
            ),
            ("x-edgekv-browser", "1".to_string()),
        ];
        let answer = h.call(method, &target, &basic, "").await;
        let (status, body) = (answer.status, answer.text());
        if dialect == Dialect::Browser {
            assert!(
                status != StatusCode::UNAUTHORIZED && !body.contains("no such browser route"),
                "{method} {target}: {status} {body}"
            );
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {target}: {body}");
            assert_eq!(body, "not served on this listener");
        }
    }
}

//! The Cloudflare Workers KV dialect in process: every route's success shape (as the API documents
//! it and the wire captures show it), each store error and each rule reachable over REST in
//! Cloudflare's status, code and message, and request bodies capped by the namespace's own limits
//! (raised and lowered in its overrides). The SDK suites in tests/ stay the acceptance layer.

mod common;

use common::{Answer, Harness};
use edgekv_api::bulk_json::Item;
use edgekv_store::{LimitOverrides, NewNamespace, Profile, Put};
use hyper::StatusCode;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const BASE: &str = "/client/v4/accounts/0123456789abcdef0123456789abcdef/storage/kv/namespaces";

fn bearer() -> Vec<(&'static str, String)> {
    vec![("authorization", "Bearer right-token".to_string())]
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A Cloudflare-profile namespace with `overrides`, as its id appears in paths.
fn namespace(h: &Harness, name: &str, overrides: LimitOverrides) -> String {
    let created = h
        .store
        .create_namespace(NewNamespace {
            overrides,
            ..NewNamespace::new(name, Profile::Cloudflare)
        })
        .unwrap();
    created.id.simple().to_string()
}

async fn call(h: &Harness, method: &str, path: &str, body: impl Into<bytes::Bytes>) -> Answer {
    h.call(method, &format!("{BASE}{path}"), &bearer(), body)
        .await
}

async fn call_with(
    h: &Harness,
    method: &str,
    path: &str,
    headers: &[(&'static str, String)],
    body: impl Into<bytes::Bytes>,
) -> Answer {
    let mut all = bearer();
    all.extend_from_slice(headers);
    h.call(method, &format!("{BASE}{path}"), &all, body).await
}

/// The enveloped result of a success.
fn result(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    assert_eq!(answer.headers["content-type"], "application/json");
    let body = answer.json();
    assert_eq!(
        (&body["success"], &body["errors"], &body["messages"]),
        (&json!(true), &json!([]), &json!([]))
    );
    body["result"].clone()
}

/// The (status, code, message) of an enveloped error.
fn error(answer: &Answer) -> (u16, u64, String) {
    let body = answer.json();
    assert_eq!(
        (&body["success"], &body["result"]),
        (&json!(false), &Value::Null)
    );
    let first = &body["errors"][0];
    (
        answer.status.as_u16(),
        first["code"].as_u64().unwrap(),
        first["message"].as_str().unwrap().to_string(),
    )
}

fn multipart(value: &[u8], metadata: Option<&str>) -> (Vec<(&'static str, String)>, Vec<u8>) {
    let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"value\"\r\n\r\n".to_vec();
    body.extend_from_slice(value);
    if let Some(metadata) = metadata {
        body.extend_from_slice(
            format!(
                "\r\n--XyZ\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{metadata}"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(b"\r\n--XyZ--\r\n");
    let headers = vec![(
        "content-type",
        "multipart/form-data; boundary=XyZ".to_string(),
    )];
    (headers, body)
}

#[tokio::test]
async fn namespace_routes_answer_their_documented_shapes() {
    let h = Harness::new();
    let created = result(&call(&h, "POST", "", r#"{"title": "first"}"#).await);
    let id = created["id"].as_str().unwrap().to_string();
    assert!(
        id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        created,
        json!({"id": id, "title": "first", "supports_url_encoding": true})
    );
    assert_eq!(
        result(&call(&h, "GET", &format!("/{id}"), "").await),
        created
    );
    let renamed = result(&call(&h, "PUT", &format!("/{id}"), r#"{"title": "second"}"#).await);
    assert_eq!(renamed["title"], "second");

    let listed = call(&h, "GET", "?per_page=1&order=title&direction=desc", "").await;
    assert_eq!(result(&listed), json!([renamed]));
    assert_eq!(
        listed.json()["result_info"],
        json!({"count": 1, "page": 1, "per_page": 1, "total_count": 1})
    );
    assert_eq!(
        result(&call(&h, "GET", "?page=2&per_page=1", "").await),
        json!([])
    );

    assert_eq!(
        result(&call(&h, "DELETE", &format!("/{id}"), "").await),
        json!({})
    );
    let gone = call(&h, "GET", &format!("/{id}"), "").await;
    assert_eq!(error(&gone).0, 404);
}

#[tokio::test]
async fn value_routes_answer_their_documented_shapes() {
    let h = Harness::new();
    let id = namespace(&h, "values", LimitOverrides::default());
    let put = call(
        &h,
        "PUT",
        &format!("/{id}/values/a%2Fb?expiration_ttl=120.0"),
        "raw",
    )
    .await;
    assert_eq!(result(&put), json!({}));
    let got = call(&h, "GET", &format!("/{id}/values/a%2Fb"), "").await;
    assert_eq!((got.status, &got.body[..]), (StatusCode::OK, &b"raw"[..]));
    assert_eq!(got.headers["content-type"], "application/octet-stream");
    let expiration: u64 = got.headers["expiration"].to_str().unwrap().parse().unwrap();
    assert!((now_secs() + 100..=now_secs() + 120).contains(&expiration));

    let (headers, body) = multipart(b"\x00bin", Some(r#"{"a": [1, 2]}"#));
    let put = call_with(&h, "PUT", &format!("/{id}/values/m"), &headers, body).await;
    assert_eq!(result(&put), json!({}));
    let meta = call(&h, "GET", &format!("/{id}/metadata/m"), "").await;
    assert_eq!(result(&meta), json!({"a": [1, 2]}));
    let no_meta = call(&h, "GET", &format!("/{id}/metadata/a%2Fb"), "").await;
    assert_eq!(result(&no_meta), Value::Null);

    let listed = call(&h, "GET", &format!("/{id}/keys?limit=10&prefix="), "").await;
    assert_eq!(
        result(&listed),
        json!([{"name": "a/b", "expiration": expiration}, {"name": "m", "metadata": {"a": [1, 2]}}])
    );
    assert_eq!(
        listed.json()["result_info"],
        json!({"count": 2, "cursor": ""})
    );
    let paged = call(&h, "GET", &format!("/{id}/keys?limit=10&prefix=m"), "").await;
    assert_eq!(
        result(&paged),
        json!([{"name": "m", "metadata": {"a": [1, 2]}}])
    );

    assert_eq!(
        result(&call(&h, "DELETE", &format!("/{id}/values/m"), "").await),
        json!({})
    );
    let again = call(&h, "DELETE", &format!("/{id}/values/m"), "").await;
    assert_eq!(result(&again), json!({}), "deleting a missing key succeeds");
    let missing = call(&h, "GET", &format!("/{id}/values/m"), "").await;
    assert_eq!(error(&missing), (404, 10009, "get: 'key not found'".into()));
}

#[tokio::test]
async fn bulk_routes_answer_their_documented_shapes() {
    let h = Harness::new();
    let id = namespace(&h, "bulk", LimitOverrides::default());
    let at = now_secs() + 3600;
    let items = json!([
        {"key": "text", "value": "hello", "expiration": at as f64 + 0.75},
        {"key": "json", "value": "{\"a\":1}", "metadata": {"m": true}, "expiration_ttl": 600, "expiration": 1},
        {"key": "bin", "value": "AP8=", "base64": true},
    ]);
    let written = call(&h, "PUT", &format!("/{id}/bulk"), items.to_string()).await;
    assert_eq!(
        result(&written),
        json!({"successful_key_count": 3, "unsuccessful_keys": []})
    );
    assert_eq!(
        h.store.get(&id.parse().unwrap(), "bin").unwrap().value,
        [0, 255]
    );

    let bulk_get = format!("/{id}/bulk/get");
    let get = |body: Value| call(&h, "POST", &bulk_get, body.to_string());
    let texts = get(json!({"keys": ["text", "nope"]})).await;
    assert_eq!(
        result(&texts),
        json!({"values": {"text": "hello", "nope": null}})
    );
    let with_meta = get(json!({"keys": ["json"], "type": "json", "withMetadata": true})).await;
    let item = &result(&with_meta)["values"]["json"];
    assert_eq!(
        (&item["value"], &item["metadata"]),
        (&json!({"a": 1}), &json!({"m": true}))
    );
    let ttl_won = item["expiration"].as_u64().unwrap();
    assert!(
        (now_secs() + 500..=now_secs() + 600).contains(&ttl_won),
        "{ttl_won}"
    );
    let text = get(json!({"keys": ["text"], "withMetadata": true})).await;
    assert_eq!(
        result(&text)["values"]["text"]["expiration"],
        json!(at),
        "truncated"
    );

    let deleted = call(&h, "POST", &format!("/{id}/bulk/delete"), r#"["text"]"#).await;
    assert_eq!(result(&deleted)["successful_key_count"], 1);
    let legacy = call(&h, "DELETE", &format!("/{id}/bulk"), r#"["json", "never"]"#).await;
    assert_eq!(result(&legacy)["successful_key_count"], 2);
    let left = call(&h, "GET", &format!("/{id}/keys"), "").await;
    assert_eq!(result(&left), json!([{"name": "bin"}]));
}

#[tokio::test]
async fn store_errors_read_as_cloudflare_errors() {
    let h = Harness::new();
    let id = namespace(&h, "errors", LimitOverrides::default());
    let absent = "0".repeat(32);
    let cases = [
        (
            "GET",
            format!("/{absent}/values/k"),
            "",
            (404, 10013, "get: 'namespace not found'"),
        ),
        (
            "PUT",
            format!("/{absent}/values/k"),
            "v",
            (404, 10013, "put: 'namespace not found'"),
        ),
        (
            "PUT",
            format!("/{absent}/bulk"),
            "[]",
            (404, 10013, "bulk put: 'namespace not found'"),
        ),
        (
            "GET",
            format!("/{absent}/keys"),
            "",
            (404, 10013, "list keys: 'namespace not found'"),
        ),
        (
            "GET",
            "/not-hex".to_string(),
            "",
            (404, 10013, "namespace not found"),
        ),
        (
            "GET",
            format!("/{id}/metadata/k"),
            "",
            (404, 10009, "get: 'key not found'"),
        ),
        (
            "GET",
            format!("/{id}/keys?cursor=%25%25"),
            "",
            (400, 10041, "Invalid \"list keys\" cursor"),
        ),
        (
            "POST",
            String::new(),
            r#"{"title":"errors"}"#,
            (
                400,
                10014,
                "a namespace with this account ID and title already exists",
            ),
        ),
        (
            "POST",
            String::new(),
            r#"{"title":""}"#,
            (400, 10019, "missing title"),
        ),
        (
            "GET",
            format!("/{id}/nowhere"),
            "",
            (404, 7003, "No route for the URI"),
        ),
        ("PUT", format!("/{id}/bulk"), "{", (400, 10001, "")),
    ];
    for (method, path, body, (status, code, message)) in cases {
        let (got_status, got_code, got_message) = error(&call(&h, method, &path, body).await);
        assert_eq!(
            (got_status, got_code),
            (status, code),
            "{method} {path}: {got_message}"
        );
        assert!(
            got_message.starts_with(message),
            "{method} {path}: {got_message}"
        );
    }
}

/// A request (method, path, extra headers, body) and the error it gets (status, code, message).
type RuleCase = (
    &'static str,
    String,
    Vec<(&'static str, String)>,
    Vec<u8>,
    (u16, u64, String),
);

/// Each rule a REST client can break, with the message Cloudflare (or Miniflare) words it in.
#[tokio::test]
async fn rules_read_as_cloudflare_errors() {
    let h = Harness::new();
    let id = namespace(
        &h,
        "rules",
        LimitOverrides {
            max_store_bytes: Some(64),
            ..LimitOverrides::default()
        },
    );
    let long = "k".repeat(513);
    let (meta_headers, not_json) = multipart(b"v", Some("{nope"));
    let (_, big_meta) = multipart(b"v", Some(&format!("{{\"m\":\"{}\"}}", "x".repeat(1100))));
    let items = |n: usize| {
        Value::Array(
            (0..n)
                .map(|i| json!({"key": format!("k{i}"), "value": "v"}))
                .collect(),
        )
        .to_string()
    };
    let keys =
        |n: usize| json!({"keys": (0..n).map(|i| format!("k{i}")).collect::<Vec<_>>()}).to_string();
    let cases: Vec<RuleCase> = vec![
        (
            "PUT",
            format!("/{id}/values/{long}"),
            vec![],
            b"v".to_vec(),
            (
                414,
                10030,
                "UTF-8 encoded length of 513 exceeds key length limit of 512.".into(),
            ),
        ),
        (
            "PUT",
            format!("/{id}/values/%2E%2E"),
            vec![],
            b"v".to_vec(),
            (
                400,
                10023,
                "Illegal key name. Please use a different name.".into(),
            ),
        ),
        (
            "PUT",
            format!("/{id}/values/k"),
            meta_headers.clone(),
            not_json,
            (400, 10047, "Invalid metadata JSON".into()),
        ),
        (
            "PUT",
            format!("/{id}/values/k"),
            meta_headers,
            big_meta,
            (
                413,
                10024,
                "Metadata length of 1108 exceeds limit of 1024.".into(),
            ),
        ),
        (
            "PUT",
            format!("/{id}/values/k?expiration_ttl=30"),
            vec![],
            b"v".to_vec(),
            (
                400,
                10034,
                "Invalid expiration_ttl of 30. Expiration TTL must be at least 60.".into(),
            ),
        ),
        (
            "PUT",
            format!("/{id}/values/k"),
            vec![],
            vec![b'v'; 100],
            (
                413,
                10024,
                "put: 'namespace size of 101 bytes would exceed its limit of 64 bytes'".into(),
            ),
        ),
        (
            "PUT",
            format!("/{id}/bulk"),
            vec![],
            items(10_001).into_bytes(),
            (
                400,
                10012,
                "bulk put: 'received 10001 key/value pairs, but max allowed per request is: 10000'"
                    .into(),
            ),
        ),
        (
            "POST",
            format!("/{id}/bulk/get"),
            vec![],
            keys(101).into_bytes(),
            (400, 10001, "You can request a maximum of 100 keys".into()),
        ),
        (
            "GET",
            format!("/{id}/keys?limit=1001"),
            vec![],
            vec![],
            (
                400,
                10028,
                "Invalid key_count_limit of 1001. Please specify an integer no greater than 1000."
                    .into(),
            ),
        ),
        (
            "GET",
            format!("/{id}/keys?limit=9"),
            vec![],
            vec![],
            (
                400,
                10028,
                "Invalid key_count_limit of 9. Please specify an integer no less than 10.".into(),
            ),
        ),
        (
            "POST",
            String::new(),
            vec![],
            json!({"title": "t".repeat(513)}).to_string().into_bytes(),
            (400, 10001, "title: must be at most 512 bytes".into()),
        ),
    ];
    for (method, path, headers, body, expected) in cases {
        let answer = call_with(&h, method, &path, &headers, body).await;
        assert_eq!(
            error(&answer),
            expected,
            "{method} {}",
            &path[..path.len().min(60)]
        );
    }
}

/// A list prefix is the start of a key, so one longer than a key can be is refused as that key
/// would be: 414, code 10030, the key's message.
#[tokio::test]
async fn a_list_prefix_longer_than_a_key_is_refused_as_the_key() {
    let h = Harness::new();
    let id = namespace(&h, "prefix", LimitOverrides::default());
    let long = "p".repeat(513);
    let as_key = error(&call(&h, "PUT", &format!("/{id}/values/{long}"), "v").await);
    let as_prefix = error(&call(&h, "GET", &format!("/{id}/keys?prefix={long}"), "").await);
    assert_eq!(as_prefix, (414, 10030, as_key.2.clone()));
    assert_eq!(as_key.0, 414);
    let fits = call(
        &h,
        "GET",
        &format!("/{id}/keys?prefix={}", "p".repeat(512)),
        "",
    )
    .await;
    assert_eq!(result(&fits), json!([]));
}

/// Expiry messages quote the namespace's own minimum TTL.
#[tokio::test]
async fn expiry_errors_quote_the_namespace_minimum_ttl() {
    let h = Harness::new();
    let id = namespace(
        &h,
        "short-ttl",
        LimitOverrides {
            min_ttl_secs: Some(100),
            ..LimitOverrides::default()
        },
    );
    let put = |query: String| {
        let h = &h;
        let path = format!("/{id}/values/k?{query}");
        async move { call(h, "PUT", &path, "v").await }
    };
    let past = now_secs() - 1000;
    assert_eq!(
        error(&put(format!("expiration={past}")).await),
        (400, 10033, format!("Invalid expiration of {past}. Please specify integer greater than the current number of seconds since the UNIX epoch."))
    );
    let soon = now_secs() + 50;
    assert_eq!(
        error(&put(format!("expiration={soon}")).await),
        (400, 10033, format!("Invalid expiration of {soon}. Expiration times must be at least 100 seconds in the future."))
    );
    assert_eq!(
        error(&put("expiration_ttl=99".into()).await),
        (
            400,
            10034,
            "Invalid expiration_ttl of 99. Expiration TTL must be at least 100.".into()
        )
    );
    assert_eq!(
        result(&put("expiration_ttl=100&expiration=1".into()).await),
        json!({}),
        "the TTL wins"
    );
}

/// A raised value limit takes the larger value (raw and multipart); a lowered one refuses with its
/// own number, whether the body declares its length or not.
#[tokio::test]
async fn value_bodies_are_capped_by_the_namespace_value_limit() {
    let h = Harness::new();
    let mib = 1024 * 1024;
    let raised = namespace(
        &h,
        "raised",
        LimitOverrides {
            max_value_bytes: Some(26 * mib),
            ..LimitOverrides::default()
        },
    );
    let big = vec![b'x'; 25 * mib as usize + 1];
    assert_eq!(
        result(&call(&h, "PUT", &format!("/{raised}/values/raw"), big.clone()).await),
        json!({})
    );
    let (headers, body) = multipart(&big, Some("{}"));
    assert_eq!(
        result(&call_with(&h, "PUT", &format!("/{raised}/values/mp"), &headers, body).await),
        json!({})
    );
    let over = vec![b'x'; 26 * mib as usize + 1];
    let refused = call(&h, "PUT", &format!("/{raised}/values/over"), over).await;
    assert_eq!(
        error(&refused),
        (
            413,
            10024,
            format!(
                "Value length of {} exceeds limit of {}.",
                26 * mib + 1,
                26 * mib
            )
        )
    );

    let lowered = namespace(
        &h,
        "lowered",
        LimitOverrides {
            max_value_bytes: Some(10),
            ..LimitOverrides::default()
        },
    );
    let expected = (
        413,
        10024,
        "Value length of 11 exceeds limit of 10.".to_string(),
    );
    let path = format!("/{lowered}/values/k");
    assert_eq!(
        error(&call(&h, "PUT", &path, "x".repeat(11)).await),
        expected
    );
    let declared = vec![("content-length", "11".to_string())];
    assert_eq!(
        error(&call_with(&h, "PUT", &path, &declared, "x".repeat(11)).await),
        expected
    );
    let (headers, body) = multipart(&[b'x'; 11], None);
    assert_eq!(
        error(&call_with(&h, "PUT", &path, &headers, body).await),
        expected
    );
    assert_eq!(
        result(&call(&h, "PUT", &path, "x".repeat(10)).await),
        json!({})
    );
}

/// Bulk bodies are capped by the namespace's batch bound, and refused in the batch rule's words.
#[tokio::test]
async fn bulk_bodies_are_capped_by_the_namespace_batch_limit() {
    let h = Harness::new();
    let lowered = namespace(
        &h,
        "small-batches",
        LimitOverrides {
            max_batch_bytes: Some(40),
            ..LimitOverrides::default()
        },
    );
    let body = json!([{"key": "k", "value": "x".repeat(40)}]).to_string();
    let refused = call(&h, "PUT", &format!("/{lowered}/bulk"), body.clone()).await;
    let length = body.len();
    assert_eq!(
        error(&refused),
        (
            413,
            10024,
            format!("bulk put: 'request of {length} bytes exceeds the limit of 40 bytes'")
        )
    );
    let keys = json!(["k".repeat(50)]).to_string();
    let refused = call(&h, "POST", &format!("/{lowered}/bulk/delete"), keys.clone()).await;
    assert_eq!(
        error(&refused).2,
        format!(
            "bulk delete: 'request of {} bytes exceeds the limit of 40 bytes'",
            keys.len()
        )
    );
    let fits = call(
        &h,
        "PUT",
        &format!("/{lowered}/bulk"),
        r#"[{"key":"k","value":"v"}]"#,
    )
    .await;
    assert_eq!(result(&fits)["successful_key_count"], 1);

    let raised = namespace(
        &h,
        "big-batches",
        LimitOverrides {
            max_batch_bytes: Some(200 * 1024 * 1024),
            max_value_bytes: Some(150 * 1024 * 1024),
            ..LimitOverrides::default()
        },
    );
    let declared = vec![("content-length", (150 * 1024 * 1024).to_string())];
    let small_body = r#"[{"key":"k","value":"v"}]"#;
    // The declared length alone decides the cap: over the profile's 100 MiB, within this namespace's.
    let answer = call_with(&h, "PUT", &format!("/{raised}/bulk"), &declared, small_body).await;
    assert_ne!(
        answer.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        answer.text()
    );
}

/// `edgekv kv export` writes each entry as the bulk item that writes it back.
#[test]
fn an_entry_becomes_the_bulk_item_that_writes_it_back() {
    let h = Harness::new();
    let id = namespace(&h, "export", LimitOverrides::default());
    let at = now_secs() + 3600;
    let item: Item = serde_json::from_value(json!({"key": "bin", "value": "AP8=", "base64": true, "expiration": at as f64 + 0.5, "metadata": {"m": 1}})).unwrap();
    let put: Put = item.into_put().unwrap();
    h.store.put(&id.parse().unwrap(), put).unwrap();
    let entry = h.store.get(&id.parse().unwrap(), "bin").unwrap();
    assert_eq!(
        serde_json::to_value(Item::from_entry(entry)).unwrap(),
        json!({"key": "bin", "value": "AP8=", "base64": true, "expiration": at, "metadata": {"m": 1}})
    );
}

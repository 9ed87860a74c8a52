//! The data browser's API in process: each route's success shape and hardened headers, the page
//! on a listener of its own, store errors and the rules an edit can break answered as
//! `{"error": kind, "message"}`, and the edit body cap and page size taken from the namespace's
//! limits (raised and lowered overrides). Every rule's kind is checked by the unit tests of
//! `browser::api`; tests/test_browser.py drives the page in Chromium.

mod common;

use common::{Answer, Harness};
use edgekv_api::Surfaces;
use edgekv_store::{
    LimitOverrides, NamespaceStatus, NamespaceUpdate, NewNamespace, Profile, Put, Uuid,
};
use hyper::StatusCode;
use serde_json::{json, Value};

const API: &str = "/_edgekv/api/namespaces";

fn bearer() -> Vec<(&'static str, String)> {
    vec![("authorization", "Bearer right-token".to_string())]
}

/// The headers of a browser write, with `extra`.
fn write(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut headers = bearer();
    headers.push(("x-edgekv-browser", "1".to_string()));
    headers.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    headers
}

const CREATE: &[(&str, &str)] = &[("if-none-match", "*"), ("content-type", "application/json")];

fn namespace(h: &Harness, name: &str, profile: Profile, overrides: LimitOverrides) -> Uuid {
    let new = NewNamespace {
        overrides,
        ..NewNamespace::new(name, profile)
    };
    h.store.create_namespace(new).unwrap().id
}

fn value(id: &Uuid, key: &str) -> String {
    format!("{API}/{id}/values/{key}")
}

async fn create(h: &Harness, id: &Uuid, key: &str, edit: Value) -> Answer {
    h.call("PUT", &value(id, key), &write(CREATE), edit.to_string())
        .await
}

/// Every browser answer forbids framing, sniffing, other origins and caching.
fn assert_hardened(answer: &Answer) {
    let header = |name: &str| answer.headers[name].to_str().unwrap().to_string();
    assert!(header("content-security-policy").contains("frame-ancestors 'none'"));
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(header("cross-origin-resource-policy"), "same-origin");
    assert_eq!(header("cache-control"), "no-store");
}

/// Status and `error` kind of a browser answer, after checking its shape.
fn failure(answer: &Answer) -> (u16, String) {
    assert_hardened(answer);
    assert_eq!(answer.headers["content-type"], "application/json");
    let body = answer.json();
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    (
        answer.status.as_u16(),
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn each_route_answers_its_shape_with_hardened_headers() {
    let h = Harness::new();
    let id = namespace(&h, "browse", Profile::Cloudflare, LimitOverrides::default());
    let edit = json!({"value": "hello", "encoding": "text", "metadata": {"a": 1},
                      "content_type": "text/plain"});
    let created = create(&h, &id, "greeting", edit).await;
    assert_hardened(&created);
    assert_eq!(created.status, StatusCode::CREATED);
    let etag = created.json()["etag"]
        .as_str()
        .expect("an etag")
        .to_string();
    assert_eq!(created.json()["created"], true);

    let listed = h.call("GET", API, &bearer(), "").await;
    assert_hardened(&listed);
    assert_eq!(listed.headers["content-type"], "application/json");
    let listed = listed.json();
    let described = &listed["namespaces"][0];
    assert_eq!(
        (
            described["name"].as_str(),
            described["profile"].as_str(),
            described["item_count"].as_u64()
        ),
        (Some("browse"), Some("cloudflare"), Some(1))
    );

    let keys = h
        .call("GET", &format!("{API}/{id}/keys"), &bearer(), "")
        .await;
    assert_hardened(&keys);
    let keys = keys.json();
    assert_eq!(
        (
            keys["keys"][0]["name"].as_str(),
            keys["keys"][0]["size"].as_u64()
        ),
        (Some("greeting"), Some(5))
    );
    assert_eq!(keys["keys"][0]["has_metadata"], true);
    assert_eq!(keys["cursor"], Value::Null);

    let entry = h.call("GET", &value(&id, "greeting"), &bearer(), "").await;
    assert_hardened(&entry);
    let entry = entry.json();
    assert_eq!(
        (
            entry["text"].as_str(),
            entry["value_base64"].as_str(),
            entry["content_type"].as_str()
        ),
        (Some("hello"), Some("aGVsbG8="), Some("text/plain"))
    );
    assert_eq!(
        (entry["metadata"].clone(), entry["etag"].as_str()),
        (json!({"a": 1}), Some(etag.as_str()))
    );

    let edit = json!({"value": "aGk=", "encoding": "base64"}).to_string();
    let edited = h
        .call(
            "PUT",
            &value(&id, "greeting"),
            &write(&[("if-match", &etag)]),
            edit,
        )
        .await;
    assert_eq!(
        (edited.status, edited.json()["created"].clone()),
        (StatusCode::OK, json!(false))
    );
    let etag = edited.json()["etag"].as_str().unwrap().to_string();
    let deleted = h
        .call(
            "DELETE",
            &value(&id, "greeting"),
            &write(&[("if-match", &etag)]),
            "",
        )
        .await;
    assert_hardened(&deleted);
    assert_eq!(
        (deleted.status, deleted.json()),
        (StatusCode::OK, json!({"deleted": true}))
    );
}

#[tokio::test]
async fn the_page_is_served_on_its_own_listener_under_its_policy() {
    let h = Harness::serving(Surfaces::Browser);
    let page = h.call("GET", "/_edgekv/", &bearer(), "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers["content-type"], "text/html; charset=utf-8");
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert!(page.text().contains("<script>"));
    assert_eq!(page.headers["x-frame-options"], "DENY");
}

#[tokio::test]
async fn store_errors_name_their_kind() {
    let h = Harness::new();
    let id = namespace(&h, "errors", Profile::Cloudflare, LimitOverrides::default());
    let unknown = h
        .call("GET", &format!("{API}/nope/keys"), &bearer(), "")
        .await;
    assert_eq!(failure(&unknown), (404, "no-such-namespace".into()));
    let missing = h.call("GET", &value(&id, "missing"), &bearer(), "").await;
    assert_eq!(failure(&missing), (404, "not-found".into()));
    let bad_cursor = h
        .call(
            "GET",
            &format!("{API}/{id}/keys?cursor=%21%21"),
            &bearer(),
            "",
        )
        .await;
    assert_eq!(failure(&bad_cursor), (400, "invalid-cursor".into()));

    create(&h, &id, "k", json!({"value": "v"})).await;
    let edit = json!({"value": "w"}).to_string();
    let stale = h
        .call(
            "PUT",
            &value(&id, "k"),
            &write(&[("if-match", "stale")]),
            edit.clone(),
        )
        .await;
    assert_eq!(failure(&stale), (412, "conflict".into()));
    assert!(stale.json()["current_etag"].is_string());
    let unconditional = h
        .call("PUT", &value(&id, "k"), &write(&[]), edit.clone())
        .await;
    assert_eq!(
        failure(&unconditional),
        (428, "precondition-required".into())
    );
    // A script's Bearer write needs no guard (a browser never attaches a Bearer token by itself):
    // it reaches the precondition check.
    let unguarded = h.call("PUT", &value(&id, "k"), &bearer(), edit).await;
    assert_eq!(failure(&unguarded), (428, "precondition-required".into()));

    let pending = namespace(
        &h,
        "pending",
        Profile::Cloudflare,
        LimitOverrides::default(),
    );
    let update = NamespaceUpdate {
        status: Some(NamespaceStatus::Pending),
        ..NamespaceUpdate::default()
    };
    h.store.update_namespace(&pending, update).unwrap();
    let not_ready = h
        .call("GET", &format!("{API}/{pending}/keys"), &bearer(), "")
        .await;
    assert_eq!(failure(&not_ready), (409, "namespace-not-ready".into()));
}

/// The rules an edit or a listing can break, each with its status and kind, and nothing written.
#[tokio::test]
async fn rules_an_edit_can_break_name_their_kind() {
    let h = Harness::new();
    let cloudflare = namespace(&h, "cf", Profile::Cloudflare, LimitOverrides::default());
    let telnyx = namespace(&h, "tx", Profile::Telnyx, LimitOverrides::default());
    let cloudfront = namespace(
        &h,
        "cfr",
        Profile::Cloudfront,
        LimitOverrides {
            max_store_bytes: Some(10),
            ..LimitOverrides::default()
        },
    );
    let cases = [
        (
            "ContentType",
            create(
                &h,
                &cloudflare,
                "ct",
                json!({"value": "v", "content_type": "a".repeat(300)}),
            )
            .await,
            400,
            "invalid-content-type",
        ),
        (
            "ContentType (control)",
            create(
                &h,
                &cloudflare,
                "cc",
                json!({"value": "v", "content_type": "text/plain\r\nx: y"}),
            )
            .await,
            400,
            "invalid-content-type",
        ),
        (
            "KeyCharset",
            create(&h, &telnyx, "bad:key", json!({"value": "v"})).await,
            400,
            "invalid-key",
        ),
        (
            "ValueTooLarge",
            create(&h, &cloudfront, "big", json!({"value": "x".repeat(1025)})).await,
            413,
            "value-too-large",
        ),
        (
            "MetadataTooLarge",
            create(
                &h,
                &cloudflare,
                "md",
                json!({"value": "v", "metadata": {"m": "x".repeat(1100)}}),
            )
            .await,
            413,
            "metadata-too-large",
        ),
        (
            "ExpirationInPast",
            create(
                &h,
                &cloudflare,
                "old",
                json!({"value": "v", "expires_at_ms": 1000}),
            )
            .await,
            400,
            "invalid-expiration",
        ),
        (
            "StoreFull",
            create(&h, &cloudfront, "full", json!({"value": "0123456789"})).await,
            413,
            "quota-exceeded",
        ),
        (
            "ListLimit",
            h.call(
                "GET",
                &format!("{API}/{cloudflare}/keys?limit=0"),
                &bearer(),
                "",
            )
            .await,
            400,
            "invalid-request",
        ),
    ];
    for (rule, answer, status, kind) in &cases {
        assert_eq!(failure(answer), (*status, kind.to_string()), "{rule}");
    }
    assert_eq!(
        cases[0].1.json()["message"],
        "The content type is not a header value of at most 256 bytes of visible ASCII (it is 300 bytes)"
    );
    for (id, key) in [
        (cloudflare, "ct"),
        (cloudflare, "cc"),
        (cloudflare, "md"),
        (cloudfront, "full"),
    ] {
        let got = h.call("GET", &value(&id, key), &bearer(), "").await;
        assert_eq!(got.status, StatusCode::NOT_FOUND, "{key} was not stored");
    }
}

/// The edit body cap comes from the namespace's value limit: a lowered limit refuses a smaller
/// body quoting its own number, a raised one takes a value whose edit is larger than the profile's.
#[tokio::test]
async fn the_edit_body_cap_follows_the_namespace_value_limit() {
    let h = Harness::new();
    let lowered = namespace(
        &h,
        "lowered",
        Profile::Cloudflare,
        LimitOverrides {
            max_value_bytes: Some(1000),
            ..LimitOverrides::default()
        },
    );
    // base64 of 1000 bytes, the metadata and content type limits, and the framing allowance.
    let cap = 1336 + 1024 + 256 + 64 * 1024;
    let too_large = create(&h, &lowered, "k", json!({"value": "x".repeat(cap)})).await;
    assert_eq!(failure(&too_large), (413, "too-large".into()));
    let message = too_large.json()["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(&format!("over {cap} bytes")) && message.contains("up to 1000 bytes"),
        "{message}"
    );
    let value_too_large = create(&h, &lowered, "k", json!({"value": "x".repeat(1001)})).await;
    assert_eq!(failure(&value_too_large), (413, "value-too-large".into()));
    assert_eq!(
        value_too_large.json()["message"],
        "The value is 1001 bytes, over the limit of 1000 bytes"
    );

    let raised = namespace(
        &h,
        "raised",
        Profile::Cloudflare,
        LimitOverrides {
            max_value_bytes: Some(30 << 20),
            ..LimitOverrides::default()
        },
    );
    let big = vec![b'x'; 28 << 20];
    let encoded = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &big);
    assert!(encoded.len() > 36 << 20, "larger than a profile-sized edit");
    let edit = json!({"value": encoded, "encoding": "base64"});
    assert_eq!(
        create(&h, &raised, "big", edit).await.status,
        StatusCode::CREATED
    );
}

/// With no `limit`, a page is the browser's screenful; any page is at most the namespace's
/// largest (CloudFront stores list at most 50, one lowered in its overrides fewer).
#[tokio::test]
async fn a_page_is_at_most_the_namespace_largest() {
    let h = Harness::new();
    let cloudfront = namespace(&h, "cfr", Profile::Cloudfront, LimitOverrides::default());
    let cloudflare = namespace(&h, "cf", Profile::Cloudflare, LimitOverrides::default());
    let lowered = namespace(
        &h,
        "lowered",
        Profile::Cloudflare,
        LimitOverrides {
            max_list_limit: Some(20),
            ..LimitOverrides::default()
        },
    );
    for i in 0..120 {
        for id in [&cloudfront, &cloudflare, &lowered] {
            h.store.put(id, Put::new(format!("k{i:03}"), "v")).unwrap();
        }
    }
    assert_eq!(page(&h, cloudfront, "").await, 50);
    assert_eq!(page(&h, cloudflare, "").await, 100);
    assert_eq!(page(&h, cloudflare, "?limit=7").await, 7);
    // What the page itself asks for.
    assert_eq!(page(&h, lowered, "?limit=50").await, 20);
}

/// How many keys a listing of `id` with `query` answers.
async fn page(h: &Harness, id: Uuid, query: &str) -> usize {
    let target = format!("{API}/{id}/keys{query}");
    let answer = h.call("GET", &target, &bearer(), "").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.json()["keys"].as_array().map_or(0, Vec::len)
}

//! The Telnyx Edge Compute KV dialect in process: every route's success shape as the API documents
//! it (and the captures in the reference show), every store error and every rule a Telnyx request
//! can break answered in Telnyx's error shape with its status, code and words, and body and page
//! limits taken from the namespace (raised and lowered overrides). The rules no Telnyx request can
//! reach are mapped by the unit tests of `telnyx::errors`; the SDK suites in `tests/` stay the
//! acceptance layer.

mod common;

use common::{Answer, Harness};
use edgekv_store::{LimitOverrides, NamespaceStatus, NamespaceUpdate, NewNamespace, Profile, Uuid};
use hyper::StatusCode;
use serde_json::{json, Value};

const KVS: &str = "/v2/storage/kvs";

fn bearer() -> Vec<(&'static str, String)> {
    vec![("authorization", "Bearer right-token".to_string())]
}

fn with(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut headers = bearer();
    headers.extend(extra.iter().map(|(k, v)| (*k, v.to_string())));
    headers
}

async fn get(h: &Harness, target: &str) -> Answer {
    h.call("GET", target, &bearer(), "").await
}

async fn put(h: &Harness, target: &str, value: impl Into<bytes::Bytes>) -> Answer {
    h.call("PUT", target, &bearer(), value).await
}

/// A namespace of the `telnyx` profile, made in the store with these overrides; its id.
fn namespace(h: &Harness, name: &str, overrides: LimitOverrides) -> Uuid {
    let new = NewNamespace {
        overrides,
        ..NewNamespace::new(name, Profile::Telnyx)
    };
    h.store.create_namespace(new).unwrap().id
}

fn keys(id: &Uuid) -> String {
    format!("{KVS}/{id}/keys")
}

/// The one error of a Telnyx error answer, after checking the shape around it.
fn error(answer: &Answer) -> Value {
    assert_eq!(answer.headers["content-type"], "application/json");
    let body = answer.json();
    let errors = body["errors"].as_array().expect("an errors array");
    assert_eq!(errors.len(), 1, "{body}");
    let error = errors[0].clone();
    let code = error["code"].as_str().expect("a string code");
    assert_eq!(
        error["meta"]["url"],
        format!("https://docs.telnyx.com/api/errors/{code}")
    );
    error
}

/// Status, code and detail of an error answer.
fn refusal(answer: &Answer) -> (u16, String, String) {
    let error = error(answer);
    (
        answer.status.as_u16(),
        error["code"].as_str().unwrap_or_default().to_string(),
        error["detail"].as_str().unwrap_or_default().to_string(),
    )
}

fn is_timestamp(value: &Value) -> bool {
    value.as_str().is_some_and(|t| {
        time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).is_ok()
            && t.ends_with('Z')
    })
}

/// `{"data": KvNamespace}` with `name` and `status`; its id.
fn namespace_record(answer: &Answer, name: &str, status: &str) -> String {
    assert_eq!(answer.headers["content-type"], "application/json");
    let data = &answer.json()["data"];
    assert_eq!(data["record_type"], "storage_kv");
    assert_eq!(
        (data["name"].as_str(), data["status"].as_str()),
        (Some(name), Some(status))
    );
    assert!(
        is_timestamp(&data["created_at"]) && is_timestamp(&data["updated_at"]),
        "{data}"
    );
    let id = data["id"].as_str().expect("an id").to_string();
    assert_eq!(Uuid::try_parse(&id).unwrap().hyphenated().to_string(), id);
    id
}

#[tokio::test]
async fn namespace_routes_answer_the_documented_shapes() {
    let h = Harness::new();
    let body = json!({"name": "first"}).to_string();
    let created = h.call("POST", KVS, &bearer(), body).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let id = namespace_record(&created, "first", "provision_ok");
    let got = get(&h, &format!("{KVS}/{id}")).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(namespace_record(&got, "first", "provision_ok"), id);

    for name in ["second", "third"] {
        let body = json!({ "name": name }).to_string();
        assert_eq!(
            h.call("POST", KVS, &bearer(), body).await.status,
            StatusCode::CREATED
        );
    }
    let page = get(&h, &format!("{KVS}?page%5Bsize%5D=2&page%5Bnumber%5D=2")).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = page.json();
    let names: Vec<_> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].clone())
        .collect();
    assert_eq!(names, [json!("third")]);
    assert_eq!(
        page["meta"],
        json!({"page_number": 2, "page_size": 2, "total_pages": 2, "total_results": 3})
    );
    let past = get(&h, &format!("{KVS}?page[size]=2&page[number]=9"))
        .await
        .json();
    assert_eq!(past["data"], json!([]));
    let capped = get(&h, &format!("{KVS}?page[size]=1000")).await.json();
    assert_eq!(
        (
            capped["meta"]["page_size"].as_u64(),
            capped["data"].as_array().map(Vec::len)
        ),
        (Some(250), Some(3))
    );
    let default = get(&h, KVS).await.json();
    assert_eq!(default["meta"]["page_size"], 20);

    let deleted = h
        .call("DELETE", &format!("{KVS}/{id}"), &bearer(), "")
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    namespace_record(&deleted, "first", "deleting");
    let gone = get(&h, &format!("{KVS}/{id}")).await;
    assert_eq!(refusal(&gone).0, 404);
}

#[tokio::test]
async fn key_routes_answer_the_documented_shapes() {
    let h = Harness::new();
    let id = namespace(&h, "keys", LimitOverrides::default());
    let key = format!("{}/doc.json", keys(&id));
    let json_type = [("content-type", "application/json")];
    let created = h.call("PUT", &key, &with(&json_type), r#"{"a":1}"#).await;
    assert_eq!(
        (created.status, created.body.len()),
        (StatusCode::CREATED, 0)
    );
    let updated = h.call("PUT", &key, &with(&json_type), r#"{"a":2}"#).await;
    assert_eq!((updated.status, updated.body.len()), (StatusCode::OK, 0));
    let got = h
        .call("GET", &key, &with(&[("accept", "text/html")]), "")
        .await;
    assert_eq!(
        (got.status, got.text().as_str()),
        (StatusCode::OK, r#"{"a":2}"#)
    );
    assert_eq!(got.headers["content-type"], "application/json");

    // No Content-Type (or an empty one) is stored as the documented default; slashes may come raw.
    put(&h, &format!("{}/bin/raw", keys(&id)), vec![0u8, 255]).await;
    let got = get(&h, &format!("{}/bin%2Fraw", keys(&id))).await;
    assert_eq!(got.body.as_ref(), [0u8, 255]);
    assert_eq!(got.headers["content-type"], "application/octet-stream");

    let listed = get(&h, &format!("{}?limit=1", keys(&id))).await;
    assert_eq!(listed.headers["content-type"], "application/json");
    let listed = listed.json();
    assert_eq!(listed["record_type"], "storage_kv_key");
    let first = &listed["data"][0];
    assert_eq!(
        (first["key"].as_str(), first["size_bytes"].as_u64()),
        (Some("bin/raw"), Some(2))
    );
    assert!(is_timestamp(&first["updated_at"]), "{first}");
    assert_eq!(listed["meta"]["has_more"], true);
    let cursor = listed["meta"]["cursor"]
        .as_str()
        .expect("a cursor")
        .to_string();
    let last = get(&h, &format!("{}?limit=1&cursor={cursor}", keys(&id)))
        .await
        .json();
    assert_eq!(last["data"][0]["key"], "doc.json");
    assert_eq!(
        last["meta"],
        json!({"has_more": false}),
        "no cursor on the last page"
    );

    for _ in 0..2 {
        let deleted = h.call("DELETE", &key, &bearer(), "").await;
        assert_eq!(
            (deleted.status, deleted.body.len()),
            (StatusCode::OK, 0),
            "idempotent"
        );
    }
    let missing = get(&h, &key).await;
    assert_eq!(
        refusal(&missing),
        (404, "10005".into(), "Key not found".into())
    );
    assert_eq!(error(&missing)["source"], json!({"parameter": "key"}));
}

#[tokio::test]
async fn store_errors_answer_in_the_telnyx_shape() {
    let h = Harness::new();
    let unknown = get(&h, &format!("{KVS}/{}", Uuid::new_v4())).await;
    assert_eq!(
        refusal(&unknown),
        (404, "10005".into(), "KV namespace not found".into())
    );
    let unknown_keys = put(&h, &format!("{}/k", keys(&Uuid::new_v4())), "v").await;
    assert_eq!(refusal(&unknown_keys).0, 404);
    let not_uuid = get(&h, &format!("{KVS}/not-a-uuid")).await;
    assert_eq!(
        (not_uuid.status.as_u16(), error(&not_uuid)["code"].as_str()),
        (400, Some("10006"))
    );

    namespace(&h, "taken", LimitOverrides::default());
    let body = json!({"name": "taken"}).to_string();
    let duplicate = h.call("POST", KVS, &bearer(), body).await;
    assert_eq!(
        (
            duplicate.status.as_u16(),
            error(&duplicate)["code"].as_str()
        ),
        (409, Some("10012"))
    );
    assert_eq!(duplicate.headers["x-should-retry"], "false");

    let pending = namespace(&h, "pending", LimitOverrides::default());
    let update = NamespaceUpdate {
        status: Some(NamespaceStatus::Pending),
        ..NamespaceUpdate::default()
    };
    h.store.update_namespace(&pending, update).unwrap();
    let not_ready = put(&h, &format!("{}/k", keys(&pending)), "v").await;
    assert_eq!(refusal(&not_ready).0, 409);
    assert!(
        !not_ready.headers.contains_key("x-should-retry"),
        "a not-ready namespace may become ready: the SDKs retry"
    );

    let id = namespace(&h, "cursor", LimitOverrides::default());
    let bad_cursor = get(&h, &format!("{}?cursor=%21%21", keys(&id))).await;
    assert_eq!(
        refusal(&bad_cursor),
        (400, "10015".into(), "Invalid cursor".into())
    );

    let no_route = h.call("PATCH", KVS, &bearer(), "").await;
    assert_eq!(refusal(&no_route).0, 404);
    let bad_json = h.call("POST", KVS, &bearer(), "{").await;
    assert_eq!(refusal(&bad_json).0, 400);
}

/// Each rule a Telnyx request can break, with the status, code and words the API gives it.
#[tokio::test]
async fn every_reachable_rule_answers_with_its_status_code_and_words() {
    let h = Harness::new();
    let id = namespace(&h, "rules", LimitOverrides::default());
    let no_ttl = h
        .store
        .create_namespace(NewNamespace {
            ttl_enabled: false,
            ..NewNamespace::new("no-ttl", Profile::Telnyx)
        })
        .unwrap()
        .id;
    let key = |k: &str| format!("{}/{k}", keys(&id));
    let long_key = "k".repeat(257);
    let cases: Vec<(&str, Answer, u16, &str)> = vec![
        ("KeyCharset", put(&h, &key("bad:key"), "v").await, 400,
         "Invalid key: The key has a character outside [-/_=.a-zA-Z0-9]"),
        ("KeyReserved", put(&h, &key("_reserved"), "v").await, 400,
         "Invalid key: Keys starting with `_` are reserved"),
        ("KeyTooLong", put(&h, &key(&long_key), "v").await, 400,
         "Invalid key: The key is 257 characters long, over the limit of 256"),
        ("KeyTooLong (prefix)", get(&h, &format!("{}?prefix={long_key}", keys(&id))).await, 400,
         "Invalid key: The key is 257 characters long, over the limit of 256"),
        ("ValueTooLarge", put(&h, &key("big"), vec![b'x'; 1024 * 1024 + 1]).await, 413,
         "The value is 1048577 bytes, over the limit of 1048576 bytes"),
        ("TtlTooShort", put(&h, &format!("{}?ttl_secs=0", key("t")), "v").await, 422,
         "ttl_secs must be at least 1, got 0"),
        ("TtlTooLong", put(&h, &format!("{}?ttl_secs=9223372037", key("t")), "v").await, 422,
         "ttl_secs must be at most 9223372036, got 9223372037"),
        ("ExpiryUnsupported", put(&h, &format!("{}/k?ttl_secs=60", keys(&no_ttl)), "v").await, 409,
         "ttl_secs was set on a namespace provisioned without TTL support"),
        ("ListLimit", get(&h, &format!("{}?limit=0", keys(&id))).await, 400,
         "The list limit 0 is outside 1 to 1000"),
        ("NamespaceName", h.call("POST", KVS, &bearer(), r#"{"name":"Bad_Name"}"#).await, 400,
         "name is required and may contain lowercase letters, numbers, and hyphens only (1 to 255 characters)"),
        ("ContentType", h.call("PUT", &key("ct"), &with(&[("content-type", &"a".repeat(300))]), "v").await, 400,
         "Invalid Content-Type: The content type is not a header value of at most 256 bytes of visible ASCII (it is 300 bytes)"),
    ];
    for (rule, answer, status, detail) in &cases {
        let (got_status, code, got_detail) = refusal(answer);
        assert_eq!(
            (got_status, code.as_str(), got_detail.as_str()),
            (*status, "10015", *detail),
            "{rule}"
        );
    }
    let sources: Vec<Value> = cases
        .iter()
        .map(|(_, answer, ..)| error(answer)["source"].clone())
        .collect();
    assert_eq!(sources[0], json!({"parameter": "key"}));
    assert_eq!(sources[5], json!({"parameter": "ttl_secs"}));
    assert_eq!(sources[9], json!({"pointer": "/name"}));
    assert_eq!(sources[10], json!({"header": "Content-Type"}));
    assert_eq!(cases[7].1.headers["x-should-retry"], "false");
    for k in ["big", "t", "ct"] {
        assert_eq!(
            get(&h, &key(k)).await.status,
            StatusCode::NOT_FOUND,
            "{k} was not stored"
        );
    }
}

/// A content type that is not visible ASCII is refused as the rule says, not replaced by the
/// default and stored.
#[tokio::test]
async fn a_content_type_that_is_not_visible_ascii_is_refused_not_replaced() {
    let h = Harness::new();
    let id = namespace(&h, "ascii", LimitOverrides::default());
    let target = format!("{}/k", keys(&id));
    let answer = h
        .call(
            "PUT",
            &target,
            &with(&[("content-type", "text/plain; charset=é")]),
            "v",
        )
        .await;
    assert_eq!(refusal(&answer).0, 400);
    assert_eq!(error(&answer)["source"], json!({"header": "Content-Type"}));
    assert_eq!(get(&h, &target).await.status, StatusCode::NOT_FOUND);
}

/// The value limit and the largest page are the namespace's, raised or lowered in its overrides,
/// and each refusal quotes the limit that applied.
#[tokio::test]
async fn body_and_page_limits_follow_the_namespace_overrides() {
    let h = Harness::new();
    let raised = namespace(
        &h,
        "raised",
        LimitOverrides {
            max_value_bytes: Some(2 * 1024 * 1024),
            ..LimitOverrides::default()
        },
    );
    let over_default = vec![b'x'; 1024 * 1024 + 1];
    assert_eq!(
        put(&h, &format!("{}/k", keys(&raised)), over_default)
            .await
            .status,
        StatusCode::CREATED
    );
    let over_raised = put(
        &h,
        &format!("{}/k", keys(&raised)),
        vec![b'x'; 2 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(
        refusal(&over_raised),
        (
            413,
            "10015".into(),
            "The value is 2097153 bytes, over the limit of 2097152 bytes".into()
        )
    );

    let lowered = namespace(
        &h,
        "lowered",
        LimitOverrides {
            max_value_bytes: Some(1000),
            max_list_limit: Some(2),
            ..LimitOverrides::default()
        },
    );
    let target = format!("{}/k", keys(&lowered));
    assert_eq!(
        put(&h, &target, vec![b'x'; 1000]).await.status,
        StatusCode::CREATED
    );
    // Declared too large: refused before the body is read, quoting the declared length.
    let declared = h
        .call(
            "PUT",
            &target,
            &with(&[("content-length", "5000")]),
            vec![b'y'; 5000],
        )
        .await;
    assert_eq!(
        refusal(&declared),
        (
            413,
            "10015".into(),
            "The value is 5000 bytes, over the limit of 1000 bytes".into()
        )
    );
    assert_eq!(
        get(&h, &target).await.body.as_ref(),
        vec![b'x'; 1000],
        "the refused put wrote nothing"
    );

    for k in ["a", "b", "c"] {
        put(&h, &format!("{}/{k}", keys(&lowered)), "v").await;
    }
    let page = get(&h, &format!("{}?limit=1000", keys(&lowered)))
        .await
        .json();
    assert_eq!(
        (
            page["data"].as_array().map(Vec::len),
            &page["meta"]["has_more"]
        ),
        (Some(2), &json!(true))
    );
    let default = get(&h, &keys(&lowered)).await.json();
    assert_eq!(default["data"].as_array().map(Vec::len), Some(2));
}

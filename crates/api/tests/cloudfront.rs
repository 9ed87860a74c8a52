//! The CloudFront KeyValueStore dialect in process, both planes, every request signed with SigV4
//! (`cloudfront/sign.rs`) with the harness's credentials: each route's success shape (status,
//! the headers boto3 reads, the body members the API documents, as in the captures of
//! /work/shared/reference), each store error and each rule the API can reach mapped to its
//! status, error type and message, and the body caps and list bounds read from a store's own
//! limits (raised and lowered in its overrides) under the pre-auth ceiling.

mod common;
#[path = "cloudfront/sign.rs"]
mod sign;

use common::{credentials, Answer, Harness};
use edgekv_store::{LimitOverrides, NamespaceStatus, NamespaceUpdate, NewNamespace, Profile, Uuid};
use hyper::StatusCode;
use serde_json::{json, Value};

/// The account the harness's ARNs are in.
const ACCOUNT: &str = "123456789012";
/// The pre-auth ceiling on a body: 4 MiB.
const CEILING: u64 = 4 * 1024 * 1024;
/// The data plane's allowance for JSON beyond what the rules count: 1 MiB.
const FRAMING: u64 = 1024 * 1024;

/// Sends `method target` with `headers` and `body`, signed for the plane the target is on.
async fn signed(
    h: &Harness,
    method: &str,
    target: &str,
    headers: &[(&'static str, String)],
    body: impl AsRef<[u8]>,
) -> Answer {
    let c = credentials();
    let body = body.as_ref().to_vec();
    let headers = sign::sign(
        method,
        target,
        headers,
        &body,
        sign::service_of(target),
        (&c.aws_access_key_id, c.aws_secret_access_key.expose()),
        time::OffsetDateTime::now_utc(),
    );
    h.call(method, target, &headers, body).await
}

fn encoded(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

fn store_path(id: &Uuid) -> String {
    let arn = format!(
        "arn:aws:cloudfront::{ACCOUNT}:key-value-store/{}",
        id.hyphenated()
    );
    format!("/key-value-stores/{}", encoded(&arn))
}

/// A `cloudfront` store with `overrides`, and its data-plane path.
fn store(h: &Harness, name: &str, overrides: LimitOverrides) -> String {
    let new = NewNamespace {
        overrides,
        ..NewNamespace::new(name, Profile::Cloudfront)
    };
    store_path(&h.store.create_namespace(new).unwrap().id)
}

fn if_match(etag: &str) -> Vec<(&'static str, String)> {
    vec![
        ("if-match", etag.to_string()),
        ("content-type", "application/json".to_string()),
    ]
}

/// The store's current ETag, from DescribeKeyValueStore.
async fn etag(h: &Harness, path: &str) -> String {
    let answer = signed(h, "GET", path, &[], "").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text());
    answer.headers["etag"].to_str().unwrap().to_string()
}

async fn put_key(h: &Harness, path: &str, key: &str, value: &str) -> Answer {
    let etag = etag(h, path).await;
    let body = json!({ "Value": value }).to_string();
    signed(
        h,
        "PUT",
        &format!("{path}/keys/{}", encoded(key)),
        &if_match(&etag),
        body,
    )
    .await
}

async fn update_keys(h: &Harness, path: &str, body: &Value) -> Answer {
    let etag = etag(h, path).await;
    let target = format!("{path}/keys");
    signed(h, "POST", &target, &if_match(&etag), body.to_string()).await
}

/// A data-plane error's (status, `x-amzn-ErrorType`, message), checked to agree with its body.
fn data_error(answer: &Answer) -> (u16, String, String) {
    let body = answer.json();
    let kind = answer.headers["x-amzn-errortype"]
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(body["__type"], kind.as_str(), "{body}");
    let message = body["message"].as_str().unwrap().to_string();
    (answer.status.as_u16(), kind, message)
}

/// A control-plane error's (status, `<Code>`, `<Message>`).
fn control_error(answer: &Answer) -> (u16, String, String) {
    let text = answer.text();
    let between = |open: &str, close: &str| {
        let start = text.find(open).map(|i| i + open.len()).unwrap_or(0);
        let end = text[start..].find(close).map_or(start, |i| start + i);
        text[start..end].to_string()
    };
    assert!(
        text.contains("<ErrorResponse xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">"),
        "{text}"
    );
    (
        answer.status.as_u16(),
        between("<Code>", "</Code>"),
        between("<Message>", "</Message>"),
    )
}

fn owned(status: u16, kind: &str, message: &str) -> (u16, String, String) {
    (status, kind.to_string(), message.to_string())
}

fn quota(message: &str) -> (u16, String, String) {
    owned(402, "ServiceQuotaExceededException", message)
}

fn validation(message: &str) -> (u16, String, String) {
    owned(400, "ValidationException", message)
}

#[tokio::test]
async fn every_data_plane_route_answers_the_documented_shape() {
    let h = Harness::new();
    let path = store(&h, "shapes", LimitOverrides::default());

    let described = signed(&h, "GET", &path, &[], "").await;
    assert_eq!(described.status, StatusCode::OK);
    assert_eq!(described.headers["content-type"], "application/json");
    assert!(described.headers.contains_key("x-amzn-requestid"));
    let body = described.json();
    assert_eq!(
        (
            body["ItemCount"].as_u64(),
            body["TotalSizeInBytes"].as_u64()
        ),
        (Some(0), Some(0))
    );
    assert!(body["KvsARN"]
        .as_str()
        .unwrap()
        .starts_with("arn:aws:cloudfront::123456789012:key-value-store/"));
    assert!(
        body["Created"].is_f64() || body["Created"].is_u64(),
        "{body}"
    );
    assert!(
        body["LastModified"].is_number() && body["Status"] == "READY",
        "{body}"
    );
    let first_etag = described.headers["etag"].to_str().unwrap().to_string();

    // PutKey: the new ETag, the store's counts (key + value bytes).
    let put = put_key(&h, &path, "a/b c", "välue").await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text());
    assert_ne!(put.headers["etag"].to_str().unwrap(), first_etag);
    assert_eq!(
        put.json(),
        json!({"ItemCount": 1, "TotalSizeInBytes": 5 + 6})
    );

    // GetKey: the key, its value, the store's counts; no ETag.
    let got = signed(
        &h,
        "GET",
        &format!("{path}/keys/{}", encoded("a/b c")),
        &[],
        "",
    )
    .await;
    assert_eq!(got.status, StatusCode::OK);
    assert!(!got.headers.contains_key("etag"));
    assert_eq!(
        got.json(),
        json!({"Key": "a/b c", "Value": "välue", "ItemCount": 1, "TotalSizeInBytes": 11})
    );

    // UpdateKeys: puts and deletes at once.
    let puts: Vec<Value> = (0..12)
        .map(|i| json!({"Key": format!("k{i:02}"), "Value": "v"}))
        .collect();
    let updated = update_keys(
        &h,
        &path,
        &json!({"Puts": puts, "Deletes": [{"Key": "a/b c"}]}),
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert!(updated.headers.contains_key("etag"));
    assert_eq!(
        updated.json(),
        json!({"ItemCount": 12, "TotalSizeInBytes": 12 * 4})
    );

    // ListKeys: the default page of 10, then the rest from the NextToken.
    let page = signed(&h, "GET", &format!("{path}/keys"), &[], "")
        .await
        .json();
    let items = page["Items"].as_array().unwrap();
    assert_eq!(items.len(), 10);
    assert_eq!(items[0], json!({"Key": "k00", "Value": "v"}));
    let token = encoded(page["NextToken"].as_str().unwrap());
    let rest = signed(
        &h,
        "GET",
        &format!("{path}/keys?NextToken={token}&MaxResults=50"),
        &[],
        "",
    )
    .await;
    assert_eq!(
        rest.json(),
        json!({"Items": [{"Key": "k10", "Value": "v"}, {"Key": "k11", "Value": "v"}]})
    );

    // DeleteKey: the new ETag and counts.
    let etag_now = etag(&h, &path).await;
    let deleted = signed(
        &h,
        "DELETE",
        &format!("{path}/keys/k00"),
        &if_match(&etag_now),
        "",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text());
    assert_ne!(deleted.headers["etag"].to_str().unwrap(), etag_now);
    assert_eq!(
        deleted.json(),
        json!({"ItemCount": 11, "TotalSizeInBytes": 44})
    );
}

/// The text between `<tag>` and `</tag>`, the first time.
fn element(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml
        .find(&open)
        .map(|i| i + open.len())
        .unwrap_or_else(|| panic!("no {tag} in {xml}"));
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_string()
}

#[tokio::test]
async fn every_control_plane_route_answers_the_documented_shape() {
    let h = Harness::new();
    let root = "/2020-05-31/key-value-store";
    let create = |name: &str| {
        format!(
            "<CreateKeyValueStoreRequest xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">\
             <Name>{name}</Name><Comment>first &amp; best</Comment></CreateKeyValueStoreRequest>"
        )
    };

    let created = signed(&h, "POST", root, &[], create("alpha")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.headers["content-type"], "text/xml");
    assert_eq!(
        created.headers["location"],
        "/2020-05-31/key-value-store/alpha"
    );
    assert!(created.headers.contains_key("x-amz-request-id"));
    let xml = created.text();
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<KeyValueStore xmlns=\"http://cloudfront.amazonaws.com/doc/2020-05-31/\">"),
        "{xml}"
    );
    let id = element(&xml, "Id");
    assert_eq!(element(&xml, "Name"), "alpha");
    assert_eq!(element(&xml, "Comment"), "first &amp; best");
    assert_eq!(
        element(&xml, "ARN"),
        format!("arn:aws:cloudfront::{ACCOUNT}:key-value-store/{id}")
    );
    assert_eq!(element(&xml, "Status"), "READY");
    assert!(element(&xml, "LastModifiedTime").ends_with('Z'), "{xml}");
    let created_etag = created.headers["etag"].to_str().unwrap().to_string();

    let described = signed(&h, "GET", &format!("{root}/alpha"), &[], "").await;
    assert_eq!(described.status, StatusCode::OK);
    assert_eq!(described.headers["etag"].to_str().unwrap(), created_etag);
    assert_eq!(element(&described.text(), "Id"), id);

    for name in ["beta", "gamma"] {
        assert_eq!(
            signed(&h, "POST", root, &[], create(name)).await.status,
            StatusCode::CREATED
        );
    }
    let listed = signed(&h, "GET", &format!("{root}?MaxItems=2"), &[], "").await;
    assert_eq!(listed.status, StatusCode::OK);
    let xml = listed.text();
    assert!(xml.contains("<KeyValueStoreList xmlns="), "{xml}");
    assert_eq!(
        (element(&xml, "Quantity"), element(&xml, "MaxItems")),
        ("2".into(), "2".into())
    );
    assert_eq!(element(&xml, "NextMarker"), "2");
    let last = signed(&h, "GET", &format!("{root}?Marker=2"), &[], "")
        .await
        .text();
    assert_eq!(
        (element(&last, "Quantity"), element(&last, "Name")),
        ("1".into(), "gamma".into())
    );
    assert!(!last.contains("<NextMarker>"), "{last}");

    let update =
        "<UpdateKeyValueStoreRequest><Comment>second</Comment></UpdateKeyValueStoreRequest>";
    let updated = signed(
        &h,
        "PUT",
        &format!("{root}/alpha"),
        &[("if-match", created_etag)],
        update,
    )
    .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text());
    assert_eq!(element(&updated.text(), "Comment"), "second");
    let updated_etag = updated.headers["etag"].to_str().unwrap().to_string();

    let deleted = signed(
        &h,
        "DELETE",
        &format!("{root}/alpha"),
        &[("if-match", updated_etag)],
        "",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.text());
    assert!(deleted.body.is_empty());
    let gone = signed(&h, "GET", &format!("{root}/alpha"), &[], "").await;
    assert_eq!(control_error(&gone).0, 404);
}

#[tokio::test]
async fn store_errors_are_the_data_planes_types_and_messages() {
    let h = Harness::new();
    let path = store(&h, "errors", LimitOverrides::default());
    put_key(&h, &path, "present", "v").await;

    let unknown = store_path(&Uuid::new_v4());
    let answer = signed(&h, "GET", &unknown, &[], "").await;
    let arn = unknown.trim_start_matches("/key-value-stores/");
    let arn = percent_encoding::percent_decode_str(arn)
        .decode_utf8()
        .unwrap();
    assert_eq!(
        data_error(&answer),
        owned(
            404,
            "ResourceNotFoundException",
            &format!("The key value store {arn} was not found")
        )
    );

    let missing = signed(&h, "GET", &format!("{path}/keys/absent"), &[], "").await;
    assert_eq!(
        data_error(&missing),
        owned(404, "ResourceNotFoundException", "Key not found: absent")
    );
    let etag_now = etag(&h, &path).await;
    let delete_missing = signed(
        &h,
        "DELETE",
        &format!("{path}/keys/absent"),
        &if_match(&etag_now),
        "",
    )
    .await;
    assert_eq!(
        data_error(&delete_missing),
        owned(404, "ResourceNotFoundException", "Key not found: absent")
    );
    let batch_missing = update_keys(&h, &path, &json!({"Deletes": [{"Key": "absent"}]})).await;
    assert_eq!(data_error(&batch_missing).0, 404);

    let stale = signed(
        &h,
        "PUT",
        &format!("{path}/keys/k"),
        &if_match("stale"),
        r#"{"Value":"v"}"#,
    )
    .await;
    assert_eq!(
        data_error(&stale),
        owned(
            409,
            "ConflictException",
            "Pre-condition failed: If-Match does not match the current ETag"
        )
    );
    let no_if_match = signed(
        &h,
        "PUT",
        &format!("{path}/keys/k"),
        &[],
        r#"{"Value":"v"}"#,
    )
    .await;
    assert_eq!(
        data_error(&no_if_match),
        validation("The If-Match header is required")
    );
    let token = signed(
        &h,
        "GET",
        &format!("{path}/keys?NextToken=not-a-token"),
        &[],
        "",
    )
    .await;
    assert_eq!(data_error(&token), validation("Invalid NextToken"));
    let bad_json = signed(
        &h,
        "PUT",
        &format!("{path}/keys/k"),
        &if_match(&etag_now),
        "{",
    )
    .await;
    assert_eq!(data_error(&bad_json).1, "ValidationException");
    let word = signed(&h, "GET", &format!("{path}/keys?MaxResults=ten"), &[], "").await;
    assert_eq!(
        data_error(&word),
        validation("MaxResults must be a whole number, got ten")
    );

    // A store not ready is in no state for keys.
    let id = h
        .store
        .create_namespace(NewNamespace::new("pending", Profile::Cloudfront))
        .unwrap()
        .id;
    let update = NamespaceUpdate {
        status: Some(NamespaceStatus::Pending),
        ..NamespaceUpdate::default()
    };
    h.store.update_namespace(&id, update).unwrap();
    let pending = signed(&h, "GET", &format!("{}/keys", store_path(&id)), &[], "").await;
    assert_eq!(
        data_error(&pending),
        owned(
            409,
            "ConflictException",
            "Key-Value-Store was not in expected state"
        )
    );

    // A store of another profile is not a key value store.
    let other = h
        .store
        .create_namespace(NewNamespace::new("workers", Profile::Cloudflare))
        .unwrap()
        .id;
    assert_eq!(
        data_error(&signed(&h, "GET", &store_path(&other), &[], "").await).0,
        404
    );
}

/// Every rule a CloudFront request can break, with the service's words and the store's limit.
#[tokio::test]
async fn every_rule_the_data_plane_reaches_is_the_services_error() {
    let h = Harness::new();
    let path = store(&h, "rules", LimitOverrides::default());
    let put = |key: String, value: String| {
        let path = path.clone();
        let h = &h;
        async move { data_error(&put_key(h, &path, &key, &value).await) }
    };
    assert_eq!(
        put("k".repeat(513), "v".into()).await,
        quota("Limit exceeded: Maximum size of the key in a key value pair (512 bytes)")
    );
    assert_eq!(
        put("k".repeat(1025), "v".into()).await,
        validation("1 validation error detected: Value at 'key' failed to satisfy constraint: Member must have length less than or equal to 1024")
    );
    assert_eq!(
        put("k".into(), "v".repeat(1025)).await,
        quota("Limit exceeded: Maximum size of the value in a key value pair (1024 bytes)")
    );
    let empty_key = update_keys(&h, &path, &json!({"Puts": [{"Key": "", "Value": "v"}]})).await;
    assert_eq!(
        data_error(&empty_key),
        validation("1 validation error detected: Value at 'key' failed to satisfy constraint: Member must have length greater than or equal to 1")
    );
    let many: Vec<Value> = (0..51)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "v"}))
        .collect();
    assert_eq!(
        data_error(&update_keys(&h, &path, &json!({"Puts": many})).await),
        quota("Limit exceeded: Maximum number of keys in a single UpdateKeys request (50)")
    );
    let heavy: Vec<Value> = (0..50)
        .map(|i| json!({"Key": format!("k{i}"), "Value": "x".repeat(64_000)}))
        .collect();
    assert_eq!(
        data_error(&update_keys(&h, &path, &json!({"Puts": heavy})).await),
        quota(
            "Limit exceeded: Maximum payload size of a single UpdateKeys request (3145728 bytes)"
        )
    );
    for (max, words) in [
        ("51", "less than or equal to 50"),
        ("0", "greater than or equal to 1"),
    ] {
        let answer = signed(&h, "GET", &format!("{path}/keys?MaxResults={max}"), &[], "").await;
        assert_eq!(
            data_error(&answer),
            validation(&format!("1 validation error detected: Value '{max}' at 'maxResults' failed to satisfy constraint: Member must have value {words}"))
        );
    }
    let small = store(
        &h,
        "small",
        LimitOverrides {
            max_store_bytes: Some(10),
            ..LimitOverrides::default()
        },
    );
    assert_eq!(
        data_error(&put_key(&h, &small, "key", "eight888").await),
        quota("Limit exceeded: Maximum size of the key value store (10 bytes)")
    );
}

#[tokio::test]
async fn control_plane_errors_are_its_codes() {
    let h = Harness::new();
    let root = "/2020-05-31/key-value-store";
    let create = |name: &str| {
        format!("<CreateKeyValueStoreRequest><Name>{name}</Name></CreateKeyValueStoreRequest>")
    };
    let created = signed(&h, "POST", root, &[], create("taken")).await;
    let etag = created.headers["etag"].to_str().unwrap().to_string();

    let again = signed(&h, "POST", root, &[], create("taken")).await;
    assert_eq!(
        control_error(&again),
        owned(
            409,
            "EntityAlreadyExists",
            "A key value store named taken already exists"
        )
    );
    let bad = signed(&h, "POST", root, &[], create("bad name!")).await;
    assert_eq!(
        control_error(&bad),
        owned(
            400,
            "InvalidArgument",
            "The name must be 1 to 64 characters from a-z, A-Z, 0-9, hyphen and underscore"
        )
    );
    let long = "<CreateKeyValueStoreRequest><Name>c</Name><Comment>".to_string()
        + &"c".repeat(129)
        + "</Comment></CreateKeyValueStoreRequest>";
    assert_eq!(
        control_error(&signed(&h, "POST", root, &[], long).await),
        owned(
            400,
            "InvalidArgument",
            "The comment is longer than 128 characters"
        )
    );
    let import = "<CreateKeyValueStoreRequest><Name>i</Name><ImportSource><SourceType>S3</SourceType><SourceARN>arn:aws:s3:::b/k</SourceARN></ImportSource></CreateKeyValueStoreRequest>";
    assert_eq!(
        control_error(&signed(&h, "POST", root, &[], import).await).1,
        "UnsupportedOperation"
    );
    let missing = signed(&h, "GET", &format!("{root}/nothing"), &[], "").await;
    assert_eq!(
        control_error(&missing),
        owned(
            404,
            "EntityNotFound",
            "The key value store nothing was not found"
        )
    );
    let no_if_match = signed(&h, "DELETE", &format!("{root}/taken"), &[], "").await;
    assert_eq!(
        control_error(&no_if_match),
        owned(
            400,
            "InvalidIfMatchVersion",
            "The If-Match version is missing"
        )
    );
    let stale = signed(
        &h,
        "DELETE",
        &format!("{root}/taken"),
        &[("if-match", "stale".into())],
        "",
    )
    .await;
    let (status, code, _) = control_error(&stale);
    assert_eq!((status, code.as_str()), (412, "PreconditionFailed"));
    let deleted = signed(
        &h,
        "DELETE",
        &format!("{root}/taken"),
        &[("if-match", etag)],
        "",
    )
    .await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
}

/// A store's own limits bound what it takes over the API, and the errors quote them: raised
/// limits take more, lowered ones refuse with their own numbers.
#[tokio::test]
async fn a_stores_overrides_bound_values_pages_and_bodies() {
    let h = Harness::new();
    let raised = store(
        &h,
        "raised",
        LimitOverrides {
            max_value_bytes: Some(64 * 1024),
            max_list_limit: Some(100),
            ..LimitOverrides::default()
        },
    );
    let lowered = store(
        &h,
        "lowered",
        LimitOverrides {
            max_value_bytes: Some(16),
            max_list_limit: Some(5),
            max_batch_bytes: Some(100),
            ..LimitOverrides::default()
        },
    );

    assert_eq!(
        put_key(&h, &raised, "big", &"v".repeat(60_000))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        data_error(&put_key(&h, &lowered, "big", &"v".repeat(17)).await),
        quota("Limit exceeded: Maximum size of the value in a key value pair (16 bytes)")
    );

    assert_eq!(
        signed(&h, "GET", &format!("{raised}/keys?MaxResults=100"), &[], "")
            .await
            .status,
        StatusCode::OK
    );
    let puts: Vec<Value> = (0..7)
        .map(|i| json!({"Key": format!("{i}"), "Value": "v"}))
        .collect();
    assert_eq!(
        update_keys(&h, &lowered, &json!({"Puts": puts}))
            .await
            .status,
        StatusCode::OK
    );
    let page = signed(&h, "GET", &format!("{lowered}/keys"), &[], "")
        .await
        .json();
    assert_eq!(
        page["Items"].as_array().map(Vec::len),
        Some(5),
        "the default page is the store's largest: {page}"
    );
    assert!(page["NextToken"].is_string());
    let over = signed(&h, "GET", &format!("{lowered}/keys?MaxResults=6"), &[], "").await;
    assert!(
        data_error(&over)
            .2
            .ends_with("Member must have value less than or equal to 5"),
        "{}",
        over.text()
    );

    // The batch payload rule, and the body cap it gives (the rule plus the JSON framing allowance).
    let batch = json!({"Puts": [{"Key": "k", "Value": "x".repeat(200)}]});
    assert_eq!(
        data_error(&update_keys(&h, &lowered, &batch).await),
        quota("Limit exceeded: Maximum payload size of a single UpdateKeys request (100 bytes)")
    );
    let cap = 100 + FRAMING;
    let batch = json!({"Puts": [{"Key": "k", "Value": "x".repeat(cap as usize)}]});
    assert_eq!(
        data_error(&update_keys(&h, &lowered, &batch).await),
        quota(&format!("The request body is larger than {cap} bytes"))
    );
    // A PutKey body: the value rule plus the allowance.
    let cap = 16 + FRAMING;
    let etag_now = etag(&h, &lowered).await;
    let body = json!({"Value": "x".repeat(cap as usize)}).to_string();
    let answer = signed(
        &h,
        "PUT",
        &format!("{lowered}/keys/k"),
        &if_match(&etag_now),
        body,
    )
    .await;
    assert_eq!(
        data_error(&answer),
        quota(&format!("The request body is larger than {cap} bytes"))
    );
}

/// However high a store's limits, no body over the pre-auth ceiling is held for its signature,
/// declared (refused unread, signed or not) or sent.
#[tokio::test]
async fn the_pre_auth_ceiling_bounds_every_body() {
    let h = Harness::new();
    let path = store(
        &h,
        "huge",
        LimitOverrides {
            max_value_bytes: Some(64 * 1024 * 1024),
            max_batch_bytes: Some(64 * 1024 * 1024),
            ..LimitOverrides::default()
        },
    );
    let refusal = quota(&format!("The request body is larger than {CEILING} bytes"));
    let declared = [("content-length", (CEILING + 1).to_string())];
    let unsigned = h
        .call("PUT", &format!("{path}/keys/k"), &declared, "")
        .await;
    assert_eq!(data_error(&unsigned), refusal);
    let etag_now = etag(&h, &path).await;
    let body = json!({"Value": "x".repeat(CEILING as usize)}).to_string();
    let sent = signed(
        &h,
        "PUT",
        &format!("{path}/keys/k"),
        &if_match(&etag_now),
        body,
    )
    .await;
    assert_eq!(data_error(&sent), refusal);
}

/// Until a request's signature verifies, nothing tells whether the store it names exists: the
/// body of one that does not is capped as a store of the profile's own limits caps it.
#[tokio::test]
async fn an_unknown_stores_body_is_capped_as_a_default_stores() {
    let h = Harness::new();
    let known = store(&h, "known", LimitOverrides::default());
    let unknown = store_path(&Uuid::new_v4());
    let body = json!({"Value": "x".repeat((1024 + FRAMING) as usize)}).to_string();
    let mut answers = Vec::new();
    for path in [known, unknown] {
        let headers = if_match("any");
        let answer = signed(
            &h,
            "PUT",
            &format!("{path}/keys/k"),
            &headers,
            body.as_str(),
        )
        .await;
        answers.push(data_error(&answer));
    }
    let cap = 1024 + FRAMING;
    assert_eq!(
        answers[0],
        quota(&format!("The request body is larger than {cap} bytes"))
    );
    assert_eq!(answers[1], answers[0]);
}

/// The control plane's bodies are small documents: a named cap of 64 KiB, quoted.
#[tokio::test]
async fn control_plane_bodies_are_capped() {
    let h = Harness::new();
    let body = format!(
        "<CreateKeyValueStoreRequest><Name>n</Name><Comment>{}</Comment></CreateKeyValueStoreRequest>",
        "c".repeat(64 * 1024)
    );
    let answer = signed(&h, "POST", "/2020-05-31/key-value-store", &[], body).await;
    assert_eq!(
        control_error(&answer),
        owned(
            400,
            "InvalidArgument",
            "The request body is larger than 65536 bytes"
        )
    );
}

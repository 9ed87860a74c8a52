//! Cloudflare's response envelope (`{success, errors, messages, result, result_info?}`) and its
//! errors: each store error becomes the status, code and message the real API (and Miniflare) use.
//! Deterministic client errors are never 408/409/429/5xx, which the SDKs would retry.

use super::bulk_json::ItemError;
use crate::rest::body::BodyError;
use crate::rest::reply::{self, Unbuilt};
use crate::Body;
use edgekv_store::{Rule, RuleViolation, StoreError};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// A Cloudflare API error: HTTP status, numeric code, message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} [code: {code}]")]
pub struct CfError {
    pub status: StatusCode,
    pub code: u32,
    pub message: String,
}

impl CfError {
    pub fn new(status: StatusCode, code: u32, message: impl Into<String>) -> Self {
        CfError {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: u32, message: impl Into<String>) -> Self {
        CfError::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn no_route() -> Self {
        CfError::new(StatusCode::NOT_FOUND, 7003, "No route for the URI")
    }

    /// The error for a request body that could not be read whole: larger than `limit` allows
    /// (413, quoting the limit), or cut short or malformed (400).
    pub fn from_body(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit, .. } => CfError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                10024,
                format!("Request body exceeds the limit of {limit} bytes."),
            ),
            BodyError::Incomplete(_) => CfError::incomplete(),
        }
    }

    /// The error for a body that is itself bounded by `rule` (a raw value, a bulk request): too
    /// large is answered as the store answers a violation of that rule during `op`, so there is
    /// one wording for it.
    pub fn from_body_rule(op: &str, rule: Rule, e: BodyError) -> Self {
        match e {
            BodyError::TooLarge { limit, length } => rule_error(
                op,
                &RuleViolation {
                    rule,
                    limit,
                    actual: length,
                },
            ),
            BodyError::Incomplete(_) => CfError::incomplete(),
        }
    }

    fn incomplete() -> Self {
        CfError::bad_request(10001, "The request body did not arrive whole.")
    }

    /// The error for a store error during `op` (e.g. `get`, `put`, `list keys`).
    pub fn from_store(op: &str, e: StoreError) -> Self {
        match e {
            StoreError::NamespaceNotFound(_) => CfError::new(
                StatusCode::NOT_FOUND,
                10013,
                format!("{op}: 'namespace not found'"),
            ),
            StoreError::KeyNotFound(_) => CfError::new(
                StatusCode::NOT_FOUND,
                10009,
                format!("{op}: 'key not found'"),
            ),
            StoreError::NamespaceExists(_) => CfError::bad_request(
                10014,
                "a namespace with this account ID and title already exists",
            ),
            StoreError::InvalidCursor => {
                CfError::bad_request(10041, "Invalid \"list keys\" cursor")
            }
            StoreError::NamespaceNotReady { status, .. } => {
                CfError::bad_request(10001, format!("{op}: 'namespace is {status}'"))
            }
            StoreError::Conflict { .. } => {
                CfError::bad_request(10001, format!("{op}: 'precondition failed'"))
            }
            StoreError::Rule(v) => rule_error(op, &v),
            e if e.is_transient() => CfError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                10001,
                format!("{op}: 'the store is unavailable, retry later: {e}'"),
            ),
            e @ (StoreError::Storage(_) | StoreError::Closed) => CfError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                10001,
                format!("{op}: '{e}'"),
            ),
        }
    }
}

/// The error for a broken rule, in the words of the real API (and Miniflare) where it has them,
/// built from the violation's limit and size: the store's rule names never reach a client.
fn rule_error(op: &str, v: &RuleViolation) -> CfError {
    let (limit, actual) = (v.limit, v.actual);
    let too_large =
        |code, message: String| CfError::new(StatusCode::PAYLOAD_TOO_LARGE, code, message);
    match v.rule {
        Rule::KeyEmpty => CfError::bad_request(10023, "Key names must not be empty"),
        Rule::KeyDotSegment | Rule::KeyCharset | Rule::KeyReserved => {
            CfError::bad_request(10023, "Illegal key name. Please use a different name.")
        }
        Rule::KeyTooLarge | Rule::KeyTooLong => CfError::new(
            StatusCode::URI_TOO_LONG,
            10030,
            format!("UTF-8 encoded length of {actual} exceeds key length limit of {limit}."),
        ),
        Rule::ValueTooLarge => too_large(10024, format!("Value length of {actual} exceeds limit of {limit}.")),
        Rule::MetadataTooLarge => metadata_too_large(actual, limit),
        Rule::MetadataNotJson => CfError::bad_request(10047, "Invalid metadata JSON"),
        Rule::TtlTooShort if actual == 0 => {
            CfError::bad_request(10034, format!("Invalid expiration_ttl of {actual}. Please specify integer greater than 0."))
        }
        Rule::TtlTooShort => CfError::bad_request(
            10034,
            format!("Invalid expiration_ttl of {actual}. Expiration TTL must be at least {limit}."),
        ),
        Rule::TtlTooLong => CfError::bad_request(
            10034,
            format!("Invalid expiration_ttl of {actual}. Expiration TTL must be at most {limit}."),
        ),
        Rule::ExpirationInPast => CfError::bad_request(
            10033,
            format!(
                "Invalid expiration of {actual}. Please specify integer greater than the current number of seconds since the UNIX epoch."
            ),
        ),
        Rule::ExpirationTooSoon => CfError::bad_request(
            10033,
            format!("Invalid expiration of {actual}. Expiration times must be at least {limit} seconds in the future."),
        ),
        Rule::ExpirationTooLate => CfError::bad_request(
            10033,
            format!("Invalid expiration of {actual}. Expiration times must be at most {limit} seconds since the UNIX epoch."),
        ),
        Rule::ExpiryUnsupported => CfError::bad_request(10033, "This namespace does not support expiration."),
        Rule::StoreFull => too_large(
            10024,
            format!("{op}: 'namespace size of {actual} bytes would exceed its limit of {limit} bytes'"),
        ),
        Rule::BatchTooLarge => too_large(
            10024,
            format!("{op}: 'request of {actual} bytes exceeds the limit of {limit} bytes'"),
        ),
        Rule::BatchTooManyItems => {
            let items = if op == "bulk delete" { "keys" } else { "key/value pairs" };
            CfError::bad_request(
                10012,
                format!("{op}: 'received {actual} {items}, but max allowed per request is: {limit}'"),
            )
        }
        Rule::BulkGetTooManyKeys => CfError::bad_request(10001, format!("You can request a maximum of {limit} keys")),
        Rule::ListLimit if actual == 0 => CfError::bad_request(
            10028,
            format!("Invalid key_count_limit of {actual}. Please specify an integer greater than 0."),
        ),
        Rule::ListLimit => CfError::bad_request(
            10028,
            format!("Invalid key_count_limit of {actual}. Please specify an integer no greater than {limit}."),
        ),
        Rule::NamespaceName if actual == 0 => CfError::bad_request(10019, "missing title"),
        Rule::NamespaceName => CfError::bad_request(10001, format!("title: must be at most {limit} bytes")),
        Rule::ContentType => CfError::bad_request(10001, format!("{op}: '{}'", v.describe())),
    }
}

/// Metadata over its limit (413, as Miniflare answers).
pub fn metadata_too_large(length: u64, limit: u64) -> CfError {
    CfError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        10024,
        format!("Metadata length of {length} exceeds limit of {limit}."),
    )
}

/// A bulk item that cannot become a write (Cloudflare's "malformed value").
impl From<ItemError> for CfError {
    fn from(e: ItemError) -> Self {
        match e {
            ItemError::Base64 { key } => {
                CfError::bad_request(10012, format!("Malformed base64 value for key {key:?}"))
            }
        }
    }
}

/// A response that could not be built (its cause is logged where it failed) is a 500.
impl From<Unbuilt> for CfError {
    fn from(_: Unbuilt) -> Self {
        CfError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            10001,
            "The response could not be built.",
        )
    }
}

/// `{"success": true, ..., "result": result}` with `result_info` when given.
pub fn success(result: Value, result_info: Option<Value>) -> Result<Response<Body>, CfError> {
    let mut body = json!({"success": true, "errors": [], "messages": [], "result": result});
    if let Some(info) = result_info {
        body["result_info"] = info;
    }
    Ok(reply::json(Response::builder(), &body)?)
}

/// The enveloped error.
pub fn failure(e: &CfError) -> Response<Body> {
    let body = json!({
        "success": false,
        "errors": [{"code": e.code, "message": e.message}],
        "messages": [],
        "result": null,
    });
    reply::or_500(reply::json(Response::builder().status(e.status), &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgekv_store::StorageError;

    /// A database that cannot be reached (or a commit group that failed) is a 503, which the
    /// SDKs retry; a store that is broken for good is a 500.
    #[test]
    fn an_unavailable_store_is_a_503_and_a_broken_one_a_500() {
        let unavailable = StorageError::Unavailable("connection refused".into());
        let e = CfError::from_store("get", StoreError::Storage(unavailable));
        assert_eq!((e.status, e.code), (StatusCode::SERVICE_UNAVAILABLE, 10001));
        let failed = StorageError::Commit("lock timeout".into());
        let e = CfError::from_store("put", StoreError::Storage(failed));
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        let corrupt = StorageError::Corrupt("a bad row".into());
        let e = CfError::from_store("get", StoreError::Storage(corrupt));
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn every_rule_has_a_cloudflare_code_and_a_message_that_quotes_its_limit() {
        for rule in Rule::ALL {
            let e = violation(rule, 7777, 8888);
            assert!(e.code >= 10001 && !e.message.is_empty(), "{rule:?}: {e:?}");
            let sized = !matches!(
                rule,
                Rule::KeyEmpty
                    | Rule::KeyDotSegment
                    | Rule::KeyCharset
                    | Rule::KeyReserved
                    | Rule::MetadataNotJson
                    | Rule::ExpiryUnsupported
                    | Rule::ExpirationInPast
            );
            assert!(
                !sized || e.message.contains("7777"),
                "{rule:?} does not quote its limit: {}",
                e.message
            );
        }
    }

    #[test]
    fn a_response_that_cannot_be_built_is_an_enveloped_500() {
        let builder = Response::builder().header("expiration", "1\r\nx: y");
        let e = CfError::from(reply::bytes(builder, "v").unwrap_err());
        assert_eq!(
            (e.status, e.code),
            (StatusCode::INTERNAL_SERVER_ERROR, 10001)
        );
        let response = failure(&e);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["content-type"], "application/json");
    }

    #[test]
    fn a_body_over_its_rule_reads_as_that_rule() {
        let e = CfError::from_body_rule(
            "put",
            Rule::ValueTooLarge,
            BodyError::TooLarge {
                limit: 10,
                length: 11,
            },
        );
        assert_eq!(e, violation(Rule::ValueTooLarge, 10, 11));
        assert_eq!(e.message, "Value length of 11 exceeds limit of 10.");
    }

    fn violation(rule: Rule, limit: u64, actual: u64) -> CfError {
        CfError::from_store(
            "put",
            StoreError::Rule(RuleViolation {
                rule,
                limit,
                actual,
            }),
        )
    }

    #[test]
    fn no_rule_violation_answers_a_status_the_sdks_retry() {
        for rule in Rule::ALL {
            let s = violation(rule, 60, 59).status;
            let retried = s == StatusCode::REQUEST_TIMEOUT
                || s == StatusCode::CONFLICT
                || s == StatusCode::TOO_MANY_REQUESTS
                || s.is_server_error();
            assert!(s.is_client_error() && !retried, "{rule:?} -> {s}");
        }
    }

    #[test]
    fn key_and_size_rules_use_cloudflare_statuses_and_codes() {
        let long = violation(Rule::KeyTooLarge, 512, 513);
        assert_eq!((long.status, long.code), (StatusCode::URI_TOO_LONG, 10030));
        let big = violation(Rule::MetadataTooLarge, 1024, 1025);
        assert_eq!(
            (big.status, big.code),
            (StatusCode::PAYLOAD_TOO_LARGE, 10024)
        );
        let ttl = violation(Rule::TtlTooShort, 60, 59);
        assert_eq!(ttl.code, 10034);
        assert_eq!(
            ttl.message,
            "Invalid expiration_ttl of 59. Expiration TTL must be at least 60."
        );
    }

    #[test]
    fn messages_never_carry_a_rule_name() {
        for rule in Rule::ALL {
            let message = violation(rule, 60, 59).message;
            assert!(!message.contains(rule.name()), "{rule:?}: {message}");
        }
    }

    #[test]
    fn expiration_errors_name_expiration_and_the_namespace_minimum() {
        for rule in [
            Rule::ExpirationInPast,
            Rule::ExpirationTooSoon,
            Rule::ExpirationTooLate,
        ] {
            let e = violation(rule, 300, 1_700_000_000);
            assert_eq!(e.code, 10033, "{rule:?}");
            assert!(
                e.message.starts_with("Invalid expiration of 1700000000."),
                "{rule:?}: {}",
                e.message
            );
        }
        assert_eq!(
            violation(Rule::ExpirationTooSoon, 300, 1_700_000_000).message,
            "Invalid expiration of 1700000000. Expiration times must be at least 300 seconds in the future."
        );
    }

    #[test]
    fn bulk_limits_read_as_cloudflare_words() {
        let put = CfError::from_store(
            "bulk put",
            StoreError::Rule(RuleViolation {
                rule: Rule::BatchTooManyItems,
                limit: 10_000,
                actual: 10_001,
            }),
        );
        assert_eq!((put.status, put.code), (StatusCode::BAD_REQUEST, 10012));
        assert_eq!(
            put.message,
            "bulk put: 'received 10001 key/value pairs, but max allowed per request is: 10000'"
        );
        let delete = CfError::from_store(
            "bulk delete",
            StoreError::Rule(RuleViolation {
                rule: Rule::BatchTooManyItems,
                limit: 10_000,
                actual: 10_001,
            }),
        );
        assert_eq!(
            delete.message,
            "bulk delete: 'received 10001 keys, but max allowed per request is: 10000'"
        );
        let meta = violation(Rule::MetadataTooLarge, 1024, 1025);
        assert_eq!(
            meta.message,
            "Metadata length of 1025 exceeds limit of 1024."
        );
    }

    #[test]
    fn missing_namespace_and_key_are_404_with_their_codes() {
        let namespace = CfError::from_store("get", StoreError::NamespaceNotFound("n".into()));
        assert_eq!(
            (namespace.status, namespace.code),
            (StatusCode::NOT_FOUND, 10013)
        );
        let key = CfError::from_store("get", StoreError::KeyNotFound("k".into()));
        assert_eq!((key.status, key.code), (StatusCode::NOT_FOUND, 10009));
    }
}

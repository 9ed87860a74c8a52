//! Telnyx errors: the API's shape `{"errors":[{code, title, detail, source, meta}]}` with string
//! codes (10000 internal, 10005 not found, 10006 invalid id, 10009 auth, 10012 duplicate, 10015
//! bad request / conflict), and each store error mapped to the status the API documents: 400 bad
//! key, content type or parameter, 404 unknown namespace or key, 409 not ready or TTL unsupported,
//! 413 too large, 422 bad TTL, 500 a store failure or a response that could not be built.
//! Deterministic 409s carry `x-should-retry: false` so the SDKs do not retry them.

use crate::rest::reply::{self, Unbuilt};
use crate::Body;
use edgekv_store::{Rule, RuleViolation, StoreError};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

/// A Telnyx API error: its status, code and words, and where in the request the problem is.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code} {title}: {detail}")]
pub struct TxError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The Telnyx error code (a string on the wire).
    pub code: &'static str,
    /// The short title of the code.
    pub title: &'static str,
    /// What went wrong, in words.
    pub detail: String,
    /// Where in the request the problem is (the error's `source` member): a parameter, a header
    /// or a body field.
    pub location: Option<Value>,
    /// Whether a client may retry; `false` adds `x-should-retry: false`.
    pub retry: bool,
}

impl TxError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        TxError {
            status,
            code,
            title,
            detail: detail.into(),
            location: None,
            retry: true,
        }
    }

    fn at(mut self, source: Value) -> Self {
        self.location = Some(source);
        self
    }

    fn final_(mut self) -> Self {
        self.retry = false;
        self
    }

    /// 401: no bearer token, or not the right one.
    pub fn unauthorized() -> Self {
        TxError::new(
            StatusCode::UNAUTHORIZED,
            "10009",
            "Authentication failed",
            "Missing or invalid bearer token",
        )
    }

    /// 400: a path's namespace id is not a UUID.
    pub fn invalid_id() -> Self {
        TxError::new(
            StatusCode::BAD_REQUEST,
            "10006",
            "Invalid ID",
            "id is not a valid UUID",
        )
        .at(json!({"parameter": "id"}))
    }

    /// 404 with `detail`.
    pub fn not_found(detail: &str) -> Self {
        TxError::new(StatusCode::NOT_FOUND, "10005", "Resource not found", detail)
    }

    /// 400 with `detail`, pointing at `source` when given.
    pub fn bad_request(detail: impl Into<String>, source: Option<Value>) -> Self {
        let e = TxError::new(StatusCode::BAD_REQUEST, "10015", "Bad Request", detail);
        match source {
            Some(s) => e.at(s),
            None => e,
        }
    }

    /// 400: the request body broke off before its end.
    pub fn incomplete_body() -> Self {
        TxError::bad_request("The request body did not arrive whole", None)
    }

    /// 422 with `detail`, pointing at query parameter `parameter`.
    pub fn unprocessable(detail: impl Into<String>, parameter: &str) -> Self {
        TxError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "10015",
            "Unprocessable Entity",
            detail,
        )
        .at(json!({"parameter": parameter}))
    }

    /// 413 with `detail`.
    pub fn too_large(detail: impl Into<String>) -> Self {
        TxError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "10015",
            "Payload Too Large",
            detail,
        )
    }

    fn internal(detail: impl Into<String>) -> Self {
        TxError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "10000",
            "Internal error",
            detail,
        )
    }

    /// The error for a store error.
    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::NamespaceNotFound(_) => {
                TxError::not_found("KV namespace not found").at(json!({"parameter": "id"}))
            }
            StoreError::KeyNotFound(_) => {
                TxError::not_found("Key not found").at(json!({"parameter": "key"}))
            }
            StoreError::NamespaceExists(_) => TxError::new(
                StatusCode::CONFLICT,
                "10012",
                "Duplicate resource",
                "A namespace with this name already exists for your organization",
            )
            .at(json!({"pointer": "/name"}))
            .final_(),
            StoreError::NamespaceNotReady { status, .. } => TxError::new(
                StatusCode::CONFLICT,
                "10015",
                "Conflict",
                format!("The namespace is not ready (status is {status})"),
            ),
            StoreError::Rule(v) => rule_error(&v),
            StoreError::InvalidCursor => {
                TxError::bad_request("Invalid cursor", Some(json!({"parameter": "cursor"})))
            }
            StoreError::Conflict { .. } => TxError::new(
                StatusCode::CONFLICT,
                "10015",
                "Conflict",
                "precondition failed",
            )
            .final_(),
            e if e.is_transient() => {
                tracing::warn!("telnyx: the store is unavailable: {e}");
                TxError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "10000",
                    "Service unavailable",
                    "The store is unavailable, retry later",
                )
            }
            e @ (StoreError::Storage(_) | StoreError::Closed) => {
                tracing::error!("telnyx: the store failed: {e}");
                TxError::internal(e.to_string())
            }
        }
    }

    /// The error as the API sends it.
    pub fn response(&self) -> Response<Body> {
        let mut error = json!({
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "meta": {"url": format!("https://docs.telnyx.com/api/errors/{}", self.code)},
        });
        if let Some(source) = &self.location {
            error["source"] = source.clone();
        }
        let mut builder = Response::builder().status(self.status);
        if !self.retry {
            builder = builder.header("x-should-retry", "false");
        }
        reply::or_500(reply::json(builder, &json!({"errors": [error]})))
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::from_store(e)
    }
}

/// A response that could not be built (a stored content type that is not a header value, from a
/// row an older edgekv wrote) is the server's fault: a 500, already logged by `reply`.
impl From<Unbuilt> for TxError {
    fn from(_: Unbuilt) -> Self {
        TxError::internal("The stored entry cannot be sent as an HTTP response")
    }
}

/// The error for a broken rule: every rule, by name, so a new rule is mapped here before it
/// compiles. Worded from the violation's limit and size (the store's rule names stay in the logs).
fn rule_error(v: &RuleViolation) -> TxError {
    let (limit, actual) = (v.limit, v.actual);
    match v.rule {
        Rule::KeyEmpty
        | Rule::KeyDotSegment
        | Rule::KeyTooLong
        | Rule::KeyTooLarge
        | Rule::KeyCharset
        | Rule::KeyReserved => TxError::bad_request(
            format!("Invalid key: {}", v.describe()),
            Some(json!({"parameter": "key"})),
        ),
        Rule::ValueTooLarge
        | Rule::MetadataTooLarge
        | Rule::StoreFull
        | Rule::BatchTooLarge
        | Rule::BatchTooManyItems => TxError::too_large(v.describe()),
        Rule::ExpiryUnsupported => TxError::new(
            StatusCode::CONFLICT,
            "10015",
            "Conflict",
            "ttl_secs was set on a namespace provisioned without TTL support",
        )
        .at(json!({"parameter": "ttl_secs"}))
        .final_(),
        Rule::TtlTooShort => TxError::unprocessable(
            format!("ttl_secs must be at least {limit}, got {actual}"),
            "ttl_secs",
        ),
        Rule::TtlTooLong => TxError::unprocessable(
            format!("ttl_secs must be at most {limit}, got {actual}"),
            "ttl_secs",
        ),
        Rule::ExpirationInPast | Rule::ExpirationTooSoon | Rule::ExpirationTooLate => {
            TxError::unprocessable(v.describe(), "ttl_secs")
        }
        Rule::NamespaceName => TxError::bad_request(
            format!("name is required and may contain lowercase letters, numbers, and hyphens only (1 to {limit} characters)"),
            Some(json!({"pointer": "/name"})),
        ),
        Rule::ContentType => TxError::bad_request(
            format!("Invalid Content-Type: {}", v.describe()),
            Some(json!({"header": "Content-Type"})),
        ),
        Rule::ListLimit => {
            TxError::bad_request(v.describe(), Some(json!({"parameter": "limit"})))
        }
        Rule::MetadataNotJson | Rule::BulkGetTooManyKeys => TxError::bad_request(v.describe(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(rule: Rule, limit: u64, actual: u64) -> TxError {
        TxError::from(StoreError::Rule(RuleViolation {
            rule,
            limit,
            actual,
        }))
    }

    /// The status and code the API documents for each rule, and words (never the rule's name).
    #[test]
    fn every_rule_maps_to_a_telnyx_status_code_and_words() {
        for rule in Rule::ALL {
            let e = broken(rule, 1, 2);
            let expected = match rule {
                Rule::ExpiryUnsupported => StatusCode::CONFLICT,
                Rule::TtlTooShort
                | Rule::TtlTooLong
                | Rule::ExpirationInPast
                | Rule::ExpirationTooSoon
                | Rule::ExpirationTooLate => StatusCode::UNPROCESSABLE_ENTITY,
                Rule::ValueTooLarge
                | Rule::MetadataTooLarge
                | Rule::StoreFull
                | Rule::BatchTooManyItems
                | Rule::BatchTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            };
            assert_eq!((e.status, e.code), (expected, "10015"), "{rule:?}");
            assert!(!e.detail.is_empty(), "{rule:?}");
            assert!(!e.detail.contains(rule.name()), "{rule:?}: {}", e.detail);
        }
    }

    #[test]
    fn rule_details_quote_the_limit_that_applied() {
        let value = broken(Rule::ValueTooLarge, 2_097_152, 2_097_153);
        assert_eq!(
            value.detail,
            "The value is 2097153 bytes, over the limit of 2097152 bytes"
        );
        let ttl = broken(Rule::TtlTooShort, 30, 5);
        assert_eq!(ttl.detail, "ttl_secs must be at least 30, got 5");
        let content_type = broken(Rule::ContentType, 256, 300);
        assert_eq!(
            (content_type.status, content_type.location),
            (
                StatusCode::BAD_REQUEST,
                Some(json!({"header": "Content-Type"}))
            )
        );
        assert!(
            content_type.detail.contains("256"),
            "{}",
            content_type.detail
        );
        let no_ttl = broken(Rule::ExpiryUnsupported, 0, 0);
        assert!(!no_ttl.retry);
    }

    #[test]
    fn store_errors_map_to_telnyx_statuses_and_codes() {
        let missing = TxError::from(StoreError::KeyNotFound("k".into()));
        assert_eq!(
            (missing.status, missing.code),
            (StatusCode::NOT_FOUND, "10005")
        );
        let dup = TxError::from(StoreError::NamespaceExists("n".into()));
        assert_eq!(
            (dup.status, dup.code, dup.retry),
            (StatusCode::CONFLICT, "10012", false)
        );
        let corrupt = TxError::from(StoreError::Storage(edgekv_store::StorageError::Corrupt(
            "a bad row".into(),
        )));
        assert_eq!(
            (corrupt.status, corrupt.code),
            (StatusCode::INTERNAL_SERVER_ERROR, "10000")
        );
        let unavailable = TxError::from(StoreError::Storage(
            edgekv_store::StorageError::Unavailable("refused".into()),
        ));
        assert_eq!(
            (unavailable.status, unavailable.code),
            (StatusCode::SERVICE_UNAVAILABLE, "10000")
        );
        let conflict = TxError::from(StoreError::Conflict { current: None });
        assert_eq!(
            (conflict.status, conflict.retry),
            (StatusCode::CONFLICT, false)
        );
    }

    #[test]
    fn an_unbuilt_response_is_a_500_in_the_telnyx_shape() {
        let e = TxError::from(Unbuilt);
        let response = e.response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(e.code, "10000");
    }
}

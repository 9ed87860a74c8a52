//! Telnyx errors: string codes (10005 not found, 10006 invalid id, 10009 auth, 10012 duplicate,
//! 10015 bad request / conflict), and each store error mapped to the status the API documents:
//! 400 bad key, 404 unknown namespace or key, 409 not ready or TTL unsupported, 413 too large,
//! 422 bad TTL. Deterministic 409s carry `x-should-retry: false` so the SDKs do not retry them.

use crate::{full, Body};
use edgekv_store::{Rule, RuleFamily, RuleViolation, StoreError};
use hyper::{Response, StatusCode};
use serde_json::{json, Value};

#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code} {title}: {detail}")]
pub struct TxError {
    pub status: StatusCode,
    pub code: &'static str,
    pub title: &'static str,
    pub detail: String,
    pub pointer: Option<Value>,
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
            pointer: None,
            retry: true,
        }
    }

    fn at(mut self, source: Value) -> Self {
        self.pointer = Some(source);
        self
    }

    fn final_(mut self) -> Self {
        self.retry = false;
        self
    }

    pub fn unauthorized() -> Self {
        TxError::new(
            StatusCode::UNAUTHORIZED,
            "10009",
            "Authentication failed",
            "Missing or invalid bearer token",
        )
    }

    pub fn invalid_id() -> Self {
        TxError::new(
            StatusCode::BAD_REQUEST,
            "10006",
            "Invalid ID",
            "id is not a valid UUID",
        )
        .at(json!({"parameter": "id"}))
    }

    pub fn not_found(detail: &str) -> Self {
        TxError::new(StatusCode::NOT_FOUND, "10005", "Resource not found", detail)
    }

    pub fn bad_request(detail: impl Into<String>, source: Option<Value>) -> Self {
        let e = TxError::new(StatusCode::BAD_REQUEST, "10015", "Bad Request", detail);
        match source {
            Some(s) => e.at(s),
            None => e,
        }
    }

    pub fn unprocessable(detail: impl Into<String>, parameter: &str) -> Self {
        TxError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "10015",
            "Unprocessable Entity",
            detail,
        )
        .at(json!({"parameter": parameter}))
    }

    pub fn too_large(detail: impl Into<String>) -> Self {
        TxError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "10015",
            "Payload Too Large",
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
            e @ (StoreError::Storage(_) | StoreError::Closed) => TxError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "10000",
                "Internal error",
                e.to_string(),
            ),
        }
    }

    pub fn response(&self) -> Response<Body> {
        let mut error = json!({
            "code": self.code,
            "title": self.title,
            "detail": self.detail,
            "meta": {"url": format!("https://docs.telnyx.com/api/errors/{}", self.code)},
        });
        if let Some(source) = &self.pointer {
            error["source"] = source.clone();
        }
        let mut response = Response::builder()
            .status(self.status)
            .header("content-type", "application/json");
        if !self.retry {
            response = response.header("x-should-retry", "false");
        }
        response
            .body(full(json!({"errors": [error]}).to_string()))
            .unwrap_or_else(|_| Response::new(full("{}")))
    }
}

/// The error for a broken rule, worded from its limit and size (the store's rule names stay in
/// the logs).
fn rule_error(v: &RuleViolation) -> TxError {
    let (limit, actual) = (v.limit, v.actual);
    match (v.rule.family(), v.rule) {
        (RuleFamily::Key, _) => TxError::bad_request(
            format!("Invalid key: {}", v.describe()),
            Some(json!({"parameter": "key"})),
        ),
        (RuleFamily::Value | RuleFamily::Metadata, _)
        | (_, Rule::StoreFull | Rule::BatchTooLarge) => TxError::too_large(v.describe()),
        (_, Rule::ExpiryUnsupported) => TxError::new(
            StatusCode::CONFLICT,
            "10015",
            "Conflict",
            "ttl_secs was set on a namespace provisioned without TTL support",
        )
        .at(json!({"parameter": "ttl_secs"}))
        .final_(),
        (_, Rule::TtlTooShort) => TxError::unprocessable(
            format!("ttl_secs must be at least {limit}, got {actual}"),
            "ttl_secs",
        ),
        (_, Rule::TtlTooLong) => TxError::unprocessable(
            format!("ttl_secs must be at most {limit}, got {actual}"),
            "ttl_secs",
        ),
        (RuleFamily::Expiry, _) => TxError::unprocessable(v.describe(), "ttl_secs"),
        (_, Rule::NamespaceName) => TxError::bad_request(
            "name is required and may contain lowercase letters, numbers, and hyphens only",
            Some(json!({"pointer": "/name"})),
        ),
        _ => TxError::bad_request(v.describe(), None),
    }
}

/// A JSON response.
pub fn json_response(status: StatusCode, body: Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body.to_string()))
        .unwrap_or_else(|_| Response::new(full("{}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(rule: Rule) -> TxError {
        TxError::from_store(StoreError::Rule(RuleViolation {
            rule,
            limit: 1,
            actual: 2,
        }))
    }

    #[test]
    fn store_errors_map_to_telnyx_statuses_and_codes() {
        let reserved = rule(Rule::KeyReserved);
        assert_eq!(
            (reserved.status, reserved.code),
            (StatusCode::BAD_REQUEST, "10015")
        );
        let no_ttl = rule(Rule::ExpiryUnsupported);
        assert_eq!(no_ttl.status, StatusCode::CONFLICT);
        assert!(!no_ttl.retry);
        assert_eq!(
            rule(Rule::TtlTooLong).status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            rule(Rule::ValueTooLarge).status,
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let missing = TxError::from_store(StoreError::KeyNotFound("k".into()));
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        let dup = TxError::from_store(StoreError::NamespaceExists("n".into()));
        assert_eq!((dup.status, dup.retry), (StatusCode::CONFLICT, false));
    }

    #[test]
    fn rule_details_are_words_with_the_limit_not_rule_names() {
        let value = TxError::from_store(StoreError::Rule(RuleViolation {
            rule: Rule::ValueTooLarge,
            limit: 1_048_576,
            actual: 1_048_577,
        }));
        assert_eq!(
            value.detail,
            "The value is 1048577 bytes, over the limit of 1048576 bytes"
        );
        let ttl = TxError::from_store(StoreError::Rule(RuleViolation {
            rule: Rule::TtlTooShort,
            limit: 30,
            actual: 5,
        }));
        assert_eq!(ttl.detail, "ttl_secs must be at least 30, got 5");
        for r in [
            Rule::KeyCharset,
            Rule::StoreFull,
            Rule::ListLimit,
            Rule::TtlTooLong,
        ] {
            let detail = rule(r).detail;
            assert!(!detail.contains(r.name()), "{r:?}: {detail}");
        }
    }
}

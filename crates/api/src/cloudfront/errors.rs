//! CloudFront errors as boto3 maps them: the data plane answers status + `x-amzn-ErrorType` + JSON
//! `{"__type", "message"}`; the control plane answers rest-xml `<ErrorResponse>` with its own
//! codes. Store errors map to shapes: malformed input 400 Validation, quotas 402
//! ServiceQuotaExceeded, unknown store or key 404 ResourceNotFound, stale If-Match 409 Conflict.
//! Messages use the service's wording (`Limit exceeded: <quota>`, `1 validation error detected:
//! ...`), never the store's rule names. A response that could not be built is a 500.

use super::{Plane, XMLNS};
use crate::rest::reply::{self, Unbuilt};
use crate::Body;
use edgekv_store::{Rule, RuleViolation, StoreError};
use hyper::{Response, StatusCode};
use serde_json::json;

/// An error of either plane: its status, the data plane's error type (the control plane derives
/// its code from it) and the message.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {kind}: {message}")]
pub struct CfrError {
    /// The status the data plane answers (the control plane answers some kinds otherwise).
    pub status: StatusCode,
    /// The error type, e.g. `ValidationException`.
    pub kind: &'static str,
    /// The message for the client.
    pub message: String,
}

impl CfrError {
    /// An error of this status, type and message.
    pub fn new(status: StatusCode, kind: &'static str, message: impl Into<String>) -> Self {
        CfrError {
            status,
            kind,
            message: message.into(),
        }
    }

    /// A 400 ValidationException.
    pub fn validation(message: impl Into<String>) -> Self {
        CfrError::new(StatusCode::BAD_REQUEST, "ValidationException", message)
    }

    /// A 403 AccessDeniedException.
    pub fn access_denied(message: impl Into<String>) -> Self {
        CfrError::new(StatusCode::FORBIDDEN, "AccessDeniedException", message)
    }

    /// A 404 ResourceNotFoundException.
    pub fn not_found(message: impl Into<String>) -> Self {
        CfrError::new(StatusCode::NOT_FOUND, "ResourceNotFoundException", message)
    }

    /// A 500 InternalServerException.
    pub fn internal(message: impl Into<String>) -> Self {
        CfrError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InternalServerException",
            message,
        )
    }

    /// The data-plane error for a store error.
    pub fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::NamespaceNotFound(_) => {
                CfrError::not_found("The key value store was not found")
            }
            StoreError::KeyNotFound(key) => CfrError::not_found(format!("Key not found: {key}")),
            StoreError::Conflict { .. } => CfrError::new(
                StatusCode::CONFLICT,
                "ConflictException",
                "Pre-condition failed: If-Match does not match the current ETag",
            ),
            StoreError::NamespaceNotReady { .. } => CfrError::new(
                StatusCode::CONFLICT,
                "ConflictException",
                "Key-Value-Store was not in expected state",
            ),
            StoreError::NamespaceExists(name) => {
                CfrError::validation(format!("A key value store named {name} already exists"))
            }
            StoreError::InvalidCursor => CfrError::validation("Invalid NextToken"),
            StoreError::Rule(v) => rule_error(&v),
            e if e.is_transient() => CfrError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "InternalServerException",
                format!("The store is unavailable, retry later: {e}"),
            ),
            e @ (StoreError::Storage(_) | StoreError::Closed) => CfrError::internal(e.to_string()),
        }
    }

    /// The response of `plane` for this error, in its protocol's error format.
    pub fn response(&self, plane: Plane) -> Response<Body> {
        reply::or_500(match plane {
            Plane::Data => self.json_response(),
            Plane::Control => self.xml_response(),
        })
    }

    /// The rest-json error response.
    fn json_response(&self) -> Result<Response<Body>, Unbuilt> {
        let body = json!({"__type": self.kind, "message": self.message});
        let head = Plane::Data
            .head(self.status)
            .header("x-amzn-errortype", self.kind);
        reply::json(head, &body)
    }

    /// The rest-xml error response of the `cloudfront` control plane, with its own error codes.
    fn xml_response(&self) -> Result<Response<Body>, Unbuilt> {
        let code = match self.kind {
            "ResourceNotFoundException" => "EntityNotFound",
            "ConflictException" => "PreconditionFailed",
            "AccessDeniedException" => "AccessDenied",
            "EntityAlreadyExists" => "EntityAlreadyExists",
            "InvalidIfMatchVersion" => "InvalidIfMatchVersion",
            "UnsupportedOperation" => "UnsupportedOperation",
            "InternalServerException" => "InternalError",
            _ => "InvalidArgument",
        };
        let status = match code {
            "PreconditionFailed" => StatusCode::PRECONDITION_FAILED,
            "InvalidArgument" => StatusCode::BAD_REQUEST,
            _ => self.status,
        };
        let document = format!(
            "<ErrorResponse xmlns=\"{XMLNS}\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
            quick_xml::escape::escape(self.message.as_str()),
            edgekv_store::Uuid::new_v4()
        );
        reply::xml(Plane::Control.head(status), &document)
    }
}

/// A response that could not be built (its cause is logged) is the service's internal error.
impl From<Unbuilt> for CfrError {
    fn from(_: Unbuilt) -> Self {
        CfrError::internal("The response could not be built")
    }
}

/// The error for a broken rule: quotas in the service's `Limit exceeded: <quota>` words, malformed
/// input in its validation wording; both from the violation's limit and size, never its rule name.
fn rule_error(v: &RuleViolation) -> CfrError {
    let (limit, actual) = (v.limit, v.actual);
    let quota = |what: String| {
        CfrError::new(
            StatusCode::PAYMENT_REQUIRED,
            "ServiceQuotaExceededException",
            format!("Limit exceeded: {what}"),
        )
    };
    let invalid = |constraint: String| {
        CfrError::validation(format!("1 validation error detected: {constraint}"))
    };
    match v.rule {
        Rule::KeyTooLarge => quota(format!(
            "Maximum size of the key in a key value pair ({limit} bytes)"
        )),
        Rule::ValueTooLarge => quota(format!(
            "Maximum size of the value in a key value pair ({limit} bytes)"
        )),
        Rule::StoreFull => quota(format!(
            "Maximum size of the key value store ({limit} bytes)"
        )),
        Rule::BatchTooManyItems => quota(format!(
            "Maximum number of keys in a single UpdateKeys request ({limit})"
        )),
        Rule::BatchTooLarge => quota(format!(
            "Maximum payload size of a single UpdateKeys request ({limit} bytes)"
        )),
        Rule::MetadataTooLarge | Rule::BulkGetTooManyKeys => quota(v.describe()),
        Rule::KeyEmpty => invalid(
            "Value at 'key' failed to satisfy constraint: Member must have length greater than or equal to 1"
                .into(),
        ),
        Rule::KeyTooLong => invalid(format!(
            "Value at 'key' failed to satisfy constraint: Member must have length less than or equal to {limit}"
        )),
        Rule::ListLimit if actual == 0 => invalid(format!(
            "Value '{actual}' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"
        )),
        Rule::ListLimit => invalid(format!(
            "Value '{actual}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to {limit}"
        )),
        Rule::KeyDotSegment
        | Rule::KeyCharset
        | Rule::KeyReserved
        | Rule::MetadataNotJson
        | Rule::ExpiryUnsupported
        | Rule::TtlTooShort
        | Rule::TtlTooLong
        | Rule::ExpirationInPast
        | Rule::ExpirationTooSoon
        | Rule::ExpirationTooLate
        | Rule::NamespaceName
        | Rule::ContentType => CfrError::validation(v.describe()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use edgekv_store::StorageError;

    /// A failure of the backend that a retry does not mend.
    fn corrupt() -> StoreError {
        StoreError::Storage(StorageError::Corrupt("a bad row".into()))
    }

    fn mapped(e: StoreError) -> (u16, &'static str) {
        let e = CfrError::from_store(e);
        (e.status.as_u16(), e.kind)
    }

    fn rule(rule: Rule) -> StoreError {
        StoreError::Rule(RuleViolation {
            rule,
            limit: 1,
            actual: 2,
        })
    }

    /// Every rule is a client error of the API: a quota (402) for sizes and counts, a
    /// validation error (400) for shapes; its message is the service's or the store's words,
    /// never the rule's name, and quotes the limit wherever the rule has one.
    #[test]
    fn every_rule_is_a_client_error_quoting_its_limit() {
        for rule in Rule::ALL {
            let violation = RuleViolation {
                rule,
                limit: 987_654,
                actual: 987_655,
            };
            let e = CfrError::from_store(StoreError::Rule(violation.clone()));
            let expected = match rule.family() {
                edgekv_store::RuleFamily::Quota
                | edgekv_store::RuleFamily::Value
                | edgekv_store::RuleFamily::Metadata => (402, "ServiceQuotaExceededException"),
                edgekv_store::RuleFamily::Key if rule == Rule::KeyTooLarge => {
                    (402, "ServiceQuotaExceededException")
                }
                _ => (400, "ValidationException"),
            };
            assert_eq!((e.status.as_u16(), e.kind), expected, "{rule:?}");
            assert!(!e.message.contains(rule.name()), "{rule:?}: {}", e.message);
            let has_limit = violation.describe().contains("987654");
            assert_eq!(
                e.message.contains("987654"),
                has_limit,
                "{rule:?}: {}",
                e.message
            );
        }
    }

    #[test]
    fn store_errors_map_to_the_modelled_shapes() {
        let quota = (402, "ServiceQuotaExceededException");
        for r in [
            Rule::KeyTooLarge,
            Rule::ValueTooLarge,
            Rule::StoreFull,
            Rule::BatchTooManyItems,
            Rule::BatchTooLarge,
        ] {
            assert_eq!(mapped(rule(r)), quota, "{r:?}");
        }
        for r in [Rule::KeyTooLong, Rule::ListLimit, Rule::KeyEmpty] {
            assert_eq!(mapped(rule(r)), (400, "ValidationException"), "{r:?}");
        }
        assert_eq!(
            mapped(StoreError::NamespaceNotFound("x".into())),
            (404, "ResourceNotFoundException")
        );
        assert_eq!(
            mapped(StoreError::KeyNotFound("k".into())),
            (404, "ResourceNotFoundException")
        );
        assert_eq!(
            mapped(StoreError::Conflict { current: None }),
            (409, "ConflictException")
        );
        assert_eq!(
            mapped(StoreError::InvalidCursor),
            (400, "ValidationException")
        );
        assert_eq!(mapped(corrupt()), (500, "InternalServerException"));
        let unavailable = StoreError::Storage(StorageError::Unavailable("refused".into()));
        assert_eq!(mapped(unavailable), (503, "InternalServerException"));
        assert_eq!(mapped(StoreError::Closed), (503, "InternalServerException"));
    }

    #[test]
    fn quota_messages_are_the_service_words_with_the_limit() {
        let full = CfrError::from_store(StoreError::Rule(RuleViolation {
            rule: Rule::StoreFull,
            limit: 5 * 1024 * 1024,
            actual: 5 * 1024 * 1024 + 7,
        }));
        assert_eq!(
            full.message,
            "Limit exceeded: Maximum size of the key value store (5242880 bytes)"
        );
        for r in [
            Rule::KeyTooLarge,
            Rule::ValueTooLarge,
            Rule::StoreFull,
            Rule::BatchTooManyItems,
            Rule::BatchTooLarge,
            Rule::KeyTooLong,
            Rule::KeyEmpty,
            Rule::ListLimit,
            Rule::NamespaceName,
        ] {
            let message = CfrError::from_store(rule(r)).message;
            assert!(!message.contains(r.name()), "{r:?}: {message}");
        }
    }

    #[test]
    fn error_bodies_carry_the_type_where_boto3_looks() {
        let response = CfrError::from_store(corrupt()).response(Plane::Data);
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            response.headers()["x-amzn-errortype"],
            "InternalServerException"
        );
        let xml = CfrError::not_found("gone").response(Plane::Control);
        assert_eq!(xml.status(), StatusCode::NOT_FOUND);
    }

    /// A response that cannot be built (here an ETag that is no header value) is a 500 in each
    /// plane's own error format, never an empty 200.
    #[test]
    fn an_unbuilt_response_is_a_500_in_the_planes_format() {
        let head = Plane::Data
            .head(StatusCode::OK)
            .header("etag", "bad\r\netag");
        let e = CfrError::from(reply::json(head, &json!({})).unwrap_err());
        let data = e.response(Plane::Data);
        assert_eq!(data.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(
            data.headers()["x-amzn-errortype"],
            "InternalServerException"
        );
        let control = e.response(Plane::Control);
        assert_eq!(control.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(control.headers()["content-type"], "text/xml");
    }
}

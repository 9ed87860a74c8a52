//! The browser API's answers, which the admin API (`crate::admin`) gives too: a 200 with a JSON
//! body, and failures as `{"error": "<kind>", "message": "..."}` with the store's errors mapped to
//! a status and a kind (a failed precondition is 412 with `current_etag`); and what every route
//! reads alike: a JSON request body, a namespace's description, the id a path names.

use crate::rest::body::{self, BodyError};
use crate::rest::reply::{self, Unbuilt};
use crate::Body;
use edgekv_store::{Namespace, Rule, RuleFamily, Store, StoreError, Uuid};
use hyper::{Request, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// A namespace as the API describes it.
pub(crate) fn describe(namespace: &Namespace) -> Value {
    json!({
        "id": namespace.id.to_string(),
        "name": namespace.name,
        "profile": namespace.profile.as_str(),
        "ttl_enabled": namespace.ttl_enabled,
        "item_count": namespace.item_count,
        "total_bytes": namespace.total_bytes,
        "version": namespace.version,
    })
}

/// The id of the namespace a path names, by id or by name.
pub(crate) async fn namespace_id(store: &Store, namespace: &str) -> Result<Uuid, Failure> {
    let namespace = namespace.to_string();
    let found = store.run(move |s| s.namespace(&namespace)).await?;
    Ok(found.id)
}

/// A 200 with `body` (the browser's hardening headers are added to every response by `handle`).
pub(crate) fn ok(body: Value) -> Result<Response<Body>, Failure> {
    answer(StatusCode::OK, &body)
}

/// A `status` with `body`.
pub(crate) fn answer(status: StatusCode, body: &Value) -> Result<Response<Body>, Failure> {
    Ok(reply::json(Response::builder().status(status), body)?)
}

/// The request's JSON body of at most `limit` bytes, as a `T`; `None` when it is empty or only
/// whitespace. `shape` shows, in the failure, what the body should be.
pub(crate) async fn json_body<T: DeserializeOwned>(
    req: Request<Body>,
    limit: u64,
    shape: &str,
) -> Result<Option<T>, Failure> {
    let bytes = body::read_request(req, limit).await.map_err(|e| match e {
        BodyError::TooLarge { limit, .. } => Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too-large",
            format!("the body is over {limit} bytes: send {shape}"),
        ),
        BodyError::Incomplete(_) => Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "the body did not arrive whole",
        ),
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(&bytes).map(Some).map_err(|e| {
        Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            format!("send {shape}: {e}"),
        )
    })
}

/// An error response of the browser API.
pub fn error(status: StatusCode, kind: &str, message: &str) -> Response<Body> {
    Failure::new(status, kind, message).response()
}

/// A failed browser API call.
pub(crate) struct Failure {
    status: StatusCode,
    body: Value,
}

impl Failure {
    /// A failure of `status`, its `kind` and message in the JSON body.
    pub(crate) fn new(status: StatusCode, kind: &str, message: impl Into<String>) -> Self {
        Failure {
            status,
            body: json!({ "error": kind, "message": message.into() }),
        }
    }

    /// The same failure, its message preceded by `context` (what it was about).
    pub(crate) fn context(mut self, context: &str) -> Self {
        let message = self.body["message"].as_str().unwrap_or_default();
        self.body["message"] = Value::String(format!("{context}: {message}"));
        self
    }

    /// The failure as the browser API sends it.
    pub(crate) fn response(self) -> Response<Body> {
        reply::or_500(reply::json(
            Response::builder().status(self.status),
            &self.body,
        ))
    }
}

/// A response that could not be built (already logged by `reply`) is the server's fault.
impl From<Unbuilt> for Failure {
    fn from(_: Unbuilt) -> Self {
        Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the response could not be built",
        )
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        let message = match &e {
            StoreError::Rule(v) => v.describe(),
            e => e.to_string(),
        };
        let (status, kind) = match &e {
            StoreError::NamespaceNotFound(_) => (StatusCode::NOT_FOUND, "no-such-namespace"),
            StoreError::KeyNotFound(_) => (StatusCode::NOT_FOUND, "not-found"),
            StoreError::Conflict { current } => {
                let current = current.as_ref().map(|c| c.as_str().to_string());
                return Failure {
                    status: StatusCode::PRECONDITION_FAILED,
                    body: json!({ "error": "conflict", "message": message, "current_etag": current }),
                };
            }
            StoreError::Rule(v) => rule_kind(v.rule),
            StoreError::InvalidCursor => (StatusCode::BAD_REQUEST, "invalid-cursor"),
            StoreError::NamespaceNotReady { .. } => (StatusCode::CONFLICT, "namespace-not-ready"),
            StoreError::NamespaceExists(_) => (StatusCode::CONFLICT, "namespace-exists"),
            _ if e.is_transient() => {
                tracing::warn!("data browser: the store is unavailable: {e}");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            StoreError::Storage(_) | StoreError::Closed => {
                tracing::error!("data browser: the store failed: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        };
        Failure::new(status, kind, message)
    }
}

/// The status and kind of a broken rule: by the part of the request it constrains, and content
/// types (the one request-shape rule an edit can break by itself) by name.
fn rule_kind(rule: Rule) -> (StatusCode, &'static str) {
    match (rule, rule.family()) {
        (Rule::ContentType, _) => (StatusCode::BAD_REQUEST, "invalid-content-type"),
        (_, RuleFamily::Key) => (StatusCode::BAD_REQUEST, "invalid-key"),
        (_, RuleFamily::Value) => (StatusCode::PAYLOAD_TOO_LARGE, "value-too-large"),
        (_, RuleFamily::Metadata) => (StatusCode::PAYLOAD_TOO_LARGE, "metadata-too-large"),
        (_, RuleFamily::Expiry) => (StatusCode::BAD_REQUEST, "invalid-expiration"),
        (_, RuleFamily::Quota) => (StatusCode::PAYLOAD_TOO_LARGE, "quota-exceeded"),
        (_, RuleFamily::Request) => (StatusCode::BAD_REQUEST, "invalid-request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_name_their_kind() {
        let conflict = Failure::from(StoreError::Conflict { current: None });
        assert_eq!(conflict.status, StatusCode::PRECONDITION_FAILED);
        assert_eq!(conflict.body["error"], "conflict");
        assert!(conflict.body["current_etag"].is_null());
        let big = Failure::from(StoreError::Rule(edgekv_store::RuleViolation {
            rule: edgekv_store::Rule::MetadataTooLarge,
            limit: 1024,
            actual: 1500,
        }));
        assert_eq!(big.body["error"], "metadata-too-large");
        assert_eq!(
            big.body["message"],
            "The metadata is 1500 bytes as compact JSON, over the limit of 1024 bytes"
        );
        let missing = Failure::from(StoreError::KeyNotFound("k".into()));
        assert_eq!(
            (missing.status, missing.body["error"].as_str()),
            (StatusCode::NOT_FOUND, Some("not-found"))
        );
    }

    #[test]
    fn every_rule_has_a_kind_and_words() {
        for rule in edgekv_store::Rule::ALL {
            let failure = Failure::from(StoreError::Rule(edgekv_store::RuleViolation {
                rule,
                limit: 1,
                actual: 2,
            }));
            assert!(
                failure.status.is_client_error(),
                "{rule:?}: {}",
                failure.status
            );
            let message = failure.body["message"].as_str().unwrap_or_default();
            assert!(
                !message.is_empty() && !message.contains(rule.name()),
                "{rule:?}"
            );
        }
        let content_type = Failure::from(StoreError::Rule(edgekv_store::RuleViolation {
            rule: Rule::ContentType,
            limit: 256,
            actual: 300,
        }));
        assert_eq!(
            (content_type.status, content_type.body["error"].as_str()),
            (StatusCode::BAD_REQUEST, Some("invalid-content-type"))
        );
    }

    #[test]
    fn an_unbuilt_response_is_a_500() {
        let failure = Failure::from(Unbuilt);
        assert_eq!(failure.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(failure.body["error"], "internal");
    }
}

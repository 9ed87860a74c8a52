//! Building responses: JSON, XML and raw bytes, each from a `http::response::Builder` the dialect
//! filled in (status, its own headers). A header value that cannot be sent (a content type a guest
//! stored, an ETag) makes the build fail; that failure is never answered as an empty 200: it is
//! `Unbuilt`, logged here once, and each dialect answers it as a 500 in its own error format.

use crate::{full, Body};
use http::response::Builder;
use hyper::header::CONTENT_TYPE;
use hyper::{Response, StatusCode};

/// A response that could not be built; its cause is already logged.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the response could not be built")]
pub struct Unbuilt;

/// The response `builder` describes, with `body`.
pub fn bytes(builder: Builder, body: impl Into<bytes::Bytes>) -> Result<Response<Body>, Unbuilt> {
    builder.body(full(body)).map_err(|e| {
        tracing::error!("a response could not be built: {e}");
        Unbuilt
    })
}

/// A JSON response: `value` serialised, `Content-Type: application/json`.
pub fn json(builder: Builder, value: &serde_json::Value) -> Result<Response<Body>, Unbuilt> {
    bytes(
        builder.header(CONTENT_TYPE, "application/json"),
        value.to_string(),
    )
}

/// An XML response: the XML declaration, then `document`, `Content-Type: text/xml`.
pub fn xml(builder: Builder, document: &str) -> Result<Response<Body>, Unbuilt> {
    let body = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{document}");
    bytes(builder.header(CONTENT_TYPE, "text/xml"), body)
}

/// A response with this status and no body.
pub fn empty(status: StatusCode) -> Response<Body> {
    let mut response = Response::new(full(""));
    *response.status_mut() = status;
    response
}

/// `built`, or a bare 500 when even an error response could not be built (its headers are the
/// dialect's own constants, so this does not happen; a client still gets an answer if it does).
pub fn or_500(built: Result<Response<Body>, Unbuilt>) -> Response<Body> {
    built.unwrap_or_else(|Unbuilt| empty(StatusCode::INTERNAL_SERVER_ERROR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_that_cannot_be_sent_is_unbuilt_not_an_empty_200() {
        let builder = Response::builder().header(CONTENT_TYPE, "text/plain\r\nx: y");
        assert!(bytes(builder, "value").is_err());
    }

    #[test]
    fn json_and_xml_name_their_content_type() {
        let json = json(Response::builder(), &serde_json::json!({"a": 1})).unwrap();
        assert_eq!(json.headers()[CONTENT_TYPE], "application/json");
        let xml = xml(Response::builder(), "<A/>").unwrap();
        assert_eq!(xml.headers()[CONTENT_TYPE], "text/xml");
    }
}

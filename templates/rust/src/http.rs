//! Reading a wasi:http request (its headers one name at a time, as a route asks for them) and
//! writing a response, and the text both need: query parameters, percent-decoding and JSON strings.

use crate::wasi::http::types::{
    Fields, IncomingBody, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};
use crate::wasi::io::streams::StreamError;

pub struct Request {
    pub method: Method,
    pub path: String,
    headers: Fields,
    pub body: Vec<u8>,
}

/// A request whose body did not arrive whole (the client went away, or sent a malformed chunk):
/// the stream failed instead of closing. Nothing of such a request may be acted on.
pub struct BodyFailed;

impl BodyFailed {
    /// The answer to a request whose body failed (its client is most likely gone).
    pub fn reply(self) -> Reply {
        Reply::text(400, "the request body did not arrive whole; nothing was written")
    }
}

impl Request {
    pub fn read(request: IncomingRequest) -> Result<Request, BodyFailed> {
        let headers = request.headers();
        let method = request.method();
        // Only writes carry a body; waiting for the end of an empty stream costs a host round trip.
        let body = match method {
            Method::Put | Method::Post => match request.consume() {
                Ok(body) => read_body(body)?,
                Err(()) => Vec::new(),
            },
            _ => Vec::new(),
        };
        Ok(Request { method, path: request.path_with_query().unwrap_or_else(|| "/".into()), headers, body })
    }

    /// The first value of header `name`, if it is UTF-8. Asked of the host one name at a time, so
    /// a route copies only the headers it reads.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).into_iter().next().and_then(|v| String::from_utf8(v).ok())
    }
}

/// The whole body: `Closed` is its end, `LastOperationFailed` means it did not arrive whole.
fn read_body(body: IncomingBody) -> Result<Vec<u8>, BodyFailed> {
    let mut bytes = Vec::new();
    if let Ok(stream) = body.stream() {
        loop {
            match stream.blocking_read(64 * 1024) {
                Ok(chunk) => bytes.extend_from_slice(&chunk),
                Err(StreamError::Closed) => break,
                Err(StreamError::LastOperationFailed(_)) => return Err(BodyFailed),
            }
        }
    }
    IncomingBody::finish(body);
    Ok(bytes)
}

pub struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

impl Reply {
    pub fn new(status: u16, body: Vec<u8>) -> Reply {
        Reply { status, headers: Vec::new(), body }
    }

    pub fn text(status: u16, text: &str) -> Reply {
        Reply::new(status, format!("{text}\n").into_bytes()).header("content-type", "text/plain; charset=utf-8")
    }

    pub fn json(status: u16, json: String) -> Reply {
        Reply::new(status, json.into_bytes()).header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.as_bytes().to_vec()));
        self
    }

    pub fn send(self, out: ResponseOutparam) {
        let headers = Fields::from_list(&self.headers).unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(headers);
        let _ = response.set_status_code(self.status);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            for chunk in self.body.chunks(4096) {
                if stream.blocking_write_and_flush(chunk).is_err() {
                    break;
                }
            }
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

/// The percent-decoded value of `name` in a query string (`a=1&b=2`).
pub fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).and_then(|(_, v)| decode(v))
}

/// Percent-decoded UTF-8, or `None`.
pub fn decode(text: &str) -> Option<String> {
    percent_encoding::percent_decode_str(text).decode_utf8().ok().map(|s| s.into_owned())
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

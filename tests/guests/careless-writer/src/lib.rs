//! A careless guest, as a hostile test of the host: `PUT /{key}` reads the body until its stream
//! stops, whether it closed (the end) or failed (the body did not arrive whole), and stores what it
//! got at `key` in the `default` binding. It answers 201 with the number of bytes stored, or 500
//! with the binding's error. The host must refuse the write when the body failed or the request
//! was abandoned, whatever the guest does.

wit_bindgen::generate!({
    world: "edgekv:kv/edge-app",
    path: "../../../wit",
    generate_all,
});

use edgekv::kv::store::{Namespace, PutOptions};
use exports::wasi::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct CarelessWriter;

impl Guest for CarelessWriter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let key = request.path_with_query().unwrap_or_default().trim_start_matches('/').to_string();
        let body = request.consume().map(read_until_stopped).unwrap_or_default();
        let options = PutOptions { metadata: None, content_type: None, expiration: None, precondition: None };
        let stored = Namespace::open("default").and_then(|ns| ns.put(&key, &body, &options));
        match stored {
            Ok(_) => respond(out, 201, format!("stored {} bytes\n", body.len())),
            Err(e) => respond(out, 500, format!("{e:?}\n")),
        }
    }
}

/// Everything the stream gives before it stops for any reason (the mistake this guest makes).
fn read_until_stopped(body: wasi::http::types::IncomingBody) -> Vec<u8> {
    let mut bytes = Vec::new();
    if let Ok(stream) = body.stream() {
        while let Ok(chunk) = stream.blocking_read(64 * 1024) {
            bytes.extend_from_slice(&chunk);
        }
    }
    wasi::http::types::IncomingBody::finish(body);
    bytes
}

fn respond(out: ResponseOutparam, status: u16, text: String) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(status);
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body.write() {
        let _ = stream.blocking_write_and_flush(text.as_bytes());
    }
    let _ = OutgoingBody::finish(body, None);
}

export!(CarelessWriter);

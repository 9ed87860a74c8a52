//! A plain wasi:http "hello" component built with the `wasi` crate: it imports nothing of edgekv,
//! so the same file runs under `wasmtime serve`.

use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Hello;

impl wasi::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, out: ResponseOutparam) {
        let response = OutgoingResponse::new(Fields::new());
        let _ = response.set_status_code(200);
        let Ok(body) = response.body() else { return };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            let _ = stream.blocking_write_and_flush(b"Hello from a plain wasi:http component\n");
        }
        let _ = OutgoingBody::finish(body, None);
    }
}

wasi::http::proxy::export!(Hello);

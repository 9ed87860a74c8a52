//! A guest that fails on purpose, to show a failing request never takes the server down:
//! `/trap` hits `unreachable`, `/loop` spins forever, `/oom` allocates until memory runs out,
//! `/sleep` answers after one second, `/log` writes to stdout and stderr; any other path answers
//! 200 `ok`.

use std::hint::black_box;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Misbehave;

impl wasi::exports::http::incoming_handler::Guest for Misbehave {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        match request.path_with_query().as_deref() {
            Some("/trap") => core::arch::wasm32::unreachable(),
            Some("/loop") => {
                let mut n: u64 = 0;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            Some("/oom") => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![1u8; 1 << 20]));
                }
            }
            Some("/sleep") => {
                wasi::clocks::monotonic_clock::subscribe_duration(1_000_000_000).block();
                respond(out, b"slept\n");
            }
            Some("/log") => {
                println!("hello on stdout");
                eprintln!("hello on stderr");
                respond(out, b"logged\n");
            }
            _ => respond(out, b"ok\n"),
        }
    }
}

fn respond(out: ResponseOutparam, body_bytes: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(200);
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body.write() {
        let _ = stream.blocking_write_and_flush(body_bytes);
    }
    let _ = OutgoingBody::finish(body, None);
}

wasi::http::proxy::export!(Misbehave);

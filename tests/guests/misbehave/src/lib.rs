//! A guest that fails on purpose, to show a failing request never takes the server down:
//! `/trap` hits `unreachable`, `/loop` spins forever, `/oom` allocates until memory runs out,
//! `/grow-refused` asks for 64 MiB more memory at once and answers `refused` when it is not given,
//! `/sleep` answers after one second, `/log` writes to stdout and stderr, `/fetch` sends a GET to
//! the URL in `x-target` (with `x-target-auth` as its Authorization) and answers with the upstream
//! status, or 502 and the error; `/count` (the path's end, under any route) answers `<instance> <n>`, where n counts the requests
//! this instance served (a global, so it survives between requests only on a reused instance) and
//! instance is random, drawn at its first request; `/count-slow` is `/count` answered after 300 ms;
//! any other path answers 200 `ok`.

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

/// Requests this instance served through `/count`.
static COUNT: AtomicU64 = AtomicU64::new(0);
/// This instance's random id, drawn at its first `/count` (0 until then).
static INSTANCE: AtomicU64 = AtomicU64::new(0);
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
            Some("/grow-refused") => {
                // 64 MiB past a smaller cap: the growth is refused and the guest goes on.
                let mut hoard: Vec<u8> = Vec::new();
                let grew = hoard.try_reserve(black_box(64 << 20)).is_ok();
                respond(out, if grew { b"grew\n" } else { b"refused\n" });
            }
            Some("/sleep") => {
                wasi::clocks::monotonic_clock::subscribe_duration(1_000_000_000).block();
                respond(out, b"slept\n");
            }
            Some("/fetch") => {
                let header = |name: &str| {
                    let values = request.headers().get(&name.to_string());
                    values.first().map(|v| String::from_utf8_lossy(v).into_owned())
                };
                let (status, body) = fetch(&header("x-target").unwrap_or_default(), header("x-target-auth"));
                respond_with(out, status, body.as_bytes());
            }
            Some(path) if path.ends_with("/count") || path.ends_with("/count-slow") => {
                if INSTANCE.load(Ordering::Relaxed) == 0 {
                    INSTANCE.store(wasi::random::random::get_random_u64() | 1, Ordering::Relaxed);
                }
                let n = COUNT.fetch_add(1, Ordering::Relaxed) + 1;
                if path.ends_with("/count-slow") {
                    wasi::clocks::monotonic_clock::subscribe_duration(300_000_000).block();
                }
                respond(out, format!("{:x} {n}\n", INSTANCE.load(Ordering::Relaxed)).as_bytes());
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

/// GETs `url` (`http://authority/path`); the upstream status, or 502 with the error.
fn fetch(url: &str, auth: Option<String>) -> (u16, String) {
    use wasi::http::outgoing_handler;
    use wasi::http::types::{OutgoingRequest, Scheme};
    let Some(rest) = url.strip_prefix("http://") else {
        return (400, "x-target must be an http:// URL".into());
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let headers = Fields::new();
    if let Some(auth) = auth {
        let _ = headers.append(&"authorization".to_string(), &auth.into_bytes());
    }
    let request = OutgoingRequest::new(headers);
    let _ = request.set_scheme(Some(&Scheme::Http));
    let _ = request.set_authority(Some(authority));
    let _ = request.set_path_with_query(Some(if path.is_empty() { "/" } else { path }));
    let pending = match outgoing_handler::handle(request, None) {
        Ok(pending) => pending,
        Err(code) => return (502, format!("{code:?}")),
    };
    pending.subscribe().block();
    match pending.get() {
        Some(Ok(Ok(response))) => (response.status(), "upstream answered".into()),
        Some(Ok(Err(code))) => (502, format!("{code:?}")),
        other => (502, format!("{other:?}")),
    }
}

fn respond(out: ResponseOutparam, body_bytes: &[u8]) {
    respond_with(out, 200, body_bytes);
}

fn respond_with(out: ResponseOutparam, status: u16, body_bytes: &[u8]) {
    let response = OutgoingResponse::new(Fields::new());
    let _ = response.set_status_code(status);
    let Ok(body) = response.body() else { return };
    ResponseOutparam::set(out, Ok(response));
    if let Ok(stream) = body.write() {
        let _ = stream.blocking_write_and_flush(body_bytes);
    }
    let _ = OutgoingBody::finish(body, None);
}

wasi::http::proxy::export!(Misbehave);

//! The store's clock over HTTP: `GET /_edgekv/api/clock` reads it, `POST /_edgekv/api/clock` with
//! `{"advance": "90s"}` or `{"set": "<RFC 3339>"}` moves a manual clock forwards (a move back is
//! refused with 400 and changes nothing; a server on the system clock answers 409).

use crate::browser::answer::{json_body, ok, Failure};
use crate::Body;
use edgekv_store::clock::format_time;
use edgekv_store::{ClockError, ClockMove, Store};
use hyper::{Request, Response, StatusCode};
use serde::Deserialize;
use serde_json::json;

/// The largest move body: a duration or a time, with room for whitespace.
const MOVE_BODY_BYTES: u64 = 1024;

/// What a move body is.
const SHAPE: &str = r#"{"advance": "90s"} or {"set": "<RFC 3339 time>"}"#;

/// A move: exactly one of the two fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    advance: Option<String>,
    set: Option<String>,
}

/// `GET clock`: the mode and the time.
pub(crate) fn show(store: &Store) -> Result<Response<Body>, Failure> {
    ok(reading(store, store.now_ms()))
}

/// `POST clock`: moves a manual clock and answers the new time.
pub(crate) async fn advance(store: &Store, req: Request<Body>) -> Result<Response<Body>, Failure> {
    let to = match json_body::<Move>(req, MOVE_BODY_BYTES, SHAPE).await? {
        Some(Move {
            advance: Some(by),
            set: None,
        }) => ClockMove::by(&by),
        Some(Move {
            advance: None,
            set: Some(at),
        }) => ClockMove::to(&at),
        _ => return Err(invalid(format!("send {SHAPE}"))),
    };
    let now = to.and_then(|to| store.advance_clock(to)).map_err(refused)?;
    ok(reading(store, now))
}

fn reading(store: &Store, now_ms: i64) -> serde_json::Value {
    let mode = if store.clock_is_manual() {
        "manual"
    } else {
        "system"
    };
    json!({ "mode": mode, "now": format_time(now_ms), "now_ms": now_ms })
}

fn refused(e: ClockError) -> Failure {
    match e {
        ClockError::NotManual => {
            Failure::new(StatusCode::CONFLICT, "clock-not-manual", e.to_string())
        }
        ClockError::Backwards(_) => {
            Failure::new(StatusCode::BAD_REQUEST, "clock-backwards", e.to_string())
        }
        ClockError::BadDuration(_) | ClockError::BadTime(_) | ClockError::TooLate(_) => {
            invalid(e.to_string())
        }
    }
}

fn invalid(message: String) -> Failure {
    Failure::new(StatusCode::BAD_REQUEST, "invalid-request", message)
}

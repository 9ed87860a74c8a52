//! Multipart value writes as the Cloudflare dialect reads them (`PUT .../values/{key}` with a
//! `multipart/form-data` body): `multer::parse_boundary` on the Content-Type, then
//! `cloudflare::values::read_multipart` (our field loop and per-field reader over multer).
//!
//! Input: one byte of chunk size (0 = the whole body in one frame), the Content-Type up to the first
//! `\n`, then the body.
//!
//! Invariants:
//! - nothing panics and every call finishes;
//! - the outcome does not depend on how the body is split into frames;
//! - an accepted value and metadata are bytes of the body, copied as they are.
#![no_main]

use bytes::Bytes;
use edgekv_api::fuzzing::read_multipart;
use hyper::body::{Body, Frame};
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

/// A body of in-memory frames.
struct Frames(VecDeque<Bytes>);

impl Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(|b| Ok(Frame::data(b))))
    }
}

/// Runs a future whose every input is already in memory; it must never wait.
fn run<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("read_multipart waits forever on a body that is all in memory");
}

fn frames(body: &[u8], size: usize) -> Frames {
    let size = if size == 0 { body.len().max(1) } else { size };
    Frames(body.chunks(size).map(Bytes::copy_from_slice).collect())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, rest)) = data.split_first() else {
        return;
    };
    let split = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let content_type = String::from_utf8_lossy(&rest[..split]);
    let body = rest.get(split + 1..).unwrap_or_default();
    let Ok(boundary) = multer::parse_boundary(&*content_type) else {
        return;
    };
    let whole = run(read_multipart(frames(body, 0), boundary.clone()));
    let chunked = run(read_multipart(
        frames(body, chunk as usize),
        boundary.clone(),
    ));
    let bytewise = run(read_multipart(frames(body, 1), boundary));
    assert_eq!(whole, chunked, "chunks of {chunk} bytes change the outcome");
    assert_eq!(whole, bytewise, "1-byte chunks change the outcome");
    if let Ok((value, metadata)) = &whole {
        assert!(contains(body, value), "the value is not bytes of the body");
        if let Some(metadata) = metadata {
            assert!(
                contains(body, metadata.as_bytes()),
                "the metadata is not bytes of the body"
            );
        }
    }
});

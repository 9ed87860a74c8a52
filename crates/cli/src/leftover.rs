//! What a management request's handler left of its body. A dialect may answer before it reads the
//! body (an unknown namespace, the store unavailable, a refused credential). hyper cannot keep such
//! a connection open and closes it, and a socket closed with input still unread sends a reset,
//! which can destroy the answer before the client reads it: the client sees the connection closed
//! without a response. So the rest of a small body is read and dropped before the answer goes
//! out, within bounds, after which the connection is reusable too. A body past the bounds (a large
//! upload refused early, a client that stops sending) is left: hyper then closes the connection as
//! before.

use hyper::body::{Body, Bytes, Frame, Incoming, SizeHint};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// The most of an unread body that is read and dropped.
const DRAIN_BYTES: u64 = 1 << 20;
/// How long reading the rest may take.
const DRAIN_TIME: Duration = Duration::from_secs(1);

/// Where a request body that was dropped before its end is kept for [`Leftover::drain`].
#[derive(Default, Clone)]
pub struct Leftover(Arc<Mutex<Option<Incoming>>>);

impl Leftover {
    /// `body`, handing itself to this leftover if it is dropped before its end.
    pub fn watch(&self, body: Incoming) -> Watched {
        Watched {
            body: Some(body),
            leftover: self.clone(),
        }
    }

    /// Reads and drops what is left of the body, if it is small and arrives soon.
    pub async fn drain(&self) {
        let Some(mut body) = self.0.lock().unwrap_or_else(|e| e.into_inner()).take() else {
            return;
        };
        if body.size_hint().lower() > DRAIN_BYTES {
            return;
        }
        let read = async {
            let mut seen = 0u64;
            while let Some(frame) =
                std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
            {
                let Ok(frame) = frame else { return };
                seen += frame.data_ref().map_or(0, |d| d.len() as u64);
                if seen > DRAIN_BYTES {
                    return;
                }
            }
        };
        let _ = tokio::time::timeout(DRAIN_TIME, read).await;
    }
}

/// A request body watched by a [`Leftover`].
pub struct Watched {
    body: Option<Incoming>,
    leftover: Leftover,
}

impl Body for Watched {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) {
            self.body = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Incoming::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Incoming::size_hint)
    }
}

impl Drop for Watched {
    fn drop(&mut self) {
        if let Some(body) = self.body.take().filter(|b| !b.is_end_stream()) {
            *self.leftover.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(body);
        }
    }
}

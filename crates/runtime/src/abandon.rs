//! When a request is abandoned, and what that stops. A request is abandoned when its body does not
//! arrive whole (the client went away mid-body, or sent a malformed chunk: the guest's stream then
//! fails instead of closing), when its caller gives up on it (the front door's request timeout,
//! answered 408), or when its caller goes away before the guest answered and before the body
//! arrived whole. From then on the KV bindings refuse that request's writes, so a guest that treats
//! a failed body as its end cannot store a value the client never finished sending, and the guest
//! is cancelled if it has not answered yet. (A guest whose client hangs up after sending the whole
//! request runs on to its end, as under `wasmtime serve`.)
//!
//! The other direction: a response body dropped before its end (the connection failed, or a
//! client that stopped reading was cut off by the write timeout) cancels the guest still writing
//! it, which frees its instance slot at once instead of at its deadline.

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Whether a request was abandoned, and whether its body arrived whole. Shared by its body, its
/// instance's bindings and its caller, which may abandon it.
#[derive(Debug, Clone, Default)]
pub struct Abandoned(Arc<Fate>);

#[derive(Debug, Default)]
struct Fate {
    abandoned: AtomicBool,
    body_whole: AtomicBool,
}

impl Abandoned {
    /// Marks the request abandoned: its writes are refused from now on, and a guest that has not
    /// answered yet is cancelled once its caller stops polling it.
    pub fn set(&self) {
        self.0.abandoned.store(true, Ordering::Release);
    }

    /// Whether the request was abandoned.
    pub fn is_set(&self) -> bool {
        self.0.abandoned.load(Ordering::Acquire)
    }

    /// Whether the whole request body has arrived.
    pub(crate) fn body_whole(&self) -> bool {
        self.0.body_whole.load(Ordering::Acquire)
    }

    fn set_body_whole(&self) {
        self.0.body_whole.store(true, Ordering::Release);
    }
}

/// What a write of an abandoned request is refused with.
pub const REFUSED_WRITE: &str =
    "the request was abandoned (its body did not arrive whole, or its client stopped waiting): writes are refused";

pin_project_lite::pin_project! {
    /// A request body that marks its request abandoned when it fails, and whole at its end.
    pub struct WatchedBody<B> {
        #[pin]
        inner: B,
        abandoned: Abandoned,
    }
}

impl<B: Body> WatchedBody<B> {
    pub fn new(inner: B, abandoned: Abandoned) -> Self {
        if inner.is_end_stream() {
            abandoned.set_body_whole();
        }
        WatchedBody { inner, abandoned }
    }
}

impl<B: Body<Data = Bytes>> Body for WatchedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Err(_))) => this.abandoned.set(),
            Poll::Ready(None) => this.abandoned.set_body_whole(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Creates the pair that cancels a guest when its response body is dropped before its end: the
/// sender goes to [`GuardedBody::new`]; dropped without ever guarding a body (the guest never
/// answered), it cancels nothing.
pub fn cancel_on_early_drop() -> (oneshot::Sender<()>, Cancelled) {
    let (sender, receiver) = oneshot::channel();
    (sender, Cancelled(receiver))
}

/// The cancel signal a response body holds: sent if dropped before the body's end.
struct Armed(Option<oneshot::Sender<()>>);

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(sender) = self.0.take() {
            let _ = sender.send(());
        }
    }
}

/// Resolves when the guest's response body was dropped before its end; otherwise never.
pub struct Cancelled(oneshot::Receiver<()>);

impl Cancelled {
    pub async fn wait(self) {
        if self.0.await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

pin_project_lite::pin_project! {
    /// A guest's response body that cancels the guest if it is dropped before its end.
    pub struct GuardedBody<B> {
        #[pin]
        inner: B,
        guard: Armed,
    }
}

impl<B> GuardedBody<B> {
    pub fn new(inner: B, cancel: oneshot::Sender<()>) -> Self {
        GuardedBody {
            inner,
            guard: Armed(Some(cancel)),
        }
    }
}

impl<B: Body<Data = Bytes>> Body for GuardedBody<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = &polled {
            // The end: the guest may go on (say, with work after its response). The sender,
            // dropped unsent, closes the channel, which `Cancelled` reads as "never".
            this.guard.0.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full};
    use std::future::Future;

    /// A body of the given frames, then its end.
    struct Frames(std::collections::VecDeque<Result<Frame<Bytes>, std::io::Error>>);

    impl Body for Frames {
        type Data = Bytes;
        type Error = std::io::Error;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
            Poll::Ready(self.0.pop_front())
        }
    }

    fn data(bytes: &'static [u8]) -> Result<Frame<Bytes>, std::io::Error> {
        Ok(Frame::data(Bytes::from_static(bytes)))
    }

    #[tokio::test]
    async fn a_failing_body_abandons_its_request() {
        let abandoned = Abandoned::default();
        let gone = Err(std::io::Error::other("the client went away"));
        let body = WatchedBody::new(Frames([data(b"part"), gone].into()), abandoned.clone());
        assert!(body.collect().await.is_err());
        assert!(abandoned.is_set() && !abandoned.body_whole());
    }

    #[tokio::test]
    async fn a_whole_body_does_not() {
        let abandoned = Abandoned::default();
        let body = WatchedBody::new(Frames([data(b"all")].into()), abandoned.clone());
        assert!(!abandoned.body_whole());
        assert_eq!(body.collect().await.unwrap().to_bytes(), "all");
        assert!(!abandoned.is_set() && abandoned.body_whole());
        let empty = Abandoned::default();
        let _body = WatchedBody::new(http_body_util::Empty::<Bytes>::new(), empty.clone());
        assert!(empty.body_whole(), "a request without a body has all of it");
    }

    #[tokio::test]
    async fn a_guard_never_attached_to_a_body_cancels_nothing() {
        let (guard, cancelled) = cancel_on_early_drop();
        drop(guard);
        let mut wait = std::pin::pin!(cancelled.wait());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
    }

    #[tokio::test]
    async fn a_body_dropped_early_cancels_and_one_read_to_its_end_does_not() {
        let (guard, cancelled) = cancel_on_early_drop();
        drop(GuardedBody::new(Full::new(Bytes::from_static(b"x")), guard));
        cancelled.wait().await; // resolves

        let (guard, cancelled) = cancel_on_early_drop();
        let body = GuardedBody::new(Full::new(Bytes::from_static(b"x")), guard);
        body.collect().await.unwrap();
        let mut wait = std::pin::pin!(cancelled.wait());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(
            wait.as_mut().poll(&mut cx).is_pending(),
            "a finished body must not cancel its guest"
        );
    }
}

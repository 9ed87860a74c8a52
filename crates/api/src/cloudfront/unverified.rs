//! Request bodies read before their signature is verified. A signature covers the body, so the
//! body must be held until it is checked; anyone who knows the (non-secret) access key id gets that
//! far. Each body is capped, and all of them together draw on one budget of bytes, taken as the
//! bytes arrive and given back when the body is dropped or verified.
//!
//! A body whose declared length (`Content-Length`) is over its cap is refused before a byte of
//! it is read, as `rest::body` refuses one.
//!
//! When the budget is spent, a request is refused rather than made to wait: a waiting request would
//! keep the bytes it already holds, and requests waiting on each other's bytes could wait forever.

use crate::rest::body::{declared_length, BodyError};
use crate::BoxError;
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::HeaderMap;
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Why an unverified body was not read.
#[derive(Debug, thiserror::Error)]
pub enum Unread {
    /// Over its cap, or it did not arrive whole.
    #[error(transparent)]
    Body(#[from] BodyError),
    /// The bytes all unverified bodies may hold are taken.
    #[error("too many unverified request bodies are being received at once")]
    BudgetSpent,
}

/// The bytes all unverified bodies may hold together.
#[derive(Debug, Clone)]
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
}

/// A body read whole, holding its share of the budget until it is dropped or `verified`.
#[derive(Debug)]
pub struct Unverified {
    pub bytes: Bytes,
    _held: Option<OwnedSemaphorePermit>,
}

impl Unverified {
    /// The body, its bytes no longer counted against the budget.
    pub fn verified(self) -> Bytes {
        self.bytes
    }
}

impl BodyBudget {
    pub fn new(bytes: usize) -> Self {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(bytes.min(Semaphore::MAX_PERMITS))),
        }
    }

    /// Reads `body`, of a request with `headers`, whole: at most `limit` bytes of it, none at
    /// all when it declares more.
    pub async fn read<B>(
        &self,
        headers: &HeaderMap,
        body: B,
        limit: u64,
    ) -> Result<Unverified, Unread>
    where
        B: hyper::body::Body<Data = Bytes>,
        B::Error: Into<BoxError>,
    {
        if let Some(length) = declared_length(headers).filter(|&n| n > limit) {
            return Err(BodyError::TooLarge { limit, length }.into());
        }
        let max = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut body = std::pin::pin!(body);
        // Chunks as received, joined once complete: a growing buffer would hold up to twice the
        // bytes it counts while it waits.
        let mut chunks: Vec<Bytes> = Vec::new();
        let mut len = 0;
        let mut held: Option<OwnedSemaphorePermit> = None;
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| BodyError::Incomplete(e.into()))?;
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            if len + chunk.len() > max {
                return Err(BodyError::TooLarge {
                    limit,
                    length: (len + chunk.len()) as u64,
                }
                .into());
            }
            let more = u32::try_from(chunk.len())
                .ok()
                .and_then(|n| self.bytes.clone().try_acquire_many_owned(n).ok())
                .ok_or(Unread::BudgetSpent)?;
            match held.as_mut() {
                Some(held) => held.merge(more),
                None => held = Some(more),
            }
            len += chunk.len();
            chunks.push(chunk);
        }
        let bytes = match chunks.len() {
            0 => Bytes::new(),
            1 => chunks.swap_remove(0),
            _ => chunks.concat().into(),
        };
        Ok(Unverified { bytes, _held: held })
    }

    #[cfg(test)]
    fn available(&self) -> usize {
        self.bytes.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that arrives in the given chunks.
    struct Chunked(VecDeque<&'static [u8]>);

    impl hyper::body::Body for Chunked {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            Poll::Ready(
                self.0
                    .pop_front()
                    .map(|c| Ok(Frame::data(Bytes::from_static(c)))),
            )
        }
    }

    fn chunked(chunks: &[&'static [u8]]) -> Chunked {
        Chunked(chunks.iter().copied().collect())
    }

    /// No headers: no declared length.
    fn none() -> HeaderMap {
        HeaderMap::new()
    }

    /// A body that must not be polled: the declared length decides first.
    struct Unpolled;

    impl hyper::body::Body for Unpolled {
        type Data = Bytes;
        type Error = std::convert::Infallible;

        fn poll_frame(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
            panic!("a body declared too large was read")
        }
    }

    #[tokio::test]
    async fn a_body_declared_over_its_cap_is_refused_unread() {
        let budget = BodyBudget::new(100);
        let mut headers = HeaderMap::new();
        headers.insert(hyper::header::CONTENT_LENGTH, 6.into());
        let read = budget.read(&headers, Unpolled, 5).await;
        assert!(matches!(
            read,
            Err(Unread::Body(BodyError::TooLarge {
                limit: 5,
                length: 6
            }))
        ));
        assert_eq!(budget.available(), 100);
    }

    #[tokio::test]
    async fn bodies_hold_the_budget_until_dropped_or_verified() {
        let budget = BodyBudget::new(10);
        let first = budget
            .read(&none(), chunked(&[b"abc", b"def"]), 100)
            .await
            .unwrap();
        assert_eq!(&first.bytes[..], b"abcdef");
        assert_eq!(budget.available(), 4);
        let refused = budget.read(&none(), chunked(&[b"xy", b"zzz"]), 100).await;
        assert!(matches!(refused, Err(Unread::BudgetSpent)));
        assert_eq!(
            budget.available(),
            4,
            "a refused body gives back what it took"
        );
        assert_eq!(first.verified(), Bytes::from_static(b"abcdef"));
        assert_eq!(budget.available(), 10);
        let second = budget
            .read(&none(), Full::new(Bytes::from_static(b"0123456789")), 10)
            .await;
        assert_eq!(&second.unwrap().bytes[..], b"0123456789");
        assert_eq!(budget.available(), 10);
    }

    #[tokio::test]
    async fn a_body_over_its_cap_is_refused_and_gives_its_bytes_back() {
        let budget = BodyBudget::new(100);
        let read = budget.read(&none(), chunked(&[b"abc", b"def"]), 5).await;
        assert!(matches!(
            read,
            Err(Unread::Body(BodyError::TooLarge { limit: 5, .. }))
        ));
        assert_eq!(budget.available(), 100);
        let empty = budget
            .read(&none(), Full::new(Bytes::new()), 5)
            .await
            .unwrap();
        assert!(empty.bytes.is_empty());
    }
}

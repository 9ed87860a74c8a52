//! Reading a whole request body under a size limit, telling the two ways it can fail apart: the
//! body is larger than the limit (the client sent too much: 413), or it never arrived whole (a
//! malformed chunked encoding, a client gone mid-body: 400). Each dialect words both in its own
//! error format; nothing is written from a body that failed.

use crate::BoxError;
use bytes::Bytes;
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than the limit arrived.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit the body exceeded, in bytes.
        limit: usize,
    },
    /// The body broke off or was malformed before its end.
    #[error("the request body did not arrive whole: {0}")]
    Incomplete(BoxError),
}

/// The whole body, if it is at most `limit` bytes and arrives intact.
pub async fn read_whole<B>(body: B, limit: usize) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Err(e) => Err(BodyError::Incomplete(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// A body that sends `first`, then fails as a reset connection does.
    struct Broken(Option<Bytes>);

    impl hyper::body::Body for Broken {
        type Data = Bytes;
        type Error = BoxError;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Ready(Some(match self.0.take() {
                Some(first) => Ok(Frame::data(first)),
                None => Err("connection reset mid-body".into()),
            }))
        }
    }

    fn broken(first: &'static [u8]) -> Broken {
        Broken(Some(Bytes::from_static(first)))
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let body = read_whole(Full::new(Bytes::from_static(b"abcd")), 4).await;
        assert_eq!(body.unwrap(), Bytes::from_static(b"abcd"));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_too_large() {
        let body = read_whole(Full::new(Bytes::from_static(b"abcde")), 4).await;
        assert!(matches!(body, Err(BodyError::TooLarge { limit: 4 })));
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_is_incomplete_not_too_large() {
        let body = read_whole(broken(b"ab"), 4).await;
        assert!(matches!(body, Err(BodyError::Incomplete(_))), "{body:?}");
    }
}

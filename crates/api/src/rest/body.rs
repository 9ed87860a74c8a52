//! Reading a whole request body under a size limit, telling the two ways it can fail apart: the
//! body is larger than the limit (the client sent too much: 413), or it never arrived whole (a
//! malformed chunked encoding, a client gone mid-body: 400). A body whose Content-Length is already
//! over the limit is refused before a byte of it is read; one that grows past it is refused as soon
//! as it does. Each dialect words both in its own error format; nothing is written from a body that
//! failed.

use crate::BoxError;
use bytes::{Buf as _, Bytes};
use http_body_util::BodyExt;
use hyper::{HeaderMap, Request};

/// Why a body could not be read whole.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More than the limit was declared or arrived.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The limit the body exceeded, in bytes.
        limit: u64,
        /// The length the body declared, or the bytes that had arrived when it passed the limit
        /// (so at least `limit + 1`).
        length: u64,
    },
    /// The body broke off or was malformed before its end.
    #[error("the request body did not arrive whole: {0}")]
    Incomplete(BoxError),
}

/// The body length a request declares (`Content-Length`), if any.
pub fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(hyper::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// The whole body of a request with these `headers`, if it is at most `limit` bytes and arrives
/// intact. The bytes are gathered into one buffer as they arrive, so the body is held once.
pub async fn read_whole<B>(headers: &HeaderMap, body: B, limit: u64) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let declared = declared_length(headers);
    if let Some(length) = declared.filter(|&n| n > limit) {
        return Err(BodyError::TooLarge { limit, length });
    }
    let mut body = std::pin::pin!(body);
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Incomplete(e.into()))?;
        let Ok(chunk) = frame.into_data() else {
            continue;
        };
        let length = (bytes.len() + chunk.remaining()) as u64;
        if length > limit {
            return Err(BodyError::TooLarge { limit, length });
        }
        bytes.extend_from_slice(chunk.chunk());
    }
    Ok(Bytes::from(bytes))
}

/// The whole body of `req`, as `read_whole` reads it.
pub async fn read_request<B>(req: Request<B>, limit: u64) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = req.into_parts();
    read_whole(&parts.headers, body, limit).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;
    use hyper::body::Frame;
    use hyper::header::{HeaderValue, CONTENT_LENGTH};
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

    fn full(bytes: &'static [u8]) -> Full<Bytes> {
        Full::new(Bytes::from_static(bytes))
    }

    fn declaring(length: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_LENGTH, HeaderValue::from(length));
        headers
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let body = read_whole(&declaring(4), full(b"abcd"), 4).await;
        assert_eq!(body.unwrap(), Bytes::from_static(b"abcd"));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_too_large() {
        let body = read_whole(&HeaderMap::new(), full(b"abcde"), 4).await;
        assert!(matches!(
            body,
            Err(BodyError::TooLarge {
                limit: 4,
                length: 5
            })
        ));
    }

    /// The declared length decides before the body is polled: a broken body that declares too
    /// much is too large, not incomplete.
    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_unread() {
        let body = read_whole(&declaring(5), broken(b""), 4).await;
        assert!(
            matches!(
                body,
                Err(BodyError::TooLarge {
                    limit: 4,
                    length: 5
                })
            ),
            "{body:?}"
        );
    }

    #[tokio::test]
    async fn a_body_that_breaks_off_is_incomplete_not_too_large() {
        let body = read_whole(&HeaderMap::new(), broken(b"ab"), 4).await;
        assert!(matches!(body, Err(BodyError::Incomplete(_))), "{body:?}");
    }
}

//! Guest stdout and stderr, sent to the server log line by line, tagged with the request id (the
//! current one's, for an instance kept between requests).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// Longest line kept before it is logged in pieces.
const MAX_LINE: usize = 8 * 1024;

/// One output stream of one instance.
#[derive(Clone)]
pub struct GuestLog {
    /// The id of the request the instance serves, shared by its stdout and stderr.
    request_id: Arc<Mutex<Arc<str>>>,
    stream: &'static str,
    pending: Arc<Mutex<Vec<u8>>>,
}

impl GuestLog {
    /// Stdout and stderr of an instance serving `request_id`.
    pub fn pair(request_id: Arc<str>) -> [GuestLog; 2] {
        let request_id = Arc::new(Mutex::new(request_id));
        ["stdout", "stderr"].map(|stream| GuestLog {
            request_id: request_id.clone(),
            stream,
            pending: Arc::default(),
        })
    }

    /// Tags the lines of both streams with `request_id` from now on, after logging what the
    /// previous request left unfinished with its own.
    pub fn next_request(pair: &[GuestLog; 2], request_id: Arc<str>) {
        for log in pair {
            let pending =
                std::mem::take(&mut *log.pending.lock().unwrap_or_else(|e| e.into_inner()));
            if !pending.is_empty() {
                log.emit(&pending);
            }
        }
        *pair[0].request_id.lock().unwrap_or_else(|e| e.into_inner()) = request_id;
    }

    fn write(&self, bytes: &[u8]) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.extend_from_slice(bytes);
        loop {
            let end = match pending.iter().position(|b| *b == b'\n') {
                Some(newline) => newline + 1,
                None if pending.len() > MAX_LINE => MAX_LINE,
                None => break,
            };
            let line: Vec<u8> = pending.drain(..end).collect();
            self.emit(&line);
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches(['\n', '\r']);
        let request_id = self
            .request_id
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        tracing::info!(target: "guest", request_id = &*request_id, stream = self.stream, "{text}");
    }
}

impl Drop for GuestLog {
    fn drop(&mut self) {
        if Arc::strong_count(&self.pending) == 1 {
            let pending =
                std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
            if !pending.is_empty() {
                self.emit(&pending);
            }
        }
    }
}

impl IsTerminal for GuestLog {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestLog {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for GuestLog {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

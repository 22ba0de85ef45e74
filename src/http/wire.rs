//! The answers hyper writes by itself, before any request reaches the router: a request head
//! over the size cap (431), a head it cannot parse (400: a duplicate or negative
//! `Content-Length`, a NUL in a header) or a URI too long (414). Hyper writes those with an
//! empty body and closes the connection; this wrapper around the socket rewrites them into the
//! envelope on their way out, so a client sees the same shape as for every other answer.
//!
//! An automatic answer is recognised by its shape: a 400, 414 or 431 head with no
//! `content-type`, and nothing after it. Every answer of the router carries a content type, so
//! none of them is ever touched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection's byte stream whose automatic error answers are rewritten into the envelope.
pub struct EnvelopedErrors<T> {
    inner: T,
    /// A rewritten answer not yet fully written, and how much of it was.
    pending: Vec<u8>,
    written: usize,
}

impl<T> EnvelopedErrors<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The envelope answer for hyper's automatic `head`, or `None` when it is not one.
fn rewrite(head: &[u8]) -> Option<Vec<u8>> {
    let text = std::str::from_utf8(head).ok()?;
    let status_line = text.strip_suffix("\r\n\r\n")?.lines().next()?;
    let status = status_line.strip_prefix("HTTP/1.1 ")?.get(..3)?;
    let message = match status {
        "400" => "Malformed request.",
        "414" => "Request URI too long.",
        "431" => "Request header fields too large.",
        _ => return None,
    };
    if text.to_ascii_lowercase().contains("\r\ncontent-type:") {
        return None;
    }
    let body = serde_json::json!({
        "status_code": status.parse::<u16>().ok()?,
        "errors": {"detail": [message]},
        "data": {},
    })
    .to_string();
    Some(
        format!(
            "{status_line}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\nx-content-type-options: nosniff\r\ncache-control: no-store\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<T: AsyncWrite + Unpin> EnvelopedErrors<T> {
    /// Writes what is left of a rewritten answer.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n =
                ready!(Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for EnvelopedErrors<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for EnvelopedErrors<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.drain(cx))?;
        if let Some(answer) = rewrite(buf) {
            // Taken whole; written out here or by the flush that follows.
            self.pending = answer;
            if let Poll::Ready(Err(err)) = self.drain(cx) {
                return Poll::Ready(Err(err));
            }
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.drain(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_bodiless_error_heads_are_rewritten() {
        let automatic =
            b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";
        let text = rewrite(automatic)
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .unwrap_or_default();
        assert!(text.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"));
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(body).ok(),
            Some(serde_json::json!({"status_code": 431,
                "errors": {"detail": ["Request header fields too large."]}, "data": {}}))
        );
        let ours = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n";
        assert!(rewrite(ours).is_none());
        assert!(rewrite(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
    }
}

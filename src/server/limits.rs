//! What one client can hold of the server: connections, request-body bytes in flight, and the
//! time it may take to send a body. Beyond each limit the answer is immediate and says why, so
//! slow or greedy clients cannot starve the API server's reviews.
//!
//! - Connections: at most `max_connections` at once (TLS handshakes included); one more is
//!   closed as soon as it is accepted, and counted.
//! - Bodies: read as they arrive (never reserved from `Content-Length`), each at most
//!   [`BODY_LIMIT`] and within `body_timeout`; all bodies being read share `body_budget` bytes.
//!   Too large: 413; too slow: 408; over the shared budget: 503. Each with a JSON `error` and
//!   `Connection: close`.
//! - Draining: once shutdown starts, every response carries `Connection: close`, so keep-alive
//!   clients move to another replica before this one stops accepting.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_server::accept::Accept;
use futures::StreamExt as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The largest review body accepted: 8 MiB. The API server takes request bodies up to 3 MiB and
/// etcd stores objects up to 1.5 MiB, and an AdmissionReview carries both the new object and the
/// old one, re-encoded as JSON (a protobuf request's bytes fields grow by a third in base64):
/// about 4 + 2 MiB, and headroom for the review's own fields.
pub const BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The server's limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections open at once.
    pub max_connections: usize,
    /// Bytes of request bodies being read at once, across connections.
    pub body_budget: usize,
    /// Time to send a whole body, from the end of the headers.
    pub body_timeout: Duration,
}

/// The shared state of the limits.
#[derive(Debug)]
pub struct Guard {
    limits: Limits,
    connections: Arc<Semaphore>,
    in_flight: AtomicUsize,
    draining: AtomicBool,
    /// Connections closed at once because `max_connections` were open.
    pub refused_connections: AtomicU64,
    /// Requests answered 408, 413 or 503 by the body limits.
    pub refused_bodies: AtomicU64,
}

impl Guard {
    /// The state for `limits`.
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            in_flight: AtomicUsize::new(0),
            draining: AtomicBool::new(false),
            refused_connections: AtomicU64::new(0),
            refused_bodies: AtomicU64::new(0),
        })
    }

    /// From now on every response asks its client to close the connection.
    pub fn drain(&self) {
        self.draining.store(true, Ordering::Release);
    }

    /// Whether shutdown has started.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }

    /// Connections open now.
    pub fn open_connections(&self) -> usize {
        self.limits.max_connections - self.connections.available_permits()
    }

    /// Body bytes being read or decided now.
    pub fn body_bytes_in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    fn reserve(self: &Arc<Self>, n: usize) -> bool {
        self.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|total| *total <= self.limits.body_budget)
            })
            .is_ok()
    }
}

/// Bytes of the shared body budget, given back when dropped (also when the request is dropped
/// half-way, for example by a closed connection).
struct Reserved {
    guard: Arc<Guard>,
    bytes: usize,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.guard.in_flight.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

fn refuse(guard: &Guard, code: StatusCode, message: &str) -> Response {
    guard.refused_bodies.fetch_add(1, Ordering::Relaxed);
    let mut r = (code, axum::Json(serde_json::json!({ "error": message }))).into_response();
    r.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// Middleware: reads the body within the limits, then runs the route with it; while draining,
/// asks the client to close the connection after the response.
pub async fn bodies(State(guard): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let declared = parts.headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > BODY_LIMIT) {
        return refuse(
            &guard,
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("the body is larger than {BODY_LIMIT} bytes, the largest review the API server can send"),
        );
    }
    let mut reserved = Reserved { guard: Arc::clone(&guard), bytes: 0 };
    let mut buf = Vec::new();
    let mut stream = body.into_data_stream();
    let deadline = tokio::time::Instant::now() + guard.limits.body_timeout;
    loop {
        let chunk = match tokio::time::timeout_at(deadline, stream.next()).await {
            Err(_) => {
                return refuse(
                    &guard,
                    StatusCode::REQUEST_TIMEOUT,
                    &format!("the body did not arrive within {:?}", guard.limits.body_timeout),
                );
            }
            Ok(None) => break,
            Ok(Some(Err(e))) => return refuse(&guard, StatusCode::BAD_REQUEST, &format!("reading the body: {e}")),
            Ok(Some(Ok(chunk))) => chunk,
        };
        if buf.len() + chunk.len() > BODY_LIMIT {
            return refuse(
                &guard,
                StatusCode::PAYLOAD_TOO_LARGE,
                &format!("the body is larger than {BODY_LIMIT} bytes, the largest review the API server can send"),
            );
        }
        if !guard.reserve(chunk.len()) {
            return refuse(
                &guard,
                StatusCode::SERVICE_UNAVAILABLE,
                "too many request bytes are being received at once; retry shortly",
            );
        }
        reserved.bytes += chunk.len();
        buf.extend_from_slice(&chunk);
    }
    let mut response = next.run(Request::from_parts(parts, Body::from(buf))).await;
    drop(reserved);
    if guard.is_draining() {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// An acceptor that holds one of `max_connections` permits for each connection's life, and
/// closes a connection at once when none is left.
#[derive(Clone)]
pub struct Limited<A> {
    inner: A,
    guard: Arc<Guard>,
}

impl<A> Limited<A> {
    /// Wraps `inner` (the TLS acceptor).
    pub fn new(inner: A, guard: Arc<Guard>) -> Self {
        Self { inner, guard }
    }
}

impl<I, S, A> Accept<I, S> for Limited<A>
where
    A: Accept<I, S> + Clone + Send + 'static,
    A::Future: Send,
    I: Send + 'static,
    S: Send + 'static,
{
    type Stream = Held<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn std::future::Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, stream: I, service: S) -> Self::Future {
        let permit = Arc::clone(&self.guard.connections).try_acquire_owned();
        let (inner, guard) = (self.inner.clone(), Arc::clone(&self.guard));
        Box::pin(async move {
            let Ok(permit) = permit else {
                guard.refused_connections.fetch_add(1, Ordering::Relaxed);
                return Err(io::Error::other("too many connections"));
            };
            let (stream, service) = inner.accept(stream, service).await?;
            Ok((Held { inner: stream, _permit: permit }, service))
        })
    }
}

/// A connection and the permit it holds.
pub struct Held<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Held<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Held<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

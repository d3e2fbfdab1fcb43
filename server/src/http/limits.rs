//! What a listener enforces on each connection and request, with Vault's
//! listener options and defaults, so a client cannot hold a connection
//! (and what it pins) forever:
//!
//! - `http_read_header_timeout` (10 s): a request's head must arrive
//!   whole within it, counted from the connection's start or, on a kept-
//!   alive connection, from the first byte of the next request;
//! - `http_idle_timeout` (5 min): a kept-alive connection with no request
//!   is closed after it;
//! - `http_read_timeout` (30 s): a request's body must arrive within it;
//! - `http_write_timeout` (0, none): a response the client does not read
//!   for that long closes the connection;
//! - `max_request_duration` (90 s): a request not answered by then gets a
//!   500. Its work is not cut off half-way (that could leave a change
//!   half-made): it finishes in the background.
//!
//! The connection's side is a `Watch`: the connection's I/O (`Watched`)
//! and its requests tell it what is happening, and the connection's task
//! closes the connection when `Watch::expired` says so.

use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Vault's defaults (listener `tcp`).
pub const DEFAULT_READ_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5 * 60);
pub const DEFAULT_MAX_REQUEST_DURATION: Duration = Duration::from_secs(90);
/// Vault's default `max_request_size`.
pub const DEFAULT_MAX_REQUEST_SIZE: usize = 32 * 1024 * 1024;

/// A listener's limits. A zero duration means no limit, as in Vault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_request_size: usize,
    pub max_request_duration: Duration,
    pub read_header_timeout: Duration,
    pub read_timeout: Duration,
    pub write_timeout: Duration,
    pub idle_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_size: DEFAULT_MAX_REQUEST_SIZE,
            max_request_duration: DEFAULT_MAX_REQUEST_DURATION,
            read_header_timeout: DEFAULT_READ_HEADER_TIMEOUT,
            read_timeout: DEFAULT_READ_TIMEOUT,
            write_timeout: Duration::ZERO,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// `d` unless it is zero (no limit).
pub fn limit(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

/// Where a connection is.
#[derive(Debug, Clone, Copy)]
enum Phase {
    /// Waiting for a request's head since then (a new connection, or bytes
    /// of a next request arrived).
    Head(Instant),
    /// Nothing to do since then.
    Idle(Instant),
    /// This many requests are being served.
    Busy(usize),
}

struct State {
    phase: Phase,
    /// HTTP/2 (its preface was seen): frames arrive without requests, so
    /// reads only count as activity, never as a request's head.
    h2: bool,
    /// Whether the first read was looked at for the HTTP/2 preface.
    sniffed: bool,
    /// A write has been waiting for the client since then.
    write_blocked: Option<Instant>,
}

/// One connection's timers.
pub struct Watch {
    limits: Limits,
    state: Mutex<State>,
    /// Woken when a deadline may have moved earlier.
    changed: Notify,
}

const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0";

impl Watch {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            state: Mutex::new(State {
                phase: Phase::Head(Instant::now()),
                h2: false,
                sniffed: false,
                write_blocked: None,
            }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Poisoned only by a panic between two field writes of plain
        // values; the state is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived (`first`: the start of what was read).
    fn on_read(&self, first: &[u8]) {
        let mut s = self.lock();
        if !s.sniffed {
            s.sniffed = true;
            s.h2 = first.starts_with(H2_PREFACE);
        }
        // No wake-up of the connection's guard here (that would cost every
        // request on a kept-alive connection a poll): it looks again at
        // least every `recheck()`.
        match s.phase {
            Phase::Idle(_) if s.h2 => s.phase = Phase::Idle(Instant::now()),
            Phase::Idle(_) => s.phase = Phase::Head(Instant::now()),
            Phase::Head(_) | Phase::Busy(_) => {}
        }
    }

    fn on_write(&self, pending: bool) {
        if limit(self.limits.write_timeout).is_none() {
            return;
        }
        let mut s = self.lock();
        match (pending, s.write_blocked) {
            (true, None) => {
                s.write_blocked = Some(Instant::now());
                drop(s);
                self.changed.notify_one();
            }
            (false, Some(_)) => s.write_blocked = None,
            _ => {}
        }
    }

    /// A request's handling begins; ends when the guard drops.
    pub fn request(self: &std::sync::Arc<Self>) -> RequestGuard {
        let mut s = self.lock();
        s.phase = match s.phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        };
        RequestGuard(std::sync::Arc::clone(self))
    }

    /// When the connection must be closed if nothing changes; None: no
    /// deadline now.
    pub fn deadline(&self) -> Option<Instant> {
        let s = self.lock();
        let phase = match s.phase {
            Phase::Head(t) => limit(self.limits.read_header_timeout).map(|d| t + d),
            Phase::Idle(t) => limit(self.limits.idle_timeout).map(|d| t + d),
            Phase::Busy(_) => None,
        };
        let write = s
            .write_blocked
            .zip(limit(self.limits.write_timeout))
            .map(|(t, d)| t + d);
        match (phase, write) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Waits until a deadline may have moved earlier than `recheck`
    /// would find it (a write started to block).
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// How often the guard looks again when nothing woke it: the shortest
    /// limit, so a deadline set without a wake-up (a request's head
    /// starting, a request ending) is missed by at most that much.
    fn recheck(&self) -> Duration {
        [
            self.limits.read_header_timeout,
            self.limits.idle_timeout,
            self.limits.write_timeout,
        ]
        .into_iter()
        .filter(|d| !d.is_zero())
        .min()
        .unwrap_or(Duration::from_secs(60))
    }
}

/// Marks a request in progress on its connection.
pub struct RequestGuard(std::sync::Arc<Watch>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut s = self.0.lock();
        s.phase = match s.phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
    }
}

/// A connection's stream, reporting its reads and blocked writes.
pub struct Watched<T> {
    inner: T,
    watch: std::sync::Arc<Watch>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, watch: std::sync::Arc<Watch>) -> Self {
        Self { inner, watch }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = r {
            let read = &buf.filled()[before..];
            if !read.is_empty() {
                self.watch.on_read(read);
            }
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.watch.on_write(r.is_pending());
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.watch.on_write(r.is_pending());
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.watch.on_write(r.is_pending());
        r
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Runs `conn` (a connection being served) until it ends or its watch
/// says its time is up; then it is dropped, which closes it.
pub async fn guard(conn: impl std::future::Future, watch: &Watch) {
    tokio::pin!(conn);
    let recheck = watch.recheck();
    loop {
        let next = Instant::now() + recheck;
        let wake = watch.deadline().map_or(next, |d| d.min(next));
        let changed = watch.changed();
        tokio::select! {
            _ = &mut conn => return,
            _ = changed => {}
            _ = tokio::time::sleep_until(wake) => {
                if watch.deadline().is_some_and(|d| d <= Instant::now()) {
                    tracing::debug!("closing a connection past its read, idle or write timeout");
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn limits() -> Limits {
        Limits {
            read_header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            write_timeout: Duration::from_secs(20),
            ..Limits::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn deadlines_follow_the_connection() {
        let start = Instant::now();
        let w = Arc::new(Watch::new(limits()));
        // A new connection must send a request head within 10 s.
        assert_eq!(w.deadline(), Some(start + Duration::from_secs(10)));
        w.on_read(b"GET /v1/sys/hea");
        assert_eq!(w.deadline(), Some(start + Duration::from_secs(10)));
        let req = w.request();
        assert_eq!(w.deadline(), None, "no deadline while serving");
        tokio::time::advance(Duration::from_secs(60)).await;
        drop(req);
        let idle = Instant::now();
        assert_eq!(w.deadline(), Some(idle + Duration::from_secs(300)));
        // The next request's first bytes start its head timeout.
        tokio::time::advance(Duration::from_secs(100)).await;
        w.on_read(b"G");
        assert_eq!(w.deadline(), Some(Instant::now() + Duration::from_secs(10)));
        // Two requests at once (HTTP/2 streams): busy until both end.
        let (a, b) = (w.request(), w.request());
        drop(a);
        assert_eq!(w.deadline(), None);
        drop(b);
        assert!(w.deadline().is_some());
        // A write the client does not take.
        let req = w.request();
        w.on_write(true);
        assert_eq!(w.deadline(), Some(Instant::now() + Duration::from_secs(20)));
        w.on_write(false);
        assert_eq!(w.deadline(), None);
        drop(req);
    }

    #[tokio::test(start_paused = true)]
    async fn http2_frames_keep_a_connection_idle_not_reading() {
        let w = Arc::new(Watch::new(limits()));
        w.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        drop(w.request());
        tokio::time::advance(Duration::from_secs(100)).await;
        w.on_read(b"\x00\x00\x08\x06");
        assert_eq!(
            w.deadline(),
            Some(Instant::now() + Duration::from_secs(300))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn guard_closes_a_connection_that_never_sends_its_head() {
        let w = Arc::new(Watch::new(limits()));
        let start = Instant::now();
        guard(std::future::pending::<()>(), &w).await;
        assert_eq!(Instant::now() - start, Duration::from_secs(10));
        // Zero means no limit.
        let none = Watch::new(Limits {
            read_header_timeout: Duration::ZERO,
            ..limits()
        });
        assert_eq!(none.deadline(), None);
    }
}

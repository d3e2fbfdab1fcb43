//! The HTTP layer: accepts connections (plain or TLS), turns each Vault
//! request into an internal `Request` (request.rs), hands it to the core,
//! and writes the envelope (crate::envelope) or the error (error.rs). The
//! core knows nothing of it. The
//! seal endpoints, which work while sealed, are in sys_seal.rs.

pub mod error;
mod events;
pub mod limits;
pub mod request;
pub mod sys_seal;

use std::cell::Cell;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, HeaderValue};
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::core::Core;
use crate::error::Error;

pub use limits::{DEFAULT_MAX_REQUEST_SIZE, Limits};
pub use request::query_map;

/// How long in-flight requests get to finish on shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub struct AppState {
    pub core: Arc<Core>,
    pub limits: Limits,
}

/// A finished HTTP answer.
pub struct Reply {
    status: u16,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    /// More headers (the WebSocket handshake's).
    headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Vec<u8>) -> Self {
        Self {
            status,
            content_type: Some("application/json"),
            body,
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            content_type: None,
            body: Vec::new(),
            headers: Vec::new(),
        }
    }

    fn into_response(self) -> hyper::Response<Full<Bytes>> {
        let mut resp = hyper::Response::new(Full::new(Bytes::from(self.body)));
        *resp.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let h = resp.headers_mut();
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(ct) = self.content_type {
            h.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        }
        for (name, value) in self.headers {
            if let Ok(v) = HeaderValue::try_from(value) {
                h.insert(name, v);
            }
        }
        resp
    }
}

fn error_reply(e: &Error) -> Reply {
    let (status, errors) = error::status_and_errors(e);
    Reply::json(status, error::body(&errors))
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut b);
    u64::from_le_bytes(b) | 1
}

/// A request id in UUID form. Ids need to be unique, not secret, so a
/// per-thread xorshift generator seeded from the OS replaces a syscall per
/// request.
pub fn request_id() -> String {
    let next = || {
        RNG.with(|c| {
            let mut x = c.get();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.set(x);
            x
        })
    };
    let (a, b) = (next(), next());
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&a.to_le_bytes());
    bytes[8..].copy_from_slice(&b.to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// The body, up to `max_request_size`, within `http_read_timeout`.
async fn read_body(body: Incoming, limits: &Limits) -> Result<Bytes, Error> {
    let read = Limited::new(body, limits.max_request_size).collect();
    let read = match limits::limit(limits.read_timeout) {
        Some(t) => match tokio::time::timeout(t, read).await {
            Ok(r) => r,
            Err(_) => return Err(Error::invalid("failed to read request body: timed out")),
        },
        None => read.await,
    };
    match read {
        Ok(c) => Ok(c.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(Error::TooLarge),
        Err(_) => Err(Error::invalid("failed to read request body")),
    }
}

async fn route(state: Arc<AppState>, req: hyper::Request<Incoming>, remote: SocketAddr) -> Reply {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    let Some(vpath) = raw_path.strip_prefix("/v1/") else {
        return error_reply(&Error::NotFound);
    };
    let vpath = request::path_decode(vpath);
    if !request::valid_path(&vpath) {
        return error_reply(&Error::invalid(format!(
            "invalid request path {vpath:?}: empty, '.' or '..' segment"
        )));
    }
    let core = &state.core;
    let method = &parts.method;
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let max_size = state.limits.max_request_size;
    if let Some(n) = declared.filter(|n| *n > max_size) {
        // Read (and drop) a body of up to twice the limit so the client,
        // still sending, gets the 413 rather than a reset connection;
        // anything bigger is cut off.
        if n <= max_size.saturating_mul(2) {
            let drain = async {
                let mut body = body;
                while let Some(frame) = body.frame().await {
                    if frame.is_err() {
                        break;
                    }
                }
            };
            let read_timeout = limits::limit(state.limits.read_timeout).unwrap_or(Duration::MAX);
            let _ = tokio::time::timeout(read_timeout, drain).await;
        }
        return error_reply(&Error::TooLarge);
    }
    let result = match vpath.as_str() {
        "sys/health" => sys_seal::health(core, method, parts.uri.query()).await,
        "sys/seal-status" => sys_seal::seal_status(core, method).await,
        "sys/leader" => sys_seal::leader(core, method).await,
        // Sealed already: nothing to do, whoever asks (as Vault answers).
        // Unsealed, sealing is a request like any other (token, bounds,
        // sudo, audit) and happens once it has been answered.
        "sys/seal" if core.is_sealed() => {
            if *method != Method::PUT && *method != Method::POST {
                Err(Error::MethodNotAllowed)
            } else {
                Ok(Reply::empty(204))
            }
        }
        "sys/init" | "sys/unseal" => {
            let body = match read_body(body, &state.limits).await {
                Ok(b) => b,
                Err(e) => return error_reply(&e),
            };
            match vpath.as_str() {
                "sys/init" => sys_seal::init(core, method, &body).await,
                _ => sys_seal::unseal(core, method, &body).await,
            }
        }
        p if p.starts_with("sys/events/subscribe/") => {
            events::subscribe(&state, parts, &vpath, remote).await
        }
        _ => logical(&state, &parts, &vpath, body, remote).await,
    };
    result.unwrap_or_else(|e| error_reply(&e))
}

async fn logical(
    state: &AppState,
    parts: &hyper::http::request::Parts,
    path: &str,
    body: Incoming,
    remote: SocketAddr,
) -> Result<Reply, Error> {
    if parts.method == Method::OPTIONS {
        return Err(Error::invalid(
            "cannot handle internal-only request operation",
        ));
    }
    let body = if matches!(parts.method, Method::PUT | Method::POST | Method::PATCH) {
        read_body(body, &state.limits).await?
    } else {
        Bytes::new()
    };
    let id = request_id();
    let req = request::build(parts, path, &body, Some(remote), id.clone())?;
    let seal = path == "sys/seal";
    let resp = handle_within(&state.core, req, state.limits.max_request_duration).await?;
    if seal {
        state.core.seal().await;
        return Ok(Reply::empty(204));
    }
    if let Some(raw) = resp.raw {
        return Ok(Reply {
            status: raw.status,
            content_type: Some(raw.content_type),
            body: raw.body,
            headers: Vec::new(),
        });
    }
    if resp.is_empty() && resp.status.is_none() {
        return Ok(Reply::empty(204));
    }
    Ok(Reply::json(
        resp.status.unwrap_or(200),
        crate::envelope::envelope(&id, &resp),
    ))
}

/// Runs the request through the core, answering `RequestTimeout` if it
/// takes longer than `max` (`max_request_duration`). A request that runs
/// out of time is not cancelled half-way, which could leave a change
/// half-made: it finishes on a task of its own, unanswered.
async fn handle_within(
    core: &Arc<Core>,
    req: crate::logical::Request,
    max: Duration,
) -> Result<crate::logical::Response, Error> {
    let core = Arc::clone(core);
    let Some(max) = limits::limit(max) else {
        return core.handle(req).await;
    };
    let mut work = Box::pin(async move { core.handle(req).await });
    tokio::select! {
        biased;
        r = &mut work => r,
        _ = tokio::time::sleep(max) => {
            tokio::spawn(async move {
                let _ = work.await;
            });
            Err(Error::RequestTimeout)
        }
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then lets
/// in-flight requests finish (bounded by a grace period).
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    state: Arc<AppState>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let watch = Arc::new(limits::Watch::new(state.limits));
        let service = {
            let (state, watch) = (Arc::clone(&state), Arc::clone(&watch));
            hyper::service::service_fn(move |req| {
                let state = Arc::clone(&state);
                let busy = watch.request();
                async move {
                    let reply = route(state, req, remote).await;
                    drop(busy);
                    Ok::<_, Infallible>(reply.into_response())
                }
            })
        };
        match &tls {
            None => {
                let io = TokioIo::new(limits::Watched::new(stream, Arc::clone(&watch)));
                let conn = builder.serve_connection_with_upgrades(io, service);
                let conn = graceful.watch(conn.into_owned());
                tokio::spawn(async move { limits::guard(conn, &watch).await });
            }
            Some(acceptor) => {
                let acceptor = acceptor.clone();
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream))
                        .await
                    {
                        Ok(Ok(tls_stream)) => {
                            let io =
                                TokioIo::new(limits::Watched::new(tls_stream, Arc::clone(&watch)));
                            let conn = builder.serve_connection_with_upgrades(io, service);
                            limits::guard(watcher.watch(conn.into_owned()), &watch).await;
                        }
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                });
            }
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown grace period over; closing remaining connections");
    }
}

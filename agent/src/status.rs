//! The agent's listener, and what the agent tells about itself there:
//! the local API proxy (see `proxy`) for every path but `/agent/v1/`;
//! counters (renders, renewals,
//! logins, restarts, failures) served as Prometheus text at
//! `/agent/v1/metrics`, health at `/agent/v1/health` (200 once everything
//! rendered, 503 before), on a configured `listener "tcp"`; and a ready
//! file (Arca's `ready_file`) written once everything rendered.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use http_body_util::Full;
use hyper::body::Bytes;

#[derive(Default)]
pub struct Status {
    pub ready: AtomicBool,
    pub logins: AtomicU64,
    pub renders: AtomicU64,
    pub render_failures: AtomicU64,
    pub renewals: AtomicU64,
    pub renewal_failures: AtomicU64,
    pub replacements: AtomicU64,
    pub restarts: AtomicU64,
    /// Events heard on the server's event stream, and whether it is up.
    pub events: AtomicU64,
    pub stream_up: AtomicBool,
}

impl Status {
    pub fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }

    pub fn set(flag: &AtomicBool, v: bool) {
        flag.store(v, Relaxed);
    }

    fn metrics(&self) -> String {
        let rows = [
            (
                "arca_agent_logins_total",
                "Logins (auto-auth).",
                &self.logins,
            ),
            (
                "arca_agent_renders_total",
                "Files written with new bytes.",
                &self.renders,
            ),
            (
                "arca_agent_render_failures_total",
                "Renders that failed (the last good file stayed).",
                &self.render_failures,
            ),
            (
                "arca_agent_renewals_total",
                "Lease and token renewals.",
                &self.renewals,
            ),
            (
                "arca_agent_renewal_failures_total",
                "Renewals refused or failed.",
                &self.renewal_failures,
            ),
            (
                "arca_agent_replacements_total",
                "Leased secrets fetched anew past their max TTL, certificates issued again before they expire, leases revoked on the server replaced.",
                &self.replacements,
            ),
            (
                "arca_agent_app_restarts_total",
                "Restarts of the exec-mode application.",
                &self.restarts,
            ),
            (
                "arca_agent_events_total",
                "Events heard on the server's event stream.",
                &self.events,
            ),
        ];
        let mut out = String::new();
        for (name, help, v) in rows {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}\n",
                v.load(Relaxed)
            ));
        }
        out.push_str(&format!(
            "# HELP arca_agent_ready Whether every template has rendered.\n# TYPE arca_agent_ready gauge\narca_agent_ready {}\n",
            u8::from(self.ready.load(Relaxed))
        ));
        out.push_str(&format!(
            "# HELP arca_agent_event_stream_up Whether the server's event stream is connected (else the agent polls).\n# TYPE arca_agent_event_stream_up gauge\narca_agent_event_stream_up {}\n",
            u8::from(self.stream_up.load(Relaxed))
        ));
        out
    }
}

/// The listener's TLS from its PEM files.
pub fn tls_config(
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<tokio_rustls::TlsAcceptor, String> {
    let read =
        |p: &std::path::Path| std::fs::read(p).map_err(|e| format!("reading {}: {e}", p.display()));
    let certs = rustls_pemfile::certs(&mut &read(cert)?[..])
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("{}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate", cert.display()));
    }
    let key = rustls_pemfile::private_key(&mut &read(key)?[..])
        .map_err(|e| format!("{}: {e}", key.display()))?
        .ok_or_else(|| format!("{}: no private key", key.display()))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("the listener's certificate and key: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Where the listener listens: `tcp` (`127.0.0.1:8100`) or `unix` (a
/// socket path; an old socket file there is replaced, the new one gets
/// `socket_mode`).
pub enum Bind<'a> {
    Tcp(&'a str),
    Unix(&'a std::path::Path, Option<u32>),
}

/// Serves `/agent/v1/health` and `/agent/v1/metrics` (HTTPS with `tls`,
/// else plain HTTP), and the API proxy when configured.
pub async fn serve(
    bind: Bind<'_>,
    status: Arc<Status>,
    proxy: Option<Arc<crate::proxy::Proxy>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<(), String> {
    match bind {
        Bind::Tcp(address) => {
            let listener = tokio::net::TcpListener::bind(address)
                .await
                .map_err(|e| format!("listener {address}: {e}"))?;
            tokio::spawn(async move {
                loop {
                    if let Ok((conn, _)) = listener.accept().await {
                        let _ = conn.set_nodelay(true);
                        let (s, p, t) = (Arc::clone(&status), proxy.clone(), tls.clone());
                        tokio::spawn(connection(conn, s, p, t));
                    }
                }
            });
        }
        Bind::Unix(path, mode) => {
            let err = |e: std::io::Error| format!("listener {}: {e}", path.display());
            match std::fs::symlink_metadata(path) {
                Ok(m) if std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) => {
                    std::fs::remove_file(path).map_err(err)?;
                }
                _ => {}
            }
            let listener = tokio::net::UnixListener::bind(path).map_err(err)?;
            if let Some(mode) = mode {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
                    .map_err(err)?;
            }
            tokio::spawn(async move {
                loop {
                    if let Ok((conn, _)) = listener.accept().await {
                        let (s, p, t) = (Arc::clone(&status), proxy.clone(), tls.clone());
                        tokio::spawn(connection(conn, s, p, t));
                    }
                }
            });
        }
    }
    Ok(())
}

/// One client connection, to its end.
async fn connection<S>(
    io: S,
    status: Arc<Status>,
    proxy: Option<Arc<crate::proxy::Proxy>>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
        let status = Arc::clone(&status);
        let proxy = proxy.clone();
        async move {
            if let Some(p) = proxy.filter(|_| !req.uri().path().starts_with("/agent/v1/")) {
                return Ok::<_, hyper::http::Error>(p.handle(req).await);
            }
            let (code, ctype, body) = match req.uri().path() {
                "/agent/v1/health" => {
                    let ready = status.ready.load(Relaxed);
                    (
                        if ready { 200 } else { 503 },
                        "application/json",
                        format!("{{\"ready\":{ready}}}"),
                    )
                }
                "/agent/v1/metrics" => (200, "text/plain; version=0.0.4", status.metrics()),
                _ => (404, "application/json", "{\"errors\":[]}".to_owned()),
            };
            hyper::Response::builder()
                .status(code)
                .header("content-type", ctype)
                .body(Full::new(Bytes::from(body)))
        }
    });
    let http = hyper::server::conn::http1::Builder::new();
    match tls {
        None => {
            let _ = http
                .serve_connection(hyper_util::rt::TokioIo::new(io), service)
                .await;
        }
        Some(acceptor) => {
            let handshake =
                tokio::time::timeout(std::time::Duration::from_secs(10), acceptor.accept(io));
            if let Ok(Ok(stream)) = handshake.await {
                let _ = http
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            }
        }
    }
}

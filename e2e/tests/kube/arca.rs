//! An Arca dev server in the test process, on a free loopback port, with
//! the system clock (the API server's tokens carry real times).

use std::net::SocketAddr;
use std::sync::Arc;

use arca_server::clock::Clock;
use arca_server::core::{Core, CoreConfig};
use arca_server::storage::inmem::InmemBackend;
use serde_json::Value;
use tokio::sync::oneshot;

pub const ROOT: &str = "root";

pub struct Arca {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
}

/// An answer: status and JSON body (Null when empty).
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

impl Arca {
    /// Dev mode: unsealed, root token "root".
    pub async fn dev() -> Self {
        let core = Core::new(
            Arc::new(InmemBackend::new()),
            CoreConfig::default(),
            Clock::system(),
        );
        core.load_state().await.unwrap();
        core.dev_setup(Some(ROOT.into())).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, rx) = oneshot::channel();
        let handle = tokio::spawn(async move {
            arca_server::run(listener, None, core, Default::default(), async {
                let _ = rx.await;
            })
            .await;
        });
        Self {
            addr,
            stop: Some(stop),
            handle: Some(handle),
        }
    }

    /// `method /v1/<path>` with an optional token and JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let client = reqwest::Client::new();
        let mut req = client.request(
            reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
            format!("http://{}/v1/{path}", self.addr),
        );
        if let Some(t) = token {
            req = req.header("X-Vault-Token", t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let raw = resp.text().await.unwrap();
        let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
        Answer { status, body, raw }
    }

    /// A write as root that must succeed.
    pub async fn must(&self, method: &str, path: &str, body: Value) {
        let a = self.call(method, path, Some(ROOT), Some(body)).await;
        assert!(
            (200..300).contains(&a.status),
            "{method} {path}: {} {}",
            a.status,
            a.raw
        );
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

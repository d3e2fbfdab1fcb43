//! An Arca server on a free loopback port, with the system clock (the API
//! server's tokens carry real times): a dev server in the test process, or
//! the `arca` binary as a process (file storage, initialized and unsealed
//! through the API, `secret/` mounted as KV v2), which can be killed with
//! SIGKILL and started again on the same data.

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
    /// The root token ("root" in dev mode, the one `sys/init` gave else).
    pub root: String,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<()>>,
    process: Option<Process>,
}

/// The server as a process of its own.
struct Process {
    child: std::process::Child,
    config: std::path::PathBuf,
    unseal_key: String,
    dir: tempfile::TempDir,
}

/// A binary of the workspace, built next to the test binary
/// (target/<profile>/deps/kube-… -> target/<profile>/<name>); `cargo test
/// --workspace` builds them.
pub fn bin(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: build it first (cargo build -p arca-server -p arca-agent, or cargo test --workspace)",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
            root: ROOT.into(),
            stop: Some(stop),
            handle: Some(handle),
            process: None,
        }
    }

    /// `arca server -config …` with file storage: initialized (one share),
    /// unsealed, `secret/` mounted as KV v2.
    pub async fn process() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("server.hcl");
        std::fs::write(
            &config,
            format!(
                "storage \"file\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = spawn_server(&config, dir.path());
        let mut arca = Self {
            addr: format!("127.0.0.1:{port}").parse().unwrap(),
            root: String::new(),
            stop: None,
            handle: None,
            process: None,
        };
        arca.wait_listening().await;
        let init = arca
            .call(
                "PUT",
                "sys/init",
                None,
                Some(serde_json::json!({"secret_shares": 1, "secret_threshold": 1})),
            )
            .await;
        assert_eq!(init.status, 200, "{}", init.raw);
        arca.root = init.body["root_token"].as_str().unwrap().to_owned();
        let unseal_key = init.body["keys_base64"][0].as_str().unwrap().to_owned();
        arca.process = Some(Process {
            child,
            config,
            unseal_key,
            dir,
        });
        arca.unseal().await;
        arca.must(
            "POST",
            "sys/mounts/secret",
            serde_json::json!({"type": "kv", "options": {"version": "2"}}),
        )
        .await;
        arca
    }

    async fn wait_listening(&self) {
        for _ in 0..200 {
            if reqwest::get(format!("http://{}/v1/sys/health", self.addr))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("arca server did not listen on {}", self.addr);
    }

    async fn unseal(&self) {
        let key = &self.process.as_ref().unwrap().unseal_key;
        let r = self
            .call(
                "PUT",
                "sys/unseal",
                None,
                Some(serde_json::json!({"key": key})),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["sealed"], false, "{}", r.raw);
    }

    /// SIGKILL, then the same binary on the same data, unsealed.
    pub async fn kill_and_restart(&mut self) {
        let p = self.process.as_mut().expect("not a process");
        p.child.kill().unwrap();
        p.child.wait().unwrap();
        p.child = spawn_server(&p.config, p.dir.path());
        self.wait_listening().await;
        self.unseal().await;
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
        let a = self.call(method, path, Some(&self.root), Some(body)).await;
        assert!(
            (200..300).contains(&a.status),
            "{method} {path}: {} {}",
            a.status,
            a.raw
        );
    }

    pub async fn stop(mut self) {
        if let Some(mut p) = self.process.take() {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(h) = self.handle.take() {
            let _ = h.await;
        }
    }
}

fn spawn_server(config: &std::path::Path, dir: &std::path::Path) -> std::process::Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .unwrap();
    std::process::Command::new(bin("arca"))
        .arg("server")
        .arg(format!("-config={}", config.display()))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

//! An Arca dev server (root token "root", system clock: tokens and leases
//! carry real times) and a root request helper.

use std::sync::Arc;

use arca_server::clock::Clock;
use arca_server::core::{Core, CoreConfig};
use arca_server::storage::inmem::InmemBackend;
use serde_json::Value;

/// Starts a dev server; its address (`http://127.0.0.1:<port>`).
pub async fn arca() -> String {
    let core = Core::new(
        Arc::new(InmemBackend::new()),
        CoreConfig::default(),
        Clock::system(),
    );
    core.load_state().await.unwrap();
    core.dev_setup(Some("root".into())).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        arca_server::run(
            listener,
            None,
            core,
            Default::default(),
            std::future::pending(),
        )
        .await;
    });
    format!("http://{addr}")
}

/// A request as root that must succeed; its JSON body (Null when empty).
pub async fn root(addr: &str, method: &str, path: &str, body: Value) -> Value {
    let r = reqwest::Client::new()
        .request(method.parse().unwrap(), format!("{addr}/v1/{path}"))
        .header("X-Vault-Token", "root")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    let text = r.text().await.unwrap();
    assert!(status.is_success(), "{method} {path}: {status} {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// An agent running as a sidecar in this process, until `stop`.
pub struct Sidecar {
    stop: tokio::sync::oneshot::Sender<()>,
    run: tokio::task::JoinHandle<Result<arca_agent::Exit, String>>,
}

impl Sidecar {
    pub fn start(cfg: arca_agent::config::Config) -> Self {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(async move {
            arca_agent::Agent::new(cfg)
                .unwrap()
                .run(None, async {
                    let _ = stopped.await;
                })
                .await
        });
        Self { stop, run }
    }

    /// Sends the stop signal; how the run ended.
    pub async fn stop(self) -> arca_agent::Exit {
        self.stop.send(()).unwrap();
        self.run.await.unwrap().unwrap()
    }
}

/// `database/` mounted with the local PostgreSQL (scripts/services) as
/// `pg`, and role `app` with these TTLs ("" for the mount's).
pub async fn postgres_role(addr: &str, default_ttl: &str, max_ttl: &str) {
    const URL: &str =
        "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable";
    const CREATE: &str =
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';";
    root(
        addr,
        "POST",
        "sys/mounts/database",
        serde_json::json!({"type": "database"}),
    )
    .await;
    root(
        addr,
        "POST",
        "database/config/pg",
        serde_json::json!({"plugin_name": "postgresql-database-plugin", "connection_url": URL,
               "username": "arca_test_admin", "password": "arca-test-admin", "allowed_roles": "app"}),
    )
    .await;
    let mut role = serde_json::json!({"db_name": "pg", "creation_statements": CREATE,
                                      "default_ttl": default_ttl});
    if !max_ttl.is_empty() {
        role["max_ttl"] = serde_json::json!(max_ttl);
    }
    root(addr, "POST", "database/roles/app", role).await;
}

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

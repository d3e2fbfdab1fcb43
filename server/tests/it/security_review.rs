//! The findings of the security review of issue 12, one regression test
//! each, named after what it proves.

use std::sync::Arc;
use std::time::SystemTime;

use arca_server::clock::Clock;
use arca_server::storage::DynBackend;
use arca_server::storage::file::FileBackend;
use serde_json::{Value, json};

use crate::common::{TestServer, call};

/// `call` that asserts the status it expects and returns the body.
async fn expect(
    s: &TestServer,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
    status: u16,
) -> Value {
    let r = call(s, method, path, token, body).await;
    assert_eq!(r.status, status, "{method} {path}: {}", r.raw);
    r.body
}

async fn policy(s: &TestServer, name: &str, hcl: &str) {
    let path = format!("sys/policies/acl/{name}");
    expect(
        s,
        "PUT",
        &path,
        Some("root"),
        Some(json!({ "policy": hcl })),
        204,
    )
    .await;
}

/// Enables userpass, makes `user` with `policies`, logs in: (token, entity id).
async fn userpass_login(s: &TestServer, user: &str, policies: &str) -> (String, String) {
    let _ = call(
        s,
        "POST",
        "sys/auth/userpass",
        Some("root"),
        Some(json!({"type": "userpass"})),
    )
    .await;
    let path = format!("auth/userpass/users/{user}");
    let body = json!({"password": "pw", "token_policies": policies});
    expect(s, "POST", &path, Some("root"), Some(body), 204).await;
    let path = format!("auth/userpass/login/{user}");
    let l = expect(s, "POST", &path, None, Some(json!({"password": "pw"})), 200).await;
    (
        l["auth"]["client_token"].as_str().unwrap().to_owned(),
        l["auth"]["entity_id"].as_str().unwrap().to_owned(),
    )
}

// 1. Entity policies can name `root`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entity_cannot_grant_its_tokens_root() {
    let s = TestServer::dev().await;
    policy(
        &s,
        "entity-admin",
        r#"path "identity/entity/id/*" { capabilities = ["read", "update"] }"#,
    )
    .await;
    let (token, eid) = userpass_login(&s, "mallory", "entity-admin").await;
    let own = format!("identity/entity/id/{eid}");
    for policies in [json!(["root"]), json!(["default", " Root "]), json!("ROOT")] {
        let r = call(
            &s,
            "POST",
            &own,
            Some(&token),
            Some(json!({ "policies": policies })),
        )
        .await;
        assert_eq!(r.status, 400, "{policies}: {}", r.raw);
        assert_eq!(r.errors(), ["policies cannot contain root"]);
    }
    // Nothing changed, and the escalated call is refused.
    let e = expect(&s, "GET", &own, Some("root"), None, 200).await;
    assert_eq!(e["data"]["policies"], json!([]));
    let audit = json!({"type": "file", "options": {"file_path": "/dev/null"}});
    expect(&s, "PUT", "sys/audit/x", Some(&token), Some(audit), 403).await;
    let caps = expect(
        &s,
        "POST",
        "sys/capabilities-self",
        Some(&token),
        Some(json!({"path": "sys/audit/x"})),
        200,
    )
    .await;
    assert_eq!(caps["capabilities"], json!(["deny"]));

    // Root itself cannot write it either, by any of the entity paths.
    for (path, body) in [
        (
            "identity/entity",
            json!({"name": "e1", "policies": ["root"]}),
        ),
        ("identity/entity/name/e2", json!({"policies": "root"})),
        (own.as_str(), json!({"policies": ["root"]})),
    ] {
        let r = call(&s, "POST", path, Some("root"), Some(body)).await;
        assert_eq!(r.status, 400, "{path}: {}", r.raw);
        assert_eq!(r.errors(), ["policies cannot contain root"]);
    }
    expect(
        &s,
        "GET",
        "identity/entity/name/e1",
        Some("root"),
        None,
        404,
    )
    .await;
    expect(
        &s,
        "GET",
        "identity/entity/name/e2",
        Some("root"),
        None,
        404,
    )
    .await;
    s.stop().await;
}

// 2. Concurrent `sys/rotate` can lose data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_rotations_lose_no_write_across_seal_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(SystemTime::now());
    let backend: DynBackend = Arc::new(FileBackend::open(dir.path()).unwrap());
    let s = TestServer::dev_on(Arc::clone(&backend), clock.clone()).await;
    let mut written = Vec::new();
    for round in 0..10 {
        let mut tasks = Vec::new();
        for i in 0..4 {
            let url = s.url();
            let key = format!("secret/data/r{round}/k{i}");
            written.push(key.clone());
            tasks.push(tokio::spawn(async move {
                let c = reqwest::Client::new();
                let post = |path: String, body: Value| {
                    c.post(format!("{url}/v1/{path}"))
                        .header("X-Vault-Token", "root")
                        .body(body.to_string())
                        .send()
                };
                let r = post("sys/rotate".into(), json!({})).await.unwrap();
                assert_eq!(r.status(), 204);
                let r = post(key, json!({"data": {"v": i}})).await.unwrap();
                assert_eq!(r.status(), 200);
                // A token, so the token store is written under the new keys.
                let r = post("auth/token/create".into(), json!({"policies": ["default"]}))
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    }
    let status = expect(&s, "GET", "sys/key-status", Some("root"), None, 200).await;
    assert_eq!(status["term"], 41, "every rotation made its own term");

    let read_all = |s: &TestServer| {
        let written = written.clone();
        let url = s.url();
        async move {
            let c = reqwest::Client::new();
            for key in written {
                let r = c
                    .get(format!("{url}/v1/{key}"))
                    .header("X-Vault-Token", "root")
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200, "{key}: {}", r.text().await.unwrap());
            }
        }
    };
    expect(&s, "PUT", "sys/seal", Some("root"), None, 204).await;
    let unseal = json!({"key": s.unseal_key});
    expect(&s, "PUT", "sys/unseal", None, Some(unseal), 200).await;
    read_all(&s).await;
    let key = s.unseal_key.clone();
    s.core.seal().await;
    s.stop().await;

    let s = TestServer::restart_on(backend, clock, &key).await;
    read_all(&s).await;
    let status = expect(&s, "GET", "sys/key-status", Some("root"), None, 200).await;
    assert_eq!(status["term"], 41);
    s.stop().await;
}

// 5. An audit device that fails to load at unseal is skipped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unseal_fails_when_no_audit_device_can_be_set_up() {
    let dir = tempfile::tempdir().unwrap();
    let s = TestServer::dev().await;
    for name in ["a", "b"] {
        let path = dir.path().join(name).display().to_string();
        let body = json!({"type": "file", "options": {"file_path": path}});
        expect(
            &s,
            "PUT",
            &format!("sys/audit/{name}"),
            Some("root"),
            Some(body),
            204,
        )
        .await;
    }
    // The stored options of a device stop validating (an older server's
    // table, a hand edit): here, a mode that would not let Arca write.
    let break_device = |table: &mut Value, path: &str| {
        for e in table["entries"].as_array_mut().unwrap() {
            if e["path"] == path {
                e["options"]["mode"] = json!("0400");
            }
        }
    };
    let table = s.core.barrier.get("core/audit").await.unwrap().unwrap();
    let mut table: Value = serde_json::from_slice(&table).unwrap();
    break_device(&mut table, "a/");
    let bytes = serde_json::to_vec(&table).unwrap();
    s.core.barrier.put("core/audit", &bytes).await.unwrap();

    // One device still loads: the server unseals and audits through it.
    let unseal = json!({"key": s.unseal_key});
    expect(&s, "PUT", "sys/seal", Some("root"), None, 204).await;
    expect(&s, "PUT", "sys/unseal", None, Some(unseal.clone()), 200).await;
    expect(&s, "GET", "secret/data/x", Some("root"), None, 404).await;
    let b_log = std::fs::read_to_string(dir.path().join("b")).unwrap();
    assert!(b_log.contains("secret/data/x"));

    // None loads: the unseal fails, naming the devices, and stays sealed.
    break_device(&mut table, "b/");
    let bytes = serde_json::to_vec(&table).unwrap();
    s.core.barrier.put("core/audit", &bytes).await.unwrap();
    expect(&s, "PUT", "sys/seal", Some("root"), None, 204).await;
    let r = call(&s, "PUT", "sys/unseal", None, Some(unseal)).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    let msg = r.errors().join(" ");
    assert!(
        msg.starts_with("failed to setup audit table: no audit device could be set up:"),
        "{msg}"
    );
    assert!(msg.contains("a/ (") && msg.contains("b/ ("), "{msg}");
    let status = expect(&s, "GET", "sys/seal-status", None, None, 200).await;
    assert_eq!(status["sealed"], true);
    expect(&s, "GET", "secret/data/x", Some("root"), None, 503).await;
    s.stop().await;
}

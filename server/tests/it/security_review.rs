//! The findings of the security review of issue 12, one regression test
//! each, named after what it proves.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

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

// 7. A blocked audit sink or a slow client stalls the server.

/// The real binary on a config with an inmem store, initialized with one
/// share and unsealed, KV v2 at `secret/`. Its stdout is a pipe the test
/// holds and does not read until it wants to.
struct Binary {
    child: std::process::Child,
    port: u16,
    root: String,
    _dir: tempfile::TempDir,
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Binary {
    async fn start(listener_extra: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("arca.hcl");
        std::fs::write(
            &config,
            format!(
                "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n{listener_extra}\n}}\n"
            ),
        )
        .unwrap();
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_arca"))
            .args(["server", &format!("-config={}", config.display())])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut b = Self {
            child,
            port,
            root: String::new(),
            _dir: dir,
        };
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let init = json!({"secret_shares": 1, "secret_threshold": 1});
        let (s, init) = b.call("PUT", "sys/init", Some(init)).await;
        assert_eq!(s, 200, "{init}");
        b.root = init["root_token"].as_str().unwrap().to_owned();
        let key = init["keys"][0].clone();
        let (s, _) = b.call("PUT", "sys/unseal", Some(json!({"key": key}))).await;
        assert_eq!(s, 200);
        let kv = json!({"type": "kv", "options": {"version": "2"}});
        let (s, _) = b.call("POST", "sys/mounts/secret", Some(kv)).await;
        assert_eq!(s, 204);
        b
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/v1/{path}", self.port)
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let c = reqwest::Client::new();
        let mut r = c
            .request(
                reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                self.url(path),
            )
            .timeout(Duration::from_secs(30));
        if !self.root.is_empty() {
            r = r.header("X-Vault-Token", &self.root);
        }
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        let resp = r.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    /// A raw TCP connection to the listener.
    async fn connect(&self) -> tokio::net::TcpStream {
        tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_nobody_reads_fails_audited_requests_in_time_and_health_answers() {
    let mut b = Binary::start("").await;
    let audit = json!({"type": "file", "options": {"file_path": "stdout", "write_timeout": "1s"}});
    assert_eq!(b.call("PUT", "sys/audit/out", Some(audit)).await.0, 204);
    let data = json!({"data": {"password": "x".repeat(2000)}});
    assert_eq!(b.call("POST", "secret/data/big", Some(data)).await.0, 200);

    // Nobody reads the server's stdout: the pipe (64 KiB) fills after a
    // few dozen entries and every write to it blocks.
    let started = Instant::now();
    let burst: Vec<_> = (0..200)
        .map(|_| {
            let (url, root) = (b.url("secret/data/big"), b.root.clone());
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .get(url)
                    .header("X-Vault-Token", root)
                    .timeout(Duration::from_secs(30))
                    .send()
                    .await
                    .unwrap();
                r.status().as_u16()
            })
        })
        .collect();
    // Health answers at once while the burst is stuck.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t = Instant::now();
    let (s, health) = b.call("GET", "sys/health", None).await;
    assert_eq!(s, 200, "{health}");
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "health took {:?}",
        t.elapsed()
    );
    let mut statuses = Vec::new();
    for r in burst {
        statuses.push(r.await.unwrap());
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let failed = statuses.iter().filter(|s| **s == 500).count();
    assert!(failed > 0, "no request failed: the pipe never filled?");
    assert_eq!(failed + statuses.iter().filter(|s| **s == 200).count(), 200);

    // Someone reads stdout again: audited requests succeed.
    let mut out = b.child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut sink = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut sink);
    });
    let mut recovered = false;
    for _ in 0..50 {
        if b.call("GET", "secret/data/big", None).await.0 == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the audit device did not recover");
    drop(b);
    reader.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_request_duration_answers_a_stuck_request() {
    let mut b = Binary::start("  max_request_duration = \"1s\"").await;
    let audit = json!({"type": "file", "options": {"file_path": "stdout", "write_timeout": "30s",
                                                  "log_raw": "true"}});
    assert_eq!(b.call("PUT", "sys/audit/out", Some(audit)).await.0, 204);
    let data = json!({"data": {"password": "x".repeat(100_000)}});
    // The entry is more than the pipe holds: its write blocks.
    let t = Instant::now();
    let (s, body) = b.call("POST", "secret/data/big", Some(data)).await;
    assert_eq!(s, 500, "{body}");
    assert_eq!(body["errors"], json!(["context deadline exceeded"]));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    let (s, _) = b.call("GET", "sys/health", None).await;
    assert_eq!(s, 200);
    let _ = b.child.stdout.take();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_bodies_and_idle_connections_are_cut_off() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let b = Binary::start(
        "  http_read_header_timeout = \"1s\"\n  http_read_timeout = \"1s\"\n  http_idle_timeout = \"2s\"",
    )
    .await;
    /// Reads until the server closes; how long that took.
    async fn closed_after(c: &mut tokio::net::TcpStream) -> (Duration, String) {
        let t = Instant::now();
        let mut got = Vec::new();
        let r = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut got)).await;
        assert!(r.is_ok(), "the server never closed the connection");
        (t.elapsed(), String::from_utf8_lossy(&got).into_owned())
    }
    // Half a request head, then nothing.
    let mut half = b.connect().await;
    half.write_all(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let (took, _) = closed_after(&mut half).await;
    assert!(took < Duration::from_secs(4), "{took:?}");
    // Nothing at all.
    let mut silent = b.connect().await;
    let (took, _) = closed_after(&mut silent).await;
    assert!(took < Duration::from_secs(4), "{took:?}");
    // A body that never comes whole: an error answer, then closed.
    let mut slow = b.connect().await;
    slow.write_all(
        b"PUT /v1/sys/policies/acl/x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"poli",
    )
    .await
    .unwrap();
    let (took, answer) = closed_after(&mut slow).await;
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(
        answer.contains("failed to read request body: timed out"),
        "{answer}"
    );
    // A kept-alive connection with nothing more to ask is closed when idle.
    let mut idle = b.connect().await;
    idle.write_all(b"GET /v1/sys/health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut first = [0u8; 12];
    idle.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let (took, _) = closed_after(&mut idle).await;
    assert!(
        took >= Duration::from_secs(1) && took < Duration::from_secs(6),
        "{took:?}"
    );
    // A client that keeps asking is served throughout.
    let c = reqwest::Client::new();
    for _ in 0..4 {
        let r = c.get(b.url("sys/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

// 8. sys/rotate/config claimed an automatic rotation that never happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_config_is_stored_checked_and_applied() {
    let s = TestServer::dev().await;
    let read = || expect(&s, "GET", "sys/rotate/config", Some("root"), None, 200);
    let c = read().await;
    assert_eq!(
        c["data"],
        json!({"enabled": true, "interval": 0, "max_operations": 3_865_470_566u64})
    );
    for (body, error) in [
        (
            json!({"max_operations": 100}),
            "max_operations must be in the range [1000000,3865470566]",
        ),
        (
            json!({"max_operations": 5_000_000_000u64}),
            "max_operations must be in the range [1000000,3865470566]",
        ),
        (
            json!({"interval": "1h"}),
            "interval must be greater or equal to 24h0m0s",
        ),
    ] {
        let r = call(&s, "POST", "sys/rotate/config", Some("root"), Some(body)).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert_eq!(r.errors(), [error]);
    }
    let body = json!({"interval": "48h", "max_operations": "2000000", "enabled": false});
    expect(
        &s,
        "POST",
        "sys/rotate/config",
        Some("root"),
        Some(body),
        204,
    )
    .await;
    let c = read().await;
    assert_eq!(
        c["data"],
        json!({"enabled": false, "interval": "48h0m0s", "max_operations": 2_000_000})
    );
    // It survives a seal, and is applied: after 48 hours the term rotates.
    let unseal = json!({"key": s.unseal_key});
    expect(&s, "PUT", "sys/seal", Some("root"), None, 204).await;
    expect(&s, "PUT", "sys/unseal", None, Some(unseal), 200).await;
    assert_eq!(read().await["data"]["interval"], "48h0m0s");
    let enable = json!({"enabled": true});
    expect(
        &s,
        "POST",
        "sys/rotate/config",
        Some("root"),
        Some(enable),
        204,
    )
    .await;
    s.advance(Duration::from_secs(49 * 3600));
    // The config write woke the upkeep task before the clock moved; the
    // next write wakes it again.
    let again = json!({"enabled": true});
    let mut term = 1;
    for _ in 0..100 {
        expect(
            &s,
            "POST",
            "sys/rotate/config",
            Some("root"),
            Some(again.clone()),
            204,
        )
        .await;
        let k = expect(&s, "GET", "sys/key-status", Some("root"), None, 200).await;
        term = k["term"].as_u64().unwrap();
        if term == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(term, 2, "the term was not rotated after its interval");
    s.stop().await;
}

// 10. Names handlers lowercase slipped past a deny written in lowercase.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deny_on_a_name_holds_whatever_its_case() {
    let s = TestServer::dev().await;
    for (path, kind) in [
        ("sys/auth/userpass", "userpass"),
        ("sys/auth/approle", "approle"),
        ("sys/auth/jwt", "jwt"),
        ("sys/auth/kubernetes", "kubernetes"),
    ] {
        expect(
            &s,
            "POST",
            path,
            Some("root"),
            Some(json!({"type": kind})),
            204,
        )
        .await;
    }
    let jwt_config = json!({"jwt_validation_pubkeys": [], "bound_issuer": "x",
                            "jwks_url": "https://127.0.0.1:1/keys"});
    let _ = call(
        &s,
        "POST",
        "auth/jwt/config",
        Some("root"),
        Some(jwt_config),
    )
    .await;
    // The objects named admin, made by root.
    let admin_objects = [
        (
            "auth/userpass/users/admin",
            json!({"password": "orig", "token_policies": "default"}),
        ),
        (
            "auth/approle/role/admin",
            json!({"token_policies": "default"}),
        ),
        (
            "auth/jwt/role/admin",
            json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "a", "token_policies": "default"}),
        ),
        (
            "auth/kubernetes/role/admin",
            json!({"bound_service_account_names": "a",
                                              "bound_service_account_namespaces": "a",
                                              "token_policies": "default"}),
        ),
        (
            "sys/policies/acl/admin",
            json!({"policy": "path \"x\" { capabilities = [\"read\"] }"}),
        ),
    ];
    for (path, body) in &admin_objects {
        expect(&s, "POST", path, Some("root"), Some(body.clone()), 204).await;
    }
    let mut hcl = String::new();
    for prefix in [
        "auth/userpass/users",
        "auth/approle/role",
        "auth/jwt/role",
        "auth/kubernetes/role",
        "sys/policies/acl",
    ] {
        hcl.push_str(&format!(
            "path \"{prefix}/*\" {{ capabilities = [\"create\", \"read\", \"update\", \"delete\"] }}\n\
             path \"{prefix}/admin*\" {{ capabilities = [\"deny\"] }}\n"
        ));
    }
    policy(&s, "helpdesk", &hcl).await;
    let auth = expect(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"policies": ["helpdesk"]})),
        200,
    )
    .await;
    let token = auth["auth"]["client_token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());

    for name in ["ADMIN", "Admin", "aDmIn"] {
        for (path, body) in [
            (
                format!("auth/userpass/users/{name}/password"),
                json!({"password": "hacked"}),
            ),
            (
                format!("auth/userpass/users/{name}/policies"),
                json!({"token_policies": "root-ish"}),
            ),
            (
                format!("auth/userpass/users/{name}"),
                json!({"password": "hacked"}),
            ),
            (
                format!("auth/approle/role/{name}"),
                json!({"token_policies": "root-ish"}),
            ),
            (format!("auth/approle/role/{name}/secret-id"), json!({})),
            (
                format!("auth/jwt/role/{name}"),
                json!({"role_type": "jwt", "user_claim": "sub", "bound_audiences": "b"}),
            ),
            (
                format!("auth/kubernetes/role/{name}"),
                json!({"bound_service_account_names": "*",
                                                          "bound_service_account_namespaces": "*"}),
            ),
            (
                format!("sys/policies/acl/{name}"),
                json!({"policy": "path \"*\" { capabilities = [\"sudo\"] }"}),
            ),
            (
                format!("sys/policy/{name}"),
                json!({"policy": "path \"*\" { capabilities = [\"sudo\"] }"}),
            ),
        ] {
            let r = call(&s, "POST", &path, t, Some(body)).await;
            assert_eq!(r.status, 403, "{path}: {}", r.raw);
        }
        for path in [
            format!("auth/userpass/users/{name}"),
            format!("sys/policies/acl/{name}"),
            format!("auth/approle/role/{name}/role-id"),
        ] {
            let r = call(&s, "GET", &path, t, None).await;
            assert_eq!(r.status, 403, "{path}: {}", r.raw);
            let r = call(&s, "DELETE", &path, t, None).await;
            assert_eq!(r.status, 403, "{path}: {}", r.raw);
        }
    }
    // Nothing changed: the admin user still logs in with its password, and
    // every admin object is as root made it.
    let login = json!({"password": "orig"});
    expect(
        &s,
        "POST",
        "auth/userpass/login/ADMIN",
        None,
        Some(login),
        200,
    )
    .await;
    let r = expect(
        &s,
        "GET",
        "auth/approle/role/admin",
        Some("root"),
        None,
        200,
    )
    .await;
    assert_eq!(r["data"]["token_policies"], json!(["default"]));
    let r = expect(&s, "GET", "sys/policies/acl/admin", Some("root"), None, 200).await;
    assert!(r["data"]["policy"].as_str().unwrap().contains("path \"x\""));

    // Other names are the helpdesk's, in any case, and mean the lowercase
    // object.
    expect(
        &s,
        "POST",
        "auth/userpass/users/Bob",
        t,
        Some(json!({"password": "b"})),
        204,
    )
    .await;
    expect(&s, "GET", "auth/userpass/users/bob", t, None, 200).await;
    expect(
        &s,
        "POST",
        "auth/userpass/users/BOB/password",
        t,
        Some(json!({"password": "c"})),
        204,
    )
    .await;
    expect(
        &s,
        "POST",
        "auth/userpass/login/bob",
        None,
        Some(json!({"password": "c"})),
        200,
    )
    .await;
    let p = json!({"policy": "path \"y\" { capabilities = [\"read\"] }"});
    expect(&s, "PUT", "sys/policies/acl/Team", t, Some(p), 204).await;
    expect(&s, "GET", "sys/policies/acl/team", t, None, 200).await;
    s.stop().await;
}

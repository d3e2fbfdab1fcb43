//! The persistent server as an operator runs it: the real `arca` binary
//! with `storage "file"`, init 5/3, unseal, write a policy and a token,
//! `kill -9`, restart, unseal: everything is still there; and no value
//! written is visible in the data file.

use std::process::{Child, Command};
use std::time::Duration;

use serde_json::{Value, json};

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(config: &std::path::Path, port: u16, log: &std::path::Path) -> Proc {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args([
            "server",
            &format!("-config={}", config.display()),
            "-log-level=trace",
        ])
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let p = Proc(child);
    let url = format!("http://127.0.0.1:{port}/v1/sys/seal-status");
    for _ in 0..200 {
        if reqwest::get(&url).await.is_ok() {
            return p;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("server did not start");
}

async fn req(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let c = reqwest::Client::new();
    let mut r = c.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("http://127.0.0.1:{port}/v1/{path}"),
    );
    if let Some(t) = token {
        r = r.header("X-Vault-Token", t);
    }
    if let Some(b) = body {
        r = r.json(&b);
    }
    let resp = r.send().await.unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn unseal(port: u16, keys: &[String]) {
    for k in keys {
        req(port, "PUT", "sys/unseal", None, Some(json!({"key": k}))).await;
    }
    let (_, st) = req(port, "GET", "sys/seal-status", None, None).await;
    assert_eq!(st["sealed"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_kill_9_and_keeps_only_ciphertext_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let log = dir.path().join("server.log");
    let config = dir.path().join("arca.hcl");
    std::fs::write(
        &config,
        format!(
            "storage \"file\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\napi_addr = \"http://127.0.0.1:{port}\"\ndisable_mlock = true\n",
            data.display()
        ),
    )
    .unwrap();

    let server = start(&config, port, &log).await;
    let (s, init) = req(
        port,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 5, "secret_threshold": 3})),
    )
    .await;
    assert_eq!(s, 200);
    let keys: Vec<String> = serde_json::from_value(init["keys"].clone()).unwrap();
    let root = init["root_token"].as_str().unwrap().to_owned();
    unseal(port, &keys[..3]).await;

    let marker_policy = "path \"zq-marker-policy-path/*\" { capabilities = [\"read\"] }";
    let (s, _) = req(
        port,
        "PUT",
        "sys/policies/acl/marker",
        Some(&root),
        Some(json!({"policy": marker_policy})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, tok) = req(
        port,
        "POST",
        "auth/token/create",
        Some(&root),
        Some(json!({"policies": ["marker"], "meta": {"owner": "zq-marker-meta-value"}})),
    )
    .await;
    assert_eq!(s, 200);
    let token = tok["auth"]["client_token"].as_str().unwrap().to_owned();
    let (s, _) = req(
        port,
        "POST",
        "sys/mounts/kv",
        Some(&root),
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = req(
        port,
        "PUT",
        "kv/app",
        Some(&root),
        Some(json!({"password": "zq-marker-secret-value"})),
    )
    .await;
    assert_eq!(s, 204);

    // kill -9: no shutdown path runs. Every write above was acknowledged.
    drop(server);

    let server = start(&config, port, &log).await;
    let (_, st) = req(port, "GET", "sys/seal-status", None, None).await;
    assert_eq!(
        (st["initialized"].clone(), st["sealed"].clone()),
        (json!(true), json!(true))
    );
    assert_eq!(
        req(port, "GET", "sys/mounts", Some(&root), None).await.0,
        503
    );
    unseal(port, &keys[2..5]).await;
    let (s, p) = req(port, "GET", "sys/policies/acl/marker", Some(&root), None).await;
    assert_eq!(s, 200);
    assert_eq!(p["data"]["policy"], marker_policy);
    let (s, l) = req(port, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(s, 200);
    assert_eq!(l["data"]["meta"]["owner"], "zq-marker-meta-value");
    let (s, v) = req(port, "GET", "kv/app", Some(&root), None).await;
    assert_eq!(s, 200);
    assert_eq!(v["data"]["password"], "zq-marker-secret-value");
    drop(server);

    // `strings` over the data file finds none of the values written.
    let file = data.join("arca.db");
    let out = Command::new("strings")
        .arg("-n")
        .arg("6")
        .arg(&file)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.is_empty() || std::fs::metadata(&file).unwrap().len() > 0);
    for secret in [
        "zq-marker-policy-path",
        "zq-marker-meta-value",
        "zq-marker-secret-value",
        "capabilities",
        root.as_str(),
        token.as_str(),
    ] {
        assert!(!text.contains(secret), "{secret:?} found in the data file");
    }
    // Nor does the server's own log, even at trace level.
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("unsealed"),
        "the log was captured: {logged}"
    );
    for secret in [
        "zq-marker-secret-value",
        "zq-marker-meta-value",
        root.as_str(),
        token.as_str(),
    ] {
        assert!(
            !logged.contains(secret),
            "{secret:?} found in the server log"
        );
    }
    for k in &keys {
        assert!(
            !logged.contains(k.as_str()),
            "an unseal key share is in the server log"
        );
    }
    // Raw bytes too (strings only shows printable runs).
    let raw = std::fs::read(&file).unwrap();
    for secret in ["zq-marker-secret-value", "zq-marker-meta-value"] {
        assert!(!raw.windows(secret.len()).any(|w| w == secret.as_bytes()));
    }
}

/// The signals an operator sends the real binary: SIGHUP reopens audit
/// files (logrotate), SIGTERM shuts down cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_audit_files_and_sigterm_stops() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let out = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_arca"))
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .env("HOME", dir.path())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/v1/sys/health");
    for _ in 0..200 {
        if reqwest::get(&url).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let log = dir.path().join("audit.log");
    let (s, _) = req(
        port,
        "PUT",
        "sys/audit/file",
        Some("root"),
        Some(json!({"type": "file", "options": {"file_path": log.to_str().unwrap()}})),
    )
    .await;
    assert_eq!(s, 204);
    let (s, _) = req(port, "GET", "sys/mounts", Some("root"), None).await;
    assert_eq!(s, 200);
    // logrotate: move the file, then HUP.
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let pid = child.id().to_string();
    let hup = Command::new("kill").args(["-HUP", &pid]).status().unwrap();
    assert!(hup.success());
    // The reopen happens on the server's own time: wait for the new file.
    let mut reopened = false;
    for _ in 0..100 {
        let (s, _) = req(port, "GET", "sys/mounts", Some("root"), None).await;
        assert_eq!(s, 200);
        if std::fs::read_to_string(&log).is_ok_and(|t| t.contains("sys/mounts")) {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(reopened, "entries go to a new audit.log after SIGHUP");
    assert!(
        std::fs::read_to_string(&rotated)
            .unwrap()
            .contains("sys/audit/file")
    );
    let term = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(term.success());
    let mut status = None;
    for _ in 0..200 {
        if let Some(st) = child.try_wait().unwrap() {
            status = Some(st);
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let status = status.expect("SIGTERM stops the server");
    assert!(status.success(), "clean exit: {status:?}");
}

/// PostgreSQL's view of a user: Some(exists).
async fn pg_user_exists(user: &str) -> bool {
    crate::database::valid_until(user).await.is_some()
}

/// Leases outstanding at a `kill -9` of the real binary (real PostgreSQL
/// behind them): after restart and unseal they are all there; those that
/// ran out while the server was down are revoked right after unseal, the
/// others on time, and the database users go with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_survive_kill_9_and_expire_on_time() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let log = dir.path().join("server.log");
    let config = dir.path().join("arca.hcl");
    std::fs::write(
        &config,
        format!(
            "storage \"file\" {{\n  path = \"{}\"\n}}\nlistener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\napi_addr = \"http://127.0.0.1:{port}\"\ndisable_mlock = true\n",
            data.display()
        ),
    )
    .unwrap();
    let server = start(&config, port, &log).await;
    let (_, init) = req(
        port,
        "PUT",
        "sys/init",
        None,
        Some(json!({"secret_shares": 1, "secret_threshold": 1})),
    )
    .await;
    let keys: Vec<String> = serde_json::from_value(init["keys"].clone()).unwrap();
    let root = init["root_token"].as_str().unwrap().to_owned();
    unseal(port, &keys).await;
    let t = Some(root.as_str());
    let ok = |(s, v): (u16, Value)| {
        assert!(s == 200 || s == 204, "{s}: {v}");
        v
    };
    ok(req(
        port,
        "POST",
        "sys/mounts/database",
        t,
        Some(json!({"type": "database"})),
    )
    .await);
    ok(req(port, "POST", "database/config/pg", t, Some(json!({
        "plugin_name": "postgresql-database-plugin",
        "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
        "username": "arca_test_admin", "password": "arca-test-admin", "allowed_roles": "*"}))).await);
    let create =
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';";
    for (role, ttl) in [("kill9short", "3s"), ("kill9later", "12s")] {
        ok(req(
            port,
            "POST",
            &format!("database/roles/{role}"),
            t,
            Some(json!({"db_name": "pg", "creation_statements": create, "default_ttl": ttl})),
        )
        .await);
    }
    // Two groups of three: one runs out while the server is down.
    let mut short = Vec::new();
    let mut later = Vec::new();
    for i in 0..6 {
        let role = if i % 2 == 0 {
            "kill9short"
        } else {
            "kill9later"
        };
        let v = ok(req(port, "GET", &format!("database/creds/{role}"), t, None).await);
        let lease = v["lease_id"].as_str().unwrap().to_owned();
        let user = v["data"]["username"].as_str().unwrap().to_owned();
        assert!(pg_user_exists(&user).await);
        if i % 2 == 0 {
            short.push((lease, user))
        } else {
            later.push((lease, user))
        }
    }

    // kill -9, and the server stays down past the short TTL.
    drop(server);
    tokio::time::sleep(Duration::from_secs(4)).await;
    let server = start(&config, port, &log).await;
    unseal(port, &keys).await;
    // The later group is all there, with its deadline.
    let mut deadlines = Vec::new();
    for (lease, user) in &later {
        let v = ok(req(
            port,
            "PUT",
            "sys/leases/lookup",
            t,
            Some(json!({"lease_id": lease})),
        )
        .await);
        let ttl = v["data"]["ttl"].as_u64().unwrap();
        assert!((1..=12).contains(&ttl), "ttl {ttl}");
        deadlines.push(
            time::OffsetDateTime::parse(
                v["data"]["expire_time"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339,
            )
            .unwrap(),
        );
        assert!(pg_user_exists(user).await, "{user} went early");
    }
    // The short group ran out while the server was down: revoked right
    // after unseal.
    let gone_within = |users: Vec<String>, secs: u64| async move {
        for _ in 0..secs * 10 {
            let mut all = true;
            for u in &users {
                all &= !pg_user_exists(u).await;
            }
            if all {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(
        gone_within(short.iter().map(|(_, u)| u.clone()).collect(), 3).await,
        "leases that ran out while the server was down outlived the unseal"
    );
    for (lease, _) in &short {
        let (s, _) = req(
            port,
            "PUT",
            "sys/leases/lookup",
            t,
            Some(json!({"lease_id": lease})),
        )
        .await;
        assert_eq!(s, 400, "{lease} is still there");
    }
    // The later group: revoked on time, not before.
    assert!(
        gone_within(later.iter().map(|(_, u)| u.clone()).collect(), 15).await,
        "leases outlived their TTL after a restart"
    );
    let now = time::OffsetDateTime::now_utc();
    for d in deadlines {
        assert!(now >= d, "revoked before its deadline {d}");
        assert!(
            now - d < time::Duration::seconds(4),
            "revoked late: {d} vs {now}"
        );
    }
    drop(server);
}

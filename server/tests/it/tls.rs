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

/// `openssl s_client` against `addr` with `args`: whether the handshake
/// completed (and the protocol and cipher it reports).
fn s_client(addr: std::net::SocketAddr, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &addr.to_string(), "-brief"])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (text.contains("CONNECTION ESTABLISHED"), text)
}

/// Issue 12, finding 9: the TLS listener options are honoured, not
/// accepted and ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_versions_suites_and_client_certificates_are_honoured() {
    use arca_server::config::{ListenerTls, TlsVersion};
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path(), "server", "IP:127.0.0.1");
    let serve = |tls: ListenerTls| {
        let listener = Listener {
            tls_disable: false,
            tls_cert_file: Some(cert.clone()),
            tls_key_file: Some(key.clone()),
            tls,
            ..Default::default()
        };
        TestServer::dev_tls(arca_server::cmd::tls_acceptor(&listener).unwrap().unwrap())
    };

    // tls_min_version = "tls13": a TLS 1.2 client is refused.
    let s = serve(ListenerTls {
        min_version: TlsVersion::Tls13,
        ..Default::default()
    })
    .await;
    let (ok, out) = s_client(s.addr, &["-tls1_2"]);
    assert!(!ok, "{out}");
    let (ok, out) = s_client(s.addr, &["-tls1_3"]);
    assert!(ok && out.contains("TLSv1.3"), "{out}");
    s.stop().await;

    // tls_max_version = "tls12" and one cipher suite.
    let s = serve(ListenerTls {
        max_version: TlsVersion::Tls12,
        cipher_suites: vec!["TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384".into()],
        ..Default::default()
    })
    .await;
    let (ok, out) = s_client(s.addr, &["-tls1_3"]);
    assert!(!ok, "{out}");
    let (ok, out) = s_client(
        s.addr,
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES128-GCM-SHA256"],
    );
    assert!(!ok, "{out}");
    let (ok, out) = s_client(s.addr, &["-tls1_2"]);
    assert!(ok && out.contains("ECDHE-RSA-AES256-GCM-SHA384"), "{out}");
    s.stop().await;

    // tls_require_and_verify_client_cert: no certificate, or one from
    // another CA, is refused; one the CA signed is served.
    let (ca_cert, ca_key) = self_signed(dir.path(), "client-ca", "DNS:client-ca");
    let (stranger, stranger_key) = self_signed(dir.path(), "stranger", "DNS:stranger");
    let client_key = dir.path().join("client.key");
    let client_csr = dir.path().join("client.csr");
    let client_cert = dir.path().join("client.crt");
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=client",
        "-keyout",
        client_key.to_str().unwrap(),
        "-out",
        client_csr.to_str().unwrap(),
    ]);
    let ext = dir.path().join("client.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        client_csr.to_str().unwrap(),
        "-days",
        "2",
        "-CA",
        ca_cert.to_str().unwrap(),
        "-CAkey",
        ca_key.to_str().unwrap(),
        "-CAcreateserial",
        "-extfile",
        ext.to_str().unwrap(),
        "-out",
        client_cert.to_str().unwrap(),
    ]);
    let s = serve(ListenerTls {
        require_client_cert: true,
        client_ca_file: Some(ca_cert.clone()),
        ..Default::default()
    })
    .await;
    let url = format!("https://127.0.0.1:{}/v1/sys/health", s.addr.port());
    let curl = |extra: &[&str]| {
        let out = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
            .arg(&cert)
            .args(extra)
            .arg(&url)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(curl(&[]), "000", "no client certificate");
    assert_eq!(
        curl(&[
            "--cert",
            stranger.to_str().unwrap(),
            "--key",
            stranger_key.to_str().unwrap()
        ]),
        "000",
        "a certificate of another CA"
    );
    assert_eq!(
        curl(&[
            "--cert",
            client_cert.to_str().unwrap(),
            "--key",
            client_key.to_str().unwrap()
        ]),
        "200"
    );
    s.stop().await;
}

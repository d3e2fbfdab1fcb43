//! The binary as the issue starts it: `arca-injector -listen=127.0.0.1:PORT
//! -tls-cert-file=… -tls-key-file=… -vault-address=…`, AdmissionReviews at
//! `/mutate` over HTTPS with either annotation prefix, health and
//! metrics, and a renewed certificate served without a restart.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{pod, review_of};

struct Injector(Child);

impl Drop for Injector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A self-signed serving certificate for 127.0.0.1 with `cn`.
pub fn cert(dir: &Path, cn: &str) {
    let out = Command::new("openssl")
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
            &format!("/CN={cn}"),
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
        ])
        .arg("-keyout")
        .arg(dir.join("key.pem.new"))
        .arg("-out")
        .arg(dir.join("cert.pem.new"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::rename(dir.join("key.pem.new"), dir.join("key.pem")).unwrap();
    std::fs::rename(dir.join("cert.pem.new"), dir.join("cert.pem")).unwrap();
}

fn client(dir: &Path) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.join("cert.pem")).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .build()
        .unwrap()
}

pub fn start(dir: &Path) -> (String, impl Drop) {
    let (url, _, injector) = start_on(dir, None);
    (url, injector)
}

/// The injector, on the given CPU when one is named (`taskset`); its URL
/// and pid.
fn start_on(dir: &Path, cpu: Option<u32>) -> (String, u32, Injector) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = match cpu {
        Some(n) => {
            let mut c = Command::new("taskset");
            c.arg("-c")
                .arg(n.to_string())
                .arg(env!("CARGO_BIN_EXE_arca-injector"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_arca-injector")),
    };
    let child = cmd
        .arg(format!("-listen=127.0.0.1:{port}"))
        .arg(format!("-tls-cert-file={}", dir.join("cert.pem").display()))
        .arg(format!("-tls-key-file={}", dir.join("key.pem").display()))
        .arg("-vault-address=https://arca.arca-system.svc:8200")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    (format!("https://127.0.0.1:{port}"), pid, Injector(child))
}

async fn wait_ready(https: &reqwest::Client, url: &str) {
    let t = Instant::now();
    loop {
        if let Ok(r) = https.get(format!("{url}/health/ready")).send().await {
            assert_eq!(r.status(), 200);
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "the injector did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Confined to one CPU (a pod's CPU limit of 1 does the same), the
/// injector runs on one thread, and serves reviews as it does on more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_one_cpu_the_binary_runs_one_thread_and_serves_reviews() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cert(d, "one-cpu");
    let (url, pid, _injector) = start_on(d, Some(0));
    let https = client(d);
    wait_ready(&https, &url).await;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    assert!(
        status.lines().any(|l| l == "Cpus_allowed_list:\t0"),
        "{status}"
    );
    assert!(status.lines().any(|l| l == "Threads:\t1"), "{status}");
    let ann = json!({
        "arca.dev/agent-inject": "true",
        "arca.dev/role": "web",
        "arca.dev/agent-inject-secret-db": "database/creds/web",
    });
    // 32 at once, over several connections.
    let reviews: Vec<_> = (0..32)
        .map(|_| {
            let (https, url, review) = (
                https.clone(),
                url.clone(),
                review_of(pod(ann.clone()), "shop"),
            );
            tokio::spawn(async move {
                let r = https
                    .post(format!("{url}/mutate"))
                    .json(&review)
                    .send()
                    .await;
                r.unwrap().json::<Value>().await.unwrap()
            })
        })
        .collect();
    for r in reviews {
        let v = r.await.unwrap();
        assert_eq!(v["response"]["allowed"], true, "{v}");
        assert!(v["response"]["patch"].is_string(), "{v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_reviews_over_https_and_takes_a_renewed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    cert(d, "first");
    let (url, _injector) = start(d);
    let https = client(d);
    wait_ready(&https, &url).await;
    for prefix in ["vault.hashicorp.com", "arca.dev"] {
        let ann = json!({
            format!("{prefix}/agent-inject"): "true",
            format!("{prefix}/role"): "web",
            format!("{prefix}/agent-inject-secret-db"): "database/creds/web",
        });
        let review = review_of(pod(ann), "shop");
        let r = https
            .post(format!("{url}/mutate"))
            .json(&review)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["response"]["allowed"], true, "{v}");
        assert_eq!(v["response"]["patchType"], "JSONPatch");
        assert!(v["response"]["patch"].is_string());
    }
    let r = https
        .post(format!("{url}/mutate"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let metrics = https
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "arca_injector_reviews_total 3",
        "arca_injector_injected_total 2",
        "arca_injector_bad_requests_total 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line} in\n{metrics}");
    }

    // cert-manager renews the certificate: the next connections get the
    // new one (a client trusting only the new one gets through).
    cert(d, "second");
    let renewed = client(d);
    let t = Instant::now();
    loop {
        let fresh = reqwest::Client::builder()
            .add_root_certificate(
                reqwest::Certificate::from_pem(&std::fs::read(d.join("cert.pem")).unwrap())
                    .unwrap(),
            )
            .build()
            .unwrap();
        if fresh
            .get(format!("{url}/health/ready"))
            .send()
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "the renewed certificate was not served"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(
        renewed
            .get(format!("{url}/health/ready"))
            .send()
            .await
            .is_ok()
    );
}

#[test]
fn bad_flags_exit_2_with_the_reason() {
    let out = Command::new(env!("CARGO_BIN_EXE_arca-injector"))
        .arg("-listen=127.0.0.1:0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-vault-address"));
    let out = Command::new(env!("CARGO_BIN_EXE_arca-injector"))
        .arg("-help")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("AGENT_INJECT_VAULT_ADDR"));
}

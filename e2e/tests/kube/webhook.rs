//! The API server and what the injector and operator will stand on: a CRD
//! with a structural schema it enforces, and a mutating webhook on a
//! loopback HTTPS endpoint (trusted through its `caBundle`) that it calls,
//! whose JSONPatch it applies.
//!
//! The webhook listens on 127.0.0.1, which the API server of `e2e/kube/up`
//! reaches; for a cluster elsewhere, `ARCA_E2E_WEBHOOK_HOST` names an
//! address of this machine it can reach (for kind: the docker network's
//! gateway).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arca_e2e::Cluster;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a serving certificate for `host` (an IP address) it signed.
pub(crate) fn certificates(dir: &Path, host: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.crt",
            "-days",
            "1",
            "-subj",
            "/CN=arca-e2e-webhook-ca",
        ],
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "tls.key",
            "-out",
            "tls.csr",
            "-subj",
            "/CN=arca-e2e-webhook",
        ],
    );
    std::fs::write(
        dir.join("tls.ext"),
        format!("subjectAltName=IP:{host}\nextendedKeyUsage=serverAuth\n"),
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "tls.csr",
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "tls.crt",
            "-days",
            "1",
            "-extfile",
            "tls.ext",
        ],
    );
    let read = |f: &str| std::fs::read(dir.join(f)).unwrap();
    (read("ca.crt"), read("tls.crt"), read("tls.key"))
}

/// The webhook: answers every AdmissionReview with allowed and a patch
/// that adds the label `arca.dev/mutated`, and records what it was sent.
async fn serve_webhook(
    bind: &str,
    cert: &[u8],
    key: &[u8],
    seen: Arc<Mutex<Vec<Value>>>,
) -> SocketAddr {
    let certs = rustls_pemfile::certs(&mut &cert[..])
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pemfile::private_key(&mut &key[..]).unwrap().unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let seen = Arc::clone(&seen);
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(
                    move |req: hyper::Request<hyper::body::Incoming>| {
                        let seen = Arc::clone(&seen);
                        async move {
                            let path = req.uri().path().to_owned();
                            let body = req.into_body().collect().await?.to_bytes();
                            let review: Value =
                                serde_json::from_slice(&body).unwrap_or(Value::Null);
                            let answer = if path == "/mutate" {
                                let patch = json!([{"op": "add", "path": "/metadata/labels/arca.dev~1mutated",
                                                "value": "yes"}]);
                                json!({
                                    "apiVersion": "admission.k8s.io/v1",
                                    "kind": "AdmissionReview",
                                    "response": {
                                        "uid": review["request"]["uid"],
                                        "allowed": true,
                                        "patchType": "JSONPatch",
                                        "patch": STANDARD.encode(patch.to_string()),
                                    }
                                })
                            } else {
                                json!({"error": "not found"})
                            };
                            seen.lock()
                                .unwrap()
                                .push(json!({"path": path, "review": review}));
                            Ok::<_, hyper::Error>(
                                hyper::Response::builder()
                                    .header("content-type", "application/json")
                                    .body(Full::new(Bytes::from(answer.to_string())))
                                    .unwrap(),
                            )
                        }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_enforces_a_crd_schema_and_calls_a_mutating_webhook() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    let host = std::env::var("ARCA_E2E_WEBHOOK_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = certificates(dir.path(), &host);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let bind = if host == "127.0.0.1" {
        "127.0.0.1:0"
    } else {
        "0.0.0.0:0"
    };
    let port = serve_webhook(bind, &cert, &key, Arc::clone(&seen))
        .await
        .port();

    // A CRD of this test's own group, with a structural schema.
    let group = format!("{}.e2e.arca.dev", ns.name);
    cluster
        .create_cluster_scoped(
            &ns,
            json!({
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {"name": format!("widgets.{group}")},
                "spec": {
                    "group": group,
                    "scope": "Namespaced",
                    "names": {"plural": "widgets", "singular": "widget", "kind": "Widget",
                              "listKind": "WidgetList"},
                    "versions": [{
                        "name": "v1", "served": true, "storage": true,
                        "schema": {"openAPIV3Schema": {
                            "type": "object",
                            "properties": {"spec": {
                                "type": "object",
                                "properties": {"size": {"type": "integer", "minimum": 1}}
                            }}
                        }}
                    }]
                }
            }),
        )
        .await;
    let crds = cluster.dynamic(
        &json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition"}),
        None,
    );
    let mut established = false;
    for _ in 0..100 {
        let crd = crds.get(&format!("widgets.{group}")).await.unwrap();
        established = crd.data["status"]["conditions"]
            .as_array()
            .is_some_and(|c| {
                c.iter()
                    .any(|c| c["type"] == "Established" && c["status"] == "True")
            });
        if established {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(established, "the CRD was not established");
    let widget = |name: &str, size: i64| {
        json!({"apiVersion": format!("{group}/v1"), "kind": "Widget",
               "metadata": {"name": name, "labels": {"app": "smoke"}}, "spec": {"size": size}})
    };
    let widgets = cluster.dynamic(&widget("x", 1), Some(&ns.name));
    // The schema is the API server's to enforce: size 0 is refused.
    let bad: kube::api::DynamicObject = serde_json::from_value(widget("bad", 0)).unwrap();
    let refused = widgets
        .create(&Default::default(), &bad)
        .await
        .expect_err("a widget of size 0 was accepted");
    assert!(refused.to_string().contains("spec.size"), "{refused}");

    // The webhook, for widgets created in this namespace.
    let url = format!("https://{host}:{port}/mutate");
    cluster
        .create_cluster_scoped(
            &ns,
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": format!("{}-smoke", ns.name)},
                "webhooks": [{
                    "name": "smoke.e2e.arca.dev",
                    "clientConfig": {"url": url, "caBundle": STANDARD.encode(&ca)},
                    "rules": [{"apiGroups": [group], "apiVersions": ["v1"], "operations": ["CREATE"],
                               "resources": ["widgets"], "scope": "Namespaced"}],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}},
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 10
                }]
            }),
        )
        .await;
    // The API server picks the configuration up from its watch within
    // moments: widgets are created until one comes back mutated.
    let mut mutated = None;
    for i in 0..50 {
        let name = format!("w{i}");
        let created = cluster.create_in(&ns.name, widget(&name, 3)).await;
        if created
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get("arca.dev/mutated"))
            .is_some()
        {
            mutated = Some(name);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let name = mutated.expect("no widget came back with the webhook's label");
    // What the webhook was sent: an AdmissionReview v1 for that widget.
    let seen = seen.lock().unwrap().clone();
    let review = seen
        .iter()
        .map(|s| &s["review"])
        .find(|r| r["request"]["name"] == name.as_str())
        .unwrap_or_else(|| panic!("the webhook saw no review of {name}: {seen:?}"));
    assert!(seen.iter().all(|s| s["path"] == "/mutate"), "{seen:?}");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    let request = &review["request"];
    assert_eq!(request["operation"], "CREATE");
    assert_eq!(request["namespace"], ns.name.as_str());
    assert_eq!(
        request["kind"],
        json!({"group": group, "version": "v1", "kind": "Widget"})
    );
    assert_eq!(request["object"]["spec"]["size"], 3);
    // And the stored object carries the patch.
    let stored = widgets.get(&name).await.unwrap();
    assert_eq!(
        stored
            .metadata
            .labels
            .unwrap()
            .get("arca.dev/mutated")
            .map(String::as_str),
        Some("yes")
    );
    ns.delete().await;
}

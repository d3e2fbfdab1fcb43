//! arca-injector behind the real API server: registered with its
//! `caBundle`, `matchConditions` that send it annotated pods only, and
//! `failurePolicy: Ignore`. Pods created through the API server come back
//! as it stored them: annotated ones (and a Job's) with the agent,
//! others untouched. Then the stored pod's init container is run, as the
//! kubelet would (its command and env; volume paths mapped to temporary
//! directories, the projected token replaced by a TokenRequest token),
//! against an `arca server` with kubernetes auth through the API server,
//! and the app's files are checked. Last, the injector stopped: with
//! Ignore pods are still created (without the agent); with Fail they are
//! refused; unannotated pods are created either way.

use std::time::Duration;

use arca_e2e::Cluster;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::agent::configure;
use crate::arca::{Arca, bin};

struct Process(std::process::Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn pod(name: &str, annotations: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "annotations": annotations},
        "spec": {
            "serviceAccountName": "app",
            "containers": [{"name": "app", "image": "registry.example/app:1", "command": ["/app"]}]
        }
    })
}

fn annotations() -> Value {
    json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "app",
        "vault.hashicorp.com/agent-inject-secret-config": "secret/data/app",
        "vault.hashicorp.com/agent-inject-template-config":
            "{{ with secret \"secret/data/app\" }}greeting={{ .Data.data.greeting }}{{ end }}",
        "vault.hashicorp.com/agent-inject-secret-db": "database/creds/app",
    })
}

/// A container of a stored pod as the kubelet would start it, here: each
/// of its mount paths a directory under `root` (in the agent's
/// configuration and arguments too), `binary` for its command.
fn kubelet(
    container: &Value,
    root: &std::path::Path,
    binary: std::path::PathBuf,
) -> tokio::process::Command {
    let map = |p: &str| root.join(p.trim_start_matches('/')).display().to_string();
    let mounts: Vec<&str> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    let remap = |text: &str| {
        let mut t = text.to_owned();
        for m in &mounts {
            t = t.replace(m, &map(m));
        }
        t
    };
    for m in &mounts {
        std::fs::create_dir_all(map(m)).unwrap();
    }
    let mut cmd = tokio::process::Command::new(binary);
    for a in container["args"].as_array().into_iter().flatten() {
        cmd.arg(remap(a.as_str().unwrap()));
    }
    for e in container["env"].as_array().into_iter().flatten() {
        let value = e["value"].as_str().unwrap_or("");
        let value = if e["name"] == "ARCA_AGENT_CONFIG" {
            let json = String::from_utf8(STANDARD.decode(value).unwrap()).unwrap();
            STANDARD.encode(remap(&json))
        } else {
            value.to_owned()
        };
        cmd.env(e["name"].as_str().unwrap(), value);
    }
    cmd
}

fn names(list: &Value) -> Vec<String> {
    list.as_array()
        .map(|l| {
            l.iter()
                .map(|c| c["name"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_stores_injected_pods_and_the_injected_agent_works() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    let arca = Arca::dev().await;
    configure(&cluster, &ns, &arca).await;
    let host = std::env::var("ARCA_E2E_WEBHOOK_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca, cert, key) = crate::webhook::certificates(d, &host);
    std::fs::write(d.join("tls.crt"), &cert).unwrap();
    std::fs::write(d.join("tls.key"), &key).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = if host == "127.0.0.1" {
        format!("127.0.0.1:{port}")
    } else {
        format!(":{port}")
    };
    let injector = Process(
        std::process::Command::new(bin("arca-injector"))
            .arg(format!("-listen={listen}"))
            .arg(format!("-tls-cert-file={}", d.join("tls.crt").display()))
            .arg(format!("-tls-key-file={}", d.join("tls.key").display()))
            .arg(format!("-vault-address=http://{}", arca.addr))
            .arg("-token-audience=arca")
            .arg("-agent-image=registry.example/arca-agent:e2e")
            .stderr(std::fs::File::create(d.join("injector.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let webhook_name = format!("{}-arca-injector", ns.name);
    let webhook = |policy: &str| {
        json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "MutatingWebhookConfiguration",
            "metadata": {"name": webhook_name},
            "webhooks": [{
                "name": "pods.arca.dev",
                "clientConfig": {"url": format!("https://{host}:{port}/mutate"), "caBundle": STANDARD.encode(&ca)},
                "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                           "resources": ["pods"], "scope": "Namespaced"}],
                // This test's namespace only (the chart: everything but
                // kube-system and the injector's own).
                "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}},
                "matchConditions": [{
                    "name": "asks-for-the-agent",
                    "expression": "has(object.metadata.annotations) && ('vault.hashicorp.com/agent-inject' in object.metadata.annotations || 'arca.dev/agent-inject' in object.metadata.annotations)"
                }],
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
                "failurePolicy": policy,
                "timeoutSeconds": 5,
                "reinvocationPolicy": "Never"
            }]
        })
    };
    cluster.create_cluster_scoped(&ns, webhook("Ignore")).await;
    let pods = cluster.dynamic(&pod("x", json!({})), Some(&ns.name));

    // The API server picks the configuration up within moments.
    let mut stored = None;
    for i in 0..50 {
        let created = cluster
            .create_in(&ns.name, pod(&format!("annotated-{i}"), annotations()))
            .await;
        let v = serde_json::to_value(&created).unwrap();
        if v["metadata"]["annotations"]["vault.hashicorp.com/agent-inject-status"] == "injected" {
            stored = Some(v);
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let stored = stored.expect("no pod came back injected");
    let spec = &stored["spec"];
    assert_eq!(
        names(&spec["initContainers"]),
        ["arca-agent-init", "arca-agent"]
    );
    assert_eq!(spec["initContainers"][1]["restartPolicy"], "Always");
    assert_eq!(names(&spec["containers"]), ["app"]);
    // The API server's own additions are intact next to the agent's.
    let vols = names(&spec["volumes"]);
    assert!(
        vols.iter().any(|v| v.starts_with("kube-api-access-")),
        "{vols:?}"
    );
    for v in ["arca-secrets", "arca-home", "arca-token"] {
        assert!(vols.contains(&v.to_owned()), "{v} in {vols:?}");
    }
    let app_mounts = spec["containers"][0]["volumeMounts"].to_string();
    assert!(
        app_mounts.contains("/vault/secrets") && !app_mounts.contains("arca-home"),
        "{app_mounts}"
    );
    let token_source = spec["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "arca-token")
        .unwrap()["projected"]["sources"][0]["serviceAccountToken"]
        .clone();
    assert_eq!(token_source["audience"], "arca");

    // Unannotated: stored as sent.
    let plain = serde_json::to_value(
        cluster
            .create_in(&ns.name, pod("plain", json!({"team": "x"})))
            .await,
    )
    .unwrap();
    assert!(
        plain["spec"].get("initContainers").is_none(),
        "{}",
        plain["spec"]
    );

    // A Job's pod, made by the job controller, is injected too.
    let job = json!({
        "apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": "migrate"},
        "spec": {"template": {
            "metadata": {"annotations": annotations()},
            "spec": {"serviceAccountName": "app", "restartPolicy": "Never",
                     "containers": [{"name": "migrate", "image": "registry.example/app:1", "command": ["/migrate"]}]}
        }}
    });
    cluster.create_in(&ns.name, job).await;
    let mut job_pod = None;
    for _ in 0..100 {
        let list = pods
            .list(&kube::api::ListParams::default().labels("job-name=migrate"))
            .await
            .unwrap();
        if let Some(p) = list.items.first() {
            job_pod = Some(serde_json::to_value(p).unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let job_pod = job_pod.expect("the job controller made no pod");
    assert_eq!(
        names(&job_pod["spec"]["initContainers"]),
        ["arca-agent-init", "arca-agent"]
    );

    // Play kubelet: the stored init container, as a process.
    let init = &spec["initContainers"][0];
    assert_eq!(init["command"], json!(["/arca-agent"]));
    let root = d.join("pod");
    let map = |p: &str| root.join(p.trim_start_matches('/')).display().to_string();
    std::fs::create_dir_all(map("/var/run/secrets/arca.dev/serviceaccount")).unwrap();
    let token = cluster.token(&ns.name, "app", &["arca"], 600).await;
    std::fs::write(map("/var/run/secrets/arca.dev/serviceaccount/token"), token).unwrap();
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        kubelet(init, &root, bin("arca-agent")).output(),
    )
    .await
    .expect("the init container did not finish")
    .unwrap();
    assert!(
        out.status.success(),
        "init container: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let secrets = std::path::PathBuf::from(map("/vault/secrets"));
    assert_eq!(
        std::fs::read_to_string(secrets.join("config")).unwrap(),
        "greeting=hello"
    );
    let db = std::fs::read_to_string(secrets.join("db")).unwrap();
    assert!(
        db.contains("username: v-") && db.contains("password: "),
        "{db}"
    );
    let user = db
        .lines()
        .find_map(|l| l.strip_prefix("username: "))
        .unwrap();
    let pass = db
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .unwrap();
    crate::agent::pg_login(user, pass)
        .await
        .expect("the rendered credentials log in");
    // The hand-off the sidecar will take over, in the agents' own volume.
    assert!(root.join("home/arca/handoff.json").exists());
    // The sidecar takes the hand-off over: no second login.
    let sidecar = &spec["initContainers"][1];
    let log = d.join("sidecar.log");
    let mut side = kubelet(sidecar, &root, bin("arca-agent"))
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut took_over = false;
    for _ in 0..100 {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains("took over the init container's token") {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        took_over,
        "the sidecar did not take the hand-off over: {text}"
    );
    assert!(
        !text.contains("logged in with"),
        "the sidecar logged in again: {text}"
    );
    let _ = side.start_kill();
    let _ = side.wait().await;

    // Exec mode: the app container's command runs under the agent copied
    // by the init container, with GREETING in its environment.
    let mut exec_ann = annotations();
    exec_ann["arca.dev/agent-inject-exec"] = json!("app");
    exec_ann["arca.dev/agent-inject-env-GREETING"] = json!("secret/data/app#greeting");
    let mut exec_pod = pod("exec", exec_ann);
    exec_pod["spec"]["containers"][0]["command"] = json!([
        "/bin/sh",
        "-c",
        "printf '%s' \"$GREETING\" > /vault/secrets/seen-by-app"
    ]);
    let stored_exec = serde_json::to_value(cluster.create_in(&ns.name, exec_pod).await).unwrap();
    let app = &stored_exec["spec"]["containers"][0];
    assert_eq!(app["command"], json!(["/arca/bin/arca-agent"]));
    let root2 = d.join("exec-pod");
    let map2 = |p: &str| root2.join(p.trim_start_matches('/')).display().to_string();
    std::fs::create_dir_all(map2("/var/run/secrets/arca.dev/serviceaccount")).unwrap();
    let token = cluster.token(&ns.name, "app", &["arca"], 600).await;
    std::fs::write(
        map2("/var/run/secrets/arca.dev/serviceaccount/token"),
        token,
    )
    .unwrap();
    let init2 = &stored_exec["spec"]["initContainers"][0];
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        kubelet(init2, &root2, bin("arca-agent")).output(),
    )
    .await
    .expect("the exec pod's init container did not finish")
    .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copied = std::path::PathBuf::from(map2("/arca/bin/arca-agent"));
    assert!(copied.exists(), "the init container did not copy the agent");
    let out = tokio::time::timeout(
        Duration::from_secs(60),
        kubelet(app, &root2, copied).output(),
    )
    .await
    .expect("the wrapped app did not finish")
    .unwrap();
    assert!(
        out.status.success(),
        "wrapped app: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(map2("/vault/secrets/seen-by-app")).unwrap(),
        "hello",
        "the app saw GREETING from the secret"
    );

    // The injector gone: Ignore lets annotated pods through, untouched.
    drop(injector);
    let ignored = serde_json::to_value(
        cluster
            .create_in(&ns.name, pod("while-down", annotations()))
            .await,
    )
    .unwrap();
    assert!(ignored["spec"].get("initContainers").is_none());
    // Fail refuses them; unannotated pods never reach the webhook.
    let api = cluster.dynamic(&webhook("Fail"), None);
    let mut current = api.get(&webhook_name).await.unwrap();
    current.data["webhooks"][0]["failurePolicy"] = json!("Fail");
    api.replace(&webhook_name, &Default::default(), &current)
        .await
        .unwrap();
    let mut refused = None;
    for i in 0..50 {
        let obj: kube::api::DynamicObject =
            serde_json::from_value(pod(&format!("fail-{i}"), annotations())).unwrap();
        match pods.create(&Default::default(), &obj).await {
            Err(e) => {
                refused = Some(e.to_string());
                break;
            }
            Ok(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let refused =
        refused.expect("with failurePolicy Fail, a pod was created while the injector was down");
    assert!(refused.contains("pods.arca.dev"), "{refused}");
    cluster
        .create_in(&ns.name, pod("plain-while-down", json!({})))
        .await;
    arca.stop().await;
    ns.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_managed_tls_sets_the_ca_bundle_and_renews_the_certificate() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    cluster.service_account(&ns.name, "app").await;
    let host = std::env::var("ARCA_E2E_WEBHOOK_HOST").unwrap_or_else(|_| "127.0.0.1".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = if host == "127.0.0.1" {
        format!("127.0.0.1:{port}")
    } else {
        format!(":{port}")
    };
    let webhook_name = format!("{}-arca-injector-auto", ns.name);
    // No caBundle, and Fail: a pod is only created once the API server
    // trusts the injector's own certificate.
    cluster
        .create_cluster_scoped(
            &ns,
            json!({
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "MutatingWebhookConfiguration",
                "metadata": {"name": webhook_name},
                "webhooks": [{
                    "name": "pods.arca.dev",
                    "clientConfig": {"url": format!("https://{host}:{port}/mutate")},
                    "rules": [{"apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE"],
                               "resources": ["pods"], "scope": "Namespaced"}],
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": ns.name}},
                    "matchConditions": [{"name": "asks-for-the-agent",
                        "expression": "has(object.metadata.annotations) && 'vault.hashicorp.com/agent-inject' in object.metadata.annotations"}],
                    "sideEffects": "None",
                    "admissionReviewVersions": ["v1"],
                    "failurePolicy": "Fail",
                    "timeoutSeconds": 5
                }]
            }),
        )
        .await;
    let start = |log: &str| {
        let dir = std::env::temp_dir();
        Process(
            std::process::Command::new(bin("arca-injector"))
                .arg(format!("-listen={listen}"))
                .arg(format!("-tls-auto={webhook_name}"))
                .arg(format!("-tls-auto-hosts={host}"))
                .arg(format!("-tls-auto-namespace={}", ns.name))
                .arg("-tls-auto-cert-lifetime=30s")
                .arg("-vault-address=https://arca.example:8200")
                .stderr(std::fs::File::create(dir.join(format!("{}-{log}", ns.name))).unwrap())
                .spawn()
                .unwrap(),
        )
    };
    let first = start("injector-1.log");
    let hooks = cluster.dynamic(&json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration"}), None);
    let secrets = cluster.dynamic(
        &json!({"apiVersion": "v1", "kind": "Secret"}),
        Some(&ns.name),
    );
    let mut bundle = String::new();
    for _ in 0..100 {
        let h = hooks.get(&webhook_name).await.unwrap();
        bundle = h.data["webhooks"][0]["clientConfig"]["caBundle"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        if !bundle.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!bundle.is_empty(), "the injector did not set the caBundle");
    let secret = secrets.get("arca-injector-tls").await.unwrap();
    assert_eq!(
        secret.data["data"]["ca.crt"].as_str(),
        Some(bundle.as_str()),
        "the caBundle is the Secret's CA"
    );
    let tls1 = secret.data["data"]["tls.crt"].as_str().unwrap().to_owned();

    // The API server trusts it: an annotated pod is created, injected.
    let injected = |name: String| {
        let cluster = &cluster;
        let ns = &ns.name;
        async move {
            for i in 0..50 {
                let obj: kube::api::DynamicObject =
                    serde_json::from_value(pod(&format!("{name}-{i}"), json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "app"}))).unwrap();
                let api = cluster.dynamic(&pod("x", json!({})), Some(ns));
                if let Ok(p) = api.create(&Default::default(), &obj).await {
                    let v = serde_json::to_value(p).unwrap();
                    return v["metadata"]["annotations"]["vault.hashicorp.com/agent-inject-status"]
                        == "injected";
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            false
        }
    };
    assert!(
        injected("before".into()).await,
        "no pod was created through the self-managed certificate"
    );

    // A second replica takes the same certificate: the CA stays.
    let second = start("injector-2.log");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let h = hooks.get(&webhook_name).await.unwrap();
    assert_eq!(
        h.data["webhooks"][0]["clientConfig"]["caBundle"].as_str(),
        Some(bundle.as_str())
    );
    drop(second);

    // At two thirds of 30 s the certificate is issued again by the same
    // CA; pods keep coming through.
    let mut renewed = false;
    for _ in 0..40 {
        let s = secrets.get("arca-injector-tls").await.unwrap();
        if s.data["data"]["tls.crt"].as_str() != Some(tls1.as_str()) {
            assert_eq!(
                s.data["data"]["ca.crt"].as_str(),
                Some(bundle.as_str()),
                "same CA"
            );
            renewed = true;
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(
        renewed,
        "the serving certificate was not renewed within its lifetime"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(
        injected("after".into()).await,
        "no pod was created after the renewal"
    );
    drop(first);
    ns.delete().await;
}

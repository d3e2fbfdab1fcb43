//! The operator's whole flow on the real API server, with real processes:
//! the chart installed (CRDs, the operator's RBAC), `arca-operator run` as a
//! process with its service account's token (so the chart's RBAC is what
//! it has), the test playing kubelet for the VaultCluster's pods
//! (kubelet.rs). Bootstrap: init, unseal, kubernetes auth configured
//! against the real API server, the root token revoked; a SecretEngine with
//! a PostgreSQL connection whose password comes from a Secret; a Policy
//! with a service-account binding; a workload of that service account logs
//! in and its database credentials log in to PostgreSQL; a killed server
//! comes back sealed and is unsealed; a policy changed by hand is put back;
//! deleting the objects cleans up.
//!
//! The servers run as processes, not in pods: they have no pod token to
//! review logins with, so each login is reviewed with the logging-in
//! account's own token (Vault's behaviour without a reviewer), and the test
//! grants those accounts `system:auth-delegator`; in a cluster the
//! operator binds it to the servers' account instead.

use std::process::Stdio;
use std::time::{Duration, Instant};

use arca_e2e::Cluster;
use arca_operator::crd::{Policy, SecretEngine, VaultCluster};
use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, DeleteParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

use crate::agent::PG_URL;
use crate::arca::bin;
use crate::kubelet::{Kubelet, write};
use crate::operator::install_crds;

async fn wait<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn helm(args: &[&str]) -> Result<String, String> {
    let out = std::process::Command::new("helm")
        .args(args)
        .current_dir(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .parent()
                .unwrap(),
        )
        .output()
        .expect("helm (on PATH after `eval \"$(e2e/kube/up)\"`)");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// A client for pod `vault-0` at its loopback address, trusting the CA
/// the operator generated.
fn pod_client(ns: &str, ip: &str, ca: &[u8]) -> arca_client::Client {
    let host = format!("vault-0.vault-internal.{ns}.svc");
    arca_client::Client::builder(format!("https://{host}:8200"))
        .resolve(host, format!("{ip}:8200").parse().unwrap())
        .ca_pem(ca.to_vec())
        .build()
        .unwrap()
}

fn status_of(vc: &VaultCluster, condition: &str) -> Option<(String, String)> {
    vc.status
        .as_ref()?
        .conditions
        .iter()
        .find(|c| c.type_ == condition)
        .map(|c| (c.status.clone(), c.reason.clone()))
}

/// What each test here starts from: the chart installed in a namespace of
/// its own (no injector), the operator's credentials, the test playing
/// kubelet.
struct Setup {
    cluster: Cluster,
    ns: arca_e2e::TestNamespace,
    release: String,
    operator_sa: String,
    dir: tempfile::TempDir,
    token: String,
    token_file: std::path::PathBuf,
    ca_file: std::path::PathBuf,
    kubeconfig: std::path::PathBuf,
    kubelet: Kubelet,
}

/// `first_ip`: the last octet of the first pod's loopback address (tests
/// running at once use different ranges).
async fn setup(first_ip: u8) -> Setup {
    let cluster = Cluster::connect().await;
    install_crds();
    let ns = cluster.namespace().await;
    let client = cluster.client();
    let release = format!("op{}", &ns.name[ns.name.len() - 5..]);
    helm(&[
        "install",
        &release,
        "charts/arca",
        "-n",
        &ns.name,
        "--wait=false",
        "--set",
        "injector.enabled=false",
    ])
    .unwrap_or_else(|e| panic!("helm install: {e}"));
    let operator_sa = format!("{release}-operator");

    // The operator's credentials: its service account's token, in a
    // kubeconfig of its own (only the chart's RBAC), and as its login JWT.
    let dir = tempfile::tempdir().unwrap();
    let token = cluster.token(&ns.name, &operator_sa, &[], 3600).await;
    let ca_file = write(dir.path(), "ca.crt", &cluster.ca_pem());
    let token_file = write(dir.path(), "token", &token);
    let kubeconfig = write(
        dir.path(),
        "kubeconfig",
        &serde_json::to_string(&json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {"server": cluster.server_url(), "certificate-authority": ca_file}}],
            "users": [{"name": "u", "user": {"tokenFile": token_file}}],
            "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u", "namespace": ns.name}}],
            "current-context": "x"
        }))
        .unwrap(),
    );
    cluster.service_account(&ns.name, "app").await;
    for sa in [operator_sa.as_str(), "app"] {
        cluster
            .create_cluster_scoped(
                &ns,
                json!({
                    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
                    "metadata": {"name": format!("{}-{sa}-review", ns.name)},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:auth-delegator"},
                    "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": ns.name}]
                }),
            )
            .await;
    }

    let kubelet = Kubelet::start(
        client.clone(),
        &ns.name,
        "app.kubernetes.io/name=arca",
        first_ip,
    );
    Setup {
        cluster,
        ns,
        release,
        operator_sa,
        dir,
        token,
        token_file,
        ca_file,
        kubeconfig,
        kubelet,
    }
}

impl Setup {
    /// `arca-operator run` as the chart's service account, with this
    /// identity in the Lease.
    fn start_operator(&self, identity: &str) -> tokio::process::Child {
        tokio::process::Command::new(bin("arca-operator"))
            .args([
                "run",
                &format!("-namespace={}", self.ns.name),
                &format!("-lease-name={}", self.operator_sa),
                &format!("-lease-namespace={}", self.ns.name),
                &format!("-service-account={}", self.operator_sa),
                &format!("-service-account-namespace={}", self.ns.name),
                &format!("-token-file={}", self.token_file.display()),
                &format!("-server-kubernetes-host={}", self.cluster.server_url()),
                &format!("-server-kubernetes-ca-file={}", self.ca_file.display()),
                "-resync-interval=3s",
                "-health-listen=",
                "-log-level=debug",
            ])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("POD_NAME", identity)
            .env_remove("POD_NAMESPACE")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(format!("{identity}.log"))).unwrap())
            .kill_on_drop(true)
            .spawn()
            .unwrap()
    }

    fn log(&self, identity: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("{identity}.log"))).unwrap_or_default()
    }

    async fn finish(self) {
        self.kubelet.stop().await;
        let _ = helm(&[
            "uninstall",
            &self.release,
            "-n",
            &self.ns.name,
            "--wait=false",
        ]);
        self.ns.delete().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_runs_a_cluster_and_what_it_serves() {
    let setup = setup(20 + rand_octet() % 100).await;
    let Setup {
        cluster,
        ns,
        operator_sa,
        token,
        kubelet,
        ..
    } = &setup;
    let client = cluster.client();
    // Two replicas, as the chart can run them: one leads (the Lease), the
    // other waits to take over.
    let start_operator = |identity: &str| setup.start_operator(identity);
    let mut operators = std::collections::HashMap::from([
        ("op-a", start_operator("op-a")),
        ("op-b", start_operator("op-b")),
    ]);
    let log_of = |identity: &str| setup.log(identity);
    let leases = cluster.dynamic(
        &json!({"apiVersion": "coordination.k8s.io/v1", "kind": "Lease"}),
        Some(&ns.name),
    );
    let holder = || async {
        let lease = leases.get(operator_sa).await.ok()?;
        lease.data["spec"]["holderIdentity"]
            .as_str()
            .map(str::to_owned)
    };
    let leader = wait("a leader", Duration::from_secs(30), || async {
        holder().await.filter(|h| h == "op-a" || h == "op-b")
    })
    .await;
    let follower = if leader == "op-a" { "op-b" } else { "op-a" };
    let operator_log = || format!("{}\n{}", log_of("op-a"), log_of("op-b"));

    // The root token, as the operator keeps it while bootstrapping: seen
    // by a watch started before the cluster exists.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let roots = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let seen = roots.clone();
    let watch = tokio::spawn(async move {
        let mut w = watcher(
            secrets,
            watcher::Config::default().fields("metadata.name=vault-bootstrap"),
        )
        .boxed();
        while let Some(Ok(ev)) = w.next().await {
            let (watcher::Event::Apply(s) | watcher::Event::InitApply(s)) = ev else {
                continue;
            };
            let token = s.data.and_then(|d| {
                d.get("root-token")
                    .map(|v| String::from_utf8_lossy(&v.0).into_owned())
            });
            seen.lock().unwrap().extend(token);
        }
    });

    let vcs: Api<VaultCluster> = Api::namespaced(client.clone(), &ns.name);
    vcs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
            "metadata": {"name": "vault"}, "spec": {"audit": {"type": "Stdout"}}
        }))
        .unwrap(),
    )
    .await
    .unwrap();

    let vc = wait(
        "the VaultCluster to run",
        Duration::from_secs(120),
        || async {
            let vc = vcs.get("vault").await.ok()?;
            let phase = vc.status.as_ref().and_then(|s| s.phase);
            (phase == Some(arca_operator::crd::cluster::Phase::Running)).then_some(vc)
        },
    )
    .await
    .clone();
    assert_eq!(
        status_of(&vc, "Initialized"),
        Some(("True".into(), "Bootstrapped".into())),
        "{:?}\n{}",
        vc.status,
        operator_log()
    );
    let status = vc.status.clone().unwrap();
    assert_eq!(status.active_pod.as_deref(), Some("vault-0"));
    assert!(status.sealed_pods.is_empty());
    assert_eq!(status.observed_generation, vc.metadata.generation);
    assert!(status.version.is_some());

    // The shares are in the unseal Secret; the root token is gone.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns.name);
    let unseal = secrets.get("vault-unseal").await.unwrap().data.unwrap();
    assert_eq!(
        (1..=5)
            .filter(|i| unseal.contains_key(&format!("key-{i}")))
            .count(),
        5
    );
    assert!(
        secrets.get_opt("vault-bootstrap").await.unwrap().is_none(),
        "the bootstrap Secret is deleted"
    );
    let ca = secrets.get("vault-tls").await.unwrap().data.unwrap()["ca.crt"]
        .0
        .clone();
    let ip = kubelet.ip("vault-0").unwrap();
    let server = pod_client(&ns.name, &ip, &ca);
    let roots = roots.lock().unwrap().clone();
    assert!(!roots.is_empty(), "the watch saw the bootstrap Secret");
    for root in &roots {
        let e = server
            .with_token(root.clone())
            .read("auth/token/lookup-self")
            .await
            .unwrap_err();
        assert!(
            matches!(e, arca_client::Error::Api { status: 403, .. }),
            "the root token still works: {e}"
        );
    }
    // kubernetes auth points at the real API server; the operator's role.
    let operator_login = server
        .login_kubernetes("kubernetes", "arca-operator", token)
        .await
        .unwrap();
    let as_operator = server.with_token(operator_login.auth.unwrap().client_token);
    let cfg = as_operator
        .read("auth/kubernetes/config")
        .await
        .unwrap_err();
    assert!(
        matches!(cfg, arca_client::Error::Api { status: 403, .. }),
        "the operator cannot read the auth config: {cfg}"
    );
    let denied = as_operator.write("sys/seal", &json!({})).await.unwrap_err();
    assert!(
        matches!(denied, arca_client::Error::Api { status: 403, .. }),
        "{denied}"
    );
    // The audit device writes to the server's output.
    assert!(
        kubelet.log("vault-0").contains("\"type\":\"request\""),
        "audit entries on stdout"
    );

    // A SecretEngine whose admin password comes from a Secret.
    let pg_admin: Secret = serde_json::from_value(json!({
        "metadata": {"name": "pg-admin"}, "stringData": {"password": "arca-test-admin"}
    }))
    .unwrap();
    Api::<Secret>::namespaced(client.clone(), &ns.name)
        .create(&PostParams::default(), &pg_admin)
        .await
        .unwrap();
    let engines: Api<SecretEngine> = Api::namespaced(client.clone(), &ns.name);
    engines
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "SecretEngine",
                "metadata": {"name": "db"},
                "spec": {
                    "clusterRef": {"name": "vault"}, "path": "database", "type": "database",
                    "tune": {"defaultLeaseTtl": "10m"},
                    "config": [{"path": "config/pg",
                        "data": {"plugin_name": "postgresql-database-plugin", "connection_url": PG_URL, "username": "arca_test_admin", "allowed_roles": ["app"]},
                        "secretData": {"password": {"secretKeyRef": {"name": "pg-admin", "key": "password"}}}}],
                    "roles": [{"name": "app", "data": {"db_name": "pg", "default_ttl": "5m",
                        "creation_statements": ["CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"]}}]
                }
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let policies: Api<Policy> = Api::namespaced(client.clone(), &ns.name);
    let rules = "path \"database/creds/app\" {\n  capabilities = [\"read\"]\n}\n";
    policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "Policy",
                "metadata": {"name": "app"},
                "spec": {"clusterRef": {"name": "vault"}, "rules": rules, "binding": {"serviceAccounts": ["app"]}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let ready = |conds: Option<Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>>| {
        conds
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True")
    };
    let se = wait(
        "the SecretEngine to be ready",
        Duration::from_secs(60),
        || async {
            let se = engines.get("db").await.ok()?;
            ready(se.status.clone().map(|s| s.conditions)).then_some(se)
        },
    )
    .await;
    assert!(
        se.status
            .unwrap()
            .accessor
            .unwrap()
            .starts_with("database_")
    );
    wait(
        "the Policy to be ready",
        Duration::from_secs(60),
        || async {
            let p = policies.get("app").await.ok()?;
            ready(p.status.clone().map(|s| s.conditions)).then_some(())
        },
    )
    .await;

    // A workload of that service account: logs in, gets credentials, and
    // they work on PostgreSQL.
    let app_jwt = cluster.token(&ns.name, "app", &[], 600).await;
    let login = server
        .login_kubernetes("kubernetes", "app", &app_jwt)
        .await
        .unwrap();
    let app = server.with_token(login.auth.unwrap().client_token);
    let creds = app
        .read("database/creds/app")
        .await
        .unwrap()
        .unwrap()
        .data
        .unwrap();
    let (user, pass) = (
        creds["username"].as_str().unwrap(),
        creds["password"].as_str().unwrap(),
    );
    let (pg, conn) = tokio_postgres::connect(
        &format!("host=127.0.0.1 port=5432 user={user} password={pass} dbname=postgres"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("the minted credentials log in to PostgreSQL");
    tokio::spawn(conn);
    let row = pg.query_one("SELECT current_user", &[]).await.unwrap();
    assert_eq!(row.get::<_, String>(0), user);
    assert!(
        app.read("database/config/pg").await.is_err(),
        "the policy grants creds only"
    );

    // A server killed: the kubelet starts it again, sealed (Shamir: a new
    // process always starts sealed), and the operator unseals it (nothing
    // else here holds the shares).
    let before = kubelet.restarts("vault-0");
    kubelet.kill("vault-0");
    wait(
        "vault-0 to be started again",
        Duration::from_secs(30),
        || async { (kubelet.restarts("vault-0") > before).then_some(()) },
    )
    .await;
    wait(
        "the operator to unseal vault-0",
        Duration::from_secs(60),
        || async {
            server
                .seal_status()
                .await
                .ok()
                .filter(|s| !s.sealed)
                .map(|_| ())
        },
    )
    .await;
    let log = kubelet.log("vault-0");
    assert_eq!(
        log.matches("Arca server started!").count(),
        2,
        "one restart on the same data:\n{log}"
    );

    // A policy changed by hand is put back by the resync.
    as_operator
        .write_policy("app", "path \"*\" { capabilities = [\"sudo\", \"read\"] }")
        .await
        .unwrap();
    wait(
        "the resync to restore the policy",
        Duration::from_secs(30),
        || async {
            (as_operator.read_policy("app").await.ok()?.as_deref() == Some(rules)).then_some(())
        },
    )
    .await;

    // A second engine on the same path does not take the mount over, and
    // deleting it leaves the mount alone; an engine cannot read the
    // operator's own Secrets.
    engines
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "SecretEngine",
                "metadata": {"name": "dup"}, "spec": {"clusterRef": {"name": "vault"}, "path": "database", "type": "database"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    engines
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "SecretEngine",
                "metadata": {"name": "thief"},
                "spec": {"clusterRef": {"name": "vault"}, "path": "loot", "type": "kv",
                         "config": [{"path": "config", "secretData": {"x": {"secretKeyRef": {"name": "vault-unseal", "key": "key-1"}}}}]}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    let reason_of = |name: &'static str| {
        let engines = engines.clone();
        async move {
            let se = engines.get(name).await.ok()?;
            se.status?
                .conditions
                .iter()
                .find(|c| c.type_ == "Ready")
                .map(|c| c.reason.clone())
        }
    };
    wait(
        "the duplicate to be refused",
        Duration::from_secs(30),
        || async { reason_of("dup").await.filter(|r| r == "PathInUse") },
    )
    .await;
    wait(
        "the operator's Secret to be refused",
        Duration::from_secs(30),
        || async { reason_of("thief").await.filter(|r| r == "SecretRefused") },
    )
    .await;
    for name in ["dup", "thief"] {
        engines
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }
    wait("both to be deleted", Duration::from_secs(30), || async {
        (engines.get_opt("dup").await.ok()?.is_none()
            && engines.get_opt("thief").await.ok()?.is_none())
        .then_some(())
    })
    .await;
    let mounts = as_operator.list_mounts().await.unwrap();
    assert!(
        mounts.contains_key("database/"),
        "the first engine's mount is still there"
    );
    assert!(
        !mounts.contains_key("loot/"),
        "nothing was mounted for the refused engine"
    );

    // A configuration change rolls the pod: the operator deletes it (the
    // StatefulSet is OnDelete), its StatefulSet makes it again with the new
    // template, the operator unseals it.
    let sets: Api<k8s_openapi::api::apps::v1::StatefulSet> =
        Api::namespaced(client.clone(), &ns.name);
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns.name);
    let uid = pods.get("vault-0").await.unwrap().metadata.uid;
    vcs.patch(
        "vault",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"extraConfig": "default_lease_ttl = \"2h\"\n"}})),
    )
    .await
    .unwrap();
    wait(
        "the pod to be rolled to the new template and unsealed",
        Duration::from_secs(90),
        || async {
            let pod = pods.get("vault-0").await.ok()?;
            let update = sets.get("vault").await.ok()?.status?.update_revision?;
            let current = pod
                .metadata
                .labels
                .as_ref()?
                .get("controller-revision-hash")?
                .clone();
            let vc = vcs.get("vault").await.ok()?;
            let running =
                vc.status.as_ref()?.phase == Some(arca_operator::crd::cluster::Phase::Running);
            (pod.metadata.uid != uid && current == update && running).then_some(())
        },
    )
    .await;
    let config =
        std::fs::read_to_string(kubelet.dir.path().join("vault-0/config/server.hcl")).unwrap();
    assert!(config.contains("default_lease_ttl = \"2h\""), "{config}");
    assert!(!server.seal_status().await.unwrap().sealed);

    // A change the StatefulSet cannot take in place (its claim templates):
    // recreated, with an Event saying so; the data stays.
    vcs.patch(
        "vault",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"storage": {"storageClassName": "fast"}}})),
    )
    .await
    .unwrap();
    wait(
        "the StatefulSet to be recreated with the new claim template",
        Duration::from_secs(60),
        || async {
            let sts = sets.get("vault").await.ok()?;
            let class = sts
                .spec?
                .volume_claim_templates?
                .first()?
                .spec
                .clone()?
                .storage_class_name;
            (class.as_deref() == Some("fast")).then_some(())
        },
    )
    .await;
    let events = cluster.dynamic(
        &json!({"apiVersion": "events.k8s.io/v1", "kind": "Event"}),
        Some(&ns.name),
    );
    let recreated = events
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .any(|e| e.data["reason"] == "Recreating");
    assert!(
        recreated,
        "an Event says the StatefulSet was recreated:\n{}",
        operator_log()
    );
    wait(
        "the cluster to run again",
        Duration::from_secs(90),
        || async {
            let vc = vcs.get("vault").await.ok()?;
            (vc.status.as_ref()?.phase == Some(arca_operator::crd::cluster::Phase::Running))
                .then_some(())
        },
    )
    .await;
    assert!(
        as_operator.read_policy("app").await.unwrap().is_some(),
        "the data outlived the StatefulSet"
    );

    // Only the leader acted; when it dies, the other takes the Lease over
    // and carries on (the deletions below are its work).
    assert!(log_of(&leader).contains("leading"), "{}", log_of(&leader));
    assert!(
        !log_of(follower).contains("leading") && !log_of(follower).contains("Bootstrapped"),
        "{}",
        log_of(follower)
    );
    let mut dead = operators.remove(leader.as_str()).unwrap();
    dead.kill().await.unwrap();
    wait(
        "the other replica to take the Lease over",
        Duration::from_secs(45),
        || async { holder().await.filter(|h| h == follower) },
    )
    .await;

    // Deleting the objects: their finalizers take what they made away.
    policies
        .delete("app", &DeleteParams::default())
        .await
        .unwrap();
    engines
        .delete("db", &DeleteParams::default())
        .await
        .unwrap();
    wait(
        "the Policy and SecretEngine to be gone",
        Duration::from_secs(60),
        || async {
            (policies.get_opt("app").await.ok()?.is_none()
                && engines.get_opt("db").await.ok()?.is_none())
            .then_some(())
        },
    )
    .await;
    assert_eq!(as_operator.read_policy("app").await.unwrap(), None);
    assert!(
        as_operator
            .read("auth/kubernetes/role/app")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !as_operator
            .list_mounts()
            .await
            .unwrap()
            .contains_key("database/")
    );
    vcs.delete("vault", &DeleteParams::default()).await.unwrap();
    wait(
        "the VaultCluster to be gone",
        Duration::from_secs(60),
        || async { vcs.get_opt("vault").await.ok()?.is_none().then_some(()) },
    )
    .await;
    // The shares stay with the data volumes (a VaultCluster made again on
    // them is unsealed with them).
    assert!(
        Api::<Secret>::namespaced(client.clone(), &ns.name)
            .get_opt("vault-unseal")
            .await
            .unwrap()
            .is_some()
    );
    let crbs: Api<k8s_openapi::api::rbac::v1::ClusterRoleBinding> = Api::all(client.clone());
    assert!(
        crbs.get_opt(&format!("arca:{}:vault:auth-delegator", ns.name))
            .await
            .unwrap()
            .is_none()
    );

    watch.abort();
    for (_, mut o) in operators {
        let _ = o.kill().await;
    }
    setup.finish().await;
}

/// `unseal.store: Manual`: the shares are written once for an admin and
/// kept nowhere by the operator; a restarted server waits, sealed, for the
/// admin, and says so in status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_unseal_leaves_the_shares_to_an_admin() {
    let setup = setup(130 + rand_octet() % 100).await;
    let client = setup.cluster.client();
    let ns = setup.ns.name.clone();
    let mut operator = setup.start_operator("op");
    let vcs: Api<VaultCluster> = Api::namespaced(client.clone(), &ns);
    vcs.create(
        &PostParams::default(),
        &serde_json::from_value(json!({
            "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
            "metadata": {"name": "manual"},
            "spec": {"unseal": {"store": "Manual", "shares": 3, "threshold": 2}}
        }))
        .unwrap(),
    )
    .await
    .unwrap();
    let phase = |vc: &VaultCluster| vc.status.as_ref().and_then(|s| s.phase);
    wait("the cluster to run", Duration::from_secs(120), || async {
        let vc = vcs.get("manual").await.ok()?;
        (phase(&vc) == Some(arca_operator::crd::cluster::Phase::Running)).then_some(())
    })
    .await;
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    assert!(
        secrets.get_opt("manual-unseal").await.unwrap().is_none(),
        "no shares kept by the operator"
    );
    let once = secrets.get("manual-unseal-once").await.unwrap();
    assert!(
        once.metadata.owner_references.is_none(),
        "the admin, not the garbage collector, deletes it"
    );
    let shares: Vec<String> = (1..=3)
        .map(|i| {
            String::from_utf8(once.data.as_ref().unwrap()[&format!("key-{i}")].0.clone()).unwrap()
        })
        .collect();
    // The admin keeps them and deletes the Secret.
    secrets
        .delete("manual-unseal-once", &DeleteParams::default())
        .await
        .unwrap();

    let before = setup.kubelet.restarts("manual-0");
    setup.kubelet.kill("manual-0");
    wait(
        "manual-0 to be started again",
        Duration::from_secs(30),
        || async { (setup.kubelet.restarts("manual-0") > before).then_some(()) },
    )
    .await;
    let vc = wait(
        "status to say it waits for the admin",
        Duration::from_secs(60),
        || async {
            let vc = vcs.get("manual").await.ok()?;
            (status_of(&vc, "Unsealed") == Some(("False".into(), "WaitingForManualUnseal".into())))
                .then_some(vc)
        },
    )
    .await;
    assert_eq!(
        phase(&vc),
        Some(arca_operator::crd::cluster::Phase::Unsealing)
    );
    assert_eq!(
        vc.status.as_ref().unwrap().sealed_pods,
        vec!["manual-0".to_owned()]
    );
    // An engine for a cluster that cannot serve: not ready, and deleting
    // it is not held up (nothing was mounted).
    let engines: Api<SecretEngine> = Api::namespaced(client.clone(), &ns);
    engines
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "SecretEngine",
                "metadata": {"name": "kv"}, "spec": {"clusterRef": {"name": "manual"}, "path": "kv", "type": "kv"}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    wait(
        "the engine to say the cluster is not ready",
        Duration::from_secs(30),
        || async {
            let se = engines.get("kv").await.ok()?;
            se.status?
                .conditions
                .iter()
                .any(|c| c.reason == "ClusterNotReady" && c.status == "False")
                .then_some(())
        },
    )
    .await;
    engines
        .delete("kv", &DeleteParams::default())
        .await
        .unwrap();
    wait(
        "the engine to be deleted",
        Duration::from_secs(30),
        || async { engines.get_opt("kv").await.ok()?.is_none().then_some(()) },
    )
    .await;

    // It stays sealed: nothing but the admin can unseal it.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let ca = secrets.get("manual-tls").await.unwrap().data.unwrap()["ca.crt"]
        .0
        .clone();
    let ip = setup.kubelet.ip("manual-0").unwrap();
    let host = format!("manual-0.manual-internal.{ns}.svc");
    let server = arca_client::Client::builder(format!("https://{host}:8200"))
        .resolve(host, format!("{ip}:8200").parse().unwrap())
        .ca_pem(ca)
        .build()
        .unwrap();
    assert!(server.seal_status().await.unwrap().sealed);
    for share in &shares[..2] {
        server.unseal(share).await.unwrap();
    }
    wait(
        "the cluster to run again",
        Duration::from_secs(60),
        || async {
            let vc = vcs.get("manual").await.ok()?;
            (phase(&vc) == Some(arca_operator::crd::cluster::Phase::Running)).then_some(())
        },
    )
    .await;
    // An audit device asked for after the bootstrap: enabled with the
    // operator's own identity (no root token exists any more).
    assert!(
        !setup
            .kubelet
            .log("manual-0")
            .contains("\"type\":\"request\"")
    );
    vcs.patch(
        "manual",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(json!({"spec": {"audit": {"type": "Stdout"}}})),
    )
    .await
    .unwrap();
    wait(
        "audit entries on the server's output",
        Duration::from_secs(30),
        || async {
            setup
                .kubelet
                .log("manual-0")
                .contains("\"type\":\"request\"")
                .then_some(())
        },
    )
    .await;
    vcs.delete("manual", &DeleteParams::default())
        .await
        .unwrap();
    wait(
        "the VaultCluster to be gone",
        Duration::from_secs(60),
        || async { vcs.get_opt("manual").await.ok()?.is_none().then_some(()) },
    )
    .await;
    let _ = operator.kill().await;
    setup.finish().await;
}

fn rand_octet() -> u8 {
    (std::process::id() % 256) as u8
}

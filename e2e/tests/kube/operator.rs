//! The operator's Kubernetes parts against the real API server: the
//! generated CRDs are accepted, validate and default as written, and
//! `kubectl explain` reads their descriptions; the objects the operator
//! renders for a VaultCluster are accepted as it applies them (Server-Side
//! Apply, one field manager) and collected with their owner; the Helm chart
//! lints, renders and installs.
//!
//! The CRDs stay installed when a test ends (several tests use them, as a
//! cluster with Arca installed would); everything else is removed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use arca_e2e::Cluster;
use arca_operator::cluster::desired::{self, Defaults};
use arca_operator::crd::{SecretEngine, VaultCluster};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServiceAccount};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Runs a tool of the control plane (`kubectl`, `helm`: on PATH after
/// `eval "$(e2e/kube/up)"`) with the test's KUBECONFIG; its output, or
/// Err with stderr.
fn tool(name: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(name)
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap_or_else(|e| {
            panic!("{name} could not be run ({e}): `eval \"$(e2e/kube/up)\"` puts it on PATH")
        });
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if out.status.success() {
        Ok(stdout)
    } else {
        Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)))
    }
}

fn must(name: &str, args: &[&str]) -> String {
    tool(name, args).unwrap_or_else(|e| panic!("{name} {}: {e}", args.join(" ")))
}

/// Applies crds/ as a cluster admin would and waits until they serve.
pub fn install_crds() {
    must(
        "kubectl",
        &[
            "apply",
            "--server-side",
            "--force-conflicts",
            "--field-manager=arca-e2e",
            "-f",
            "crds/",
        ],
    );
    // `kubectl wait` fails at once ("accessor error: <nil>") on a CRD
    // whose status has no conditions yet, just after it is created: asked
    // again until the status is there.
    let wait = [
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/vaultclusters.arca.dev",
        "crd/secretengines.arca.dev",
        "crd/policies.arca.dev",
    ];
    for _ in 0..50 {
        match tool("kubectl", &wait) {
            Ok(_) => return,
            Err(e) if e.contains("accessor error") => {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(e) => panic!("kubectl {}: {e}", wait.join(" ")),
        }
    }
    must("kubectl", &wait);
}

/// `kubectl explain`: the API server publishes a new CRD's schema (and
/// kubectl's discovery finds it) a moment after it is Established, so a
/// "couldn't find resource" is tried again for a while.
fn explain(args: &[&str]) -> String {
    let mut all = vec!["explain"];
    all.extend_from_slice(args);
    for _ in 0..100 {
        match tool("kubectl", &all) {
            Ok(out) => return out,
            Err(e)
                if e.contains("couldn't find resource")
                    || e.contains("doesn't have a resource type") =>
            {
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
            Err(e) => panic!("kubectl {}: {e}", all.join(" ")),
        }
    }
    must("kubectl", &all)
}

fn words(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn crds_are_accepted_validate_and_explain() {
    let cluster = Cluster::connect().await;
    install_crds();

    // The issue's own check, then every field of every spec: kubectl explain
    // shows the description the Rust doc comment gave it.
    let unseal = explain(&["vaultcluster.spec.unseal"]);
    assert!(
        words(&unseal).contains("Number of Shamir key shares the root key is split into"),
        "{unseal}"
    );
    assert!(unseal.contains("enum: Secret, Manual"), "{unseal}");
    for (_, crd) in arca_operator::crd::definitions() {
        let crd = serde_json::to_value(&crd).unwrap();
        let plural = crd["spec"]["names"]["plural"].as_str().unwrap();
        let spec = &crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let fields = spec["properties"].as_object().unwrap();
        assert!(fields.len() >= 4, "{plural}");
        for (field, schema) in fields {
            let out = explain(&[
                &format!("{plural}.spec.{field}"),
                "--api-version=arca.dev/v1alpha1",
            ]);
            let description = words(schema["description"].as_str().unwrap());
            let start: String = description.chars().take(40).collect();
            assert!(
                words(&out).contains(&start),
                "kubectl explain {plural}.spec.{field}:\n{out}\nwant: {start}"
            );
        }
    }

    let ns = cluster.namespace().await;
    let vcs: Api<VaultCluster> = Api::namespaced(cluster.client(), &ns.name);
    // Defaults are filled in by the API server.
    let vc: VaultCluster = serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
        "metadata": {"name": "vault"}, "spec": {}
    }))
    .unwrap();
    let stored = vcs.create(&PostParams::default(), &vc).await.unwrap();
    assert_eq!(stored.spec.replicas, 1);
    assert_eq!(stored.spec.unseal.shares, 5);
    assert_eq!(stored.spec.unseal.threshold, 3);
    assert_eq!(
        serde_json::to_value(&stored.spec.storage).unwrap(),
        json!({"type": "Embedded", "size": "1Gi"})
    );

    // Validation in the schema: enums, ranges and the CEL rules.
    let bad: VaultCluster = serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
        "metadata": {"name": "bad"},
        "spec": {"replicas": 0, "unseal": {"shares": 2, "threshold": 3}, "tls": {"mode": "Secret"}}
    }))
    .unwrap();
    let err = vcs
        .create(&PostParams::default(), &bad)
        .await
        .unwrap_err()
        .to_string();
    for want in [
        "unseal.threshold must not exceed unseal.shares",
        "tls.secretName is required when tls.mode is Secret",
        "spec.replicas",
    ] {
        assert!(err.contains(want), "{want} in {err}");
    }
    let raw: Api<kube::api::DynamicObject> = cluster.dynamic(
        &json!({"apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster"}),
        Some(&ns.name),
    );
    let err = raw
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
                "metadata": {"name": "bad2"}, "spec": {"unseal": {"store": "Somewhere"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("Unsupported value: \"Somewhere\""), "{err}");

    // Transition rules: a mount's path and type are fixed.
    let engines: Api<SecretEngine> = Api::namespaced(cluster.client(), &ns.name);
    let se: SecretEngine = serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1", "kind": "SecretEngine",
        "metadata": {"name": "kv"},
        "spec": {"clusterRef": {"name": "vault"}, "path": "team/kv", "type": "kv", "options": {"version": "2"},
                 "config": [{"path": "config", "data": {"max_versions": 5}}]}
    }))
    .unwrap();
    engines.create(&PostParams::default(), &se).await.unwrap();
    let stored = engines.get("kv").await.unwrap();
    assert_eq!(
        stored.spec.config[0].data["max_versions"], 5,
        "free-form bodies are kept, not pruned"
    );
    let err = engines
        .patch(
            "kv",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"path": "elsewhere"}})),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.path is immutable"), "{err}");
    let err = engines
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "SecretEngine",
                "metadata": {"name": "bad"}, "spec": {"clusterRef": {"name": "vault"}, "path": "/leading", "type": "kv"}
            }))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("spec.path"), "{err}");

    let policies: Api<arca_operator::crd::Policy> = Api::namespaced(cluster.client(), &ns.name);
    let err = policies
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "arca.dev/v1alpha1", "kind": "Policy",
                "metadata": {"name": "p"}, "spec": {"clusterRef": {"name": "vault"}, "name": "root", "rules": "path \"x\" {}"}
            }))
            .unwrap(),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the root and default policies cannot be managed"),
        "{err}"
    );
    // Printer columns.
    let table = must("kubectl", &["get", "vaultclusters", "-n", &ns.name]);
    assert!(
        table.starts_with("NAME") && table.contains("PHASE") && table.contains("REPLICAS"),
        "{table}"
    );
    ns.delete().await;
}

/// What the operator renders for a VaultCluster, applied the way it
/// applies it: the API server accepts every object, and deleting the
/// VaultCluster collects the ones it owns.
#[tokio::test]
async fn desired_objects_are_accepted_and_owned() {
    let cluster = Cluster::connect().await;
    install_crds();
    let ns = cluster.namespace().await;
    let client = cluster.client();
    let vcs: Api<VaultCluster> = Api::namespaced(client.clone(), &ns.name);
    let vc: VaultCluster = serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
        "metadata": {"name": "vault"},
        "spec": {"audit": {"type": "PersistentVolume"}, "podTemplate": {"tolerations": [{"key": "k", "operator": "Exists"}]},
                 "extraConfig": "default_lease_ttl = \"1h\""}
    }))
    .unwrap();
    let vc = vcs.create(&PostParams::default(), &vc).await.unwrap();
    let d = desired::desired(&vc, &Defaults::default()).unwrap();

    let pp = PatchParams::apply("arca-operator").force();
    macro_rules! apply {
        ($t:ty, $obj:expr) => {{
            let obj: &$t = &$obj;
            let name = obj.metadata.name.clone().unwrap();
            let api: Api<$t> = Api::namespaced(client.clone(), &ns.name);
            api.patch(&name, &pp, &Patch::Apply(obj))
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"))
        }};
    }
    apply!(ServiceAccount, d.service_account);
    apply!(ConfigMap, d.config);
    apply!(Service, d.headless);
    let svc = apply!(Service, d.service);
    assert!(svc.spec.unwrap().cluster_ip.is_some_and(|ip| ip != "None"));
    apply!(PodDisruptionBudget, d.pdb);
    let sts = apply!(StatefulSet, d.stateful_set);
    // Applying again changes nothing (the operator's resync is a no-op on
    // an untouched object).
    let again = apply!(StatefulSet, d.stateful_set);
    assert_eq!(
        sts.metadata.resource_version,
        again.metadata.resource_version
    );
    let crb_value = serde_json::to_value(&d.auth_delegator).unwrap();
    cluster.create_cluster_scoped(&ns, crb_value).await;
    let crb = Api::<ClusterRoleBinding>::all(client.clone())
        .get(&d.auth_delegator.metadata.name.clone().unwrap())
        .await
        .unwrap();
    assert_eq!(crb.role_ref.name, "system:auth-delegator");

    // The StatefulSet controller makes the pod from the template: it is
    // what the e2e that plays kubelet will run.
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client.clone(), &ns.name);
    let mut pod = None;
    for _ in 0..100 {
        if let Ok(p) = pods.get("vault-0").await {
            pod = Some(p);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let pod = pod.expect("the StatefulSet controller creates vault-0");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.service_account_name.as_deref(), Some("vault"));
    assert_eq!(
        spec.containers[0].args.as_ref().unwrap()[1],
        "-config=/arca/config/server.hcl"
    );

    // Owned objects go with their VaultCluster (the garbage collector).
    vcs.delete("vault", &DeleteParams::foreground())
        .await
        .unwrap();
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), &ns.name);
    let configs: Api<ConfigMap> = Api::namespaced(client.clone(), &ns.name);
    let mut gone = false;
    for _ in 0..300 {
        if sets.get_opt("vault").await.unwrap().is_none()
            && configs.get_opt("vault-config").await.unwrap().is_none()
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        gone,
        "the StatefulSet and ConfigMap outlived their VaultCluster"
    );
    ns.delete().await;
}

#[tokio::test]
async fn the_chart_lints_renders_and_installs() {
    let cluster = Cluster::connect().await;
    install_crds();
    must("helm", &["lint", "--strict", "charts/arca"]);
    must(
        "helm",
        &[
            "lint",
            "--strict",
            "charts/arca",
            "--set",
            "vaultCluster.create=true",
        ],
    );
    // The schema refuses what the chart cannot do.
    let err = tool(
        "helm",
        &[
            "template",
            "x",
            "charts/arca",
            "--set",
            "injector.webhook.failurePolicy=Maybe",
        ],
    )
    .unwrap_err();
    assert!(err.contains("failurePolicy"), "{err}");
    let err = tool(
        "helm",
        &[
            "template",
            "x",
            "charts/arca",
            "--set",
            "injector.tls.auto=false",
        ],
    )
    .unwrap_err();
    assert!(err.contains("injector.tls.certSecret is required"), "{err}");
    let rendered = must(
        "helm",
        &[
            "template",
            "x",
            "charts/arca",
            "-n",
            "arca",
            "--set",
            "injector.tls.auto=false,injector.tls.certSecret=cm,injector.tls.caBundle=Q0E=",
        ],
    );
    assert!(
        rendered.contains("-tls-cert-file=/etc/arca-injector/tls/tls.crt")
            && rendered.contains("caBundle: Q0E="),
        "{rendered}"
    );

    let ns = cluster.namespace().await;
    let release = format!("a{}", &ns.name[ns.name.len() - 6..]);
    // Only namespaces labelled for this test reach its webhook (none do):
    // other tests' pods are not sent to an injector that does not run.
    let install = tool(
        "helm",
        &[
            "install",
            &release,
            "charts/arca",
            "-n",
            &ns.name,
            "--wait=false",
            "--set",
            "vaultCluster.create=true",
            "--set",
            &format!("injector.webhook.namespaceLabels.arca\\.dev/helm-test={release}"),
        ],
    );
    let cleanup = || {
        let _ = tool(
            "helm",
            &["uninstall", &release, "-n", &ns.name, "--wait=false"],
        );
    };
    if let Err(e) = install {
        cleanup();
        panic!("helm install: {e}");
    }
    let deployments: Api<Deployment> = Api::namespaced(cluster.client(), &ns.name);
    let operator = deployments
        .get(&format!("{release}-operator"))
        .await
        .unwrap();
    let c = &operator.spec.unwrap().template.spec.unwrap().containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some("ghcr.io/arca-dev/arca-operator:0.1.0")
    );
    assert_eq!(c.args.as_ref().unwrap()[0], "run");
    let op_args = c.args.clone().unwrap();
    assert!(
        op_args.contains(&format!("-service-account={release}-operator")),
        "the operator's own account: {op_args:?}"
    );
    let injector = deployments
        .get(&format!("{release}-injector"))
        .await
        .unwrap();
    let args = injector.spec.unwrap().template.spec.unwrap().containers[0]
        .args
        .clone()
        .unwrap();
    assert!(
        args.contains(&format!("-vault-address=https://arca.{}.svc:8200", ns.name)),
        "{args:?}"
    );
    assert!(
        args.contains(&format!("-tls-auto={release}-injector.{}", ns.name)),
        "{args:?}"
    );

    let hooks = cluster.dynamic(&json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration"}), None);
    let hook = hooks
        .get(&format!("{release}-injector.{}", ns.name))
        .await
        .unwrap();
    let w = &hook.data["webhooks"][0];
    assert_eq!(w["failurePolicy"], "Ignore");
    assert_eq!(w["timeoutSeconds"], 5);
    assert_eq!(w["sideEffects"], "None");
    let excluded = &w["namespaceSelector"]["matchExpressions"][0];
    assert_eq!(excluded["operator"], "NotIn");
    for n in ["kube-system", ns.name.as_str()] {
        assert!(
            excluded["values"]
                .as_array()
                .unwrap()
                .contains(&Value::from(n)),
            "{excluded}"
        );
    }
    assert_eq!(
        w["objectSelector"]["matchExpressions"][0]["values"],
        json!(["arca-injector"])
    );
    assert!(
        w["matchConditions"][0]["expression"]
            .as_str()
            .unwrap()
            .contains("arca.dev/agent-inject")
    );

    let vc = Api::<VaultCluster>::namespaced(cluster.client(), &ns.name)
        .get("arca")
        .await
        .unwrap();
    assert_eq!(vc.spec.version.as_deref(), Some("0.1.0"));

    must(
        "helm",
        &["uninstall", &release, "-n", &ns.name, "--wait=false"],
    );
    assert!(
        hooks
            .get_opt(&format!("{release}-injector.{}", ns.name))
            .await
            .unwrap()
            .is_none(),
        "uninstall removes the webhook"
    );
    let roles = cluster.dynamic(
        &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole"}),
        None,
    );
    assert!(
        roles
            .get_opt(&format!("{release}-operator"))
            .await
            .unwrap()
            .is_none()
    );
    ns.delete().await;
}

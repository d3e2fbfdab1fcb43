//! VaultCluster -> desired objects: every choice the operator makes about
//! the objects that run a cluster, on objects as the API server stores
//! them (the CRD's defaults filled in).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use arca_operator::cluster::desired::{self, Defaults, Desired, SpecError};
use arca_operator::crd::VaultCluster;
use serde_json::{Value, json};

/// A VaultCluster as the API server returns it: defaults applied, uid set.
fn cluster(spec: Value) -> VaultCluster {
    let mut full = json!({
        "replicas": 1,
        "service": {"type": "ClusterIP"},
        "storage": {"size": "1Gi", "type": "Embedded"},
        "tls": {"mode": "Generated"},
        "unseal": {"shares": 5, "store": "Secret", "threshold": 3}
    });
    merge(&mut full, spec);
    serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1",
        "kind": "VaultCluster",
        "metadata": {"name": "vault", "namespace": "secrets", "uid": "4d3c2b1a-0000-4000-8000-000000000001", "generation": 3},
        "spec": full
    }))
    .expect("a valid VaultCluster")
}

fn merge(base: &mut Value, over: Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o,
    }
}

fn build(spec: Value) -> Desired {
    desired::desired(
        &cluster(spec),
        &Defaults {
            version: "1.2.3".into(),
        },
    )
    .expect("desired objects")
}

fn to_json<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("json")
}

#[test]
fn a_default_cluster() {
    let d = build(json!({}));
    let sts = to_json(&d.stateful_set);
    // Owned by the VaultCluster, as its controller.
    let owner = &sts["metadata"]["ownerReferences"][0];
    assert_eq!(owner["kind"], "VaultCluster");
    assert_eq!(owner["apiVersion"], "arca.dev/v1alpha1");
    assert_eq!(owner["name"], "vault");
    assert_eq!(owner["uid"], "4d3c2b1a-0000-4000-8000-000000000001");
    assert_eq!(owner["controller"], true);
    assert_eq!(sts["metadata"]["namespace"], "secrets");
    assert_eq!(
        sts["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "arca-operator"
    );

    let spec = &sts["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["serviceName"], "vault-internal");
    assert_eq!(spec["updateStrategy"]["type"], "OnDelete");
    assert_eq!(spec["podManagementPolicy"], "Parallel");
    assert_eq!(
        spec["selector"]["matchLabels"],
        json!({"app.kubernetes.io/instance": "vault", "app.kubernetes.io/name": "arca"})
    );
    let claim = &spec["volumeClaimTemplates"][0];
    assert_eq!(claim["metadata"]["name"], "data");
    assert_eq!(claim["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert!(claim["spec"].get("storageClassName").is_none());

    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "vault");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
            ["topologyKey"],
        "kubernetes.io/hostname"
    );
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "ghcr.io/arca-dev/arca:1.2.3");
    assert_eq!(
        c["args"],
        json!(["server", "-config=/arca/config/server.hcl"])
    );
    assert_eq!(c["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(c["securityContext"]["allowPrivilegeEscalation"], false);
    assert_eq!(c["securityContext"]["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(
        c["resources"]["requests"],
        json!({"cpu": "100m", "memory": "64Mi"})
    );
    assert_eq!(
        c["readinessProbe"]["httpGet"]["path"],
        "/v1/sys/health?standbyok=true&perfstandbyok=true"
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTPS");
    let live = c["livenessProbe"]["httpGet"]["path"].as_str().unwrap();
    assert!(
        live.contains("sealedcode=204") && live.contains("uninitcode=204"),
        "{live}"
    );
    let mounts: Vec<&str> = c["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["mountPath"].as_str().unwrap())
        .collect();
    assert_eq!(mounts, ["/arca/config", "/arca/data", "/arca/tls"]);
    let volumes = pod["volumes"].as_array().unwrap();
    assert_eq!(volumes[1]["secret"]["secretName"], "vault-tls");
    let env = c["env"].as_array().unwrap();
    assert!(env.contains(&json!({"name": "VAULT_ADDR", "value": "https://localhost:8200"})));
    assert!(env.contains(&json!({"name": "VAULT_CACERT", "value": "/arca/tls/ca.crt"})));
    let hash = &spec["template"]["metadata"]["annotations"]["arca.dev/config-hash"];
    assert_eq!(hash.as_str().map(str::len), Some(16));

    // The headless Service reaches sealed (unready) pods; the client
    // Service only ready ones.
    let headless = to_json(&d.headless);
    assert_eq!(headless["metadata"]["name"], "vault-internal");
    assert_eq!(headless["spec"]["clusterIP"], "None");
    assert_eq!(headless["spec"]["publishNotReadyAddresses"], true);
    let service = to_json(&d.service);
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert!(service["spec"].get("publishNotReadyAddresses").is_none());
    assert_eq!(service["spec"]["ports"][0]["port"], 8200);

    let pdb = to_json(&d.pdb);
    assert_eq!(pdb["spec"]["maxUnavailable"], 1);

    // TokenReview for the kubernetes auth method; cluster-scoped, so no
    // owner reference (the finalizer deletes it).
    let crb = to_json(&d.auth_delegator);
    assert_eq!(crb["metadata"]["name"], "arca:secrets:vault:auth-delegator");
    assert!(crb["metadata"].get("ownerReferences").is_none());
    assert!(crb["metadata"].get("namespace").is_none());
    assert_eq!(crb["roleRef"]["name"], "system:auth-delegator");
    assert_eq!(
        crb["subjects"][0],
        json!({"kind": "ServiceAccount", "name": "vault", "namespace": "secrets"})
    );
    assert_eq!(to_json(&d.service_account)["metadata"]["name"], "vault");
}

/// The configuration the operator renders is one the server accepts: read
/// by the server's own parser.
#[test]
fn the_server_reads_the_rendered_configuration() {
    for (spec, tls) in [
        (json!({}), true),
        (
            json!({"tls": {"mode": "Secret", "secretName": "mine"}}),
            true,
        ),
        (
            json!({"tls": {"mode": "Disabled"}, "extraConfig": "default_lease_ttl = \"1h\"\nlog_level = \"debug\"\n"}),
            false,
        ),
    ] {
        let d = build(spec.clone());
        let hcl = &d.config.data.as_ref().unwrap()["server.hcl"];
        let cfg = arca_server::config::parse("server.hcl", hcl)
            .unwrap_or_else(|e| panic!("{spec}: {e}\n{hcl}"));
        assert_eq!(cfg.storage.type_name(), "file");
        assert_eq!(cfg.listeners.len(), 1);
        let l = &cfg.listeners[0];
        assert_eq!(l.address, "0.0.0.0:8200");
        assert_eq!(l.tls_disable, !tls, "{hcl}");
        if tls {
            assert_eq!(
                l.tls_cert_file.as_deref(),
                Some(std::path::Path::new("/arca/tls/tls.crt"))
            );
        }
        assert_eq!(
            cfg.api_addr.as_deref(),
            Some(if tls {
                "https://vault.secrets.svc:8200"
            } else {
                "http://vault.secrets.svc:8200"
            })
        );
    }
    let d = build(json!({"extraConfig": "default_lease_ttl = \"1h\"\n"}));
    let cfg =
        arca_server::config::parse("server.hcl", &d.config.data.as_ref().unwrap()["server.hcl"])
            .unwrap();
    assert_eq!(
        cfg.default_lease_ttl,
        Some(std::time::Duration::from_secs(3600))
    );
}

#[test]
fn tls_modes() {
    let d = build(json!({"tls": {"mode": "Secret", "secretName": "from-cert-manager"}}));
    let pod = &to_json(&d.stateful_set)["spec"]["template"]["spec"];
    assert_eq!(
        pod["volumes"][1]["secret"]["secretName"],
        "from-cert-manager"
    );

    let d = build(json!({"tls": {"mode": "Disabled"}}));
    let pod = &to_json(&d.stateful_set)["spec"]["template"]["spec"];
    assert_eq!(pod["volumes"].as_array().unwrap().len(), 1, "no TLS volume");
    let c = &pod["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["scheme"], "HTTP");
    assert!(
        !c["env"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["name"] == "VAULT_CACERT")
    );
}

#[test]
fn extra_configuration_is_checked() {
    let c = cluster(json!({"extraConfig": "storage \"file\" { path = \"/tmp\" }"}));
    let err = desired::desired(&c, &Defaults::default()).unwrap_err();
    assert!(
        matches!(&err, SpecError::ExtraConfig(m) if m.contains("\"storage\" is set by the operator")),
        "{err}"
    );
    let c = cluster(json!({"extraConfig": "listener \"tcp\" {"}));
    assert!(matches!(
        desired::desired(&c, &Defaults::default()),
        Err(SpecError::ExtraConfig(_))
    ));
    // A change to the configuration changes the pod template (the pods roll).
    let hash = |d: &Desired| {
        to_json(&d.stateful_set)["spec"]["template"]["metadata"]["annotations"]["arca.dev/config-hash"].clone()
    };
    let a = build(json!({}));
    let b = build(json!({"extraConfig": "log_level = \"debug\""}));
    assert_ne!(hash(&a), hash(&b));
    assert_eq!(hash(&a), hash(&build(json!({}))), "stable");
}

#[test]
fn pod_template_overrides() {
    let d = build(json!({
        "image": "registry.example/arca:custom",
        "imagePullPolicy": "Always",
        "imagePullSecrets": ["regcred"],
        "resources": {"requests": {"cpu": "1"}},
        "storage": {"size": "20Gi", "storageClassName": "fast"},
        "service": {"type": "LoadBalancer", "annotations": {"lb.example/internal": "true"}},
        "podTemplate": {
            "annotations": {"prometheus.io/scrape": "true"},
            "labels": {"team": "platform", "app.kubernetes.io/instance": "hijack"},
            "nodeSelector": {"disk": "ssd"},
            "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "arca", "effect": "NoSchedule"}],
            "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}]}}},
            "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "zone", "whenUnsatisfiable": "DoNotSchedule"}],
            "priorityClassName": "critical"
        },
        "audit": {"type": "PersistentVolume", "size": "5Gi"}
    }));
    let sts = to_json(&d.stateful_set);
    let tmpl = &sts["spec"]["template"];
    assert_eq!(tmpl["metadata"]["labels"]["team"], "platform");
    assert_eq!(
        tmpl["metadata"]["labels"]["app.kubernetes.io/instance"], "vault",
        "the selector labels win"
    );
    assert_eq!(
        tmpl["metadata"]["annotations"]["prometheus.io/scrape"],
        "true"
    );
    let pod = &tmpl["spec"];
    assert_eq!(pod["nodeSelector"], json!({"disk": "ssd"}));
    assert_eq!(pod["tolerations"][0]["value"], "arca");
    assert!(
        pod["affinity"].get("podAntiAffinity").is_none(),
        "given affinity replaces the default"
    );
    assert_eq!(
        pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
            [0]["matchExpressions"][0]["key"],
        "zone"
    );
    assert_eq!(pod["topologySpreadConstraints"][0]["topologyKey"], "zone");
    assert_eq!(pod["priorityClassName"], "critical");
    assert_eq!(pod["imagePullSecrets"], json!([{"name": "regcred"}]));
    let c = &pod["containers"][0];
    assert_eq!(c["image"], "registry.example/arca:custom");
    assert_eq!(c["imagePullPolicy"], "Always");
    assert_eq!(c["resources"], json!({"requests": {"cpu": "1"}}));
    assert!(
        c["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == "/var/log/arca")
    );
    let claims = sts["spec"]["volumeClaimTemplates"].as_array().unwrap();
    assert_eq!(claims.len(), 2);
    assert_eq!(claims[0]["spec"]["storageClassName"], "fast");
    assert_eq!(
        claims[0]["spec"]["resources"]["requests"]["storage"],
        "20Gi"
    );
    assert_eq!(claims[1]["metadata"]["name"], "audit");
    assert_eq!(claims[1]["spec"]["resources"]["requests"]["storage"], "5Gi");
    let service = to_json(&d.service);
    assert_eq!(service["spec"]["type"], "LoadBalancer");
    assert_eq!(
        service["metadata"]["annotations"]["lb.example/internal"],
        "true"
    );
}

#[test]
fn the_certificate_names_every_address() {
    let names = desired::Names::of(&cluster(json!({}))).unwrap();
    let dns = names.dns_names(3);
    for want in [
        "vault.secrets.svc",
        "vault-0.vault-internal.secrets.svc",
        "vault-2.vault-internal.secrets.svc",
        "*.vault-internal.secrets.svc",
        "localhost",
    ] {
        assert!(dns.iter().any(|d| d == want), "{want} in {dns:?}");
    }
}

#[test]
fn a_cluster_without_a_namespace_is_an_error() {
    let mut c = cluster(json!({}));
    c.metadata.namespace = None;
    assert_eq!(
        desired::desired(&c, &Defaults::default()).unwrap_err(),
        SpecError::Missing("metadata.namespace")
    );
}

#[test]
fn storage_quantities() {
    use desired::quantity_bytes as q;
    assert_eq!(q("1Gi"), Some(1 << 30));
    assert_eq!(q("1.5Gi"), Some(3 << 29));
    assert_eq!(q("500M"), Some(500_000_000));
    assert_eq!(q("1073741824"), Some(1 << 30));
    assert_eq!(q("2Ti"), Some(2 << 40));
    assert!(q("1Gi") < q("2Gi") && q("1G") < q("1Gi"));
    for bad in [
        "",
        "Gi",
        "1Xi",
        "1.2.3Gi",
        "-1Gi",
        "1 Gi",
        "340282366920938463463374607431768211.999k",
        "999999999999999999999999999999999999999Pi",
    ] {
        assert_eq!(q(bad), None, "{bad}");
    }
    let names = desired::Names::of(&cluster(json!({}))).unwrap();
    assert_eq!(
        desired::claim_names(&names, "data", 2),
        ["data-vault-0", "data-vault-1"]
    );
}

#[test]
fn immutable_statefulset_fields() {
    let base = build(json!({}));
    let same = build(
        json!({"extraConfig": "log_level = \"debug\"", "podTemplate": {"nodeSelector": {"a": "b"}}}),
    );
    assert_eq!(
        desired::immutable_change(&base.stateful_set, &same.stateful_set),
        None,
        "the template changes in place"
    );
    let class = build(json!({"storage": {"storageClassName": "fast"}}));
    assert_eq!(
        desired::immutable_change(&base.stateful_set, &class.stateful_set),
        Some("spec.volumeClaimTemplates")
    );
    let size = build(json!({"storage": {"size": "2Gi"}}));
    assert_eq!(
        desired::immutable_change(&base.stateful_set, &size.stateful_set),
        Some("spec.volumeClaimTemplates")
    );
    let same_size = build(json!({"storage": {"size": "1024Mi"}}));
    assert_eq!(
        desired::immutable_change(&base.stateful_set, &same_size.stateful_set),
        None,
        "1024Mi is 1Gi"
    );
    let audit = build(json!({"audit": {"type": "PersistentVolume"}}));
    assert_eq!(
        desired::immutable_change(&base.stateful_set, &audit.stateful_set),
        Some("spec.volumeClaimTemplates")
    );
    // As the API server stores it: defaults added (volumeMode, status) are
    // not a change.
    let mut stored = to_json(&base.stateful_set);
    stored["spec"]["volumeClaimTemplates"][0]["spec"]["volumeMode"] = json!("Filesystem");
    stored["spec"]["volumeClaimTemplates"][0]["status"] = json!({"phase": "Pending"});
    stored["spec"]["revisionHistoryLimit"] = json!(10);
    let stored: k8s_openapi::api::apps::v1::StatefulSet = serde_json::from_value(stored).unwrap();
    assert_eq!(desired::immutable_change(&stored, &base.stateful_set), None);
}

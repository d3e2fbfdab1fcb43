//! Pods as the API server sends them, AdmissionReviews around them, and
//! the patch applied the way the API server applies it.

use arca_injector::settings::Settings;
use base64::Engine as _;
use k8s_openapi::api::core::v1::Pod;
use serde_json::{Value, json};

pub fn settings() -> Settings {
    Settings {
        vault_address: "https://arca.arca-system.svc:8200".into(),
        agent_image: "registry.example/arca-agent:test".into(),
        ..Settings::default()
    }
}

/// A pod as stored by the API server's defaulting, with what real pods
/// carry: the projected `kube-api-access` volume and its mount, a volume
/// of its own, an init container, an istio-proxy sidecar, resources and
/// security contexts.
pub fn pod(annotations: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-7d4b9c",
            "generateName": "web-",
            "namespace": "shop",
            "labels": {"app": "web"},
            "annotations": annotations,
        },
        "spec": {
            "serviceAccountName": "web",
            "hostNetwork": false,
            "securityContext": {"fsGroup": 2000},
            "initContainers": [{
                "name": "istio-init",
                "image": "istio/proxyv2:1.22",
                "args": ["istio-iptables"],
                "resources": {"requests": {"cpu": "10m", "memory": "10Mi"}},
                "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}},
                "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true,
                                  "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                "terminationMessagePath": "/dev/termination-log",
                "terminationMessagePolicy": "File",
                "imagePullPolicy": "IfNotPresent"
            }],
            "containers": [
                {
                    "name": "app",
                    "image": "shop/web:1.4",
                    "command": ["/web"],
                    "args": ["--port=8080"],
                    "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"},
                                  "limits": {"memory": "256Mi"}},
                    "securityContext": {"runAsUser": 1001, "runAsNonRoot": true},
                    "volumeMounts": [
                        {"name": "cache", "mountPath": "/cache"},
                        {"name": "kube-api-access-x7k2p", "readOnly": true,
                         "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
                    ],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"
                },
                {
                    "name": "istio-proxy",
                    "image": "istio/proxyv2:1.22",
                    "args": ["proxy", "sidecar"],
                    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                    "volumeMounts": [{"name": "kube-api-access-x7k2p", "readOnly": true,
                                      "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}],
                    "terminationMessagePath": "/dev/termination-log",
                    "terminationMessagePolicy": "File",
                    "imagePullPolicy": "IfNotPresent"
                }
            ],
            "volumes": [
                {"name": "cache", "emptyDir": {}},
                {"name": "kube-api-access-x7k2p", "projected": {"defaultMode": 420, "sources": [
                    {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                    {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                    {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}
                ]}}
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "schedulerName": "default-scheduler",
            "enableServiceLinks": true,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                             "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {}
    })
}

/// An `admission.k8s.io/v1` AdmissionReview of creating `object`.
pub fn review_of(object: Value, namespace: &str) -> Value {
    let kind = object["kind"].as_str().unwrap_or("Pod").to_owned();
    let resource = format!("{}s", kind.to_lowercase());
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "", "version": "v1", "kind": kind},
            "resource": {"group": "", "version": "v1", "resource": resource},
            "requestKind": {"group": "", "version": "v1", "kind": kind},
            "requestResource": {"group": "", "version": "v1", "resource": resource},
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller",
                         "uid": "5e1e3b1c", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": false,
            "options": {"kind": "CreateOptions", "apiVersion": "meta.k8s.io/v1"}
        }
    })
}

/// The webhook's answer to `review` (status 200 expected).
pub fn answer(review: &Value, s: &Settings) -> Value {
    let a = arca_injector::webhook::review(&serde_json::to_vec(review).unwrap(), s);
    assert_eq!(a.status, 200, "{}", String::from_utf8_lossy(&a.body));
    let v: Value = serde_json::from_slice(&a.body).unwrap();
    assert_eq!(v["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(v["kind"], "AdmissionReview");
    assert_eq!(v["response"]["uid"], review["request"]["uid"]);
    v["response"].clone()
}

/// The patch of a response, applied to `pod` as the API server does;
/// the result must be a valid Pod.
pub fn apply(pod: &Value, response: &Value) -> (Value, Pod) {
    assert_eq!(response["allowed"], true, "{response}");
    assert_eq!(response["patchType"], "JSONPatch");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(response["patch"].as_str().unwrap())
        .unwrap();
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).unwrap();
    let mut out = pod.clone();
    json_patch::patch(&mut out, &patch).unwrap();
    let typed: Pod = serde_json::from_value(out.clone()).unwrap();
    (out, typed)
}

/// The agent configuration a container carries, parsed by arca-agent.
pub fn agent_config(container: &Value) -> (Value, arca_agent::config::Config) {
    let env = container["env"].as_array().unwrap();
    let b64 = env
        .iter()
        .find(|e| e["name"] == "ARCA_AGENT_CONFIG")
        .unwrap()["value"]
        .as_str()
        .unwrap();
    let json = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
    )
    .unwrap();
    let cfg = arca_agent::config::from_json(&json, "ARCA_AGENT_CONFIG").unwrap();
    (serde_json::from_str(&json).unwrap(), cfg)
}

pub fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name} in {list}"))
}

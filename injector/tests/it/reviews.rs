//! What the webhook answers, case by case.

use serde_json::{Value, json};

use crate::common::{agent_config, answer, apply, named, pod, review_of, settings};

fn vault_k8s_annotations() -> Value {
    json!({
        "vault.hashicorp.com/agent-inject": "true",
        "vault.hashicorp.com/role": "web",
        "vault.hashicorp.com/agent-inject-secret-db": "database/creds/web",
        "vault.hashicorp.com/agent-inject-template-db":
            "{{ with secret \"database/creds/web\" }}postgres://{{ .Data.username }}:{{ .Data.password }}@db/shop{{ end }}",
        "vault.hashicorp.com/agent-inject-secret-config.txt": "secret/data/web",
        "vault.hashicorp.com/agent-inject-perms-db": "0400",
        "kubectl.kubernetes.io/last-applied-configuration": "{}",
    })
}

#[test]
fn an_annotated_pod_gets_the_agent_and_nothing_else_changes() {
    let original = pod(vault_k8s_annotations());
    let resp = answer(&review_of(original.clone(), "shop"), &settings());
    assert!(resp["warnings"].is_null(), "{}", resp["warnings"]);
    let (patched, typed) = apply(&original, &resp);
    let spec = &patched["spec"];

    // Init containers: the pod's own first, then the agent's init and its
    // native sidecar.
    let inits: Vec<&str> = spec["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(inits, ["istio-init", "arca-agent-init", "arca-agent"]);
    let init = named(&spec["initContainers"], "arca-agent-init");
    let sidecar = named(&spec["initContainers"], "arca-agent");
    assert!(init.get("restartPolicy").is_none());
    assert_eq!(sidecar["restartPolicy"], "Always");
    assert_eq!(
        typed.spec.as_ref().unwrap().containers.len(),
        2,
        "no container added"
    );

    // Containers kept everything they had, plus the secrets mount.
    for name in ["app", "istio-proxy"] {
        let before = named(&original["spec"]["containers"], name);
        let after = named(&spec["containers"], name);
        let mut expected = before.clone();
        expected["volumeMounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"name": "arca-secrets", "mountPath": "/vault/secrets"}));
        assert_eq!(after, &expected, "{name}");
    }
    // Volumes: the pod's, then the agent's.
    let vols = spec["volumes"].as_array().unwrap();
    assert_eq!(
        &vols[..2],
        original["spec"]["volumes"].as_array().unwrap().as_slice()
    );
    assert_eq!(
        named(&spec["volumes"], "arca-secrets")["emptyDir"]["medium"],
        "Memory"
    );
    assert_eq!(
        named(&spec["volumes"], "arca-home")["emptyDir"]["medium"],
        "Memory"
    );
    let token =
        &named(&spec["volumes"], "arca-token")["projected"]["sources"][0]["serviceAccountToken"];
    assert_eq!(token["expirationSeconds"], 600);
    assert_eq!(token["path"], "token");
    // Only the agents mount their home (the hand-off) and token.
    for c in spec["containers"].as_array().unwrap() {
        let mounts = c["volumeMounts"].to_string();
        assert!(
            !mounts.contains("arca-home") && !mounts.contains("arca-token"),
            "{mounts}"
        );
    }
    for agent in [init, sidecar] {
        assert_eq!(agent["image"], "registry.example/arca-agent:test");
        assert_eq!(agent["command"], json!(["/arca-agent"]));
        let sc = &agent["securityContext"];
        assert_eq!(sc["runAsNonRoot"], true);
        assert_eq!(sc["readOnlyRootFilesystem"], true);
        assert_eq!(sc["allowPrivilegeEscalation"], false);
        assert_eq!(sc["capabilities"]["drop"], json!(["ALL"]));
        assert_eq!(sc["seccompProfile"]["type"], "RuntimeDefault");
        assert_eq!(
            agent["resources"]["requests"],
            json!({"cpu": "10m", "memory": "16Mi"})
        );
        assert_eq!(
            agent["resources"]["limits"],
            json!({"cpu": "500m", "memory": "64Mi"})
        );
        let mounts = agent["volumeMounts"].to_string();
        for m in [
            "/home/arca",
            "/var/run/secrets/arca.dev/serviceaccount",
            "/vault/secrets",
        ] {
            assert!(mounts.contains(m), "{m} in {mounts}");
        }
    }
    // The status annotation, under the prefix the pod used.
    assert_eq!(
        patched["metadata"]["annotations"]["vault.hashicorp.com/agent-inject-status"],
        "injected"
    );
    assert_eq!(
        patched["metadata"]["annotations"]
            .as_object()
            .unwrap()
            .len(),
        original["metadata"]["annotations"]
            .as_object()
            .unwrap()
            .len()
            + 1
    );

    // The configurations, as arca-agent reads them.
    let (init_json, init_cfg) = agent_config(init);
    let (_, side_cfg) = agent_config(sidecar);
    assert!(init_cfg.exit_after_auth && !side_cfg.exit_after_auth);
    assert!(init_cfg.warnings.is_empty(), "{:?}", init_cfg.warnings);
    assert!(side_cfg.warnings.is_empty(), "{:?}", side_cfg.warnings);
    assert_eq!(init_cfg.handoff_file, side_cfg.handoff_file);
    assert!(init_cfg.handoff_file.is_some());
    let method = &init_json["auto_auth"]["method"];
    assert_eq!(method["type"], "kubernetes");
    assert_eq!(method["mount_path"], "auth/kubernetes");
    assert_eq!(method["config"]["role"], "web");
    assert_eq!(
        method["config"]["token_path"],
        "/var/run/secrets/arca.dev/serviceaccount/token"
    );
    assert_eq!(
        init_json["vault"]["address"],
        "https://arca.arca-system.svc:8200"
    );
    let t = &init_json["template"];
    assert_eq!(t.as_array().unwrap().len(), 2);
    let config = t
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["destination"] == "/vault/secrets/config.txt")
        .unwrap();
    assert_eq!(
        config["contents"],
        "{{ with secret \"secret/data/web\" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}"
    );
    let db = t
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["destination"] == "/vault/secrets/db")
        .unwrap();
    assert_eq!(db["perms"], "0400");
    assert!(
        db["contents"]
            .as_str()
            .unwrap()
            .starts_with("{{ with secret \"database/creds/web\" }}postgres://")
    );
    assert_eq!(init_cfg.templates.len(), 2);

    // Reviewed again (as a re-invocation would): nothing more.
    let again = answer(&review_of(patched, "shop"), &settings());
    assert_eq!(again["allowed"], true);
    assert!(again.get("patch").is_none(), "{again}");
}

#[test]
fn pods_that_ask_for_nothing_come_back_unchanged() {
    let s = settings();
    for (p, ns, why) in [
        (pod(json!({"team": "shop"})), "shop", "no annotation"),
        (
            pod(
                json!({"vault.hashicorp.com/agent-inject": "false", "vault.hashicorp.com/role": "r"}),
            ),
            "shop",
            "false",
        ),
        (
            pod(
                json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "r",
                    "vault.hashicorp.com/agent-inject-status": "injected"}),
            ),
            "shop",
            "already injected",
        ),
        (pod(vault_k8s_annotations()), "kube-system", "kube-system"),
        (pod(vault_k8s_annotations()), "kube-public", "kube-public"),
    ] {
        let r = answer(&review_of(p, ns), &s);
        assert_eq!(r["allowed"], true, "{why}");
        assert!(r.get("patch").is_none(), "{why}: {r}");
    }
    // Not a pod: allowed, untouched.
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "shop",
                    "annotations": {"vault.hashicorp.com/agent-inject": "true"}}, "data": {}});
    let r = answer(&review_of(cm, "shop"), &s);
    assert_eq!(r["allowed"], true);
    assert!(r.get("patch").is_none());
    // A pod without annotations at all.
    let mut bare = pod(json!({}));
    bare["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("annotations");
    let r = answer(&review_of(bare, "shop"), &s);
    assert!(r.get("patch").is_none());
}

#[test]
fn values_that_cannot_be_honoured_are_refused_naming_the_annotation() {
    let s = settings();
    for (extra, want) in [
        (
            json!({"vault.hashicorp.com/agent-inject": "maybe"}),
            "annotation vault.hashicorp.com/agent-inject: \"maybe\" is not a boolean",
        ),
        (
            json!({"vault.hashicorp.com/agent-limits-cpu": "-1"}),
            "annotation vault.hashicorp.com/agent-limits-cpu: \"-1\" is negative",
        ),
        (
            json!({"arca.dev/agent-requests-mem": "lots"}),
            "annotation arca.dev/agent-requests-mem: \"lots\" is not a resource quantity",
        ),
        (
            json!({"vault.hashicorp.com/agent-inject-default-template": "xml"}),
            "invalid default template type",
        ),
        (
            json!({"vault.hashicorp.com/agent-inject-file-db": "../../etc/passwd"}),
            "may not contain '..'",
        ),
        (
            json!({"vault.hashicorp.com/agent-inject-perms-db": "rw"}),
            "not an octal mode",
        ),
        (
            json!({"arca.dev/agent-inject-format-db": "xml"}),
            "is not a format",
        ),
        (
            json!({"vault.hashicorp.com/role": ""}),
            "annotation role is missing",
        ),
        (
            json!({"vault.hashicorp.com/auth-type": "aws"}),
            "not an auth method arca-agent has",
        ),
        (
            json!({"vault.hashicorp.com/agent-metrics-listener-port": "70000"}),
            "invalid port number",
        ),
        (
            json!({"arca.dev/agent-inject-restart-db": "SIGWHAT:nginx"}),
            "not a signal",
        ),
        (
            json!({"vault.hashicorp.com/secret-volume-path": "relative/dir"}),
            "must be an absolute path",
        ),
        (
            json!({"vault.hashicorp.com/agent-json-patch": "not json"}),
            "failed to decode JSON patch",
        ),
    ] {
        let mut ann = vault_k8s_annotations();
        for (k, v) in extra.as_object().unwrap() {
            ann[k] = v.clone();
        }
        let r = answer(&review_of(pod(ann), "shop"), &s);
        assert_eq!(r["allowed"], false, "{extra}: {r}");
        let msg = r["status"]["message"].as_str().unwrap();
        assert!(msg.contains(want), "{extra}: {msg}");
        assert!(r.get("patch").is_none());
    }
}

#[test]
fn malformed_bodies_get_a_clear_error() {
    let s = settings();
    for (body, want) in [
        (b"not json".to_vec(), "the body is not JSON"),
        (
            br#"{"apiVersion":"admission.k8s.io/v1beta1","kind":"AdmissionReview","request":{}}"#
                .to_vec(),
            "expected an admission.k8s.io/v1 AdmissionReview",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}"#.to_vec(),
            "no request",
        ),
        (
            br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":1}}"#
                .to_vec(),
            "not a valid AdmissionReview",
        ),
        (
            b"[]".to_vec(),
            "expected an admission.k8s.io/v1 AdmissionReview",
        ),
    ] {
        let a = arca_injector::webhook::review(&body, &s);
        assert_eq!(a.status, 400);
        let v: Value = serde_json::from_slice(&a.body).unwrap();
        assert!(v["error"].as_str().unwrap().contains(want), "{v}");
    }
}

#[test]
fn arca_annotations_formats_restarts_and_options() {
    let s = settings();
    let ann = json!({
        "arca.dev/agent-inject": "true",
        "arca.dev/role": "web",
        "arca.dev/agent-inject-secret-env": "secret/data/web",
        "arca.dev/agent-inject-format-env": "dotenv",
        "arca.dev/agent-inject-restart-env": "SIGHUP:web",
        "arca.dev/agent-inject-secret-json": "secret/data/web",
        "arca.dev/agent-inject-default-template": "json",
        "arca.dev/agent-inject-secret-Other": "secret/data/other",
        "arca.dev/secret-volume-path-Other": "/etc/other",
        "arca.dev/agent-inject-file-Other": "conf/other.json",
        "arca.dev/agent-inject-containers": "app",
        "arca.dev/agent-init-first": "true",
        "arca.dev/agent-inject-token": "true",
        "arca.dev/agent-revoke-on-shutdown": "true",
        "arca.dev/agent-cache-enable": "true",
        "arca.dev/agent-limits-mem": "32Mi",
        "arca.dev/agent-run-as-user": "2000",
        "vault.hashicorp.com/namespace": "team-a",
    });
    let original = pod(ann);
    let resp = answer(&review_of(original.clone(), "shop"), &s);
    let warnings = resp["warnings"].to_string();
    assert!(
        warnings.contains("vault.hashicorp.com/namespace is ignored"),
        "{warnings}"
    );
    let (patched, _) = apply(&original, &resp);
    let spec = &patched["spec"];
    let inits: Vec<&str> = spec["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        inits,
        ["arca-agent-init", "arca-agent", "istio-init"],
        "init first"
    );
    assert_eq!(
        spec["shareProcessNamespace"], true,
        "a restart by process name needs it"
    );
    // Only `app` gets the mounts; istio-proxy untouched.
    assert_eq!(
        named(&spec["containers"], "istio-proxy"),
        named(&original["spec"]["containers"], "istio-proxy")
    );
    let app_mounts = named(&spec["containers"], "app")["volumeMounts"].to_string();
    assert!(
        app_mounts.contains("/vault/secrets") && app_mounts.contains("/etc/other"),
        "{app_mounts}"
    );
    assert!(named(&spec["volumes"], "arca-secrets-custom-0")["emptyDir"]["medium"] == "Memory");
    let sidecar = named(&spec["initContainers"], "arca-agent");
    assert_eq!(sidecar["securityContext"]["runAsUser"], 2000);
    assert_eq!(sidecar["resources"]["limits"]["memory"], "32Mi");
    let (json, cfg) = agent_config(sidecar);
    assert!(cfg.revoke_on_shutdown);
    assert!(cfg.proxy && cfg.cache, "cache and proxy on the sidecar");
    assert_eq!(json["listener"][0]["address"], "127.0.0.1:8200");
    assert_eq!(
        json["auto_auth"]["sink"][0]["config"]["path"],
        "/vault/secrets/token"
    );
    let by_dest = |d: &str| {
        json["template"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["destination"] == d)
            .cloned()
            .unwrap()
    };
    let env = by_dest("/vault/secrets/env");
    assert_eq!(
        (env["secret"].as_str(), env["format"].as_str()),
        (Some("secret/data/web"), Some("dotenv"))
    );
    assert_eq!(env["signal"], "SIGHUP");
    assert_eq!(env["signal_process"], "web");
    assert_eq!(
        by_dest("/vault/secrets/json")["contents"],
        "{{ with secret \"secret/data/web\" }}{{ .Data | toJSON }}\n{{ end }}"
    );
    assert!(
        by_dest("/etc/other/conf/other.json")["contents"].is_string(),
        "file name keeps its path, name its case rule"
    );
    let (init_json, _) = agent_config(named(&spec["initContainers"], "arca-agent-init"));
    assert!(
        init_json.get("listener").is_none(),
        "the init container serves no cache"
    );
    assert_eq!(
        patched["metadata"]["annotations"]["arca.dev/agent-inject-status"],
        "injected"
    );
}

#[test]
fn pre_populate_only_and_regular_container_sidecars() {
    let mut ann = vault_k8s_annotations();
    ann["vault.hashicorp.com/agent-pre-populate-only"] = json!("true");
    let original = pod(ann);
    let (patched, _) = apply(
        &original,
        &answer(&review_of(original.clone(), "shop"), &settings()),
    );
    let inits: Vec<&str> = patched["spec"]["initContainers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(inits, ["istio-init", "arca-agent-init"]);

    let s = arca_injector::settings::Settings {
        native_sidecar: false,
        ..settings()
    };
    let original = pod(vault_k8s_annotations());
    let (patched, typed) = apply(&original, &answer(&review_of(original.clone(), "shop"), &s));
    let names: Vec<String> = typed
        .spec
        .unwrap()
        .containers
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["app", "istio-proxy", "arca-agent"]);
    assert!(
        named(&patched["spec"]["containers"], "arca-agent")
            .get("restartPolicy")
            .is_none()
    );
}

/// For many pods and annotation mixes: the patch applies, the result is a
/// valid Pod, names stay unique, no container mounts two things at one
/// path, and the original containers and volumes are all still there.
#[test]
fn any_pod_any_annotations_the_patch_applies_and_the_pod_stays_valid() {
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
    let options: &[(&str, &[&str])] = &[
        ("agent-init-first", &["true", "false"]),
        ("agent-pre-populate", &["true", "false"]),
        ("agent-pre-populate-only", &["true", "false"]),
        (
            "agent-inject-containers",
            &["app", "istio-proxy", "app,istio-proxy", "nope"],
        ),
        ("agent-inject-token", &["true"]),
        ("agent-cache-enable", &["true"]),
        ("agent-share-process-namespace", &["true", "false"]),
        ("secret-volume-path", &["/secrets", "/vault/secrets"]),
        ("agent-requests-cpu", &["50m", "1", ""]),
        ("agent-limits-mem", &["1Gi", "100M"]),
        ("agent-configmap", &["agent-config"]),
        ("agent-extra-secret", &["extra"]),
        ("tls-secret", &["arca-ca"]),
        ("agent-inject-default-template", &["json", "map"]),
        ("agent-run-as-same-user", &["true"]),
        ("agent-copy-volume-mounts", &["app"]),
    ];
    for case in 0..400 {
        let mut ann =
            json!({"vault.hashicorp.com/agent-inject": "true", "vault.hashicorp.com/role": "r"});
        let secrets = next() % 4;
        for i in 0..secrets {
            ann[format!("vault.hashicorp.com/agent-inject-secret-s{i}")] =
                json!(format!("secret/data/s{i}"));
            if next().is_multiple_of(3) {
                ann[format!("vault.hashicorp.com/secret-volume-path-s{i}")] =
                    json!(format!("/custom/{}", next() % 2));
            }
        }
        for (k, vals) in options {
            if next().is_multiple_of(3) {
                ann[format!("vault.hashicorp.com/{k}")] =
                    json!(vals[(next() % vals.len() as u64) as usize]);
            }
        }
        let mut p = pod(ann);
        match next() % 4 {
            0 => {
                p["spec"].as_object_mut().unwrap().remove("initContainers");
            }
            1 => {
                p["spec"].as_object_mut().unwrap().remove("volumes");
                for c in p["spec"]["containers"].as_array_mut().unwrap() {
                    c.as_object_mut().unwrap().remove("volumeMounts");
                }
                p["spec"]["initContainers"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("volumeMounts");
            }
            2 => p["spec"]["hostNetwork"] = json!(true),
            _ => {}
        }
        let resp = answer(&review_of(p.clone(), "shop"), &settings());
        if resp["allowed"] == false {
            // Refusals are for bad values only; the generated ones are good.
            panic!("case {case}: refused: {}", resp["status"]["message"]);
        }
        let (patched, typed) = apply(&p, &resp);
        let spec = typed.spec.unwrap();
        let mut names: Vec<String> = spec.containers.iter().map(|c| c.name.clone()).collect();
        names.extend(
            spec.init_containers
                .iter()
                .flatten()
                .map(|c| c.name.clone()),
        );
        let n = names.len();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "case {case}: duplicate container names");
        let mut vols: Vec<String> = spec
            .volumes
            .iter()
            .flatten()
            .map(|v| v.name.clone())
            .collect();
        let nv = vols.len();
        vols.sort();
        vols.dedup();
        assert_eq!(vols.len(), nv, "case {case}: duplicate volume names");
        for c in spec
            .containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
        {
            let mut paths: Vec<&str> = c
                .volume_mounts
                .iter()
                .flatten()
                .map(|m| m.mount_path.as_str())
                .collect();
            let np = paths.len();
            paths.sort();
            paths.dedup();
            assert_eq!(
                paths.len(),
                np,
                "case {case}: {} mounts two things at one path",
                c.name
            );
            for m in c.volume_mounts.iter().flatten() {
                assert!(
                    vols.contains(&m.name),
                    "case {case}: {} mounts a missing volume {}",
                    c.name,
                    m.name
                );
            }
        }
        for c in p["spec"]["containers"].as_array().unwrap() {
            let after = named(&patched["spec"]["containers"], c["name"].as_str().unwrap());
            assert_eq!(after["image"], c["image"], "case {case}");
            assert_eq!(after["command"], c["command"], "case {case}");
        }
        // And again: nothing.
        let again = answer(&review_of(patched, "shop"), &settings());
        assert!(again.get("patch").is_none(), "case {case}: patched twice");
    }
}

#[test]
fn exec_mode_wraps_the_command_with_the_agent() {
    let ann = json!({
        "arca.dev/agent-inject": "true",
        "arca.dev/role": "web",
        "arca.dev/agent-inject-secret-config": "secret/data/web",
        "arca.dev/agent-inject-exec": "app,istio-proxy",
        "arca.dev/agent-inject-env-DB_PASSWORD": "secret/data/web#password",
        "arca.dev/agent-inject-env-GREETING": "{{ with secret \"secret/data/web\" }}hi {{ .Data.data.user }}{{ end }}",
    });
    let original = pod(ann);
    let resp = answer(&review_of(original.clone(), "shop"), &settings());
    // istio-proxy has no command in the spec: named in a warning, left alone.
    let warnings = resp["warnings"].to_string();
    assert!(
        warnings.contains("\\\"istio-proxy\\\" has no command in the pod spec"),
        "{warnings}"
    );
    let (patched, _) = apply(&original, &resp);
    let spec = &patched["spec"];
    let proxy = named(&spec["containers"], "istio-proxy");
    let before = named(&original["spec"]["containers"], "istio-proxy");
    assert_eq!(
        (&proxy["command"], &proxy["args"], &proxy["env"]),
        (&before["command"], &before["args"], &before["env"])
    );
    let app = named(&spec["containers"], "app");
    assert_eq!(app["command"], json!(["/arca/bin/arca-agent"]));
    assert_eq!(app["args"], json!([]));
    // Everything else of the container is as it was.
    for k in ["image", "ports", "resources", "securityContext"] {
        assert_eq!(
            app[k],
            named(&original["spec"]["containers"], "app")[k],
            "{k}"
        );
    }
    let mounts = app["volumeMounts"].to_string();
    for m in [
        "/cache",
        "/vault/secrets",
        "/arca/bin",
        "/var/run/secrets/arca.dev/serviceaccount",
    ] {
        assert!(mounts.contains(m), "{m} in {mounts}");
    }
    assert!(
        !mounts.contains("arca-home"),
        "the hand-off stays with the agents"
    );
    let (cfg_json, cfg) = agent_config(app);
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let exec = cfg.exec.expect("an exec block");
    assert_eq!(exec.command, ["/web", "--port=8080"]);
    assert_eq!(cfg.env_templates.len(), 2);
    assert!(cfg.templates.is_empty() && !cfg.exit_after_auth && cfg.handoff_file.is_none());
    assert_eq!(
        cfg_json["env_template"][0]["DB_PASSWORD"]["contents"],
        "{{ with secret \"secret/data/web\" }}{{ index (secretData .) \"password\" }}{{ end }}"
    );
    // The init container copies the agent for it.
    let init = named(&spec["initContainers"], "arca-agent-init");
    assert!(
        init["args"]
            .as_array()
            .unwrap()
            .contains(&json!("-copy-to=/arca/bin/arca-agent"))
    );
    assert!(init["volumeMounts"].to_string().contains("/arca/bin"));
    assert_eq!(
        named(&spec["volumes"], "arca-bin")["emptyDir"]["medium"],
        "Memory"
    );

    // Bad variable names and values are refused.
    for (k, v, want) in [
        (
            "arca.dev/agent-inject-env-1BAD",
            "secret/data/web#x",
            "not an environment variable name",
        ),
        (
            "arca.dev/agent-inject-env-OK",
            "secret/data/web",
            "neither a template nor path#key",
        ),
        (
            "arca.dev/agent-pre-populate",
            "false",
            "needs the generated init container",
        ),
    ] {
        let mut ann = json!({
            "arca.dev/agent-inject": "true", "arca.dev/role": "web",
            "arca.dev/agent-inject-exec": "app",
            "arca.dev/agent-inject-env-GOOD": "secret/data/web#x",
        });
        ann[k] = json!(v);
        let r = answer(&review_of(pod(ann), "shop"), &settings());
        assert_eq!(r["allowed"], false, "{k}");
        assert!(
            r["status"]["message"].as_str().unwrap().contains(want),
            "{k}: {r}"
        );
    }
}

/// The webhook reads a pod's spec pruned to what `mutate` uses
/// (`webhook::POD_SPEC`): for annotation mixes that read every part of
/// the spec (exec mode: command, args, env; a named token volume;
/// run-as-same-user; copied mounts; container lists), the answer from the
/// pruned spec is the answer from the whole spec.
#[test]
fn the_pruned_spec_gives_the_answers_of_the_whole_spec() {
    use serde::de::DeserializeSeed;
    let mut next = xorshift(0x2545_f491_4f6c_dd1d);
    let options: &[(&str, &[&str])] = &[
        ("agent-inject-exec", &["app", "istio-proxy", "app,nope"]),
        ("agent-inject-env-DB", &["secret/data/web#password"]),
        (
            "agent-service-account-token-volume-name",
            &["kube-api-access-x7k2p", "cache", "missing"],
        ),
        ("agent-run-as-same-user", &["true"]),
        ("agent-copy-volume-mounts", &["app", "istio-init", "nope"]),
        ("agent-inject-containers", &["app", "istio-proxy", "nope"]),
        ("agent-share-process-namespace", &["true"]),
        ("agent-init-first", &["true"]),
        ("secret-volume-path", &["/cache", "/vault/secrets"]),
        ("agent-inject-restart-s0", &["SIGHUP:web"]),
    ];
    let s = settings();
    let mut compared = 0;
    for case in 0..300 {
        let mut ann = json!({"arca.dev/agent-inject": "true", "arca.dev/role": "r",
                             "arca.dev/agent-inject-secret-s0": "secret/data/s0"});
        for (k, vals) in options {
            if next().is_multiple_of(3) {
                ann[format!("arca.dev/{k}")] = json!(vals[(next() % vals.len() as u64) as usize]);
            }
        }
        let mut p = pod(ann.clone());
        match next() % 5 {
            0 => p["spec"]["shareProcessNamespace"] = json!(false),
            1 => {
                p["spec"]["containers"][0]["env"] =
                    json!([{"name": "ARCA_AGENT_CONFIG", "value": "x"}])
            }
            2 => {
                p["spec"]["containers"][0]["securityContext"] = json!({"runAsUser": 0});
            }
            3 => {
                p["spec"]["containers"][1]["command"] = json!(["/proxy"]);
                p["spec"]["volumes"][1]["projected"]["sources"][0] =
                    json!({"serviceAccountToken": {"path": "vault-token", "audience": "arca"}});
            }
            _ => {}
        }
        let annotations: std::collections::BTreeMap<String, String> =
            serde_json::from_value(ann).unwrap();
        let whole = &p["spec"];
        let pruned = arca_injector::webhook::Pruned(arca_injector::webhook::POD_SPEC)
            .deserialize(whole)
            .unwrap();
        assert_ne!(&pruned, whole, "case {case}: something is pruned");
        let run = |spec: &Value| match arca_injector::mutate::mutate(&annotations, spec, None, &s) {
            Ok(Some(m)) => Ok(Some((serde_json::to_value(&m.patch).unwrap(), m.warnings))),
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        };
        let (a, b) = (run(whole), run(&pruned));
        assert_eq!(a, b, "case {case}");
        compared += usize::from(matches!(a, Ok(Some(_))));
    }
    assert!(compared > 100, "only {compared} injections compared");
}

/// A small deterministic generator (xorshift64), so failures reproduce.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

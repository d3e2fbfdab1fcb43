//! A pod and its annotations -> the JSON Patch that gives it arca-agent.
//!
//! What the patch adds (nothing else is changed; arrays are appended to,
//! never replaced):
//! - volumes: `arca-secrets` (in-memory emptyDir, plus one per extra
//!   `secret-volume-path-<name>`), `arca-home` (in-memory, mounted only in
//!   the agent containers: the init container's hand-off of its token and
//!   leases to the sidecar, so a pod costs one login), `arca-token` (a
//!   projected service-account token with the configured audience and a
//!   short life), and the ConfigMap/Secret volumes annotations ask for;
//! - mounts of the secrets volume in the targeted app containers and in
//!   the pod's own init containers;
//! - `arca-agent-init` (renders once, exits), after the pod's init
//!   containers or first (`agent-init-first`);
//! - `arca-agent`, the sidecar: an init container with `restartPolicy:
//!   Always` (native sidecar, Kubernetes 1.29+) so secrets exist before the
//!   app starts and Jobs finish, or a regular container;
//! - the `agent-inject-status: injected` annotation.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::annotations::{Annotations, VAULT};
use crate::settings::Settings;

pub const INIT_NAME: &str = "arca-agent-init";
pub const SIDECAR_NAME: &str = "arca-agent";
pub const SECRETS_VOLUME: &str = "arca-secrets";
pub const HOME_VOLUME: &str = "arca-home";
/// Exec mode: the agent binary, copied by the init container.
pub const BIN_VOLUME: &str = "arca-bin";
pub const BIN_DIR: &str = "/arca/bin";
pub const TOKEN_VOLUME: &str = "arca-token";
pub const HOME: &str = "/home/arca";
pub const TOKEN_DIR: &str = "/var/run/secrets/arca.dev/serviceaccount";
/// The environment variable the agent reads its configuration from.
pub const CONFIG_ENV: &str = "ARCA_AGENT_CONFIG";
/// The agent binary in its image.
pub const AGENT_BINARY: &str = "/arca-agent";

const MAP_TEMPLATE: &str =
    "{{ with secret \"%s\" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}";
const JSON_TEMPLATE: &str = "{{ with secret \"%s\" }}{{ .Data | toJSON }}\n{{ end }}";

/// A secret's path, inline template and template file, as annotated.
type SecretSource = (Option<String>, Option<String>, Option<String>);

pub struct Mutation {
    /// RFC 6902 operations.
    pub patch: Vec<Value>,
    pub warnings: Vec<String>,
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// `path.Join(dir, file)` for a file an annotation names: below `dir`,
/// with no `..` (vault-k8s lets `..` climb out; Arca refuses).
fn join_below(dir: &str, file: &str, key: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for seg in file.split('/') {
        match seg {
            "" | "." => {}
            ".." => return Err(format!("annotation {key}: {file:?} may not contain '..'")),
            s => parts.push(s),
        }
    }
    if parts.is_empty() {
        return Err(format!("annotation {key}: {file:?} names no file"));
    }
    Ok(format!("{}/{}", dir.trim_end_matches('/'), parts.join("/")))
}

fn absolute(path: &str, key: &str) -> Result<String, String> {
    if !path.starts_with('/') || path.split('/').any(|s| s == "..") {
        return Err(format!(
            "annotation {key}: {path:?} must be an absolute path without '..'"
        ));
    }
    let p = path.trim_end_matches('/');
    Ok(if p.is_empty() {
        "/".into()
    } else {
        p.to_owned()
    })
}

/// The patch for a pod (its annotations, spec and phase), `None` when it asks for nothing (or has it
/// already), an error (the refusal's message) when it asks for something
/// that cannot be done.
pub fn mutate(
    annotations: &BTreeMap<String, String>,
    spec: &Value,
    phase: Option<&str>,
    s: &Settings,
) -> Result<Option<Mutation>, String> {
    let a = Annotations::new(annotations);
    if !a.bool("agent-inject", false)? {
        return Ok(None);
    }
    if a.get("agent-inject-status") == Some("injected") {
        return Ok(None);
    }
    if phase.is_some_and(|p| !p.is_empty() && p != "Pending") {
        return Ok(None);
    }
    let mut warnings = a.warnings();
    let empty = Vec::new();
    let containers = spec["containers"].as_array().unwrap_or(&empty);
    let init_containers = spec["initContainers"].as_array().unwrap_or(&empty);
    let volumes = spec["volumes"].as_array().unwrap_or(&empty);
    let volume_names: Vec<&str> = volumes.iter().filter_map(|v| v["name"].as_str()).collect();
    let container_names: Vec<&str> = containers
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for reserved in [INIT_NAME, SIDECAR_NAME] {
        if container_names.contains(&reserved)
            || init_containers.iter().any(|c| c["name"] == reserved)
        {
            return Err(format!("the pod already has a container named {reserved}"));
        }
    }

    // Where the agent logs in and what it renders.
    let address = a
        .text("service")
        .map(str::to_owned)
        .unwrap_or_else(|| s.vault_address.clone());
    let auth_type = a.text("auth-type").unwrap_or(&s.vault_auth_type).to_owned();
    if !matches!(auth_type.as_str(), "kubernetes" | "jwt" | "approle") {
        return Err(format!(
            "annotation auth-type: {auth_type:?} is not an auth method arca-agent has (kubernetes, jwt, approle)"
        ));
    }
    let auth_path = a.text("auth-path").unwrap_or(&s.vault_auth_path).to_owned();
    let mut method_config = Map::new();
    for (param, (_, v)) in a.with_prefix("auth-config-") {
        method_config.insert(param.replace('-', "_"), Value::String(v.to_owned()));
    }
    if let Some(role) = a.text("role") {
        method_config.insert("role".into(), role.into());
    }
    if auth_type == "kubernetes" && !method_config.contains_key("role") {
        return Err("annotation role is missing: the kubernetes auth role to log in with".into());
    }

    let default_template = match a.entry("agent-inject-default-template") {
        None => s.default_template.clone(),
        Some((full, v)) => match v.to_ascii_lowercase().as_str() {
            t @ ("map" | "json") => t.to_owned(),
            _ => {
                return Err(format!(
                    "annotation {full}: invalid default template type {v:?} (map or json)"
                ));
            }
        },
    };
    let default_format = match a.entry("agent-inject-default-format") {
        None => None,
        Some((full, v)) => Some(format_value(full, v)?),
    };
    let volume_path = absolute(
        a.text("secret-volume-path").unwrap_or("/vault/secrets"),
        "secret-volume-path",
    )?;
    let preserve_case = a.bool("preserve-secret-case", false)?;

    // The secrets: by the first prefix that names them.
    let mut by_raw: BTreeMap<String, SecretSource> = BTreeMap::new();
    for (raw, (_, v)) in a.with_prefix("agent-inject-secret-") {
        if !v.trim().is_empty() {
            by_raw.entry(raw.to_owned()).or_default().0 = Some(v.to_owned());
        }
    }
    for (raw, (_, v)) in a.with_prefix("agent-inject-template-file-") {
        if !v.trim().is_empty() {
            by_raw.entry(raw.to_owned()).or_default().2 = Some(v.to_owned());
        }
    }
    for (raw, (_, v)) in a.with_prefix("agent-inject-template-") {
        if raw.starts_with("file-") || v.trim().is_empty() {
            continue;
        }
        by_raw.entry(raw.to_owned()).or_default().1 = Some(v.to_owned());
    }
    // The mount path of each secret's file.
    let mut secret_dirs: Vec<String> = Vec::new();
    let mut templates = Vec::new();
    let mut share_process_namespace = false;
    for (raw, (path, contents, source)) in &by_raw {
        if raw.is_empty() {
            continue;
        }
        let keep_case = a.bool(&format!("preserve-secret-case-{raw}"), preserve_case)?;
        let name = if keep_case {
            raw.clone()
        } else {
            raw.to_lowercase()
        };
        let mount = match a.text(&format!("secret-volume-path-{raw}")) {
            Some(p) => absolute(p, &format!("secret-volume-path-{raw}"))?,
            None => volume_path.clone(),
        };
        let destination = match a.entry(&format!("agent-inject-file-{raw}")) {
            Some((full, f)) if !f.is_empty() => join_below(&mount, f, full)?,
            _ => format!("{mount}/{name}"),
        };
        let path = path.clone().unwrap_or_default();
        let mut t = Map::new();
        t.insert("destination".into(), destination.into());
        let format = match a.entry(&format!("agent-inject-format-{raw}")) {
            Some((full, v)) => Some(format_value(full, v)?),
            None if contents.is_none() && source.is_none() => default_format.clone(),
            None => None,
        };
        match (contents, source, format) {
            (Some(c), _, _) => {
                t.insert("contents".into(), c.clone().into());
            }
            (None, Some(src), _) => {
                t.insert("source".into(), src.clone().into());
            }
            (None, None, Some(f)) => {
                t.insert("secret".into(), path.clone().into());
                t.insert("format".into(), f.into());
            }
            (None, None, None) => {
                let tmpl = if default_template == "json" {
                    JSON_TEMPLATE
                } else {
                    MAP_TEMPLATE
                };
                t.insert("contents".into(), tmpl.replace("%s", &path).into());
            }
        }
        if t.contains_key("contents") || t.contains_key("source") {
            t.insert("left_delimiter".into(), "{{".into());
            t.insert("right_delimiter".into(), "}}".into());
        }
        if let Some(p) = a.text(&format!("agent-inject-perms-{raw}")) {
            let ok = p.len() <= 5 && u32::from_str_radix(p, 8).is_ok_and(|m| m <= 0o7777);
            if !ok {
                return Err(format!(
                    "annotation agent-inject-perms-{raw}: {p:?} is not an octal mode like 0640"
                ));
            }
            t.insert("perms".into(), p.into());
        }
        if let Some(c) = a.text(&format!("agent-inject-command-{raw}")) {
            t.insert("command".into(), c.into());
        }
        if a.bool(&format!("error-on-missing-key-{raw}"), false)? {
            t.insert("error_on_missing_key".into(), true.into());
        }
        if let Some((full, r)) = a.entry(&format!("agent-inject-restart-{raw}")) {
            let (sig, target) = r.split_once(':').ok_or_else(|| {
                format!("annotation {full}: {r:?} is not SIGNAL:process or SIGNAL:/pid/file")
            })?;
            let sig = sig.trim().to_ascii_uppercase();
            let sig = if sig.starts_with("SIG") {
                sig
            } else {
                format!("SIG{sig}")
            };
            if ![
                "SIGHUP", "SIGTERM", "SIGINT", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL",
            ]
            .contains(&sig.as_str())
            {
                return Err(format!(
                    "annotation {full}: {sig:?} is not a signal arca-agent sends"
                ));
            }
            let target = target.trim();
            if target.is_empty() {
                return Err(format!(
                    "annotation {full}: no process or pid file after the signal"
                ));
            }
            t.insert("signal".into(), sig.into());
            if target.starts_with('/') {
                t.insert("signal_pid_file".into(), target.into());
            } else {
                t.insert("signal_process".into(), target.into());
                share_process_namespace = true;
            }
            t.insert("min_interval".into(), "1s".into());
        }
        templates.push(Value::Object(t));
        secret_dirs.push(mount);
    }

    // The mounts of the secrets volume(s): the main path, then one volume
    // per other path (sorted, so the names are stable).
    let mut mounts: Vec<String> = vec![volume_path.clone()];
    for dir in secret_dirs {
        if !mounts.contains(&dir) {
            mounts.push(dir);
        }
    }
    let secret_mounts: Vec<Value> = mounts
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let name = if i == 0 {
                SECRETS_VOLUME.to_owned()
            } else {
                format!("{SECRETS_VOLUME}-custom-{}", i - 1)
            };
            json!({"name": name, "mountPath": m})
        })
        .collect();

    // Which app containers get them.
    let targets: Vec<usize> = match a.get("agent-inject-containers") {
        Some(list) if !list.trim().is_empty() => {
            let wanted: Vec<&str> = list
                .split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect();
            for w in &wanted {
                if !container_names.contains(w) {
                    warnings.push(format!(
                        "agent-inject-containers names {w:?}, which is not a container of this pod"
                    ));
                }
            }
            (0..containers.len())
                .filter(|i| wanted.contains(&containers[*i]["name"].as_str().unwrap_or("")))
                .collect()
        }
        _ => (0..containers.len()).collect(),
    };

    let pre_populate = a.bool("agent-pre-populate", true)?;
    let pre_populate_only = a.bool("agent-pre-populate-only", false)?;
    let init_first = a.bool("agent-init-first", false)?;
    let inject_token = a.bool("agent-inject-token", false)?;
    let revoke = a.bool("agent-revoke-on-shutdown", s.revoke_on_shutdown)?;
    let cache = a.bool("agent-cache-enable", false)?;
    let exit_on_err = a.bool("agent-auto-auth-exit-on-err", false)?;
    let tls_skip_verify = a.bool("tls-skip-verify", false)?;
    let exit_on_retry_failure = a.bool(
        "template-config-exit-on-retry-failure",
        s.exit_on_retry_failure,
    )?;
    if a.entry("agent-share-process-namespace").is_some() {
        let want = a.bool("agent-share-process-namespace", false)?;
        share_process_namespace |= want;
    }
    if share_process_namespace && spec["shareProcessNamespace"] == Value::Bool(false) {
        return Err(
            "shareProcessNamespace explicitly disabled on the pod, refusing to enable it".into(),
        );
    }
    if !pre_populate && pre_populate_only {
        warnings.push(
            "agent-pre-populate is false and agent-pre-populate-only true: no agent runs".into(),
        );
    }
    let image = a.text("agent-image").unwrap_or(&s.agent_image).to_owned();
    if address.is_empty() {
        return Err(
            "no server address: set the injector's -vault-address or the service annotation".into(),
        );
    }

    // Resources.
    let mut requests = Map::new();
    let mut limits = Map::new();
    for (key, default, limit, field) in [
        (
            "agent-requests-cpu",
            Some(s.cpu_request.as_str()),
            false,
            "cpu",
        ),
        (
            "agent-requests-mem",
            Some(s.mem_request.as_str()),
            false,
            "memory",
        ),
        (
            "agent-requests-ephemeral",
            s.ephemeral_request.as_deref(),
            false,
            "ephemeral-storage",
        ),
        ("agent-limits-cpu", Some(s.cpu_limit.as_str()), true, "cpu"),
        (
            "agent-limits-mem",
            Some(s.mem_limit.as_str()),
            true,
            "memory",
        ),
        (
            "agent-limits-ephemeral",
            s.ephemeral_limit.as_deref(),
            true,
            "ephemeral-storage",
        ),
    ] {
        if let Some(q) = a.quantity(key, default)? {
            let into = if limit { &mut limits } else { &mut requests };
            into.insert(field.into(), q.into());
        }
    }
    let mut resources = Map::new();
    if !requests.is_empty() {
        resources.insert("requests".into(), requests.into());
    }
    if !limits.is_empty() {
        resources.insert("limits".into(), limits.into());
    }

    // Security context.
    let run_as_same = a.bool("agent-run-as-same-user", s.run_as_same_user)?;
    let mut uid = a.int("agent-run-as-user", s.run_as_user)?;
    let gid = a.int("agent-run-as-group", s.run_as_group)?;
    if run_as_same {
        let first = containers
            .first()
            .ok_or("No containers found in Pod Spec")?;
        uid = first["securityContext"]["runAsUser"].as_i64().ok_or(
            "agent-run-as-same-user: the first container sets no securityContext.runAsUser",
        )?;
        if uid == 0 {
            return Err("container not allowed to run as root".into());
        }
    }
    let explicit_ids =
        a.entry("agent-run-as-user").is_some() || a.entry("agent-run-as-group").is_some();
    let set_sc = a.bool(
        "agent-set-security-context",
        s.set_security_context || explicit_ids,
    )?;
    let security_context = set_sc.then(|| {
        json!({
            "runAsUser": uid,
            "runAsGroup": gid,
            "runAsNonRoot": uid != 0 && gid != 0,
            "readOnlyRootFilesystem": true,
            "allowPrivilegeEscalation": false,
            "capabilities": {"drop": ["ALL"]},
            "seccompProfile": {"type": "RuntimeDefault"},
        })
    });

    // The service-account token the agent logs in with.
    let (token_volume, token_mount, token_path, new_token_volume) = match a
        .text("agent-service-account-token-volume-name")
    {
        None => (
            TOKEN_VOLUME.to_owned(),
            TOKEN_DIR.to_owned(),
            format!("{TOKEN_DIR}/token"),
            true,
        ),
        Some(name) => {
            let vol = volumes
                .iter()
                .find(|v| v["name"] == name)
                .ok_or_else(|| format!("failed to find volume {name:?} in the pod's volumes"))?;
            let file = vol["projected"]["sources"]
                .as_array()
                .and_then(|srcs| {
                    srcs.iter()
                        .find_map(|s| s["serviceAccountToken"]["path"].as_str())
                })
                .ok_or_else(|| format!("failed to find tokenPath for projected volume {name:?}"))?;
            let mount = containers
                .iter()
                .flat_map(|c| c["volumeMounts"].as_array().into_iter().flatten())
                .find(|m| m["name"] == name)
                .and_then(|m| m["mountPath"].as_str())
                .unwrap_or("/var/run/secrets/vault.hashicorp.com/serviceaccount")
                .to_owned();
            let path = format!("{}/{}", mount.trim_end_matches('/'), file);
            (name.to_owned(), mount, path, false)
        }
    };
    if !method_config.contains_key("token_path") && auth_type == "kubernetes" {
        method_config.insert("token_path".into(), token_path.into());
    }

    // Extra volumes for the agent containers.
    let mut agent_mounts: Vec<Value> = vec![
        json!({"name": HOME_VOLUME, "mountPath": HOME}),
        json!({"name": token_volume, "mountPath": token_mount, "readOnly": true}),
    ];
    agent_mounts.extend(secret_mounts.iter().cloned());
    let mut new_volumes: Vec<Value> = Vec::new();
    for m in &secret_mounts {
        new_volumes.push(json!({"name": m["name"], "emptyDir": {"medium": "Memory"}}));
    }
    new_volumes.push(json!({"name": HOME_VOLUME, "emptyDir": {"medium": "Memory"}}));
    if new_token_volume {
        let mut sat = Map::new();
        sat.insert("path".into(), "token".into());
        sat.insert("expirationSeconds".into(), s.token_expiration.into());
        if !s.token_audience.is_empty() {
            sat.insert("audience".into(), s.token_audience.clone().into());
        }
        new_volumes.push(
            json!({"name": TOKEN_VOLUME, "projected": {"sources": [{"serviceAccountToken": sat}]}}),
        );
    }
    let configmap = a.text("agent-configmap");
    if let Some(cm) = configmap {
        new_volumes.push(json!({"name": "arca-agent-config", "configMap": {"name": cm}}));
        agent_mounts.push(
            json!({"name": "arca-agent-config", "mountPath": "/vault/configs", "readOnly": true}),
        );
    }
    if let Some(sec) = a.text("agent-extra-secret") {
        new_volumes.push(json!({"name": "arca-extra-secret", "secret": {"secretName": sec}}));
        agent_mounts.push(
            json!({"name": "arca-extra-secret", "mountPath": "/vault/custom", "readOnly": true}),
        );
    }
    if let Some(sec) = a.text("tls-secret") {
        new_volumes.push(json!({"name": "arca-tls", "secret": {"secretName": sec}}));
        agent_mounts.push(json!({"name": "arca-tls", "mountPath": "/vault/tls", "readOnly": true}));
    }
    if let Some(from) = a.text("agent-copy-volume-mounts") {
        let c = containers
            .iter()
            .chain(init_containers.iter())
            .find(|c| c["name"] == from)
            .ok_or_else(|| format!("agent-copy-volume-mounts: no container named {from:?}"))?;
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let path = m["mountPath"].as_str().unwrap_or("");
            if !path.to_ascii_lowercase().contains("serviceaccount")
                && !agent_mounts.iter().any(|am| am["mountPath"] == path)
            {
                agent_mounts.push(m.clone());
            }
        }
    }
    for v in &new_volumes {
        if volume_names.contains(&v["name"].as_str().unwrap_or("")) {
            return Err(format!("the pod already has a volume named {}", v["name"]));
        }
    }

    // The agent's configuration: what the init container, the sidecar
    // and exec mode share is built once; the sidecar's own keys beside it.
    let mut common = Map::new();
    {
        let mut vault = Map::new();
        vault.insert("address".into(), address.into());
        if let Some(ca) = a.text("ca-cert") {
            vault.insert("ca_cert".into(), ca.into());
        }
        if tls_skip_verify {
            vault.insert("tls_skip_verify".into(), true.into());
        }
        let mut method = Map::new();
        method.insert("type".into(), auth_type.clone().into());
        method.insert("mount_path".into(), auth_path.into());
        for k in ["min_backoff", "max_backoff"] {
            if let Some(v) = a.text(&format!("auth-{}", k.replace('_', "-"))) {
                method.insert(k.into(), v.into());
            }
        }
        if exit_on_err {
            method.insert("exit_on_err".into(), true.into());
        }
        method.insert("config".into(), Value::Object(method_config));
        let mut auto_auth = Map::new();
        auto_auth.insert("method".into(), Value::Object(method));
        if inject_token {
            auto_auth.insert(
                "sink".into(),
                json!([{"type": "file", "config": {"path": format!("{volume_path}/token")}}]),
            );
        }
        common.insert("auto_auth".into(), Value::Object(auto_auth));
        common.insert("pid_file".into(), format!("{HOME}/.pid").into());
        common.insert("handoff_file".into(), format!("{HOME}/handoff.json").into());
        common.insert("vault".into(), Value::Object(vault));
        if !templates.is_empty() {
            common.insert("template".into(), Value::Array(templates));
        }
        let mut tc = Map::new();
        tc.insert("exit_on_retry_failure".into(), exit_on_retry_failure.into());
        if let Some(i) = a
            .text("template-static-secret-render-interval")
            .or(s.static_secret_render_interval.as_deref())
        {
            tc.insert("static_secret_render_interval".into(), i.into());
        }
        if let Some(n) = a.text("template-max-connections-per-host") {
            tc.insert("max_connections_per_host".into(), n.into());
        }
        common.insert("template_config".into(), Value::Object(tc));
    }
    let mut sidecar_only = Map::new();
    {
        if revoke {
            sidecar_only.insert("revoke_on_shutdown".into(), true.into());
        }
        let mut listeners = Vec::new();
        if cache {
            let port = a.text("agent-cache-listener-port").unwrap_or("8200");
            listeners.push(
                json!({"type": "tcp", "address": format!("127.0.0.1:{port}"), "tls_disable": true}),
            );
            let use_token = a.text("agent-cache-use-auto-auth-token").unwrap_or("true");
            sidecar_only.insert("cache".into(), json!({}));
            sidecar_only.insert(
                "api_proxy".into(),
                json!({"use_auto_auth_token": use_token}),
            );
        }
        if let Some(p) = a.text("agent-metrics-listener-port") {
            listeners.push(
                json!({"type": "tcp", "address": format!("0.0.0.0:{p}"), "tls_disable": true}),
            );
        }
        if !listeners.is_empty() {
            sidecar_only.insert("listener".into(), Value::Array(listeners));
        }
    }
    let no_keys = Map::new();
    let config_json = |init: bool| {
        serde_json::to_vec(&AgentConfig {
            common: &common,
            exit_after_auth: init,
            only: if init { &no_keys } else { &sidecar_only },
        })
        .map_err(|e| e.to_string())
    };
    if let Some(p) = a.entry("agent-metrics-listener-port") {
        let ok = p.1.parse::<u16>().is_ok_and(|n| n > 0);
        if !ok {
            return Err(format!(
                "annotation {}: invalid port number: must be in the range 1 to 65535",
                p.0
            ));
        }
    }
    if let Some(p) = a
        .entry("agent-cache-listener-port")
        .filter(|p| p.1.parse::<u16>().map_or(true, |n| n == 0))
    {
        return Err(format!(
            "annotation {}: invalid port number: must be in the range 1 to 65535",
            p.0
        ));
    }

    // Exec mode (Arca's): the containers `agent-inject-exec` names run
    // their command under arca-agent, with `agent-inject-env-<VAR>` in
    // their environment, restarted when a value changes. The init
    // container copies the agent binary into `arca-bin` for them.
    let mut env_templates: Vec<Value> = Vec::new();
    for (var, (full, v)) in a.with_prefix("agent-inject-env-") {
        let valid = var
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !valid {
            return Err(format!(
                "annotation {full}: {var:?} is not an environment variable name"
            ));
        }
        let contents = if v.contains("{{") {
            v.to_owned()
        } else {
            let (path, key) = v
                .split_once('#')
                .filter(|(p, k)| !p.is_empty() && !k.is_empty())
                .ok_or_else(|| {
                    format!("annotation {full}: {v:?} is neither a template nor path#key")
                })?;
            format!(
                "{{{{ with secret {path:?} }}}}{{{{ index (secretData .) {key:?} }}}}{{{{ end }}}}"
            )
        };
        env_templates.push(json!({var: {"contents": contents, "error_on_missing_key": true}}));
    }
    let mut exec_targets: Vec<(usize, Value)> = Vec::new();
    let exec_names: Vec<&str> = a
        .text("agent-inject-exec")
        .map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    if !env_templates.is_empty() && exec_names.is_empty() {
        warnings.push("agent-inject-env-* is set but agent-inject-exec names no container: no environment is injected".into());
    }
    if !exec_names.is_empty() && env_templates.is_empty() {
        warnings.push(
            "agent-inject-exec is set but no agent-inject-env-*: nothing to put in the environment"
                .into(),
        );
    }
    let restart = match a.text("agent-inject-exec-restart").unwrap_or("always") {
        r @ ("always" | "never") => r,
        other => {
            return Err(format!(
                "annotation agent-inject-exec-restart: {other:?} is not always or never"
            ));
        }
    };
    for name in exec_names.iter().filter(|_| !env_templates.is_empty()) {
        let Some(i) = containers.iter().position(|c| c["name"] == *name) else {
            warnings.push(format!(
                "agent-inject-exec names {name:?}, which is not a container of this pod"
            ));
            continue;
        };
        let c = &containers[i];
        let Some(command) = c["command"].as_array().filter(|c| !c.is_empty()) else {
            warnings.push(format!(
                "container {name:?} has no command in the pod spec: exec mode needs it (the image's entrypoint is unknown to the webhook); it gets files only"
            ));
            continue;
        };
        if c["env"]
            .as_array()
            .is_some_and(|e| e.iter().any(|v| v["name"] == CONFIG_ENV))
        {
            return Err(format!("container {name:?} already sets {CONFIG_ENV}"));
        }
        let mut argv = command.clone();
        argv.extend(c["args"].as_array().cloned().unwrap_or_default());
        // What the init container has, less what it renders and hands off.
        let mut m = common.clone();
        for k in ["template", "pid_file", "handoff_file"] {
            m.remove(k);
        }
        if let Some(auto) = m.get_mut("auto_auth").and_then(Value::as_object_mut) {
            auto.remove("sink");
        }
        m.insert("env_template".into(), Value::Array(env_templates.clone()));
        m.insert(
            "exec".into(),
            json!({"command": argv, "restart_on_secret_changes": restart, "restart_stop_signal": "SIGTERM"}),
        );
        exec_targets.push((i, Value::Object(m)));
    }
    if !exec_targets.is_empty() && (!pre_populate || configmap.is_some()) {
        return Err("agent-inject-exec needs the generated init container (agent-pre-populate, no agent-configmap) to copy arca-agent".into());
    }
    let exec_mode = !exec_targets.is_empty();
    if exec_mode && volume_names.contains(&BIN_VOLUME) {
        return Err(format!("the pod already has a volume named {BIN_VOLUME}"));
    }

    let log_level = a.text("log-level").unwrap_or("info");
    // An agent container, given what both agents carry (moved into the
    // last one built, so one set of copies at most).
    let container = |init: bool, (mut mounts, resources, security_context): AgentParts| {
        let mut env = vec![];
        let mut args = vec![Value::String(format!("-log-level={log_level}"))];
        match configmap {
            Some(_) => {
                let file = if init {
                    "config-init.hcl"
                } else {
                    "config.hcl"
                };
                args.push(format!("-config=/vault/configs/{file}").into());
            }
            None => {
                let json = config_json(init)?;
                env.push(config_env(&json));
            }
        }
        if let Some(p) = a.text("proxy-address") {
            env.push(json!({"name": "HTTPS_PROXY", "value": p}));
        }
        if init && exec_mode {
            args.push(format!("-copy-to={BIN_DIR}/arca-agent").into());
            mounts.push(json!({"name": BIN_VOLUME, "mountPath": BIN_DIR}));
        }
        let mut c = Map::new();
        c.insert(
            "name".into(),
            if init { INIT_NAME } else { SIDECAR_NAME }.into(),
        );
        c.insert("image".into(), image.clone().into());
        c.insert("command".into(), json!([AGENT_BINARY]));
        c.insert("args".into(), Value::Array(args));
        c.insert("env".into(), Value::Array(env));
        if !resources.is_empty() {
            c.insert("resources".into(), Value::Object(resources));
        }
        c.insert("volumeMounts".into(), Value::Array(mounts));
        if let Some(sc) = security_context {
            c.insert("securityContext".into(), sc);
        }
        if !init && s.native_sidecar {
            c.insert("restartPolicy".into(), "Always".into());
        }
        if let Some(p) = a.text("agent-metrics-listener-port").filter(|_| !init) {
            let port: u16 = p.parse().unwrap_or(0);
            c.insert(
                "ports".into(),
                json!([{"name": "agent-metrics", "containerPort": port}]),
            );
        }
        let mut v = Value::Object(c);
        let key = if init {
            "agent-init-json-patch"
        } else {
            "agent-json-patch"
        };
        if let Some((full, p)) = a.entry(key).filter(|(_, p)| !p.is_empty()) {
            let patch: json_patch::Patch = serde_json::from_str(p)
                .map_err(|e| format!("annotation {full}: failed to decode JSON patch: {e}"))?;
            json_patch::patch(&mut v, &patch)
                .map_err(|e| format!("annotation {full}: failed to apply JSON patch: {e}"))?;
        }
        Ok::<Value, String>(v)
    };

    // The patch.
    let mut ops: Vec<Value> = Vec::new();
    if exec_mode {
        new_volumes.push(json!({"name": BIN_VOLUME, "emptyDir": {"medium": "Memory"}}));
    }
    let add_all = |ops: &mut Vec<Value>, path: &str, exists: bool, items: Vec<Value>| {
        if items.is_empty() {
            return;
        }
        if exists {
            for it in items {
                ops.push(add(format!("{path}/-"), it));
            }
        } else {
            ops.push(add(path.to_owned(), Value::Array(items)));
        }
    };
    add_all(
        &mut ops,
        "/spec/volumes",
        spec["volumes"].is_array(),
        new_volumes,
    );
    let mut mounted: Vec<usize> = targets.clone();
    for (i, _) in &exec_targets {
        if !mounted.contains(i) {
            mounted.push(*i);
        }
    }
    for &i in &mounted {
        let exec_mounts = exec_targets.iter().any(|(e, _)| *e == i).then(|| {
            vec![
                json!({"name": BIN_VOLUME, "mountPath": BIN_DIR, "readOnly": true}),
                json!({"name": token_volume, "mountPath": token_mount, "readOnly": true}),
            ]
        });
        let secrets_here = if targets.contains(&i) {
            secret_mounts.as_slice()
        } else {
            &[]
        };
        let mut mine: Vec<Value> = secrets_here
            .iter()
            .filter(|m| {
                let taken = mount_taken(&containers[i], m);
                if taken {
                    warnings.push(format!(
                        "container {} already mounts something at {}: the secrets are not mounted there",
                        containers[i]["name"], m["mountPath"]
                    ));
                }
                !taken
            })
            .cloned()
            .collect();
        mine.extend(
            exec_mounts
                .into_iter()
                .flatten()
                .filter(|m| !mount_taken(&containers[i], m)),
        );
        add_all(
            &mut ops,
            &format!("/spec/containers/{i}/volumeMounts"),
            containers[i]["volumeMounts"].is_array(),
            mine,
        );
    }
    for (i, c) in init_containers.iter().enumerate() {
        let mine: Vec<Value> = secret_mounts
            .iter()
            .filter(|m| !mount_taken(c, m))
            .cloned()
            .collect();
        add_all(
            &mut ops,
            &format!("/spec/initContainers/{i}/volumeMounts"),
            c["volumeMounts"].is_array(),
            mine,
        );
    }
    for (i, cfg) in &exec_targets {
        let json = serde_json::to_vec(cfg).map_err(|e| e.to_string())?;
        let env = config_env(&json);
        ops.push(
            json!({"op": "add", "path": format!("/spec/containers/{i}/command"),
                         "value": [format!("{BIN_DIR}/arca-agent")]}),
        );
        ops.push(json!({"op": "add", "path": format!("/spec/containers/{i}/args"), "value": []}));
        add_all(
            &mut ops,
            &format!("/spec/containers/{i}/env"),
            containers[*i]["env"].is_array(),
            vec![env],
        );
    }
    let shared: AgentParts = (agent_mounts, resources, security_context);
    let (init_parts, sidecar_parts) = match (pre_populate, !pre_populate_only) {
        (true, true) => (Some(shared.clone()), Some(shared)),
        (true, false) => (Some(shared), None),
        (false, true) => (None, Some(shared)),
        (false, false) => (None, None),
    };
    let mut agents: Vec<Value> = Vec::new();
    if let Some(parts) = init_parts {
        agents.push(container(true, parts)?);
    }
    let sidecar = sidecar_parts
        .map(|parts| container(false, parts))
        .transpose()?;
    // A native sidecar goes with the init containers, a regular one
    // with the app's.
    let (native, regular) = if s.native_sidecar {
        (sidecar, None)
    } else {
        (None, sidecar)
    };
    agents.extend(native);
    let have_inits = spec["initContainers"].is_array();
    if init_first && have_inits {
        for (k, c) in agents.into_iter().enumerate() {
            ops.push(add(format!("/spec/initContainers/{k}"), c));
        }
    } else {
        add_all(&mut ops, "/spec/initContainers", have_inits, agents);
    }
    if let Some(sc) = regular {
        ops.push(add("/spec/containers/-".to_owned(), sc));
    }
    if share_process_namespace {
        ops.push(json!({"op": "add", "path": "/spec/shareProcessNamespace", "value": true}));
    }
    let prefix = a
        .entry("agent-inject")
        .map(|(full, _)| full.trim_end_matches("agent-inject").to_owned())
        .unwrap_or_else(|| VAULT.to_owned());
    ops.push(json!({
        "op": "add",
        "path": format!("/metadata/annotations/{}", pointer_escape(&format!("{prefix}agent-inject-status"))),
        "value": "injected",
    }));
    Ok(Some(Mutation {
        patch: ops,
        warnings,
    }))
}

/// What both agent containers carry: their volume mounts, resources and
/// security context.
type AgentParts = (Vec<Value>, Map<String, Value>, Option<Value>);

/// An agent's configuration as its environment variable carries it: the
/// keys every agent of the pod shares, whether it exits after rendering
/// once (the init container), and its own.
#[derive(serde::Serialize)]
struct AgentConfig<'a> {
    #[serde(flatten)]
    common: &'a Map<String, Value>,
    exit_after_auth: bool,
    #[serde(flatten)]
    only: &'a Map<String, Value>,
}

/// The environment variable that carries an agent's configuration
/// (base64, as vault-k8s's `VAULT_CONFIG`).
fn config_env(json: &[u8]) -> Value {
    let mut var = Map::new();
    var.insert("name".into(), CONFIG_ENV.into());
    var.insert(
        "value".into(),
        base64::engine::general_purpose::STANDARD
            .encode(json)
            .into(),
    );
    Value::Object(var)
}

/// An RFC 6902 `add` of `value` (moved in: `json!` would copy it).
fn add(path: String, value: Value) -> Value {
    let mut op = Map::new();
    op.insert("op".into(), "add".into());
    op.insert("path".into(), path.into());
    op.insert("value".into(), value);
    Value::Object(op)
}

/// Whether `container` already mounts something at the mount's path (a
/// second mount there would make the pod invalid).
fn mount_taken(container: &Value, mount: &Value) -> bool {
    container["volumeMounts"]
        .as_array()
        .is_some_and(|ms| ms.iter().any(|m| m["mountPath"] == mount["mountPath"]))
}

fn format_value(key: &str, v: &str) -> Result<String, String> {
    match v.to_ascii_lowercase().as_str() {
        f @ ("json" | "yaml" | "dotenv" | "properties") => Ok(f.to_owned()),
        _ => Err(format!(
            "annotation {key}: {v:?} is not a format (json, yaml, dotenv, properties)"
        )),
    }
}

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

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::annotations::{Annotations, VAULT};
use crate::patch::{
    AgentConfig, ApiProxy, AutoAuth, Container, Empty, EnvTemplate, EnvValue, EnvVar, Exec, Item,
    Listener, Method, Mount, Named, Op, Port, Projected, Resources, SecurityContext,
    ServiceAccountToken, SidecarOnly, Sink, SinkConfig, Template, TemplateConfig, TokenSource,
    Vault, Volume, merge,
};
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
/// Exec mode: the command of a wrapped container (the agent, copied).
const EXEC_COMMAND: &[&str] = &["/arca/bin/arca-agent"];
const PID_FILE: &str = "/home/arca/.pid";
const HANDOFF_FILE: &str = "/home/arca/handoff.json";

const MAP_TEMPLATE: &str =
    "{{ with secret \"%s\" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}";
const JSON_TEMPLATE: &str = "{{ with secret \"%s\" }}{{ .Data | toJSON }}\n{{ end }}";

/// A secret's path, inline template and template file, as annotated.
type SecretSource<'a> = (Option<&'a str>, Option<&'a str>, Option<&'a str>);

pub struct Mutation<'a> {
    /// RFC 6902 operations.
    pub patch: Vec<Op<'a>>,
    pub warnings: Vec<String>,
}

fn pointer_escape(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

/// A string as JSON writes it (quoted), for messages.
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
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

/// The patch for a pod (its annotations, spec and phase), `None` when it
/// asks for nothing (or has it already), an error (the refusal's message)
/// when it asks for something that cannot be done. The patch borrows
/// from the annotations, the spec and the settings.
pub fn mutate<'a>(
    annotations: &'a BTreeMap<String, String>,
    spec: &'a Value,
    phase: Option<&str>,
    s: &'a Settings,
) -> Result<Option<Mutation<'a>>, String> {
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
    let list = |key: &str| -> &'a [Value] { spec[key].as_array().map_or(&[], Vec::as_slice) };
    let containers = list("containers");
    let init_containers = list("initContainers");
    let volumes = list("volumes");
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
    let address: &str = a.text("service").unwrap_or(&s.vault_address);
    let auth_type: &str = a.text("auth-type").unwrap_or(&s.vault_auth_type);
    if !matches!(auth_type, "kubernetes" | "jwt" | "approle") {
        return Err(format!(
            "annotation auth-type: {auth_type:?} is not an auth method arca-agent has (kubernetes, jwt, approle)"
        ));
    }
    let auth_path: &str = a.text("auth-path").unwrap_or(&s.vault_auth_path);
    let mut method_config: BTreeMap<Cow<'a, str>, Cow<'a, str>> = BTreeMap::new();
    for (param, (_, v)) in a.with_prefix("auth-config-") {
        let key = if param.contains('-') {
            Cow::Owned(param.replace('-', "_"))
        } else {
            Cow::Borrowed(param)
        };
        method_config.insert(key, Cow::Borrowed(v));
    }
    if let Some(role) = a.text("role") {
        method_config.insert(Cow::Borrowed("role"), Cow::Borrowed(role));
    }
    if auth_type == "kubernetes" && !method_config.contains_key("role") {
        return Err("annotation role is missing: the kubernetes auth role to log in with".into());
    }

    let json_default = match a.entry("agent-inject-default-template") {
        None => s.default_template == "json",
        Some((full, v)) => match v.to_ascii_lowercase().as_str() {
            "map" => false,
            "json" => true,
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
    let mut by_raw: BTreeMap<&'a str, SecretSource<'a>> = BTreeMap::new();
    for (raw, (_, v)) in a.with_prefix("agent-inject-secret-") {
        if !v.trim().is_empty() {
            by_raw.entry(raw).or_default().0 = Some(v);
        }
    }
    for (raw, (_, v)) in a.with_prefix("agent-inject-template-file-") {
        if !v.trim().is_empty() {
            by_raw.entry(raw).or_default().2 = Some(v);
        }
    }
    for (raw, (_, v)) in a.with_prefix("agent-inject-template-") {
        if raw.starts_with("file-") || v.trim().is_empty() {
            continue;
        }
        by_raw.entry(raw).or_default().1 = Some(v);
    }
    // The mount path of each secret's file.
    let mut secret_dirs: Vec<String> = Vec::new();
    let mut templates: Vec<Template<'a>> = Vec::new();
    let mut share_process_namespace = false;
    // Per-secret annotation names, built in one reused buffer.
    let mut buf = String::new();
    for (&raw, &(path, contents, source)) in &by_raw {
        if raw.is_empty() {
            continue;
        }
        let keep_case = a.bool(named(&mut buf, "preserve-secret-case-", raw), preserve_case)?;
        let lower = raw.is_ascii() && !raw.bytes().any(|b| b.is_ascii_uppercase());
        let name: Cow<'_, str> = if keep_case || lower {
            Cow::Borrowed(raw)
        } else {
            Cow::Owned(raw.to_lowercase())
        };
        let mount = match a.text(named(&mut buf, "secret-volume-path-", raw)) {
            Some(p) => absolute(p, &format!("secret-volume-path-{raw}"))?,
            None => volume_path.clone(),
        };
        let destination = match a.entry(named(&mut buf, "agent-inject-file-", raw)) {
            Some((full, f)) if !f.is_empty() => join_below(&mount, f, full)?,
            _ => format!("{mount}/{name}"),
        };
        let path = path.unwrap_or_default();
        let mut t = Template {
            destination,
            ..Template::default()
        };
        let format = match a.entry(named(&mut buf, "agent-inject-format-", raw)) {
            Some((full, v)) => Some(format_value(full, v)?),
            None if contents.is_none() && source.is_none() => default_format,
            None => None,
        };
        match (contents, source, format) {
            (Some(c), _, _) => t.contents = Some(Cow::Borrowed(c)),
            (None, Some(src), _) => t.source = Some(src),
            (None, None, Some(f)) => {
                t.secret = Some(path);
                t.format = Some(f);
            }
            (None, None, None) => {
                let tmpl = if json_default {
                    JSON_TEMPLATE
                } else {
                    MAP_TEMPLATE
                };
                t.contents = Some(Cow::Owned(tmpl.replace("%s", path)));
            }
        }
        if t.contents.is_some() || t.source.is_some() {
            t.left_delimiter = Some("{{");
            t.right_delimiter = Some("}}");
        }
        if let Some(p) = a.text(named(&mut buf, "agent-inject-perms-", raw)) {
            let ok = p.len() <= 5 && u32::from_str_radix(p, 8).is_ok_and(|m| m <= 0o7777);
            if !ok {
                return Err(format!(
                    "annotation agent-inject-perms-{raw}: {p:?} is not an octal mode like 0640"
                ));
            }
            t.perms = Some(p);
        }
        t.command = a.text(named(&mut buf, "agent-inject-command-", raw));
        t.error_on_missing_key = a.bool(named(&mut buf, "error-on-missing-key-", raw), false)?;
        if let Some((full, r)) = a.entry(named(&mut buf, "agent-inject-restart-", raw)) {
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
            t.signal = Some(sig);
            if target.starts_with('/') {
                t.signal_pid_file = Some(target);
            } else {
                t.signal_process = Some(target);
                share_process_namespace = true;
            }
            t.min_interval = Some("1s");
        }
        templates.push(t);
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
    let secret_mounts: Vec<Mount<'a>> = mounts
        .into_iter()
        .enumerate()
        .map(|(i, m)| {
            let name: Cow<'a, str> = if i == 0 {
                SECRETS_VOLUME.into()
            } else {
                format!("{SECRETS_VOLUME}-custom-{}", i - 1).into()
            };
            Mount::new(name, m, false)
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
    let image: &str = a.text("agent-image").unwrap_or(&s.agent_image);
    if address.is_empty() {
        return Err(
            "no server address: set the injector's -vault-address or the service annotation".into(),
        );
    }

    // Resources.
    let mut resources = Resources::default();
    for (key, default, limit, field) in [
        ("agent-requests-cpu", Some(&s.cpu_request), false, "cpu"),
        ("agent-requests-mem", Some(&s.mem_request), false, "memory"),
        (
            "agent-requests-ephemeral",
            s.ephemeral_request.as_ref(),
            false,
            "ephemeral-storage",
        ),
        ("agent-limits-cpu", Some(&s.cpu_limit), true, "cpu"),
        ("agent-limits-mem", Some(&s.mem_limit), true, "memory"),
        (
            "agent-limits-ephemeral",
            s.ephemeral_limit.as_ref(),
            true,
            "ephemeral-storage",
        ),
    ] {
        if let Some(q) = a.quantity(key, default.map(String::as_str))? {
            let into = if limit {
                &mut resources.limits
            } else {
                &mut resources.requests
            };
            into.insert(field, q);
        }
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
    let security_context = set_sc.then(|| SecurityContext::restricted(uid, gid));

    // The service-account token the agent logs in with.
    let (token_volume, token_mount, token_path, new_token_volume): (&str, Cow<str>, String, bool) =
        match a.text("agent-service-account-token-volume-name") {
            None => (
                TOKEN_VOLUME,
                TOKEN_DIR.into(),
                format!("{TOKEN_DIR}/token"),
                true,
            ),
            Some(name) => {
                let vol = volumes.iter().find(|v| v["name"] == name).ok_or_else(|| {
                    format!("failed to find volume {name:?} in the pod's volumes")
                })?;
                let file = vol["projected"]["sources"]
                    .as_array()
                    .and_then(|srcs| {
                        srcs.iter()
                            .find_map(|s| s["serviceAccountToken"]["path"].as_str())
                    })
                    .ok_or_else(|| {
                        format!("failed to find tokenPath for projected volume {name:?}")
                    })?;
                let mount: &'a str = containers
                    .iter()
                    .flat_map(|c| c["volumeMounts"].as_array().into_iter().flatten())
                    .find(|m| m["name"] == name)
                    .and_then(|m| m["mountPath"].as_str())
                    .unwrap_or("/var/run/secrets/vault.hashicorp.com/serviceaccount");
                let path = format!("{}/{}", mount.trim_end_matches('/'), file);
                (name, mount.into(), path, false)
            }
        };
    if !method_config.contains_key("token_path") && auth_type == "kubernetes" {
        method_config.insert(Cow::Borrowed("token_path"), Cow::Owned(token_path));
    }

    // Extra volumes for the agent containers.
    let mut agent_mounts: Vec<Mount<'a>> = vec![
        Mount::new(HOME_VOLUME, HOME, false),
        Mount::new(token_volume, token_mount.clone(), true),
    ];
    agent_mounts.extend(secret_mounts.iter().cloned());
    let mut new_volumes: Vec<Volume<'a>> = Vec::new();
    for m in &secret_mounts {
        if let Mount::Ours { name, .. } = m {
            new_volumes.push(Volume::memory(name.clone()));
        }
    }
    new_volumes.push(Volume::memory(HOME_VOLUME));
    if new_token_volume {
        new_volumes.push(Volume {
            name: TOKEN_VOLUME.into(),
            projected: Some(Projected {
                sources: [TokenSource {
                    service_account_token: ServiceAccountToken {
                        path: "token",
                        expiration_seconds: s.token_expiration,
                        audience: &s.token_audience,
                    },
                }],
            }),
            ..Volume::default()
        });
    }
    let configmap = a.text("agent-configmap");
    if let Some(cm) = configmap {
        new_volumes.push(Volume {
            name: "arca-agent-config".into(),
            config_map: Some(Named { name: cm }),
            ..Volume::default()
        });
        agent_mounts.push(Mount::new("arca-agent-config", "/vault/configs", true));
    }
    if let Some(sec) = a.text("agent-extra-secret") {
        new_volumes.push(Volume::secret("arca-extra-secret", sec));
        agent_mounts.push(Mount::new("arca-extra-secret", "/vault/custom", true));
    }
    if let Some(sec) = a.text("tls-secret") {
        new_volumes.push(Volume::secret("arca-tls", sec));
        agent_mounts.push(Mount::new("arca-tls", "/vault/tls", true));
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
                && !agent_mounts.iter().any(|am| am.mount_path() == Some(path))
            {
                agent_mounts.push(Mount::Copied(m));
            }
        }
    }
    for v in &new_volumes {
        if volume_names.contains(&&*v.name) {
            return Err(format!(
                "the pod already has a volume named {}",
                quoted(&v.name)
            ));
        }
    }

    // The agent's configuration: what the init container, the sidecar
    // and exec mode share, serialized once; each agent's own keys are
    // spliced in.
    let method = Method {
        kind: auth_type,
        mount_path: auth_path,
        min_backoff: a.text("auth-min-backoff"),
        max_backoff: a.text("auth-max-backoff"),
        exit_on_err,
        config: method_config,
    };
    let vault = Vault {
        address,
        ca_cert: a.text("ca-cert"),
        tls_skip_verify,
    };
    let template_config = TemplateConfig {
        exit_on_retry_failure,
        static_secret_render_interval: a
            .text("template-static-secret-render-interval")
            .or(s.static_secret_render_interval.as_deref()),
        max_connections_per_host: a.text("template-max-connections-per-host"),
    };
    let common = AgentConfig {
        auto_auth: AutoAuth {
            method: &method,
            sink: inject_token.then(|| {
                [Sink {
                    kind: "file",
                    config: SinkConfig {
                        path: format!("{volume_path}/token"),
                    },
                }]
            }),
        },
        pid_file: Some(PID_FILE),
        handoff_file: Some(HANDOFF_FILE),
        vault: &vault,
        template: &templates,
        template_config: &template_config,
        env_template: None,
        exec: None,
    };
    let mut sidecar_only = SidecarOnly {
        exit_after_auth: false,
        revoke_on_shutdown: revoke,
        cache: None,
        api_proxy: None,
        listener: Vec::new(),
    };
    if cache {
        let port = a.text("agent-cache-listener-port").unwrap_or("8200");
        sidecar_only.listener.push(Listener {
            kind: "tcp",
            address: format!("127.0.0.1:{port}"),
            tls_disable: true,
        });
        sidecar_only.cache = Some(Empty {});
        sidecar_only.api_proxy = Some(ApiProxy {
            use_auto_auth_token: a.text("agent-cache-use-auto-auth-token").unwrap_or("true"),
        });
    }
    // The metrics listener's port, as written and as a number.
    let metrics = match a.entry("agent-metrics-listener-port") {
        None => None,
        Some((full, p)) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some((p, n)),
            _ => {
                return Err(format!(
                    "annotation {full}: invalid port number: must be in the range 1 to 65535"
                ));
            }
        },
    };
    if let Some((p, _)) = metrics {
        sidecar_only.listener.push(Listener {
            kind: "tcp",
            address: format!("0.0.0.0:{p}"),
            tls_disable: true,
        });
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
    let mut env_templates: Vec<BTreeMap<&'a str, EnvTemplate>> = Vec::new();
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
        env_templates.push(BTreeMap::from([(
            var,
            EnvTemplate {
                contents,
                error_on_missing_key: true,
            },
        )]));
    }
    let mut exec_targets: Vec<(usize, EnvValue<'a>)> = Vec::new();
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
        let argv: Vec<&Value> = command
            .iter()
            .chain(c["args"].as_array().into_iter().flatten())
            .collect();
        // What the init container has, less what it renders and hands off.
        let cfg = AgentConfig {
            auto_auth: AutoAuth {
                method: &method,
                sink: None,
            },
            pid_file: None,
            handoff_file: None,
            template: &[],
            env_template: Some(&env_templates),
            exec: Some(Exec {
                command: argv,
                restart_on_secret_changes: restart,
                restart_stop_signal: "SIGTERM",
            }),
            ..common
        };
        let json = serde_json::to_vec(&cfg).map_err(|e| e.to_string())?;
        exec_targets.push((i, EnvValue::base64(&json)));
    }
    if !exec_targets.is_empty() && (!pre_populate || configmap.is_some()) {
        return Err("agent-inject-exec needs the generated init container (agent-pre-populate, no agent-configmap) to copy arca-agent".into());
    }
    let exec_mode = !exec_targets.is_empty();
    if exec_mode && volume_names.contains(&BIN_VOLUME) {
        return Err(format!("the pod already has a volume named {BIN_VOLUME}"));
    }
    let common_json = match configmap {
        Some(_) => Vec::new(),
        None => serde_json::to_vec(&common).map_err(|e| e.to_string())?,
    };
    let sidecar_json = serde_json::to_vec(&sidecar_only).map_err(|e| e.to_string())?;

    let log_level = a.text("log-level").unwrap_or("info");
    let proxy = a.text("proxy-address");
    // An agent container, given what both agents carry (moved into the
    // last one built, so one set of copies at most).
    let container = |init: bool, (mut mounts, resources, security_context): AgentParts<'a>| {
        let mut env = vec![];
        let mut args = vec![format!("-log-level={log_level}")];
        match configmap {
            Some(_) => {
                let file = if init {
                    "config-init.hcl"
                } else {
                    "config.hcl"
                };
                args.push(format!("-config=/vault/configs/{file}"));
            }
            None => {
                let own: &[u8] = if init {
                    br#"{"exit_after_auth":true}"#
                } else {
                    &sidecar_json
                };
                env.push(config_env(&merge(&common_json, own)));
            }
        }
        if let Some(p) = proxy {
            env.push(EnvVar {
                name: "HTTPS_PROXY",
                value: EnvValue::Text(p.into()),
            });
        }
        if init && exec_mode {
            args.push(format!("-copy-to={BIN_DIR}/arca-agent"));
            mounts.push(Mount::new(BIN_VOLUME, BIN_DIR, false));
        }
        let c = Container {
            name: if init { INIT_NAME } else { SIDECAR_NAME },
            image,
            command: [AGENT_BINARY],
            args,
            env,
            resources,
            volume_mounts: mounts,
            security_context,
            restart_policy: (!init && s.native_sidecar).then_some("Always"),
            ports: metrics.filter(|_| !init).map(|(_, port)| {
                [Port {
                    name: "agent-metrics",
                    container_port: port,
                }]
            }),
        };
        let key = if init {
            "agent-init-json-patch"
        } else {
            "agent-json-patch"
        };
        match a.entry(key).filter(|(_, p)| !p.is_empty()) {
            None => Ok(Item::Container(Box::new(c))),
            Some((full, p)) => {
                let patch: json_patch::Patch = serde_json::from_str(p)
                    .map_err(|e| format!("annotation {full}: failed to decode JSON patch: {e}"))?;
                let mut v = serde_json::to_value(&c).map_err(|e| e.to_string())?;
                json_patch::patch(&mut v, &patch)
                    .map_err(|e| format!("annotation {full}: failed to apply JSON patch: {e}"))?;
                Ok::<Item, String>(Item::Json(v))
            }
        }
    };

    // The patch.
    let mut ops: Vec<Op<'a>> = Vec::new();
    if exec_mode {
        new_volumes.push(Volume::memory(BIN_VOLUME));
    }
    add_all(
        &mut ops,
        "/spec/volumes",
        spec["volumes"].is_array(),
        new_volumes.into_iter().map(Item::Volume).collect(),
    );
    let mut mounted: Vec<usize> = targets.clone();
    for (i, _) in &exec_targets {
        if !mounted.contains(i) {
            mounted.push(*i);
        }
    }
    for &i in &mounted {
        let exec_mounts = exec_targets.iter().any(|(e, _)| *e == i).then(|| {
            [
                Mount::new(BIN_VOLUME, BIN_DIR, true),
                Mount::new(token_volume, token_mount.clone(), true),
            ]
        });
        let secrets_here = if targets.contains(&i) {
            secret_mounts.as_slice()
        } else {
            &[]
        };
        let mut mine: Vec<Item<'a>> = Vec::new();
        for m in secrets_here {
            let path = m.mount_path().unwrap_or("");
            if mount_taken(&containers[i], path) {
                warnings.push(format!(
                    "container {} already mounts something at {}: the secrets are not mounted there",
                    containers[i]["name"],
                    quoted(path)
                ));
            } else {
                mine.push(Item::Mount(m.clone()));
            }
        }
        mine.extend(
            exec_mounts
                .into_iter()
                .flatten()
                .filter(|m| !mount_taken(&containers[i], m.mount_path().unwrap_or("")))
                .map(Item::Mount),
        );
        add_all(
            &mut ops,
            &format!("/spec/containers/{i}/volumeMounts"),
            containers[i]["volumeMounts"].is_array(),
            mine,
        );
    }
    for (i, c) in init_containers.iter().enumerate() {
        let mine: Vec<Item<'a>> = secret_mounts
            .iter()
            .filter(|m| !mount_taken(c, m.mount_path().unwrap_or("")))
            .map(|m| Item::Mount(m.clone()))
            .collect();
        add_all(
            &mut ops,
            &format!("/spec/initContainers/{i}/volumeMounts"),
            c["volumeMounts"].is_array(),
            mine,
        );
    }
    for (i, cfg) in exec_targets {
        ops.push(Op::add(
            format!("/spec/containers/{i}/command"),
            Item::Strs(EXEC_COMMAND),
        ));
        ops.push(Op::add(
            format!("/spec/containers/{i}/args"),
            Item::Strs(&[]),
        ));
        let env = EnvVar {
            name: CONFIG_ENV,
            value: cfg,
        };
        add_all(
            &mut ops,
            &format!("/spec/containers/{i}/env"),
            containers[i]["env"].is_array(),
            vec![Item::Env(env)],
        );
    }
    let shared: AgentParts = (agent_mounts, resources, security_context);
    let (init_parts, sidecar_parts) = match (pre_populate, !pre_populate_only) {
        (true, true) => (Some(shared.clone()), Some(shared)),
        (true, false) => (Some(shared), None),
        (false, true) => (None, Some(shared)),
        (false, false) => (None, None),
    };
    let mut agents: Vec<Item<'a>> = Vec::new();
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
            ops.push(Op::add(format!("/spec/initContainers/{k}"), c));
        }
    } else {
        add_all(&mut ops, "/spec/initContainers", have_inits, agents);
    }
    if let Some(sc) = regular {
        ops.push(Op::add("/spec/containers/-".to_owned(), sc));
    }
    if share_process_namespace {
        ops.push(Op::add(
            "/spec/shareProcessNamespace".to_owned(),
            Item::Bool(true),
        ));
    }
    let prefix = a
        .entry("agent-inject")
        .map(|(full, _)| full.trim_end_matches("agent-inject"))
        .unwrap_or(VAULT);
    ops.push(Op::add(
        format!(
            "/metadata/annotations/{}",
            pointer_escape(&format!("{prefix}agent-inject-status"))
        ),
        Item::Str("injected"),
    ));
    Ok(Some(Mutation {
        patch: ops,
        warnings,
    }))
}

/// `prefix` + `raw` in `buf` (per-secret annotation names, without an
/// allocation each).
fn named<'b>(buf: &'b mut String, prefix: &str, raw: &str) -> &'b str {
    buf.clear();
    buf.push_str(prefix);
    buf.push_str(raw);
    buf
}

/// `items` added to the array at `path`: one by one when the array
/// exists, as a new array when it does not.
fn add_all<'a>(ops: &mut Vec<Op<'a>>, path: &str, exists: bool, items: Vec<Item<'a>>) {
    if items.is_empty() {
        return;
    }
    if exists {
        for it in items {
            ops.push(Op::add(format!("{path}/-"), it));
        }
    } else {
        ops.push(Op::add(path.to_owned(), Item::List(items)));
    }
}

/// What both agent containers carry: their volume mounts, resources and
/// security context.
type AgentParts<'a> = (Vec<Mount<'a>>, Resources, Option<SecurityContext>);

/// The environment variable that carries an agent's configuration
/// (base64, as vault-k8s's `VAULT_CONFIG`).
fn config_env(json: &[u8]) -> EnvVar<'static> {
    EnvVar {
        name: CONFIG_ENV,
        value: EnvValue::base64(json),
    }
}

/// Whether `container` already mounts something at `path` (a second
/// mount there would make the pod invalid).
fn mount_taken(container: &Value, path: &str) -> bool {
    container["volumeMounts"]
        .as_array()
        .is_some_and(|ms| ms.iter().any(|m| m["mountPath"] == path))
}

fn format_value(key: &str, v: &str) -> Result<&'static str, String> {
    match v.to_ascii_lowercase().as_str() {
        "json" => Ok("json"),
        "yaml" => Ok("yaml"),
        "dotenv" => Ok("dotenv"),
        "properties" => Ok("properties"),
        _ => Err(format!(
            "annotation {key}: {v:?} is not a format (json, yaml, dotenv, properties)"
        )),
    }
}

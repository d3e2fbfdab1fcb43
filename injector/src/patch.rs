//! What a patch adds, as types serialized in one pass: the JSON Patch
//! operations, the volumes, mounts and agent containers they carry, and
//! the agent's configuration. Every review that injects builds these, so
//! they borrow what they can from the pod's annotations and the settings
//! and are never built as `serde_json::Value` trees first (one map per
//! object, built and dropped, was most of a review's time).
//!
//! Field order is the output's key order; readers (the API server, the
//! agent) take JSON objects in any order.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use serde_json::value::RawValue;

fn is_false(b: &bool) -> bool {
    !*b
}

/// An RFC 6902 `add`.
#[derive(Serialize)]
pub struct Op<'a> {
    op: &'static str,
    pub path: String,
    pub value: Item<'a>,
}

impl<'a> Op<'a> {
    pub fn add(path: String, value: Item<'a>) -> Self {
        Op {
            op: "add",
            path,
            value,
        }
    }
}

/// An operation's value.
#[derive(Serialize)]
#[serde(untagged)]
pub enum Item<'a> {
    Str(&'static str),
    Strs(&'static [&'static str]),
    Bool(bool),
    Volume(Volume<'a>),
    Mount(Mount<'a>),
    Env(EnvVar<'a>),
    Container(Box<Container<'a>>),
    /// An agent container an `agent-*-json-patch` annotation changed.
    Json(Value),
    List(Vec<Item<'a>>),
}

/// A container's volume mount: one the patch adds, or one copied from
/// another container (`agent-copy-volume-mounts`), as the pod has it.
#[derive(Serialize, Clone)]
#[serde(untagged)]
pub enum Mount<'a> {
    Ours {
        name: Cow<'a, str>,
        #[serde(rename = "mountPath")]
        mount_path: Cow<'a, str>,
        #[serde(rename = "readOnly", skip_serializing_if = "is_false")]
        read_only: bool,
    },
    Copied(&'a Value),
}

impl<'a> Mount<'a> {
    pub fn new(name: impl Into<Cow<'a, str>>, path: impl Into<Cow<'a, str>>, ro: bool) -> Self {
        Mount::Ours {
            name: name.into(),
            mount_path: path.into(),
            read_only: ro,
        }
    }

    pub fn mount_path(&self) -> Option<&str> {
        match self {
            Mount::Ours { mount_path, .. } => Some(mount_path),
            Mount::Copied(v) => v["mountPath"].as_str(),
        }
    }
}

/// A pod volume: one of the sources below.
#[derive(Serialize, Default)]
pub struct Volume<'a> {
    pub name: Cow<'a, str>,
    #[serde(rename = "emptyDir", skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDir>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub projected: Option<Projected<'a>>,
    #[serde(rename = "configMap", skip_serializing_if = "Option::is_none")]
    pub config_map: Option<Named<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<SecretSource<'a>>,
}

impl<'a> Volume<'a> {
    /// An in-memory emptyDir.
    pub fn memory(name: impl Into<Cow<'a, str>>) -> Self {
        Volume {
            name: name.into(),
            empty_dir: Some(EmptyDir { medium: "Memory" }),
            ..Volume::default()
        }
    }

    pub fn secret(name: &'static str, secret: &'a str) -> Self {
        Volume {
            name: name.into(),
            secret: Some(SecretSource {
                secret_name: secret,
            }),
            ..Volume::default()
        }
    }
}

#[derive(Serialize)]
pub struct EmptyDir {
    pub medium: &'static str,
}

#[derive(Serialize)]
pub struct Named<'a> {
    pub name: &'a str,
}

#[derive(Serialize)]
pub struct SecretSource<'a> {
    #[serde(rename = "secretName")]
    pub secret_name: &'a str,
}

#[derive(Serialize)]
pub struct Projected<'a> {
    pub sources: [TokenSource<'a>; 1],
}

#[derive(Serialize)]
pub struct TokenSource<'a> {
    #[serde(rename = "serviceAccountToken")]
    pub service_account_token: ServiceAccountToken<'a>,
}

#[derive(Serialize)]
pub struct ServiceAccountToken<'a> {
    pub path: &'static str,
    #[serde(rename = "expirationSeconds")]
    pub expiration_seconds: i64,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub audience: &'a str,
}

#[derive(Serialize)]
pub struct EnvVar<'a> {
    pub name: &'static str,
    pub value: EnvValue<'a>,
}

/// An environment variable's value.
#[derive(Serialize)]
#[serde(untagged)]
pub enum EnvValue<'a> {
    Text(Cow<'a, str>),
    /// Base64, already a JSON string: written as it is (base64 never
    /// needs escaping, and serde_json would look at each of the KiBs of
    /// an agent's configuration for characters to escape).
    Base64(Box<RawValue>),
}

impl EnvValue<'_> {
    /// `bytes` in base64.
    pub fn base64(bytes: &[u8]) -> Self {
        let mut quoted = Vec::with_capacity(bytes.len() / 3 * 4 + 6);
        quoted.push(b'"');
        base64_into(bytes, &mut quoted);
        quoted.push(b'"');
        // Base64 is ASCII, and quoted it is a JSON string: neither
        // conversion can fail, and neither failure would panic.
        let raw = String::from_utf8(quoted)
            .ok()
            .and_then(|q| RawValue::from_string(q).ok());
        match raw {
            Some(raw) => EnvValue::Base64(raw),
            None => EnvValue::Text(base64(bytes).into()),
        }
    }
}

/// An agent container.
#[derive(Serialize)]
pub struct Container<'a> {
    pub name: &'static str,
    pub image: &'a str,
    pub command: [&'static str; 1],
    pub args: Vec<String>,
    pub env: Vec<EnvVar<'a>>,
    #[serde(skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    #[serde(rename = "volumeMounts")]
    pub volume_mounts: Vec<Mount<'a>>,
    #[serde(rename = "securityContext", skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    #[serde(rename = "restartPolicy", skip_serializing_if = "Option::is_none")]
    pub restart_policy: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ports: Option<[Port; 1]>,
}

#[derive(Serialize, Clone, Default)]
pub struct Resources {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<&'static str, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<&'static str, String>,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.limits.is_empty()
    }
}

/// The agents' security context: the given ids, and everything else as
/// restrictive as a container can be.
#[derive(Serialize, Clone)]
pub struct SecurityContext {
    #[serde(rename = "runAsUser")]
    pub run_as_user: i64,
    #[serde(rename = "runAsGroup")]
    pub run_as_group: i64,
    #[serde(rename = "runAsNonRoot")]
    pub run_as_non_root: bool,
    #[serde(rename = "readOnlyRootFilesystem")]
    read_only_root_filesystem: bool,
    #[serde(rename = "allowPrivilegeEscalation")]
    allow_privilege_escalation: bool,
    capabilities: Capabilities,
    #[serde(rename = "seccompProfile")]
    seccomp_profile: SeccompProfile,
}

impl SecurityContext {
    pub fn restricted(uid: i64, gid: i64) -> Self {
        SecurityContext {
            run_as_user: uid,
            run_as_group: gid,
            run_as_non_root: uid != 0 && gid != 0,
            read_only_root_filesystem: true,
            allow_privilege_escalation: false,
            capabilities: Capabilities { drop: ["ALL"] },
            seccomp_profile: SeccompProfile {
                kind: "RuntimeDefault",
            },
        }
    }
}

#[derive(Serialize, Clone)]
struct Capabilities {
    drop: [&'static str; 1],
}

#[derive(Serialize, Clone)]
struct SeccompProfile {
    #[serde(rename = "type")]
    kind: &'static str,
}

#[derive(Serialize)]
pub struct Port {
    pub name: &'static str,
    #[serde(rename = "containerPort")]
    pub container_port: u16,
}

// The agent's configuration (Vault Agent's, as JSON).

/// An agent's configuration: what every agent of the pod shares, and,
/// for exec mode, what replaces rendering files.
#[derive(Serialize)]
pub struct AgentConfig<'a, 'b> {
    pub auto_auth: AutoAuth<'a, 'b>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handoff_file: Option<&'static str>,
    pub vault: &'b Vault<'a>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub template: &'b [Template<'a>],
    pub template_config: &'b TemplateConfig<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_template: Option<&'b [BTreeMap<&'a str, EnvTemplate>]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<Exec<'a>>,
}

#[derive(Serialize)]
pub struct AutoAuth<'a, 'b> {
    pub method: &'b Method<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sink: Option<[Sink; 1]>,
}

#[derive(Serialize)]
pub struct Method<'a> {
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub mount_path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_backoff: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_backoff: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    pub exit_on_err: bool,
    pub config: BTreeMap<Cow<'a, str>, Cow<'a, str>>,
}

#[derive(Serialize)]
pub struct Sink {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub config: SinkConfig,
}

#[derive(Serialize)]
pub struct SinkConfig {
    pub path: String,
}

#[derive(Serialize)]
pub struct Vault<'a> {
    pub address: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    pub tls_skip_verify: bool,
}

/// A file the agent renders.
#[derive(Serialize, Default)]
pub struct Template<'a> {
    pub destination: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub left_delimiter: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub right_delimiter: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub perms: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<&'a str>,
    #[serde(skip_serializing_if = "is_false")]
    pub error_on_missing_key: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_pid_file: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal_process: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_interval: Option<&'static str>,
}

#[derive(Serialize)]
pub struct TemplateConfig<'a> {
    pub exit_on_retry_failure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub static_secret_render_interval: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections_per_host: Option<&'a str>,
}

/// Exec mode: one environment variable's template.
#[derive(Serialize)]
pub struct EnvTemplate {
    pub contents: String,
    pub error_on_missing_key: bool,
}

#[derive(Serialize)]
pub struct Exec<'a> {
    pub command: Vec<&'a Value>,
    pub restart_on_secret_changes: &'a str,
    pub restart_stop_signal: &'static str,
}

/// The keys only the sidecar has (the init container has
/// `exit_after_auth: true` instead).
#[derive(Serialize)]
pub struct SidecarOnly<'a> {
    pub exit_after_auth: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub revoke_on_shutdown: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<Empty>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_proxy: Option<ApiProxy<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub listener: Vec<Listener>,
}

#[derive(Serialize)]
pub struct Empty {}

#[derive(Serialize)]
pub struct ApiProxy<'a> {
    pub use_auto_auth_token: &'a str,
}

#[derive(Serialize)]
pub struct Listener {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub address: String,
    pub tls_disable: bool,
}

/// `object` (a serialized JSON object) with the members of `extra` (one
/// more, not empty) added: the agents' shared configuration is
/// serialized once and each agent's own keys spliced in.
pub fn merge(object: &[u8], extra: &[u8]) -> Vec<u8> {
    let (Some((b'}', head)), Some((b'{', tail))) = (object.split_last(), extra.split_first())
    else {
        return object.to_vec();
    };
    let mut out = Vec::with_capacity(object.len() + extra.len());
    out.extend_from_slice(head);
    if tail != b"}" {
        if head != b"{" {
            out.push(b',');
        }
        out.extend_from_slice(tail);
    } else {
        out.push(b'}');
    }
    out
}

/// Base64 as the API server and the agent read it (standard alphabet,
/// padded), with the CPU's vector instructions where it has them: a
/// review that injects encodes its patch and each agent's configuration,
/// several KiB, and the scalar engine was a fifth of its time.
fn base64_engine() -> &'static base64::engine::Simd {
    static ENGINE: std::sync::LazyLock<base64::engine::Simd> = std::sync::LazyLock::new(|| {
        base64::engine::Simd::standard(base64::engine::general_purpose::PAD)
    });
    &ENGINE
}

/// `bytes` in base64.
fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64_engine().encode(bytes)
}

/// `bytes` in base64, appended to `out`.
pub fn base64_into(bytes: &[u8], out: &mut Vec<u8>) {
    use base64::Engine as _;
    let start = out.len();
    // The length overflows only past usize::MAX / 4 * 3 bytes.
    let len = base64::encoded_len(bytes.len(), true).unwrap_or(usize::MAX);
    out.resize(start + len, 0);
    let written = base64_engine()
        .encode_slice(bytes, &mut out[start..])
        .unwrap_or(0);
    out.truncate(start + written);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_adds_the_members_of_one_object_to_another() {
        let m = |a: &str, b: &str| -> Value {
            serde_json::from_slice(&merge(a.as_bytes(), b.as_bytes())).unwrap()
        };
        assert_eq!(
            m(r#"{"a":1}"#, r#"{"b":{"c":2}}"#),
            json!({"a":1,"b":{"c":2}})
        );
        assert_eq!(m(r#"{"a":1}"#, "{}"), json!({"a":1}));
        assert_eq!(m("{}", r#"{"b":2}"#), json!({"b":2}));
        assert_eq!(m("{}", "{}"), json!({}));
    }

    #[test]
    fn base64_is_the_standard_padded_encoding() {
        use base64::Engine as _;
        let scalar = &base64::engine::general_purpose::STANDARD;
        // Every length around the vector widths, every byte value.
        for n in 0..300 {
            let bytes: Vec<u8> = (0..n).map(|i| (i * 7 + n) as u8).collect();
            assert_eq!(base64(&bytes), scalar.encode(&bytes), "{n} bytes");
            let before: &[u8] = b"{\"patch\":\"";
            let mut out = before.to_vec();
            base64_into(&bytes, &mut out);
            assert_eq!(out[..before.len()], *before);
            assert_eq!(
                out[before.len()..],
                *scalar.encode(&bytes).as_bytes(),
                "{n} bytes"
            );
        }
    }

    #[test]
    fn types_serialize_as_the_api_spells_them() {
        let v = serde_json::to_value(Op::add(
            "/spec/volumes/-".into(),
            Item::List(vec![
                Item::Volume(Volume::memory("a")),
                Item::Mount(Mount::new("a", "/x", true)),
                Item::Mount(Mount::new("b", "/y", false)),
            ]),
        ))
        .unwrap();
        assert_eq!(
            v,
            json!({"op": "add", "path": "/spec/volumes/-", "value": [
                {"name": "a", "emptyDir": {"medium": "Memory"}},
                {"name": "a", "mountPath": "/x", "readOnly": true},
                {"name": "b", "mountPath": "/y"},
            ]})
        );
        assert_eq!(
            serde_json::to_value(SecurityContext::restricted(100, 1000)).unwrap(),
            json!({"runAsUser": 100, "runAsGroup": 1000, "runAsNonRoot": true,
                   "readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                   "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}})
        );
    }
}

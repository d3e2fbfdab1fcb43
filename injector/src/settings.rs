//! The injector's settings: Vault Agent Injector's flags (`-listen`,
//! `-vault-address`, …) and their `AGENT_INJECT_*` environment variables,
//! so a Deployment's args carry over; a flag wins over its variable.
//! Pod annotations override the per-pod ones (annotations.rs).

use std::path::PathBuf;

/// The agent's default resources, from its measured footprint: about
/// 4–5 MiB resident idle and a few milliseconds of CPU per render
/// (bench/agent.sh). vault-k8s asks 250m/64Mi for an agent that uses as
/// little; these leave headroom for large templates without reserving a
/// node's worth of memory across thousands of pods.
pub const CPU_REQUEST: &str = "10m";
pub const MEM_REQUEST: &str = "16Mi";
pub const CPU_LIMIT: &str = "500m";
pub const MEM_LIMIT: &str = "64Mi";

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub listen: String,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// The server the agents talk to.
    pub vault_address: String,
    pub vault_auth_path: String,
    pub vault_auth_type: String,
    pub agent_image: String,
    /// The sidecar as an init container with `restartPolicy: Always`
    /// (Kubernetes 1.29+); off: a regular container.
    pub native_sidecar: bool,
    pub cpu_request: String,
    pub mem_request: String,
    pub cpu_limit: String,
    pub mem_limit: String,
    pub ephemeral_request: Option<String>,
    pub ephemeral_limit: Option<String>,
    pub run_as_user: i64,
    pub run_as_group: i64,
    pub run_as_same_user: bool,
    pub set_security_context: bool,
    pub revoke_on_shutdown: bool,
    /// `map` (vault-k8s's key: value lines) or `json`.
    pub default_template: String,
    pub exit_on_retry_failure: bool,
    pub static_secret_render_interval: Option<String>,
    /// The projected service-account token's audience (empty: the API
    /// server's own) and lifetime.
    pub token_audience: String,
    pub token_expiration: i64,
    /// `standard` or `json`.
    pub log_format: String,
    pub log_level: String,
    /// Self-managed TLS: the MutatingWebhookConfiguration whose
    /// `caBundle` the injector keeps (autotls.rs), the names its
    /// certificate is for, the Secret it keeps them in (and its
    /// namespace: default the pod's), and the certificate's lifetime.
    pub tls_auto: Option<String>,
    pub tls_auto_hosts: Vec<String>,
    pub tls_auto_secret: String,
    pub tls_auto_namespace: Option<String>,
    pub tls_auto_lifetime: std::time::Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: ":8080".into(),
            tls_cert_file: None,
            tls_key_file: None,
            vault_address: String::new(),
            vault_auth_path: "auth/kubernetes".into(),
            vault_auth_type: "kubernetes".into(),
            agent_image: concat!("ghcr.io/arca-dev/arca-agent:", env!("CARGO_PKG_VERSION")).into(),
            native_sidecar: true,
            cpu_request: CPU_REQUEST.into(),
            mem_request: MEM_REQUEST.into(),
            cpu_limit: CPU_LIMIT.into(),
            mem_limit: MEM_LIMIT.into(),
            ephemeral_request: None,
            ephemeral_limit: None,
            run_as_user: 100,
            run_as_group: 1000,
            run_as_same_user: false,
            set_security_context: true,
            revoke_on_shutdown: false,
            default_template: "map".into(),
            exit_on_retry_failure: true,
            static_secret_render_interval: None,
            token_audience: String::new(),
            token_expiration: 600,
            log_format: "standard".into(),
            log_level: "info".into(),
            tls_auto: None,
            tls_auto_hosts: Vec::new(),
            tls_auto_secret: "arca-injector-tls".into(),
            tls_auto_namespace: None,
            tls_auto_lifetime: std::time::Duration::from_secs(8760 * 3600),
        }
    }
}

/// Every flag: its names (the first is the documented one), its
/// environment variable, and what it sets.
struct Flag {
    names: &'static [&'static str],
    env: &'static str,
    help: &'static str,
    set: fn(&mut Settings, &str) -> Result<(), String>,
}

fn boolean(flag: &str, v: &str) -> Result<bool, String> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("-{flag} wants true or false, not {v:?}")),
    }
}

fn int(flag: &str, v: &str) -> Result<i64, String> {
    v.parse()
        .map_err(|_| format!("-{flag} wants a number, not {v:?}"))
}

fn quantity(flag: &str, v: &str) -> Result<String, String> {
    crate::quantity::check(v).map_err(|e| format!("-{flag}: {e}"))?;
    Ok(v.to_owned())
}

const FLAGS: &[Flag] = &[
    Flag {
        names: &["listen"],
        env: "AGENT_INJECT_LISTEN",
        help: "address to serve HTTPS on (default :8080)",
        set: |s, v| {
            s.listen = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["tls-cert-file"],
        env: "AGENT_INJECT_TLS_CERT_FILE",
        help: "PEM certificate (reloaded when it changes)",
        set: |s, v| {
            s.tls_cert_file = Some(v.into());
            Ok(())
        },
    },
    Flag {
        names: &["tls-key-file"],
        env: "AGENT_INJECT_TLS_KEY_FILE",
        help: "PEM private key",
        set: |s, v| {
            s.tls_key_file = Some(v.into());
            Ok(())
        },
    },
    Flag {
        names: &["vault-address"],
        env: "AGENT_INJECT_VAULT_ADDR",
        help: "the server's address, as agents reach it",
        set: |s, v| {
            s.vault_address = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["vault-auth-path"],
        env: "AGENT_INJECT_VAULT_AUTH_PATH",
        help: "auth mount (default auth/kubernetes)",
        set: |s, v| {
            s.vault_auth_path = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["vault-auth-type"],
        env: "AGENT_INJECT_VAULT_AUTH_TYPE",
        help: "auth method (default kubernetes)",
        set: |s, v| {
            s.vault_auth_type = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["agent-image", "vault-image"],
        env: "AGENT_INJECT_VAULT_IMAGE",
        help: "the arca-agent image",
        set: |s, v| {
            s.agent_image = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["native-sidecar"],
        env: "AGENT_INJECT_NATIVE_SIDECAR",
        help: "sidecar as a restartPolicy: Always init container (default true; false for clusters before 1.29)",
        set: |s, v| {
            s.native_sidecar = boolean("native-sidecar", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["cpu-request"],
        env: "AGENT_INJECT_CPU_REQUEST",
        help: "agent CPU request (default 10m)",
        set: |s, v| {
            s.cpu_request = quantity("cpu-request", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["memory-request"],
        env: "AGENT_INJECT_MEM_REQUEST",
        help: "agent memory request (default 16Mi)",
        set: |s, v| {
            s.mem_request = quantity("memory-request", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["cpu-limit"],
        env: "AGENT_INJECT_CPU_LIMIT",
        help: "agent CPU limit (default 500m)",
        set: |s, v| {
            s.cpu_limit = quantity("cpu-limit", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["memory-limit"],
        env: "AGENT_INJECT_MEM_LIMIT",
        help: "agent memory limit (default 64Mi)",
        set: |s, v| {
            s.mem_limit = quantity("memory-limit", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["ephemeral-storage-request"],
        env: "AGENT_INJECT_EPHEMERAL_REQUEST",
        help: "agent ephemeral storage request (default none)",
        set: |s, v| {
            s.ephemeral_request = Some(quantity("ephemeral-storage-request", v)?);
            Ok(())
        },
    },
    Flag {
        names: &["ephemeral-storage-limit"],
        env: "AGENT_INJECT_EPHEMERAL_LIMIT",
        help: "agent ephemeral storage limit (default none)",
        set: |s, v| {
            s.ephemeral_limit = Some(quantity("ephemeral-storage-limit", v)?);
            Ok(())
        },
    },
    Flag {
        names: &["run-as-user"],
        env: "AGENT_INJECT_RUN_AS_USER",
        help: "agent uid (default 100)",
        set: |s, v| {
            s.run_as_user = int("run-as-user", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["run-as-group"],
        env: "AGENT_INJECT_RUN_AS_GROUP",
        help: "agent gid (default 1000)",
        set: |s, v| {
            s.run_as_group = int("run-as-group", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["run-as-same-user"],
        env: "AGENT_INJECT_RUN_AS_SAME_USER",
        help: "agent runs as the app container's user",
        set: |s, v| {
            s.run_as_same_user = boolean("run-as-same-user", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["set-security-context"],
        env: "AGENT_INJECT_SET_SECURITY_CONTEXT",
        help: "set the agent's security context (default true)",
        set: |s, v| {
            s.set_security_context = boolean("set-security-context", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["revoke-on-shutdown"],
        env: "AGENT_INJECT_REVOKE_ON_SHUTDOWN",
        help: "sidecars revoke their token and leases when stopped",
        set: |s, v| {
            s.revoke_on_shutdown = boolean("revoke-on-shutdown", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["default-template"],
        env: "AGENT_INJECT_DEFAULT_TEMPLATE",
        help: "map or json (default map)",
        set: |s, v| match v {
            "map" | "json" => {
                s.default_template = v.into();
                Ok(())
            }
            _ => Err(format!("-default-template wants map or json, not {v:?}")),
        },
    },
    Flag {
        names: &["template-config-exit-on-retry-failure"],
        env: "AGENT_INJECT_TEMPLATE_CONFIG_EXIT_ON_RETRY_FAILURE",
        help: "default true",
        set: |s, v| {
            s.exit_on_retry_failure = boolean("template-config-exit-on-retry-failure", v)?;
            Ok(())
        },
    },
    Flag {
        names: &["template-static-secret-render-interval"],
        env: "AGENT_INJECT_TEMPLATE_STATIC_SECRET_RENDER_INTERVAL",
        help: "how often agents re-read static secrets (their default 5m)",
        set: |s, v| {
            s.static_secret_render_interval = Some(v.into());
            Ok(())
        },
    },
    Flag {
        names: &["token-audience"],
        env: "AGENT_INJECT_TOKEN_AUDIENCE",
        help: "audience of the agent's projected token (default: the API server's)",
        set: |s, v| {
            s.token_audience = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["token-expiration"],
        env: "AGENT_INJECT_TOKEN_EXPIRATION",
        help: "lifetime of the agent's projected token in seconds (default 600, the least Kubernetes allows)",
        set: |s, v| {
            let n = int("token-expiration", v)?;
            if n < 600 {
                return Err("-token-expiration is at least 600 (Kubernetes' minimum)".into());
            }
            s.token_expiration = n;
            Ok(())
        },
    },
    Flag {
        names: &["log-format"],
        env: "AGENT_INJECT_LOG_FORMAT",
        help: "standard or json",
        set: |s, v| match v {
            "standard" | "json" => {
                s.log_format = v.into();
                Ok(())
            }
            _ => Err(format!("-log-format wants standard or json, not {v:?}")),
        },
    },
    Flag {
        names: &["tls-auto"],
        env: "AGENT_INJECT_TLS_AUTO",
        help: "self-managed TLS: the MutatingWebhookConfiguration whose caBundle to keep",
        set: |s, v| {
            s.tls_auto = Some(v.into());
            Ok(())
        },
    },
    Flag {
        names: &["tls-auto-hosts"],
        env: "AGENT_INJECT_TLS_AUTO_HOSTS",
        help: "self-managed TLS: comma-separated names (and IPs) of the certificate",
        set: |s, v| {
            s.tls_auto_hosts = v
                .split(',')
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .map(str::to_owned)
                .collect();
            Ok(())
        },
    },
    Flag {
        names: &["tls-auto-secret"],
        env: "AGENT_INJECT_TLS_AUTO_SECRET",
        help: "self-managed TLS: the Secret holding the CA and certificate (default arca-injector-tls)",
        set: |s, v| {
            s.tls_auto_secret = v.into();
            Ok(())
        },
    },
    Flag {
        names: &["tls-auto-namespace"],
        env: "AGENT_INJECT_TLS_AUTO_NAMESPACE",
        help: "self-managed TLS: the Secret's namespace (default: the injector's own)",
        set: |s, v| {
            s.tls_auto_namespace = Some(v.into());
            Ok(())
        },
    },
    Flag {
        names: &["tls-auto-cert-lifetime"],
        env: "AGENT_INJECT_TLS_AUTO_CERT_LIFETIME",
        help: "self-managed TLS: the certificate's lifetime, renewed at two thirds (default 8760h)",
        set: |s, v| {
            s.tls_auto_lifetime = crate::autotls::parse_duration(v)
                .map_err(|e| format!("-tls-auto-cert-lifetime: {e}"))?;
            Ok(())
        },
    },
    Flag {
        names: &["log-level"],
        env: "AGENT_INJECT_LOG_LEVEL",
        help: "trace, debug, info, warn, error",
        set: |s, v| {
            s.log_level = v.into();
            Ok(())
        },
    },
];

pub fn usage() -> String {
    let mut out = String::from(
        "Usage: arca-injector [flags]\n\nThe mutating admission webhook that gives annotated pods arca-agent\n(Vault Agent Injector's flags and AGENT_INJECT_* variables).\n\n",
    );
    for f in FLAGS {
        let names: Vec<String> = f.names.iter().map(|n| format!("-{n}")).collect();
        out.push_str(&format!(
            "  {:<44} {}\n  {:<44} (${})\n",
            names.join(", "),
            f.help,
            "",
            f.env
        ));
    }
    out
}

/// Settings from `args` (without the program name), then `env` for what
/// the flags left unset. `Ok(None)`: help was asked for.
pub fn parse(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Settings>, String> {
    let mut s = Settings::default();
    let mut from_flags = vec![false; FLAGS.len()];
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let bare = a.trim_start_matches('-');
        if bare == "h" || bare == "help" {
            return Ok(None);
        }
        let (name, inline) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (bare, None),
        };
        let Some(i) = FLAGS.iter().position(|f| f.names.contains(&name)) else {
            return Err(format!("unknown flag {a:?} (-help lists them)"));
        };
        let v = match inline {
            Some(v) => v,
            None => it
                .next()
                .cloned()
                .ok_or_else(|| format!("-{name} needs a value"))?,
        };
        (FLAGS[i].set)(&mut s, &v)?;
        from_flags[i] = true;
    }
    for (i, f) in FLAGS.iter().enumerate() {
        if from_flags[i] {
            continue;
        }
        if let Some(v) = env(f.env).filter(|v| !v.is_empty()) {
            (f.set)(&mut s, &v).map_err(|e| format!("${}: {e}", f.env))?;
        }
    }
    if s.tls_auto.is_some() && s.tls_auto_hosts.is_empty() {
        return Err(
            "-tls-auto needs -tls-auto-hosts (the names the API server calls the injector by)"
                .into(),
        );
    }
    if s.vault_address.is_empty() {
        return Err("-vault-address (or $AGENT_INJECT_VAULT_ADDR) is required".into());
    }
    Ok(Some(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags_then_environment() {
        let env = |k: &str| match k {
            "AGENT_INJECT_VAULT_ADDR" => Some("https://from-env:8200".to_owned()),
            "AGENT_INJECT_VAULT_IMAGE" => Some("img:env".to_owned()),
            "AGENT_INJECT_CPU_REQUEST" => Some("20m".to_owned()),
            _ => None,
        };
        let s = parse(
            &args(&[
                "-listen=127.0.0.1:8443",
                "-vault-image",
                "img:flag",
                "-tls-cert-file=/c",
                "--tls-key-file=/k",
            ]),
            env,
        )
        .unwrap()
        .unwrap();
        assert_eq!(s.listen, "127.0.0.1:8443");
        assert_eq!(s.agent_image, "img:flag", "a flag wins over its variable");
        assert_eq!(s.vault_address, "https://from-env:8200");
        assert_eq!(s.cpu_request, "20m");
        assert_eq!(s.tls_key_file, Some(PathBuf::from("/k")));
        assert!(s.native_sidecar);
        assert_eq!(parse(&args(&["-help"]), |_| None).unwrap(), None);
    }

    #[test]
    fn bad_flags_are_named() {
        let none = |_: &str| None;
        for (a, want) in [
            (vec!["-nope=1"], "unknown flag \"-nope=1\""),
            (vec!["-listen"], "-listen needs a value"),
            (vec!["-vault-address=x", "-cpu-request=-1"], "-cpu-request"),
            (
                vec!["-vault-address=x", "-native-sidecar=maybe"],
                "-native-sidecar wants true or false",
            ),
            (
                vec!["-vault-address=x", "-token-expiration=60"],
                "at least 600",
            ),
            (vec![], "-vault-address"),
        ] {
            let e = parse(&args(&a), none).unwrap_err();
            assert!(e.contains(want), "{a:?}: {e}");
        }
    }
}

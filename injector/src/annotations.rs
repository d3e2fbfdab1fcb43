//! A pod's annotations, read under `arca.dev/` and, for existing
//! manifests, Vault Agent Injector's `vault.hashicorp.com/` (the same
//! names; `arca.dev/` wins when both are set). Values are checked as
//! vault-k8s checks them (Go's booleans, quantities); an error names the
//! annotation as the pod spelled it.

use std::collections::BTreeMap;

pub const ARCA: &str = "arca.dev/";
pub const VAULT: &str = "vault.hashicorp.com/";

/// Annotations arca-injector acts on (per-secret ones by prefix), sorted
/// (looked up by binary search).
const KNOWN: &[&str] = &[
    "agent-auto-auth-exit-on-err",
    "agent-cache-enable",
    "agent-cache-listener-port",
    "agent-cache-use-auto-auth-token",
    "agent-configmap",
    "agent-copy-volume-mounts",
    "agent-extra-secret",
    "agent-image",
    "agent-init-first",
    "agent-init-json-patch",
    "agent-inject",
    "agent-inject-containers",
    "agent-inject-default-format",
    "agent-inject-default-template",
    "agent-inject-exec",
    "agent-inject-exec-restart",
    "agent-inject-status",
    "agent-inject-token",
    "agent-json-patch",
    "agent-limits-cpu",
    "agent-limits-ephemeral",
    "agent-limits-mem",
    "agent-metrics-listener-port",
    "agent-pre-populate",
    "agent-pre-populate-only",
    "agent-request-namespace",
    "agent-requests-cpu",
    "agent-requests-ephemeral",
    "agent-requests-mem",
    "agent-revoke-on-shutdown",
    "agent-run-as-group",
    "agent-run-as-same-user",
    "agent-run-as-user",
    "agent-service-account-token-volume-name",
    "agent-set-security-context",
    "agent-share-process-namespace",
    "auth-max-backoff",
    "auth-min-backoff",
    "auth-path",
    "auth-type",
    "ca-cert",
    "log-level",
    "preserve-secret-case",
    "proxy-address",
    "role",
    "secret-volume-path",
    "service",
    "template-config-exit-on-retry-failure",
    "template-max-connections-per-host",
    "template-static-secret-render-interval",
    "tls-secret",
    "tls-skip-verify",
];

/// Per-secret and per-parameter prefixes arca-injector acts on.
const KNOWN_PREFIXES: &[&str] = &[
    "agent-inject-secret-",
    "agent-inject-template-file-",
    "agent-inject-template-",
    "agent-inject-file-",
    "agent-inject-perms-",
    "agent-inject-command-",
    "agent-inject-format-",
    "agent-inject-restart-",
    "error-on-missing-key-",
    "secret-volume-path-",
    "preserve-secret-case-",
    "auth-config-",
    "agent-inject-env-",
];

/// vault-k8s annotations Arca accepts but does not act on, and why.
const IGNORED: &[(&str, &str)] = &[
    ("namespace", "Arca has no namespaces"),
    (
        "agent-revoke-grace",
        "the sidecar revokes as it stops, without a preStop hook",
    ),
    (
        "tls-server-name",
        "the agent checks the server's name from its address",
    ),
    ("ca-key", "use ca-cert"),
    (
        "client-cert",
        "client certificates are not supported by arca-agent",
    ),
    (
        "client-key",
        "client certificates are not supported by arca-agent",
    ),
    (
        "client-max-retries",
        "arca-agent retries with its own backoff",
    ),
    ("client-timeout", "arca-agent uses its own timeouts"),
    ("go-max-procs", "arca-agent is not a Go program"),
    ("log-format", "arca-agent logs in one format"),
    ("agent-cache-exit-on-err", "the cache is not persisted"),
    ("agent-enable-quit", "stop the agent with SIGTERM"),
    (
        "agent-disable-idle-connections",
        "not configurable in arca-agent",
    ),
    (
        "agent-disable-keep-alives",
        "not configurable in arca-agent",
    ),
];

pub struct Annotations<'a> {
    map: &'a BTreeMap<String, String>,
    /// Name (without prefix) -> (full key, value), `arca.dev/` winning:
    /// one pass over the map, then lookups without building keys.
    by_name: BTreeMap<&'a str, (&'a str, &'a str)>,
}

/// Go's `strconv.ParseBool`, with vault-k8s's empty string as false.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "" | "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

impl<'a> Annotations<'a> {
    pub fn new(map: &'a BTreeMap<String, String>) -> Self {
        let mut by_name = BTreeMap::new();
        for (k, v) in map {
            let v = v.as_str();
            if let Some(name) = k.strip_prefix(VAULT) {
                by_name.entry(name).or_insert((k.as_str(), v));
            } else if let Some(name) = k.strip_prefix(ARCA) {
                by_name.insert(name, (k.as_str(), v));
            }
        }
        Self { map, by_name }
    }

    /// The value and the full key it was found under.
    pub fn entry(&self, key: &str) -> Option<(&'a str, &'a str)> {
        self.by_name.get(key).copied()
    }

    pub fn get(&self, key: &str) -> Option<&'a str> {
        self.entry(key).map(|(_, v)| v)
    }

    /// A non-empty value.
    pub fn text(&self, key: &str) -> Option<&'a str> {
        self.get(key).filter(|v| !v.trim().is_empty())
    }

    pub fn bool(&self, key: &str, default: bool) -> Result<bool, String> {
        match self.entry(key) {
            None => Ok(default),
            Some((full, v)) => parse_bool(v).ok_or_else(|| {
                format!("annotation {full}: {v:?} is not a boolean (true or false)")
            }),
        }
    }

    pub fn int(&self, key: &str, default: i64) -> Result<i64, String> {
        match self.entry(key) {
            None => Ok(default),
            Some((_, "")) => Ok(0),
            Some((full, v)) => v
                .parse()
                .map_err(|_| format!("annotation {full}: {v:?} is not a whole number")),
        }
    }

    /// A resource quantity; `Ok(None)` when unset or empty.
    pub fn quantity(&self, key: &str, default: Option<&str>) -> Result<Option<String>, String> {
        match self.entry(key) {
            None => Ok(default.map(str::to_owned)),
            Some((_, "")) => Ok(None),
            Some((full, v)) => crate::quantity::check(v)
                .map(|()| Some(v.to_owned()))
                .map_err(|e| format!("annotation {full}: {e}")),
        }
    }

    /// `prefix<rest>` entries, by `rest` (as written), `arca.dev/` first.
    /// In `rest`'s order (the names' order, as they share the prefix).
    pub fn with_prefix<'s>(
        &'s self,
        prefix: &'s str,
    ) -> impl Iterator<Item = (&'a str, (&'a str, &'a str))> + 's {
        self.by_name
            .range::<str, _>((
                std::ops::Bound::Included(prefix),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |(name, _)| name.starts_with(prefix))
            .map(move |(name, entry)| (&name[prefix.len()..], *entry))
    }

    /// Warnings for annotations under either prefix that arca-injector
    /// does not act on.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        for k in self.map.keys() {
            let Some(name) = k.strip_prefix(ARCA).or_else(|| k.strip_prefix(VAULT)) else {
                continue;
            };
            if KNOWN.binary_search(&name).is_ok()
                || KNOWN_PREFIXES.iter().any(|p| name.starts_with(p))
            {
                continue;
            }
            if let Some((_, why)) = IGNORED.iter().find(|(n, _)| *n == name) {
                let empty = self.map.get(k).is_some_and(String::is_empty);
                if !empty {
                    out.push(format!("annotation {k} is ignored: {why}"));
                }
                continue;
            }
            if name.starts_with("agent-telemetry-") {
                out.push(format!(
                    "annotation {k} is ignored: arca-agent's metrics are on its listener"
                ));
                continue;
            }
            out.push(format!(
                "annotation {k} is not known to arca-injector; ignored"
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_known_names_are_sorted_for_binary_search() {
        assert!(KNOWN.windows(2).all(|w| w[0] < w[1]), "{KNOWN:?}");
    }

    #[test]
    fn either_prefix_arca_wins_and_errors_name_the_key() {
        let m = json!({
            "vault.hashicorp.com/agent-inject": "true",
            "vault.hashicorp.com/role": "vault-role",
            "arca.dev/role": "arca-role",
            "vault.hashicorp.com/agent-pre-populate": "maybe",
            "arca.dev/agent-limits-cpu": "-1",
            "vault.hashicorp.com/agent-inject-secret-db": "database/creds/app",
            "arca.dev/agent-inject-secret-kv": "secret/data/app",
            "vault.hashicorp.com/namespace": "team-a",
            "vault.hashicorp.com/made-up": "x",
            "other.io/thing": "y",
        });
        let m: BTreeMap<String, String> = serde_json::from_value(m).unwrap();
        let a = Annotations::new(&m);
        assert!(a.bool("agent-inject", false).unwrap());
        assert_eq!(a.get("role"), Some("arca-role"));
        assert_eq!(
            a.bool("agent-pre-populate", true).unwrap_err(),
            "annotation vault.hashicorp.com/agent-pre-populate: \"maybe\" is not a boolean (true or false)"
        );
        assert_eq!(
            a.quantity("agent-limits-cpu", None).unwrap_err(),
            "annotation arca.dev/agent-limits-cpu: \"-1\" is negative"
        );
        let secrets: Vec<&str> = a
            .with_prefix("agent-inject-secret-")
            .map(|(k, _)| k)
            .collect();
        assert_eq!(secrets, ["db", "kv"]);
        let mut w = a.warnings();
        w.sort();
        assert_eq!(
            w,
            [
                "annotation vault.hashicorp.com/made-up is not known to arca-injector; ignored",
                "annotation vault.hashicorp.com/namespace is ignored: Arca has no namespaces",
            ]
        );
    }
}

//! `arca-operator run` flags (Go style, as the other Arca binaries take
//! them: `-name=value`, `-name value`, `--name=value`).

use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Watch one namespace; None: all.
    pub namespace: Option<String>,
    /// Leader election: the Lease's name and namespace; off with
    /// `-leader-elect=false` (one replica, or tests).
    pub leader_elect: bool,
    pub lease_name: String,
    pub lease_namespace: String,
    /// This replica's identity in the Lease.
    pub identity: String,
    /// Every object is reconciled at least this often.
    pub resync: Duration,
    /// `/healthz`, `/readyz` and `/metrics`; empty: none.
    pub health_listen: String,
    pub log_level: String,
    pub log_format: String,
    /// The operator's own service account (its kubernetes auth role on
    /// every cluster is bound to it) and the token file it logs in with.
    pub service_account: String,
    pub service_account_namespace: String,
    pub token_file: PathBuf,
    /// What the servers' kubernetes auth method is configured with:
    /// the API server address (default: the in-cluster one) and its CA
    /// (default: the servers' own pod CA).
    pub server_kubernetes_host: String,
    pub server_kubernetes_ca_file: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        let pod_namespace = std::env::var("POD_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty());
        Self {
            namespace: None,
            leader_elect: true,
            lease_name: "arca-operator".into(),
            lease_namespace: pod_namespace.clone().unwrap_or_else(|| "default".into()),
            identity: std::env::var("POD_NAME")
                .ok()
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| format!("arca-operator-{}", std::process::id())),
            resync: Duration::from_secs(300),
            health_listen: ":8081".into(),
            log_level: "info".into(),
            log_format: "standard".into(),
            service_account: "arca-operator".into(),
            service_account_namespace: pod_namespace.unwrap_or_else(|| "default".into()),
            token_file: arca_client::pod::TOKEN_PATH.into(),
            server_kubernetes_host: "https://kubernetes.default.svc".into(),
            server_kubernetes_ca_file: None,
        }
    }
}

pub const USAGE: &str = "\
Usage: arca-operator run [flags]

Runs the controllers for VaultCluster, SecretEngine and Policy objects.

  -namespace=NS                 watch only this namespace (default: all)
  -leader-elect=BOOL            take a coordination.k8s.io Lease before acting (default true)
  -lease-name=NAME              the Lease (default arca-operator)
  -lease-namespace=NS           its namespace (default $POD_NAMESPACE, else default)
  -resync-interval=DURATION     reconcile every object at least this often (default 5m)
  -health-listen=ADDR           /healthz, /readyz, /metrics (default :8081; empty: off)
  -service-account=NAME         the operator's service account (default arca-operator)
  -service-account-namespace=NS its namespace (default $POD_NAMESPACE)
  -token-file=PATH              its token, to log in to the clusters
                                (default /var/run/secrets/kubernetes.io/serviceaccount/token)
  -server-kubernetes-host=URL   API server the clusters' kubernetes auth calls
                                (default https://kubernetes.default.svc)
  -server-kubernetes-ca-file=PATH  its CA (default: the server pods' own)
  -log-level=LEVEL              error, warn, info, debug, trace (default info)
  -log-format=FORMAT            standard or json (default standard)
";

const KNOWN: &[&str] = &[
    "namespace",
    "leader-elect",
    "lease-name",
    "lease-namespace",
    "resync-interval",
    "health-listen",
    "service-account",
    "service-account-namespace",
    "token-file",
    "server-kubernetes-host",
    "server-kubernetes-ca-file",
    "log-level",
    "log-format",
];

/// Parses `run`'s flags.
pub fn parse(args: &[String]) -> Result<Settings, String> {
    let mut s = Settings::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let known = |n: &str| KNOWN.contains(&n);
        let bare = flag.split_once('=').map_or(flag, |(n, _)| n);
        if !known(bare) {
            return Err(format!("flag provided but not defined: -{bare}"));
        }
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n, v.to_owned()),
            None if flag == "leader-elect" => (flag, "true".to_owned()),
            None => {
                i += 1;
                let v = args
                    .get(i)
                    .ok_or_else(|| format!("flag -{flag} needs a value"))?;
                (flag, v.clone())
            }
        };
        match name {
            "namespace" => s.namespace = Some(value).filter(|v| !v.is_empty()),
            "leader-elect" => {
                s.leader_elect = match value.as_str() {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(format!("-leader-elect: {value:?} is not a boolean")),
                }
            }
            "lease-name" => s.lease_name = nonempty(name, value)?,
            "lease-namespace" => s.lease_namespace = nonempty(name, value)?,
            "resync-interval" => s.resync = duration(name, &value)?,
            "health-listen" => s.health_listen = value,
            "service-account" => s.service_account = nonempty(name, value)?,
            "service-account-namespace" => s.service_account_namespace = nonempty(name, value)?,
            "token-file" => s.token_file = PathBuf::from(nonempty(name, value)?),
            "server-kubernetes-host" => s.server_kubernetes_host = nonempty(name, value)?,
            "server-kubernetes-ca-file" => {
                s.server_kubernetes_ca_file = Some(PathBuf::from(nonempty(name, value)?))
            }
            "log-level" => match value.as_str() {
                "error" | "warn" | "info" | "debug" | "trace" => s.log_level = value,
                _ => {
                    return Err(format!(
                        "-log-level: {value:?} is not one of error, warn, info, debug, trace"
                    ));
                }
            },
            "log-format" => match value.as_str() {
                "standard" | "json" => s.log_format = value,
                _ => return Err(format!("-log-format: {value:?} is not standard or json")),
            },
            _ => return Err(format!("flag provided but not defined: -{name}")),
        }
        i += 1;
    }
    Ok(s)
}

fn nonempty(name: &str, value: String) -> Result<String, String> {
    if value.is_empty() {
        Err(format!("-{name} must not be empty"))
    } else {
        Ok(value)
    }
}

/// `300`, `90s`, `5m`, `1h30m`.
pub fn duration(name: &str, value: &str) -> Result<Duration, String> {
    let bad = || format!("-{name}: {value:?} is not a duration (e.g. 30s, 5m, 1h)");
    if let Ok(secs) = value.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut num = String::new();
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            num.push(c);
            continue;
        }
        let n: u64 = num.parse().map_err(|_| bad())?;
        num.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                total = total.saturating_add(n / 1000);
                continue;
            }
            ('s', _) => 1,
            ('m', _) => 60,
            ('h', _) => 3600,
            _ => return Err(bad()),
        };
        total = total.saturating_add(n.saturating_mul(unit));
    }
    if !num.is_empty() || total == 0 {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn flags() {
        let s = parse(&args(&[
            "-namespace=apps",
            "--resync-interval",
            "1m30s",
            "-leader-elect=false",
            "-lease-name=l",
            "-health-listen=",
        ]))
        .unwrap_or_default();
        assert_eq!(s.namespace.as_deref(), Some("apps"));
        assert_eq!(s.resync, Duration::from_secs(90));
        assert!(!s.leader_elect);
        assert_eq!(s.lease_name, "l");
        assert_eq!(s.health_listen, "");
        assert_eq!(
            parse(&args(&["-bogus=1"])).unwrap_err(),
            "flag provided but not defined: -bogus"
        );
        assert!(
            parse(&args(&["-resync-interval=soon"]))
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse(&args(&["-log-format=xml"])).is_err());
        assert!(
            parse(&args(&["-lease-name"]))
                .unwrap_err()
                .contains("needs a value")
        );
        assert_eq!(
            parse(&args(&["-bogus"])).unwrap_err(),
            "flag provided but not defined: -bogus"
        );
    }
}

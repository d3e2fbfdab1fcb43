//! The method's `config`: where the cluster's API server is and how to
//! trust it (`kubernetes_host`, `kubernetes_ca_cert`, `token_reviewer_jwt`),
//! or the cluster's service-account signing keys (`pem_keys`) to verify
//! tokens locally, and the issuer check. A write replaces the whole entry,
//! as in Vault; a read never returns the reviewer JWT, only whether one is
//! set.
//!
//! Running in a pod, the pod's own service account fills the gaps
//! (unless `disable_local_ca_jwt`): its token is the reviewer JWT and its
//! CA the trust root. With no config written at all, a pod also finds the
//! API server itself from `KUBERNETES_SERVICE_HOST`/`_PORT` (Vault requires
//! a config first). Where those files and variables are is a `PodEnv`, so
//! tests point it at temporary files.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::jwt::PublicKey;
use crate::error::{Error, Result};
use crate::fields;
use crate::secret::SecretString;

/// The kubelet mounts a pod's service-account credentials here.
pub use arca_client::pod::{CA_PATH as POD_CA_PATH, TOKEN_PATH as POD_TOKEN_PATH};

/// The pod this server runs in, if any: its service-account token and CA
/// files and the API server's in-cluster address.
#[derive(Debug, Clone)]
pub struct PodEnv {
    pub token_path: PathBuf,
    pub ca_path: PathBuf,
    /// `KUBERNETES_SERVICE_HOST`, as the kubelet sets it.
    pub service_host: Option<String>,
    /// `KUBERNETES_SERVICE_PORT`.
    pub service_port: Option<String>,
}

impl PodEnv {
    /// The real locations, and the service address from the environment.
    pub fn in_cluster() -> Self {
        Self {
            token_path: POD_TOKEN_PATH.into(),
            ca_path: POD_CA_PATH.into(),
            service_host: std::env::var("KUBERNETES_SERVICE_HOST")
                .ok()
                .filter(|h| !h.is_empty()),
            service_port: std::env::var("KUBERNETES_SERVICE_PORT")
                .ok()
                .filter(|p| !p.is_empty()),
        }
    }

    /// Kubernetes told this process where its API server is.
    pub fn in_pod(&self) -> bool {
        self.service_host.is_some()
    }

    /// `https://host:port` of the in-cluster API server.
    fn api_server(&self) -> Option<String> {
        let host = self.service_host.as_deref()?;
        let port = self.service_port.as_deref().unwrap_or("443");
        Some(if host.contains(':') {
            format!("https://[{host}]:{port}")
        } else {
            format!("https://{host}:{port}")
        })
    }

    /// The pod's service-account token, re-read on every use: the kubelet
    /// rotates projected tokens in place.
    async fn token(&self) -> Option<SecretString> {
        let t = tokio::fs::read_to_string(&self.token_path).await.ok()?;
        let t = SecretString::new(t);
        let trimmed = t.expose().trim();
        (!trimmed.is_empty()).then(|| SecretString::from(trimmed))
    }

    async fn ca(&self) -> std::io::Result<String> {
        tokio::fs::read_to_string(&self.ca_path).await
    }
}

#[derive(Serialize, Deserialize)]
pub struct Config {
    pub kubernetes_host: String,
    #[serde(default)]
    pub kubernetes_ca_cert: String,
    /// Empty: none set.
    #[serde(default, with = "crate::secret::stored")]
    pub token_reviewer_jwt: SecretString,
    #[serde(default)]
    pub pem_keys: Vec<String>,
    #[serde(default)]
    pub issuer: String,
    #[serde(default = "yes")]
    pub disable_iss_validation: bool,
    #[serde(default)]
    pub disable_local_ca_jwt: bool,
    /// Arca's own: with `pem_keys`, the longest lifetime (exp - iat, or
    /// warnafter - iat) a token may have, in seconds (jwt::check_local_lifetime).
    #[serde(default = "default_max_token_lifetime")]
    pub pem_keys_max_token_lifetime: u64,
    /// `pem_keys`, parsed once when the config is loaded.
    #[serde(skip)]
    pub keys: Vec<PublicKey>,
}

fn yes() -> bool {
    true
}

/// An hour: what a pod's projected token lives by default (3607 s, within
/// the minute of skew the check adds).
const DEFAULT_MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

fn default_max_token_lifetime() -> u64 {
    DEFAULT_MAX_TOKEN_LIFETIME.as_secs()
}

/// A host, a host:port or a URL, as Vault documents it; a bare host means
/// https.
pub fn api_base(host: &str) -> Result<reqwest::Url> {
    let host = host.trim().trim_end_matches('/');
    let url = if host.contains("://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    match reqwest::Url::parse(&url) {
        Ok(mut u) if matches!(u.scheme(), "https" | "http") && u.host().is_some() => {
            // API paths are joined below the base, which may itself have a
            // path (an API proxy), so it must end with a slash.
            if !u.path().ends_with('/') {
                let path = format!("{}/", u.path());
                u.set_path(&path);
            }
            Ok(u)
        }
        _ => Err(Error::invalid(format!(
            "invalid kubernetes_host {host:?}: want a host, host:port or http(s) URL"
        ))),
    }
}

fn parse_keys(pems: &[String]) -> Result<Vec<PublicKey>, &'static str> {
    pems.iter().map(|p| PublicKey::from_pem(p)).collect()
}

/// At least one certificate, or the TLS client would trust nothing.
fn check_ca(pem: &str) -> Result<()> {
    let mut reader = pem.as_bytes();
    let certs: Vec<_> = rustls_pemfile::certs(&mut reader).collect();
    if certs.is_empty() || certs.iter().any(|c| c.is_err()) {
        return Err(Error::invalid(
            "kubernetes_ca_cert does not contain a valid PEM-encoded certificate",
        ));
    }
    Ok(())
}

impl Config {
    /// Decodes a stored entry and parses its keys.
    pub fn load(bytes: &[u8]) -> Result<Self> {
        let mut c: Config = serde_json::from_slice(bytes)
            .map_err(|e| Error::internal(format!("kubernetes config: {e}")))?;
        c.keys = parse_keys(&c.pem_keys)
            .map_err(|e| Error::internal(format!("kubernetes config pem_keys: {e}")))?;
        Ok(c)
    }

    /// A config write, with Vault's defaults for absent fields (a write
    /// replaces everything) and its checks. Returns warnings too.
    pub async fn from_write(d: &Map<String, Value>, pod: &PodEnv) -> Result<(Self, Vec<String>)> {
        let host = fields::string(d, "kubernetes_host")?.unwrap_or_default();
        if host.is_empty() {
            return Err(Error::invalid("no host provided"));
        }
        let base = api_base(&host)?;
        let disable_local_ca_jwt = fields::bool(d, "disable_local_ca_jwt")?.unwrap_or(false);
        let pem_keys = fields::string_list(d, "pem_keys")?.unwrap_or_default();
        let kubernetes_ca_cert = fields::string(d, "kubernetes_ca_cert")?.unwrap_or_default();
        let issuer = fields::string(d, "issuer")?.unwrap_or_default();
        let disable_iss_validation = fields::bool(d, "disable_iss_validation")?.unwrap_or(true);
        let token_reviewer_jwt =
            SecretString::new(fields::string(d, "token_reviewer_jwt")?.unwrap_or_default());
        let max_lifetime = fields::duration(d, "pem_keys_max_token_lifetime")?
            .unwrap_or(DEFAULT_MAX_TOKEN_LIFETIME);
        if max_lifetime.as_secs() == 0 {
            return Err(Error::invalid(
                "pem_keys_max_token_lifetime must be at least one second",
            ));
        }

        if disable_local_ca_jwt && kubernetes_ca_cert.is_empty() {
            return Err(Error::invalid(
                "kubernetes_ca_cert must be given when disable_local_ca_jwt is true",
            ));
        }
        let keys = parse_keys(&pem_keys).map_err(Error::invalid)?;
        if !kubernetes_ca_cert.is_empty() {
            check_ca(&kubernetes_ca_cert)?;
        } else if keys.is_empty() && base.scheme() == "https" {
            // TokenReview over TLS needs a trust root: the pod's CA then.
            // (Vault insists even with pem_keys; Arca does not call the API
            // server then, so it does not need one.)
            if let Err(e) = pod.ca().await {
                return Err(Error::invalid(format!(
                    "kubernetes_ca_cert not given and the local CA {} cannot be read: {e}",
                    pod.ca_path.display()
                )));
            }
        }
        let mut warnings = Vec::new();
        if !issuer.is_empty() && disable_iss_validation {
            warnings.push(
                "issuer is not checked while disable_iss_validation is true (its default); \
                 write disable_iss_validation=false to check it"
                    .to_owned(),
            );
        }
        Ok((
            Self {
                kubernetes_host: host,
                kubernetes_ca_cert,
                token_reviewer_jwt,
                pem_keys,
                issuer,
                disable_iss_validation,
                disable_local_ca_jwt,
                pem_keys_max_token_lifetime: max_lifetime.as_secs(),
                keys,
            },
            warnings,
        ))
    }

    /// The read response: Vault's fields, the reviewer JWT only as a flag.
    pub fn to_read(&self) -> Map<String, Value> {
        let v = json!({
            "kubernetes_host": self.kubernetes_host,
            "kubernetes_ca_cert": self.kubernetes_ca_cert,
            "pem_keys": self.pem_keys,
            "issuer": self.issuer,
            "disable_iss_validation": self.disable_iss_validation,
            "disable_local_ca_jwt": self.disable_local_ca_jwt,
            "pem_keys_max_token_lifetime": self.pem_keys_max_token_lifetime,
            "token_reviewer_jwt_set": !self.token_reviewer_jwt.is_empty(),
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// `pem_keys_max_token_lifetime` as the signed seconds the checks use.
    pub fn max_token_lifetime_secs(&self) -> i64 {
        i64::try_from(self.pem_keys_max_token_lifetime).unwrap_or(i64::MAX)
    }

    /// The issuer a token must carry, if it is checked at all. Vault checks
    /// it only when validation is enabled and an issuer is set.
    pub fn expected_issuer(&self) -> Option<&str> {
        (!self.disable_iss_validation && !self.issuer.is_empty()).then_some(self.issuer.as_str())
    }
}

/// Everything a call to the API server needs.
pub struct ApiTarget {
    pub base: reqwest::Url,
    /// PEM; empty trusts nothing (as Vault: TLS verification then fails).
    pub ca_pem: String,
    /// `None`: the client's own JWT is the bearer.
    pub reviewer: Option<SecretString>,
}

/// What a login that needs the API server uses: the config, completed
/// from the pod where it is silent. `None` config: in a pod, the pod's
/// in-cluster address and credentials; elsewhere, an error.
pub async fn api_target(config: Option<&Config>, pod: &PodEnv) -> Result<ApiTarget> {
    let Some(c) = config else {
        let Some(host) = pod.api_server() else {
            return Err(Error::internal("could not load backend configuration"));
        };
        let ca_pem = pod
            .ca()
            .await
            .map_err(|e| Error::internal(format!("local CA {}: {e}", pod.ca_path.display())))?;
        return Ok(ApiTarget {
            base: api_base(&host)?,
            ca_pem,
            reviewer: pod.token().await,
        });
    };
    let local = !c.disable_local_ca_jwt;
    let reviewer = if !c.token_reviewer_jwt.is_empty() {
        Some(c.token_reviewer_jwt.clone())
    } else if local {
        // Best effort, as in Vault: without it the client's JWT is used.
        pod.token().await
    } else {
        None
    };
    let ca_pem = if !c.kubernetes_ca_cert.is_empty() {
        c.kubernetes_ca_cert.clone()
    } else if local {
        pod.ca()
            .await
            .map_err(|e| Error::internal(format!("local CA {}: {e}", pod.ca_path.display())))?
    } else {
        String::new()
    };
    Ok(ApiTarget {
        base: api_base(&c.kubernetes_host)?,
        ca_pem,
        reviewer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(dir: &std::path::Path, host: Option<&str>) -> PodEnv {
        PodEnv {
            token_path: dir.join("token"),
            ca_path: dir.join("ca.crt"),
            service_host: host.map(String::from),
            service_port: Some("6443".into()),
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn hosts_as_vault_documents_them() {
        assert_eq!(api_base("10.0.0.1").unwrap().as_str(), "https://10.0.0.1/");
        assert_eq!(
            api_base("k8s.local:6443/").unwrap().as_str(),
            "https://k8s.local:6443/"
        );
        assert_eq!(api_base("http://127.0.0.1:8080").unwrap().scheme(), "http");
        assert_eq!(
            api_base("https://proxy/k8s/clusters/c-1").unwrap().as_str(),
            "https://proxy/k8s/clusters/c-1/"
        );
        assert!(api_base("ftp://x").is_err());
        assert!(api_base("https://[::1").is_err());
    }

    #[tokio::test]
    async fn write_checks_and_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let p = pod(dir.path(), None);
        let err = |v: Value| async {
            match Config::from_write(&map(v), &p).await {
                Err(e) => e.to_string(),
                Ok(_) => "ok".into(),
            }
        };
        assert_eq!(err(json!({})).await, "no host provided");
        assert_eq!(
            err(json!({"kubernetes_host": "h", "disable_local_ca_jwt": true})).await,
            "kubernetes_ca_cert must be given when disable_local_ca_jwt is true"
        );
        assert_eq!(
            err(json!({"kubernetes_host": "h", "pem_keys": ["nope"]})).await,
            "data does not contain any valid public keys"
        );
        assert!(
            err(json!({"kubernetes_host": "h", "kubernetes_ca_cert": "garbage"}))
                .await
                .contains("kubernetes_ca_cert")
        );
        // TokenReview over https with no CA anywhere.
        assert!(
            err(json!({"kubernetes_host": "h"}))
                .await
                .contains("local CA")
        );
        // Plain http needs no CA.
        let (c, warnings) = Config::from_write(
            &map(
                json!({"kubernetes_host": "http://h", "token_reviewer_jwt": "r",
                        "issuer": "i"}),
            ),
            &p,
        )
        .await
        .unwrap();
        assert!(c.disable_iss_validation);
        assert_eq!(c.expected_issuer(), None);
        assert_eq!(warnings.len(), 1);
        let read = c.to_read();
        assert_eq!(read["token_reviewer_jwt_set"], true);
        assert!(!read.contains_key("token_reviewer_jwt"));
        let stored = crate::barrier::view::to_json(&c);
        let back = Config::load(&stored).unwrap();
        assert_eq!(back.token_reviewer_jwt.expose(), "r");
    }

    #[tokio::test]
    async fn pod_fills_what_the_config_leaves_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "pod-token\n").unwrap();
        std::fs::write(dir.path().join("ca.crt"), "PEM").unwrap();
        let p = pod(dir.path(), Some("10.96.0.1"));

        let t = api_target(None, &p).await.unwrap();
        assert_eq!(t.base.as_str(), "https://10.96.0.1:6443/");
        assert_eq!(t.ca_pem, "PEM");
        assert_eq!(t.reviewer.unwrap().expose(), "pod-token");

        let (mut c, _) = Config::from_write(&map(json!({"kubernetes_host": "https://h"})), &p)
            .await
            .unwrap();
        let t = api_target(Some(&c), &p).await.unwrap();
        assert_eq!(t.base.as_str(), "https://h/");
        assert_eq!(t.reviewer.unwrap().expose(), "pod-token");
        c.disable_local_ca_jwt = true;
        let t = api_target(Some(&c), &p).await.unwrap();
        assert!(t.reviewer.is_none() && t.ca_pem.is_empty());

        // Not in a pod and nothing configured.
        let none = pod(dir.path(), None);
        assert!(api_target(None, &none).await.is_err());
    }
}

//! The method's `config`: where verification keys come from (exactly one
//! of `jwt_validation_pubkeys`, `jwks_url`, `oidc_discovery_url`), the
//! `bound_issuer`, the accepted algorithms and the `default_role`.
//!
//! A write replaces the whole config, as Vault's does, and is checked the
//! way Vault checks it: keys are parsed, the JWKS or discovery document is
//! fetched (a failure is a 400 unless `skip_jwks_validation`). The OIDC
//! client fields are kept so Vault configs apply unchanged, but Arca does
//! not run the browser flow (mod.rs answers its endpoints with an error).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::jwks::{self, KeySource, Remote};
use super::keys::{Alg, parse_pem};
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::fields;

/// Vault's storage key for the config.
pub const CONFIG_KEY: &str = "config";

/// The stored config, in Vault's field names. No `Debug`: it holds the
/// OIDC client secret.
#[derive(Clone, Default, Serialize, Deserialize)]
pub struct Config {
    #[serde(default)]
    pub oidc_discovery_url: String,
    #[serde(default)]
    pub oidc_discovery_ca_pem: String,
    #[serde(default)]
    pub oidc_client_id: String,
    /// Never returned on read.
    #[serde(default)]
    pub oidc_client_secret: String,
    #[serde(default)]
    pub oidc_response_mode: String,
    #[serde(default)]
    pub oidc_response_types: Vec<String>,
    #[serde(default)]
    pub jwks_url: String,
    #[serde(default)]
    pub jwks_ca_pem: String,
    #[serde(default)]
    pub jwt_validation_pubkeys: Vec<String>,
    #[serde(default)]
    pub jwt_supported_algs: Vec<String>,
    #[serde(default)]
    pub bound_issuer: String,
    #[serde(default)]
    pub default_role: String,
    #[serde(default)]
    pub namespace_in_state: bool,
}

/// A config write, parsed and checked: what to store, the key source
/// built while checking it (if it could be), and warnings.
pub struct Written {
    pub config: Config,
    pub keys: Option<Arc<KeySource>>,
    pub warnings: Vec<String>,
}

fn string(d: &Map<String, Value>, key: &str) -> Result<String> {
    Ok(fields::string(d, key)?.unwrap_or_default())
}

fn list(d: &Map<String, Value>, key: &str) -> Result<Vec<String>> {
    Ok(fields::string_list(d, key)?
        .unwrap_or_default()
        .into_iter()
        .filter(|s| !s.is_empty())
        .collect())
}

impl Config {
    /// The algorithms a token may use: the configured list, else every
    /// asymmetric algorithm (as Vault defaults).
    pub fn algorithms(&self) -> Vec<Alg> {
        if self.jwt_supported_algs.is_empty() {
            Alg::ALL.to_vec()
        } else {
            self.jwt_supported_algs
                .iter()
                .filter_map(|a| Alg::parse(a))
                .collect()
        }
    }

    /// Parses and checks a config write. `existing` decides the default
    /// of `namespace_in_state` (true for new configs, as in Vault).
    pub async fn write(
        d: &Map<String, Value>,
        existing: Option<&Config>,
        clock: &Clock,
    ) -> Result<Written> {
        let c = Config {
            oidc_discovery_url: string(d, "oidc_discovery_url")?,
            oidc_discovery_ca_pem: string(d, "oidc_discovery_ca_pem")?,
            oidc_client_id: string(d, "oidc_client_id")?,
            oidc_client_secret: string(d, "oidc_client_secret")?,
            oidc_response_mode: string(d, "oidc_response_mode")?,
            oidc_response_types: list(d, "oidc_response_types")?,
            jwks_url: string(d, "jwks_url")?,
            jwks_ca_pem: string(d, "jwks_ca_pem")?,
            jwt_validation_pubkeys: list(d, "jwt_validation_pubkeys")?,
            jwt_supported_algs: list(d, "jwt_supported_algs")?,
            bound_issuer: string(d, "bound_issuer")?,
            default_role: string(d, "default_role")?.to_lowercase(),
            namespace_in_state: match fields::bool(d, "namespace_in_state")? {
                Some(b) => b,
                None => existing.is_none_or(|e| e.namespace_in_state),
            },
        };
        let skip = fields::bool(d, "skip_jwks_validation")?.unwrap_or(false);
        unsupported(d)?;

        let sources = [
            !c.oidc_discovery_url.is_empty(),
            !c.jwt_validation_pubkeys.is_empty(),
            !c.jwks_url.is_empty(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            return Err(Error::invalid(
                "exactly one of 'jwt_validation_pubkeys', 'jwks_url', 'jwks_pairs', \
                 'oidc_discovery_url', or 'provider_config' must be set",
            ));
        }
        if c.oidc_client_id.is_empty() != c.oidc_client_secret.is_empty() {
            return Err(Error::invalid(
                "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC",
            ));
        }
        if !c.oidc_client_id.is_empty() && c.oidc_discovery_url.is_empty() {
            return Err(Error::invalid("'oidc_discovery_url' must be set for OIDC"));
        }
        for a in &c.jwt_supported_algs {
            if Alg::parse(a).is_none() {
                return Err(Error::invalid(format!(
                    "invalid jwt_supported_algs: unsupported signing algorithm {a:?}"
                )));
            }
        }
        c.check_response_settings()?;

        let mut warnings = Vec::new();
        let keys = if !c.jwt_validation_pubkeys.is_empty() {
            for p in &c.jwt_validation_pubkeys {
                parse_pem(p)
                    .map_err(|e| Error::invalid(format!("error parsing public key: {e}")))?;
            }
            Some(Arc::new(
                KeySource::from_pems(&c.jwt_validation_pubkeys).map_err(Error::invalid)?,
            ))
        } else if !c.jwks_url.is_empty() {
            let client = jwks::client(&c.jwks_ca_pem)
                .map_err(|_| Error::invalid("error checking jwks_ca_pem"))?;
            let remote = Remote::new(client, c.jwks_url.clone(), clock.clone());
            match remote.fetch().await {
                Ok(()) => Some(Arc::new(KeySource::Remote(remote))),
                Err(e) if skip => {
                    tracing::warn!(error = %e, "error checking jwks URL");
                    warnings.push(format!("error checking jwks URL: {e}"));
                    None
                }
                Err(e) => return Err(Error::invalid(format!("error checking jwks URL: {e}"))),
            }
        } else {
            if c.oidc_discovery_url.contains(".well-known") {
                return Err(Error::invalid(
                    "'oidc_discovery_url' contains '.well-known' component",
                ));
            }
            match c.discovered(clock).await {
                Ok(k) => Some(Arc::new(k)),
                Err(e) if skip => {
                    tracing::warn!(error = %e, "error checking oidc discovery URL");
                    warnings.push(format!("error checking oidc discovery URL: {e}"));
                    None
                }
                Err(e) => {
                    return Err(Error::invalid(format!(
                        "error checking oidc discovery URL: {e}"
                    )));
                }
            }
        };
        Ok(Written {
            config: c,
            keys,
            warnings,
        })
    }

    fn check_response_settings(&self) -> Result<()> {
        if self
            .oidc_response_types
            .iter()
            .any(|t| t != "code" && t != "id_token")
        {
            return Err(Error::invalid(format!(
                "invalid response_types [{}]. 'code' and 'id_token' are allowed",
                self.oidc_response_types.join(" ")
            )));
        }
        match self.oidc_response_mode.as_str() {
            "" | "query" if self.oidc_response_types.iter().any(|t| t == "id_token") => {
                Err(Error::invalid(
                    "query response_mode may not be used with an id_token response_type",
                ))
            }
            "" | "query" | "form_post" => Ok(()),
            other => Err(Error::invalid(format!("invalid response_mode: {other:?}"))),
        }
    }

    /// The key source for a discovery URL: fetches the document for its
    /// `jwks_uri`; the keys themselves are fetched on first use.
    async fn discovered(&self, clock: &Clock) -> Result<KeySource, String> {
        let client = jwks::client(&self.oidc_discovery_ca_pem)?;
        let jwks_uri = jwks::discover(&client, &self.oidc_discovery_url).await?;
        Ok(KeySource::Remote(Remote::new(
            client,
            jwks_uri,
            clock.clone(),
        )))
    }

    /// Builds the key source of a stored config (after a restart, or when
    /// the write could not reach the provider). Errors read like Vault's
    /// "keyset configuration error: ...".
    pub async fn key_source(&self, clock: &Clock) -> Result<KeySource, String> {
        let err = |e: String| format!("keyset configuration error: {e}");
        if !self.jwt_validation_pubkeys.is_empty() {
            KeySource::from_pems(&self.jwt_validation_pubkeys).map_err(err)
        } else if !self.jwks_url.is_empty() {
            let client = jwks::client(&self.jwks_ca_pem).map_err(err)?;
            Ok(KeySource::Remote(Remote::new(
                client,
                self.jwks_url.clone(),
                clock.clone(),
            )))
        } else if !self.oidc_discovery_url.is_empty() {
            self.discovered(clock).await.map_err(err)
        } else {
            Err("unsupported config type".into())
        }
    }

    /// The read response, in Vault's shape (the client secret is left
    /// out); `status` says whether a key source can be built from it.
    pub fn to_data(&self, status_error: Option<&str>) -> Map<String, Value> {
        let v = json!({
            "oidc_discovery_url": self.oidc_discovery_url,
            "oidc_discovery_ca_pem": self.oidc_discovery_ca_pem,
            "oidc_client_id": self.oidc_client_id,
            "oidc_response_mode": self.oidc_response_mode,
            "oidc_response_types": self.oidc_response_types,
            "default_role": self.default_role,
            "jwt_validation_pubkeys": self.jwt_validation_pubkeys,
            "jwt_supported_algs": self.jwt_supported_algs,
            "jwks_url": self.jwks_url,
            "jwks_ca_pem": self.jwks_ca_pem,
            "bound_issuer": self.bound_issuer,
            "provider_config": {},
            "override_allowed_server_names": [],
            "namespace_in_state": self.namespace_in_state,
            "status": if status_error.is_some() { "invalid" } else { "valid" },
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }
}

/// Vault config fields Arca does not implement: accepted only empty, so a
/// config relying on them fails loudly instead of half-working.
fn unsupported(d: &Map<String, Value>) -> Result<()> {
    let set = |k: &str| match d.get(k) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(_) => true,
    };
    for key in [
        "jwks_pairs",
        "provider_config",
        "override_allowed_server_names",
    ] {
        if set(key) {
            return Err(Error::invalid(format!("{key:?} is not supported by Arca")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    async fn write(v: Value) -> Result<Written> {
        Config::write(&map(v), None, &Clock::manual(SystemTime::now())).await
    }

    fn msg(r: Result<Written>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[tokio::test]
    async fn exactly_one_key_source() {
        let m = msg(write(json!({"bound_issuer": "x"})).await);
        assert!(
            m.starts_with("exactly one of 'jwt_validation_pubkeys'"),
            "{m}"
        );
        let m = msg(write(json!({"jwks_url": "http://a", "oidc_discovery_url": "http://b"})).await);
        assert!(m.starts_with("exactly one of"), "{m}");
    }

    #[tokio::test]
    async fn checks_like_vault() {
        assert_eq!(
            msg(write(json!({"jwt_validation_pubkeys": ["garbage"]})).await),
            "error parsing public key: data does not contain any valid public keys"
        );
        assert_eq!(
            msg(write(json!({"jwks_url": "http://127.0.0.1:1/k", "jwks_ca_pem": "nope"})).await),
            "error checking jwks_ca_pem"
        );
        assert_eq!(
            msg(
                write(json!({"oidc_discovery_url": "http://x/.well-known/openid-configuration"}))
                    .await
            ),
            "'oidc_discovery_url' contains '.well-known' component"
        );
        assert_eq!(
            msg(write(json!({"jwks_url": "http://x", "oidc_client_id": "a"})).await),
            "both 'oidc_client_id' and 'oidc_client_secret' must be set for OIDC"
        );
        assert_eq!(
            msg(write(json!({"jwks_url": "http://x", "jwks_pairs": [{"jwks_url": "y"}]})).await),
            "\"jwks_pairs\" is not supported by Arca"
        );
        for alg in ["HS256", "none", "ES512", "foo"] {
            assert_eq!(
                msg(write(json!({"jwks_url": "http://x", "jwt_supported_algs": alg})).await),
                format!("invalid jwt_supported_algs: unsupported signing algorithm {alg:?}")
            );
        }
        assert_eq!(
            msg(write(json!({"jwks_url": "http://x", "oidc_response_types": "id_token"})).await),
            "query response_mode may not be used with an id_token response_type"
        );
        let m = msg(write(json!({"jwks_url": "http://127.0.0.1:1/keys"})).await);
        assert!(
            m.starts_with("error checking jwks URL: Get \"http://127.0.0.1:1/keys\""),
            "{m}"
        );
        let w = write(json!({"jwks_url": "http://127.0.0.1:1/keys", "skip_jwks_validation": true}))
            .await
            .unwrap();
        assert!(w.keys.is_none());
        assert!(w.warnings[0].starts_with("error checking jwks URL"));
        assert!(w.config.namespace_in_state);
    }
}

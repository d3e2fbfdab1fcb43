//! Secrets engines and auth methods: the mount tables behind `sys/mounts`,
//! `sys/auth` and `sys/internal/ui/mounts`, and their tune endpoints.
//!
//! Field order and `omitempty` rules follow the Go API client's
//! `MountInput`/`MountOutput`, so JSON printed from these types matches
//! what `vault`/`bao` print.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::client::{Client, Method, trim_path};
use crate::error::{Error, Result};

/// Body of `POST sys/mounts/<path>` and `POST sys/auth/<path>`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountInput {
    /// Engine or method type (`kv`, `userpass`, …).
    #[serde(rename = "type", default)]
    pub mount_type: String,
    /// Human-friendly description.
    #[serde(default)]
    pub description: String,
    /// Tunables.
    #[serde(default)]
    pub config: MountConfigInput,
    /// Whether the mount is local to this cluster (not replicated).
    #[serde(default)]
    pub local: bool,
    /// Whether to seal-wrap the mount's storage.
    #[serde(default)]
    pub seal_wrap: bool,
    /// Whether the engine may use the seal's entropy source.
    #[serde(default)]
    pub external_entropy_access: bool,
    /// Engine options (`version` for kv).
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
}

/// Mount tunables, as sent: in `MountInput.config` and to `…/tune`.
/// TTLs are duration strings (`"1h0m0s"`); an empty string leaves a TTL as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountConfigInput {
    /// Engine options.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// Default lease TTL.
    #[serde(default)]
    pub default_lease_ttl: String,
    /// New description (tune only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Maximum lease TTL.
    #[serde(default)]
    pub max_lease_ttl: String,
    /// Whether to disable caching.
    #[serde(default)]
    pub force_no_cache: bool,
    /// Request keys not to HMAC in audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_non_hmac_request_keys: Option<Vec<String>>,
    /// Response keys not to HMAC in audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_non_hmac_response_keys: Option<Vec<String>>,
    /// `unauth` or `hidden`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
    /// Request headers passed to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_request_headers: Option<Vec<String>>,
    /// Response headers the plugin may set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_response_headers: Option<Vec<String>>,
    /// Token type (auth methods).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// Managed keys the mount may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_managed_keys: Option<Vec<String>>,
    /// Plugin version to run.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plugin_version: String,
}

/// One entry of `GET sys/mounts` or `GET sys/auth`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountOutput {
    /// Mount UUID.
    #[serde(default)]
    pub uuid: String,
    /// Engine or method type.
    #[serde(rename = "type", default)]
    pub mount_type: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// Mount accessor.
    #[serde(default)]
    pub accessor: String,
    /// Tunables.
    #[serde(default)]
    pub config: MountConfigOutput,
    /// Engine options.
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    /// Whether the mount is local.
    #[serde(default)]
    pub local: bool,
    /// Whether the mount is seal-wrapped.
    #[serde(default)]
    pub seal_wrap: bool,
    /// Whether the engine may use the seal's entropy source.
    #[serde(default)]
    pub external_entropy_access: bool,
    /// Pinned plugin version.
    #[serde(default)]
    pub plugin_version: String,
    /// Version of the running plugin.
    #[serde(default)]
    pub running_plugin_version: String,
    /// SHA-256 of the running plugin binary (external plugins).
    #[serde(default)]
    pub running_sha256: String,
    /// `supported`, `deprecated`, … (empty for built-in system mounts).
    #[serde(default)]
    pub deprecation_status: String,
}

/// A mount's tunables, as read back. TTLs are seconds; 0 means "system default".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountConfigOutput {
    /// Default lease TTL, seconds.
    #[serde(default)]
    pub default_lease_ttl: i64,
    /// Maximum lease TTL, seconds.
    #[serde(default)]
    pub max_lease_ttl: i64,
    /// Whether caching is disabled.
    #[serde(default)]
    pub force_no_cache: bool,
    /// Request keys not HMAC'd in audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_non_hmac_request_keys: Option<Vec<String>>,
    /// Response keys not HMAC'd in audit logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit_non_hmac_response_keys: Option<Vec<String>>,
    /// Listing visibility.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
    /// Request headers passed to the plugin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passthrough_request_headers: Option<Vec<String>>,
    /// Response headers the plugin may set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_response_headers: Option<Vec<String>>,
    /// Token type (auth methods).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub token_type: String,
    /// Managed keys the mount may use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_managed_keys: Option<Vec<String>>,
    /// Plugin name (old servers only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plugin_name: String,
}

/// `GET sys/internal/ui/mounts`: the mounts the caller may see.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UiMounts {
    /// Secrets engines by path.
    #[serde(default)]
    pub secret: BTreeMap<String, MountOutput>,
    /// Auth methods by path (without the `auth/` prefix).
    #[serde(default)]
    pub auth: BTreeMap<String, MountOutput>,
}

fn to_body<T: Serialize>(client: &Client, path: &str, value: &T) -> Result<Value> {
    serde_json::to_value(value).map_err(|source| Error::Decode {
        method: "POST".into(),
        url: format!("{}/v1/{path}", client.address()),
        source,
    })
}

impl Client {
    /// `GET sys/mounts`: secrets engines by path (with trailing slash).
    pub async fn list_mounts(&self) -> Result<BTreeMap<String, MountOutput>> {
        self.call(Method::Get, "sys/mounts", None).await?.data()
    }

    /// `POST sys/mounts/<path>`: enables a secrets engine.
    pub async fn enable_mount(&self, path: &str, input: &MountInput) -> Result<()> {
        let path = format!("sys/mounts/{}", trim_path(path));
        let body = to_body(self, &path, input)?;
        self.call(Method::Post, &path, Some(&body)).await?;
        Ok(())
    }

    /// `DELETE sys/mounts/<path>`: disables a secrets engine (no error if absent).
    pub async fn disable_mount(&self, path: &str) -> Result<()> {
        let path = format!("sys/mounts/{}", trim_path(path));
        self.call(Method::Delete, &path, None).await?;
        Ok(())
    }

    /// `POST sys/mounts/<path>/tune`.
    pub async fn tune_mount(&self, path: &str, config: &MountConfigInput) -> Result<()> {
        let path = format!("sys/mounts/{}/tune", trim_path(path));
        let body = to_body(self, &path, config)?;
        self.call(Method::Post, &path, Some(&body)).await?;
        Ok(())
    }

    /// `GET sys/mounts/<path>/tune`.
    pub async fn read_mount_tune(&self, path: &str) -> Result<MountConfigOutput> {
        let path = format!("sys/mounts/{}/tune", trim_path(path));
        self.call(Method::Get, &path, None).await?.data()
    }

    /// `GET sys/auth`: auth methods by path (with trailing slash).
    pub async fn list_auth(&self) -> Result<BTreeMap<String, MountOutput>> {
        self.call(Method::Get, "sys/auth", None).await?.data()
    }

    /// `POST sys/auth/<path>`: enables an auth method.
    pub async fn enable_auth(&self, path: &str, input: &MountInput) -> Result<()> {
        let path = format!("sys/auth/{}", trim_path(path));
        let body = to_body(self, &path, input)?;
        self.call(Method::Post, &path, Some(&body)).await?;
        Ok(())
    }

    /// `DELETE sys/auth/<path>`: disables an auth method (no error if absent).
    pub async fn disable_auth(&self, path: &str) -> Result<()> {
        let path = format!("sys/auth/{}", trim_path(path));
        self.call(Method::Delete, &path, None).await?;
        Ok(())
    }

    /// `POST sys/mounts/auth/<path>/tune`, the path the `vault`/`bao` CLI uses.
    pub async fn tune_auth(&self, path: &str, config: &MountConfigInput) -> Result<()> {
        let path = format!("sys/mounts/auth/{}/tune", trim_path(path));
        let body = to_body(self, &path, config)?;
        self.call(Method::Post, &path, Some(&body)).await?;
        Ok(())
    }

    /// `GET sys/mounts/auth/<path>/tune`.
    pub async fn read_auth_tune(&self, path: &str) -> Result<MountConfigOutput> {
        let path = format!("sys/mounts/auth/{}/tune", trim_path(path));
        self.call(Method::Get, &path, None).await?.data()
    }

    /// `GET sys/internal/ui/mounts`.
    pub async fn internal_ui_mounts(&self) -> Result<UiMounts> {
        self.call(Method::Get, "sys/internal/ui/mounts", None)
            .await?
            .data()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_input_serializes_like_bao() {
        let input = MountInput {
            mount_type: "kv".into(),
            config: MountConfigInput {
                default_lease_ttl: "0s".into(),
                max_lease_ttl: "0s".into(),
                ..MountConfigInput::default()
            },
            ..MountInput::default()
        };
        assert_eq!(
            serde_json::to_string(&input).unwrap(),
            r#"{"type":"kv","description":"","config":{"options":null,"default_lease_ttl":"0s","max_lease_ttl":"0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}"#
        );
    }

    #[test]
    fn mount_output_reads_the_server_shape() {
        let m: MountOutput = serde_json::from_str(r#"{"accessor":"kv_1","config":{"default_lease_ttl":0,"force_no_cache":false,"max_lease_ttl":0},"deprecation_status":"supported","description":"","external_entropy_access":false,"local":false,"options":{"version":"2"},"plugin_version":"","running_plugin_version":"v2","running_sha256":"","seal_wrap":false,"type":"kv","uuid":"u"}"#).unwrap();
        assert_eq!(m.mount_type, "kv");
        assert_eq!(m.options.unwrap()["version"], "2");
    }
}

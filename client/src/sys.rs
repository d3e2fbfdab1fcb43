//! Bodies of the seal, init and health endpoints, which answer outside the
//! usual response envelope.

use serde::{Deserialize, Serialize};

/// `GET sys/seal-status`, and the answer of `PUT sys/unseal`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealStatus {
    /// The seal type (`shamir`).
    #[serde(rename = "type")]
    pub seal_type: String,
    /// Whether `sys/init` has run.
    pub initialized: bool,
    /// Whether the server is sealed.
    pub sealed: bool,
    /// Threshold of shares needed to unseal.
    pub t: u8,
    /// Number of shares.
    pub n: u8,
    /// Shares given so far in the current unseal attempt.
    pub progress: u8,
    /// Identifies the current unseal attempt; empty when none.
    pub nonce: String,
    /// Whether recovery keys are used (auto-unseal); always false here.
    pub recovery_seal: bool,
    /// Server version.
    pub version: String,
    /// Build date of the server.
    pub commit_date: String,
    /// Whether a seal migration is in progress.
    pub migration: bool,
    /// Cluster name, once unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Cluster id, once unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    /// The storage backend type.
    pub storage_type: String,
}

/// `GET sys/health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Whether `sys/init` has run.
    pub initialized: bool,
    /// Whether the server is sealed.
    pub sealed: bool,
    /// Whether this node is a standby.
    pub standby: bool,
    /// Replication mode (always `disabled` or `unknown`).
    pub replication_performance_mode: String,
    /// DR replication mode (always `disabled` or `unknown`).
    pub replication_dr_mode: String,
    /// Server time, Unix seconds.
    pub server_time_utc: i64,
    /// Server version.
    pub version: String,
    /// Cluster name, once unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// Cluster id, once unsealed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
}

/// `PUT sys/init` request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitRequest {
    /// Number of unseal key shares.
    #[serde(default)]
    pub secret_shares: i64,
    /// Shares needed to unseal.
    #[serde(default)]
    pub secret_threshold: i64,
    /// PGP keys to encrypt the shares with (not supported by Arca; must be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pgp_keys: Option<Vec<String>>,
    /// PGP key for the root token (not supported by Arca; must be empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root_token_pgp_key: Option<String>,
    /// Recovery shares (auto-unseal only; must be 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_shares: Option<i64>,
    /// Recovery threshold (auto-unseal only; must be 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_threshold: Option<i64>,
    /// Recovery PGP keys (auto-unseal only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_pgp_keys: Option<Vec<String>>,
}

/// `PUT sys/init` answer.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitResponse {
    /// Unseal key shares, hex.
    pub keys: Vec<String>,
    /// The same shares, base64.
    pub keys_base64: Vec<String>,
    /// The initial root token.
    pub root_token: String,
}

impl std::fmt::Debug for InitResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InitResponse(<{} keys and a root token, redacted>)",
            self.keys.len()
        )
    }
}

/// `PUT sys/unseal` request.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsealRequest {
    /// One key share, hex or base64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Discard the shares given so far.
    #[serde(default)]
    pub reset: bool,
    /// Seal migration (not supported).
    #[serde(default)]
    pub migrate: bool,
}

impl std::fmt::Debug for UnsealRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UnsealRequest")
            .field("key", &self.key.as_ref().map(|_| "<redacted>"))
            .field("reset", &self.reset)
            .finish()
    }
}

/// `GET sys/leader`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leader {
    /// Whether HA is enabled (a single node: false).
    pub ha_enabled: bool,
}

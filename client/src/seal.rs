//! Seal, unseal, init, health and leader: the endpoints that work while the
//! server is sealed. Their bodies are the types in [`crate::sys`].

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Client, Method};
use crate::error::Result;
use crate::sys::{Health, InitRequest, InitResponse, SealStatus};

/// `GET sys/leader` as a client sees it; every field is optional because
/// servers differ (Arca, a single node, sends only `ha_enabled`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderStatus {
    /// Whether HA is enabled.
    #[serde(default)]
    pub ha_enabled: bool,
    /// Whether the answering node is the active one.
    #[serde(default)]
    pub is_self: bool,
    /// Since when the active node is active, RFC 3339.
    #[serde(default)]
    pub active_time: Option<String>,
    /// API address of the active node.
    #[serde(default)]
    pub leader_address: String,
    /// Cluster address of the active node.
    #[serde(default)]
    pub leader_cluster_address: String,
    /// Raft committed index (raft storage only).
    #[serde(default)]
    pub raft_committed_index: u64,
    /// Raft applied index (raft storage only).
    #[serde(default)]
    pub raft_applied_index: u64,
}

#[derive(Deserialize)]
struct InitStatus {
    initialized: bool,
}

impl Client {
    /// `GET sys/seal-status`.
    pub async fn seal_status(&self) -> Result<SealStatus> {
        self.call(Method::Get, "sys/seal-status", None)
            .await?
            .json()
    }

    /// `GET sys/health`. The status code encodes the state (200 active,
    /// 429 standby, 501 uninitialized, 503 sealed…), so the body is decoded
    /// whatever the code; only a body that is not a health report is an error.
    pub async fn health(&self) -> Result<Health> {
        let resp = self.send(Method::Get, "sys/health", &[], None).await?;
        match serde_json::from_slice(&resp.body) {
            Ok(health) => Ok(health),
            Err(_) => {
                let resp = resp.check()?;
                resp.json()
            }
        }
    }

    /// `GET sys/init`: whether the server is initialized.
    pub async fn init_status(&self) -> Result<bool> {
        let status: InitStatus = self.call(Method::Get, "sys/init", None).await?.json()?;
        Ok(status.initialized)
    }

    /// `PUT sys/init`.
    pub async fn init(&self, request: &InitRequest) -> Result<InitResponse> {
        let body = serde_json::to_value(request).map_err(|source| crate::Error::Decode {
            method: "PUT".into(),
            url: format!("{}/v1/sys/init", self.address()),
            source,
        })?;
        self.call(Method::Put, "sys/init", Some(&body))
            .await?
            .json()
    }

    /// `PUT sys/unseal` with one key share (hex or base64).
    pub async fn unseal(&self, key: &str) -> Result<SealStatus> {
        let body = json!({"key": key, "reset": false, "migrate": false});
        self.call(Method::Put, "sys/unseal", Some(&body))
            .await?
            .json()
    }

    /// `PUT sys/unseal {"reset": true}`: forgets the shares given so far.
    pub async fn unseal_reset(&self) -> Result<SealStatus> {
        let body = json!({"reset": true});
        self.call(Method::Put, "sys/unseal", Some(&body))
            .await?
            .json()
    }

    /// `PUT sys/seal`.
    pub async fn seal(&self) -> Result<()> {
        self.call(Method::Put, "sys/seal", None).await?;
        Ok(())
    }

    /// `GET sys/leader`.
    pub async fn leader(&self) -> Result<LeaderStatus> {
        self.call(Method::Get, "sys/leader", None).await?.json()
    }
}

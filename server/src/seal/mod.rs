//! Seals: what protects the root key at rest. Today the Shamir seal: the
//! root key is split into unseal key shares handed out at init and never
//! stored. Its configuration is the one thing stored in clear, because it
//! must be read while sealed (to report the threshold).

pub mod shamir;

use serde::{Deserialize, Serialize};

use crate::storage::{self, DynBackend};

/// Where the seal configuration lives, unencrypted.
pub const SEAL_CONFIG_PATH: &str = "core/seal-config";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealConfig {
    #[serde(rename = "type")]
    pub seal_type: String,
    pub secret_shares: u8,
    pub secret_threshold: u8,
    /// Identifies this initialization (reported as the seal's nonce base).
    #[serde(default)]
    pub id: String,
}

impl SealConfig {
    pub fn shamir(shares: u8, threshold: u8) -> Self {
        Self {
            seal_type: "shamir".into(),
            secret_shares: shares,
            secret_threshold: threshold,
            id: uuid::Uuid::new_v4().to_string(),
        }
    }

    pub async fn load(backend: &DynBackend) -> storage::Result<Option<Self>> {
        match backend.get(SEAL_CONFIG_PATH).await? {
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                storage::Error::Backend(format!("seal configuration is corrupt: {e}"))
            }),
            None => Ok(None),
        }
    }

    pub async fn store(&self, backend: &DynBackend) -> storage::Result<()> {
        backend
            .put(SEAL_CONFIG_PATH, crate::barrier::view::to_json(self))
            .await
    }
}

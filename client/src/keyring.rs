//! The barrier keyring: `sys/key-status` and `sys/rotate`.

use serde::{Deserialize, Serialize};

use crate::client::{Client, Method};
use crate::error::Result;

/// `GET sys/key-status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyStatus {
    /// The active key term.
    pub term: u64,
    /// When the active key was installed, RFC 3339.
    pub install_time: String,
    /// Encryptions done with the active key.
    #[serde(default)]
    pub encryptions: u64,
}

impl Client {
    /// `GET sys/key-status`.
    pub async fn key_status(&self) -> Result<KeyStatus> {
        self.call(Method::Get, "sys/key-status", None).await?.data()
    }

    /// `PUT sys/rotate`: adds a new key term to the keyring.
    pub async fn rotate(&self) -> Result<()> {
        self.call(Method::Put, "sys/rotate", None).await?;
        Ok(())
    }
}

//! Leases: `sys/leases/lookup`, `renew`, `revoke`, `revoke-prefix`,
//! `revoke-force`.

use serde_json::json;

use crate::client::{Client, Method};
use crate::error::Result;
use crate::secret::Secret;

impl Client {
    /// `PUT sys/leases/lookup`: the lease's times (`data`).
    pub async fn lookup_lease(&self, lease_id: &str) -> Result<Secret> {
        let body = json!({ "lease_id": lease_id });
        self.call(Method::Put, "sys/leases/lookup", Some(&body))
            .await?
            .required_secret()
    }

    /// `PUT sys/leases/renew`, by `increment` seconds if given: the lease
    /// with its new duration.
    pub async fn renew_lease(&self, lease_id: &str, increment: Option<u64>) -> Result<Secret> {
        let mut body = json!({ "lease_id": lease_id });
        if let Some(i) = increment {
            body["increment"] = json!(i);
        }
        self.call(Method::Put, "sys/leases/renew", Some(&body))
            .await?
            .required_secret()
    }

    /// `PUT sys/leases/revoke`: undoes the secret and forgets the lease.
    pub async fn revoke_lease(&self, lease_id: &str) -> Result<()> {
        let body = json!({ "lease_id": lease_id });
        self.call(Method::Put, "sys/leases/revoke", Some(&body))
            .await
            .map(|_| ())
    }

    /// `PUT sys/leases/revoke-prefix/<prefix>` (sudo), or with `force`
    /// `revoke-force/<prefix>`: forgets the leases without undoing their
    /// secrets.
    pub async fn revoke_lease_prefix(&self, prefix: &str, force: bool) -> Result<()> {
        let verb = if force {
            "revoke-force"
        } else {
            "revoke-prefix"
        };
        let path = format!("sys/leases/{verb}/{}", prefix.trim_start_matches('/'));
        self.call(Method::Put, &path, Some(&json!({})))
            .await
            .map(|_| ())
    }
}

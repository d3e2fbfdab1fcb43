//! Revocation, whatever starts it (a deadline, a revoked token): a token
//! goes back to the token store, a lease to the mount that issued it.

use std::sync::Arc;

use async_trait::async_trait;

use std::time::Duration;

use crate::error::{Error, Result};
use crate::expiration::leases::{Issuers, LeaseEntry, Leases};
use crate::expiration::{Revoker, Target};
use crate::router::Mounts;
use crate::router::Route;
use crate::token::TokenStore;
use crate::token::store::RevokeHook;

pub(crate) struct Revocations {
    pub(super) tokens: Arc<TokenStore>,
    pub(super) leases: Arc<Leases>,
    pub(super) mounts: Arc<Mounts>,
    pub(super) events: Arc<crate::events::Events>,
    pub(super) clock: crate::clock::Clock,
}

impl Revocations {
    /// The route to the mount that issued `lease`.
    fn route(&self, lease: &LeaseEntry) -> Option<Arc<Route>> {
        let m = self.mounts.by_accessor(&lease.mount_accessor)?;
        let r = self.mounts.router().route(&m.route_prefix())?;
        (r.prefix == m.route_prefix()).then_some(r)
    }

    /// Revokes one lease: the issuing mount undoes its secret, then the
    /// lease is forgotten. A lease whose mount is gone has nothing left to
    /// undo.
    pub(super) async fn revoke_lease(&self, lease_id: &str, expired: bool) -> Result<()> {
        let Some(lease) = self.leases.get(lease_id).await? else {
            return Ok(());
        };
        let route = self.route(&lease);
        match &route {
            Some(r) => r.backend.revoke_secret(&lease).await?,
            None => tracing::warn!(lease_id, "the mount of a lease is gone; forgetting it"),
        }
        self.leases.remove(&lease).await?;
        if let (Some(r), true) = (route, self.events.listened()) {
            let now = self.clock.now_nanos();
            let event = crate::events::lease_gone(&r.entry, lease_id, &lease.path, expired, now);
            self.events.publish(event);
        }
        Ok(())
    }
}

#[async_trait]
impl Issuers for Revocations {
    async fn revoke_lease(&self, lease_id: &str) -> Result<()> {
        Revocations::revoke_lease(self, lease_id, false).await
    }

    async fn renew_secret(&self, lease: &LeaseEntry, ttl: Duration) -> Result<()> {
        match self.route(lease) {
            Some(r) => r.backend.renew_secret(lease, ttl).await,
            None => Err(Error::invalid("lease is not renewable: its mount is gone")),
        }
    }

    fn mount_ttls(&self, lease: &LeaseEntry) -> Option<(Duration, Duration)> {
        self.mounts
            .by_accessor(&lease.mount_accessor)
            .map(|m| self.mounts.ttls(&m))
    }
}

/// A token revoked takes the leases it created with it, as in Vault.
#[async_trait]
impl RevokeHook for Revocations {
    async fn token_revoked(&self, token_hash: &str) -> Result<()> {
        for id in self.leases.of_token(token_hash) {
            self.revoke_lease(&id, false).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl Revoker for Revocations {
    async fn revoke(&self, target: &Target) -> Result<()> {
        match target {
            // An expired token goes with its children, as in Vault.
            Target::Token(hash) => self.tokens.revoke_tree(hash).await,
            Target::Lease(key) => self.revoke_lease(&self.leases.id(key), true).await,
        }
    }
}

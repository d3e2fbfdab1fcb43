//! Step 7 of handle.rs, for a backend whose answer carries a secret with
//! a lifetime: its TTL is settled (the role's, within the mount's max), its
//! lease stored and registered, and the envelope reports the lease. If the
//! lease cannot be stored, the secret is undone at once: a credential
//! without a lease would never be revoked.

use std::time::Duration;

use crate::error::Result;
use crate::expiration::leases::{LeaseEntry, NewLease};
use crate::logical::{LeaseInfo, Request, Response};
use crate::router::Route;
use crate::ttl::Limits;

use super::Active;

pub(super) async fn lease_secret(
    active: &Active,
    req: &Request,
    route: &Route,
    mut resp: Response,
) -> Result<Response> {
    let Some(secret) = resp.secret.take() else {
        return Ok(resp);
    };
    let (mount_default, mount_max) = active.mounts.ttls(&route.entry);
    let limits = Limits {
        default: mount_default,
        max: secret.max_ttl.map_or(mount_max, |m| m.min(mount_max)),
        explicit_max: Duration::ZERO,
        period: Duration::ZERO,
    };
    let granted = limits.grant(secret.ttl);
    resp.warnings.extend(granted.warning);
    let new = NewLease {
        path: req.path.clone(),
        mount_accessor: route.entry.accessor.clone(),
        token_hash: req.token_hash.clone().unwrap_or_default(),
        internal: secret.internal,
        ttl: granted.ttl,
        renewable: secret.renewable,
        max_ttl: secret.max_ttl.unwrap_or_default(),
    };
    let internal = new.internal.clone();
    match active.leases.register(new).await {
        Ok(lease) => {
            resp.lease = Some(LeaseInfo {
                id: lease.lease_id,
                renewable: lease.renewable,
            });
            resp.lease_duration = granted.ttl.as_secs();
            Ok(resp)
        }
        Err(e) => {
            let unleased = LeaseEntry {
                lease_id: String::new(),
                path: req.path.clone(),
                mount_accessor: route.entry.accessor.clone(),
                token_hash: String::new(),
                internal,
                issue_time: 0,
                expire_time: 0,
                last_renewal: None,
                renewable: false,
                ttl: 0,
                max_ttl: 0,
            };
            if let Err(undo) = route.backend.revoke_secret(&unleased).await {
                tracing::error!(path = %req.path, error = %undo, "a secret whose lease could not be stored could not be undone either");
            }
            Err(e)
        }
    }
}

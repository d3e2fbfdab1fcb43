//! `sys/leases/`: `lookup` (and `LIST lookup/<prefix>`), `renew`
//! (`increment`), `revoke`, `revoke-prefix`, `revoke-force`, `tidy`, with
//! OpenBao's answers; and Vault's older paths `sys/renew`, `sys/revoke`,
//! `sys/revoke-prefix`, `sys/revoke-force` (OpenBao 2.7 dropped them).

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::SysBackend;
use crate::clock;
use crate::error::{Error, Result};
use crate::expiration::leases::LeaseEntry;
use crate::fields;
use crate::logical::{LeaseInfo, Operation, Request, Response};
use crate::ttl::Limits;

fn nanos_to_rfc3339(n: i64) -> Value {
    json!(clock::rfc3339_nanos(n))
}

/// The lease id of a request: the path's, else the body's `lease_id`.
fn lease_id(req: &Request, in_path: &str) -> Result<String> {
    let id = if in_path.is_empty() {
        fields::string(&req.data, "lease_id")?.unwrap_or_default()
    } else {
        in_path.to_owned()
    };
    if id.is_empty() {
        return Err(Error::invalid("lease_id must be specified"));
    }
    Ok(id)
}

fn lookup_data(e: &LeaseEntry, now: i64) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("expire_time".into(), nanos_to_rfc3339(e.expire_time));
    m.insert("id".into(), json!(e.lease_id));
    m.insert("issue_time".into(), nanos_to_rfc3339(e.issue_time));
    m.insert(
        "last_renewal".into(),
        e.last_renewal.map_or(Value::Null, nanos_to_rfc3339),
    );
    m.insert("path".into(), json!(e.path));
    m.insert("renewable".into(), json!(e.renewable));
    m.insert("ttl".into(), json!(e.ttl_remaining(now)));
    m
}

impl SysBackend {
    pub(super) async fn handle_leases(&self, req: &Request, rel: &str) -> Result<Response> {
        let op = req.operation;
        let write = matches!(op, Operation::Update | Operation::Create);
        // The legacy paths are the same operations.
        let rel = rel.strip_prefix("leases/").unwrap_or(rel);
        match rel {
            "lookup" if write => self.lookup(req).await,
            "lookup" if op == Operation::List => self.list("").await,
            r if op == Operation::List && r.starts_with("lookup/") => {
                self.list(&r["lookup/".len()..]).await
            }
            "tidy" if write => self.tidy().await,
            r if write => {
                let (verb, rest) = r.split_once('/').unwrap_or((r, ""));
                match verb {
                    "renew" => self.renew(req, rest).await,
                    "revoke" => self.revoke(req, rest).await,
                    "revoke-prefix" => self.revoke_prefix(rest, false).await,
                    "revoke-force" => self.revoke_prefix(rest, true).await,
                    _ => Err(Error::UnsupportedPath),
                }
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    /// A token's lease, by Vault's id for it: `<path it was made on>/<its
    /// store hash>` (`auth/token/create/<hash>`,
    /// `auth/userpass/login/alice/<hash>`).
    async fn token_lease(
        &self,
        id: &str,
    ) -> Result<Option<(String, std::sync::Arc<crate::token::TokenEntry>)>> {
        if !id.starts_with("auth/") {
            return Ok(None);
        }
        let Some((path, hash)) = id.rsplit_once('/') else {
            return Ok(None);
        };
        if hash.is_empty() || hash.contains('.') {
            return Ok(None);
        }
        Ok(self
            .tokens
            .get(hash)
            .await?
            .filter(|e| e.path.trim_end_matches('/') == path)
            .map(|e| (hash.to_owned(), e)))
    }

    async fn lookup(&self, req: &Request) -> Result<Response> {
        let id = lease_id(req, "")?;
        if let Some((_, e)) = self.token_lease(&id).await? {
            let now = self.leases.now();
            let mut m = Map::new();
            m.insert(
                "expire_time".into(),
                e.expire_time.map_or(Value::Null, nanos_to_rfc3339),
            );
            m.insert("id".into(), json!(id));
            m.insert("issue_time".into(), nanos_to_rfc3339(e.creation_time));
            m.insert(
                "last_renewal".into(),
                e.last_renewal.map_or(Value::Null, nanos_to_rfc3339),
            );
            m.insert("path".into(), json!(e.path));
            m.insert(
                "renewable".into(),
                json!(e.renewable && e.expire_time.is_some()),
            );
            m.insert("ttl".into(), json!(e.ttl_remaining(now)));
            return Ok(Response::data(m));
        }
        let lease = self
            .leases
            .get(&id)
            .await?
            .ok_or_else(|| Error::invalid("invalid lease"))?;
        Ok(Response::data(lookup_data(&lease, self.leases.now())))
    }

    async fn list(&self, prefix: &str) -> Result<Response> {
        let mut keys = self.leases.list(prefix).await?;
        // Tokens' leases, under `auth/`.
        let prefix = prefix.trim_start_matches('/');
        if prefix.is_empty() || prefix.starts_with("auth/") {
            let ids = self.tokens.lease_ids().await?;
            keys.extend(crate::storage::immediate_children(
                prefix,
                ids.iter().map(String::as_str),
            ));
            keys.sort();
            keys.dedup();
        }
        if keys.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::list(keys))
    }

    async fn renew(&self, req: &Request, in_path: &str) -> Result<Response> {
        let id = lease_id(req, in_path)?;
        if self.token_lease(&id).await?.is_some() {
            return Err(Error::invalid(
                "tokens cannot be renewed through this endpoint",
            ));
        }
        let lease = self
            .leases
            .get(&id)
            .await?
            .ok_or_else(|| Error::invalid("lease not found"))?;
        if !lease.renewable {
            return Err(Error::invalid("lease is not renewable"));
        }
        let (mount_default, mount_max) = self
            .issuers
            .mount_ttls(&lease)
            .ok_or_else(|| Error::invalid("lease is not renewable: its mount is gone"))?;
        let limits = Limits {
            default: match lease.ttl {
                0 => mount_default,
                s => Duration::from_secs(s),
            },
            max: match lease.max_ttl {
                0 => mount_max,
                s => Duration::from_secs(s).min(mount_max),
            },
            explicit_max: Duration::ZERO,
            period: Duration::ZERO,
        };
        let increment = fields::duration(&req.data, "increment")?.filter(|d| !d.is_zero());
        let now = self.leases.now();
        let elapsed = Duration::from_nanos(u64::try_from(now - lease.issue_time).unwrap_or(0));
        let granted = limits.renew(elapsed, increment);
        if granted.ttl.is_zero() {
            return Err(Error::invalid(
                "lease expired or past its max TTL: it cannot be renewed",
            ));
        }
        self.issuers.renew_secret(&lease, granted.ttl).await?;
        let lease = self.leases.renewed(lease, granted.ttl).await?;
        Ok(Response {
            lease: Some(LeaseInfo {
                id: lease.lease_id,
                renewable: lease.renewable,
            }),
            lease_duration: granted.ttl.as_secs(),
            warnings: granted.warning.into_iter().collect(),
            ..Default::default()
        })
    }

    async fn revoke(&self, req: &Request, in_path: &str) -> Result<Response> {
        let id = lease_id(req, in_path)?;
        if let Some((hash, _)) = self.token_lease(&id).await? {
            // A token's lease goes with the token (and its children).
            self.tokens.revoke_tree(&hash).await?;
            return Ok(Response::empty());
        }
        self.issuers.revoke_lease(&id).await?;
        Ok(Response::empty())
    }

    /// Every lease under `prefix`, through its mount (or, with `force`,
    /// only forgotten: for a mount that can no longer revoke).
    async fn revoke_prefix(&self, prefix: &str, force: bool) -> Result<Response> {
        // Tokens' leases under the prefix go with their tokens (forced or
        // not: revoking a token needs nothing outside Arca).
        let base = prefix.trim_start_matches('/');
        if base.starts_with("auth/") || "auth/".starts_with(base) {
            for id in self.tokens.lease_ids().await? {
                if !id.starts_with(base) {
                    continue;
                }
                if let Some((hash, _)) = self.token_lease(&id).await? {
                    self.tokens.revoke_tree(&hash).await?;
                }
            }
        }
        for id in self.leases.ids_under(prefix).await? {
            if force {
                if let Some(lease) = self.leases.get(&id).await? {
                    tracing::warn!(lease_id = %id, "lease forgotten without revoking its secret (revoke-force)");
                    self.leases.remove(&lease).await?;
                }
            } else {
                self.issuers.revoke_lease(&id).await?;
            }
        }
        Ok(Response::empty())
    }

    /// Revokes the leases of tokens that no longer exist (a crash between
    /// a token's revocation and its leases'), in the background.
    async fn tidy(&self) -> Result<Response> {
        let (leases, tokens, issuers) = (
            std::sync::Arc::clone(&self.leases),
            std::sync::Arc::clone(&self.tokens),
            std::sync::Arc::clone(&self.issuers),
        );
        tokio::spawn(async move {
            let all = match leases.all().await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "lease tidy could not list the leases");
                    return;
                }
            };
            let mut revoked = 0usize;
            for lease in all.iter().filter(|l| !l.token_hash.is_empty()) {
                if matches!(tokens.get(&lease.token_hash).await, Ok(None)) {
                    match issuers.revoke_lease(&lease.lease_id).await {
                        Ok(()) => revoked += 1,
                        Err(e) => {
                            tracing::warn!(lease_id = %lease.lease_id, error = %e, "lease tidy: revocation failed")
                        }
                    }
                }
            }
            tracing::info!(revoked, "lease tidy done");
        });
        Ok(Response {
            status: Some(202),
            warnings: vec![
                "Tidy operation successfully started. Any information from the operation will be printed to Arca's server logs."
                    .into(),
            ],
            ..Default::default()
        })
    }
}

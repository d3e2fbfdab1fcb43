//! The system backend (`sys/`), split by feature: mounts and auth methods
//! (mounts.rs), policies (policies.rs), capabilities (capabilities.rs),
//! keyring (keys.rs), UI helpers (ui.rs), metrics (metrics.rs), audit
//! devices (audit.rs), response wrapping (wrapping.rs), leases
//! (leases.rs). The seal
//! endpoints, which must work while sealed, are in http/sys_seal.rs.

mod audit;
mod capabilities;
mod keys;
mod leases;
mod metrics;
mod mounts;
mod policies;
mod quotas;
mod ui;
mod wrapping;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::audit::AuditBroker;
use crate::backend::Backend;
use crate::barrier::Barrier;
use crate::core::wrapping::Wrapper;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};
use crate::metrics::Metrics;
use crate::policy::PolicyStore;
use crate::router::Mounts;
use crate::token::TokenStore;

pub struct SysBackend {
    mounts: Arc<Mounts>,
    policies: Arc<PolicyStore>,
    tokens: Arc<TokenStore>,
    barrier: Arc<Barrier>,
    rotation: Arc<crate::barrier::rotation::AutoRotation>,
    metrics: Arc<Metrics>,
    audit: Arc<AuditBroker>,
    wrapper: Arc<Wrapper>,
    quotas: Arc<crate::quotas::Quotas>,
    identity: Arc<crate::identity::IdentityStore>,
    leases: Arc<crate::expiration::leases::Leases>,
    issuers: Arc<dyn crate::expiration::leases::Issuers>,
    password_policies: Arc<crate::password_policy::PasswordPolicies>,
    unauthenticated_metrics: bool,
}

/// What the system backend reaches into, wired once at unseal.
pub struct SysParts {
    pub mounts: Arc<Mounts>,
    pub policies: Arc<PolicyStore>,
    pub tokens: Arc<TokenStore>,
    pub barrier: Arc<Barrier>,
    pub rotation: Arc<crate::barrier::rotation::AutoRotation>,
    pub metrics: Arc<Metrics>,
    pub audit: Arc<AuditBroker>,
    pub wrapper: Arc<Wrapper>,
    pub quotas: Arc<crate::quotas::Quotas>,
    pub identity: Arc<crate::identity::IdentityStore>,
    pub leases: Arc<crate::expiration::leases::Leases>,
    pub issuers: Arc<dyn crate::expiration::leases::Issuers>,
    pub password_policies: Arc<crate::password_policy::PasswordPolicies>,
    pub unauthenticated_metrics: bool,
}

impl SysBackend {
    pub fn new(p: SysParts) -> Self {
        Self {
            mounts: p.mounts,
            policies: p.policies,
            tokens: p.tokens,
            barrier: p.barrier,
            rotation: p.rotation,
            metrics: p.metrics,
            audit: p.audit,
            wrapper: p.wrapper,
            quotas: p.quotas,
            identity: p.identity,
            leases: p.leases,
            issuers: p.issuers,
            password_policies: p.password_policies,
            unauthenticated_metrics: p.unauthenticated_metrics,
        }
    }
}

/// Vault's root-protected system paths (they need `sudo`).
const ROOT_PATHS: &[&str] = &[
    "seal",
    "auth/*",
    "remount",
    "audit",
    "audit/*",
    "raw",
    "raw/*",
    "rotate",
    "rotate/*",
    "config/cors",
    "config/auditing/*",
    "plugins/catalog/*",
    "revoke-prefix/*",
    "revoke-force/*",
    "leases/revoke-prefix/*",
    "leases/revoke-force/*",
    "leases/lookup/*",
    "leases",
];

/// `events/subscribe/*` needs a valid token but no grant on the path
/// itself: each event is checked against the token's ACL (http/events.rs),
/// so a subscriber hears only of paths it may read.
const UNAUTHENTICATED: &[&str] = &[
    "events/subscribe/*",
    "internal/ui/mounts",
    "internal/ui/mounts/*",
    "wrapping/lookup",
];
const UNAUTHENTICATED_WITH_METRICS: &[&str] = &[
    "events/subscribe/*",
    "internal/ui/mounts",
    "internal/ui/mounts/*",
    "wrapping/lookup",
    "metrics",
];

#[async_trait]
impl Backend for SysBackend {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    fn root_paths(&self) -> &'static [&'static str] {
        ROOT_PATHS
    }

    /// Policy names are stored lowercased, as in Vault.
    fn case_insensitive_names(&self) -> &'static [&'static str] {
        &["policies/acl/", "policy/"]
    }

    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        if self.unauthenticated_metrics {
            UNAUTHENTICATED_WITH_METRICS
        } else {
            UNAUTHENTICATED
        }
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        let op = req.operation;
        let first = rel.split('/').next().unwrap_or("");
        match first {
            "mounts" => self.handle_mounts(req, &rel).await,
            "auth" => self.handle_auth(req, &rel).await,
            "policies" if rel.starts_with("policies/password") => {
                self.handle_password_policies(req, &rel).await
            }
            "policy" | "policies" => self.handle_policies(req, &rel).await,
            "capabilities" | "capabilities-self" | "capabilities-accessor" if rel == first => {
                self.handle_capabilities(req, first).await
            }
            "key-status" | "rotate" => self.handle_keys(req, &rel).await,
            "internal" => self.handle_ui(req, &rel).await,
            "audit" | "audit-hash" => self.handle_audit(req, &rel).await,
            "wrapping" => self.handle_wrapping(req, &rel).await,
            "quotas" => self.handle_quotas(req, &rel).await,
            "leases" | "renew" | "revoke" | "revoke-prefix" | "revoke-force" => {
                self.handle_leases(req, &rel).await
            }
            // Authorized and audited here; the HTTP layer seals once the
            // request is answered.
            "seal" if rel == "seal" => match op {
                Operation::Update | Operation::Create => Ok(Response::empty()),
                _ => Err(Error::UnsupportedOperation),
            },
            // Authorized and audited here; the HTTP layer then turns the
            // connection into the event stream (http/events.rs).
            "events" if rel.starts_with("events/subscribe/") => match op {
                Operation::Read => Ok(Response::empty()),
                _ => Err(Error::UnsupportedOperation),
            },
            "metrics" if rel == "metrics" => self.handle_metrics(req).await,
            "config" if rel == "config/cors" => match op {
                Operation::Read => Ok(Response::from_value(json!({"enabled": false})).top_level()),
                _ => Err(Error::invalid(
                    "CORS configuration is not supported by Arca",
                )),
            },
            _ => Err(Error::UnsupportedPath),
        }
    }
}

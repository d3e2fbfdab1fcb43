//! The system backend (`sys/`), split by feature: mounts and auth methods
//! (mounts.rs), policies (policies.rs), capabilities (capabilities.rs),
//! keyring (keys.rs), UI helpers (ui.rs), metrics (metrics.rs). The seal
//! endpoints, which must work while sealed, are in http/sys_seal.rs.

mod capabilities;
mod keys;
mod metrics;
mod mounts;
mod policies;
mod ui;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use crate::backend::Backend;
use crate::barrier::Barrier;
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
    metrics: Arc<Metrics>,
    unauthenticated_metrics: bool,
}

impl SysBackend {
    pub fn new(
        mounts: Arc<Mounts>,
        policies: Arc<PolicyStore>,
        tokens: Arc<TokenStore>,
        barrier: Arc<Barrier>,
        metrics: Arc<Metrics>,
        unauthenticated_metrics: bool,
    ) -> Self {
        Self {
            mounts,
            policies,
            tokens,
            barrier,
            metrics,
            unauthenticated_metrics,
        }
    }
}

/// Vault's root-protected system paths (they need `sudo`).
const ROOT_PATHS: &[&str] = &[
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

const UNAUTHENTICATED: &[&str] = &[
    "internal/ui/mounts",
    "internal/ui/mounts/*",
    "wrapping/lookup",
];
const UNAUTHENTICATED_WITH_METRICS: &[&str] = &[
    "internal/ui/mounts",
    "internal/ui/mounts/*",
    "wrapping/lookup",
    "metrics",
];

#[async_trait]
impl Backend for SysBackend {
    fn root_paths(&self) -> &'static [&'static str] {
        ROOT_PATHS
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
            "policy" | "policies" => self.handle_policies(req, &rel).await,
            "capabilities" | "capabilities-self" | "capabilities-accessor" if rel == first => {
                self.handle_capabilities(req, first).await
            }
            "key-status" | "rotate" => self.handle_keys(req, &rel).await,
            "internal" => self.handle_ui(req, &rel).await,
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

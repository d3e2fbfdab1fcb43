//! The core: the seal state machine (uninitialized -> sealed -> unsealed)
//! and what exists only while unsealed (`Active`: the router, the stores).
//! lifecycle.rs brings the unsealed graph up and down in a written order;
//! handle.rs is the one path every request takes.

pub mod handle;
mod leasing;
pub mod lifecycle;
mod login;
mod revocations;
pub mod wrapping;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::watch;

use crate::barrier::Barrier;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::policy::PolicyStore;
use crate::router::Mounts;
use crate::router::mounts::SystemTtl;
use crate::secret::SecretBytes;
use crate::storage::DynBackend;
use crate::token::TokenStore;

/// Server-wide settings the core needs.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Reported by seal-status (`inmem`, `file`).
    pub storage_type: String,
    pub ttl: SystemTtl,
    /// Let `sys/metrics` answer without a token (dev mode, or telemetry
    /// `unauthenticated_metrics_access`).
    pub unauthenticated_metrics: bool,
    pub cluster_name: Option<String>,
    pub api_addr: Option<String>,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            storage_type: "inmem".into(),
            ttl: SystemTtl::default(),
            unauthenticated_metrics: false,
            cluster_name: None,
            api_addr: None,
        }
    }
}

/// Shares collected so far in an unseal attempt.
#[derive(Default)]
struct UnsealProgress {
    shares: Vec<SecretBytes>,
    nonce: String,
}

/// Everything that exists only while unsealed, wired at unseal in
/// lifecycle.rs and dropped at seal.
pub struct Active {
    pub mounts: Arc<Mounts>,
    pub policies: Arc<PolicyStore>,
    pub tokens: Arc<TokenStore>,
    pub audit: Arc<crate::audit::AuditBroker>,
    pub identity: Arc<crate::identity::IdentityStore>,
    pub quotas: Arc<crate::quotas::Quotas>,
    pub wrapper: Arc<wrapping::Wrapper>,
    pub leases: Arc<crate::expiration::leases::Leases>,
    pub password_policies: Arc<crate::password_policy::PasswordPolicies>,
    pub cluster_name: String,
    pub cluster_id: String,
    stop: watch::Sender<bool>,
}

pub struct Core {
    pub barrier: Arc<Barrier>,
    pub clock: Clock,
    pub config: CoreConfig,
    pub metrics: Arc<Metrics>,
    /// What changed, for `sys/events/subscribe` (crate::events).
    pub events: Arc<crate::events::Events>,
    progress: tokio::sync::Mutex<UnsealProgress>,
    active: RwLock<Option<Arc<Active>>>,
    /// Serializes init, unseal and seal.
    transition: tokio::sync::Mutex<()>,
    /// Cached: `sys/health` is polled hard and must not touch storage.
    initialized: AtomicBool,
}

impl Core {
    pub fn new(backend: DynBackend, config: CoreConfig, clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            barrier: Arc::new(Barrier::new(backend)),
            clock,
            config,
            metrics: Arc::new(Metrics::default()),
            events: Arc::new(crate::events::Events::default()),
            progress: tokio::sync::Mutex::new(UnsealProgress::default()),
            active: RwLock::new(None),
            transition: tokio::sync::Mutex::new(()),
            initialized: AtomicBool::new(false),
        })
    }

    /// Whether the server has been initialized (cached; see `load_state`).
    pub fn initialized(&self) -> bool {
        self.initialized.load(Ordering::Relaxed)
    }

    /// Reads from storage what the cached state needs; call at start-up.
    pub async fn load_state(&self) -> Result<()> {
        let init = self.is_initialized().await?;
        self.initialized.store(init, Ordering::Relaxed);
        Ok(())
    }

    fn mark_initialized(&self) {
        self.initialized.store(true, Ordering::Relaxed);
    }

    /// The unsealed graph, or `Sealed`.
    pub fn active(&self) -> Result<Arc<Active>> {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or(Error::Sealed)
    }

    pub fn is_sealed(&self) -> bool {
        self.active
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_none()
    }

    /// SIGHUP: audit devices reopen their files and connections.
    pub async fn reopen_audit(&self) {
        if let Ok(active) = self.active() {
            active.audit.reopen().await;
        }
    }

    fn set_active(&self, a: Option<Arc<Active>>) {
        *self.active.write().unwrap_or_else(|e| e.into_inner()) = a;
    }
}

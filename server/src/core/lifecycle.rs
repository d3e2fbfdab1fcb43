//! Init, unseal, seal: the transitions of the seal state machine, and the
//! bring-up of everything that exists while unsealed, in this order:
//!
//! 1. cluster identity (`core/cluster/local/info`)
//! 2. policy store (`sys/policy/`)
//! 3. the expiration manager and its task; the token store (`sys/token/`),
//!    whose deadlines it holds; the keyring's
//!    upkeep (`core/keyring-rotation-config`): counts stored, automatic
//!    rotation
//! 4. cubbyhole storage (`cubbyhole/`), hooked to token revocation, and
//!    the response wrapper on top of both
//! 5. audit broker (`core/audit`, salts under `sys/audit/`): devices are
//!    open before the first request can arrive
//! 6. identity store (`identity/`): entities and aliases; rate-limit
//!    quotas (`sys/quotas/`)
//! 7. mount manager with the built-in backends (`sys/`, `auth/token/`,
//!    `cubbyhole/`, `identity/`), then every mount in the stored tables
//!
//! Sealing tears it down in reverse: stop the expiration task, drop the graph, then
//! drop the keyring.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arca_client::sys::{InitRequest, InitResponse, SealStatus, UnsealRequest};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::wrapping::Wrapper;
use super::{Active, Core, UnsealProgress};
use crate::audit::AuditBroker;
use crate::auth;
use crate::backend::Backend;
use crate::barrier::rotation::AutoRotation;
use crate::barrier::{self, View, keyring};
use crate::engines;
use crate::engines::cubbyhole::Cubbyhole;
use crate::error::{Error, Result};
use crate::expiration::Expiration;
use crate::expiration::leases::Leases;
use crate::identity::{IdentityBackend, IdentityStore};
use crate::password_policy::PasswordPolicies;
use crate::policy::PolicyStore;
use crate::quotas::Quotas;
use crate::router::mounts::{MountRequest, builtin_entry};
use crate::router::{Mounts, Router, Table};
use crate::seal::{SealConfig, shamir};
use crate::secret::SecretBytes;
use crate::sys::{SysBackend, SysParts};
use crate::token::backend::TokenBackend;
use crate::token::{TokenEntry, TokenStore, TokenType};

/// Cluster name and id, created at first unseal.
const CLUSTER_INFO_PATH: &str = "core/cluster/local/info";
/// The system backend's own storage (policies, tokens live below it).
const SYS_VIEW: &str = "sys/";
/// Every token's cubbyhole, under its token hash. A fixed prefix: the
/// mount is built in and can never be disabled or moved.
const CUBBYHOLE_VIEW: &str = "cubbyhole/";
/// Entities and aliases; fixed for the same reason.
const IDENTITY_VIEW: &str = "identity/";

/// Shares shorter than this cannot be ours (Vault's bound too).
const MIN_SHARE_LEN: usize = 16;
const MAX_SHARE_LEN: usize = 33;

#[derive(Serialize, Deserialize)]
struct ClusterInfo {
    name: String,
    id: String,
}

/// The build date reported by seal-status.
pub const COMMIT_DATE: &str = "2026-11-23T00:00:00Z";

impl Core {
    pub async fn seal_status(&self) -> Result<SealStatus> {
        let config = SealConfig::load(self.barrier.backend()).await?;
        let initialized = self.barrier.is_initialized().await? && config.is_some();
        let active = self.active().ok();
        let progress = self.progress.lock().await;
        let (t, n) = config.map_or((0, 0), |c| (c.secret_threshold, c.secret_shares));
        Ok(SealStatus {
            seal_type: "shamir".into(),
            initialized,
            sealed: active.is_none(),
            t,
            n,
            progress: u8::try_from(progress.shares.len()).unwrap_or(u8::MAX),
            nonce: progress.nonce.clone(),
            recovery_seal: false,
            version: crate::VERSION.into(),
            commit_date: COMMIT_DATE.into(),
            migration: false,
            cluster_name: active.as_ref().map(|a| a.cluster_name.clone()),
            cluster_id: active.as_ref().map(|a| a.cluster_id.clone()),
            storage_type: self.config.storage_type.clone(),
        })
    }

    pub async fn is_initialized(&self) -> Result<bool> {
        Ok(self.barrier.is_initialized().await?
            && SealConfig::load(self.barrier.backend()).await?.is_some())
    }

    /// `sys/init`: creates the root key and keyring, splits the root key
    /// into shares, creates the root token. The server stays sealed.
    pub async fn init(&self, req: &InitRequest) -> Result<InitResponse> {
        let _t = self.transition.lock().await;
        validate_seal_config(req)?;
        if self.is_initialized().await? {
            return Err(Error::invalid("Vault is already initialized"));
        }
        let (shares_n, threshold) = (req.secret_shares as u8, req.secret_threshold as u8);
        let root = keyring::random_key();
        let shares = shamir::split(root.expose(), shares_n, threshold)
            .map_err(|e| Error::internal(e.to_string()))?;
        // The seal configuration goes first: a crash before the keyring is
        // written leaves an uninitialized server that can be initialized
        // again.
        SealConfig::shamir(shares_n, threshold)
            .store(self.barrier.backend())
            .await?;
        self.barrier
            .initialize(root.clone())
            .await
            .map_err(barrier_err)?;
        self.barrier.unseal(root).await.map_err(barrier_err)?;
        let root_token = async {
            let active = self.bring_up().await?;
            let token = create_root_token(&active.tokens, None).await;
            active.stop.send_replace(true);
            token
        }
        .await;
        self.barrier.seal();
        let root_token = root_token?;
        self.mark_initialized();
        Ok(InitResponse {
            keys: shares.iter().map(|s| hex::encode(s.expose())).collect(),
            keys_base64: shares.iter().map(|s| B64.encode(s.expose())).collect(),
            root_token,
        })
    }

    /// `sys/unseal`: takes one share; unseals when the threshold is met.
    pub async fn unseal(&self, req: &UnsealRequest) -> Result<SealStatus> {
        let _t = self.transition.lock().await;
        let Some(config) = SealConfig::load(self.barrier.backend()).await? else {
            return Err(Error::invalid("Vault is not initialized"));
        };
        if !self.barrier.is_initialized().await? {
            return Err(Error::invalid("Vault is not initialized"));
        }
        if !self.is_sealed() {
            // Still say what is wrong with a malformed share, as Vault does.
            if let Some(key) = req.key.as_deref() {
                decode_share(key)?;
            }
            drop(_t);
            return self.seal_status().await;
        }
        if req.reset {
            *self.progress.lock().await = UnsealProgress::default();
            drop(_t);
            return self.seal_status().await;
        }
        let Some(key) = req.key.as_deref() else {
            return Err(Error::invalid(
                "'key' must be specified in request body as JSON, or 'reset' set to true",
            ));
        };
        let share = decode_share(key)?;
        {
            let mut progress = self.progress.lock().await;
            if !progress.shares.iter().any(|s| s == &share) {
                progress.shares.push(share);
            }
            if progress.nonce.is_empty() {
                progress.nonce = uuid::Uuid::new_v4().to_string();
            }
            if progress.shares.len() < config.secret_threshold as usize {
                drop(progress);
                drop(_t);
                return self.seal_status().await;
            }
            let shares = std::mem::take(&mut progress.shares);
            progress.nonce.clear();
            let root = shamir::combine(&shares, config.secret_threshold).map_err(|e| {
                Error::invalid(format!("unable to retrieve stored keys: invalid key: {e}"))
            })?;
            if let Err(e) = self.barrier.unseal(root).await {
                return Err(match e {
                    barrier::Error::InvalidRootKey => {
                        Error::invalid(format!("unable to retrieve stored keys: invalid key: {e}"))
                    }
                    other => barrier_err(other),
                });
            }
        }
        match self.bring_up().await {
            Ok(active) => self.set_active(Some(active)),
            Err(e) => {
                self.barrier.seal();
                return Err(e);
            }
        }
        tracing::info!("vault is unsealed");
        drop(_t);
        self.seal_status().await
    }

    /// Seals: stops background work, drops the unsealed graph and every key.
    pub async fn seal(&self) {
        let _t = self.transition.lock().await;
        if let Some(active) = self
            .active
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            active.stop.send_replace(true);
            active.mounts.teardown();
        }
        self.events.close_all();
        if let Err(e) = self.barrier.store_count().await {
            tracing::warn!(error = %e, "could not store the keyring's encryption count");
        }
        self.barrier.seal();
        *self.progress.lock().await = UnsealProgress::default();
        tracing::info!("vault is sealed");
    }

    /// Builds the unsealed graph (see the module doc for the order).
    async fn bring_up(&self) -> Result<Arc<Active>> {
        let sys_view = View::new(Arc::clone(&self.barrier), SYS_VIEW);
        let info = match self.barrier.get(CLUSTER_INFO_PATH).await? {
            Some(bytes) => {
                serde_json::from_slice::<ClusterInfo>(&bytes).map_err(Error::internal)?
            }
            None => {
                let id = uuid::Uuid::new_v4();
                let info = ClusterInfo {
                    name: self.config.cluster_name.clone().unwrap_or_else(|| {
                        format!("vault-cluster-{}", &id.simple().to_string()[..8])
                    }),
                    id: id.to_string(),
                };
                self.barrier
                    .put(CLUSTER_INFO_PATH, &barrier::view::to_json(&info))
                    .await?;
                info
            }
        };
        let policies =
            Arc::new(PolicyStore::load(sys_view.sub("policy/"), self.clock.clone()).await?);
        let expiration = Expiration::new(self.clock.clone());
        let tokens = TokenStore::load(
            sys_view.sub("token/"),
            self.clock.clone(),
            Arc::clone(&expiration),
        )
        .await?;
        let (stop, stop_rx) = watch::channel(false);
        let leases = match Leases::load(
            sys_view.clone(),
            self.clock.clone(),
            Arc::clone(&expiration),
        )
        .await
        {
            Ok(l) => l,
            Err(e) => {
                stop.send_replace(true);
                return Err(e);
            }
        };
        let rotation = match AutoRotation::load(Arc::clone(&self.barrier), self.clock.clone()).await
        {
            Ok(r) => r,
            Err(e) => {
                stop.send_replace(true);
                return Err(e.into());
            }
        };
        tokio::spawn(Arc::clone(&rotation).run(stop_rx.clone()));

        let cubbyhole = Arc::new(Cubbyhole::new(View::new(
            Arc::clone(&self.barrier),
            CUBBYHOLE_VIEW,
        )));
        tokens.add_hook(Arc::clone(&cubbyhole) as _);
        let wrapper = Arc::new(Wrapper::new(
            Arc::clone(&tokens),
            Arc::clone(&cubbyhole),
            self.clock.clone(),
        ));
        let audit = match AuditBroker::load(
            Arc::clone(&self.barrier),
            sys_view.sub("audit/"),
            self.clock.clone(),
        )
        .await
        {
            Ok(a) => Arc::new(a),
            Err(e) => {
                stop.send_replace(true);
                return Err(e);
            }
        };

        let identity = match IdentityStore::load(
            View::new(Arc::clone(&self.barrier), IDENTITY_VIEW),
            self.clock.clone(),
        )
        .await
        {
            Ok(i) => Arc::new(i),
            Err(e) => {
                stop.send_replace(true);
                return Err(e);
            }
        };

        let quotas = match Quotas::load(sys_view.sub("quotas/"), self.clock.clone()).await {
            Ok(q) => Arc::new(q),
            Err(e) => {
                stop.send_replace(true);
                return Err(e);
            }
        };

        let router = Arc::new(Router::default());
        let secrets = engines::factory(self.clock.clone());
        let methods = auth::factory(self.clock.clone());
        let factory: crate::router::mounts::Factory =
            Arc::new(move |entry, view| match entry.table {
                Table::Mounts => secrets(entry, view),
                Table::Auth => methods(entry, view),
            });
        let mounts = Arc::new(Mounts::new(
            Arc::clone(&self.barrier),
            router,
            factory,
            self.config.ttl,
        ));
        let revocations = Arc::new(super::revocations::Revocations {
            tokens: Arc::clone(&tokens),
            leases: Arc::clone(&leases),
            mounts: Arc::clone(&mounts),
            events: Arc::clone(&self.events),
            clock: self.clock.clone(),
        });
        let password_policies = PasswordPolicies::new(sys_view.sub("password_policy/"));
        let sys: Arc<dyn Backend> = Arc::new(SysBackend::new(SysParts {
            mounts: Arc::clone(&mounts),
            policies: Arc::clone(&policies),
            tokens: Arc::clone(&tokens),
            barrier: Arc::clone(&self.barrier),
            rotation,
            metrics: Arc::clone(&self.metrics),
            audit: Arc::clone(&audit),
            wrapper: Arc::clone(&wrapper),
            quotas: Arc::clone(&quotas),
            identity: Arc::clone(&identity),
            leases: Arc::clone(&leases),
            issuers: Arc::clone(&revocations) as _,
            password_policies: Arc::clone(&password_policies),
            unauthenticated_metrics: self.config.unauthenticated_metrics,
        }));
        let token_backend: Arc<dyn Backend> = Arc::new(TokenBackend::new(
            Arc::clone(&tokens),
            Arc::clone(&policies),
            Arc::clone(&mounts),
        ));
        let builtins: HashMap<String, Arc<dyn Backend>> = HashMap::from([
            ("system".to_owned(), sys),
            ("token".to_owned(), token_backend),
            (
                "cubbyhole".to_owned(),
                Arc::clone(&cubbyhole) as Arc<dyn Backend>,
            ),
            (
                "identity".to_owned(),
                Arc::new(IdentityBackend::new(
                    Arc::clone(&identity),
                    Arc::clone(&mounts),
                )) as Arc<dyn Backend>,
            ),
        ]);
        let defaults = vec![
            builtin_entry(
                Table::Mounts,
                "sys/",
                "system",
                "system endpoints used for control, policy and debugging",
            ),
            builtin_entry(
                Table::Mounts,
                "cubbyhole/",
                "cubbyhole",
                "per-token private secret storage",
            ),
            builtin_entry(Table::Mounts, "identity/", "identity", "identity store"),
            builtin_entry(Table::Auth, "token/", "token", "token based credentials"),
        ];
        if let Err(e) = mounts.load(builtins, defaults).await {
            stop.send_replace(true);
            return Err(e);
        }
        // Last, once every mount a lease may go back to is there.
        tokens.add_hook(Arc::clone(&revocations) as _);
        tokio::spawn(Arc::clone(&expiration).run(revocations, stop_rx));
        Ok(Arc::new(Active {
            mounts,
            policies,
            tokens,
            audit,
            identity,
            quotas,
            wrapper,
            leases,
            password_policies,
            cluster_name: info.name,
            cluster_id: info.id,
            stop,
        }))
    }

    /// Dev mode: initialize with one share, unseal, make the root token
    /// `root_token_id` (or a random one) and mount KV v2 at `secret/`.
    /// Returns (unseal key base64, root token).
    pub async fn dev_setup(&self, root_token_id: Option<String>) -> Result<(String, String)> {
        let init = self
            .init(&InitRequest {
                secret_shares: 1,
                secret_threshold: 1,
                ..Default::default()
            })
            .await?;
        let key = init.keys_base64.first().cloned().unwrap_or_default();
        self.unseal(&UnsealRequest {
            key: Some(key.clone()),
            ..Default::default()
        })
        .await?;
        let active = self.active()?;
        let root = match root_token_id {
            Some(id) => {
                // Replace the random init root token by the chosen one.
                if let Some((hash, _)) = active.tokens.lookup(&init.root_token).await? {
                    active.tokens.revoke_tree(&hash).await?;
                }
                create_root_token(&active.tokens, Some(id)).await?
            }
            None => init.root_token.clone(),
        };
        active
            .mounts
            .mount(
                Table::Mounts,
                "secret/",
                MountRequest {
                    mount_type: "kv".into(),
                    description: "key/value secret storage".into(),
                    options: Some(BTreeMap::from([("version".to_owned(), "2".to_owned())])),
                    ..Default::default()
                },
            )
            .await?;
        Ok((key, root))
    }
}

async fn create_root_token(tokens: &TokenStore, id: Option<String>) -> Result<String> {
    let now = tokens.clock().now_nanos();
    // A root token with an id of the operator's choosing (dev mode's
    // `-dev-root-token-id`) is made as Vault makes it, through token
    // create: named `token`, with that path.
    let (path, display_name) = if id.is_some() {
        ("auth/token/create", "token")
    } else {
        ("auth/token/root", "root")
    };
    let entry = TokenEntry::new(
        TokenType::Service,
        vec!["root".into()],
        path,
        display_name,
        now,
        std::time::Duration::ZERO,
    );
    tokens.create(entry, id).await
}

fn barrier_err(e: barrier::Error) -> Error {
    Error::from(e)
}

fn validate_seal_config(req: &InitRequest) -> Result<()> {
    let bad = |m: &str| Err(Error::invalid(format!("invalid seal configuration: {m}")));
    let (n, t) = (req.secret_shares, req.secret_threshold);
    if n < 1 {
        return bad("shares must be at least one");
    }
    if t < 1 {
        return bad("threshold must be at least one");
    }
    if n > 1 && t == 1 {
        return bad("threshold must be greater than one for multiple shares");
    }
    if n > 255 {
        return bad("shares must be less than 256");
    }
    if t > 255 {
        return bad("threshold must be less than 256");
    }
    if t > n {
        return bad("threshold cannot be larger than shares");
    }
    if req.pgp_keys.as_ref().is_some_and(|k| !k.is_empty())
        || req
            .root_token_pgp_key
            .as_ref()
            .is_some_and(|k| !k.is_empty())
    {
        return bad("PGP-encrypted keys are not supported by Arca");
    }
    if req.recovery_shares.unwrap_or(0) != 0 || req.recovery_threshold.unwrap_or(0) != 0 {
        return bad("recovery keys are only for auto-unseal, which this seal is not");
    }
    Ok(())
}

/// A share in hex or base64, length-checked.
pub(crate) fn decode_share(key: &str) -> Result<SecretBytes> {
    let key = key.trim();
    let bytes = hex::decode(key)
        .or_else(|_| B64.decode(key))
        .map_err(|_| Error::invalid("'key' must be a valid hex or base64 string"))?;
    let bytes = SecretBytes::new(bytes);
    if bytes.len() < MIN_SHARE_LEN {
        return Err(Error::invalid(format!(
            "invalid key: key is shorter than minimum {MIN_SHARE_LEN} bytes"
        )));
    }
    if bytes.len() > MAX_SHARE_LEN {
        return Err(Error::invalid(format!(
            "invalid key: key is longer than maximum {MAX_SHARE_LEN} bytes"
        )));
    }
    Ok(bytes)
}

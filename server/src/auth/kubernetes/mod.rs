//! The `kubernetes` auth method: pods log in with their service-account
//! token and get the token their role grants. What every injected agent
//! uses.
//!
//! - config.rs: `config` (API server, CA, reviewer JWT, `pem_keys`,
//!   issuer) and the in-pod fallback (`PodEnv`)
//! - role.rs: `role/:name` and `role/` (LIST); bounds with Vault's globs
//! - login.rs: `login` (role + jwt), the checks in Vault's order
//! - jwt.rs: parsing and verifying service-account JWTs locally
//! - token_review.rs: the TokenReview API, and namespace labels
//! - selector.rs: a role's namespace label selector
//!
//! The method checks; the core mints (core/login.rs). The config is cached
//! in memory (with its keys parsed) so a login with `pem_keys` costs one
//! role read and one signature check.

mod config;
pub(crate) mod jwt;
mod login;
mod role;
mod selector;
mod token_review;

pub use config::{POD_CA_PATH, POD_TOKEN_PATH, PodEnv};

use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::backend::Backend;
use crate::barrier::View;
use crate::barrier::view::to_json;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use config::Config;
use role::{ROLE_PREFIX, Role};
use token_review::ApiClient;

/// The method's one config entry.
const CONFIG_PATH: &str = "config";

/// The config as last read or written; `Unknown` until the first login
/// or read after the mount is loaded.
enum Cached {
    Unknown,
    Loaded(Option<Arc<Config>>),
}

pub struct Kubernetes {
    view: View,
    clock: Clock,
    pod: PodEnv,
    api: ApiClient,
    config: RwLock<Cached>,
    /// Serializes config and role read-modify-writes.
    write: tokio::sync::Mutex<()>,
}

impl Kubernetes {
    /// A mount that, in a pod, falls back to the pod's own service account.
    pub fn new(view: View, clock: Clock) -> Self {
        Self::with_pod(view, clock, PodEnv::in_cluster())
    }

    /// A mount with the pod's files and address given (tests).
    pub fn with_pod(view: View, clock: Clock, pod: PodEnv) -> Self {
        Self {
            view,
            clock,
            pod,
            api: ApiClient::new(),
            config: RwLock::new(Cached::Unknown),
            write: tokio::sync::Mutex::new(()),
        }
    }

    async fn config(&self) -> Result<Option<Arc<Config>>> {
        if let Cached::Loaded(c) = &*self.config.read().unwrap_or_else(|e| e.into_inner()) {
            return Ok(c.clone());
        }
        let loaded = match self.view.get(CONFIG_PATH).await? {
            Some(bytes) => Some(Arc::new(Config::load(&bytes)?)),
            None => None,
        };
        let mut cache = self.config.write().unwrap_or_else(|e| e.into_inner());
        // A write that finished meanwhile is newer than what we read.
        if let Cached::Unknown = *cache {
            *cache = Cached::Loaded(loaded.clone());
        }
        Ok(loaded)
    }

    async fn write_config(&self, req: &Request) -> Result<Response> {
        let _guard = self.write.lock().await;
        let (config, warnings) = Config::from_write(&req.data, &self.pod).await?;
        self.view.put(CONFIG_PATH, &to_json(&config)).await?;
        *self.config.write().unwrap_or_else(|e| e.into_inner()) =
            Cached::Loaded(Some(Arc::new(config)));
        let mut resp = Response::empty();
        resp.warnings = warnings;
        Ok(resp)
    }

    async fn role(&self, name: &str) -> Result<Option<Role>> {
        Ok(self.view.get_json::<Role>(&role::key(name)).await?)
    }

    async fn write_role(&self, req: &Request, name: &str) -> Result<Response> {
        let _guard = self.write.lock().await;
        let existing = self.role(name).await?;
        let role = Role::from_write(existing, &req.data)?;
        self.view.put_json(&role::key(name), &role).await?;
        Ok(Response::empty())
    }

    async fn list_roles(&self, req: &Request) -> Result<Response> {
        let after = fields::string(&req.data, "after")?.unwrap_or_default();
        let limit = fields::int(&req.data, "limit")?.unwrap_or(0);
        let mut names = self.view.list(ROLE_PREFIX).await?;
        names.sort();
        let names: Vec<String> = names
            .into_iter()
            .filter(|n| after.is_empty() || *n > after)
            .take(
                usize::try_from(limit)
                    .ok()
                    .filter(|l| *l > 0)
                    .unwrap_or(usize::MAX),
            )
            .collect();
        if names.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::list(names))
    }
}

#[async_trait]
impl Backend for Kubernetes {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    async fn renew_login(
        &self,
        entry: &crate::token::TokenEntry,
    ) -> Result<Option<crate::auth::token_params::TokenParams>> {
        let name = crate::auth::token_meta(entry, "role");
        match self.role(&name).await? {
            Some(role) => Ok(Some(role.token)),
            None => Err(Error::invalid(format!(
                "role {name:?} does not exist during renewal"
            ))),
        }
    }

    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &["login"]
    }

    /// Role names are stored lowercased, as in Vault.
    fn case_insensitive_names(&self) -> &'static [&'static str] {
        &[ROLE_PREFIX]
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        match req.rel_path().strip_prefix(ROLE_PREFIX) {
            Some(name) if role::valid_name(name) => Ok(Some(self.role(name).await?.is_some())),
            _ => Ok(None),
        }
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        let parts: Vec<&str> = rel.trim_end_matches('/').split('/').collect();
        match (parts.as_slice(), op) {
            (["config"], Operation::Read) => match self.config().await? {
                Some(c) => Ok(Response::data(c.to_read())),
                None => Err(Error::NotFound),
            },
            (["config"], _) if write => self.write_config(req).await,
            (["role"], Operation::List) => self.list_roles(req).await,
            (["role", name], _) if !role::valid_name(name) => Err(Error::UnsupportedPath),
            (["role", name], Operation::Read) => {
                let role = self.role(name).await?.ok_or(Error::NotFound)?;
                Ok(Response::data(role.to_read()))
            }
            (["role", name], _) if write => self.write_role(req, name).await,
            (["role", name], Operation::Delete) => {
                let _guard = self.write.lock().await;
                self.view.delete(&role::key(name)).await?;
                Ok(Response::empty())
            }
            (["login"], _) if write => self.login(req).await,
            (["config"] | ["role"] | ["role", _] | ["login"], _) => {
                Err(Error::UnsupportedOperation)
            }
            _ => Err(Error::UnsupportedPath),
        }
    }
}

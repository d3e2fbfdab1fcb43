//! The `jwt` auth method, also mounted as type `oidc`: log in with a JWT
//! signed by a key Arca trusts (static PEM keys, a JWKS URL, or an OIDC
//! provider's discovered keys), checked against a role's bindings. This
//! is also how a cluster whose service-account issuer is public is
//! trusted without TokenReview: its projected tokens verify against the
//! JWKS its discovery document names.
//!
//! config.rs: `config`, checked on write. role.rs: `role/:name`.
//! keys.rs: algorithms and public keys. jwks.rs: key sources, JWKS cache
//! and discovery. claims.rs: claim lookup and matching. login.rs: `login`.
//!
//! The browser flow (`oidc/auth_url`, `oidc/callback`, `oidc/poll`)
//! answers a clear error: Arca logs in with JWTs only.

pub(crate) mod claims;
mod config;
mod jwks;
pub(crate) mod keys;
mod login;
mod role;

use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use crate::secret::SecretString;

use config::{CONFIG_KEY, Config};
use jwks::KeySource;
use role::{ROLE_PREFIX, Role};

/// The config in use and the key source built from it.
type Validator = (Arc<Config>, Arc<KeySource>);

pub struct Jwt {
    view: View,
    clock: Clock,
    /// Serializes read-modify-write of the config and roles.
    write: tokio::sync::Mutex<()>,
    /// Built once per config: logins share its cached remote keys.
    validator: RwLock<Option<Validator>>,
    /// Held while a validator is built, so a cold start fetches once.
    building: tokio::sync::Mutex<()>,
}

impl Jwt {
    pub fn new(view: View, clock: Clock) -> Self {
        Self {
            view,
            clock,
            write: tokio::sync::Mutex::new(()),
            validator: RwLock::new(None),
            building: tokio::sync::Mutex::new(()),
        }
    }

    async fn config(&self) -> Result<Option<Config>> {
        Ok(self.view.get_json::<Config>(CONFIG_KEY).await?)
    }

    async fn role(&self, name: &str) -> Result<Option<Role>> {
        Ok(self
            .view
            .get_json::<Role>(&format!("{ROLE_PREFIX}{}", name.to_lowercase()))
            .await?)
    }

    fn cached(&self) -> Option<Validator> {
        self.validator
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_cached(&self, v: Option<Validator>) {
        *self.validator.write().unwrap_or_else(|e| e.into_inner()) = v;
    }

    /// The config and its key source. `Ok(None)`: no config. A key source
    /// that cannot be built is `Err(text)` for the caller to word.
    async fn validator(&self) -> Result<Option<Result<Validator, String>>> {
        if let Some(v) = self.cached() {
            return Ok(Some(Ok(v)));
        }
        let _one = self.building.lock().await;
        if let Some(v) = self.cached() {
            return Ok(Some(Ok(v)));
        }
        let Some(config) = self.config().await? else {
            return Ok(None);
        };
        match config.key_source(&self.clock).await {
            Ok(keys) => {
                let v = (Arc::new(config), Arc::new(keys));
                self.set_cached(Some(v.clone()));
                Ok(Some(Ok(v)))
            }
            Err(e) => Ok(Some(Err(e))),
        }
    }

    async fn write_config(&self, req: &Request) -> Result<Response> {
        let _guard = self.write.lock().await;
        let existing = self.config().await?;
        let written = Config::write(&req.data, existing.as_ref(), &self.clock).await?;
        // A login building a validator from the old config must not
        // overwrite the one built here.
        let _no_build = self.building.lock().await;
        self.view.put_json(CONFIG_KEY, &written.config).await?;
        self.set_cached(written.keys.map(|k| (Arc::new(written.config.clone()), k)));
        let mut resp = Response::empty();
        resp.warnings = written.warnings;
        Ok(resp)
    }

    async fn read_config(&self) -> Result<Response> {
        let Some(state) = self.validator().await? else {
            return Err(Error::NotFound);
        };
        let (config, problem) = match state {
            Ok((c, _)) => ((*c).clone(), None),
            Err(e) => (self.config().await?.unwrap_or_default(), Some(e)),
        };
        let mut resp = Response::data(config.to_data(problem.as_deref()));
        if let Some(e) = problem {
            resp.warnings
                .push(format!("failed to construct JWK validator: {e}"));
        }
        Ok(resp)
    }

    async fn write_role(&self, req: &Request, name: &str) -> Result<Response> {
        let _guard = self.write.lock().await;
        let mut role = self.role(name).await?.unwrap_or_else(Role::new);
        let warnings = role.update(&req.data)?;
        self.view
            .put_json(&format!("{ROLE_PREFIX}{}", name.to_lowercase()), &role)
            .await?;
        let mut resp = Response::empty();
        resp.warnings = warnings;
        Ok(resp)
    }

    async fn login(&self, req: &Request) -> Result<Response> {
        let state = self
            .validator()
            .await?
            .ok_or_else(|| Error::invalid("could not load configuration"))?;
        let stored_default = match &state {
            Ok((c, _)) => c.default_role.clone(),
            Err(_) => self
                .config()
                .await?
                .map(|c| c.default_role)
                .unwrap_or_default(),
        };
        let role_name = fields::string(&req.data, "role")?
            .map(|r| r.to_lowercase())
            .filter(|r| !r.is_empty())
            .unwrap_or(stored_default);
        if role_name.is_empty() {
            return Err(Error::invalid("missing role"));
        }
        let role = self
            .role(&role_name)
            .await?
            .ok_or_else(|| Error::invalid(format!("role {role_name:?} could not be found")))?;
        if role.role_type == "oidc" {
            return Err(Error::invalid("role with oidc role_type is not allowed"));
        }
        let jwt = fields::string(&req.data, "jwt")?
            .filter(|t| !t.is_empty())
            .map(SecretString::new)
            .ok_or_else(|| Error::invalid("missing token"))?;
        if !crate::cidr::allowed(&role.token.bound_cidrs, req.remote_addr) {
            return Err(Error::PermissionDenied);
        }
        let (config, keys) =
            state.map_err(|e| Error::invalid(format!("error configuring token validator: {e}")))?;
        let now = i128::from(self.clock.now_nanos());
        let all = login::validate(jwt.expose(), &config, &role, &keys, now)
            .await
            .map_err(|e| Error::invalid(format!("error validating token: {e}")))?;
        let l = login::login_from_claims(&all, &role_name, &role).map_err(Error::invalid)?;
        Ok(Response::login(l))
    }
}

/// What the browser OIDC endpoints answer.
fn oidc_flow_unsupported(mount: &str) -> Error {
    Error::invalid(format!(
        "the OIDC authorization code flow is not supported by Arca; log in with a JWT at {mount}login"
    ))
}

#[async_trait]
impl Backend for Jwt {
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
                "role {name:?} could not be found during renewal"
            ))),
        }
    }

    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &["login", "oidc/auth_url", "oidc/callback", "oidc/poll"]
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
        match (rel.as_str(), op) {
            ("config", Operation::Read) => self.read_config().await,
            ("config", _) if write => self.write_config(req).await,
            ("config", _) => Err(Error::UnsupportedOperation),
            ("login", _) if write => self.login(req).await,
            ("login", _) => Err(Error::UnsupportedOperation),
            ("role" | "role/", Operation::List) => {
                let mut names = self.view.list(ROLE_PREFIX).await?;
                if names.is_empty() {
                    return Err(Error::NotFound);
                }
                names.sort();
                Ok(Response::list(names))
            }
            ("role" | "role/", _) => Err(Error::UnsupportedOperation),
            ("oidc/auth_url" | "oidc/callback" | "oidc/poll", _) => {
                Err(oidc_flow_unsupported(&req.mount_point))
            }
            (r, _) if r.starts_with("cel/") => {
                Err(Error::invalid("CEL roles are not supported by Arca"))
            }
            (r, _) => {
                let Some(name) = r.strip_prefix(ROLE_PREFIX).filter(|n| role::valid_name(n)) else {
                    return Err(Error::UnsupportedPath);
                };
                match op {
                    Operation::Read => {
                        let role = self.role(name).await?.ok_or(Error::NotFound)?;
                        Ok(Response::data(role.to_data()))
                    }
                    Operation::Delete => {
                        self.view
                            .delete(&format!("{ROLE_PREFIX}{}", name.to_lowercase()))
                            .await?;
                        Ok(Response::empty())
                    }
                    _ if write => self.write_role(req, name).await,
                    _ => Err(Error::UnsupportedOperation),
                }
            }
        }
    }
}

//! The `auth/token/` endpoints: create, look up, renew and revoke tokens,
//! list accessors. Semantics follow Vault's token store: children inherit
//! or narrow their parent's policies, `root` can only be granted by root,
//! TTLs are capped by `explicit_max_ttl` and the mount's max TTL with a
//! warning, a parent's revocation takes its children with it.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{TokenEntry, TokenStore, TokenType, display_name};
use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Auth, Operation, Request, Response};
use crate::policy::PolicyStore;
use crate::router::{Mounts, Table};
use crate::ttl::Limits;

pub struct TokenBackend {
    store: Arc<TokenStore>,
    policies: Arc<PolicyStore>,
    mounts: Arc<Mounts>,
}

fn multi(msg: &str) -> Error {
    Error::InvalidRequestWrapped(msg.to_owned())
}

impl TokenBackend {
    pub fn new(store: Arc<TokenStore>, policies: Arc<PolicyStore>, mounts: Arc<Mounts>) -> Self {
        Self {
            store,
            policies,
            mounts,
        }
    }

    /// (default, max) TTL of the token mount.
    fn ttls(&self) -> (Duration, Duration) {
        match self.mounts.get(Table::Auth, "token/") {
            Some(e) => self.mounts.ttls(&e),
            None => {
                let t = self.mounts.system_ttl();
                (t.default, t.max)
            }
        }
    }

    fn caller(req: &Request) -> Result<(String, Arc<TokenEntry>)> {
        match (&req.token_hash, &req.token_entry) {
            (Some(h), Some(e)) => Ok((h.clone(), Arc::clone(e))),
            _ => Err(Error::PermissionDenied),
        }
    }

    async fn create(&self, req: &Request, orphan_path: bool) -> Result<Response> {
        let (parent_hash, parent) = Self::caller(req)?;
        // Vault's rules: a limited token's limits cannot be shed by making
        // a child of it.
        if parent.num_uses != 0 {
            return Err(Error::invalid(
                "restricted use token cannot generate child tokens",
            ));
        }
        if parent.is_batch() {
            return Err(Error::invalid("batch tokens cannot create more tokens"));
        }
        let d = &req.data;
        let mut warnings = Vec::new();
        let num_uses = fields::int(d, "num_uses")?.unwrap_or(0);
        if num_uses < 0 {
            return Err(Error::invalid("number of uses cannot be negative"));
        }
        let privileged = parent.is_root() || req.root_privs;
        let id = fields::string(d, "id")?.filter(|s| !s.is_empty());
        if id.is_some() && !privileged {
            return Err(Error::invalid(
                "root or sudo privileges required to specify token id",
            ));
        }
        if id
            .as_deref()
            .is_some_and(|i| i.starts_with(super::SERVICE_TOKEN_PREFIX) || i.starts_with("b."))
        {
            return Err(Error::invalid(format!(
                "custom token ID cannot have the '{}' prefix",
                &id.as_deref().unwrap_or_default()[..2]
            )));
        }
        let no_parent = fields::bool(d, "no_parent")?.unwrap_or(false);
        if no_parent && !privileged {
            return Err(Error::invalid(
                "root or sudo privileges required to create orphan token",
            ));
        }
        let orphan = orphan_path || no_parent;
        let batch = match fields::string(d, "type")?.as_deref() {
            None | Some("" | "service" | "default") => false,
            Some("batch") => true,
            Some(t) => return Err(Error::invalid(format!("invalid token type {t:?}"))),
        };
        if batch && id.is_some() {
            return Err(Error::invalid("batch tokens cannot have a custom id"));
        }

        // Policies: the request's, or the parent's; a non-root parent can
        // only hand out a subset of its own.
        let no_default = fields::bool(d, "no_default_policy")?.unwrap_or(false);
        let requested = fields::string_list(d, "policies")?;
        let mut policies: Vec<String> = match &requested {
            Some(p) if !p.is_empty() => p
                .iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect(),
            _ => parent.policies.clone(),
        };
        if !parent.is_root() && requested.as_ref().is_some_and(|p| !p.is_empty()) {
            let allowed = |p: &String| p == "default" || parent.policies.contains(p);
            if policies.iter().any(|p| !allowed(p)) {
                return Err(Error::invalid("child policies must be subset of parent"));
            }
        }
        if policies.iter().any(|p| p == "root") {
            if !parent.is_root() {
                return Err(Error::invalid("child policies must be subset of parent"));
            }
            policies = vec!["root".into()];
        } else {
            if no_default {
                policies.retain(|p| p != "default");
            } else if !policies.iter().any(|p| p == "default") {
                policies.push("default".into());
            }
            policies.sort();
            policies.dedup();
        }
        for p in &policies {
            if !self.policies.exists(p).await? {
                warnings.push(format!("Policy {p:?} does not exist"));
            }
        }
        let is_root_token = policies == ["root"];
        if batch {
            if is_root_token {
                return Err(Error::invalid("batch tokens cannot be root tokens"));
            }
            if fields::duration(d, "period")?.is_some_and(|p| !p.is_zero()) {
                return Err(Error::invalid("batch tokens cannot have \"period\" set"));
            }
            if num_uses > 0 {
                return Err(Error::invalid("batch tokens cannot have \"num_uses\" set"));
            }
        }

        // TTLs.
        let (default_ttl, sys_max) = self.ttls();
        let limits = Limits {
            default: default_ttl,
            max: sys_max,
            explicit_max: fields::duration(d, "explicit_max_ttl")?.unwrap_or_default(),
            period: fields::duration(d, "period")?.unwrap_or_default(),
        };
        let ttl_req = match fields::duration(d, "ttl")? {
            Some(t) => Some(t),
            None => fields::duration(d, "lease")?,
        }
        .filter(|t| !t.is_zero());
        // A root token asked for no TTL never expires.
        let ttl = if is_root_token && ttl_req.is_none() && limits.explicit_max.is_zero() {
            Duration::ZERO
        } else {
            let granted = limits.grant(ttl_req);
            warnings.extend(granted.warning);
            granted.ttl
        };
        let renewable = fields::bool(d, "renewable")?.unwrap_or(true);

        let meta = fields::string_map(d, "meta")?;
        let name = fields::string(d, "display_name")?.unwrap_or_default();
        let now = self.store.clock().now_nanos();
        let path = if orphan_path {
            "auth/token/create-orphan"
        } else {
            "auth/token/create"
        };
        let kind = if batch {
            TokenType::Batch
        } else {
            TokenType::Service
        };
        let issued = TokenEntry::new(
            kind,
            policies.clone(),
            path,
            display_name("token", &name),
            now,
            ttl,
        );
        let entry = TokenEntry {
            meta: meta.filter(|m| !m.is_empty()),
            num_uses,
            explicit_max_ttl: limits.explicit_max.as_secs(),
            period: limits.period.as_secs(),
            renewable: issued.renewable && renewable,
            orphan,
            // A child is still its parent's identity, and bound where its
            // parent is.
            parent: if orphan { String::new() } else { parent_hash },
            entity_id: if orphan {
                String::new()
            } else {
                parent.entity_id.clone()
            },
            bound_cidrs: if orphan {
                Vec::new()
            } else {
                parent.bound_cidrs.clone()
            },
            ..issued
        };
        let token = if batch {
            self.store.create_batch(&entry)?
        } else {
            self.store.create(entry.clone(), id).await?
        };
        let mut resp = Response {
            auth: Some(auth_of(&token, &entry, ttl.as_secs())),
            ..Default::default()
        };
        resp.warnings = warnings;
        Ok(resp)
    }

    async fn lookup(&self, req: &Request, token: Option<String>) -> Result<Response> {
        let now = self.store.clock().now_nanos();
        let (id, entry) = match token {
            Some(t) => {
                let Some((_, entry)) = self.store.lookup(&t).await? else {
                    return Err(Error::ForbiddenMsg("bad token".into()));
                };
                (t, entry)
            }
            None => {
                let (_, e) = Self::caller(req)?;
                let id = req
                    .client_token
                    .as_ref()
                    .map(|t| t.expose().to_owned())
                    .unwrap_or_default();
                (id, e)
            }
        };
        Ok(Response::data(entry.lookup_data(&id, now)))
    }

    async fn lookup_accessor(&self, req: &Request) -> Result<Response> {
        let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
        if accessor.is_empty() {
            return Err(multi("missing accessor"));
        }
        let Some((_, entry)) = self.store.lookup_accessor(&accessor).await? else {
            return Err(multi("invalid accessor"));
        };
        Ok(Response::data(
            entry.lookup_data("", self.store.clock().now_nanos()),
        ))
    }

    async fn renew(
        &self,
        hash: &str,
        entry: &TokenEntry,
        token: &str,
        req: &Request,
    ) -> Result<Response> {
        if entry.is_batch() {
            return Err(Error::invalid("batch tokens cannot be renewed"));
        }
        if !entry.renewable || entry.expire_time.is_none() {
            return Err(Error::invalid("lease is not renewable"));
        }
        let increment = fields::duration(&req.data, "increment")?.filter(|d| !d.is_zero());
        // A login token renews within its method's mount limits and its
        // user's or role's settings as they are now; a login whose user or
        // role is gone does not renew.
        let issuer = self
            .mounts
            .by_accessor(&entry.mount_accessor)
            .filter(|_| !entry.mount_accessor.is_empty());
        let current = match &issuer {
            Some(m) => match self.mounts.router().route(&m.route_prefix()) {
                Some(r) if r.prefix == m.route_prefix() => r.backend.renew_login(entry).await?,
                _ => None,
            },
            None => None,
        };
        let (_, mut sys_max) = match &issuer {
            Some(m) => self.mounts.ttls(m),
            None => self.ttls(),
        };
        let role_max = current.as_ref().map_or(entry.max_ttl, |p| p.max_ttl);
        if role_max > 0 {
            sys_max = sys_max.min(Duration::from_secs(role_max));
        }
        let limits = Limits {
            default: match current.as_ref().map_or(0, |p| p.ttl) {
                0 => Duration::from_secs(entry.creation_ttl),
                t => Duration::from_secs(t),
            },
            max: sys_max,
            explicit_max: Duration::from_secs(entry.explicit_max_ttl),
            period: Duration::from_secs(entry.period),
        };
        let now = self.store.clock().now_nanos();
        let elapsed = Duration::from_nanos(u64::try_from(now - entry.issue_time).unwrap_or(0));
        let granted = limits.renew(elapsed, increment);
        let ttl = granted.ttl;
        let warnings: Vec<String> = granted.warning.into_iter().collect();
        let expire_time = now.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX / 2));
        let updated = self.store.renew(hash, expire_time, now).await?;
        let mut resp = Response {
            auth: Some(auth_of(token, &updated, ttl.as_secs())),
            ..Default::default()
        };
        resp.warnings = warnings;
        Ok(resp)
    }
}

/// The `auth` block of a response about a token.
pub fn auth_of(token: &str, e: &TokenEntry, lease_secs: u64) -> Auth {
    Auth {
        client_token: token.to_owned(),
        accessor: e.accessor.clone(),
        policies: e.policies.clone(),
        token_policies: e.policies.clone(),
        metadata: e.meta.as_ref().map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect::<Map<_, _>>()
        }),
        lease_duration: lease_secs,
        renewable: e.renewable,
        entity_id: e.entity_id.clone(),
        token_type: e.token_type,
        orphan: e.orphan,
        num_uses: e.num_uses,
        identity_policies: Vec::new(),
    }
}

fn batch_revoke() -> Error {
    Error::invalid("batch tokens cannot be revoked")
}

fn token_field(req: &Request) -> Result<Option<String>> {
    Ok(fields::string(&req.data, "token")?.filter(|t| !t.is_empty()))
}

#[async_trait]
impl Backend for TokenBackend {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    fn root_paths(&self) -> &'static [&'static str] {
        // As Vault's: `revoke-orphan` itself checks for sudo in the
        // handler (with its own message).
        &["revoke-orphan/*", "accessors", "accessors/*"]
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let op = req.operation;
        let rel = req.rel_path().to_owned();
        let write = matches!(op, Operation::Update | Operation::Create);
        match rel.as_str() {
            "create" if write => self.create(req, false).await,
            "create-orphan" if write => self.create(req, true).await,
            "lookup-self" if op == Operation::Read || write => self.lookup(req, None).await,
            "lookup" if op == Operation::Read || write => {
                let t = token_field(req)?;
                self.lookup(req, t).await
            }
            "lookup-accessor" if write => self.lookup_accessor(req).await,
            "renew-self" if write => {
                let (hash, entry) = Self::caller(req)?;
                let token = req.client_token.as_ref().map(|t| t.expose().to_owned()).unwrap_or_default();
                self.renew(&hash, &entry, &token, req).await
            }
            "renew" if write => {
                let Some(token) = token_field(req)? else {
                    return Err(Error::invalid("missing token ID"));
                };
                let Some((hash, entry)) = self.store.lookup(&token).await? else {
                    return Err(Error::invalid("token not found"));
                };
                self.renew(&hash, &entry, &token, req).await
            }
            "renew-accessor" if write => {
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(multi("missing accessor"));
                }
                let Some((hash, entry)) = self.store.lookup_accessor(&accessor).await? else {
                    return Err(multi("invalid accessor"));
                };
                self.renew(&hash, &entry, "", req).await
            }
            "revoke-self" if write => {
                let (hash, caller) = Self::caller(req)?;
                if caller.is_batch() {
                    return Err(batch_revoke());
                }
                self.store.revoke_tree(&hash).await?;
                Ok(Response::empty())
            }
            "revoke" if write => {
                let Some(token) = token_field(req)? else {
                    return Err(Error::invalid("missing token ID"));
                };
                if let Some((hash, e)) = self.store.lookup(&token).await? {
                    if e.is_batch() {
                        return Err(batch_revoke());
                    }
                    self.store.revoke_tree(&hash).await?;
                }
                Ok(Response::empty())
            }
            "revoke-accessor" if write => {
                let accessor = fields::string(&req.data, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(multi("missing accessor"));
                }
                match self.store.lookup_accessor(&accessor).await? {
                    Some((hash, _)) => {
                        self.store.revoke_tree(&hash).await?;
                        Ok(Response::empty())
                    }
                    None => Ok(Response::default().with_warning("No token found with this accessor")),
                }
            }
            "revoke-orphan" if write => {
                let root = req.token_entry.as_ref().is_some_and(|e| e.is_root());
                if !root && !req.root_privs {
                    return Err(Error::invalid(
                        "root or sudo privileges required to revoke and orphan",
                    ));
                }
                let Some(token) = token_field(req)? else {
                    return Err(Error::invalid("missing token ID"));
                };
                let Some((hash, _)) = self.store.lookup(&token).await? else {
                    return Err(Error::invalid("token to revoke not found"));
                };
                self.store.revoke_orphan(&hash).await?;
                Ok(Response::empty())
            }
            "accessors" | "accessors/" if op == Operation::List => {
                Ok(Response::list(self.store.accessors().await?))
            }
            "tidy" if write => Ok(Response {
                status: Some(202),
                warnings: vec!["Tidy operation successfully started. Any information from the operation will be printed to Arca's server logs.".into()],
                ..Default::default()
            }),
            "create" | "create-orphan" | "lookup-self" | "lookup" | "lookup-accessor" | "renew-self" | "renew"
            | "renew-accessor" | "revoke-self" | "revoke" | "revoke-accessor" | "revoke-orphan" | "accessors"
            | "tidy" => Err(Error::UnsupportedOperation),
            _ => Err(Error::UnsupportedPath),
        }
    }
}

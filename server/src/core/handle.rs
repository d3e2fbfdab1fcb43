//! The one path every logical request takes, in this order:
//!
//! 1. sealed? -> 503; over a rate-limit quota? -> 429
//! 2. route: longest-prefix match on the mount table; names the backend
//!    stores lowercased are lowercased in the path
//! 3. token: resolve (salted hash -> entry), count one use; unauthenticated
//!    paths (logins, wrapping lookup) skip the check and count no use, but
//!    still see a token if one is sent
//! 4. create vs update: ask the backend whether the target exists
//! 5. ACL: the token's policies allow the operation; root paths need sudo
//! 6. audit the request: if no device can write it, stop here (500). A
//!    read of a backend whose reads change nothing writes its request
//!    entry with its response entry instead, in one write per device
//!    (step 9): the answer is still withheld if that fails
//! 7. backend (only if 2-5 passed; a refusal is audited, then returned);
//!    a secret it hands out with a lifetime gets its lease (leasing.rs)
//! 8. wrap the response when `X-Vault-Wrap-TTL` asked for it
//! 9. audit the response: if no device can write it, the answer is a 500
//! 10. after: a token on its last use is revoked; metrics
//!
//! There is no other way into a backend.

use std::sync::Arc;
use std::time::Instant;

use crate::audit::{Outcome, Record};
use crate::backend::{canonical_path, path_matches};
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};
use crate::router::Route;

use super::{Active, Core};

/// Paths where a bad token is the request's subject, not its credential:
/// Vault answers 400 "wrapping token is not valid…" there, not 403.
const WRAPPING_PATHS: &[&str] = &["sys/wrapping/unwrap", "sys/wrapping/rewrap"];

fn bad_token(path: &str) -> Error {
    if WRAPPING_PATHS.contains(&path) {
        Error::invalid("wrapping token is not valid or does not exist")
    } else {
        Error::PermissionDenied
    }
}

/// What the checks before the backend found.
struct Checked {
    route: Option<Arc<Route>>,
    last_use: bool,
}

/// The message an error shows the client, as the audit log records it
/// (an internal error's detail is for the server log only).
fn audit_error(e: &Error) -> String {
    e.messages().join("; ")
}

impl Core {
    pub async fn handle(&self, mut req: Request) -> Result<Response> {
        let started = Instant::now();
        let active = self.active()?;
        // Over quota: refused before anything else (and not audited, as
        // Vault does by default).
        active.quotas.allow(&req.path, req.remote_addr)?;
        let mut checked = Checked {
            route: None,
            last_use: false,
        };
        let allowed = self.check(&active, &mut req, &mut checked).await;
        let result = self.run(&active, &mut req, &checked, allowed).await;

        if checked.last_use {
            if let Some(hash) = &req.token_hash {
                if let Err(e) = active.tokens.revoke_tree(hash).await {
                    tracing::warn!(error = %e, "failed to revoke a used-up token");
                }
            }
        }
        let elapsed = started.elapsed();
        self.metrics.observe_request(elapsed, result.is_err());
        if let Some(route) = &checked.route {
            route.metrics.observe(elapsed, result.is_err());
        }
        result
    }

    /// Steps 6-9: audit, backend, wrap, audit.
    async fn run(
        &self,
        active: &Active,
        req: &mut Request,
        checked: &Checked,
        allowed: Result<()>,
    ) -> Result<Response> {
        let audit = &active.audit;
        let mount = checked.route.as_ref().map(|r| &*r.entry);
        // A read that changes nothing may have its request entry written
        // with its response entry, in one write (see Backend::pure_reads).
        let deferred = audit.is_enabled()
            && allowed.is_ok()
            && req.wrap_ttl.is_none()
            && matches!(req.operation, Operation::Read | Operation::List)
            && checked
                .route
                .as_ref()
                .is_some_and(|r| r.backend.pure_reads());
        let request_time = audit.is_enabled().then(|| audit.now());
        if audit.is_enabled() && !deferred {
            let record = Record {
                time: request_time.clone().unwrap_or_default(),
                req,
                mount,
                outcome: None,
                error: allowed.as_ref().err().map(audit_error),
                allowed: allowed.is_ok(),
            };
            audit.log(&record).await?;
        }
        let allowed_ok = allowed.is_ok();
        // A request that may make a lease holds a slot of the lease-count
        // quota over its path until its lease is registered (or it made
        // none); a full quota refuses it before the backend makes anything.
        let mut quota_refusal = None;
        let _lease_slot = match (&allowed, &checked.route) {
            (Ok(()), Some(route)) if route.backend.may_lease(req) => {
                match active
                    .quotas
                    .reserve_lease(&req.path, |p| active.leases.count_under(p))
                {
                    Ok(slot) => slot,
                    Err(e) => {
                        quota_refusal = Some(e);
                        None
                    }
                }
            }
            _ => None,
        };
        let result = match (allowed, &checked.route) {
            (Ok(()), Some(_)) if quota_refusal.is_some() => {
                Err(quota_refusal.take().unwrap_or(Error::LeaseCountExceeded))
            }
            (Ok(()), Some(route)) => match route.backend.handle(req).await {
                Ok(mut resp) => match resp.login.take() {
                    Some(login) => {
                        let warnings = std::mem::take(&mut resp.warnings);
                        match super::login::complete(active, req, &route.entry, *login, warnings)
                            .await
                        {
                            Ok(resp) => self.wrap_if_asked(active, req, resp).await,
                            Err(e) => Err(e),
                        }
                    }
                    None => match super::leasing::lease_secret(active, req, route, resp).await {
                        Ok(resp) => self.wrap_if_asked(active, req, resp).await,
                        Err(e) => Err(e),
                    },
                },
                Err(e) => Err(e),
            },
            (Ok(()), None) => Err(Error::NoRoute(req.path.clone())),
            (Err(e), _) => Err(e),
        };
        if audit.is_enabled() {
            let outcome = match &result {
                Ok(resp) => Outcome::Ok(resp),
                Err(e) => Outcome::Err(audit_error(e)),
            };
            let record = Record {
                time: audit.now(),
                req,
                mount,
                outcome: Some(outcome),
                error: None,
                allowed: allowed_ok,
            };
            if deferred {
                let request = Record {
                    time: request_time.unwrap_or_default(),
                    req,
                    mount,
                    outcome: None,
                    error: None,
                    allowed: true,
                };
                audit.log_all(&[&request, &record]).await?;
            } else {
                audit.log(&record).await?;
            }
        }
        if let (Ok(resp), Some(route)) = (&result, &checked.route) {
            self.events
                .after_request(&route.entry, req, resp, self.clock.now_nanos());
        }
        result
    }

    /// Steps 2-5. Fills `checked` as it goes, so what was found is known
    /// (and audited) even when a check fails.
    async fn check(&self, active: &Active, req: &mut Request, checked: &mut Checked) -> Result<()> {
        let route = active.mounts.router().route(&req.path);
        checked.route = route.clone();
        // Names the backend stores lowercased are lowercased in the path
        // itself, so the ACL and the handler see one and the same path.
        if let Some(r) = &route {
            let rel = req.path.get(r.prefix.len()..).unwrap_or("");
            if let Some(c) = canonical_path(r.backend.case_insensitive_names(), rel) {
                req.path = format!("{}{c}", r.prefix);
            }
        }
        let unauthenticated = route.as_ref().is_some_and(|r| {
            let rel = req.path.get(r.prefix.len()..).unwrap_or("");
            path_matches(r.backend.unauthenticated_paths(), rel)
        });

        // Token: resolved now, its use counted only once the request is
        // allowed (a refused request does not spend a limited-use token,
        // as in Vault).
        let found = match req.client_token.as_ref().filter(|t| !t.is_empty()) {
            Some(t) => Some(active.tokens.lookup(t.expose()).await?),
            None => None,
        };
        if let Some(found) = found {
            match found {
                Some((_, entry))
                    if !unauthenticated
                        && !crate::cidr::allowed(&entry.bound_cidrs, req.remote_addr) =>
                {
                    return Err(Error::PermissionDenied);
                }
                Some((hash, entry)) => {
                    req.token_entry = Some(entry);
                    req.token_hash = Some(hash);
                }
                None if !unauthenticated => return Err(bad_token(&req.path)),
                None => {}
            }
        } else if !unauthenticated {
            return Err(Error::PermissionDenied);
        }

        let Some(route) = route else {
            return Err(Error::NoRoute(req.path.clone()));
        };
        req.mount_point = route.prefix.clone();
        (req.mount_default_ttl, req.mount_max_ttl) = active.mounts.ttls(&route.entry);
        req.password_policies = Some(Arc::clone(&active.password_policies));
        let rel = req.rel_path().to_owned();

        if req.operation == Operation::Update {
            if let Some(false) = route.backend.exists(req).await? {
                req.operation = Operation::Create;
            }
        }

        if !unauthenticated {
            let entry = req.token_entry.as_ref().ok_or(Error::PermissionDenied)?;
            // Policies attached to the entity apply to all its tokens, as
            // they are now (not as they were at login); a disabled
            // entity's tokens may do nothing.
            let Some(names) = active.identity.effective_policies(entry) else {
                return Err(Error::PermissionDenied);
            };
            let acl = active.policies.acl(&names, entry.is_root()).await?;
            let res = acl.allow(&req.path, req.operation, &req.data, req.wrap_ttl);
            if !res.allowed {
                return Err(Error::Forbidden);
            }
            if path_matches(route.backend.root_paths(), &rel) && !res.root_privs {
                return Err(Error::Forbidden);
            }
            req.root_privs = res.root_privs;
            let hash = req.token_hash.clone().ok_or(Error::PermissionDenied)?;
            match active.tokens.use_token(&hash, Arc::clone(entry)).await? {
                Some(entry) => {
                    checked.last_use = entry.num_uses == -1;
                    req.token_entry = Some(entry);
                }
                None => return Err(bad_token(&req.path)),
            }
        }
        Ok(())
    }

    /// Step 8: a response with something in it, asked for wrapped, goes
    /// into a wrapping token's cubbyhole; the client gets the token.
    async fn wrap_if_asked(
        &self,
        active: &Active,
        req: &Request,
        resp: Response,
    ) -> Result<Response> {
        let Some(ttl) = req.wrap_ttl else {
            return Ok(resp);
        };
        if resp.wrap_info.is_some() || resp.raw.is_some() || resp.is_empty() {
            return Ok(resp);
        }
        let envelope = crate::envelope::envelope(&req.id, &resp);
        let wrapped_accessor = resp.auth.as_ref().map_or("", |a| a.accessor.as_str());
        let info = active
            .wrapper
            .wrap(&envelope, &req.path, ttl, wrapped_accessor)
            .await?;
        Ok(Response {
            wrap_info: Some(info),
            ..Default::default()
        })
    }
}

//! The one path every logical request takes, in this order:
//!
//! 1. sealed? -> 503
//! 2. route: longest-prefix match on the mount table
//! 3. token: resolve (salted hash -> entry), count one use; unauthenticated
//!    paths (logins) skip this but still see a token if one is sent
//! 4. create vs update: ask the backend whether the target exists
//! 5. ACL: the token's policies allow the operation; root paths need sudo
//! 6. backend
//! 7. after: a token on its last use is revoked; metrics
//!
//! There is no other way into a backend.

use std::sync::Arc;
use std::time::Instant;

use crate::backend::path_matches;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};

use super::Core;

impl Core {
    pub async fn handle(&self, mut req: Request) -> Result<Response> {
        let started = Instant::now();
        let active = self.active()?;
        let route = active.mounts.router().route(&req.path);

        let unauthenticated = route.as_ref().is_some_and(|r| {
            let rel = req.path.get(r.prefix.len()..).unwrap_or("");
            path_matches(r.backend.unauthenticated_paths(), rel)
        });

        // Token.
        let token = req
            .client_token
            .as_ref()
            .map(|t| t.expose().to_owned())
            .unwrap_or_default();
        let mut last_use = false;
        if !token.is_empty() {
            match active.tokens.lookup(&token).await? {
                Some((hash, entry)) => match active.tokens.use_token(&hash, entry).await? {
                    Some(entry) => {
                        last_use = entry.num_uses == -1;
                        req.token_entry = Some(entry);
                        req.token_hash = Some(hash);
                    }
                    None if !unauthenticated => return Err(Error::PermissionDenied),
                    None => {}
                },
                None if !unauthenticated => return Err(Error::PermissionDenied),
                None => {}
            }
        } else if !unauthenticated {
            return Err(Error::PermissionDenied);
        }

        let result = self
            .dispatch(&active, route, unauthenticated, &mut req)
            .await;

        if last_use {
            if let Some(hash) = &req.token_hash {
                if let Err(e) = active.tokens.revoke_tree(hash).await {
                    tracing::warn!(error = %e, "failed to revoke a used-up token");
                }
            }
        }
        let elapsed = started.elapsed();
        self.metrics.observe_request(elapsed, result.is_err());
        result
    }

    async fn dispatch(
        &self,
        active: &super::Active,
        route: Option<Arc<crate::router::Route>>,
        unauthenticated: bool,
        req: &mut Request,
    ) -> Result<Response> {
        let started = Instant::now();
        let Some(route) = route else {
            return Err(Error::NoRoute(req.path.clone()));
        };
        req.mount_point = route.prefix.clone();
        let rel = req.rel_path().to_owned();

        if req.operation == Operation::Update {
            if let Some(false) = route.backend.exists(req).await? {
                req.operation = Operation::Create;
            }
        }

        if !unauthenticated {
            let entry = req.token_entry.as_ref().ok_or(Error::PermissionDenied)?;
            let acl = active.policies.acl(&entry.policies).await?;
            let res = acl.allow(&req.path, req.operation, &req.data, req.wrap_ttl);
            if !res.allowed {
                return Err(Error::Forbidden);
            }
            if path_matches(route.backend.root_paths(), &rel) && !res.root_privs {
                return Err(Error::Forbidden);
            }
            req.root_privs = res.root_privs;
        }

        let result = route.backend.handle(req).await;
        route.metrics.observe(started.elapsed(), result.is_err());
        result
    }
}

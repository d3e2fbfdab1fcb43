//! What every mounted backend (secret engine, auth method, the system
//! backend, the token store's endpoints) implements.

use async_trait::async_trait;

use crate::auth::token_params::TokenParams;
use crate::error::Result;
use crate::expiration::leases::LeaseEntry;
use crate::logical::{Request, Response};
use crate::token::TokenEntry;

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Handles a request routed to this mount; `req.rel_path()` is the path
    /// inside the mount.
    async fn handle(&self, req: &mut Request) -> Result<Response>;

    /// Paths (relative to the mount) that also need `sudo`; a trailing `*`
    /// matches a prefix.
    fn root_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Paths that need no token at all (logins).
    fn unauthenticated_paths(&self) -> &'static [&'static str] {
        &[]
    }

    /// Prefixes (relative to the mount, ending in `/`) followed by the
    /// name of an object this backend stores lowercased (users, roles,
    /// policies). The core lowercases that segment of the request path
    /// before anything else looks at it, so the ACL checks the path of the
    /// object the handler will touch: `users/ADMIN/password` is checked,
    /// and handled, as `users/admin/password`.
    fn case_insensitive_names(&self) -> &'static [&'static str] {
        &[]
    }

    /// Whether reads and lists of this backend change nothing at all (no
    /// credential minted, no lease, no counter). Their request audit entry
    /// may then be written together with the response entry, after the
    /// read: if no device can write, the answer is still withheld and
    /// still nothing changed. Backends whose reads have effects (dynamic
    /// secrets) must leave this `false`.
    fn pure_reads(&self) -> bool {
        false
    }

    /// Whether this request may answer with a leased secret (a read of
    /// `creds/`): lease-count quotas are checked before such a request
    /// reaches the backend, so nothing is made when one is full.
    fn may_lease(&self, _req: &Request) -> bool {
        false
    }

    /// Whether the target of a write already exists, which decides between
    /// the `create` and `update` capabilities. `None`: the path makes no
    /// such distinction and writes are updates.
    async fn exists(&self, _req: &Request) -> Result<Option<bool>> {
        Ok(None)
    }

    /// A token this mount issued at login is being renewed. Answers the
    /// token settings that hold now (the user or role may have changed
    /// since the login), or an error when the login no longer holds (the
    /// user or role is gone). `None`: nothing to check.
    async fn renew_login(&self, _entry: &TokenEntry) -> Result<Option<TokenParams>> {
        Ok(None)
    }

    /// A lease this mount issued has run out or is revoked: undo its
    /// secret (drop the database user). The lease is forgotten only once
    /// this succeeds; a failure is retried with backoff. Mounts that issue
    /// no leases are never asked.
    async fn revoke_secret(&self, _lease: &LeaseEntry) -> Result<()> {
        Ok(())
    }

    /// A lease this mount issued is renewed to live `ttl` more (the core
    /// has settled `ttl` within the role's and the mount's max): extend
    /// the secret where it lives (a database user's expiry).
    async fn renew_secret(&self, _lease: &LeaseEntry, _ttl: std::time::Duration) -> Result<()> {
        Ok(())
    }

    /// Called once when the mount is disabled, before its storage is
    /// dropped.
    async fn cleanup(&self) -> Result<()> {
        Ok(())
    }
}

/// `rel` with the name after one of `prefixes` lowercased, if that changes
/// it (see `Backend::case_insensitive_names`).
pub fn canonical_path(prefixes: &[&str], rel: &str) -> Option<String> {
    let prefix = prefixes.iter().find(|p| rel.starts_with(**p))?;
    let rest = &rel[prefix.len()..];
    let end = rest.find('/').unwrap_or(rest.len());
    let name = &rest[..end];
    if !name.chars().any(char::is_uppercase) {
        return None;
    }
    Some(format!("{prefix}{}{}", name.to_lowercase(), &rest[end..]))
}

/// Does `path` match one of `patterns` (exact, or prefix with trailing `*`)?
pub fn path_matches(patterns: &[&str], path: &str) -> bool {
    patterns.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => path.starts_with(prefix),
        None => *p == path,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_are_lowercased_after_their_prefix_only() {
        let p = ["users/", "login/"];
        let c = |rel| super::canonical_path(&p, rel);
        assert_eq!(
            c("users/ADMIN/password").as_deref(),
            Some("users/admin/password")
        );
        assert_eq!(c("users/Bob").as_deref(), Some("users/bob"));
        assert_eq!(c("login/ÉVE").as_deref(), Some("login/éve"));
        assert_eq!(c("users/bob/Password"), None, "only the name");
        assert_eq!(c("users/bob"), None);
        assert_eq!(c("Users/BOB"), None, "not under a prefix");
        assert_eq!(c("users/"), None);
    }

    #[test]
    fn special_paths() {
        let p = ["login", "login/*", "accessors*"];
        assert!(super::path_matches(&p, "login"));
        assert!(super::path_matches(&p, "login/bob"));
        assert!(super::path_matches(&p, "accessors/"));
        assert!(!super::path_matches(&p, "logins"));
    }
}

//! What every mounted backend (secret engine, auth method, the system
//! backend, the token store's endpoints) implements.

use async_trait::async_trait;

use crate::auth::token_params::TokenParams;
use crate::error::Result;
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

    /// Whether reads and lists of this backend change nothing at all (no
    /// credential minted, no lease, no counter). Their request audit entry
    /// may then be written together with the response entry, after the
    /// read: if no device can write, the answer is still withheld and
    /// still nothing changed. Backends whose reads have effects (dynamic
    /// secrets) must leave this `false`.
    fn pure_reads(&self) -> bool {
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

    /// Called once when the mount is disabled, before its storage is
    /// dropped.
    async fn cleanup(&self) -> Result<()> {
        Ok(())
    }
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
    fn special_paths() {
        let p = ["login", "login/*", "accessors*"];
        assert!(super::path_matches(&p, "login"));
        assert!(super::path_matches(&p, "login/bob"));
        assert!(super::path_matches(&p, "accessors/"));
        assert!(!super::path_matches(&p, "logins"));
    }
}

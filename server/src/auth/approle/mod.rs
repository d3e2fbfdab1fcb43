//! The `approle` auth method, as Vault's: roles carry a role-id (a
//! username of sorts) and issue secret-ids (passwords with a use count, a
//! TTL and CIDR bounds); `login` with both answers a login the core turns
//! into a token with the role's `token_*` settings.
//!
//! store.rs: what is stored where, HMACs and locks.
//! role.rs: `role/`, `role/:name`, `role/:name/role-id`.
//! role_fields.rs: the per-field role endpoints (`role/:name/token-ttl`...).
//! secret_id.rs: issuing, listing, looking up and destroying secret-ids.
//! login.rs: `login`: checks, use counting, the login it answers.
//! tidy.rs: dropping expired secret-ids (`tidy/secret-id`, and every minute).
//! bounds.rs: the CIDR rules of secret-id bounds.

mod bounds;
mod login;
mod role;
mod role_fields;
mod secret_id;
mod store;
mod tidy;

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;

use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};
use crate::router::MountEntry;

use store::Store;

/// The server-wide max lease TTL a mount without its own falls back to
/// (Vault's default, 768h).
const DEFAULT_MAX_LEASE_TTL: Duration = Duration::from_secs(768 * 3600);

/// What the method's parts share.
struct Inner {
    store: Store,
    clock: Clock,
    /// The mount's max lease TTL when it was mounted: it caps secret-id
    /// TTLs and token periods, as in Vault.
    max_lease_ttl: Duration,
    /// A tidy is running (at most one at a time).
    tidying: AtomicBool,
}

pub struct AppRole {
    inner: Arc<Inner>,
}

impl AppRole {
    pub fn new(entry: &MountEntry, view: View, clock: Clock) -> Self {
        let max_lease_ttl = match entry.config.max_lease_ttl {
            0 => DEFAULT_MAX_LEASE_TTL,
            s => Duration::from_secs(s),
        };
        let inner = Arc::new(Inner {
            store: Store::new(view),
            clock,
            max_lease_ttl,
            tidying: AtomicBool::new(false),
        });
        tidy::schedule(&inner);
        Self { inner }
    }
}

/// Vault's `GenericNameRegex`: word characters, with `-` and `.` inside.
fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = name.chars();
    match (chars.next(), name.chars().last()) {
        (Some(first), Some(last)) => {
            word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
        }
        _ => false,
    }
}

fn unsupported_operation() -> Result<Response> {
    Err(Error::UnsupportedOperation)
}

impl AppRole {
    async fn role_path(&self, req: &Request, name: &str, rest: &[&str]) -> Result<Response> {
        let i = &self.inner;
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        match rest {
            [] => match op {
                Operation::Read => role::read(i, name).await,
                Operation::Create | Operation::Update => role::write(i, req, name).await,
                Operation::Delete => role::delete(i, name).await,
                _ => unsupported_operation(),
            },
            ["role-id"] => match op {
                Operation::Read => role::role_id(i, name).await,
                _ if write => role::set_role_id(i, req, name).await,
                _ => unsupported_operation(),
            },
            ["secret-id"] => match op {
                Operation::List => secret_id::list(i, name).await,
                _ if write => secret_id::issue(i, req, name, None).await,
                _ => unsupported_operation(),
            },
            ["custom-secret-id"] if write => {
                let custom = crate::fields::string(&req.data, "secret_id")?.unwrap_or_default();
                secret_id::issue(i, req, name, Some(custom)).await
            }
            ["secret-id", "lookup"] if write => secret_id::lookup(i, req, name).await,
            ["secret-id", "destroy"] if write || op == Operation::Delete => {
                secret_id::destroy(i, req, name).await
            }
            ["secret-id-accessor", "lookup"] if write => {
                secret_id::accessor_lookup(i, req, name).await
            }
            ["secret-id-accessor", "destroy"] if write || op == Operation::Delete => {
                secret_id::accessor_destroy(i, req, name).await
            }
            ["custom-secret-id"]
            | ["secret-id", "lookup" | "destroy"]
            | ["secret-id-accessor", "lookup" | "destroy"] => unsupported_operation(),
            [field] => match role_fields::Field::parse(field) {
                Some(f) => role_fields::handle(i, req, name, f).await,
                None => Err(Error::UnsupportedPath),
            },
            _ => Err(Error::UnsupportedPath),
        }
    }
}

#[async_trait]
impl Backend for AppRole {
    async fn renew_login(
        &self,
        entry: &crate::token::TokenEntry,
    ) -> Result<Option<crate::auth::token_params::TokenParams>> {
        let name = crate::auth::token_meta(entry, "role_name");
        match self.inner.store.role(&name).await? {
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
        &["role/"]
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let rel = req.rel_path();
        match rel.strip_prefix("role/") {
            Some(name) if valid_name(name) => {
                Ok(Some(self.inner.store.role(name).await?.is_some()))
            }
            _ => Ok(None),
        }
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        let parts: Vec<&str> = rel.trim_end_matches('/').split('/').collect();
        match parts.as_slice() {
            // Vault's pattern is `login$`: no trailing slash.
            ["login"] if rel.ends_with('/') => Err(Error::UnsupportedPath),
            ["login"] if write => login::login(&self.inner, req).await,
            ["tidy", "secret-id"] if write => tidy::start(&self.inner),
            ["role"] if op == Operation::List => role::list(&self.inner).await,
            ["login"] | ["tidy", "secret-id"] | ["role"] => unsupported_operation(),
            ["role", name, rest @ ..] if valid_name(name) => self.role_path(req, name, rest).await,
            _ => Err(Error::UnsupportedPath),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_follow_vaults_pattern() {
        for ok in ["web", "a", "a.b-c_d", "A1", "x_"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-ab", "ab-", "a@b", "a b", ".a", "a/b", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

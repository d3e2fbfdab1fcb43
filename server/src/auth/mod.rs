//! Auth methods, one directory each, and the factory the mount manager
//! uses for `sys/auth` mounts. A method checks credentials and answers
//! `Response::login`; the core (core/login.rs) resolves the identity and
//! mints the token, so no method can hand out a token the core would not.
//!
//! token_params.rs: the `token_*` fields every role and user carries.
//! password.rs: the slow password hash userpass uses.

pub mod approle;
pub mod jwt;
pub mod kubernetes;
pub mod password;
pub mod token_params;
pub mod userpass;

use std::sync::Arc;

use crate::clock::Clock;
use crate::token::TokenEntry;

/// A token's metadata value (the user or role a login token came from,
/// which the method looks up again on renewal); empty when absent.
pub fn token_meta(entry: &TokenEntry, key: &str) -> String {
    entry
        .meta
        .as_ref()
        .and_then(|m| m.get(key))
        .cloned()
        .unwrap_or_default()
}
use crate::router::mounts::Factory;

/// The auth method types Arca can mount.
pub fn factory(clock: Clock) -> Factory {
    Arc::new(move |entry, view| match entry.mount_type.as_str() {
        "userpass" => Some(Ok(Arc::new(userpass::Userpass::new(view)) as _)),
        "kubernetes" => Some(Ok(
            Arc::new(kubernetes::Kubernetes::new(view, clock.clone())) as _,
        )),
        "approle" => Some(Ok(
            Arc::new(approle::AppRole::new(entry, view, clock.clone())) as _,
        )),
        "jwt" | "oidc" => Some(Ok(Arc::new(jwt::Jwt::new(view, clock.clone())) as _)),
        _ => None,
    })
}

//! arca-server: a secret server that speaks the Vault HTTP API.
//!
//! A request flows through these modules, in this order:
//!
//! - `http`: Vault HTTP request -> internal `logical::Request`; the response
//!   (`envelope`) or error (`error::Error::messages`) back with its status;
//!   the seal endpoints that work while sealed; the core knows nothing of it
//! - `core`: seal state machine; `handle` = route -> token -> ACL -> backend
//! - `router`: mount table and longest-prefix routing to a `backend::Backend`
//! - `audit`: audit devices; every request and response is logged before
//!   the answer leaves
//! - `token`: token store (salted hashes, trees) and `auth/token/`
//! - `expiration`: every deadline (token expiry; leases next) and the task
//!   that revokes what is due
//! - `policy`: HCL policies -> compiled ACL
//! - `sys`: the system backend, by feature
//! - `engines`: secret engines (kv, cubbyhole)
//! - `auth`: auth methods (userpass, approle, kubernetes, jwt); logins are
//!   completed (identity, token) by `core::login`
//! - `identity`: entities and aliases
//! - `barrier`: AES-256-GCM over every stored entry, keyring terms
//! - `seal`: Shamir shares of the root key
//! - `storage`: the physical stores (in-memory, embedded file)
//!
//! Around them: `config` (server config file), `cmd` (the `arca server`
//! command), `tls` (a listener's TLS), `metrics`, `clock`, `secret` (zeroizing types), `fields` and
//! `duration` (Vault's lenient field parsing).

pub mod audit;
pub mod auth;
pub mod backend;
pub mod barrier;
pub mod cidr;
pub mod clock;
pub mod cmd;
pub mod config;
pub mod core;
pub mod duration;
pub mod engines;
pub mod envelope;
pub mod error;
pub mod events;
pub mod expiration;
pub mod fields;
#[cfg(test)]
mod fuzz;
pub mod http;
pub mod identity;
pub mod logical;
pub mod metrics;
pub mod password_policy;
pub mod policy;
pub mod quotas;
pub mod router;
pub mod seal;
pub mod secret;
pub mod storage;
pub mod sys;
pub mod tls;
pub mod token;
pub mod ttl;

pub use arca_client::hcl;

/// The version reported by seal-status, health and the CLI.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

use std::sync::Arc;

use tokio::net::TcpListener;

/// Serves the API of `core` on `listener`, within the listener's
/// `limits`, until `shutdown` resolves.
pub async fn run(
    listener: TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    core: Arc<core::Core>,
    limits: http::Limits,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let state = Arc::new(http::AppState { core, limits });
    http::serve(listener, tls, state, shutdown).await;
}

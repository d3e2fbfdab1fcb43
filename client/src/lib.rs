//! arca-client: the Vault HTTP API's JSON shapes as serde types, and an
//! async client for them. The server uses the same types for the
//! endpoints whose bodies are not the generic envelope, so both sides
//! agree on them by construction.
//!
//! The crate map:
//!
//! - [`sys`], [`hcl`]: wire types of the seal/init/health endpoints, and the
//!   HCL reader shared with the server.
//! - [`secret`]: the generic response envelope ([`Secret`]) and how a body
//!   becomes one.
//! - [`error`]: every way a request can fail ([`Error`]).
//! - [`client`]: the [`Client`] itself and the raw logical operations
//!   (read, write, list, delete).
//! - [`seal`], [`mounts`], [`policy`], [`token`], [`capabilities`],
//!   [`keyring`]: typed helpers for the `sys/` and `auth/token/` endpoints,
//!   one file per concept.

pub mod capabilities;
pub mod client;
pub mod error;
pub mod hcl;
pub mod keyring;
pub mod kv;
pub mod lease;
pub mod mounts;
pub mod policy;
pub mod seal;
pub mod secret;
pub mod sys;
mod tls;
pub mod token;

pub use client::{Client, ClientBuilder};
pub use error::{Error, Result};
pub use keyring::KeyStatus;
pub use mounts::{MountConfigInput, MountConfigOutput, MountInput, MountOutput, UiMounts};
pub use seal::LeaderStatus;
pub use secret::{Secret, SecretAuth, WrapInfo};
pub use token::TokenCreateRequest;

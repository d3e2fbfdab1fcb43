//! arca-client: the Vault HTTP API's JSON shapes as serde types, and an
//! async client for them. The server uses the same types for the
//! endpoints whose bodies are not the generic envelope, so both sides
//! agree on them by construction.
//!
//! The crate map:
//!
//! - [`sys`], [`hcl`], [`hcl_fmt`]: wire types of the seal/init/health
//!   endpoints, the HCL reader shared with the server, and the canonical
//!   writer of policies (`policy fmt`, and the operator's).
//! - [`secret`]: the generic response envelope ([`Secret`]) and how a body
//!   becomes one.
//! - [`auth`]: logging in (kubernetes, approle, jwt, userpass) and
//!   unwrapping.
//! - [`error`]: every way a request can fail ([`Error`]).
//! - [`client`]: the [`Client`] itself and the raw logical operations
//!   (read, write, list, delete).
//! - [`seal`], [`mounts`], [`policy`], [`token`], [`capabilities`],
//!   [`keyring`]: typed helpers for the `sys/` and `auth/token/` endpoints,
//!   one file per concept.
//! - [`duration`]: durations as Vault reads and prints them; [`sensitive`]:
//!   the types that hold secrets (zeroized, redacted, compared in constant
//!   time); [`pod`]: a pod's service-account files. Shared by the server,
//!   the CLI and the agent. [`ws`]: the WebSocket frames of the event
//!   stream, for the server and the agent alike.

pub mod auth;
pub mod capabilities;
pub mod client;
pub mod duration;
pub mod error;
pub mod events;
pub mod hcl;
pub mod hcl_fmt;
pub mod keyring;
pub mod kv;
pub mod lease;
pub mod mounts;
pub mod pod;
pub mod policy;
pub mod seal;
pub mod secret;
pub mod sensitive;
pub mod sys;
mod tls;
pub mod token;
pub mod ws;

pub use client::{Client, ClientBuilder};
pub use error::{Error, Result};
pub use keyring::KeyStatus;
pub use mounts::{MountConfigInput, MountConfigOutput, MountInput, MountOutput, UiMounts};
pub use seal::LeaderStatus;
pub use secret::{Secret, SecretAuth, WrapInfo};
pub use token::TokenCreateRequest;

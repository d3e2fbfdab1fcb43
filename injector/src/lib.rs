//! arca-injector: the mutating admission webhook that gives annotated
//! pods arca-agent. Vault Agent Injector's annotations
//! (`vault.hashicorp.com/…`) work unchanged; `arca.dev/…` are the same
//! names, plus Arca's own.
//!
//! The map: settings.rs (flags and `AGENT_INJECT_*`), annotations.rs
//! (reading and checking them), mutate.rs (pod -> JSON Patch, the
//! agent's configuration), patch.rs (the patch's and the configuration's
//! types, serialized in one pass), webhook.rs (AdmissionReview in and out),
//! server.rs (HTTPS, health, metrics), tls.rs (the reloading
//! certificate), autotls.rs (self-managed certificate and caBundle),
//! quantity.rs (resource quantities).

pub mod annotations;
pub mod autotls;
pub mod mutate;
pub mod patch;
pub mod quantity;
pub mod server;
pub mod settings;
pub mod tls;
pub mod webhook;

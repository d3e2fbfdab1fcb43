//! arca-client: the Vault HTTP API's JSON shapes as serde types, and an
//! async client for them. The server uses the same types for the
//! endpoints whose bodies are not the generic envelope, so both sides
//! agree on them by construction.

pub mod hcl;
pub mod sys;

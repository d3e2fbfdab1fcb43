//! arca-operator: VaultCluster, SecretEngine and Policy custom resources
//! become running, unsealed Arca servers, the mounts and the policies they
//! serve.

pub mod apply;
pub mod cluster;
pub mod context;
pub mod crd;
pub mod plan;
pub mod run;
pub mod settings;

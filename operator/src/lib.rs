//! arca-operator: VaultCluster, SecretEngine and Policy custom resources
//! become running, unsealed Arca servers, the mounts and the policies they
//! serve.

pub mod cluster;
pub mod crd;
pub mod plan;

//! The custom resources (group `arca.dev`, version `v1alpha1`) and their
//! CustomResourceDefinitions, generated from these types: `arca-operator
//! crds --out crds` writes them (a test fails when the checked-in files are
//! stale).

// Several printcolumn(...) entries repeat `type_ = "string"`: clippy reads
// them as duplicated attributes.
#![allow(clippy::duplicated_attributes)]

pub mod cluster;
pub mod engine;
pub mod policy;

use std::path::Path;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::{CustomResourceExt, KubeSchema};
use schemars::{Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

pub use cluster::{VaultCluster, VaultClusterSpec, VaultClusterStatus};
pub use engine::{SecretEngine, SecretEngineSpec, SecretEngineStatus};
pub use policy::{Policy, PolicySpec, PolicyStatus};

/// The API group of the custom resources.
pub const GROUP: &str = "arca.dev";

/// A VaultCluster in the same namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ClusterRef {
    /// Name of the VaultCluster.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// A key of a Secret in the same namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// The key's Secret and key.
    pub secret_key_ref: SecretKeySelector,
}

/// A key of a Secret in the same namespace.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SecretKeySelector {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The key in the Secret's data.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A JSON object with any fields: structural, kept as written.
pub(crate) fn free_object(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// The CustomResourceDefinitions, with the file name each is written to.
pub fn definitions() -> Vec<(&'static str, CustomResourceDefinition)> {
    vec![
        ("arca.dev_vaultclusters.yaml", VaultCluster::crd()),
        ("arca.dev_secretengines.yaml", SecretEngine::crd()),
        ("arca.dev_policies.yaml", Policy::crd()),
    ]
}

/// A definition as the YAML file `crds/` holds.
pub fn to_yaml(crd: &CustomResourceDefinition) -> Result<String, serde_saphyr::ser::Error> {
    let body = serde_saphyr::to_string(crd)?;
    Ok(format!(
        "# Generated from operator/src/crd/ by `arca-operator crds --out crds --out charts/arca/crds`; do not edit.\n{body}"
    ))
}

/// Writes every definition into `dir`; returns the files written.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut written = Vec::new();
    for (file, crd) in definitions() {
        let yaml = to_yaml(&crd).map_err(std::io::Error::other)?;
        let path = dir.join(file);
        std::fs::write(&path, yaml)?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

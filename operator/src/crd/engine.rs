//! `SecretEngine`: a mount on a VaultCluster, its tuning, configuration and
//! roles.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{ClusterRef, SecretKeyRef};

/// A secrets engine mounted on a VaultCluster: the mount (`sys/mounts`), its
/// tuning, configuration writes (a database connection, a PKI root...) and
/// roles, applied through the server's HTTP API and kept as written here
/// (a periodic resync puts back what was changed by hand). Values that are
/// secret (a database password) come from Kubernetes Secrets named in
/// `secretData`, never from this object.
///
/// Deleting the object disables the mount, which revokes every lease the
/// engine issued (dynamic credentials stop working) and deletes its data.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "arca.dev",
    version = "v1alpha1",
    kind = "SecretEngine",
    namespaced,
    doc = "A secrets engine mounted on a VaultCluster, with its tuning, configuration and roles, applied by arca-operator through the HTTP API.",
    status = "SecretEngineStatus",
    shortname = "se",
    category = "arca",
    derive = "PartialEq",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.clusterRef.name"
    ),
    printcolumn(name = "Path", type_ = "string", json_path = ".spec.path"),
    printcolumn(name = "Type", type_ = "string", json_path = ".spec.type"),
    printcolumn(
        name = "Ready",
        type_ = "string",
        json_path = ".status.conditions[?(@.type==\"Ready\")].status"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct SecretEngineSpec {
    /// The VaultCluster (in this namespace) the engine is mounted on.
    pub cluster_ref: ClusterRef,

    /// The mount path, without leading or trailing slash (e.g. `database`,
    /// `team-a/kv`). Fixed once created: to move a mount, create a new
    /// object.
    #[schemars(
        length(min = 1, max = 256),
        regex(pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
    )]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.path is immutable"))]
    pub path: String,

    /// The engine type: `kv` (with `options.version` `1` or `2`),
    /// `database`, `pki`, `transit`, `totp`, `rabbitmq`... as `arca secrets
    /// enable -path=... <type>` takes it. Fixed once created.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 64))]
    #[x_kube(validation = Rule::new("self == oldSelf").message("spec.type is immutable"))]
    pub kind: String,

    /// Description of the mount, as `sys/mounts` shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// Mount options (e.g. `version: "2"` for kv).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,

    /// Mount tuning, applied through `sys/mounts/<path>/tune`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tune: Option<TuneSpec>,

    /// Configuration writes, in order, e.g. `config/main` of a database
    /// engine or `config/urls` of PKI.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigWrite>,

    /// Roles, written to `<path>/roles/<name>` (the database, PKI,
    /// RabbitMQ and SSH engines' layout). Roles removed from this list are
    /// deleted from the engine.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleSpec>,
}

/// Mount tuning.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TuneSpec {
    /// Default lease TTL of the mount (e.g. `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d))+$|^[0-9]+$"))]
    pub default_lease_ttl: Option<String>,
    /// Maximum lease TTL of the mount (e.g. `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d))+$|^[0-9]+$"))]
    pub max_lease_ttl: Option<String>,
    /// Request keys the audit log shows unhashed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_request_keys: Vec<String>,
    /// Response keys the audit log shows unhashed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_response_keys: Vec<String>,
    /// `unauth` lists the mount in the unauthenticated UI listing;
    /// `hidden` does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing_visibility: Option<ListingVisibility>,
}

/// Listing visibility of a mount.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListingVisibility {
    Unauth,
    Hidden,
}

/// One write to a path under the mount.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConfigWrite {
    /// Path under the mount (e.g. `config/main`).
    #[schemars(length(min = 1, max = 512), regex(pattern = r"^[^/].*[^/]$|^[^/]$"))]
    pub path: String,
    /// The request body: any JSON object the engine accepts at that path.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "super::free_object")]
    pub data: Map<String, Value>,
    /// Body fields whose values come from Kubernetes Secrets in this
    /// namespace (e.g. `password`); they win over `data`. The operator
    /// reads them when it writes, and writes again when they change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub secret_data: BTreeMap<String, SecretKeyRef>,
}

/// A role of the engine.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoleSpec {
    /// Name of the role.
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_.@-]+$"))]
    pub name: String,
    /// The role's body, as `arca write <path>/roles/<name>` takes it (e.g.
    /// `db_name`, `creation_statements`, `default_ttl`).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    #[schemars(schema_with = "super::free_object")]
    pub data: Map<String, Value>,
}

/// What the operator last applied.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SecretEngineStatus {
    /// `Ready` (mount, config and roles applied), with a reason and
    /// message when not.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The mount's accessor (`sys/mounts` shows it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accessor: Option<String>,
    /// Roles the operator wrote (those it deletes when they leave the
    /// spec).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

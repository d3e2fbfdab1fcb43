//! `VaultCluster`: a set of `arca server` pods, their storage, TLS, unseal
//! keys and Services.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

/// An Arca server cluster run by arca-operator: a StatefulSet of `arca server`
/// pods with their configuration, Services, RBAC and PodDisruptionBudget.
/// The operator initializes the first pod, keeps the unseal shares where
/// `spec.unseal` says, unseals every pod that comes up sealed, configures
/// the kubernetes auth method, gives itself a narrowly-scoped identity for
/// SecretEngine and Policy objects, and revokes the root token: no root token
/// outlives the bootstrap.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "arca.dev",
    version = "v1alpha1",
    kind = "VaultCluster",
    namespaced,
    doc = "An Arca server cluster: server pods, their storage, TLS, unseal keys and Services, run and bootstrapped by arca-operator.",
    status = "VaultClusterStatus",
    shortname = "vc",
    category = "arca",
    derive = "PartialEq",
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Replicas", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Version", type_ = "string", json_path = ".status.version"),
    printcolumn(name = "Active", type_ = "string", json_path = ".status.activePod"),
    printcolumn(
        name = "Sealed",
        type_ = "string",
        json_path = ".status.sealedPods",
        priority = "1"
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct VaultClusterSpec {
    /// Number of server pods. Each pod keeps its own embedded storage, so
    /// until replicated (HA) storage lands a cluster runs exactly one pod;
    /// the field exists so that manifests need no change when it does.
    #[serde(default = "one")]
    #[schemars(range(min = 1, max = 1))]
    pub replicas: i32,

    /// The server image. Defaults to ghcr.io/arca-dev/arca with `version`
    /// as its tag. Changing it (or `version`) rolls the pods one at a time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,

    /// The Arca version to run: the image tag when `image` is not set, and
    /// the version reported in status. Defaults to the operator's own
    /// version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub version: Option<String>,

    /// When the kubelet pulls the image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<PullPolicy>,

    /// Names of Secrets in this namespace holding registry credentials for
    /// the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_pull_secrets: Vec<String>,

    /// Where the servers keep their data.
    #[serde(default)]
    pub storage: StorageSpec,

    /// TLS of the servers' listener.
    #[serde(default)]
    pub tls: TlsSpec,

    /// How the cluster is initialized and unsealed.
    #[serde(default)]
    pub unseal: UnsealSpec,

    /// CPU and memory requests and limits of the server container. The
    /// default requests 100m CPU and 64Mi memory and limits memory to 256Mi
    /// (an idle server uses about 10 MiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scheduling and metadata overrides for the server pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_template: Option<PodOverrides>,

    /// The client Service in front of the servers.
    #[serde(default)]
    pub service: ServiceSpec,

    /// The audit device the operator enables once the cluster is
    /// initialized. Without it, no audit device is enabled by the operator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSpec>,

    /// Extra server configuration (HCL) appended to the configuration the
    /// operator renders, e.g. `default_lease_ttl = "1h"`. The listener and
    /// storage stanzas are the operator's; do not repeat them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_config: Option<String>,
}

fn one() -> i32 {
    1
}

/// When the kubelet pulls the image.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum PullPolicy {
    Always,
    IfNotPresent,
    Never,
}

/// Where the servers keep their data.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StorageSpec {
    /// The storage backend. `Embedded`: Arca's single-file store on a
    /// PersistentVolumeClaim per pod (from the StatefulSet's
    /// volumeClaimTemplates). Other backends are added here as they land.
    #[serde(default, rename = "type")]
    pub kind: StorageType,

    /// Size of each pod's PersistentVolumeClaim. Growing it grows the
    /// existing claims in place (their StorageClass must allow expansion;
    /// otherwise a Warning Event says why); a smaller size is never applied
    /// to an existing claim.
    #[serde(default = "default_storage_size")]
    pub size: Quantity,

    /// StorageClass of the claims; the cluster's default class when unset.
    /// Fixed once the claims exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

impl Default for StorageSpec {
    fn default() -> Self {
        Self {
            kind: StorageType::Embedded,
            size: default_storage_size(),
            storage_class_name: None,
        }
    }
}

fn default_storage_size() -> Quantity {
    Quantity("1Gi".into())
}

/// A storage backend.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum StorageType {
    /// Arca's embedded single-file store on a PersistentVolumeClaim.
    #[default]
    Embedded,
}

/// TLS of the servers' listener.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.mode != 'Secret' || has(self.secretName)").message("tls.secretName is required when tls.mode is Secret"))]
pub struct TlsSpec {
    /// `Generated` (default): the operator creates a CA and a serving
    /// certificate for the Services' DNS names and keeps them in the Secret
    /// `<cluster>-tls` (with `ca.crt` for clients), issued again at two
    /// thirds of its year: the pods are rolled to it (with `unseal.store:
    /// Manual`, they take it at their next restart). `Secret`: a
    /// kubernetes.io/tls Secret you provide (`tls.crt`, `tls.key`, and
    /// `ca.crt` for the operator to trust), e.g. from cert-manager.
    /// `Disabled`: plain HTTP, for development only: tokens and secrets
    /// cross the network in clear.
    #[serde(default)]
    pub mode: TlsMode,

    /// The Secret holding the certificate when `mode` is `Secret`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// Where the listener's certificate comes from.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum TlsMode {
    #[default]
    Generated,
    Secret,
    Disabled,
}

/// How the cluster is initialized and unsealed.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.threshold <= self.shares").message("unseal.threshold must not exceed unseal.shares"))]
pub struct UnsealSpec {
    /// Number of Shamir key shares the root key is split into at
    /// initialization. Fixed once the cluster is initialized (rekeying is
    /// a manual operation).
    #[serde(default = "default_shares")]
    #[schemars(range(min = 1, max = 255))]
    pub shares: i32,

    /// Number of shares needed to unseal; at most `shares`.
    #[serde(default = "default_threshold")]
    #[schemars(range(min = 1, max = 255))]
    pub threshold: i32,

    /// Where the shares go. `Secret` (default): a Secret the operator
    /// manages (`secretName`; the servers' service account gets no access
    /// to Secrets, and SecretEngine objects cannot read it: restrict `get`
    /// on Secrets in this namespace to the operator); the operator unseals every pod that
    /// comes up sealed, also after restarts. `Manual`: the shares are kept
    /// nowhere: the operator writes them once into the Secret
    /// `<cluster>-unseal-once` for an admin to read and delete, and every
    /// sealed pod waits for an admin to unseal it by hand (`arca operator
    /// unseal`). Fixed once the cluster is initialized. The shares'
    /// Secret has no owner: deleting the VaultCluster keeps it, as the
    /// data volumes are kept.
    #[serde(default)]
    pub store: UnsealStore,

    /// The Secret that holds the shares when `store` is `Secret`. Defaults
    /// to `<cluster>-unseal`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

impl Default for UnsealSpec {
    fn default() -> Self {
        Self {
            shares: default_shares(),
            threshold: default_threshold(),
            store: UnsealStore::Secret,
            secret_name: None,
        }
    }
}

fn default_shares() -> i32 {
    5
}

fn default_threshold() -> i32 {
    3
}

/// Where the unseal shares are kept.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum UnsealStore {
    #[default]
    Secret,
    Manual,
}

/// Scheduling and metadata overrides for the server pods.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodOverrides {
    /// Extra annotations on the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Extra labels on the pods (the operator's own selector labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Node selector of the pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Affinity of the pods. Without it, the pods prefer different nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Tolerations of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    /// Topology spread constraints of the pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
    /// Priority class of the pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
}

/// The client Service in front of the servers.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// Type of the client Service (`<cluster>`). The headless Service
    /// (`<cluster>-internal`) that gives each pod its DNS name is always
    /// there.
    #[serde(default, rename = "type")]
    pub kind: ServiceType,
    /// Extra annotations on the client Service (e.g. for a cloud load
    /// balancer).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// Type of a Service.
#[derive(
    Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, schemars::JsonSchema,
)]
pub enum ServiceType {
    #[default]
    ClusterIP,
    NodePort,
    LoadBalancer,
}

/// The audit device the operator enables.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AuditSpec {
    /// `Stdout`: a file audit device writing to the server's standard
    /// output, for the cluster's log collection. `PersistentVolume`: a file
    /// audit device writing to /var/log/arca/audit.log on a
    /// PersistentVolumeClaim per pod.
    #[serde(rename = "type")]
    pub kind: AuditSink,
    /// Size of the audit claim when `type` is `PersistentVolume`.
    #[serde(default = "default_storage_size")]
    pub size: Quantity,
    /// StorageClass of the audit claim; the cluster's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class_name: Option<String>,
}

/// Where audit entries go.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum AuditSink {
    Stdout,
    PersistentVolume,
}

/// What the operator last saw of the cluster.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct VaultClusterStatus {
    /// `Pending` (objects created, no pod answering), `Initializing`,
    /// `Unsealing` (some pods sealed), `Running` (every pod unsealed and
    /// ready), `Degraded` (initialized but no pod serving) or `Failed`
    /// (the spec cannot be applied; see the conditions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
    /// `Initialized`, `Unsealed`, `Ready`, `Progressing` and `Degraded`,
    /// each with a reason and a message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The pod serving requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_pod: Option<String>,
    /// Pods that reported sealed at the last reconcile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sealed_pods: Vec<String>,
    /// The version the servers report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// The phase of a VaultCluster.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, schemars::JsonSchema)]
pub enum Phase {
    Pending,
    Initializing,
    Unsealing,
    Running,
    Degraded,
    Failed,
}

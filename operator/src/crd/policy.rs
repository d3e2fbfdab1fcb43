//! `Policy`: an ACL policy on a VaultCluster, and the service accounts it is
//! granted to.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use serde::{Deserialize, Serialize};

use super::ClusterRef;

/// An ACL policy on a VaultCluster, and optionally the Kubernetes service
/// accounts it is granted to through a role of the kubernetes auth method:
/// one object gives a workload access. The rules are checked with the
/// server's own parser before anything is applied; an invalid policy sets
/// the Ready condition to False with the parser's message. A periodic
/// resync puts back a policy or role changed by hand; deleting the object
/// deletes both.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "arca.dev",
    version = "v1alpha1",
    kind = "Policy",
    namespaced,
    doc = "An ACL policy on a VaultCluster, optionally granted to Kubernetes service accounts through a kubernetes auth role.",
    status = "PolicyStatus",
    shortname = "avp",
    category = "arca",
    derive = "PartialEq",
    printcolumn(
        name = "Cluster",
        type_ = "string",
        json_path = ".spec.clusterRef.name"
    ),
    printcolumn(name = "Policy", type_ = "string", json_path = ".status.policyName"),
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
pub struct PolicySpec {
    /// The VaultCluster (in this namespace) the policy is written to.
    pub cluster_ref: ClusterRef,

    /// Name of the policy on the server. Defaults to the object's name.
    /// `root` and `default` are the server's own and cannot be managed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_.-]+$"))]
    #[x_kube(validation = Rule::new("self != 'root' && self != 'default'").message("the root and default policies cannot be managed"))]
    pub name: Option<String>,

    /// The policy, in HCL (or its JSON form), as `arca policy write` takes
    /// it: `path "secret/data/app/*" { capabilities = ["read"] }`.
    #[schemars(length(min = 1))]
    pub rules: String,

    /// Service accounts the policy is granted to: the operator writes a
    /// role of the kubernetes auth method bound to them, with this policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binding: Option<BindingSpec>,
}

/// A kubernetes auth role granting the policy to service accounts.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BindingSpec {
    /// Name of the kubernetes auth role; pods log in with it (the
    /// `arca.dev/role` annotation). Defaults to the policy's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128), regex(pattern = r"^[A-Za-z0-9_.@-]+$"))]
    pub role: Option<String>,
    /// Mount path of the kubernetes auth method.
    #[serde(default = "default_auth_path")]
    #[schemars(
        length(min = 1),
        regex(pattern = r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
    )]
    pub auth_path: String,
    /// Names of the service accounts (`*` for any).
    #[schemars(length(min = 1))]
    pub service_accounts: Vec<String>,
    /// Namespaces of the service accounts (`*` for any). Defaults to this
    /// object's namespace.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub namespaces: Vec<String>,
    /// Audience the service-account tokens must carry, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// TTL of the tokens issued at login (e.g. `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d))+$|^[0-9]+$"))]
    pub token_ttl: Option<String>,
    /// Maximum TTL of the tokens issued at login (e.g. `24h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^([0-9]+(\.[0-9]+)?(ns|us|ms|s|m|h|d))+$|^[0-9]+$"))]
    pub token_max_ttl: Option<String>,
}

fn default_auth_path() -> String {
    "kubernetes".into()
}

/// What the operator last applied.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PolicyStatus {
    /// `Ready` (policy and role applied), False with the parser's message
    /// when the rules do not parse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// The policy's name on the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_name: Option<String>,
    /// The kubernetes auth role written for the binding (`<authPath>/role/<role>`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The generation of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

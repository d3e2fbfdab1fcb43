//! VaultCluster -> the Kubernetes objects that run it, as pure functions:
//! no API calls, so every field is unit-tested. The controller applies
//! these with Server-Side Apply (one field manager), so a field someone
//! changed by hand is put back at the next reconcile.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec, StatefulSetUpdateStrategy};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EnvVar,
    HTTPGetAction, LocalObjectReference, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Service,
    ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount, VolumeResourceRequirements,
    WeightedPodAffinityTerm,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use crate::crd::VaultCluster;
use crate::crd::cluster::{AuditSink, PullPolicy, ServiceType, TlsMode};

/// The API port of every server.
pub const API_PORT: i32 = 8200;
/// Where the pods mount what the operator gives them.
pub const CONFIG_DIR: &str = "/arca/config";
pub const DATA_DIR: &str = "/arca/data";
pub const TLS_DIR: &str = "/arca/tls";
pub const AUDIT_DIR: &str = "/var/log/arca";
/// The user the server image runs as (distroless `nonroot`).
pub const RUN_AS: i64 = 65532;
/// The default image repository; the tag is the cluster's version.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/arca-dev/arca";
/// The pod template annotation that changes when the rendered server
/// configuration does (so that a config change rolls the pods).
pub const CONFIG_HASH: &str = "arca.dev/config-hash";

/// What the operator fills in that a VaultCluster leaves out.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// The version (image tag) when the spec names none: the operator's own.
    pub version: String,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            version: env!("CARGO_PKG_VERSION").into(),
        }
    }
}

/// A VaultCluster the operator cannot turn into objects.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("the VaultCluster has no {0}")]
    Missing(&'static str),
    #[error("spec.extraConfig: {0}")]
    ExtraConfig(String),
}

/// Everything that runs a VaultCluster, owned by it (except the
/// cluster-scoped binding, which the finalizer deletes).
#[derive(Debug, Clone, PartialEq)]
pub struct Desired {
    pub service_account: ServiceAccount,
    /// `system:auth-delegator` for the servers' service account: the
    /// kubernetes auth method calls TokenReview with it.
    pub auth_delegator: ClusterRoleBinding,
    pub config: ConfigMap,
    /// `<cluster>-internal`: one DNS name per pod, ready or not (the
    /// operator reaches sealed pods through it).
    pub headless: Service,
    /// `<cluster>`: clients' Service, ready (unsealed) pods only.
    pub service: Service,
    pub stateful_set: StatefulSet,
    pub pdb: PodDisruptionBudget,
}

/// Names derived from a VaultCluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Names {
    pub cluster: String,
    pub namespace: String,
}

impl Names {
    pub fn of(vc: &VaultCluster) -> Result<Self, SpecError> {
        Ok(Self {
            cluster: vc
                .metadata
                .name
                .clone()
                .ok_or(SpecError::Missing("metadata.name"))?,
            namespace: vc
                .metadata
                .namespace
                .clone()
                .ok_or(SpecError::Missing("metadata.namespace"))?,
        })
    }
    pub fn headless(&self) -> String {
        format!("{}-internal", self.cluster)
    }
    pub fn config_map(&self) -> String {
        format!("{}-config", self.cluster)
    }
    pub fn tls_secret(&self) -> String {
        format!("{}-tls", self.cluster)
    }
    pub fn unseal_secret(&self) -> String {
        format!("{}-unseal", self.cluster)
    }
    /// Cluster-scoped, so it carries the namespace.
    pub fn auth_delegator(&self) -> String {
        format!("arca:{}:{}:auth-delegator", self.namespace, self.cluster)
    }
    /// Pod `ordinal`'s DNS name through the headless Service.
    pub fn pod_host(&self, ordinal: i32) -> String {
        format!(
            "{}-{ordinal}.{}.{}.svc",
            self.cluster,
            self.headless(),
            self.namespace
        )
    }
    /// The client Service's DNS name.
    pub fn service_host(&self) -> String {
        format!("{}.{}.svc", self.cluster, self.namespace)
    }
    /// Every DNS name the serving certificate must carry.
    pub fn dns_names(&self, replicas: i32) -> Vec<String> {
        let mut names = vec![
            self.cluster.clone(),
            format!("{}.{}", self.cluster, self.namespace),
            self.service_host(),
            format!("*.{}.{}.svc", self.headless(), self.namespace),
            format!("{}.{}.svc", self.headless(), self.namespace),
        ];
        names.extend((0..replicas).map(|i| self.pod_host(i)));
        names.push("localhost".into());
        names
    }
}

/// Labels every object of the cluster carries; the first two select its pods.
pub fn labels(cluster: &str) -> BTreeMap<String, String> {
    let mut l = selector(cluster);
    l.insert("app.kubernetes.io/component".into(), "server".into());
    l.insert(
        "app.kubernetes.io/managed-by".into(),
        "arca-operator".into(),
    );
    l
}

/// The labels that select a cluster's pods.
pub fn selector(cluster: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "arca".to_owned()),
        ("app.kubernetes.io/instance".to_owned(), cluster.to_owned()),
    ])
}

fn meta(names: &Names, name: String, owner: &Option<OwnerReference>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(names.namespace.clone()),
        labels: Some(labels(&names.cluster)),
        owner_references: owner.clone().map(|o| vec![o]),
        ..Default::default()
    }
}

/// The image the pods run.
pub fn image(vc: &VaultCluster, defaults: &Defaults) -> String {
    vc.spec
        .image
        .clone()
        .unwrap_or_else(|| format!("{IMAGE_REPOSITORY}:{}", version(vc, defaults)))
}

/// The version the cluster should run.
pub fn version(vc: &VaultCluster, defaults: &Defaults) -> String {
    vc.spec
        .version
        .clone()
        .unwrap_or_else(|| defaults.version.clone())
}

fn tls_enabled(vc: &VaultCluster) -> bool {
    vc.spec.tls.mode != TlsMode::Disabled
}

/// The URL scheme of the servers.
pub fn scheme(vc: &VaultCluster) -> &'static str {
    if tls_enabled(vc) { "https" } else { "http" }
}

/// The Secret holding the serving certificate, if any.
pub fn tls_secret(vc: &VaultCluster, names: &Names) -> Option<String> {
    match vc.spec.tls.mode {
        TlsMode::Generated => Some(names.tls_secret()),
        TlsMode::Secret => vc.spec.tls.secret_name.clone(),
        TlsMode::Disabled => None,
    }
}

/// The server configuration (HCL) the pods read.
pub fn server_config(vc: &VaultCluster, names: &Names) -> Result<String, SpecError> {
    let mut hcl = format!(
        "# Rendered by arca-operator from VaultCluster {}/{}: edits here are put back.\n",
        names.namespace, names.cluster
    );
    let _ = writeln!(hcl, "ui = false");
    let _ = writeln!(hcl, "disable_mlock = true");
    let _ = writeln!(
        hcl,
        "api_addr = \"{}://{}:{API_PORT}\"",
        scheme(vc),
        names.service_host()
    );
    let _ = writeln!(hcl, "\nstorage \"file\" {{\n  path = \"{DATA_DIR}\"\n}}");
    let _ = writeln!(
        hcl,
        "\nlistener \"tcp\" {{\n  address = \"0.0.0.0:{API_PORT}\""
    );
    if tls_enabled(vc) {
        let _ = writeln!(hcl, "  tls_cert_file = \"{TLS_DIR}/tls.crt\"");
        let _ = writeln!(hcl, "  tls_key_file = \"{TLS_DIR}/tls.key\"");
    } else {
        let _ = writeln!(hcl, "  tls_disable = true");
    }
    let _ = writeln!(hcl, "}}");
    if let Some(extra) = vc
        .spec
        .extra_config
        .as_deref()
        .filter(|e| !e.trim().is_empty())
    {
        check_extra_config(extra)?;
        let _ = write!(hcl, "\n# spec.extraConfig\n{}", extra.trim_end());
        hcl.push('\n');
    }
    Ok(hcl)
}

/// Extra configuration must parse and must not take over what the operator
/// owns (a second storage or listener stanza would fail the server, or
/// point it somewhere the operator does not look).
fn check_extra_config(extra: &str) -> Result<(), SpecError> {
    let body = arca_client::hcl::parse(extra).map_err(|e| SpecError::ExtraConfig(e.to_string()))?;
    for item in &body.items {
        let key = match item {
            arca_client::hcl::Item::Block(b) => &b.ident,
            arca_client::hcl::Item::Attr(a) => &a.key,
        };
        if matches!(
            key.as_str(),
            "storage" | "backend" | "listener" | "api_addr" | "ui" | "disable_mlock"
        ) {
            return Err(SpecError::ExtraConfig(format!(
                "{key:?} is set by the operator; remove it from extraConfig"
            )));
        }
    }
    Ok(())
}

/// A short, stable hash of the configuration (FNV-1a, hex): it goes into
/// the pod template so that a change rolls the pods.
pub fn config_hash(config: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in config.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Every object that runs `vc`.
pub fn desired(vc: &VaultCluster, defaults: &Defaults) -> Result<Desired, SpecError> {
    let names = Names::of(vc)?;
    let owner = vc.controller_owner_ref(&());
    let config = server_config(vc, &names)?;
    let hash = config_hash(&config);

    let service_account = ServiceAccount {
        metadata: meta(&names, names.cluster.clone(), &owner),
        ..Default::default()
    };
    let auth_delegator = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(names.auth_delegator()),
            labels: Some(labels(&names.cluster)),
            annotations: Some(BTreeMap::from([(
                "arca.dev/owner".to_owned(),
                format!("{}/{}", names.namespace, names.cluster),
            )])),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: "system:auth-delegator".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: names.cluster.clone(),
            namespace: Some(names.namespace.clone()),
            ..Default::default()
        }]),
    };
    let config_map = ConfigMap {
        metadata: meta(&names, names.config_map(), &owner),
        data: Some(BTreeMap::from([("server.hcl".to_owned(), config)])),
        ..Default::default()
    };
    let api_port = ServicePort {
        name: Some("api".into()),
        port: API_PORT,
        target_port: Some(IntOrString::String("api".into())),
        ..Default::default()
    };
    let headless = Service {
        metadata: meta(&names, names.headless(), &owner),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector(&names.cluster)),
            ports: Some(vec![api_port.clone()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut service_meta = meta(&names, names.cluster.clone(), &owner);
    if !vc.spec.service.annotations.is_empty() {
        service_meta.annotations = Some(vc.spec.service.annotations.clone());
    }
    let service = Service {
        metadata: service_meta,
        spec: Some(ServiceSpec {
            type_: Some(
                match vc.spec.service.kind {
                    ServiceType::ClusterIP => "ClusterIP",
                    ServiceType::NodePort => "NodePort",
                    ServiceType::LoadBalancer => "LoadBalancer",
                }
                .into(),
            ),
            selector: Some(selector(&names.cluster)),
            ports: Some(vec![api_port]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let pdb = PodDisruptionBudget {
        metadata: meta(&names, names.cluster.clone(), &owner),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector(&names.cluster)),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let stateful_set = stateful_set(vc, &names, defaults, &owner, &hash);
    Ok(Desired {
        service_account,
        auth_delegator,
        config: config_map,
        headless,
        service,
        stateful_set,
        pdb,
    })
}

/// The health probe: `sys/health` answers 200 only when the server is
/// initialized, unsealed and active or a standby; `extra` turns other
/// states into 204.
fn health_probe(vc: &VaultCluster, query: &str, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(format!("/v1/sys/health?{query}")),
            port: IntOrString::String("api".into()),
            scheme: Some(scheme(vc).to_uppercase()),
            ..Default::default()
        }),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(failures),
        ..Default::default()
    }
}

fn claim(name: &str, size: &Quantity, class: &Option<String>) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: class.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".to_owned(), size.clone())])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_owned(), Quantity("100m".into())),
            ("memory".to_owned(), Quantity("64Mi".into())),
        ])),
        limits: Some(BTreeMap::from([(
            "memory".to_owned(),
            Quantity("256Mi".into()),
        )])),
        ..Default::default()
    }
}

fn stateful_set(
    vc: &VaultCluster,
    names: &Names,
    defaults: &Defaults,
    owner: &Option<OwnerReference>,
    hash: &str,
) -> StatefulSet {
    let overrides = vc.spec.pod_template.clone().unwrap_or_default();
    let mut pod_labels = overrides.labels.clone();
    pod_labels.extend(labels(&names.cluster));
    let mut pod_annotations = overrides.annotations.clone();
    pod_annotations.insert(CONFIG_HASH.into(), hash.into());

    let mut mounts = vec![
        VolumeMount {
            name: "config".into(),
            mount_path: CONFIG_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        },
        VolumeMount {
            name: "data".into(),
            mount_path: DATA_DIR.into(),
            ..Default::default()
        },
    ];
    let mut volumes = vec![Volume {
        name: "config".into(),
        config_map: Some(ConfigMapVolumeSource {
            name: names.config_map(),
            ..Default::default()
        }),
        ..Default::default()
    }];
    let mut env = vec![EnvVar {
        name: "VAULT_ADDR".into(),
        // `localhost`: a name the generated certificate carries.
        value: Some(format!("{}://localhost:{API_PORT}", scheme(vc))),
        ..Default::default()
    }];
    if let Some(secret) = tls_secret(vc, names) {
        mounts.push(VolumeMount {
            name: "tls".into(),
            mount_path: TLS_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: "tls".into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret),
                default_mode: Some(0o440),
                ..Default::default()
            }),
            ..Default::default()
        });
        env.push(EnvVar {
            name: "VAULT_CACERT".into(),
            value: Some(format!("{TLS_DIR}/ca.crt")),
            ..Default::default()
        });
    }
    let storage = &vc.spec.storage;
    let mut claims = vec![claim("data", &storage.size, &storage.storage_class_name)];
    if let Some(audit) = vc
        .spec
        .audit
        .as_ref()
        .filter(|a| a.kind == AuditSink::PersistentVolume)
    {
        claims.push(claim("audit", &audit.size, &audit.storage_class_name));
        mounts.push(VolumeMount {
            name: "audit".into(),
            mount_path: AUDIT_DIR.into(),
            ..Default::default()
        });
    }

    let container = Container {
        name: "arca".into(),
        image: Some(image(vc, defaults)),
        image_pull_policy: vc.spec.image_pull_policy.map(|p| {
            match p {
                PullPolicy::Always => "Always",
                PullPolicy::IfNotPresent => "IfNotPresent",
                PullPolicy::Never => "Never",
            }
            .to_owned()
        }),
        args: Some(vec![
            "server".into(),
            format!("-config={CONFIG_DIR}/server.hcl"),
        ]),
        ports: Some(vec![ContainerPort {
            name: Some("api".into()),
            container_port: API_PORT,
            protocol: Some("TCP".into()),
            ..Default::default()
        }]),
        env: Some(env),
        volume_mounts: Some(mounts),
        resources: Some(vc.spec.resources.clone().unwrap_or_else(default_resources)),
        // Ready: initialized, unsealed, active or standby (the client
        // Service's endpoints).
        readiness_probe: Some(health_probe(vc, "standbyok=true&perfstandbyok=true", 5, 2)),
        // Alive: answering at all; sealed and uninitialized are states the
        // operator fixes, not reasons to restart.
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(10),
            ..health_probe(
                vc,
                "standbyok=true&perfstandbyok=true&sealedcode=204&uninitcode=204",
                10,
                6,
            )
        }),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };

    let affinity = overrides.affinity.clone().or_else(|| {
        Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![
                    WeightedPodAffinityTerm {
                        weight: 100,
                        pod_affinity_term: PodAffinityTerm {
                            label_selector: Some(LabelSelector {
                                match_labels: Some(selector(&names.cluster)),
                                ..Default::default()
                            }),
                            topology_key: "kubernetes.io/hostname".into(),
                            ..Default::default()
                        },
                    },
                ]),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    let pod = PodSpec {
        service_account_name: Some(names.cluster.clone()),
        containers: vec![container],
        volumes: Some(volumes),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(RUN_AS),
            run_as_group: Some(RUN_AS),
            fs_group: Some(RUN_AS),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        termination_grace_period_seconds: Some(30),
        affinity,
        node_selector: (!overrides.node_selector.is_empty())
            .then(|| overrides.node_selector.clone()),
        tolerations: (!overrides.tolerations.is_empty()).then(|| overrides.tolerations.clone()),
        topology_spread_constraints: (!overrides.topology_spread_constraints.is_empty())
            .then(|| overrides.topology_spread_constraints.clone()),
        priority_class_name: overrides.priority_class_name.clone(),
        image_pull_secrets: (!vc.spec.image_pull_secrets.is_empty()).then(|| {
            vc.spec
                .image_pull_secrets
                .iter()
                .map(|n| LocalObjectReference { name: n.clone() })
                .collect()
        }),
        ..Default::default()
    };
    StatefulSet {
        metadata: meta(names, names.cluster.clone(), owner),
        spec: Some(StatefulSetSpec {
            replicas: Some(vc.spec.replicas),
            service_name: Some(names.headless()),
            // Pods start together: a sealed pod is not ready, and must not
            // hold the next one back.
            pod_management_policy: Some("Parallel".into()),
            // The operator rolls pods itself, one at a time, standbys
            // before the active one.
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("OnDelete".into()),
                ..Default::default()
            }),
            selector: LabelSelector {
                match_labels: Some(selector(&names.cluster)),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(pod_annotations),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            volume_claim_templates: Some(claims),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A storage quantity in bytes (`1Gi`, `500M`, `1.5Ti`, `1073741824`);
/// None when it is not one.
pub fn quantity_bytes(q: &str) -> Option<u128> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, suffix) = q.split_at(split);
    let factor: u128 = match suffix {
        "" => 1,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        "T" => 1_000_000_000_000,
        "P" => 1_000_000_000_000_000,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "Pi" => 1 << 50,
        _ => return None,
    };
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    if whole.is_empty() && frac.is_empty() || frac.len() > 9 {
        return None;
    }
    let whole: u128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    let scale = 10u128.pow(u32::try_from(frac.len()).ok()?);
    whole
        .checked_mul(factor)?
        .checked_add(frac_value.checked_mul(factor)? / scale)
}

/// The claims of a cluster's pods for one volume claim template.
pub fn claim_names(names: &Names, template: &str, replicas: i32) -> Vec<String> {
    (0..replicas.max(0))
        .map(|i| format!("{template}-{}-{i}", names.cluster))
        .collect()
}

/// The first StatefulSet field the API server will not change in place
/// that differs between the stored set and the desired one (so the set
/// must be recreated), or None. Only what the operator sets is compared
/// (the API server fills in defaults of its own).
pub fn immutable_change(current: &StatefulSet, desired: &StatefulSet) -> Option<&'static str> {
    let (c, d) = (current.spec.as_ref()?, desired.spec.as_ref()?);
    if c.selector.match_labels != d.selector.match_labels {
        return Some("spec.selector");
    }
    if c.service_name != d.service_name {
        return Some("spec.serviceName");
    }
    let policy = |p: &Option<String>| p.clone().unwrap_or_else(|| "OrderedReady".into());
    if policy(&c.pod_management_policy) != policy(&d.pod_management_policy) {
        return Some("spec.podManagementPolicy");
    }
    let templates = |s: &StatefulSetSpec| {
        s.volume_claim_templates
            .iter()
            .flatten()
            .map(|t| {
                let spec = t.spec.clone().unwrap_or_default();
                (
                    t.metadata.name.clone(),
                    spec.access_modes,
                    spec.storage_class_name,
                    // Compared in bytes: the API server stores sizes in its
                    // own canonical form (1024Mi is kept as 1Gi).
                    spec.resources.and_then(|r| r.requests).and_then(|r| {
                        r.get("storage")
                            .map(|q| quantity_bytes(&q.0).ok_or_else(|| q.0.clone()))
                    }),
                )
            })
            .collect::<Vec<_>>()
    };
    if templates(c) != templates(d) {
        return Some("spec.volumeClaimTemplates");
    }
    None
}

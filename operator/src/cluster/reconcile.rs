//! The VaultCluster controller: applies the desired objects, keeps the TLS
//! material, initializes the cluster, keeps the unseal shares where the
//! spec says, unseals sealed pods, bootstraps (kubernetes auth, the
//! operator's own identity, audit) and revokes the root token, rolls pods
//! whose template changed, and reports all of it in status.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use super::desired::{self, Desired, Names};
use super::tls;
use crate::context::{Ctx, Error, MANAGER, OPERATOR_ROLE, Result, finalized, set_condition};
use crate::crd::cluster::{AuditSink, Phase, TlsMode, UnsealStore};
use crate::crd::{VaultCluster, VaultClusterStatus};

/// The pod template annotation that changes when the certificate is
/// issued again (the servers read it at start).
pub const TLS_ISSUED: &str = "arca.dev/tls-issued";
/// Secret keys of the unseal shares: `key-1` … `key-N`.
pub fn share_key(i: usize) -> String {
    format!("key-{}", i + 1)
}

/// The Secret holding the root token between `sys/init` and its
/// revocation (so that a restarted operator can finish the bootstrap).
pub fn bootstrap_secret(names: &Names) -> String {
    format!("{}-bootstrap", names.cluster)
}

/// Where Manual mode leaves the shares for an admin to read once.
pub fn once_secret(names: &Names) -> String {
    format!("{}-unseal-once", names.cluster)
}

/// The policy the operator gives itself on every cluster: mounts, their
/// configuration and roles (written, never read: no secret in a mount is
/// readable with it), ACL policies, kubernetes auth roles and audit
/// devices; no tokens, no seal, no raw storage, no other auth method.
pub const OPERATOR_POLICY: &str = r#"# Written by arca-operator at bootstrap: what SecretEngine and Policy objects need.
path "sys/mounts" { capabilities = ["read"] }
path "sys/mounts/*" { capabilities = ["create", "read", "update", "delete", "sudo"] }
path "sys/policies/acl" { capabilities = ["list"] }
path "sys/policies/acl/*" { capabilities = ["create", "read", "update", "delete"] }
path "sys/auth" { capabilities = ["read"] }
path "sys/audit" { capabilities = ["read", "sudo"] }
path "sys/audit/*" { capabilities = ["create", "update", "delete", "sudo"] }
path "auth/kubernetes/role" { capabilities = ["list"] }
path "auth/kubernetes/role/*" { capabilities = ["create", "read", "update", "delete"] }
path "*" { capabilities = ["create", "update", "delete"] }
path "sys/*" { capabilities = ["deny"] }
path "auth/*" { capabilities = ["deny"] }
path "identity/*" { capabilities = ["deny"] }
path "cubbyhole/*" { capabilities = ["deny"] }
"#;

pub async fn reconcile(vc: Arc<VaultCluster>, ctx: Arc<Ctx>) -> Result<Action> {
    finalized(
        vc,
        &ctx,
        async |vc| apply(&vc, &ctx).await,
        async |vc| cleanup(&vc, &ctx).await,
    )
    .await
}

pub async fn cleanup(vc: &VaultCluster, ctx: &Ctx) -> Result<Action> {
    let names = Names::of(vc).map_err(|e| Error::Other(e.to_string()))?;
    let crbs: Api<ClusterRoleBinding> = Api::all(ctx.client.clone());
    delete_if_present(&crbs, &names.auth_delegator()).await?;
    ctx.event(
        vc,
        false,
        "Deleted",
        format!(
            "deleted ClusterRoleBinding {}; the rest goes with its owner",
            names.auth_delegator()
        ),
    )
    .await;
    Ok(Action::await_change())
}

/// Deletes `name`; one that is already gone is fine.
async fn delete_if_present<K>(api: &Api<K>, name: &str) -> Result<()>
where
    K: Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn apply_params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

async fn ssa<K>(api: &Api<K>, obj: &K) -> Result<K>
where
    K: Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let name = obj.meta().name.clone().unwrap_or_default();
    Ok(api
        .patch(&name, &apply_params(), &Patch::Apply(obj))
        .await?)
}

fn owner(vc: &VaultCluster) -> Option<Vec<OwnerReference>> {
    vc.controller_owner_ref(&()).map(|o| vec![o])
}

fn secret(
    names: &Names,
    name: String,
    vc: &VaultCluster,
    data: BTreeMap<String, ByteString>,
    annotations: Option<BTreeMap<String, String>>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(names.namespace.clone()),
            labels: Some(desired::labels(&names.cluster)),
            annotations,
            owner_references: owner(vc),
            ..Default::default()
        },
        data: Some(data),
        type_: Some("Opaque".into()),
        ..Default::default()
    }
}

/// The generated CA and serving certificate; returns when the latter was
/// issued (it goes into the pod template: a new one rolls the pods).
async fn ensure_tls(vc: &VaultCluster, names: &Names, ctx: &Ctx) -> Result<Option<String>> {
    if vc.spec.tls.mode != TlsMode::Generated {
        return Ok(None);
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let ca_name = format!("{}-ca", names.cluster);
    let ca = match secrets
        .get_opt(&ca_name)
        .await?
        .as_ref()
        .and_then(tls::ca_from_secret)
    {
        Some(ca) => ca,
        None => {
            let ca = tls::new_ca(&names.cluster).map_err(Error::Other)?;
            ssa(
                &secrets,
                &secret(names, ca_name.clone(), vc, tls::ca_data(&ca), None),
            )
            .await?;
            ctx.event(
                vc,
                false,
                "CACreated",
                format!("created the CA of the servers' certificates in Secret {ca_name}"),
            )
            .await;
            ca
        }
    };
    let mut dns = names.dns_names(vc.spec.replicas);
    dns.push("127.0.0.1".into());
    let current = secrets.get_opt(&names.tls_secret()).await?;
    let now = k8s_openapi::jiff::Timestamp::now().as_second();
    if tls::due(current.as_ref(), &dns, now) {
        let leaf = tls::new_leaf(&ca, &dns).map_err(Error::Other)?;
        let mut s = secret(
            names,
            names.tls_secret(),
            vc,
            tls::serving_data(&ca, &leaf),
            Some(tls::serving_annotations(&leaf, &dns)),
        );
        s.type_ = Some("kubernetes.io/tls".into());
        // The type of a Secret is immutable: an Opaque one of that name is
        // replaced.
        if current
            .as_ref()
            .is_some_and(|c| c.type_.as_deref() != Some("kubernetes.io/tls"))
        {
            secrets
                .delete(&names.tls_secret(), &DeleteParams::default())
                .await?;
        }
        let stored = ssa(&secrets, &s).await?;
        ctx.event(
            vc,
            false,
            "CertificateIssued",
            format!(
                "issued the servers' certificate (Secret {}), valid for a year",
                names.tls_secret()
            ),
        )
        .await;
        return Ok(stored.annotations().get(tls::NOT_BEFORE).cloned());
    }
    Ok(current.and_then(|c| c.annotations().get(tls::NOT_BEFORE).cloned()))
}

/// A 422 for a field the API server will not change in place (any other
/// 422, an invalid value, is an error to report, not a reason to delete).
fn is_immutable(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 422
        && (s.message.contains("field is immutable") || s.message.contains("updates to statefulset spec for fields other than")))
}

/// Applies every object; a StatefulSet whose immutable fields changed is
/// deleted with its pods orphaned and created again.
pub async fn apply_objects(
    vc: &VaultCluster,
    names: &Names,
    d: &Desired,
    ctx: &Ctx,
) -> Result<StatefulSet> {
    let c = &ctx.client;
    let ns = &names.namespace;
    ssa(
        &Api::<ServiceAccount>::namespaced(c.clone(), ns),
        &d.service_account,
    )
    .await?;
    ssa(
        &Api::<ClusterRoleBinding>::all(c.clone()),
        &d.auth_delegator,
    )
    .await?;
    ssa(&Api::<ConfigMap>::namespaced(c.clone(), ns), &d.config).await?;
    ssa(&Api::<Service>::namespaced(c.clone(), ns), &d.headless).await?;
    ssa(&Api::<Service>::namespaced(c.clone(), ns), &d.service).await?;
    ssa(
        &Api::<PodDisruptionBudget>::namespaced(c.clone(), ns),
        &d.pdb,
    )
    .await?;
    let sets: Api<StatefulSet> = Api::namespaced(c.clone(), ns);
    // A change the API server would refuse is not tried: the set is
    // recreated (a 422 for anything this misses takes the same way).
    if let Some(field) = sets
        .get_opt(&names.cluster)
        .await?
        .and_then(|current| desired::immutable_change(&current, &d.stateful_set))
    {
        return recreate(
            vc,
            names,
            d,
            ctx,
            &sets,
            format!("{field} cannot change in place"),
        )
        .await;
    }
    match ssa(&sets, &d.stateful_set).await {
        Ok(s) => Ok(s),
        Err(Error::Kube(e)) if is_immutable(&e) => {
            recreate(
                vc,
                names,
                d,
                ctx,
                &sets,
                format!("the API server refused the change: {e}"),
            )
            .await
        }
        Err(e) => Err(e),
    }
}

/// Existing claims smaller than the spec's sizes are grown in place (the
/// StorageClass must allow expansion: when it does not, the API server's
/// refusal is in a Warning Event); a smaller size is never applied to an
/// existing claim.
pub async fn grow_claims(vc: &VaultCluster, names: &Names, ctx: &Ctx) -> Result<()> {
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let mut wanted = vec![("data", &vc.spec.storage.size)];
    if let Some(a) = vc
        .spec
        .audit
        .as_ref()
        .filter(|a| a.kind == AuditSink::PersistentVolume)
    {
        wanted.push(("audit", &a.size));
    }
    for (template, size) in wanted {
        let Some(want) = desired::quantity_bytes(&size.0) else {
            continue;
        };
        for claim in desired::claim_names(names, template, vc.spec.replicas) {
            let Some(pvc) = pvcs.get_opt(&claim).await? else {
                continue;
            };
            let have = pvc
                .spec
                .as_ref()
                .and_then(|s| s.resources.as_ref())
                .and_then(|r| r.requests.as_ref())
                .and_then(|r| r.get("storage"))
                .and_then(|q| desired::quantity_bytes(&q.0));
            if have.is_none_or(|h| h >= want) {
                continue;
            }
            let patch = json!({"spec": {"resources": {"requests": {"storage": size.0}}}});
            match pvcs
                .patch(&claim, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    ctx.event(
                        vc,
                        false,
                        "ClaimExpanding",
                        format!("asked for {} on claim {claim}", size.0),
                    )
                    .await;
                }
                Err(kube::Error::Api(e)) if e.code == 422 || e.code == 403 => {
                    ctx.event(
                        vc,
                        true,
                        "ClaimNotExpanded",
                        format!("claim {claim} stays at its size: {}", e.message),
                    )
                    .await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

/// Deletes the StatefulSet with its pods orphaned (they keep running and
/// keep their claims; the new set adopts them) and creates it again.
async fn recreate(
    vc: &VaultCluster,
    names: &Names,
    d: &Desired,
    ctx: &Ctx,
    sets: &Api<StatefulSet>,
    why: String,
) -> Result<StatefulSet> {
    ctx.event(
        vc,
        true,
        "Recreating",
        format!(
            "StatefulSet {}: {why}; deleting it (pods and volumes kept) and creating it again",
            names.cluster
        ),
    )
    .await;
    sets.delete(&names.cluster, &DeleteParams::orphan()).await?;
    for _ in 0..50 {
        if sets.get_opt(&names.cluster).await?.is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    ssa(sets, &d.stateful_set).await
}

/// What one pod said.
struct PodState {
    pod: Pod,
    client: Option<arca_client::Client>,
    status: Option<arca_client::sys::SealStatus>,
}

impl PodState {
    fn name(&self) -> String {
        self.pod.name_any()
    }
    fn initialized(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.initialized)
    }
    fn sealed(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.initialized && s.sealed)
    }
    fn serving(&self) -> bool {
        self.status
            .as_ref()
            .is_some_and(|s| s.initialized && !s.sealed)
    }
}

async fn read_secret(
    ctx: &Ctx,
    ns: &str,
    name: &str,
) -> Result<Option<BTreeMap<String, ByteString>>> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    Ok(api.get_opt(name).await?.and_then(|s| s.data))
}

fn text(data: &BTreeMap<String, ByteString>, key: &str) -> Option<String> {
    data.get(key)
        .and_then(|v| String::from_utf8(v.0.clone()).ok())
}

fn shares_of(data: &BTreeMap<String, ByteString>) -> Vec<String> {
    (0..255).map_while(|i| text(data, &share_key(i))).collect()
}

async fn apply(vc: &VaultCluster, ctx: &Ctx) -> Result<Action> {
    let names = Names::of(vc).map_err(|e| Error::Other(e.to_string()))?;
    let generation = vc.metadata.generation;
    let mut status = vc.status.clone().unwrap_or_default();
    status.observed_generation = generation;

    // 1. The objects.
    let mut d = match desired::desired(vc, &ctx.defaults) {
        Ok(d) => d,
        Err(e) => {
            set_condition(
                &mut status.conditions,
                "Degraded",
                true,
                "InvalidSpec",
                e.to_string(),
                generation,
            );
            set_condition(
                &mut status.conditions,
                "Ready",
                false,
                "InvalidSpec",
                e.to_string(),
                generation,
            );
            status.phase = Some(Phase::Failed);
            ctx.event(vc, true, "InvalidSpec", e.to_string()).await;
            write_status(vc, ctx, status).await?;
            return Ok(Action::requeue(ctx.settings.resync));
        }
    };
    let issued = ensure_tls(vc, &names, ctx).await?;
    // A renewed certificate rolls the pods, which come back sealed: only
    // when the operator holds the shares. In Manual mode the servers take
    // it at their next restart.
    let issued = issued.filter(|_| vc.spec.unseal.store == UnsealStore::Secret);
    if let (Some(issued), Some(tmpl)) = (
        issued,
        d.stateful_set
            .spec
            .as_mut()
            .and_then(|s| s.template.metadata.as_mut()),
    ) {
        tmpl.annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(TLS_ISSUED.into(), issued);
    }
    grow_claims(vc, &names, ctx).await?;
    let sts = apply_objects(vc, &names, &d, ctx).await?;

    // 2. What each pod says.
    let ca = ctx.cluster_ca(vc).await?;
    let mut pods = Vec::new();
    for pod in ctx.pods(vc).await? {
        let client = ctx.pod_client(vc, &pod, ca.as_deref()).ok();
        let status = match &client {
            Some(c) => c.seal_status().await.ok(),
            None => None,
        };
        pods.push(PodState {
            pod,
            client,
            status,
        });
    }

    // 3. Initialize the first pod that answers, once.
    let unseal_secret = vc
        .spec
        .unseal
        .secret_name
        .clone()
        .unwrap_or_else(|| names.unseal_secret());
    let mut fresh_shares: Option<Vec<String>> = None;
    let uninitialized = !pods.iter().any(PodState::initialized);
    if let Some(first) = pods
        .iter_mut()
        .find(|p| uninitialized && p.status.is_some())
    {
        let client = first
            .client
            .clone()
            .ok_or_else(|| Error::Other("no client".into()))?;
        let name = first.name();
        fresh_shares = Some(initialize(vc, &names, &unseal_secret, &client, ctx, &name).await?);
        if let Ok(s) = client.seal_status().await {
            first.status = Some(s);
        }
    }

    // 4. Unseal every sealed pod with the shares kept (or just made).
    let shares = match fresh_shares {
        Some(s) => s,
        None if vc.spec.unseal.store == UnsealStore::Secret => {
            read_secret(ctx, &names.namespace, &unseal_secret)
                .await?
                .map(|d| shares_of(&d))
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    // The server's own threshold (the spec's may have been edited since
    // the init).
    let spec_threshold = usize::try_from(vc.spec.unseal.threshold).unwrap_or(1);
    for p in pods.iter_mut().filter(|p| p.sealed()) {
        if shares.is_empty() {
            continue;
        }
        let Some(c) = p.client.clone() else { continue };
        let mut last = None;
        let threshold = p
            .status
            .as_ref()
            .map_or(spec_threshold, |st| usize::from(st.t))
            .max(1);
        for share in shares.iter().take(threshold) {
            match c.unseal(share).await {
                Ok(s) => {
                    let done = !s.sealed;
                    last = Some(s);
                    if done {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(pod = %p.name(), error = %e, "unseal failed");
                    break;
                }
            }
        }
        if let Some(s) = last {
            if !s.sealed {
                ctx.event(vc, false, "Unsealed", format!("unsealed pod {}", p.name()))
                    .await;
            }
            p.status = Some(s);
        }
    }

    // 5. Bootstrap on a serving pod while the root token exists.
    let mut bootstrapped = true;
    if let Some(root) = read_secret(ctx, &names.namespace, &bootstrap_secret(&names))
        .await?
        .and_then(|d| text(&d, "root-token"))
    {
        bootstrapped = false;
        if let Some(c) = pods
            .iter()
            .find(|p| p.serving())
            .and_then(|p| p.client.clone())
        {
            bootstrap(vc, &names, &c.with_token(root), ctx).await?;
            bootstrapped = true;
        }
    } else if vc.spec.audit.is_some() && pods.iter().any(PodState::serving) {
        // An audit device asked for after the bootstrap: enabled with the
        // operator's own token. One removed from the spec is left alone
        // (it may be an admin's).
        let client = ctx.cluster_client(&names.namespace, &names.cluster).await?;
        ensure_audit(vc, &client, ctx).await?;
    }

    // 6. Roll pods whose template is out of date, one at a time, only when
    //    every pod serves.
    let mut rolling = None;
    let update = sts.status.as_ref().and_then(|s| s.update_revision.clone());
    if let Some(update) = update {
        let all_serving =
            pods.len() as i32 == vc.spec.replicas && pods.iter().all(PodState::serving);
        let outdated: Vec<&PodState> = pods
            .iter()
            .filter(|p| {
                p.pod
                    .labels()
                    .get("controller-revision-hash")
                    .is_some_and(|h| *h != update)
            })
            .collect();
        if all_serving {
            // Standbys first; the active one (the first serving) last.
            if let Some(p) = outdated.iter().next_back() {
                let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &names.namespace);
                api.delete(&p.name(), &DeleteParams::default()).await?;
                ctx.event(
                    vc,
                    false,
                    "RollingPod",
                    format!(
                        "deleted pod {} to run the new template (revision {update})",
                        p.name()
                    ),
                )
                .await;
                rolling = Some(p.name());
            }
        } else if !outdated.is_empty() {
            rolling = Some(outdated[0].name());
        }
    }

    // 7. Status.
    let initialized = pods.iter().any(PodState::initialized);
    let serving: Vec<String> = pods
        .iter()
        .filter(|p| p.serving())
        .map(PodState::name)
        .collect();
    let sealed: Vec<String> = pods
        .iter()
        .filter(|p| p.sealed())
        .map(PodState::name)
        .collect();
    let answering = pods.iter().filter(|p| p.status.is_some()).count();
    status.active_pod = serving.first().cloned();
    status.sealed_pods = sealed.clone();
    status.version = pods
        .iter()
        .find_map(|p| p.status.as_ref().map(|s| s.version.clone()));
    let ready = initialized
        && bootstrapped
        && serving.len() as i32 == vc.spec.replicas
        && rolling.is_none();
    set_condition(
        &mut status.conditions,
        "Initialized",
        initialized,
        if !initialized {
            "NotInitialized"
        } else if bootstrapped {
            "Bootstrapped"
        } else {
            "Bootstrapping"
        },
        if !initialized {
            "no pod has been initialized yet".into()
        } else if bootstrapped {
            "initialized; kubernetes auth and the operator's identity configured; no root token left".into()
        } else {
            "initialized; the bootstrap (kubernetes auth, operator identity, root revocation) is not finished".into()
        },
        generation,
    );
    let manual = vc.spec.unseal.store == UnsealStore::Manual;
    set_condition(
        &mut status.conditions,
        "Unsealed",
        initialized && sealed.is_empty() && !serving.is_empty(),
        if !sealed.is_empty() && manual {
            "WaitingForManualUnseal"
        } else if !sealed.is_empty() && shares.is_empty() {
            "NoUnsealShares"
        } else if !sealed.is_empty() {
            "Unsealing"
        } else {
            "AllUnsealed"
        },
        if sealed.is_empty() {
            format!("{} pod(s) unsealed", serving.len())
        } else {
            format!("sealed: {}", sealed.join(", "))
        },
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Ready",
        ready,
        if ready { "Serving" } else { "NotReady" },
        format!("{}/{} pod(s) serving", serving.len(), vc.spec.replicas),
        generation,
    );
    set_condition(
        &mut status.conditions,
        "Progressing",
        rolling.is_some() || answering < vc.spec.replicas as usize,
        if rolling.is_some() {
            "RollingUpdate"
        } else if answering < vc.spec.replicas as usize {
            "WaitingForPods"
        } else {
            "Stable"
        },
        match &rolling {
            Some(p) => format!("rolling pod {p} to the new template"),
            None => format!("{answering}/{} pod(s) answering", vc.spec.replicas),
        },
        generation,
    );
    let degraded = initialized && serving.is_empty();
    set_condition(
        &mut status.conditions,
        "Degraded",
        degraded,
        if degraded {
            "NoPodServing"
        } else {
            "AsExpected"
        },
        if degraded {
            "initialized, but no pod is unsealed".into()
        } else {
            String::new()
        },
        generation,
    );
    status.phase = Some(if answering == 0 {
        Phase::Pending
    } else if !initialized {
        Phase::Initializing
    } else if ready {
        Phase::Running
    } else if degraded && sealed.is_empty() {
        Phase::Degraded
    } else if !sealed.is_empty() {
        Phase::Unsealing
    } else {
        Phase::Initializing
    });
    write_status(vc, ctx, status).await?;
    Ok(if ready {
        Action::requeue(ctx.settings.resync)
    } else {
        Action::requeue(Duration::from_secs(3))
    })
}

async fn write_status(vc: &VaultCluster, ctx: &Ctx, status: VaultClusterStatus) -> Result<()> {
    let api: Api<VaultCluster> =
        Api::namespaced(ctx.client.clone(), &vc.namespace().unwrap_or_default());
    let patch =
        json!({"apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster", "status": status});
    api.patch_status(&vc.name_any(), &apply_params(), &Patch::Apply(&patch))
        .await?;
    Ok(())
}

/// `sys/init` on one pod; the shares go where the spec says, the root
/// token into the bootstrap Secret until it is revoked.
async fn initialize(
    vc: &VaultCluster,
    names: &Names,
    unseal_secret: &str,
    client: &arca_client::Client,
    ctx: &Ctx,
    pod: &str,
) -> Result<Vec<String>> {
    let req = arca_client::sys::InitRequest {
        secret_shares: i64::from(vc.spec.unseal.shares),
        secret_threshold: i64::from(vc.spec.unseal.threshold),
        ..Default::default()
    };
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    let (target, note) = match vc.spec.unseal.store {
        UnsealStore::Secret => (
            unseal_secret.to_owned(),
            format!(
                "initialized pod {pod}: {} shares (threshold {}) kept in Secret {unseal_secret}",
                req.secret_shares, req.secret_threshold
            ),
        ),
        UnsealStore::Manual => {
            let once = once_secret(names);
            (
                once.clone(),
                format!(
                    "initialized pod {pod}: read the {} shares from Secret {once}, keep them safe, and delete it; sealed pods then wait for a manual unseal",
                    req.secret_shares
                ),
            )
        }
    };
    // The shares are written once and exist nowhere else: both Secrets are
    // made (empty) before `sys/init`, so that a quota, an admission policy
    // or missing RBAC stops the operator before the keys exist, not after.
    // The shares carry no owner: deleting the VaultCluster keeps them, as
    // its volumes keep the data they unseal.
    let shares_secret = |data| {
        let mut s = secret(names, target.clone(), vc, data, None);
        s.metadata.owner_references = None;
        s
    };
    let bootstrap_of = |data| secret(names, bootstrap_secret(names), vc, data, None);
    ssa(&secrets, &shares_secret(BTreeMap::new())).await?;
    ssa(&secrets, &bootstrap_of(BTreeMap::new())).await?;

    let init = client.init(&req).await?;
    let data: BTreeMap<String, ByteString> = init
        .keys_base64
        .iter()
        .enumerate()
        .map(|(i, k)| (share_key(i), ByteString(k.clone().into_bytes())))
        .collect();
    let root = BTreeMap::from([(
        "root-token".to_owned(),
        ByteString(init.root_token.clone().into_bytes()),
    )]);
    // Shares first (without them the data is lost), then the root token;
    // a failing write is tried again for about half a minute.
    for (what, obj) in [
        ("shares", shares_secret(data)),
        ("root token", bootstrap_of(root)),
    ] {
        let mut tries = 0;
        loop {
            match ssa(&secrets, &obj).await {
                Ok(_) => break,
                Err(e) if tries < 15 => {
                    tries += 1;
                    tracing::error!(error = %e, "writing the {what} after sys/init failed; trying again");
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(e) => {
                    ctx.event(
                        vc,
                        true,
                        "InitSecretsLost",
                        format!(
                            "pod {pod} was initialized but the {what} could not be stored: {e}"
                        ),
                    )
                    .await;
                    return Err(e);
                }
            }
        }
    }
    ctx.event(vc, false, "Initialized", note).await;
    Ok(init.keys_base64.clone())
}

/// With the root token: kubernetes auth for in-cluster use, the operator's
/// own policy and role, the audit device; then the root token is revoked
/// and its Secret deleted.
async fn bootstrap(
    vc: &VaultCluster,
    names: &Names,
    root: &arca_client::Client,
    ctx: &Ctx,
) -> Result<()> {
    let auths = match root.list_auth().await {
        Ok(a) => a,
        Err(arca_client::Error::Api { status: 403, .. }) => {
            // Revoked by a run that stopped before deleting the Secret.
            return finish_bootstrap(vc, names, ctx).await;
        }
        Err(e) => return Err(e.into()),
    };
    if !auths.contains_key("kubernetes/") {
        root.write("sys/auth/kubernetes", &json!({"type": "kubernetes", "description": "Kubernetes service accounts (configured by arca-operator)"})).await?;
    }
    let mut config = json!({"kubernetes_host": ctx.settings.server_kubernetes_host});
    if let Some(path) = &ctx.settings.server_kubernetes_ca_file {
        let ca = tokio::fs::read_to_string(path)
            .await
            .map_err(|e| Error::Other(format!("{}: {e}", path.display())))?;
        config["kubernetes_ca_cert"] = Value::String(ca);
    }
    root.write("auth/kubernetes/config", &config).await?;
    root.write_policy(OPERATOR_ROLE, OPERATOR_POLICY).await?;
    root.write(
        &format!("auth/kubernetes/role/{OPERATOR_ROLE}"),
        &json!({
            "bound_service_account_names": [ctx.settings.service_account],
            "bound_service_account_namespaces": [ctx.settings.service_account_namespace],
            "token_policies": [OPERATOR_ROLE],
            "token_ttl": "1h",
            "token_max_ttl": "24h"
        }),
    )
    .await?;
    ensure_audit(vc, root, ctx).await?;
    root.write("auth/token/revoke-self", &json!({})).await?;
    finish_bootstrap(vc, names, ctx).await
}

/// The spec's audit device (`file` at `file/`), enabled when missing.
async fn ensure_audit(vc: &VaultCluster, client: &arca_client::Client, ctx: &Ctx) -> Result<()> {
    let Some(audit) = &vc.spec.audit else {
        return Ok(());
    };
    let existing = client
        .read("sys/audit")
        .await?
        .and_then(|s| s.data)
        .unwrap_or_default();
    if existing.contains_key("file/") {
        return Ok(());
    }
    let path = match audit.kind {
        AuditSink::Stdout => "stdout".to_owned(),
        AuditSink::PersistentVolume => format!("{}/audit.log", desired::AUDIT_DIR),
    };
    client
        .write(
            "sys/audit/file",
            &json!({"type": "file", "options": {"file_path": path}}),
        )
        .await?;
    ctx.event(
        vc,
        false,
        "AuditEnabled",
        format!("enabled the file audit device ({path})"),
    )
    .await;
    Ok(())
}

async fn finish_bootstrap(vc: &VaultCluster, names: &Names, ctx: &Ctx) -> Result<()> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &names.namespace);
    delete_if_present(&secrets, &bootstrap_secret(names)).await?;
    ctx.event(
        vc,
        false,
        "Bootstrapped",
        format!("kubernetes auth configured; the operator acts through its role {OPERATOR_ROLE}; the root token is revoked"),
    )
    .await;
    Ok(())
}

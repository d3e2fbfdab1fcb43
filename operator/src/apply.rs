//! The SecretEngine and Policy controllers: what `plan` computes, written
//! to the cluster through its HTTP API with the operator's own token,
//! idempotently; finalizers take it away again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Resource, ResourceExt};
use serde_json::{Value, json};

use crate::context::{Ctx, MANAGER, Result, finalized, set_condition};
use crate::crd::{Policy, PolicyStatus, SecretEngine, SecretEngineStatus, VaultCluster};
use crate::plan::{self, PlanError};

/// How soon to look again while the cluster is not ready.
const WAIT: Duration = Duration::from_secs(5);

fn params() -> PatchParams {
    PatchParams::apply(MANAGER).force()
}

async fn write_status<K>(obj: &K, ctx: &Ctx, status: Value) -> Result<()>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(
        ctx.client.clone(),
        &obj.meta().namespace.clone().unwrap_or_default(),
    );
    let patch = json!({"apiVersion": K::api_version(&()), "kind": K::kind(&()), "status": status});
    api.patch_status(
        &obj.meta().name.clone().unwrap_or_default(),
        &params(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(())
}

/// Whether the cluster a ref names exists at all (a deleted cluster has
/// nothing left to clean up).
async fn cluster_exists(ctx: &Ctx, ns: &str, name: &str) -> Result<bool> {
    Ok(Api::<VaultCluster>::namespaced(ctx.client.clone(), ns)
        .get_opt(name)
        .await?
        .is_some())
}

fn is_status(e: &arca_client::Error, code: u16) -> bool {
    matches!(e, arca_client::Error::Api { status, .. } | arca_client::Error::ApiRaw { status, .. } if *status == code)
}

// --- SecretEngine ------------------------------------------------------------

pub async fn reconcile_engine(se: Arc<SecretEngine>, ctx: Arc<Ctx>) -> Result<Action> {
    finalized(
        se,
        &ctx,
        async |se| apply_engine(&se, &ctx).await,
        async |se| cleanup_engine(&se, &ctx).await,
    )
    .await
}

fn engine_status(
    se: &SecretEngine,
    ready: bool,
    reason: &str,
    message: String,
) -> SecretEngineStatus {
    let mut status = se.status.clone().unwrap_or_default();
    status.observed_generation = se.metadata.generation;
    ready_condition(
        &mut status.conditions,
        se.metadata.generation,
        ready,
        reason,
        message,
    );
    status
}

/// The one condition SecretEngine and Policy objects carry.
fn ready_condition(
    conditions: &mut Vec<k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition>,
    generation: Option<i64>,
    ready: bool,
    reason: &str,
    message: String,
) {
    set_condition(conditions, "Ready", ready, reason, message, generation);
}

async fn apply_engine(se: &SecretEngine, ctx: &Ctx) -> Result<Action> {
    let ns = se.namespace().unwrap_or_default();
    let plan = match plan::engine(se) {
        Ok(p) => p,
        Err(e) => {
            let st = engine_status(se, false, "InvalidSpec", e.to_string());
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            return Ok(Action::requeue(ctx.settings.resync));
        }
    };
    let client = match ctx.cluster_client(&ns, &se.spec.cluster_ref.name).await {
        Ok(c) => c,
        Err(e) => {
            let st = engine_status(se, false, "ClusterNotReady", e.to_string());
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            return Ok(Action::requeue(WAIT));
        }
    };
    // Secret values first: a missing one applies nothing.
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), &ns);
    let mut values = std::collections::HashMap::new();
    for (name, key) in plan::referenced_secrets(se) {
        let secret = secrets.get_opt(&name).await?;
        // The operator's own Secrets (unseal shares, root token, CA key)
        // are never copied into a cluster through an engine's config.
        if secret.as_ref().is_some_and(|s| {
            s.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("app.kubernetes.io/managed-by"))
                .is_some_and(|m| m == "arca-operator")
        }) {
            let msg = format!(
                "Secret {name:?} is managed by arca-operator and cannot be used in secretData"
            );
            let st = engine_status(se, false, "SecretRefused", msg.clone());
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            ctx.event(se, true, "SecretRefused", msg).await;
            return Ok(Action::requeue(ctx.settings.resync));
        }
        let v = secret.and_then(|s| s.data).and_then(|d| {
            d.get(&key)
                .and_then(|v| String::from_utf8(v.0.clone()).ok())
        });
        if let Some(v) = v {
            values.insert((name, key), v);
        }
    }
    let mut bodies = Vec::new();
    for w in &plan.writes {
        match plan::fill(w, |n, k| values.get(&(n.to_owned(), k.to_owned())).cloned()) {
            Ok(b) => bodies.push((w.path.clone(), b)),
            Err(e) => {
                let st = engine_status(se, false, "SecretMissing", e.to_string());
                write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
                return Ok(Action::requeue(WAIT));
            }
        }
    }

    let mount_key = format!("{}/", plan.path);
    let mounts = client.list_mounts().await?;
    let ours = se.status.as_ref().and_then(|s| s.accessor.clone());
    let mut mounted_now = None;
    match mounts.get(&mount_key) {
        None => {
            client
                .write(
                    &format!("sys/mounts/{}", plan.path),
                    &Value::Object(plan.mount.clone()),
                )
                .await?;
            ctx.event(
                se,
                false,
                "Mounted",
                format!("enabled {} at {}/", se.spec.kind, plan.path),
            )
            .await;
            // Recorded at once: the accessor is how this object knows the
            // mount is its own (to configure it, and to disable it).
            let accessor = client
                .list_mounts()
                .await?
                .get(&mount_key)
                .map(|m| m.accessor.clone());
            let mut st = engine_status(se, false, "Mounted", format!("{}/ mounted", plan.path));
            st.accessor = accessor.clone();
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            mounted_now = accessor;
        }
        Some(m) if ours.as_deref() != Some(m.accessor.as_str()) => {
            let msg = format!(
                "{}/ is already mounted, and not by this object: choose another path (an existing mount is never taken over, nor disabled)",
                plan.path
            );
            let st = engine_status(se, false, "PathInUse", msg.clone());
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            ctx.event(se, true, "PathInUse", msg).await;
            return Ok(Action::requeue(ctx.settings.resync));
        }
        Some(m)
            if m.mount_type != se.spec.kind
                && !(m.mount_type == "kv" && se.spec.kind == "kv-v2") =>
        {
            let msg = format!(
                "{}/ is already a {} mount, not {}: delete it or choose another path",
                plan.path, m.mount_type, se.spec.kind
            );
            let st = engine_status(se, false, "PathInUse", msg.clone());
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            ctx.event(se, true, "PathInUse", msg).await;
            return Ok(Action::requeue(ctx.settings.resync));
        }
        Some(_) => {}
    }
    if !plan.tune.is_empty() {
        client
            .write(
                &format!("sys/mounts/{}/tune", plan.path),
                &Value::Object(plan.tune.clone()),
            )
            .await?;
    }
    for (path, body) in &bodies {
        if let Err(e) = client.write(path, &Value::Object(body.clone())).await {
            let msg = format!("writing {path}: {e}");
            let mut st = engine_status(se, false, "WriteFailed", msg.clone());
            st.accessor = mounted_now.clone().or_else(|| ours.clone());
            write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            ctx.event(se, true, "WriteFailed", msg).await;
            return Ok(Action::requeue(Duration::from_secs(30)));
        }
    }
    // Roles that left the spec.
    let wanted: BTreeSet<&str> = se.spec.roles.iter().map(|r| r.name.as_str()).collect();
    let previous = se
        .status
        .as_ref()
        .map(|s| s.roles.clone())
        .unwrap_or_default();
    for gone in previous.iter().filter(|r| !wanted.contains(r.as_str())) {
        match client.delete(&plan::role_path(&plan.path, gone)).await {
            Ok(_) => {
                ctx.event(se, false, "RoleDeleted", format!("deleted role {gone}"))
                    .await
            }
            Err(e) if is_status(&e, 404) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let accessor = client
        .list_mounts()
        .await?
        .get(&mount_key)
        .map(|m| m.accessor.clone());
    let mut st = engine_status(
        se,
        true,
        "Applied",
        format!("{}/ mounted; {} write(s) applied", plan.path, bodies.len()),
    );
    st.accessor = accessor;
    st.roles = wanted.iter().map(|r| (*r).to_owned()).collect();
    write_status(se, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
    Ok(Action::requeue(ctx.settings.resync))
}

async fn cleanup_engine(se: &SecretEngine, ctx: &Ctx) -> Result<Action> {
    let ns = se.namespace().unwrap_or_default();
    if !cluster_exists(ctx, &ns, &se.spec.cluster_ref.name).await? {
        return Ok(Action::await_change());
    }
    // Never mounted (the cluster was never ready, the spec invalid, a
    // Secret missing, the path another's): nothing to undo, and a cluster
    // that never comes up must not hold the deletion. The accessor is
    // recorded as soon as the mount is made.
    let Some(accessor) = se.status.as_ref().and_then(|s| s.accessor.clone()) else {
        return Ok(Action::await_change());
    };
    let client = ctx.cluster_client(&ns, &se.spec.cluster_ref.name).await?;
    let path = se.spec.path.trim_matches('/');
    // Only the mount this object made (its accessor) is disabled: never one
    // that was there before it, or replaced since.
    let mounts = client.list_mounts().await?;
    if mounts
        .get(&format!("{path}/"))
        .is_some_and(|m| m.accessor == accessor)
    {
        client.disable_mount(path).await?;
        ctx.event(
            se,
            false,
            "Unmounted",
            format!("disabled {path}/ (its leases are revoked)"),
        )
        .await;
    }
    Ok(Action::await_change())
}

// --- Policy ------------------------------------------------------------------

pub async fn reconcile_policy(p: Arc<Policy>, ctx: Arc<Ctx>) -> Result<Action> {
    finalized(
        p,
        &ctx,
        async |p| apply_policy(&p, &ctx).await,
        async |p| cleanup_policy(&p, &ctx).await,
    )
    .await
}

fn policy_status(p: &Policy, ready: bool, reason: &str, message: String) -> PolicyStatus {
    let mut status = p.status.clone().unwrap_or_default();
    status.observed_generation = p.metadata.generation;
    ready_condition(
        &mut status.conditions,
        p.metadata.generation,
        ready,
        reason,
        message,
    );
    status
}

async fn apply_policy(p: &Policy, ctx: &Ctx) -> Result<Action> {
    let ns = p.namespace().unwrap_or_default();
    let plan = match plan::policy(p) {
        Ok(plan) => plan,
        Err(e) => {
            let reason = if matches!(e, PlanError::InvalidRules(_)) {
                "InvalidRules"
            } else {
                "InvalidSpec"
            };
            let st = policy_status(p, false, reason, e.to_string());
            write_status(p, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            ctx.event(p, true, reason, e.to_string()).await;
            return Ok(Action::requeue(ctx.settings.resync));
        }
    };
    let client = match ctx.cluster_client(&ns, &p.spec.cluster_ref.name).await {
        Ok(c) => c,
        Err(e) => {
            let st = policy_status(p, false, "ClusterNotReady", e.to_string());
            write_status(p, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
            return Ok(Action::requeue(WAIT));
        }
    };
    let previous = p.status.clone().unwrap_or_default();
    // Renamed: the old policy and role go.
    if let Some(old) = previous
        .policy_name
        .as_deref()
        .filter(|o| *o != plan.name && plan::deletable_policy(o))
    {
        ignore_404(client.delete_policy(old).await)?;
    }
    let role_path = plan.role.as_ref().map(plan::RolePlan::path);
    if let Some(old) = previous
        .role
        .as_deref()
        .filter(|o| Some(*o) != role_path.as_deref() && plan::deletable_role_path(o))
    {
        ignore_404(client.delete(old).await.map(|_| ()))?;
    }
    let current = client.read_policy(&plan.name).await?;
    if current.as_deref() != Some(plan.rules.as_str()) {
        client.write_policy(&plan.name, &plan.rules).await?;
        if current.is_some() {
            ctx.event(
                p,
                false,
                "PolicyRestored",
                format!(
                    "policy {} differed from the object: written again",
                    plan.name
                ),
            )
            .await;
        }
    }
    if let Some(role) = &plan.role {
        client
            .write(&role.path(), &Value::Object(role.body.clone()))
            .await?;
    }
    let mut st = policy_status(
        p,
        true,
        "Applied",
        match &role_path {
            Some(r) => format!("policy {} written; granted through {r}", plan.name),
            None => format!("policy {} written", plan.name),
        },
    );
    st.policy_name = Some(plan.name);
    st.role = role_path;
    write_status(p, ctx, serde_json::to_value(st).unwrap_or_default()).await?;
    Ok(Action::requeue(ctx.settings.resync))
}

fn ignore_404(r: std::result::Result<(), arca_client::Error>) -> Result<()> {
    match r {
        Err(e) if !is_status(&e, 404) => Err(e.into()),
        _ => Ok(()),
    }
}

async fn cleanup_policy(p: &Policy, ctx: &Ctx) -> Result<Action> {
    let ns = p.namespace().unwrap_or_default();
    if !cluster_exists(ctx, &ns, &p.spec.cluster_ref.name).await? {
        return Ok(Action::await_change());
    }
    let status = p.status.clone().unwrap_or_default();
    if status.policy_name.is_none() && status.role.is_none() {
        return Ok(Action::await_change());
    }
    let client = ctx.cluster_client(&ns, &p.spec.cluster_ref.name).await?;
    // What status names is checked first: status is writable by others,
    // and must not make the operator delete what is not a Policy's.
    if let Some(role) = status
        .role
        .as_deref()
        .filter(|r| plan::deletable_role_path(r))
    {
        ignore_404(client.delete(role).await.map(|_| ()))?;
    }
    if let Some(name) = status
        .policy_name
        .as_deref()
        .filter(|n| plan::deletable_policy(n))
    {
        ignore_404(client.delete_policy(name).await)?;
    }
    ctx.event(
        p,
        false,
        "Deleted",
        "deleted the policy and its role".into(),
    )
    .await;
    Ok(Action::await_change())
}

//! `arca-operator run`: leader election, then the three controllers;
//! `/healthz`, `/readyz` and `/metrics` beside them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::{Controller, watcher};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::apply;
use crate::cluster::reconcile;
use crate::context::Ctx;
use crate::crd::{Policy, SecretEngine, VaultCluster};
use crate::settings::Settings;

/// Set once this replica leads and its controllers run.
static LEADING: AtomicBool = AtomicBool::new(false);

pub async fn run(settings: Settings) -> Result<(), String> {
    let client = kube::Client::try_default()
        .await
        .map_err(|e| format!("no Kubernetes API: {e}"))?;
    if !settings.health_listen.is_empty() {
        let addr = if settings.health_listen.starts_with(':') {
            format!("0.0.0.0{}", settings.health_listen)
        } else {
            settings.health_listen.clone()
        };
        let listener = tokio::net::TcpListener::bind(&addr)
            .await
            .map_err(|e| format!("-health-listen={addr}: {e}"))?;
        tokio::spawn(health(listener));
    }
    if settings.leader_elect {
        let manager =
            kube_lease_manager::LeaseManagerBuilder::new(client.clone(), &settings.lease_name)
                .with_namespace(&settings.lease_namespace)
                .with_identity(&settings.identity)
                .with_duration(15)
                .with_grace(5)
                .build()
                .await
                .map_err(|e| format!("leader election: {e}"))?;
        let (mut leader, _task) = manager.watch().await;
        tracing::info!(lease = %settings.lease_name, namespace = %settings.lease_namespace, identity = %settings.identity, "waiting to lead");
        while !*leader.borrow_and_update() {
            leader
                .changed()
                .await
                .map_err(|_| "leader election stopped".to_owned())?;
        }
        tracing::info!("leading");
        // Losing the lease ends the process: another replica leads now,
        // and two must never act at once.
        tokio::spawn(async move {
            loop {
                if leader.changed().await.is_err() || !*leader.borrow_and_update() {
                    tracing::error!("lost the lease: exiting");
                    std::process::exit(1);
                }
            }
        });
    }
    LEADING.store(true, Ordering::SeqCst);
    controllers(client, settings).await;
    Ok(())
}

async fn controllers(client: kube::Client, settings: Settings) {
    let ns = settings.namespace.clone();
    let ctx = Arc::new(Ctx::new(client.clone(), settings));
    fn api<K>(client: &kube::Client, ns: &Option<String>) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        match ns {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let cfg = watcher::Config::default();
    // A pod of a cluster changing (restarted, sealed, ready) reconciles its
    // cluster: that is how a restarted pod is unsealed at once.
    let pods = watcher::Config::default()
        .labels("app.kubernetes.io/name=arca,app.kubernetes.io/managed-by=arca-operator");
    let clusters = Controller::new(api::<VaultCluster>(&client, &ns), cfg.clone())
        .owns(api::<StatefulSet>(&client, &ns), cfg.clone())
        .watches(api::<Pod>(&client, &ns), pods, |pod| {
            let cluster = pod.labels().get("app.kubernetes.io/instance")?.clone();
            Some(ObjectRef::<VaultCluster>::new(&cluster).within(&pod.namespace()?))
        })
        .shutdown_on_signal()
        .run(
            reconcile::reconcile,
            crate::context::error_policy,
            ctx.clone(),
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "VaultCluster controller");
            }
        });
    let engines = Controller::new(api::<SecretEngine>(&client, &ns), cfg.clone())
        .shutdown_on_signal()
        .run(
            apply::reconcile_engine,
            crate::context::error_policy,
            ctx.clone(),
        )
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "SecretEngine controller");
            }
        });
    let policies = Controller::new(api::<Policy>(&client, &ns), cfg)
        .shutdown_on_signal()
        .run(apply::reconcile_policy, crate::context::error_policy, ctx)
        .for_each(|r| async move {
            if let Err(e) = r {
                tracing::debug!(error = %e, "Policy controller");
            }
        });
    tokio::join!(clusters, engines, policies);
}

/// A minimal HTTP/1.1 responder: `/healthz` (the process runs), `/readyz`
/// (it leads, or waits to: both are ready to take over), `/metrics`.
async fn health(listener: tokio::net::TcpListener) {
    loop {
        let Ok((mut conn, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n =
                match tokio::time::timeout(std::time::Duration::from_secs(5), conn.read(&mut buf))
                    .await
                {
                    Ok(Ok(n)) => n,
                    _ => return,
                };
            let line = String::from_utf8_lossy(&buf[..n]);
            let path = line.split_whitespace().nth(1).unwrap_or("/");
            let (code, body) = match path {
                "/healthz" | "/readyz" => ("200 OK", "ok\n".to_owned()),
                "/metrics" => (
                    "200 OK",
                    format!(
                        "# HELP arca_operator_leading Whether this replica leads (runs the controllers).\n# TYPE arca_operator_leading gauge\narca_operator_leading {}\n",
                        u8::from(LEADING.load(Ordering::SeqCst))
                    ),
                ),
                _ => ("404 Not Found", "not found\n".to_owned()),
            };
            let resp = format!(
                "HTTP/1.1 {code}\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(resp.as_bytes()).await;
        });
    }
}

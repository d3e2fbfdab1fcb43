//! What every reconcile shares: the Kubernetes client, the settings, the
//! event recorder, the tokens the operator holds on each cluster, and the
//! failure counts that space out retries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Api, ListParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::{Resource, ResourceExt};

use crate::cluster::desired::{self, API_PORT, Defaults, Names};
use crate::crd::VaultCluster;
use crate::crd::cluster::TlsMode;
use crate::settings::Settings;

/// The field manager of every Server-Side Apply the operator makes.
pub const MANAGER: &str = "arca-operator";
/// The policy and kubernetes auth role the operator holds on every cluster.
pub const OPERATOR_ROLE: &str = "arca-operator";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Arca(#[from] arca_client::Error),
    #[error("{0}")]
    Other(String),
    #[error("finalizer: {0}")]
    Finalizer(#[source] Box<kube::runtime::finalizer::Error<Error>>),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

pub struct Ctx {
    pub client: kube::Client,
    pub settings: Settings,
    pub defaults: Defaults,
    pub recorder: Recorder,
    /// Cluster (namespace/name) -> the operator's token on it.
    tokens: Mutex<HashMap<String, String>>,
    /// Object key -> consecutive failures (exponential backoff).
    failures: Mutex<HashMap<String, u32>>,
}

impl Ctx {
    pub fn new(client: kube::Client, settings: Settings) -> Self {
        let recorder = Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: Some(settings.identity.clone()),
            },
        );
        Self {
            client,
            settings,
            defaults: Defaults::default(),
            recorder,
            tokens: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes an Event on `obj`; a failure to publish is logged, never
    /// fatal.
    pub async fn event<K: Resource<DynamicType = ()>>(
        &self,
        obj: &K,
        warning: bool,
        reason: &str,
        note: String,
    ) {
        // The API server takes at most 1024 characters.
        let note = if note.len() > 1024 {
            let mut end = 1020;
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            format!("{}...", &note[..end])
        } else {
            note
        };
        let ev = Event {
            type_: if warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: reason.into(),
            note: Some(note),
            action: reason.into(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&ev, &obj.object_ref(&())).await {
            tracing::warn!(error = %e, reason, "could not publish an event");
        }
    }

    /// The delay before retrying `key` after one more failure: 1 s,
    /// doubling, at most 5 minutes.
    pub fn backoff(&self, key: &str) -> Action {
        let mut f = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let n = f.entry(key.to_owned()).or_insert(0);
        *n = n.saturating_add(1);
        let secs = 1u64
            .checked_shl(n.saturating_sub(1).min(9))
            .unwrap_or(300)
            .min(300);
        Action::requeue(Duration::from_secs(secs))
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
    }

    fn cached_token(&self, cluster: &str) -> Option<String> {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(cluster)
            .cloned()
    }

    fn cache_token(&self, cluster: &str, token: Option<String>) {
        let mut t = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match token {
            Some(tok) => t.insert(cluster.to_owned(), tok),
            None => t.remove(cluster),
        };
    }

    /// The CA the operator trusts for a cluster's servers (None: the
    /// system's roots, or plain HTTP).
    pub async fn cluster_ca(&self, vc: &VaultCluster) -> Result<Option<Vec<u8>>> {
        let names = Names::of(vc).map_err(|e| Error::Other(e.to_string()))?;
        let secret = match vc.spec.tls.mode {
            TlsMode::Disabled => return Ok(None),
            TlsMode::Generated => names.tls_secret(),
            TlsMode::Secret => match &vc.spec.tls.secret_name {
                Some(s) => s.clone(),
                None => return Ok(None),
            },
        };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &names.namespace);
        Ok(api
            .get_opt(&secret)
            .await?
            .and_then(|s| s.data)
            .and_then(|d| d.get("ca.crt").map(|v| v.0.clone())))
    }

    /// A client for one pod of the cluster, by its IP, checking the
    /// certificate for the pod's DNS name.
    pub fn pod_client(
        &self,
        vc: &VaultCluster,
        pod: &Pod,
        ca: Option<&[u8]>,
    ) -> Result<arca_client::Client> {
        let names = Names::of(vc).map_err(|e| Error::Other(e.to_string()))?;
        let ip = pod
            .status
            .as_ref()
            .and_then(|s| s.pod_ip.as_deref())
            .ok_or_else(|| Error::Other(format!("pod {} has no IP yet", pod.name_any())))?;
        let ip: std::net::IpAddr = ip
            .parse()
            .map_err(|_| Error::Other(format!("pod IP {ip:?}")))?;
        let ordinal = pod
            .name_any()
            .rsplit_once('-')
            .and_then(|(_, n)| n.parse::<i32>().ok())
            .unwrap_or(0);
        let host = names.pod_host(ordinal);
        let mut b =
            arca_client::Client::builder(format!("{}://{host}:{API_PORT}", desired::scheme(vc)))
                .resolve(host, SocketAddr::new(ip, API_PORT as u16))
                .timeout(Duration::from_secs(10));
        if let Some(ca) = ca {
            b = b.ca_pem(ca.to_vec());
        }
        Ok(b.build()?)
    }

    /// The cluster's pods, by ordinal.
    pub async fn pods(&self, vc: &VaultCluster) -> Result<Vec<Pod>> {
        let names = Names::of(vc).map_err(|e| Error::Other(e.to_string()))?;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &names.namespace);
        let selector = desired::selector(&names.cluster)
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut pods = api
            .list(&ListParams::default().labels(&selector))
            .await?
            .items;
        pods.sort_by_key(|p| {
            p.name_any()
                .rsplit_once('-')
                .and_then(|(_, n)| n.parse::<i32>().ok())
                .unwrap_or(i32::MAX)
        });
        Ok(pods)
    }

    /// A client on the cluster `namespace/name` holding the operator's own
    /// token (kubernetes auth, role `arca-operator`): for SecretEngine and
    /// Policy objects. Err while the cluster is not bootstrapped or no pod
    /// is unsealed.
    pub async fn cluster_client(&self, namespace: &str, name: &str) -> Result<arca_client::Client> {
        let vcs: Api<VaultCluster> = Api::namespaced(self.client.clone(), namespace);
        let vc = vcs.get_opt(name).await?.ok_or_else(|| {
            Error::Other(format!("VaultCluster {namespace}/{name} does not exist"))
        })?;
        let ca = self.cluster_ca(&vc).await?;
        let mut last = Error::Other(format!(
            "VaultCluster {namespace}/{name} has no unsealed pod"
        ));
        for pod in self.pods(&vc).await? {
            let Ok(c) = self.pod_client(&vc, &pod, ca.as_deref()) else {
                continue;
            };
            match c.seal_status().await {
                Ok(s) if s.initialized && !s.sealed => {}
                Ok(_) => continue,
                Err(e) => {
                    last = e.into();
                    continue;
                }
            }
            let key = format!("{namespace}/{name}");
            if let Some(token) = self.cached_token(&key) {
                let c = c.with_token(token);
                if c.read("auth/token/lookup-self").await.is_ok() {
                    return Ok(c);
                }
                self.cache_token(&key, None);
            }
            let jwt = tokio::fs::read_to_string(&self.settings.token_file)
                .await
                .map_err(|e| {
                    Error::Other(format!("{}: {e}", self.settings.token_file.display()))
                })?;
            let login = c
                .login_kubernetes("kubernetes", OPERATOR_ROLE, jwt.trim())
                .await?;
            let token = login
                .auth
                .map(|a| a.client_token)
                .ok_or_else(|| Error::Other("the login returned no token".into()))?;
            self.cache_token(&key, Some(token.clone()));
            return Ok(c.with_token(token));
        }
        Err(last)
    }
}

/// Sets condition `type_` in `conditions`, keeping its transition time
/// when the status does not change.
pub fn set_condition(
    conditions: &mut Vec<Condition>,
    type_: &str,
    status: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
) {
    let status = if status { "True" } else { "False" };
    let now = Time(k8s_openapi::jiff::Timestamp::now());
    match conditions.iter_mut().find(|c| c.type_ == type_) {
        Some(c) => {
            if c.status != status {
                c.last_transition_time = now;
            }
            c.status = status.into();
            c.reason = reason.into();
            c.message = message;
            c.observed_generation = generation;
        }
        None => conditions.push(Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message,
            observed_generation: generation,
            last_transition_time: now,
        }),
    }
}

/// The key of an object in the failure map.
pub fn key<K: ResourceExt>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        std::any::type_name::<K>(),
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

/// Runs `apply` or, when the object is being deleted, `cleanup`, under the
/// finalizer `arca.dev/cleanup` (added before anything is made, removed
/// once `cleanup` succeeded); a success resets the object's backoff.
pub async fn finalized<K>(
    obj: std::sync::Arc<K>,
    ctx: &Ctx,
    apply: impl AsyncFnOnce(std::sync::Arc<K>) -> Result<Action>,
    cleanup: impl AsyncFnOnce(std::sync::Arc<K>) -> Result<Action>,
) -> Result<Action>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    use kube::runtime::finalizer::{Event as Finalizer, finalizer};
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &obj.namespace().unwrap_or_default());
    let key = key(obj.as_ref());
    let action = finalizer(&api, FINALIZER, obj, |event| async move {
        match event {
            Finalizer::Apply(o) => apply(o).await,
            Finalizer::Cleanup(o) => cleanup(o).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))?;
    ctx.succeeded(&key);
    Ok(action)
}

/// The controllers' error policy: log, and retry with backoff.
pub fn error_policy<K: ResourceExt>(
    obj: std::sync::Arc<K>,
    error: &Error,
    ctx: std::sync::Arc<Ctx>,
) -> Action {
    tracing::warn!(kind = std::any::type_name::<K>(), name = %obj.name_any(), namespace = ?obj.namespace(), %error, "reconcile failed");
    ctx.backoff(&key(obj.as_ref()))
}

/// The finalizer on every object the operator manages.
pub const FINALIZER: &str = "arca.dev/cleanup";

//! The test plays kubelet for the pods of a VaultCluster's StatefulSet (the
//! control plane has no nodes): each pod the StatefulSet controller creates
//! is run as a real `arca server` process with the pod's rendered
//! configuration (from its ConfigMap and TLS Secret volumes), on a loopback
//! address of its own (127.0.0.N:8200), with a data directory that outlives
//! the process (the pod's volume claim). The pod's status gets its IP,
//! `Running`, and `Ready` from the readiness probe's own URL. A process that
//! exits is started again (a container restart); a pod being deleted is
//! stopped and removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret};
use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde_json::json;
use tokio::process::{Child, Command};

use crate::arca::bin;

struct Running {
    uid: String,
    child: Child,
    restarts: i32,
    /// What was last written to the pod's status (ready, restarts).
    reported: Option<(bool, i32)>,
}

struct State {
    running: HashMap<String, Running>,
    ips: HashMap<String, String>,
    next: u8,
}

pub struct Kubelet {
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
    pub dir: Arc<tempfile::TempDir>,
}

impl Kubelet {
    /// Runs the pods matching `selector` in `ns`; `first_ip` is the last
    /// octet of the first pod's loopback address.
    pub fn start(client: kube::Client, ns: &str, selector: &str, first_ip: u8) -> Self {
        let state = Arc::new(Mutex::new(State {
            running: HashMap::new(),
            ips: HashMap::new(),
            next: first_ip,
        }));
        let dir = Arc::new(tempfile::tempdir().unwrap());
        let task = tokio::spawn(run(
            client,
            ns.to_owned(),
            selector.to_owned(),
            state.clone(),
            dir.clone(),
        ));
        Self { state, task, dir }
    }

    /// SIGKILL a pod's server: it is started again, on the same data.
    pub fn kill(&self, pod: &str) {
        let mut s = self.state.lock().unwrap();
        let r = s.running.get_mut(pod).expect("a running pod");
        r.child.start_kill().unwrap();
    }

    /// How often the pod's server was started again.
    pub fn restarts(&self, pod: &str) -> i32 {
        self.state
            .lock()
            .unwrap()
            .running
            .get(pod)
            .map_or(0, |r| r.restarts)
    }

    /// The pod's loopback address.
    pub fn ip(&self, pod: &str) -> Option<String> {
        self.state.lock().unwrap().ips.get(pod).cloned()
    }

    pub fn log(&self, pod: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(pod).join("server.log")).unwrap_or_default()
    }

    pub async fn stop(self) {
        self.task.abort();
        let _ = self.task.await;
        let children: Vec<Running> = self
            .state
            .lock()
            .unwrap()
            .running
            .drain()
            .map(|(_, r)| r)
            .collect();
        for mut r in children {
            let _ = r.child.kill().await;
        }
    }
}

async fn run(
    client: kube::Client,
    ns: String,
    selector: String,
    state: Arc<Mutex<State>>,
    dir: Arc<tempfile::TempDir>,
) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let http = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    loop {
        if let Ok(list) = pods.list(&ListParams::default().labels(&selector)).await {
            for pod in list.items {
                if let Err(e) = step(&client, &pods, &http, &pod, &state, dir.path()).await {
                    eprintln!("kubelet: {}: {e}", pod.name_any());
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn data(map: &Option<std::collections::BTreeMap<String, ByteString>>) -> Vec<(String, Vec<u8>)> {
    map.iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.0.clone()))
        .collect()
}

async fn step(
    client: &kube::Client,
    pods: &Api<Pod>,
    http: &reqwest::Client,
    pod: &Pod,
    state: &Arc<Mutex<State>>,
    dir: &Path,
) -> Result<(), String> {
    let name = pod.name_any();
    let uid = pod.uid().unwrap_or_default();
    let ns = pod.namespace().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        let r = state.lock().unwrap().running.remove(&name);
        if let Some(mut r) = r {
            let _ = r.child.kill().await;
        }
        let _ = pods
            .delete(&name, &DeleteParams::default().grace_period(0))
            .await;
        return Ok(());
    }
    // A pod of the same name made again (deleted, then recreated by its
    // StatefulSet): the old container goes first.
    let replaced = {
        let mut s = state.lock().unwrap();
        match s.running.get(&name) {
            Some(r) if r.uid != uid => s.running.remove(&name),
            _ => None,
        }
    };
    if let Some(mut old) = replaced {
        let _ = old.child.kill().await;
    }
    // Start (or restart) the container.
    let (start, restarts) = {
        let mut s = state.lock().unwrap();
        match s.running.get_mut(&name) {
            Some(r) if r.uid == uid => match r.child.try_wait() {
                Ok(Some(_)) => (true, r.restarts + 1),
                _ => (false, r.restarts),
            },
            _ => (true, 0),
        }
    };
    let ip = {
        let mut s = state.lock().unwrap();
        if !s.ips.contains_key(&name) {
            let ip = format!("127.0.0.{}", s.next);
            s.next += 1;
            s.ips.insert(name.clone(), ip);
        }
        s.ips[&name].clone()
    };
    if start {
        let spec = pod.spec.as_ref().ok_or("no spec")?;
        let pod_dir = dir.join(&name);
        let config_dir = pod_dir.join("config");
        let tls_dir = pod_dir.join("tls");
        for d in [
            &config_dir,
            &tls_dir,
            &pod_dir.join("data"),
            &pod_dir.join("audit"),
        ] {
            std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
        }
        for v in spec.volumes.iter().flatten() {
            if let Some(cm) = &v.config_map {
                let cm = Api::<ConfigMap>::namespaced(client.clone(), &ns)
                    .get(&cm.name)
                    .await
                    .map_err(|e| e.to_string())?;
                for (k, text) in cm.data.iter().flatten() {
                    let text = text
                        .replace("/arca/config", &config_dir.display().to_string())
                        .replace("/arca/data", &pod_dir.join("data").display().to_string())
                        .replace("/arca/tls", &tls_dir.display().to_string())
                        .replace(
                            "/var/log/arca",
                            &pod_dir.join("audit").display().to_string(),
                        )
                        .replace("0.0.0.0:8200", &format!("{ip}:8200"));
                    std::fs::write(config_dir.join(k), text).map_err(|e| e.to_string())?;
                }
            }
            if let Some(sv) = &v.secret {
                let secret = Api::<Secret>::namespaced(client.clone(), &ns)
                    .get(sv.secret_name.as_deref().unwrap_or_default())
                    .await
                    .map_err(|e| format!("secret volume: {e}"))?;
                for (k, bytes) in data(&secret.data) {
                    std::fs::write(tls_dir.join(k), bytes).map_err(|e| e.to_string())?;
                }
            }
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(pod_dir.join("server.log"))
            .map_err(|e| e.to_string())?;
        let child = Command::new(bin("arca"))
            .arg("server")
            .arg(format!(
                "-config={}",
                config_dir.join("server.hcl").display()
            ))
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| e.to_string())?;
        state.lock().unwrap().running.insert(
            name.clone(),
            Running {
                uid: uid.clone(),
                child,
                restarts,
                reported: None,
            },
        );
    }
    // The readiness probe, as the pod spec gives it.
    let probe = spec_probe(pod);
    let scheme = if probe.1 { "https" } else { "http" };
    let ready = http
        .get(format!("{scheme}://{ip}:8200{}", probe.0))
        .send()
        .await
        .is_ok_and(|r| r.status().as_u16() == 200);
    let changed = {
        let mut s = state.lock().unwrap();
        let r = s.running.get_mut(&name).ok_or("not running")?;
        let now = (ready, r.restarts);
        let changed = r.reported != Some(now);
        r.reported = Some(now);
        changed
    };
    if changed {
        let flag = if ready { "True" } else { "False" };
        let status = json!({"status": {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "PodScheduled", "status": "True"},
                {"type": "Initialized", "status": "True"},
                {"type": "ContainersReady", "status": flag},
                {"type": "Ready", "status": flag}
            ],
            "containerStatuses": [{
                "name": "arca", "ready": ready, "restartCount": restarts, "started": true,
                "image": pod.spec.as_ref().and_then(|s| s.containers[0].image.clone()).unwrap_or_default(),
                "imageID": "", "state": {"running": {}}
            }]
        }});
        pods.patch_status(&name, &PatchParams::default(), &Patch::Merge(&status))
            .await
            .map_err(|e| format!("status: {e}"))?;
    }
    Ok(())
}

/// The readiness probe's path, and whether it is HTTPS.
fn spec_probe(pod: &Pod) -> (String, bool) {
    let get = pod
        .spec
        .as_ref()
        .and_then(|s| s.containers.first())
        .and_then(|c| c.readiness_probe.as_ref())
        .and_then(|p| p.http_get.as_ref());
    match get {
        Some(g) => (
            g.path.clone().unwrap_or_else(|| "/".into()),
            g.scheme.as_deref() == Some("HTTPS"),
        ),
        None => ("/v1/sys/health".into(), false),
    }
}

/// Files a process needs, written where the test keeps them.
pub fn write(dir: &Path, name: &str, contents: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, contents).unwrap();
    p
}

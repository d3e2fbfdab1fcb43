//! Arca against a real Kubernetes API server: what a test needs of the
//! control plane `e2e/kube/up` starts (or of any cluster `KUBECONFIG`
//! names, for `e2e/cluster.sh`).
//!
//! ```text
//! let cluster = Cluster::connect().await;
//! let ns = cluster.namespace().await;       // arca-e2e-<random>, labelled
//! cluster.service_account(&ns.name, "app").await;
//! let jwt = cluster.token(&ns.name, "app", &["vault"], 600).await;
//! ns.delete().await;                        // also what it registered
//! ```
//!
//! Built only with the `cluster` feature: without a cluster there is
//! nothing here to run.
#![cfg(feature = "cluster")]
// Test helpers fail the test by panicking, with what went wrong.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Mutex;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::{Api, DeleteParams, DynamicObject, PostParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde_json::{Value, json};

/// Label on every namespace a test makes (`kubectl delete ns -l
/// arca.dev/e2e` clears what an interrupted run left).
pub const LABEL: &str = "arca.dev/e2e";

/// The cluster under test.
pub struct Cluster {
    client: kube::Client,
    config: kube::Config,
}

impl Cluster {
    /// The cluster of `KUBECONFIG` (or the usual kubeconfig). Panics with
    /// what to do when there is none or it does not answer.
    pub async fn connect() -> Self {
        let config = kube::Config::infer().await.unwrap_or_else(|e| {
            panic!(
                "no Kubernetes cluster to test against ({e}): start one with \
                 `eval \"$(e2e/kube/up)\"`, or point KUBECONFIG at one"
            )
        });
        let client = kube::Client::try_from(config.clone()).expect("a client for the cluster");
        client.apiserver_version().await.unwrap_or_else(|e| {
            panic!(
                "the API server at {} does not answer: {e}",
                config.cluster_url
            )
        });
        Self { client, config }
    }

    pub fn client(&self) -> kube::Client {
        self.client.clone()
    }

    /// The API server's URL, without a trailing slash.
    pub fn server_url(&self) -> String {
        self.config
            .cluster_url
            .to_string()
            .trim_end_matches('/')
            .to_owned()
    }

    /// The CA the kubeconfig trusts for the API server, as PEM (empty when
    /// it names none: the system's roots then).
    pub fn ca_pem(&self) -> String {
        self.config
            .root_cert
            .iter()
            .flatten()
            .map(|der| pem("CERTIFICATE", der))
            .collect()
    }

    /// The directory `e2e/kube/up` keeps this control plane in, when the
    /// cluster is that one (its kubeconfig sits there, with `pki/`).
    pub fn local_dir(&self) -> Option<PathBuf> {
        let kubeconfig = PathBuf::from(std::env::var_os("KUBECONFIG")?);
        let dir = kubeconfig.parent()?.to_owned();
        dir.join("pki/sa.key").is_file().then_some(dir)
    }

    /// The service-account signing key of a control plane of our own (PEM),
    /// to forge what a real cluster never hands out (an expired token).
    pub fn signing_key_pem(&self) -> Option<Vec<u8>> {
        std::fs::read(self.local_dir()?.join("pki/sa.key")).ok()
    }

    /// A fresh namespace, deleted by `TestNamespace::delete`.
    pub async fn namespace(&self) -> TestNamespace {
        use rand::Rng;
        let suffix: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(8)
            .map(|c| char::from(c).to_ascii_lowercase())
            .collect();
        let name = format!("arca-e2e-{suffix}");
        let ns: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {LABEL: "true"}}
        }))
        .unwrap();
        Api::<Namespace>::all(self.client())
            .create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("creating namespace {name}: {e}"));
        TestNamespace {
            name,
            client: self.client(),
            cluster_scoped: Mutex::new(Vec::new()),
            deleted: false,
        }
    }

    pub async fn service_account(&self, ns: &str, name: &str) -> ServiceAccount {
        let sa: ServiceAccount =
            serde_json::from_value(json!({"metadata": {"name": name}})).unwrap();
        Api::<ServiceAccount>::namespaced(self.client(), ns)
            .create(&PostParams::default(), &sa)
            .await
            .unwrap_or_else(|e| panic!("creating service account {ns}/{name}: {e}"))
    }

    /// A TokenRequest token for a service account (`kubectl create token`).
    pub async fn token(&self, ns: &str, sa: &str, audiences: &[&str], seconds: i64) -> String {
        let request = json!({
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"audiences": audiences, "expirationSeconds": seconds}
        });
        let answer: Value = Api::<ServiceAccount>::namespaced(self.client(), ns)
            .create_subresource("token", sa, &PostParams::default(), &request)
            .await
            .unwrap_or_else(|e| panic!("TokenRequest for {ns}/{sa}: {e}"));
        answer["status"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("TokenRequest for {ns}/{sa} answered {answer}"))
            .to_owned()
    }

    /// The API server's service-account verification keys, from its
    /// `/openid/v1/jwks`, as PEM public keys (RSA and P-256).
    pub async fn jwks_pem(&self) -> Vec<String> {
        let request = http_get("/openid/v1/jwks");
        let jwks: Value = self
            .client
            .request(request)
            .await
            .expect("GET /openid/v1/jwks");
        jwks["keys"]
            .as_array()
            .expect("a JWKS")
            .iter()
            .filter_map(jwk_to_pem)
            .collect()
    }

    /// Creates a cluster-scoped object from JSON (a CRD, a webhook
    /// configuration, a ClusterRoleBinding) and has `ns` delete it with
    /// itself.
    pub async fn create_cluster_scoped(&self, ns: &TestNamespace, object: Value) -> DynamicObject {
        let api = self.dynamic(&object, None);
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let obj: DynamicObject = serde_json::from_value(object).unwrap();
        let created = api
            .create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("creating {name}: {e}"));
        ns.cluster_scoped.lock().unwrap().push((api, name));
        created
    }

    /// Creates a namespaced object from JSON in `ns`.
    pub async fn create_in(&self, ns: &str, object: Value) -> DynamicObject {
        let api = self.dynamic(&object, Some(ns));
        let obj: DynamicObject = serde_json::from_value(object.clone()).unwrap();
        api.create(&PostParams::default(), &obj)
            .await
            .unwrap_or_else(|e| panic!("creating {object}: {e}"))
    }

    /// The dynamic API of an object's `apiVersion` and `kind` (plural
    /// found by discovery).
    pub fn dynamic(&self, object: &Value, ns: Option<&str>) -> Api<DynamicObject> {
        let api_version = object["apiVersion"].as_str().expect("apiVersion");
        let kind = object["kind"].as_str().expect("kind");
        let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let resource = ApiResource::from_gvk(&gvk);
        match ns {
            Some(ns) => Api::namespaced_with(self.client(), ns, &resource),
            None => Api::all_with(self.client(), &resource),
        }
    }
}

/// A namespace of one test, with the cluster-scoped objects it made.
pub struct TestNamespace {
    pub name: String,
    client: kube::Client,
    cluster_scoped: Mutex<Vec<(Api<DynamicObject>, String)>>,
    deleted: bool,
}

impl TestNamespace {
    /// Deletes the cluster-scoped objects registered with it, then the
    /// namespace (the API server's namespace controller empties it).
    pub async fn delete(mut self) {
        self.deleted = true;
        let objects = std::mem::take(&mut *self.cluster_scoped.lock().unwrap());
        delete_all(self.client.clone(), self.name.clone(), objects).await;
    }
}

async fn delete_all(
    client: kube::Client,
    name: String,
    cluster_scoped: Vec<(Api<DynamicObject>, String)>,
) {
    for (api, object) in cluster_scoped.into_iter().rev() {
        if let Err(e) = api.delete(&object, &DeleteParams::default()).await {
            eprintln!("e2e: deleting {object}: {e}");
        }
    }
    if let Err(e) = Api::<Namespace>::all(client)
        .delete(&name, &DeleteParams::default())
        .await
    {
        eprintln!("e2e: deleting namespace {name}: {e}");
    }
}

impl Drop for TestNamespace {
    /// A test that failed before `delete`: clean up anyway, on a thread of
    /// its own (a panicking test's runtime may be gone).
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        let client = self.client.clone();
        let name = self.name.clone();
        let objects = std::mem::take(
            &mut *self
                .cluster_scoped
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let cleanup = std::thread::spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(delete_all(client, name, objects));
            }
        });
        let _ = cleanup.join();
    }
}

fn http_get(path: &str) -> http::Request<Vec<u8>> {
    http::Request::get(path).body(Vec::new()).unwrap()
}

/// PEM armour around DER.
pub fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// A JWK (RSA, or EC P-256) as a PEM SubjectPublicKeyInfo.
fn jwk_to_pem(jwk: &Value) -> Option<String> {
    let field = |k: &str| URL_SAFE_NO_PAD.decode(jwk[k].as_str()?).ok();
    let spki = match jwk["kty"].as_str()? {
        "RSA" => {
            let key = der(
                0x30,
                &[der_uint(&field("n")?), der_uint(&field("e")?)].concat(),
            );
            // rsaEncryption, NULL parameters.
            let alg = der(
                0x30,
                &[
                    der(
                        0x06,
                        &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01],
                    ),
                    vec![0x05, 0x00],
                ]
                .concat(),
            );
            der(
                0x30,
                &[alg, der(0x03, &[&[0u8][..], &key].concat())].concat(),
            )
        }
        "EC" if jwk["crv"] == "P-256" => {
            let point = [&[4u8][..], &field("x")?, &field("y")?].concat();
            // id-ecPublicKey, prime256v1.
            let alg = der(
                0x30,
                &[
                    der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]),
                    der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]),
                ]
                .concat(),
            );
            der(
                0x30,
                &[alg, der(0x03, &[&[0u8][..], &point].concat())].concat(),
            )
        }
        _ => return None,
    };
    Some(pem("PUBLIC KEY", &spki))
}

/// A DER element: tag, length, content.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER of an unsigned big-endian number.
fn der_uint(n: &[u8]) -> Vec<u8> {
    let n: Vec<u8> = n.iter().copied().skip_while(|b| *b == 0).collect();
    let mut content = Vec::with_capacity(n.len() + 1);
    if n.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(n);
    der(0x02, &content)
}

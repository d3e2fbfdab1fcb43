//! The kubernetes auth method without a cluster. A small API server
//! started here plays the cluster's part by the real contract: HTTPS with
//! a CA made by `openssl` for this test, bearer auth with the reviewer
//! token, authentication.k8s.io/v1 TokenReview bodies in and 201 answers
//! out, with the signature, expiry and audiences of the reviewed token
//! really checked against the cluster's signing key. It records every
//! request, so the tests assert what Arca sent.
//!
//! The local path (`pem_keys`) gets real RS256 and ES256 tokens shaped
//! like projected service-account tokens, and every kind of bad token.
//! The real `bao` CLI logs in and is then allowed one secret and refused
//! another.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arca_server::auth::kubernetes::{Kubernetes, PodEnv};
use arca_server::backend::Backend;
use arca_server::barrier::{Barrier, View, keyring};
use arca_server::clock::Clock;
use arca_server::logical::{Operation, Request};
use arca_server::storage::inmem::InmemBackend;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http_body_util::{BodyExt, Full};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Value, json};

use crate::common::{Answer, TestServer, bao, call};

const REVIEWER: &str = "reviewer-sa-token";
const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

// ---------------------------------------------------------------------
// Keys and certificates, made with the openssl CLI.

struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let ec = ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];
        let rsa = ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
        // The API server's CA and its serving certificate for 127.0.0.1,
        // and an unrelated CA.
        for ca in ["ca", "other-ca"] {
            openssl(
                d,
                &[&["genpkey"][..], &ec[..], &["-out", &format!("{ca}.key")]].concat(),
            );
            openssl(
                d,
                &[
                    "req",
                    "-x509",
                    "-new",
                    "-key",
                    &format!("{ca}.key"),
                    "-out",
                    &format!("{ca}.crt"),
                    "-days",
                    "2",
                    "-subj",
                    &format!("/CN={ca}"),
                ],
            );
        }
        openssl(
            d,
            &[&["genpkey"][..], &ec[..], &["-out", "server.key"]].concat(),
        );
        openssl(
            d,
            &[
                "req",
                "-new",
                "-key",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=127.0.0.1",
            ],
        );
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        );
        // Service-account signing keys: the cluster's RSA and EC keys (the
        // RSA one also as a certificate), and an attacker's RSA key.
        for name in ["sa-rsa", "attacker"] {
            openssl(
                d,
                &[
                    &["genpkey"][..],
                    &rsa[..],
                    &["-out", &format!("{name}.key")],
                ]
                .concat(),
            );
        }
        openssl(
            d,
            &[&["genpkey"][..], &ec[..], &["-out", "sa-ec.key"]].concat(),
        );
        for name in ["sa-rsa", "sa-ec"] {
            openssl(
                d,
                &[
                    "pkey",
                    "-in",
                    &format!("{name}.key"),
                    "-pubout",
                    "-out",
                    &format!("{name}.pub"),
                ],
            );
        }
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "sa-rsa.key",
                "-out",
                "sa-rsa-cert.pem",
                "-days",
                "2",
                "-subj",
                "/CN=service-account-signer",
            ],
        );
        Self { dir }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(name)).unwrap()
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn rsa(&self, name: &str) -> EncodingKey {
        EncodingKey::from_rsa_pem(self.read(&format!("{name}.key")).as_bytes()).unwrap()
    }

    fn ec(&self) -> EncodingKey {
        EncodingKey::from_ec_pem(self.read("sa-ec.key").as_bytes()).unwrap()
    }
}

// ---------------------------------------------------------------------
// Tokens shaped like the kubelet's.

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A projected service-account token's claims, as the API server issues
/// them (`kubectl create token` / a projected volume).
fn projected(ns: &str, sa: &str, uid: &str, aud: &[&str]) -> Value {
    let iat = now() - 5;
    json!({
        "aud": aud,
        "exp": iat + 3600,
        "iat": iat,
        "nbf": iat,
        "iss": ISSUER,
        "jti": uuid::Uuid::new_v4().to_string(),
        "kubernetes.io": {
            "namespace": ns,
            "node": {"name": "node-1", "uid": "node-uid-1"},
            "pod": {"name": format!("{sa}-6d4cf56db6-x7k2p"), "uid": "pod-uid-1"},
            "serviceaccount": {"name": sa, "uid": uid},
        },
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
    })
}

/// A legacy secret-based token: no times, no audience, flat claims.
fn legacy(ns: &str, sa: &str, uid: &str) -> Value {
    json!({
        "iss": "kubernetes/serviceaccount",
        "kubernetes.io/serviceaccount/namespace": ns,
        "kubernetes.io/serviceaccount/secret.name": format!("{sa}-token-8xqhz"),
        "kubernetes.io/serviceaccount/service-account.name": sa,
        "kubernetes.io/serviceaccount/service-account.uid": uid,
        "sub": format!("system:serviceaccount:{ns}:{sa}"),
    })
}

fn sign(alg: Algorithm, key: &EncodingKey, claims: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = Some("sa-key-1".into());
    jsonwebtoken::encode(&h, claims, key).unwrap()
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

// ---------------------------------------------------------------------
// The API server.

#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    authorization: Option<String>,
    content_type: Option<String>,
    accept: Option<String>,
    body: Value,
}

struct Cluster {
    /// Verifies the tokens it reviews, as the real one does.
    signing_key: DecodingKey,
    /// Service-account uids deleted since their token was issued.
    revoked: Mutex<HashSet<String>>,
    /// Answer every review as this user (username, uid), whatever the token.
    answer_as: Mutex<Option<(String, String)>>,
    namespace_labels: BTreeMap<String, BTreeMap<String, String>>,
    requests: Mutex<Vec<Recorded>>,
}

struct ApiServer {
    url: String,
    cluster: Arc<Cluster>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl ApiServer {
    async fn start(pki: &Pki) -> Self {
        let mut labels = BTreeMap::new();
        labels.insert(
            "team-a".to_string(),
            BTreeMap::from([("team".to_string(), "a".to_string())]),
        );
        labels.insert(
            "team-b".to_string(),
            BTreeMap::from([("team".to_string(), "b".to_string())]),
        );
        let cluster = Arc::new(Cluster {
            signing_key: DecodingKey::from_rsa_pem(pki.read("sa-rsa.pub").as_bytes()).unwrap(),
            revoked: Mutex::default(),
            answer_as: Mutex::default(),
            namespace_labels: labels,
            requests: Mutex::default(),
        });
        let certs: Vec<_> = rustls_pemfile::certs(&mut pki.read("server.crt").as_bytes())
            .collect::<Result<_, _>>()
            .unwrap();
        let key = rustls_pemfile::private_key(&mut pki.read("server.key").as_bytes())
            .unwrap()
            .unwrap();
        let tls = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("https://{}", listener.local_addr().unwrap());
        let c = Arc::clone(&cluster);
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let (acceptor, c) = (acceptor.clone(), Arc::clone(&c));
                tokio::spawn(async move {
                    // A client that does not trust our CA hangs up here.
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let svc = hyper::service::service_fn(move |req| {
                        let c = Arc::clone(&c);
                        async move { Ok::<_, std::convert::Infallible>(c.serve(req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(tls), svc)
                        .await;
                });
            }
        });
        Self { url, cluster, task }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.cluster.requests.lock().unwrap().clone()
    }

    fn clear(&self) {
        self.cluster.requests.lock().unwrap().clear();
    }
}

type HyperResponse = hyper::Response<Full<bytes::Bytes>>;

fn respond(status: u16, body: Value) -> HyperResponse {
    hyper::Response::builder()
        .status(status)
        .header("Content-Type", "application/json")
        .body(Full::new(serde_json::to_vec(&body).unwrap().into()))
        .unwrap()
}

fn status_body(code: u16, reason: &str, message: &str) -> HyperResponse {
    respond(
        code,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": message, "reason": reason, "code": code}),
    )
}

impl Cluster {
    async fn serve(&self, req: hyper::Request<hyper::body::Incoming>) -> HyperResponse {
        let header = |name: &str| {
            req.headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let (method, path) = (req.method().to_string(), req.uri().path().to_owned());
        let (authorization, content_type, accept) = (
            header("authorization"),
            header("content-type"),
            header("accept"),
        );
        let bytes = req.into_body().collect().await.unwrap().to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        self.requests.lock().unwrap().push(Recorded {
            method: method.clone(),
            path: path.clone(),
            authorization: authorization.clone(),
            content_type,
            accept,
            body: body.clone(),
        });
        let bearer = authorization
            .as_deref()
            .and_then(|a| a.strip_prefix("Bearer "))
            .unwrap_or("");

        if method == "GET" {
            if let Some(ns) = path.strip_prefix("/api/v1/namespaces/") {
                if bearer != REVIEWER {
                    return status_body(401, "Unauthorized", "Unauthorized");
                }
                return match self.namespace_labels.get(ns) {
                    Some(l) => respond(
                        200,
                        json!({"kind": "Namespace", "apiVersion": "v1",
                               "metadata": {"name": ns, "labels": l}}),
                    ),
                    None => status_body(404, "NotFound", &format!("namespaces \"{ns}\" not found")),
                };
            }
        }
        if method != "POST" || path != "/apis/authentication.k8s.io/v1/tokenreviews" {
            return status_body(
                404,
                "NotFound",
                "the server could not find the requested resource",
            );
        }
        if body["apiVersion"] != "authentication.k8s.io/v1" || body["kind"] != "TokenReview" {
            return status_body(
                400,
                "BadRequest",
                "not an authentication.k8s.io/v1 TokenReview",
            );
        }
        let token = body["spec"]["token"].as_str().unwrap_or("");
        // The reviewer token, or a service account reviewing its own token.
        let self_review =
            !token.is_empty() && bearer == token && self.authenticate(token).is_some();
        if bearer != REVIEWER && !self_review {
            return status_body(401, "Unauthorized", "Unauthorized");
        }
        let wanted: Vec<String> = match body["spec"]["audiences"].as_array() {
            Some(a) if !a.is_empty() => a.iter().map(|v| v.as_str().unwrap().to_owned()).collect(),
            _ => vec![API_AUDIENCE.to_owned()],
        };
        let status = match self.authenticate(token) {
            None => json!({"authenticated": false, "error": "invalid bearer token"}),
            Some((username, uid, token_auds)) => {
                let common: Vec<&String> =
                    wanted.iter().filter(|a| token_auds.contains(a)).collect();
                if common.is_empty() {
                    json!({"authenticated": false, "error": format!(
                        "token audiences {token_auds:?} is invalid for the target audiences {wanted:?}")})
                } else {
                    let (username, uid) = self
                        .answer_as
                        .lock()
                        .unwrap()
                        .clone()
                        .unwrap_or((username, uid));
                    json!({"authenticated": true, "audiences": common,
                           "user": {"username": username, "uid": uid,
                                    "groups": ["system:serviceaccounts", "system:authenticated"]}})
                }
            }
        };
        respond(
            201,
            json!({"kind": "TokenReview", "apiVersion": "authentication.k8s.io/v1",
                   "metadata": {"creationTimestamp": null}, "spec": body["spec"], "status": status}),
        )
    }

    /// (username, uid, audiences) of a genuine, unexpired token of a
    /// service account that still exists.
    fn authenticate(&self, token: &str) -> Option<(String, String, Vec<String>)> {
        let mut v = Validation::new(Algorithm::RS256);
        v.validate_exp = false;
        v.validate_aud = false;
        v.required_spec_claims.clear();
        let claims = jsonwebtoken::decode::<Value>(token, &self.signing_key, &v)
            .ok()?
            .claims;
        if claims["exp"].as_i64().is_some_and(|e| e < now()) {
            return None;
        }
        let k = &claims["kubernetes.io"];
        let (ns, sa, uid, auds) = if k.is_object() {
            let auds = claims["aud"]
                .as_array()?
                .iter()
                .map(|a| a.as_str().unwrap().to_owned());
            (
                k["namespace"].as_str()?,
                k["serviceaccount"]["name"].as_str()?,
                k["serviceaccount"]["uid"].as_str()?,
                auds.collect(),
            )
        } else {
            (
                claims["kubernetes.io/serviceaccount/namespace"].as_str()?,
                claims["kubernetes.io/serviceaccount/service-account.name"].as_str()?,
                claims["kubernetes.io/serviceaccount/service-account.uid"].as_str()?,
                // Legacy tokens are valid for the API server's audiences.
                vec![API_AUDIENCE.to_owned()],
            )
        };
        if self.revoked.lock().unwrap().contains(uid) {
            return None;
        }
        Some((
            format!("system:serviceaccount:{ns}:{sa}"),
            uid.to_owned(),
            auds,
        ))
    }
}

// ---------------------------------------------------------------------
// Arca side.

async fn enable(s: &TestServer) {
    let root = Some("root");
    let r = call(
        s,
        "POST",
        "sys/auth/kubernetes",
        root,
        Some(json!({"type": "kubernetes"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let p = call(
        s,
        "PUT",
        "sys/policies/acl/app-read",
        root,
        Some(json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!(p.status, 204, "{}", p.raw);
    for (path, v) in [
        ("secret/data/app/db", "db-pass-1"),
        ("secret/data/other/x", "no"),
    ] {
        let w = call(
            s,
            "POST",
            path,
            root,
            Some(json!({"data": {"password": v}})),
        )
        .await;
        assert_eq!(w.status, 200, "{}", w.raw);
    }
}

async fn write(s: &TestServer, path: &str, body: Value) -> Answer {
    call(s, "POST", path, Some("root"), Some(body)).await
}

async fn login(s: &TestServer, role: &str, jwt: &str) -> Answer {
    call(
        s,
        "POST",
        "auth/kubernetes/login",
        None,
        Some(json!({"role": role, "jwt": jwt})),
    )
    .await
}

/// A refused login: the status, the one error, and no token anywhere.
fn refused(a: &Answer, status: u16, error: &str) {
    assert_eq!(a.status, status, "{}", a.raw);
    assert_eq!(a.errors(), [error], "{}", a.raw);
    assert!(a.body.get("auth").is_none(), "{}", a.raw);
}

fn token_of(a: &Answer) -> String {
    assert_eq!(a.status, 200, "{}", a.raw);
    a.body["auth"]["client_token"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_review_login_and_what_arca_sends() {
    let pki = Pki::new();
    let api = ApiServer::start(&pki).await;
    let s = TestServer::dev().await;
    enable(&s).await;

    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
               "token_reviewer_jwt": REVIEWER}),
    )
    .await;
    assert_eq!(c.status, 204, "{}", c.raw);
    let read = call(&s, "GET", "auth/kubernetes/config", Some("root"), None).await;
    assert_eq!(read.status, 200);
    let d = &read.body["data"];
    assert_eq!(d["kubernetes_host"], api.url.as_str());
    assert_eq!(d["token_reviewer_jwt_set"], true);
    assert_eq!(d["disable_iss_validation"], true);
    assert_eq!(d["disable_local_ca_jwt"], false);
    assert_eq!(d["pem_keys"], json!([]));
    assert!(d.get("token_reviewer_jwt").is_none());
    assert!(!read.raw.contains(REVIEWER));

    let r = write(
        &s,
        "auth/kubernetes/role/App",
        json!({"bound_service_account_names": "app,web-*",
               "bound_service_account_namespaces": ["default", "team-*"],
               "token_policies": "app-read", "token_ttl": "1h"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let list = call(&s, "LIST", "auth/kubernetes/role", Some("root"), None).await;
    assert_eq!(list.body["data"]["keys"], json!(["app"]));
    let role = call(&s, "GET", "auth/kubernetes/role/app", Some("root"), None).await;
    assert_eq!(
        role.body["data"]["bound_service_account_names"],
        json!(["app", "web-*"])
    );
    assert_eq!(role.body["data"]["alias_name_source"], "serviceaccount_uid");
    assert_eq!(role.body["data"]["token_ttl"], 3600);

    // A projected token of default/app.
    let cluster_key = pki.rsa("sa-rsa");
    let jwt = sign(
        Algorithm::RS256,
        &cluster_key,
        &projected("default", "app", "uid-app", &[API_AUDIENCE]),
    );
    let a = login(&s, "app", &jwt).await;
    let token = token_of(&a);
    let auth = &a.body["auth"];
    assert_eq!(auth["policies"], json!(["app-read", "default"]));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(
        auth["metadata"],
        json!({"role": "app", "service_account_name": "app",
               "service_account_namespace": "default", "service_account_secret_name": "",
               "service_account_uid": "uid-app"})
    );
    assert!(!a.raw.contains(&jwt));

    // Exactly one TokenReview, by the contract.
    let sent = api.requests();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let tr = &sent[0];
    assert_eq!(tr.method, "POST");
    assert_eq!(tr.path, "/apis/authentication.k8s.io/v1/tokenreviews");
    assert_eq!(
        tr.authorization.as_deref(),
        Some(&*format!("Bearer {REVIEWER}"))
    );
    assert_eq!(tr.content_type.as_deref(), Some("application/json"));
    assert_eq!(tr.accept.as_deref(), Some("application/json"));
    assert_eq!(tr.body["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(tr.body["kind"], "TokenReview");
    assert_eq!(tr.body["spec"]["token"], jwt.as_str());
    // No role audience: the token's own, as Vault asks.
    assert_eq!(tr.body["spec"]["audiences"], json!([API_AUDIENCE]));

    // The token does what the role's policy says, and no more.
    let ok = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["data"]["data"]["password"], "db-pass-1");
    let no = call(&s, "GET", "secret/data/other/x", Some(&token), None).await;
    assert_eq!(no.status, 403);
    let me = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(me.body["data"]["display_name"], "kubernetes-default-app");
    assert_eq!(me.body["data"]["path"], "auth/kubernetes/login");

    // The identity alias is the service account's uid, with Vault's metadata.
    let eid = auth["entity_id"].as_str().unwrap();
    let e = call(
        &s,
        "GET",
        &format!("identity/entity/id/{eid}"),
        Some("root"),
        None,
    )
    .await;
    let alias = &e.body["data"]["aliases"][0];
    assert_eq!(alias["name"], "uid-app");
    assert_eq!(alias["mount_type"], "kubernetes");
    assert_eq!(
        alias["metadata"],
        json!({"service_account_name": "app", "service_account_namespace": "default",
               "service_account_secret_name": "", "service_account_uid": "uid-app"})
    );

    // Globs: web-* in team-*.
    let web = sign(
        Algorithm::RS256,
        &cluster_key,
        &projected("team-x", "web-7", "uid-web", &[API_AUDIENCE]),
    );
    token_of(&login(&s, "APP", &web).await);

    // A legacy secret-based token.
    let old = sign(
        Algorithm::RS256,
        &cluster_key,
        &legacy("default", "app", "uid-app"),
    );
    let a = login(&s, "app", &old).await;
    token_of(&a);
    assert_eq!(
        a.body["auth"]["metadata"]["service_account_secret_name"],
        "app-token-8xqhz"
    );
    assert_eq!(a.body["auth"]["entity_id"], eid, "same uid, same entity");

    // Bounds are checked on the token's claims before the API is asked.
    api.clear();
    let db = sign(
        Algorithm::RS256,
        &cluster_key,
        &projected("default", "db", "uid-db", &[API_AUDIENCE]),
    );
    refused(
        &login(&s, "app", &db).await,
        403,
        "service account name not authorized",
    );
    let sys = sign(
        Algorithm::RS256,
        &cluster_key,
        &projected("kube-system", "app", "uid-k", &[API_AUDIENCE]),
    );
    refused(
        &login(&s, "app", &sys).await,
        403,
        "namespace not authorized",
    );
    let mut expired = projected("default", "app", "uid-app", &[API_AUDIENCE]);
    expired["exp"] = json!(now() - 120);
    let expired = sign(Algorithm::RS256, &cluster_key, &expired);
    refused(
        &login(&s, "app", &expired).await,
        403,
        "invalid expiration time (exp) claim: token is expired",
    );
    refused(&login(&s, "app", "garbage").await, 403, "permission denied");
    assert!(api.requests().is_empty(), "{:?}", api.requests());

    // The API server refuses: a forged signature, a deleted account.
    let forged = sign(
        Algorithm::RS256,
        &pki.rsa("attacker"),
        &projected("default", "app", "uid-app", &[API_AUDIENCE]),
    );
    refused(&login(&s, "app", &forged).await, 403, "permission denied");
    assert_eq!(api.requests().len(), 1, "the forgery was reviewed");
    api.cluster.revoked.lock().unwrap().insert("uid-app".into());
    refused(&login(&s, "app", &jwt).await, 403, "permission denied");
    api.cluster.revoked.lock().unwrap().clear();
    // It vouches for someone else than the token claims to be.
    *api.cluster.answer_as.lock().unwrap() = Some((
        "system:serviceaccount:default:app".into(),
        "uid-other".into(),
    ));
    refused(&login(&s, "app", &jwt).await, 403, "permission denied");
    *api.cluster.answer_as.lock().unwrap() = Some(("system:node:node-1".into(), "uid-app".into()));
    refused(&login(&s, "app", &jwt).await, 403, "permission denied");
    *api.cluster.answer_as.lock().unwrap() = None;
    token_of(&login(&s, "app", &jwt).await);

    // A role with an audience: required in the token, and what is asked.
    let r = write(
        &s,
        "auth/kubernetes/role/vault-aud",
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": "default",
               "audience": "vault", "alias_name_source": "serviceaccount_name"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    api.clear();
    refused(
        &login(&s, "vault-aud", &jwt).await,
        403,
        "invalid audience (aud) claim: audience claim does not match any expected audience",
    );
    assert!(api.requests().is_empty());
    let for_vault = sign(
        Algorithm::RS256,
        &cluster_key,
        &projected("default", "app", "uid-app", &["vault"]),
    );
    let a = login(&s, "vault-aud", &for_vault).await;
    token_of(&a);
    assert_eq!(
        api.requests()[0].body["spec"]["audiences"],
        json!(["vault"])
    );
    let e = call(
        &s,
        "GET",
        &format!(
            "identity/entity/id/{}",
            a.body["auth"]["entity_id"].as_str().unwrap()
        ),
        Some("root"),
        None,
    )
    .await;
    let names: Vec<&str> = e.body["data"]["aliases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"default/app"), "{names:?}");

    // Input errors, Vault's words.
    let bad =
        |body: Value| async { call(&s, "POST", "auth/kubernetes/login", None, Some(body)).await };
    refused(&bad(json!({"jwt": jwt})).await, 400, "missing role");
    refused(&bad(json!({"role": "app"})).await, 400, "missing jwt");
    refused(
        &bad(json!({"role": "nope", "jwt": jwt})).await,
        400,
        "invalid role name \"nope\"",
    );
    api.assert_only_api_calls();
}

impl ApiServer {
    /// Every request Arca made is one of the two API calls this method
    /// makes.
    fn assert_only_api_calls(&self) {
        for r in self.requests() {
            assert!(
                r.path == "/apis/authentication.k8s.io/v1/tokenreviews"
                    || r.path.starts_with("/api/v1/namespaces/"),
                "{r:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_review_trust_and_bearer() {
    let pki = Pki::new();
    let api = ApiServer::start(&pki).await;
    let s = TestServer::dev().await;
    enable(&s).await;
    let r = write(
        &s,
        "auth/kubernetes/role/app",
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": "*"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let jwt = sign(
        Algorithm::RS256,
        &pki.rsa("sa-rsa"),
        &projected("default", "app", "uid-app", &[API_AUDIENCE]),
    );

    // No reviewer JWT (and no pod to borrow one from): the client's own
    // token is the bearer.
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
               "disable_local_ca_jwt": true}),
    )
    .await;
    assert_eq!(c.status, 204, "{}", c.raw);
    let read = call(&s, "GET", "auth/kubernetes/config", Some("root"), None).await;
    assert_eq!(read.body["data"]["token_reviewer_jwt_set"], false);
    token_of(&login(&s, "app", &jwt).await);
    assert_eq!(
        api.requests()[0].authorization.as_deref(),
        Some(&*format!("Bearer {jwt}"))
    );

    // A reviewer JWT the API server does not accept.
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
               "token_reviewer_jwt": "not-the-reviewer"}),
    )
    .await;
    assert_eq!(c.status, 204);
    refused(&login(&s, "app", &jwt).await, 403, "permission denied");

    // An API server whose certificate the configured CA did not sign: the
    // TLS handshake fails and no request is ever made.
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("other-ca.crt"),
               "token_reviewer_jwt": REVIEWER}),
    )
    .await;
    assert_eq!(c.status, 204);
    api.clear();
    refused(&login(&s, "app", &jwt).await, 403, "permission denied");
    assert!(api.requests().is_empty());

    // Back to the right CA: the client cache follows config writes.
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
               "token_reviewer_jwt": REVIEWER}),
    )
    .await;
    assert_eq!(c.status, 204);
    token_of(&login(&s, "app", &jwt).await);

    // Config input errors.
    for (body, error) in [
        (json!({}), "no host provided"),
        (
            json!({"kubernetes_host": api.url, "disable_local_ca_jwt": true}),
            "kubernetes_ca_cert must be given when disable_local_ca_jwt is true",
        ),
        (
            json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
                   "pem_keys": "not a key"}),
            "data does not contain any valid public keys",
        ),
    ] {
        let a = write(&s, "auth/kubernetes/config", body).await;
        assert_eq!(a.status, 400, "{}", a.raw);
        assert_eq!(a.errors(), [error]);
    }
    let a = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": "garbage"}),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.raw);
    // The failed writes changed nothing.
    token_of(&login(&s, "app", &jwt).await);

    // An issuer that would not be checked (disable_iss_validation
    // defaults to true, as in Vault) is accepted with a warning.
    let a = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
               "token_reviewer_jwt": REVIEWER, "issuer": "https://elsewhere"}),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.raw);
    assert!(
        a.body["warnings"][0]
            .as_str()
            .unwrap()
            .contains("disable_iss_validation"),
        "{}",
        a.raw
    );
    token_of(&login(&s, "app", &jwt).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn namespace_selector_reads_labels_with_the_reviewer() {
    let pki = Pki::new();
    let api = ApiServer::start(&pki).await;
    let s = TestServer::dev().await;
    enable(&s).await;
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "kubernetes_ca_cert": pki.read("ca.crt"),
               "token_reviewer_jwt": REVIEWER}),
    )
    .await;
    assert_eq!(c.status, 204);
    let r = write(
        &s,
        "auth/kubernetes/role/team-a",
        json!({"bound_service_account_names": "*",
               "bound_service_account_namespace_selector": "matchLabels:\n  team: a\n"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let key = pki.rsa("sa-rsa");
    let in_a = sign(
        Algorithm::RS256,
        &key,
        &projected("team-a", "x", "uid-x", &[API_AUDIENCE]),
    );
    token_of(&login(&s, "team-a", &in_a).await);
    let sent = api.requests();
    assert_eq!(sent[0].method, "GET");
    assert_eq!(sent[0].path, "/api/v1/namespaces/team-a");
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(&*format!("Bearer {REVIEWER}"))
    );
    assert_eq!(sent[1].path, "/apis/authentication.k8s.io/v1/tokenreviews");

    let in_b = sign(
        Algorithm::RS256,
        &key,
        &projected("team-b", "x", "uid-y", &[API_AUDIENCE]),
    );
    refused(
        &login(&s, "team-a", &in_b).await,
        403,
        "namespace not authorized",
    );
    // A namespace claim that is not a namespace name never reaches a URL.
    api.clear();
    let odd = sign(
        Algorithm::RS256,
        &key,
        &projected("../../x", "x", "uid-z", &[API_AUDIENCE]),
    );
    refused(
        &login(&s, "team-a", &odd).await,
        403,
        "namespace not authorized",
    );
    assert!(api.requests().is_empty());

    let bad = write(
        &s,
        "auth/kubernetes/role/bad",
        json!({"bound_service_account_names": "*",
               "bound_service_account_namespace_selector": "{\"matchExpressions\": []}"}),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.errors(),
        ["invalid \"bound_service_account_namespace_selector\" configured"]
    );
}

/// The local path: `pem_keys`, no API server involved.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_keys_accept_real_tokens_and_refuse_every_bad_one() {
    let pki = Pki::new();
    // Running, so that any call Arca made would be seen.
    let api = ApiServer::start(&pki).await;
    let s = TestServer::dev().await;
    enable(&s).await;
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "issuer": ISSUER, "disable_iss_validation": false,
               "pem_keys": [pki.read("sa-rsa.pub"), pki.read("sa-ec.pub")]}),
    )
    .await;
    assert_eq!(c.status, 204, "{}", c.raw);
    let read = call(&s, "GET", "auth/kubernetes/config", Some("root"), None).await;
    assert_eq!(read.body["data"]["pem_keys"].as_array().unwrap().len(), 2);
    assert_eq!(read.body["data"]["issuer"], ISSUER);
    let r = write(
        &s,
        "auth/kubernetes/role/agent",
        json!({"bound_service_account_names": "agent", "bound_service_account_namespaces": "apps",
               "audience": "arca", "token_policies": "app-read"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);

    let good = projected("apps", "agent", "uid-agent", &["arca"]);
    let rsa = pki.rsa("sa-rsa");
    for jwt in [
        sign(Algorithm::RS256, &rsa, &good),
        sign(Algorithm::ES256, &pki.ec(), &good),
    ] {
        let a = login(&s, "agent", &jwt).await;
        let token = token_of(&a);
        assert_eq!(
            a.body["auth"]["metadata"]["service_account_uid"],
            "uid-agent"
        );
        let ok = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
        assert_eq!(ok.status, 200);
    }

    let with = |f: &dyn Fn(&mut Value)| {
        let mut c = good.clone();
        f(&mut c);
        sign(Algorithm::RS256, &rsa, &c)
    };
    let expired = with(&|c| c["exp"] = json!(now() - 61 - 5));
    let not_yet = with(&|c| c["nbf"] = json!(now() + 600));
    let from_future = with(&|c| c["iat"] = json!(now() + 600));
    let wrong_aud = with(&|c| c["aud"] = json!([API_AUDIENCE]));
    let wrong_ns = with(&|c| c["kubernetes.io"]["namespace"] = json!("default"));
    let wrong_sa = with(&|c| c["kubernetes.io"]["serviceaccount"]["name"] = json!("other"));
    let wrong_iss = with(&|c| c["iss"] = json!("https://evil.example"));
    let attacker = sign(Algorithm::RS256, &pki.rsa("attacker"), &good);
    // A real signature over different claims.
    let genuine = sign(Algorithm::RS256, &rsa, &good);
    let (head, rest) = genuine.split_once('.').unwrap();
    let sig = rest.split_once('.').unwrap().1;
    let mut elevated = good.clone();
    elevated["kubernetes.io"]["serviceaccount"]["name"] = json!("admin");
    let tampered = format!("{head}.{}.{sig}", b64(&elevated));
    // The RS256 signature relabelled ES256.
    let relabelled = format!(
        "{}.{rest}",
        b64(&json!({"alg": "ES256", "kid": "sa-key-1"}))
    );
    let none = format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&good));
    // HS256 "signed" with the cluster's public key as the HMAC secret.
    let hs256 = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(pki.read("sa-rsa.pub").as_bytes()),
        &good,
    );
    // A legacy secret-based token never expires: without a TokenReview
    // nothing would ever end it, so the local path refuses it.
    let never_expires = sign(
        Algorithm::RS256,
        &rsa,
        &legacy("default", "agent", "uid-legacy"),
    );
    let denied = "permission denied";
    for (what, jwt, error) in [
        (
            "legacy token without expiry",
            never_expires.as_str(),
            "tokens without an expiry (legacy service account tokens) are only accepted through TokenReview: remove pem_keys or use a projected token",
        ),
        (
            "expired",
            expired.as_str(),
            "invalid expiration time (exp) claim: token is expired",
        ),
        (
            "not yet valid",
            &not_yet,
            "invalid not before (nbf) claim: token not yet valid",
        ),
        (
            "issued in the future",
            &from_future,
            "invalid issued at (iat) claim: token issued in the future",
        ),
        (
            "wrong audience",
            &wrong_aud,
            "invalid audience (aud) claim: audience claim does not match any expected audience",
        ),
        ("wrong namespace", &wrong_ns, "namespace not authorized"),
        (
            "wrong service account",
            &wrong_sa,
            "service account name not authorized",
        ),
        ("wrong issuer", &wrong_iss, "invalid issuer (iss) claim"),
        ("wrong signing key", &attacker, denied),
        ("tampered claims", &tampered, denied),
        ("alg relabelled", &relabelled, denied),
        ("alg none", &none, denied),
        ("HS256 with the RSA key", &hs256, denied),
        ("garbage", "not-a-jwt", denied),
        ("three garbage parts", "a.b.c", denied),
        ("empty parts", "..", denied),
    ] {
        let a = login(&s, "agent", jwt).await;
        assert_eq!(a.status, 403, "{what}: {}", a.raw);
        assert_eq!(a.errors(), [error], "{what}");
        assert!(a.body.get("auth").is_none(), "{what}");
    }
    assert!(
        api.requests().is_empty(),
        "local keys never call the API server"
    );

    // Time is the server's clock: a valid token expires when it moves.
    let jwt = sign(Algorithm::RS256, &rsa, &good);
    token_of(&login(&s, "agent", &jwt).await);
    s.advance(Duration::from_secs(3600 + 120));
    refused(
        &login(&s, "agent", &jwt).await,
        403,
        "invalid expiration time (exp) claim: token is expired",
    );

    // The signing key given as a certificate works the same.
    let c = write(
        &s,
        "auth/kubernetes/config",
        json!({"kubernetes_host": api.url, "pem_keys": pki.read("sa-rsa-cert.pem")}),
    )
    .await;
    assert_eq!(c.status, 204, "{}", c.raw);
    let fresh = sign(
        Algorithm::RS256,
        &rsa,
        &projected("apps", "agent", "uid-agent", &["arca"]),
    );
    // The manual clock moved two hours; mint relative to it.
    let mut moved = projected("apps", "agent", "uid-agent", &["arca"]);
    for k in ["iat", "nbf", "exp"] {
        moved[k] = json!(moved[k].as_i64().unwrap() + 3600 + 120);
    }
    let moved = sign(Algorithm::RS256, &rsa, &moved);
    refused(
        &login(&s, "agent", &fresh).await,
        403,
        "invalid expiration time (exp) claim: token is expired",
    );
    token_of(&login(&s, "agent", &moved).await);
    // Issuer checks are off again (the write replaced the config).
    let read = call(&s, "GET", "auth/kubernetes/config", Some("root"), None).await;
    assert_eq!(read.body["data"]["disable_iss_validation"], true);
    assert!(api.requests().is_empty());
}

/// Issue 12, finding 6: with `pem_keys` no TokenReview says whether the
/// token's pod still exists, so a copied token is bounded in time: its
/// `kubernetes.io.warnafter`, and a cap on its lifetime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pem_keys_logins_honour_warnafter_and_cap_the_lifetime() {
    let pki = Pki::new();
    let api = ApiServer::start(&pki).await;
    let s = TestServer::dev().await;
    enable(&s).await;
    let config = json!({"kubernetes_host": api.url, "pem_keys": [pki.read("sa-rsa.pub")]});
    assert_eq!(
        write(&s, "auth/kubernetes/config", config).await.status,
        204
    );
    let read = call(&s, "GET", "auth/kubernetes/config", Some("root"), None).await;
    assert_eq!(read.body["data"]["pem_keys_max_token_lifetime"], 3600);
    let role = json!({"bound_service_account_names": "agent",
                      "bound_service_account_namespaces": "apps", "token_policies": "default"});
    assert_eq!(
        write(&s, "auth/kubernetes/role/agent", role).await.status,
        204
    );
    let rsa = pki.rsa("sa-rsa");
    let mint = |f: &dyn Fn(&mut Value)| {
        let mut c = projected("apps", "agent", "uid-agent", &["arca"]);
        f(&mut c);
        sign(Algorithm::RS256, &rsa, &c)
    };

    // What a pod gets by default: 3607 s asked, extended to a year, with
    // warnafter where the 3607 s end.
    let extended = mint(&|c| {
        let iat = c["iat"].as_i64().unwrap();
        c["exp"] = json!(iat + 365 * 24 * 3600);
        c["kubernetes.io"]["warnafter"] = json!(iat + 3607);
    });
    token_of(&login(&s, "agent", &extended).await);
    // The same token with no warnafter is a year long: refused.
    let year = mint(&|c| c["exp"] = json!(c["iat"].as_i64().unwrap() + 365 * 24 * 3600));
    let a = login(&s, "agent", &year).await;
    assert_eq!(a.status, 403, "{}", a.raw);
    assert!(
        a.errors()[0].starts_with("token lifetime (exp - iat) is 31536000s, over the 3600s"),
        "{}",
        a.raw
    );
    let no_iat = mint(&|c| {
        c.as_object_mut().unwrap().remove("iat");
    });
    refused(
        &login(&s, "agent", &no_iat).await,
        403,
        "token has no issued at (iat) claim, so its lifetime cannot be bounded: such tokens are only accepted through TokenReview",
    );

    // Two hours on, the extended token is still within its exp but past
    // its warnafter: the kubelet replaced it long ago.
    s.advance(Duration::from_secs(2 * 3600));
    refused(
        &login(&s, "agent", &extended).await,
        403,
        "token is past its kubernetes.io warnafter time: the kubelet has replaced it; tokens copied out of a pod are not accepted",
    );

    // A day-long token passes once the cap is raised to a day.
    let config = json!({"kubernetes_host": api.url, "pem_keys": [pki.read("sa-rsa.pub")],
                        "pem_keys_max_token_lifetime": "24h"});
    assert_eq!(
        write(&s, "auth/kubernetes/config", config).await.status,
        204
    );
    let day = mint(&|c| {
        let iat = c["iat"].as_i64().unwrap() + 2 * 3600;
        c["iat"] = json!(iat);
        c["nbf"] = json!(iat);
        c["exp"] = json!(iat + 24 * 3600);
    });
    token_of(&login(&s, "agent", &day).await);
    let zero = json!({"kubernetes_host": api.url, "pem_keys": [pki.read("sa-rsa.pub")],
                      "pem_keys_max_token_lifetime": 0});
    let r = write(&s, "auth/kubernetes/config", zero).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(
        api.requests().is_empty(),
        "local keys never call the API server"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bao_cli_logs_in_and_reads_only_what_the_role_allows() {
    let pki = Pki::new();
    let api = ApiServer::start(&pki).await;
    let s = TestServer::dev().await;
    enable(&s).await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let ca = pki.path("ca.crt");
    let (code, _, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "write",
            "auth/kubernetes/config",
            &format!("kubernetes_host={}", api.url),
            &format!("kubernetes_ca_cert=@{}", ca.display()),
            &format!("token_reviewer_jwt={REVIEWER}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &["read", "-format=json", "auth/kubernetes/config"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains(REVIEWER), "{out}");
    let (code, _, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "write",
            "auth/kubernetes/role/app",
            "bound_service_account_names=app",
            "bound_service_account_namespaces=default",
            "token_policies=app-read",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");

    let jwt = sign(
        Algorithm::RS256,
        &pki.rsa("sa-rsa"),
        &projected("default", "app", "uid-app", &[API_AUDIENCE]),
    );
    let (code, out, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "write",
            "-format=json",
            "auth/kubernetes/login",
            "role=app",
            &format!("jwt={jwt}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let token = v["auth"]["client_token"].as_str().unwrap().to_owned();
    assert_eq!(
        v["auth"]["metadata"]["service_account_namespace"],
        "default"
    );

    let (code, out, err) = bao(
        &addr,
        Some(&token),
        home.path(),
        &["kv", "get", "-format=json", "secret/app/db"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["data"]["data"]["password"], "db-pass-1");
    let (code, _, err) = bao(
        &addr,
        Some(&token),
        home.path(),
        &["kv", "get", "secret/other/x"],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("permission denied"), "{err}");

    // `bao login -method=kubernetes` stores the token for the next command.
    let (code, out, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "login",
            "-method=kubernetes",
            "role=app",
            &format!("jwt={jwt}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Success! You are now authenticated."), "{out}");
    let (code, _, err) = bao(&addr, None, home.path(), &["kv", "get", "secret/app/db"]).await;
    assert_eq!(code, 0, "{err}");

    // A refused login: exit 2, Vault's message, nothing stored.
    let other = sign(
        Algorithm::RS256,
        &pki.rsa("sa-rsa"),
        &projected("default", "intruder", "uid-i", &[API_AUDIENCE]),
    );
    let (code, _, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "write",
            "auth/kubernetes/login",
            "role=app",
            &format!("jwt={other}"),
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("service account name not authorized"), "{err}");
}

// ---------------------------------------------------------------------
// In a pod with nothing configured: the backend itself, with its pod
// files pointed at a temporary directory.

async fn unsealed_view() -> View {
    let barrier = Arc::new(Barrier::new(Arc::new(InmemBackend::new())));
    let root = keyring::random_key();
    barrier.initialize(root.clone()).await.unwrap();
    barrier.unseal(root).await.unwrap();
    View::new(barrier, "auth/uuid/")
}

fn request(op: Operation, rel: &str, data: Value) -> Request {
    let mut r = Request::new(op, format!("auth/kubernetes/{rel}"));
    r.mount_point = "auth/kubernetes/".into();
    if let Value::Object(m) = data {
        r = r.with_data(m);
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_pod_without_config_the_pods_own_account_reviews() {
    let pki = Pki::new();
    let api = ApiServer::start(&pki).await;
    let pod_dir = tempfile::tempdir().unwrap();
    std::fs::copy(pki.path("ca.crt"), pod_dir.path().join("ca.crt")).unwrap();
    std::fs::write(pod_dir.path().join("token"), format!("{REVIEWER}\n")).unwrap();
    let port = api.url.rsplit(':').next().unwrap().to_owned();
    let pod = PodEnv {
        token_path: pod_dir.path().join("token"),
        ca_path: pod_dir.path().join("ca.crt"),
        service_host: Some("127.0.0.1".into()),
        service_port: Some(port),
    };
    let k8s = Kubernetes::with_pod(unsealed_view().await, Clock::system(), pod.clone());
    let mut role = request(
        Operation::Create,
        "role/app",
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": "default",
               "token_policies": "app-read"}),
    );
    k8s.handle(&mut role).await.unwrap();
    let mut read = request(Operation::Read, "config", json!({}));
    assert!(k8s.handle(&mut read).await.is_err(), "no config written");

    let jwt = sign(
        Algorithm::RS256,
        &pki.rsa("sa-rsa"),
        &projected("default", "app", "uid-app", &[API_AUDIENCE]),
    );
    let mut req = request(
        Operation::Update,
        "login",
        json!({"role": "app", "jwt": jwt}),
    );
    let resp = k8s.handle(&mut req).await.unwrap();
    let login = resp.login.expect("a login");
    assert_eq!(login.alias_name, "uid-app");
    assert_eq!(login.display_name, "default-app");
    assert_eq!(login.metadata["role"], "app");
    assert_eq!(login.token.policies, ["app-read"]);
    let sent = api.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].authorization.as_deref(),
        Some(&*format!("Bearer {REVIEWER}"))
    );

    // The kubelet rotates the pod's token in place: the next login reads it.
    std::fs::write(pod_dir.path().join("token"), "rotated-but-unknown").unwrap();
    let mut req = request(
        Operation::Update,
        "login",
        json!({"role": "app", "jwt": jwt}),
    );
    let e = k8s.handle(&mut req).await.unwrap_err();
    assert_eq!(e.to_string(), "permission denied");
    assert_eq!(
        api.requests()[1].authorization.as_deref(),
        Some("Bearer rotated-but-unknown")
    );

    // A config naming only the host: the pod still supplies CA and reviewer.
    std::fs::write(pod_dir.path().join("token"), REVIEWER).unwrap();
    let mut cfg = request(
        Operation::Update,
        "config",
        json!({"kubernetes_host": api.url}),
    );
    k8s.handle(&mut cfg).await.unwrap();
    let mut req = request(
        Operation::Update,
        "login",
        json!({"role": "app", "jwt": jwt}),
    );
    assert!(k8s.handle(&mut req).await.unwrap().login.is_some());

    // Not in a pod and not configured: Vault's "could not load backend
    // configuration" (a 500; the detail goes to the server log).
    let elsewhere = Kubernetes::with_pod(
        unsealed_view().await,
        Clock::system(),
        PodEnv {
            service_host: None,
            ..pod
        },
    );
    let mut role = request(
        Operation::Create,
        "role/app",
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": "default"}),
    );
    elsewhere.handle(&mut role).await.unwrap();
    let mut req = request(
        Operation::Update,
        "login",
        json!({"role": "app", "jwt": jwt}),
    );
    let e = elsewhere.handle(&mut req).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("could not load backend configuration"),
        "{e}"
    );
}

//! The kubernetes auth method against the real API server: service
//! accounts and their TokenRequest tokens, a reviewer bound to
//! `system:auth-delegator`, logins through TokenReview; then the local-keys
//! path with the API server's own signing keys (its `/openid/v1/jwks`).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use arca_e2e::{Cluster, TestNamespace};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::arca::{Answer, Arca};

/// The audience the roles want (a pod's projected token for Arca).
const AUDIENCE: &str = "arca";

async fn login(arca: &Arca, mount: &str, role: &str, jwt: &str) -> Answer {
    arca.call(
        "POST",
        &format!("auth/{mount}/login"),
        None,
        Some(json!({"role": role, "jwt": jwt})),
    )
    .await
}

/// A refused login: 403, an error, and no token.
fn refused(a: &Answer, what: &str) {
    assert_eq!(a.status, 403, "{what}: {}", a.raw);
    assert!(!a.errors().is_empty(), "{what}: {}", a.raw);
    assert!(
        a.body.get("auth").is_none_or(Value::is_null),
        "{what}: {}",
        a.raw
    );
}

/// A token's claims.
fn claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

/// An RSA key made by openssl, as PEM: another cluster's signing key.
fn foreign_key() -> Vec<u8> {
    let out = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl must be installed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn sign(claims: &Value, key_pem: &[u8]) -> String {
    jsonwebtoken::encode(
        &Header::new(Algorithm::RS256),
        claims,
        &EncodingKey::from_rsa_pem(key_pem).unwrap(),
    )
    .unwrap()
}

/// The service accounts, the reviewer's binding, Arca's policy and secrets.
pub(crate) async fn setup(cluster: &Cluster, ns: &TestNamespace, arca: &Arca) -> String {
    cluster.service_account(&ns.name, "arca-reviewer").await;
    cluster
        .create_cluster_scoped(
            ns,
            json!({
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": format!("{}-auth-delegator", ns.name)},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                            "name": "system:auth-delegator"},
                "subjects": [{"kind": "ServiceAccount", "name": "arca-reviewer",
                              "namespace": ns.name}]
            }),
        )
        .await;
    cluster.service_account(&ns.name, "app").await;
    arca.must(
        "PUT",
        "sys/policies/acl/app-read",
        json!({"policy": "path \"secret/data/app\" { capabilities = [\"read\"] }"}),
    )
    .await;
    arca.must(
        "POST",
        "secret/data/app",
        json!({"data": {"password": "s3cret"}}),
    )
    .await;
    arca.must("POST", "secret/data/other", json!({"data": {"x": "y"}}))
        .await;
    // The reviewer's token: the API server's own audience, as a reviewer
    // service account's would be.
    cluster.token(&ns.name, "arca-reviewer", &[], 3600).await
}

async fn role(arca: &Arca, mount: &str, ns: &str) {
    arca.must(
        "POST",
        &format!("auth/{mount}/role/app"),
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": ns,
               "audience": AUDIENCE, "token_policies": "app-read", "token_ttl": "10m"}),
    )
    .await;
}

/// A login that worked: its token reads what the policy allows, only that.
async fn logged_in(arca: &Arca, a: &Answer, ns: &str) {
    assert_eq!(a.status, 200, "{}", a.raw);
    let auth = &a.body["auth"];
    assert_eq!(auth["metadata"]["service_account_name"], "app", "{}", a.raw);
    assert_eq!(
        auth["metadata"]["service_account_namespace"], ns,
        "{}",
        a.raw
    );
    assert!(
        auth["policies"]
            .as_array()
            .unwrap()
            .contains(&json!("app-read")),
        "{}",
        a.raw
    );
    let token = auth["client_token"].as_str().unwrap();
    let r = arca.call("GET", "secret/data/app", Some(token), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["data"]["data"]["password"], "s3cret");
    let r = arca
        .call("GET", "secret/data/other", Some(token), None)
        .await;
    assert_eq!(r.status, 403, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_auth_through_token_review() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    let arca = Arca::dev().await;
    let reviewer = setup(&cluster, &ns, &arca).await;
    arca.must("POST", "sys/auth/kubernetes", json!({"type": "kubernetes"}))
        .await;
    arca.must(
        "POST",
        "auth/kubernetes/config",
        json!({"kubernetes_host": cluster.server_url(), "kubernetes_ca_cert": cluster.ca_pem(),
               "token_reviewer_jwt": reviewer, "disable_local_ca_jwt": true}),
    )
    .await;
    role(&arca, "kubernetes", &ns.name).await;

    // A pod's token: the service account's, for Arca's audience.
    let jwt = cluster.token(&ns.name, "app", &[AUDIENCE], 600).await;
    logged_in(
        &arca,
        &login(&arca, "kubernetes", "app", &jwt).await,
        &ns.name,
    )
    .await;

    // For another audience: the API server says so.
    let other = cluster.token(&ns.name, "app", &["someone-else"], 600).await;
    refused(
        &login(&arca, "kubernetes", "app", &other).await,
        "a token for another audience",
    );

    // The same claims signed by another cluster's key.
    let foreign = sign(&claims(&jwt), &foreign_key());
    refused(
        &login(&arca, "kubernetes", "app", &foreign).await,
        "a token from another cluster",
    );

    // Expired: the API server hands out no such token, so one is signed
    // with its own key, which only a control plane of our own lets us read.
    match cluster.signing_key_pem() {
        Some(key) => {
            let mut c = claims(&jwt);
            c["iat"] = json!(now() - 1200);
            c["nbf"] = json!(now() - 1200);
            c["exp"] = json!(now() - 600);
            refused(
                &login(&arca, "kubernetes", "app", &sign(&c, &key)).await,
                "an expired token",
            );
            // The same key and fresh times: accepted, so the refusal
            // above was for the expiry and not for the forging.
            c["iat"] = json!(now() - 5);
            c["nbf"] = json!(now() - 5);
            c["exp"] = json!(now() + 600);
            let fresh = sign(&c, &key);
            logged_in(
                &arca,
                &login(&arca, "kubernetes", "app", &fresh).await,
                &ns.name,
            )
            .await;
        }
        None => eprintln!(
            "kubernetes_auth_through_token_review: the expired-token check needs the cluster's \
             signing key (e2e/kube/up's cluster): not run against {}",
            cluster.server_url()
        ),
    }

    // A deleted service account's token: good until the account goes.
    cluster.service_account(&ns.name, "gone").await;
    arca.must(
        "POST",
        "auth/kubernetes/role/gone",
        json!({"bound_service_account_names": "gone", "bound_service_account_namespaces": ns.name,
               "audience": AUDIENCE, "token_policies": "app-read"}),
    )
    .await;
    let gone = cluster.token(&ns.name, "gone", &[AUDIENCE], 600).await;
    let a = login(&arca, "kubernetes", "gone", &gone).await;
    assert_eq!(a.status, 200, "before the deletion: {}", a.raw);
    let accounts: kube::Api<k8s_openapi::api::core::v1::ServiceAccount> =
        kube::Api::namespaced(cluster.client(), &ns.name);
    accounts
        .delete("gone", &Default::default())
        .await
        .expect("deleting the service account");
    // The API server's token authenticator reads service accounts from
    // its cache: the deletion reaches it within moments.
    let mut a = login(&arca, "kubernetes", "gone", &gone).await;
    for _ in 0..50 {
        if a.status != 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        a = login(&arca, "kubernetes", "gone", &gone).await;
    }
    refused(&a, "a deleted service account's token");

    arca.stop().await;
    ns.delete().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubernetes_auth_with_the_api_servers_signing_keys() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    let arca = Arca::dev().await;
    let _reviewer = setup(&cluster, &ns, &arca).await;
    let keys = cluster.jwks_pem().await;
    assert!(!keys.is_empty(), "the API server publishes no signing key");
    arca.must("POST", "sys/auth/local", json!({"type": "kubernetes"}))
        .await;
    arca.must(
        "POST",
        "auth/local/config",
        json!({"kubernetes_host": cluster.server_url(), "kubernetes_ca_cert": cluster.ca_pem(),
               "pem_keys": keys, "disable_local_ca_jwt": true}),
    )
    .await;
    role(&arca, "local", &ns.name).await;

    let jwt = cluster.token(&ns.name, "app", &[AUDIENCE], 600).await;
    logged_in(&arca, &login(&arca, "local", "app", &jwt).await, &ns.name).await;
    let other = cluster.token(&ns.name, "app", &["someone-else"], 600).await;
    refused(
        &login(&arca, "local", "app", &other).await,
        "a token for another audience",
    );
    let foreign = sign(&claims(&jwt), &foreign_key());
    refused(
        &login(&arca, "local", "app", &foreign).await,
        "a token from another cluster",
    );
    if let Some(key) = cluster.signing_key_pem() {
        let mut c = claims(&jwt);
        c["iat"] = json!(now() - 1200);
        c["nbf"] = json!(now() - 1200);
        c["exp"] = json!(now() - 600);
        refused(
            &login(&arca, "local", "app", &sign(&c, &key)).await,
            "an expired token",
        );
    }
    // Another service account's token, valid, is not the role's.
    cluster.service_account(&ns.name, "intruder").await;
    let intruder = cluster.token(&ns.name, "intruder", &[AUDIENCE], 600).await;
    refused(
        &login(&arca, "local", "app", &intruder).await,
        "a service account the role is not bound to",
    );

    arca.stop().await;
    ns.delete().await;
}

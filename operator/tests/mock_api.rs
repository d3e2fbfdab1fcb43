//! The operator's API calls against a mock API server (tower-test, as
//! kube-rs's controller examples test theirs): every request it sends is
//! checked, and answered with what a real API server answers on the paths
//! that are hard to provoke there: 404 on cleanup, 409 and 500 failures,
//! 422 for a StatefulSet change that needs the object recreated.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use arca_operator::cluster::desired::{self, Defaults};
use arca_operator::cluster::reconcile;
use arca_operator::context::{Ctx, Error};
use arca_operator::crd::VaultCluster;
use arca_operator::settings::Settings;
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use kube::client::Body;
use kube::runtime::controller::Action;
use serde_json::{Value, json};
use tower_test::mock::Handle;

type Mock = Handle<Request<Body>, Response<Body>>;

fn mock() -> (Ctx, Mock) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let client = kube::Client::new(service, "default");
    (Ctx::new(client, Settings::default()), handle)
}

fn cluster() -> VaultCluster {
    serde_json::from_value(json!({
        "apiVersion": "arca.dev/v1alpha1", "kind": "VaultCluster",
        "metadata": {"name": "vault", "namespace": "ns", "uid": "u-1", "generation": 1},
        "spec": {"replicas": 1, "storage": {"size": "1Gi", "type": "Embedded"}, "tls": {"mode": "Generated"},
                 "unseal": {"shares": 5, "threshold": 3, "store": "Secret"}, "service": {"type": "ClusterIP"}}
    }))
    .unwrap()
}

fn status(code: u16, reason: &str, message: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message, "reason": reason, "code": code});
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .body(Body::from(serde_json::to_vec(&body).unwrap()))
        .unwrap()
}

fn ok(body: &Value) -> Response<Body> {
    Response::builder()
        .status(200)
        .body(Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap()
}

/// The next request: method, path and query, JSON body.
async fn next(
    handle: &mut Mock,
) -> (
    String,
    String,
    Value,
    tower_test::mock::SendResponse<Response<Body>>,
) {
    let (req, send) = tokio::time::timeout(Duration::from_secs(5), handle.next_request())
        .await
        .expect("the operator sends a request")
        .expect("a request");
    let method = req.method().to_string();
    let uri = req.uri().to_string();
    let bytes = req.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    (method, uri, body, send)
}

#[tokio::test]
async fn cleanup_takes_a_missing_binding_as_deleted() {
    let (ctx, mut api) = mock();
    let vc = cluster();
    let server = tokio::spawn(async move {
        let (m, uri, _, send) = next(&mut api).await;
        assert_eq!(m, "DELETE");
        assert!(uri.starts_with("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/arca:ns:vault:auth-delegator"), "{uri}");
        send.send_response(status(404, "NotFound", "clusterrolebindings not found"));
        // The Event saying what was done.
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.as_str()),
            ("POST", "/apis/events.k8s.io/v1/namespaces/ns/events?")
        );
        assert_eq!(body["reason"], "Deleted");
        assert_eq!(body["regarding"]["kind"], "VaultCluster");
        send.send_response(ok(&body));
    });
    let action = reconcile::cleanup(&vc, &ctx).await.unwrap();
    assert_eq!(action, Action::await_change());
    server.await.unwrap();
}

#[tokio::test]
async fn cleanup_fails_when_the_api_server_does() {
    let (ctx, mut api) = mock();
    let vc = cluster();
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut api).await;
        send.send_response(status(500, "InternalError", "etcd is unhappy"));
        // Nothing else is sent.
        assert!(
            tokio::time::timeout(Duration::from_millis(200), api.next_request())
                .await
                .is_err()
        );
    });
    let err = reconcile::cleanup(&vc, &ctx).await.unwrap_err();
    assert!(
        matches!(&err, Error::Kube(kube::Error::Api(s)) if s.code == 500),
        "{err}"
    );
    server.await.unwrap();
}

/// Every object is applied with Server-Side Apply, one field manager,
/// forced (a field someone changed by hand is taken back, never a 409).
/// A StatefulSet the API server refuses to change in place (422) is
/// deleted with its pods orphaned and created again, with an Event.
#[tokio::test]
async fn apply_recreates_a_statefulset_that_cannot_change_in_place() {
    let (ctx, mut api) = mock();
    let vc = cluster();
    let names = desired::Names::of(&vc).unwrap();
    let d = desired::desired(&vc, &Defaults::default()).unwrap();
    let server = tokio::spawn(async move {
        let expected = [
            "/api/v1/namespaces/ns/serviceaccounts/vault",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/arca:ns:vault:auth-delegator",
            "/api/v1/namespaces/ns/configmaps/vault-config",
            "/api/v1/namespaces/ns/services/vault-internal",
            "/api/v1/namespaces/ns/services/vault",
            "/apis/policy/v1/namespaces/ns/poddisruptionbudgets/vault",
        ];
        for path in expected {
            let (m, uri, body, send) = next(&mut api).await;
            assert_eq!(m, "PATCH");
            let (p, q) = uri.split_once('?').unwrap();
            assert_eq!(p, path);
            assert!(
                q.contains("fieldManager=arca-operator") && q.contains("force=true"),
                "{q}"
            );
            send.send_response(ok(&body));
        }
        // The stored set is read first (nothing to compare here: none yet).
        let (m, uri, _, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.as_str()),
            ("GET", "/apis/apps/v1/namespaces/ns/statefulsets/vault")
        );
        send.send_response(status(
            404,
            "NotFound",
            "statefulsets.apps \"vault\" not found",
        ));
        let (m, uri, _, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.split('?').next().unwrap()),
            ("PATCH", "/apis/apps/v1/namespaces/ns/statefulsets/vault")
        );
        send.send_response(status(
            422,
            "Invalid",
            "StatefulSet.apps \"vault\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
        ));
        let (m, _, body, send) = next(&mut api).await;
        assert_eq!(m, "POST");
        assert_eq!(body["reason"], "Recreating");
        assert!(
            body["note"]
                .as_str()
                .unwrap()
                .contains("pods and volumes kept")
        );
        assert!(
            body["note"]
                .as_str()
                .unwrap()
                .contains("the API server refused the change")
        );
        send.send_response(ok(&body));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.split('?').next().unwrap()),
            ("DELETE", "/apis/apps/v1/namespaces/ns/statefulsets/vault")
        );
        assert_eq!(body["propagationPolicy"], "Orphan", "the pods keep running");
        send.send_response(ok(
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Success"}),
        ));
        let (m, _, _, send) = next(&mut api).await;
        assert_eq!(m, "GET");
        send.send_response(status(
            404,
            "NotFound",
            "statefulsets.apps \"vault\" not found",
        ));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.split('?').next().unwrap()),
            ("PATCH", "/apis/apps/v1/namespaces/ns/statefulsets/vault")
        );
        assert_eq!(body["spec"]["serviceName"], "vault-internal");
        send.send_response(ok(&body));
    });
    let sts = reconcile::apply_objects(&vc, &names, &d, &ctx)
        .await
        .unwrap();
    assert_eq!(sts.metadata.name.as_deref(), Some("vault"));
    server.await.unwrap();
}

/// A failure mid-way (here a 409 from an admission plugin or a
/// conflicting write) stops the apply and surfaces: the controller retries
/// with a growing delay.
#[tokio::test]
async fn a_conflict_stops_the_apply_and_backs_off() {
    let (ctx, mut api) = mock();
    let vc = cluster();
    let names = desired::Names::of(&vc).unwrap();
    let d = desired::desired(&vc, &Defaults::default()).unwrap();
    let server = tokio::spawn(async move {
        for _ in 0..2 {
            let (_, _, body, send) = next(&mut api).await;
            send.send_response(ok(&body));
        }
        let (_, uri, _, send) = next(&mut api).await;
        assert!(uri.contains("/configmaps/vault-config"));
        send.send_response(status(409, "Conflict", "Operation cannot be fulfilled on configmaps \"vault-config\": the object has been modified"));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), api.next_request())
                .await
                .is_err(),
            "nothing after the failure"
        );
    });
    let err = reconcile::apply_objects(&vc, &names, &d, &ctx)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Kube(kube::Error::Api(s)) if s.code == 409),
        "{err}"
    );
    server.await.unwrap();

    let delays: Vec<Action> = (0..11).map(|_| ctx.backoff("x")).collect();
    let secs = |n| Action::requeue(Duration::from_secs(n));
    assert_eq!(delays[..4], [secs(1), secs(2), secs(4), secs(8)]);
    assert_eq!(delays[10], secs(300), "at most five minutes");
    ctx.succeeded("x");
    assert_eq!(ctx.backoff("x"), secs(1), "a success starts over");
}

fn claim(size: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
           "metadata": {"name": "data-vault-0", "namespace": "ns"},
           "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
           "status": {"phase": "Bound"}})
}

/// A bigger `storage.size` grows the existing claims in place; a smaller
/// one, or one the StorageClass refuses, leaves them (a Warning Event).
#[tokio::test]
async fn claims_grow_and_never_shrink() {
    let mut vc = cluster();
    vc.spec.storage.size = k8s_openapi::apimachinery::pkg::api::resource::Quantity("2Gi".into());
    let names = desired::Names::of(&vc).unwrap();

    let (ctx, mut api) = mock();
    let server = tokio::spawn(async move {
        let (m, uri, _, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.as_str()),
            (
                "GET",
                "/api/v1/namespaces/ns/persistentvolumeclaims/data-vault-0"
            )
        );
        send.send_response(ok(&claim("1Gi")));
        let (m, uri, body, send) = next(&mut api).await;
        assert_eq!(
            (m.as_str(), uri.split('?').next().unwrap()),
            (
                "PATCH",
                "/api/v1/namespaces/ns/persistentvolumeclaims/data-vault-0"
            )
        );
        assert_eq!(
            body,
            json!({"spec": {"resources": {"requests": {"storage": "2Gi"}}}})
        );
        send.send_response(ok(&claim("2Gi")));
        let (_, _, body, send) = next(&mut api).await;
        assert_eq!(body["reason"], "ClaimExpanding");
        send.send_response(ok(&body));
    });
    reconcile::grow_claims(&vc, &names, &ctx).await.unwrap();
    server.await.unwrap();

    // Already that big (or bigger): nothing is sent after the read.
    let (ctx, mut api) = mock();
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut api).await;
        send.send_response(ok(&claim("5Gi")));
        assert!(
            tokio::time::timeout(Duration::from_millis(200), api.next_request())
                .await
                .is_err()
        );
    });
    reconcile::grow_claims(&vc, &names, &ctx).await.unwrap();
    server.await.unwrap();

    // The StorageClass does not allow expansion: a Warning, no error.
    let (ctx, mut api) = mock();
    let server = tokio::spawn(async move {
        let (_, _, _, send) = next(&mut api).await;
        send.send_response(ok(&claim("1Gi")));
        let (_, _, _, send) = next(&mut api).await;
        send.send_response(status(403, "Forbidden", "only dynamically provisioned pvc can be resized and the storageclass that provisions the pvc must support resize"));
        let (_, _, body, send) = next(&mut api).await;
        assert_eq!(
            (body["reason"].as_str(), body["type"].as_str()),
            (Some("ClaimNotExpanded"), Some("Warning"))
        );
        assert!(
            body["note"]
                .as_str()
                .unwrap()
                .contains("must support resize")
        );
        send.send_response(ok(&body));
    });
    reconcile::grow_claims(&vc, &names, &ctx).await.unwrap();
    server.await.unwrap();
}

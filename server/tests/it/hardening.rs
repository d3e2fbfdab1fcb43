//! Holes a review found, each shut and kept shut: revoked tokens coming
//! back through a racing renewal, children shedding their parent's
//! limits, paths that reach another object than the ACL saw, tokens of
//! disabled entities, sealing outside the request path, overflowing TTLs,
//! and the audit log's verdict on refused requests.

use std::net::IpAddr;
use std::path::Path;

use serde_json::{Value, json};

use crate::common::{TestServer, call, call_with};

async fn create(s: &TestServer, token: &str, body: Value) -> Value {
    let r = call(s, "POST", "auth/token/create", Some(token), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["auth"].clone()
}

async fn status_of(s: &TestServer, token: &str) -> u16 {
    call(s, "GET", "auth/token/lookup-self", Some(token), None)
        .await
        .status
}

async fn policy(s: &TestServer, name: &str, hcl: &str) {
    let r = call(
        s,
        "PUT",
        &format!("sys/policies/acl/{name}"),
        Some("root"),
        Some(json!({ "policy": hcl })),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_stays_revoked_whatever_races_it() {
    let s = TestServer::dev().await;
    for round in 0..15 {
        let auth = create(&s, "root", json!({"policies": ["default"], "ttl": "1h"})).await;
        let token = auth["client_token"].as_str().unwrap().to_owned();
        let accessor = auth["accessor"].as_str().unwrap().to_owned();
        let mut renewers = Vec::new();
        for _ in 0..6 {
            let url = s.url();
            let t = token.clone();
            renewers.push(tokio::spawn(async move {
                let c = reqwest::Client::new();
                for _ in 0..5 {
                    let _ = c
                        .post(format!("{url}/v1/auth/token/renew-self"))
                        .header("X-Vault-Token", &t)
                        .body("{}")
                        .send()
                        .await;
                }
            }));
        }
        let r = call(
            &s,
            "POST",
            "auth/token/revoke",
            Some("root"),
            Some(json!({"token": token})),
        )
        .await;
        assert_eq!(r.status, 204);
        for h in renewers {
            h.await.unwrap();
        }
        assert_eq!(status_of(&s, &token).await, 403, "round {round}: revived");
        let by_accessor = call(
            &s,
            "POST",
            "auth/token/lookup-accessor",
            Some("root"),
            Some(json!({"accessor": accessor})),
        )
        .await;
        assert_eq!(by_accessor.status, 400, "round {round}");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_keep_their_parents_limits() {
    let s = TestServer::dev().await;
    policy(
        &s,
        "creator",
        "path \"auth/token/create\" { capabilities = [\"update\"] }",
    )
    .await;

    // A limited-use parent cannot mint an unlimited child.
    let limited = create(&s, "root", json!({"policies": ["creator"], "num_uses": 3})).await;
    let limited = limited["client_token"].as_str().unwrap();
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(limited),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.errors(),
        ["restricted use token cannot generate child tokens"]
    );

    // Nor can a batch token mint anything.
    let batch = create(
        &s,
        "root",
        json!({"type": "batch", "policies": ["creator"], "ttl": "5m"}),
    )
    .await;
    let batch = batch["client_token"].as_str().unwrap();
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(batch),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.errors(), ["batch tokens cannot create more tokens"]);

    // A CIDR-bound parent's child is bound the same way.
    let _ = call(
        &s,
        "POST",
        "sys/auth/userpass",
        Some("root"),
        Some(json!({"type": "userpass"})),
    )
    .await;
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/bound",
        Some("root"),
        Some(json!({"password": "pw", "token_policies": "creator",
                     "token_bound_cidrs": "127.0.0.0/8"})),
    )
    .await;
    assert_eq!(u.status, 204);
    let login = call(
        &s,
        "POST",
        "auth/userpass/login/bound",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    let parent = login.body["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let entity = login.body["auth"]["entity_id"].as_str().unwrap().to_owned();
    let child = create(&s, &parent, json!({})).await;
    let child = child["client_token"].as_str().unwrap().to_owned();
    let look = call(&s, "GET", "auth/token/lookup-self", Some(&child), None).await;
    assert_eq!(look.body["data"]["bound_cidrs"], json!(["127.0.0.0/8"]));
    assert_eq!(look.body["data"]["entity_id"], entity.as_str());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paths_reach_only_what_the_acl_saw() {
    let s = TestServer::dev().await;
    policy(
        &s,
        "admin",
        "path \"secret/*\" { capabilities = [\"read\"] }",
    )
    .await;
    policy(
        &s,
        "policy-editor",
        "path \"sys/policies/acl/*\" { capabilities = [\"create\", \"update\"] }\n\
         path \"sys/policies/acl/admin\" { capabilities = [\"deny\"] }\n\
         path \"sys/mounts/*\" { capabilities = [\"update\", \"delete\"] }\n\
         path \"sys/mounts/secret\" { capabilities = [\"deny\"] }",
    )
    .await;
    let editor = create(&s, "root", json!({"policies": ["policy-editor"]})).await;
    let editor = editor["client_token"].as_str().unwrap().to_owned();
    let direct = call(
        &s,
        "PUT",
        "sys/policies/acl/admin",
        Some(&editor),
        Some(json!({"policy": "path \"*\" { capabilities = [\"sudo\", \"read\"] }"})),
    )
    .await;
    assert_eq!(direct.status, 403);
    // (`/./` and `/../` are cleaned by HTTP clients before they are sent;
    // kv_bao.rs sends them raw.)
    for path in ["sys/policies/acl//admin", "sys/mounts//secret"] {
        for method in ["PUT", "DELETE"] {
            let r = call(
                &s,
                method,
                path,
                Some(&editor),
                Some(json!({"policy": "path \"*\" { capabilities = [\"sudo\", \"read\"] }"})),
            )
            .await;
            assert_eq!(r.status, 400, "{method} {path}: {}", r.raw);
        }
    }
    let sneaky = call(
        &s,
        "PUT",
        "sys/policies/acladmin",
        Some("root"),
        Some(json!({"policy": "path \"*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!(sneaky.status, 404, "{}", sneaky.raw);
    let admin = call(&s, "GET", "sys/policies/acl/admin", Some("root"), None).await;
    assert!(
        admin.body["data"]["policy"]
            .as_str()
            .unwrap()
            .contains("secret/*")
    );
    let mounts = call(&s, "GET", "sys/mounts", Some("root"), None).await;
    assert!(
        mounts.body["data"].get("secret/").is_some(),
        "not unmounted"
    );

    // A `+` in a path is a `+`, not a space.
    let w = call(
        &s,
        "POST",
        "secret/data/a+b",
        Some("root"),
        Some(json!({"data": {"v": "plus"}})),
    )
    .await;
    assert_eq!(w.status, 200);
    let l = call(&s, "LIST", "secret/metadata/", Some("root"), None).await;
    assert_eq!(l.body["data"]["keys"], json!(["a+b"]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_entitys_tokens_do_nothing() {
    let s = TestServer::dev().await;
    let _ = call(
        &s,
        "POST",
        "sys/auth/userpass",
        Some("root"),
        Some(json!({"type": "userpass"})),
    )
    .await;
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/erin",
        Some("root"),
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(u.status, 204);
    let l = call(
        &s,
        "POST",
        "auth/userpass/login/erin",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    let token = l.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let eid = l.body["auth"]["entity_id"].as_str().unwrap().to_owned();
    assert_eq!(status_of(&s, &token).await, 200);
    let d = call(
        &s,
        "POST",
        &format!("identity/entity/id/{eid}"),
        Some("root"),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(d.status, 204);
    assert_eq!(status_of(&s, &token).await, 403);
    let e = call(
        &s,
        "POST",
        &format!("identity/entity/id/{eid}"),
        Some("root"),
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(e.status, 204);
    assert_eq!(status_of(&s, &token).await, 200);
    s.stop().await;
}

fn audit_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealing_is_a_request_like_any_other() {
    let s = TestServer::dev().await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let a = call(
        &s,
        "PUT",
        "sys/audit/file",
        Some("root"),
        Some(json!({"type": "file", "options": {"file_path": log.to_str().unwrap()}})),
    )
    .await;
    assert_eq!(a.status, 204);
    policy(
        &s,
        "sealer",
        "path \"sys/seal\" { capabilities = [\"update\", \"sudo\"] }",
    )
    .await;
    // A sealer whose token is bound to 127.0.0.1 only.
    let _ = call(
        &s,
        "POST",
        "sys/auth/userpass",
        Some("root"),
        Some(json!({"type": "userpass"})),
    )
    .await;
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/sealer",
        Some("root"),
        Some(json!({"password": "pw", "token_policies": "sealer",
                     "token_bound_cidrs": "127.0.0.1/32"})),
    )
    .await;
    assert_eq!(u.status, 204);
    let l = call(
        &s,
        "POST",
        "auth/userpass/login/sealer",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    let bound = l.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let from_elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .build()
        .unwrap()
        .put(format!("{}/v1/sys/seal", s.url()))
        .header("X-Vault-Token", &bound)
        .send()
        .await
        .unwrap();
    assert_eq!(from_elsewhere.status().as_u16(), 403);
    assert!(
        !s.core.is_sealed(),
        "not sealed from outside the token's bounds"
    );
    // Without sudo: refused, and audited.
    let plain = create(&s, "root", json!({"policies": ["default"]})).await;
    let plain = plain["client_token"].as_str().unwrap().to_owned();
    let r = call(&s, "PUT", "sys/seal", Some(&plain), None).await;
    assert_eq!(r.status, 403);
    assert!(!s.core.is_sealed());
    let entries = audit_lines(&log);
    let refused = entries
        .iter()
        .find(|e| {
            e["request"]["path"] == "sys/seal"
                && e["type"] == "response"
                && e["auth"]["policies"] == json!(["default"])
        })
        .expect("the refused seal is audited");
    assert_eq!(refused["auth"]["policy_results"]["allowed"], false);
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("permission denied")
    );
    // With sudo: sealed, and the request is in the log first.
    let r = call(&s, "PUT", "sys/seal", Some(&bound), None).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(s.core.is_sealed());
    let n = audit_lines(&log)
        .iter()
        .filter(|e| e["request"]["path"] == "sys/seal")
        .count();
    assert_eq!(n, 6, "three requests, each a request and a response entry");
    // Sealed already: nothing to do, for anyone.
    let r = call(&s, "PUT", "sys/seal", None, None).await;
    assert_eq!(r.status, 204);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durations_past_gos_range_are_refused() {
    let s = TestServer::dev().await;
    let w = call_with(
        &s,
        "POST",
        "sys/wrapping/wrap",
        Some("root"),
        &[("X-Vault-Wrap-TTL", "9999999999")],
        Some(br#"{"a":"b"}"#.to_vec()),
    )
    .await;
    assert_eq!(w.status, 400, "{}", w.raw);
    for body in [
        json!({"ttl": 99_999_999_999u64}),
        json!({"ttl": "99999999999"}),
        json!({"period": 9_999_999_999u64}),
    ] {
        let r = call(
            &s,
            "POST",
            "auth/token/create",
            Some("root"),
            Some(body.clone()),
        )
        .await;
        assert_eq!(r.status, 400, "{body}: {}", r.raw);
    }
    // The largest accepted TTL is capped by the mount, without overflow.
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"ttl": 9_000_000_000u64, "policies": ["default"]})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["auth"]["lease_duration"], 768 * 3600);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_review_findings() {
    let s = TestServer::dev().await;
    let root = Some("root");
    // A quota on `secret` does not cover `secret2/`.
    let m = call(
        &s,
        "POST",
        "sys/mounts/secret2",
        root,
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(m.status, 204);
    let q = call(
        &s,
        "POST",
        "sys/quotas/rate-limit/secret-only",
        root,
        Some(json!({"path": "secret", "rate": 1, "interval": "1h"})),
    )
    .await;
    assert_eq!(q.status, 204, "{}", q.raw);
    for _ in 0..3 {
        let r = call(&s, "LIST", "secret2/", root, None).await;
        assert_ne!(r.status, 429, "{}", r.raw);
    }
    let first = call(&s, "GET", "secret/config", root, None).await;
    assert_ne!(first.status, 429);
    let second = call(&s, "GET", "secret/config", root, None).await;
    assert_eq!(second.status, 429);
    let d = call(
        &s,
        "DELETE",
        "sys/quotas/rate-limit/secret-only",
        root,
        None,
    )
    .await;
    assert_eq!(d.status, 204);

    // A role whose default-batch tokens would carry a use limit: refused
    // at login with a clear error, not an unusable token.
    let _ = call(
        &s,
        "POST",
        "sys/auth/userpass",
        root,
        Some(json!({"type": "userpass"})),
    )
    .await;
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/nb",
        root,
        Some(json!({"password": "pw", "token_type": "default-batch", "token_num_uses": 5})),
    )
    .await;
    assert_eq!(u.status, 204, "{}", u.raw);
    let tune = call(
        &s,
        "POST",
        "sys/auth/userpass/tune",
        root,
        Some(json!({"token_type": "default-batch"})),
    )
    .await;
    assert_eq!(tune.status, 204, "{}", tune.raw);
    let l = call(
        &s,
        "POST",
        "auth/userpass/login/nb",
        None,
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(l.status, 400, "{}", l.raw);
    assert_eq!(l.errors(), ["batch tokens cannot have a use limit"]);

    // Entity policy names are case-insensitive, like every policy name.
    policy(
        &s,
        "reader",
        "path \"secret/*\" { capabilities = [\"read\"] }",
    )
    .await;
    let c = call(
        &s,
        "POST",
        "identity/entity",
        root,
        Some(json!({"name": "ops", "policies": ["Reader"]})),
    )
    .await;
    assert_eq!(c.status, 200);
    let e = call(&s, "GET", "identity/entity/name/ops", root, None).await;
    assert_eq!(e.body["data"]["policies"], json!(["reader"]));
    s.stop().await;
}

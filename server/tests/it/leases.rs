//! Leases and `sys/leases/*`, with leases registered the way the core does
//! when an engine hands out a secret (the engines that do come with issue
//! 13; until then leases are made here on the KV mount, whose revocation
//! of a secret is a no-op): lookup, list, renew within the mount's max,
//! revoke, revoke-prefix, revoke-force, expiry on time, a revoked token
//! taking its leases, and leases surviving a restart.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arca_server::clock::Clock;
use arca_server::expiration::leases::{LeaseEntry, NewLease};
use arca_server::router::Table;
use arca_server::storage::DynBackend;
use arca_server::storage::file::FileBackend;
use serde_json::{Map, Value, json};

use crate::common::{TestServer, call};

/// A lease on `secret/` at `path`, made by `token_hash` (or nobody).
async fn lease(s: &TestServer, path: &str, token_hash: &str, ttl: u64) -> LeaseEntry {
    let active = s.core.active().unwrap();
    let mount = active.mounts.get(Table::Mounts, "secret/").unwrap();
    let mut internal = Map::new();
    internal.insert("username".into(), Value::from("v-app"));
    active
        .leases
        .register(NewLease {
            path: path.into(),
            mount_accessor: mount.accessor.clone(),
            token_hash: token_hash.into(),
            internal,
            ttl: Duration::from_secs(ttl),
            renewable: true,
            max_ttl: Duration::ZERO,
        })
        .await
        .unwrap()
}

async fn put(s: &TestServer, path: &str, body: Value) -> crate::common::Answer {
    call(s, "PUT", path, Some("root"), Some(body)).await
}

async fn gone(s: &TestServer, id: &str) -> bool {
    let r = put(s, "sys/leases/lookup", json!({"lease_id": id})).await;
    r.status == 400 && r.errors() == ["invalid lease"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lookup_list_renew_and_revoke_answer_as_openbao() {
    let s = TestServer::dev().await;
    let a = lease(&s, "secret/creds/app", "", 600).await;
    let b = lease(&s, "secret/creds/app", "", 600).await;
    let c = lease(&s, "secret/creds/web", "", 600).await;

    // Lookup.
    let r = put(&s, "sys/leases/lookup", json!({"lease_id": a.lease_id})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let d = &r.body["data"];
    assert_eq!(d["id"], a.lease_id);
    assert_eq!(d["ttl"], 600);
    assert_eq!(d["renewable"], true);
    assert_eq!(d["last_renewal"], Value::Null);
    assert!(d["issue_time"].as_str().unwrap().ends_with('Z'));
    let mut keys: Vec<&str> = d.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "expire_time",
            "id",
            "issue_time",
            "last_renewal",
            "path",
            "renewable",
            "ttl"
        ]
    );
    for (body, error) in [
        (json!({}), "lease_id must be specified"),
        (json!({"lease_id": ""}), "lease_id must be specified"),
        (json!({"lease_id": "nope/x"}), "invalid lease"),
    ] {
        let r = put(&s, "sys/leases/lookup", body).await;
        assert_eq!((r.status, r.errors()), (400, vec![error.to_owned()]));
    }

    // List (sudo), folder by folder.
    let list = |p: &str| {
        let path = format!("sys/leases/lookup/{p}");
        let s = &s;
        async move { call(s, "LIST", &path, Some("root"), None).await }
    };
    // Tokens are leases too (the dev root token, under auth/).
    assert_eq!(
        list("").await.body["data"]["keys"],
        json!(["auth/", "secret/"])
    );
    assert_eq!(
        list("secret/creds/").await.body["data"]["keys"],
        json!(["app/", "web/"])
    );
    let ids = list("secret/creds/app/").await.body["data"]["keys"].clone();
    assert_eq!(ids.as_array().unwrap().len(), 2);
    assert_eq!(list("nope/").await.status, 404);

    // Renew: by the lease's TTL, or the increment, within the mount's max.
    let tune = json!({"default_lease_ttl": "30m", "max_lease_ttl": "1h"});
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/secret/tune",
            Some("root"),
            Some(tune)
        )
        .await
        .status,
        204
    );
    s.advance(Duration::from_secs(100));
    let r = put(&s, "sys/leases/renew", json!({"lease_id": a.lease_id})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_id"], a.lease_id);
    assert_eq!(r.body["lease_duration"], 600);
    assert_eq!(r.body["renewable"], true);
    let r = put(
        &s,
        "sys/leases/renew",
        json!({"lease_id": a.lease_id, "increment": "2h"}),
    )
    .await;
    assert_eq!(
        r.body["lease_duration"], 3500,
        "capped at the mount's max from issue"
    );
    assert!(
        r.body["warnings"][0].as_str().unwrap().contains("capped"),
        "{}",
        r.raw
    );
    let d = put(&s, "sys/leases/lookup", json!({"lease_id": a.lease_id}))
        .await
        .body;
    assert!(d["data"]["last_renewal"].is_string());
    let r = put(&s, "sys/leases/renew", json!({"lease_id": "nope/x"})).await;
    assert_eq!(r.errors(), ["lease not found"]);
    let r = put(&s, &format!("sys/leases/renew/{}", b.lease_id), json!({})).await;
    assert_eq!(r.status, 200, "the id in the path: {}", r.raw);

    // Revoke: one; then a prefix (sudo); a lease that is gone is no error.
    assert_eq!(
        put(&s, "sys/leases/revoke", json!({"lease_id": a.lease_id}))
            .await
            .status,
        204
    );
    assert!(gone(&s, &a.lease_id).await);
    assert_eq!(
        put(&s, "sys/leases/revoke", json!({"lease_id": "nope/x"}))
            .await
            .status,
        204
    );
    let r = put(&s, "sys/leases/revoke-prefix/secret/creds/a", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(gone(&s, &b.lease_id).await);
    assert!(!gone(&s, &c.lease_id).await);
    assert_eq!(
        put(&s, "sys/leases/revoke-force/secret/", json!({}))
            .await
            .status,
        204
    );
    assert!(gone(&s, &c.lease_id).await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_end_on_time_with_their_token_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(SystemTime::now());
    let backend: DynBackend = Arc::new(FileBackend::open(dir.path()).unwrap());
    let s = TestServer::dev_on(Arc::clone(&backend), clock.clone()).await;

    // Expiry: the expiration task revokes it once its TTL has passed.
    let short = lease(&s, "secret/creds/app", "", 60).await;
    s.advance(Duration::from_secs(61));
    let mut expired = false;
    for _ in 0..200 {
        if gone(&s, &short.lease_id).await {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(expired, "the lease outlived its TTL");

    // A revoked token takes the leases it created with it.
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"ttl": "1h"})),
    )
    .await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let hash = s.core.active().unwrap().tokens.hash(&token);
    let owned = lease(&s, "secret/creds/app", &hash, 600).await;
    let r = call(
        &s,
        "POST",
        "auth/token/revoke",
        Some("root"),
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.status, 204);
    assert!(
        gone(&s, &owned.lease_id).await,
        "the token's lease outlived it"
    );

    // A restart: leases come back; one that ran out meanwhile is revoked.
    let kept = lease(&s, "secret/creds/app", "", 3600).await;
    let lapsing = lease(&s, "secret/creds/app", "", 600).await;
    let key = s.unseal_key.clone();
    s.core.seal().await;
    s.stop().await;
    clock.advance(Duration::from_secs(1200));
    let s = TestServer::restart_on(backend, clock, &key).await;
    assert!(
        !gone(&s, &kept.lease_id).await,
        "a lease was lost in the restart"
    );
    let mut revoked = false;
    for _ in 0..200 {
        if gone(&s, &lapsing.lease_id).await {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        revoked,
        "a lease that ran out while the server was down was not revoked"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_secrets_engine_revokes_its_leases_first() {
    let s = TestServer::dev().await;
    let kv = json!({"type": "kv", "options": {"version": "2"}});
    assert_eq!(
        call(&s, "POST", "sys/mounts/other", Some("root"), Some(kv))
            .await
            .status,
        204
    );
    let mine = lease(&s, "secret/creds/app", "", 600).await;
    let active = s.core.active().unwrap();
    let other = active.mounts.get(Table::Mounts, "other/").unwrap();
    let theirs = active
        .leases
        .register(NewLease {
            path: "other/creds/app".into(),
            mount_accessor: other.accessor.clone(),
            token_hash: String::new(),
            internal: Map::new(),
            ttl: Duration::from_secs(600),
            renewable: false,
            max_ttl: Duration::ZERO,
        })
        .await
        .unwrap();
    assert_eq!(
        call(&s, "DELETE", "sys/mounts/other", Some("root"), None)
            .await
            .status,
        204
    );
    assert!(gone(&s, &theirs.lease_id).await);
    assert!(
        !gone(&s, &mine.lease_id).await,
        "another mount's lease was revoked"
    );
    s.stop().await;
}

/// Tokens are leases too, as in OpenBao: listed under `auth/`, looked up,
/// revoked (which revokes the token); not renewed here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_leases_are_listed_looked_up_and_revoked() {
    let s = TestServer::dev().await;
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"ttl": "1h"})),
    )
    .await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = call(&s, "LIST", "sys/leases/lookup/", Some("root"), None).await;
    assert_eq!(r.body["data"]["keys"], json!(["auth/"]), "{}", r.raw);
    let r = call(&s, "LIST", "sys/leases/lookup/auth/", Some("root"), None).await;
    assert_eq!(r.body["data"]["keys"], json!(["token/"]));
    let r = call(
        &s,
        "LIST",
        "sys/leases/lookup/auth/token/create/",
        Some("root"),
        None,
    )
    .await;
    let keys: Vec<String> = serde_json::from_value(r.body["data"]["keys"].clone()).unwrap();
    // The dev root token (made through token create) and the new one.
    assert_eq!(keys.len(), 2, "{keys:?}");
    let mut found = None;
    for k in &keys {
        let id = format!("auth/token/create/{k}");
        let r = put(&s, "sys/leases/lookup", json!({"lease_id": id})).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        let d = &r.body["data"];
        assert_eq!(d["id"], id.as_str());
        assert_eq!(d["path"], "auth/token/create");
        if d["renewable"] == true {
            assert!((3590..=3600).contains(&d["ttl"].as_u64().unwrap()), "{d}");
            assert!(d["expire_time"].is_string());
            assert_eq!(d["last_renewal"], Value::Null);
            found = Some(id);
        } else {
            // The root token: no expiry.
            assert_eq!(
                (d["ttl"].clone(), d["expire_time"].clone()),
                (json!(0), Value::Null)
            );
        }
    }
    let id = found.expect("the new token's lease");
    let r = put(&s, "sys/leases/renew", json!({"lease_id": id})).await;
    assert_eq!(
        (r.status, r.errors()),
        (
            400,
            vec!["tokens cannot be renewed through this endpoint".to_owned()]
        )
    );
    let r = put(&s, "sys/leases/revoke", json!({"lease_id": id})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(r.status, 403, "the token outlived its lease: {}", r.raw);
    let r = put(&s, "sys/leases/lookup", json!({"lease_id": id})).await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["invalid lease".to_owned()])
    );
    // revoke-prefix takes tokens' leases too (the dev root token's among
    // them: it is a token made through token create, as in OpenBao).
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"ttl": "1h"})),
    )
    .await;
    let other = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&other),
        Some(json!({"ttl": "1h"})),
    )
    .await;
    let child = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let r = put(&s, "sys/leases/revoke-prefix/auth/token/create/", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    for t in [&other, &child, &"root".to_owned()] {
        let r = call(&s, "GET", "auth/token/lookup-self", Some(t), None).await;
        assert_eq!(r.status, 403, "{t} outlived revoke-prefix: {}", r.raw);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_made_up_token_lease_is_no_lease() {
    let s = TestServer::dev().await;
    // A made-up token lease id is no lease.
    let r = put(
        &s,
        "sys/leases/lookup",
        json!({"lease_id": "auth/token/create/nope"}),
    )
    .await;
    assert_eq!(r.status, 400);
    s.stop().await;
}

//! The token store over HTTP: creation rules, lookups, renewal limits,
//! revocation of trees and orphans, use limits, and expiry on time (with a
//! manual clock: time is moved, never slept).

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arca_server::clock::Clock;
use arca_server::storage::file::FileBackend;

use serde_json::{Value, json};

use crate::common::{TestServer, call};

async fn create(s: &TestServer, token: &str, body: Value) -> (String, String) {
    let r = call(s, "POST", "auth/token/create", Some(token), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    (
        r.body["auth"]["client_token"].as_str().unwrap().to_owned(),
        r.body["auth"]["accessor"].as_str().unwrap().to_owned(),
    )
}

async fn lookup_status(s: &TestServer, token: &str) -> u16 {
    call(s, "GET", "auth/token/lookup-self", Some(token), None)
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_lookup_and_the_auth_block() {
    let s = TestServer::dev().await;
    let root = Some("root");
    call(
        &s,
        "PUT",
        "sys/policies/acl/p1",
        root,
        Some(json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"})),
    )
    .await;

    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["p1"], "ttl": "1h", "explicit_max_ttl": "2h", "num_uses": 3, "renewable": true, "display_name": "x", "meta": {"a": "b"}})),
    )
    .await;
    assert_eq!(r.status, 200);
    let auth = &r.body["auth"];
    assert_eq!(auth["policies"], json!(["default", "p1"]));
    assert_eq!(auth["token_policies"], json!(["default", "p1"]));
    assert_eq!(auth["metadata"], json!({"a": "b"}));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["num_uses"], 3);
    assert_eq!(auth["token_type"], "service");
    assert_eq!(auth["orphan"], false);
    assert!(auth.get("mfa_requirement").is_some());
    let token = auth["client_token"].as_str().unwrap().to_owned();
    let accessor = auth["accessor"].as_str().unwrap().to_owned();
    assert!(token.starts_with("s.") && token.len() == 26);
    assert_eq!(accessor.len(), 24);

    let l = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    let d = &l.body["data"];
    assert_eq!(d["display_name"], "token-x");
    assert_eq!(d["num_uses"], 2, "the lookup itself used one of three");
    assert_eq!(d["explicit_max_ttl"], 7200);
    assert_eq!(d["creation_ttl"], 3600);
    assert_eq!(d["id"], token.as_str());
    assert_eq!(d["path"], "auth/token/create");
    assert!(d["expire_time"].as_str().unwrap().ends_with('Z'));

    // Lookup by token (root), by accessor (no id), GET form, and {} = self.
    let l = call(
        &s,
        "POST",
        "auth/token/lookup",
        root,
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(l.body["data"]["accessor"], accessor.as_str());
    let l = call(
        &s,
        "POST",
        "auth/token/lookup-accessor",
        root,
        Some(json!({"accessor": accessor})),
    )
    .await;
    assert_eq!(l.body["data"]["id"], "");
    let l = call(&s, "POST", "auth/token/lookup", root, Some(json!({}))).await;
    assert_eq!(l.body["data"]["id"], "root");
    let l = call(
        &s,
        "POST",
        "auth/token/lookup",
        root,
        Some(json!({"token": "s.AAAAAAAAAAAAAAAAAAAAAAAA"})),
    )
    .await;
    assert_eq!((l.status, l.errors()), (403, vec!["bad token".to_string()]));
    let l = call(
        &s,
        "POST",
        "auth/token/lookup-accessor",
        root,
        Some(json!({"accessor": "nope"})),
    )
    .await;
    assert_eq!(l.status, 400);

    // Root with no TTL: root policy, never expires, not renewable.
    let r = call(&s, "POST", "auth/token/create", root, Some(json!({}))).await;
    assert_eq!(r.body["auth"]["policies"], json!(["root"]));
    assert_eq!(r.body["auth"]["lease_duration"], 0);
    assert_eq!(r.body["auth"]["renewable"], false);

    // TTL over the max is capped with Vault's warning.
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"ttl": "1000000h"})),
    )
    .await;
    assert_eq!(r.body["auth"]["lease_duration"], 2_764_800);
    assert_eq!(
        r.body["warnings"],
        json!([
            "TTL of \"1000000h\" exceeded the effective max_ttl of \"768h\"; TTL value is capped accordingly"
        ])
    );
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"ttl": "3h", "explicit_max_ttl": "1h"})),
    )
    .await;
    assert_eq!(r.body["auth"]["lease_duration"], 3600);

    // Bad input: 400, no token.
    for (body, msg) in [
        (json!({"ttl": "bogus"}), "time: invalid duration \"bogus\""),
        (json!({"num_uses": -1}), "number of uses cannot be negative"),
    ] {
        let r = call(&s, "POST", "auth/token/create", root, Some(body)).await;
        assert_eq!((r.status, r.errors()), (400, vec![msg.to_string()]));
    }
    // Policies that do not exist are a warning, not an error.
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["ghost"]})),
    )
    .await;
    assert_eq!(
        r.body["warnings"],
        json!(["Policy \"ghost\" does not exist"])
    );
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["p1"], "no_default_policy": true})),
    )
    .await;
    assert_eq!(r.body["auth"]["policies"], json!(["p1"]));
    // A custom id (root only).
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"id": "my-custom-token"})),
    )
    .await;
    assert_eq!(r.body["auth"]["client_token"], "my-custom-token");
    assert_eq!(lookup_status(&s, "my-custom-token").await, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn children_are_subsets_and_die_with_their_parent() {
    let s = TestServer::dev().await;
    let root = "root";
    call(
        &s,
        "PUT",
        "sys/policies/acl/p1",
        Some(root),
        Some(json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    call(&s, "PUT", "sys/policies/acl/creator", Some(root), Some(json!({"policy": "path \"auth/token/create\" { capabilities = [\"create\", \"update\"] }"}))).await;
    let (parent, _) = create(&s, root, json!({"policies": ["creator", "p1"]})).await;

    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&parent),
        Some(json!({"policies": ["p2"]})),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (
            400,
            vec!["child policies must be subset of parent".to_string()]
        )
    );
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&parent),
        Some(json!({"policies": ["root"]})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&parent),
        Some(json!({"no_parent": true})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["root or sudo privileges required to create orphan token".to_string()]
    );
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&parent),
        Some(json!({"id": "x"})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["root or sudo privileges required to specify token id".to_string()]
    );
    let r = call(
        &s,
        "POST",
        "auth/token/create-orphan",
        Some(&parent),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.status, 403);

    let (child, _) = create(&s, &parent, json!({"policies": ["p1"]})).await;
    let (inherits, _) = create(&s, &parent, json!({})).await;
    let l = call(&s, "GET", "auth/token/lookup-self", Some(&inherits), None).await;
    assert_eq!(
        l.body["data"]["policies"],
        json!(["creator", "default", "p1"])
    );
    let (grandchild, _) = create(&s, &inherits, json!({"policies": ["p1"]})).await;

    // Revoking the parent revokes the whole tree.
    assert_eq!(
        call(
            &s,
            "POST",
            "auth/token/revoke",
            Some(root),
            Some(json!({"token": parent}))
        )
        .await
        .status,
        204
    );
    for t in [&parent, &child, &inherits, &grandchild] {
        assert_eq!(lookup_status(&s, t).await, 403);
    }
    // Revoking again is fine; missing token is 400.
    assert_eq!(
        call(
            &s,
            "POST",
            "auth/token/revoke",
            Some(root),
            Some(json!({"token": parent}))
        )
        .await
        .status,
        204
    );
    let r = call(&s, "POST", "auth/token/revoke", Some(root), Some(json!({}))).await;
    assert_eq!(r.errors(), vec!["missing token ID".to_string()]);

    // revoke-orphan keeps the children, now orphans.
    let (p2, _) = create(&s, root, json!({"policies": ["creator", "p1"]})).await;
    let (c2, _) = create(&s, &p2, json!({"policies": ["p1"]})).await;
    assert_eq!(
        call(
            &s,
            "POST",
            "auth/token/revoke-orphan",
            Some(root),
            Some(json!({"token": p2}))
        )
        .await
        .status,
        204
    );
    assert_eq!(lookup_status(&s, &p2).await, 403);
    let l = call(&s, "GET", "auth/token/lookup-self", Some(&c2), None).await;
    assert_eq!(l.body["data"]["orphan"], true);
    let r = call(
        &s,
        "POST",
        "auth/token/revoke-orphan",
        Some(root),
        Some(json!({"token": "s.nope"})),
    )
    .await;
    assert_eq!(r.errors(), vec!["token to revoke not found".to_string()]);
    // revoke-orphan needs sudo.
    let r = call(
        &s,
        "POST",
        "auth/token/revoke-orphan",
        Some(&c2),
        Some(json!({"token": c2})),
    )
    .await;
    assert_eq!(r.status, 403);

    // revoke-self and revoke-accessor.
    let (t, acc) = create(&s, root, json!({"policies": ["p1"]})).await;
    assert_eq!(
        call(
            &s,
            "POST",
            "auth/token/revoke-accessor",
            Some(root),
            Some(json!({"accessor": acc}))
        )
        .await
        .status,
        204
    );
    assert_eq!(lookup_status(&s, &t).await, 403);
    let r = call(
        &s,
        "POST",
        "auth/token/revoke-accessor",
        Some(root),
        Some(json!({"accessor": "AAAAAAAAAAAAAAAAAAAAAAAA"})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["warnings"],
        json!(["No token found with this accessor"])
    );
    let (t, acc) = create(&s, root, json!({"policies": ["p1"]})).await;
    let accessors = call(&s, "LIST", "auth/token/accessors", Some(root), None).await;
    assert!(
        accessors.body["data"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k == acc.as_str())
    );
    assert_eq!(
        call(&s, "PUT", "auth/token/revoke-self", Some(&t), None)
            .await
            .status,
        204
    );
    assert_eq!(lookup_status(&s, &t).await, 403);
    // accessors needs sudo.
    assert_eq!(
        call(&s, "LIST", "auth/token/accessors", Some(&c2), None)
            .await
            .status,
        403
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_limits_renewal_and_expiry_on_time() {
    let s = TestServer::dev().await;
    let root = "root";

    // num_uses: the last use shows -1, the next request is denied.
    let (t, _) = create(&s, root, json!({"num_uses": 2})).await;
    let l = call(&s, "GET", "auth/token/lookup-self", Some(&t), None).await;
    assert_eq!(l.body["data"]["num_uses"], 1);
    let l = call(&s, "GET", "auth/token/lookup-self", Some(&t), None).await;
    assert_eq!(l.body["data"]["num_uses"], -1);
    let l = call(&s, "GET", "auth/token/lookup-self", Some(&t), None).await;
    assert_eq!(
        (l.status, l.errors()),
        (403, vec!["permission denied".to_string()])
    );

    // Renewal: increment, explicit max cap with warning, periodic tokens.
    let (t, acc) = create(
        &s,
        root,
        json!({"policies": ["default"], "ttl": "1h", "explicit_max_ttl": "3h"}),
    )
    .await;
    let r = call(
        &s,
        "PUT",
        "auth/token/renew-self",
        Some(&t),
        Some(json!({"increment": "10m"})),
    )
    .await;
    assert_eq!(r.body["auth"]["lease_duration"], 600);
    let l = call(&s, "GET", "auth/token/lookup-self", Some(&t), None).await;
    assert!(l.body["data"]["last_renewal"].is_string());
    let r = call(
        &s,
        "POST",
        "auth/token/renew",
        Some(root),
        Some(json!({"token": t, "increment": "10h"})),
    )
    .await;
    assert_eq!(r.body["auth"]["lease_duration"], 10_800);
    assert_eq!(
        r.body["warnings"],
        json!([
            "TTL of \"10h\" exceeded the effective max_ttl of \"3h\"; TTL value is capped accordingly"
        ])
    );
    let r = call(
        &s,
        "POST",
        "auth/token/renew-accessor",
        Some(root),
        Some(json!({"accessor": acc, "increment": 1200})),
    )
    .await;
    assert_eq!(r.body["auth"]["lease_duration"], 1200);
    assert_eq!(r.body["auth"]["client_token"], "");
    let r = call(
        &s,
        "PUT",
        "auth/token/renew-self",
        Some(root),
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["lease is not renewable".to_string()])
    );
    let (nr, _) = create(
        &s,
        root,
        json!({"renewable": false, "ttl": "1h", "policies": ["default"]}),
    )
    .await;
    let r = call(
        &s,
        "PUT",
        "auth/token/renew-self",
        Some(&nr),
        Some(json!({})),
    )
    .await;
    assert_eq!(r.errors(), vec!["lease is not renewable".to_string()]);
    let r = call(
        &s,
        "POST",
        "auth/token/renew",
        Some(root),
        Some(json!({"token": "s.nope"})),
    )
    .await;
    assert_eq!(r.errors(), vec!["token not found".to_string()]);
    let (periodic, _) = create(&s, root, json!({"policies": ["default"], "period": "1h"})).await;
    let r = call(
        &s,
        "POST",
        "auth/token/renew",
        Some(root),
        Some(json!({"token": periodic, "increment": "30m"})),
    )
    .await;
    assert_eq!(
        r.body["auth"]["lease_duration"], 3600,
        "periodic tokens renew to their period"
    );

    // Expiry: a 1h token dies after an hour, with its children, even if
    // nothing asks for it (the reaper revokes it).
    let (short, _) = create(&s, root, json!({"policies": ["default"], "ttl": "1h"})).await;
    let (kid, _) = create(&s, root, json!({"policies": ["default"], "ttl": "1h"})).await;
    let (long, _) = create(&s, root, json!({"policies": ["default"], "ttl": "5h"})).await;
    assert_eq!(lookup_status(&s, &short).await, 200);
    let before = call(&s, "LIST", "auth/token/accessors", Some(root), None)
        .await
        .body["data"]["keys"]
        .as_array()
        .unwrap()
        .len();
    s.advance(Duration::from_secs(3601));
    // Dead at once for lookups...
    assert_eq!(lookup_status(&s, &short).await, 403);
    // ...and removed from storage by the reaper.
    let mut after = before;
    for _ in 0..200 {
        after = call(&s, "LIST", "auth/token/accessors", Some(root), None)
            .await
            .body["data"]["keys"]
            .as_array()
            .unwrap()
            .len();
        if after < before {
            break;
        }
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        after < before,
        "expired tokens are reaped ({before} -> {after})"
    );
    assert_eq!(lookup_status(&s, &kid).await, 403);
    assert_eq!(lookup_status(&s, &long).await, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(SystemTime::now());
    // The same store object is handed to a second, new core: everything the
    // new core knows, it loads from storage. (Reopening the file itself
    // after a kill -9 is what persistence.rs does with the real binary.)
    let backend: arca_server::storage::DynBackend =
        Arc::new(FileBackend::open(dir.path()).unwrap());
    let (short, long, key) = {
        let s = TestServer::dev_on(Arc::clone(&backend), clock.clone()).await;
        let (short, _) = create(&s, "root", json!({"policies": ["default"], "ttl": "1h"})).await;
        let (long, _) = create(&s, "root", json!({"policies": ["default"], "ttl": "3h"})).await;
        let key = s.unseal_key.clone();
        s.core.seal().await;
        s.stop().await;
        (short, long, key)
    };
    // Two hours pass while the server is down.
    clock.advance(Duration::from_secs(2 * 3600));
    let s = TestServer::restart_on(backend, clock, &key).await;
    assert_eq!(
        lookup_status(&s, &short).await,
        403,
        "expired while the server was down"
    );
    assert_eq!(lookup_status(&s, &long).await, 200);
    let r = call(
        &s,
        "POST",
        "auth/token/lookup",
        Some("root"),
        Some(json!({"token": long})),
    )
    .await;
    let ttl = r.body["data"]["ttl"].as_u64().unwrap();
    assert!((3590..=3600).contains(&ttl), "one hour left, got {ttl}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_tokens_live_without_storage_and_die_on_time() {
    let s = TestServer::dev().await;
    let root = Some("root");
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"type": "batch", "policies": ["default"], "ttl": "1h"})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let auth = &r.body["auth"];
    assert_eq!(auth["token_type"], "batch");
    assert_eq!(auth["accessor"], "");
    assert_eq!(auth["renewable"], false);
    assert_eq!(auth["lease_duration"], 3600);
    let bt = auth["client_token"].as_str().unwrap().to_owned();
    assert!(bt.starts_with("b."), "{bt}");
    // Nothing is stored for it: the accessor list does not grow.
    let acc = call(&s, "LIST", "auth/token/accessors", root, None).await;
    assert_eq!(acc.body["data"]["keys"].as_array().unwrap().len(), 1);

    let l = call(&s, "GET", "auth/token/lookup-self", Some(&bt), None).await;
    assert_eq!(l.status, 200, "{}", l.raw);
    assert_eq!(l.body["data"]["type"], "batch");
    assert_eq!(l.body["data"]["policies"], json!(["default"]));
    assert_eq!(l.body["data"]["id"], bt.as_str());

    for (path, token, body, msg) in [
        (
            "auth/token/renew-self",
            bt.as_str(),
            json!({}),
            "batch tokens cannot be renewed",
        ),
        (
            "auth/token/revoke",
            "root",
            json!({"token": bt}),
            "batch tokens cannot be revoked",
        ),
        (
            "cubbyhole/x",
            bt.as_str(),
            json!({"a": "b"}),
            "cubbyhole operations are only supported by 'service' type tokens",
        ),
    ] {
        let e = call(&s, "POST", path, Some(token), Some(body)).await;
        assert_eq!(e.status, 400, "{path}: {}", e.raw);
        assert_eq!(e.errors(), [msg]);
    }
    for (body, msg) in [
        (
            json!({"type": "batch", "policies": ["root"]}),
            "batch tokens cannot be root tokens",
        ),
        (
            json!({"type": "batch", "policies": ["default"], "period": "1h"}),
            "batch tokens cannot have \"period\" set",
        ),
        (
            json!({"type": "batch", "policies": ["default"], "num_uses": 2}),
            "batch tokens cannot have \"num_uses\" set",
        ),
        (json!({"type": "weird"}), "invalid token type \"weird\""),
    ] {
        let e = call(&s, "POST", "auth/token/create", root, Some(body)).await;
        assert_eq!(e.status, 400, "{}", e.raw);
        assert_eq!(e.errors(), [msg]);
    }
    // A tampered batch token is no token.
    let mut bad = bt.clone();
    let last = bad.pop().unwrap();
    bad.push(if last == 'A' { 'B' } else { 'A' });
    assert_eq!(lookup_status(&s, &bad).await, 403);
    assert_eq!(lookup_status(&s, "b.not-base64!").await, 403);

    // A batch child dies with its service parent.
    let p = call(
        &s,
        "PUT",
        "sys/policies/acl/tok-create",
        root,
        Some(json!({"policy": "path \"auth/token/create\" { capabilities = [\"update\"] }"})),
    )
    .await;
    assert_eq!(p.status, 204);
    let (parent, _) = create(
        &s,
        "root",
        json!({"policies": ["default", "tok-create"], "ttl": "3h"}),
    )
    .await;
    let child = call(
        &s,
        "POST",
        "auth/token/create",
        Some(&parent),
        Some(json!({"type": "batch", "ttl": "2h", "policies": ["default"]})),
    )
    .await;
    assert_eq!(child.status, 200, "{}", child.raw);
    let child = child.body["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(lookup_status(&s, &child).await, 200);
    let rv = call(
        &s,
        "POST",
        "auth/token/revoke",
        root,
        Some(json!({"token": parent})),
    )
    .await;
    assert_eq!(rv.status, 204);
    assert_eq!(lookup_status(&s, &child).await, 403);

    // Dead at its TTL, and still dead after a seal and unseal (the key
    // term that made it is kept).
    assert_eq!(lookup_status(&s, &bt).await, 200);
    s.core.seal().await;
    s.core
        .unseal(&arca_client::sys::UnsealRequest {
            key: Some(s.unseal_key.clone()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(lookup_status(&s, &bt).await, 200);
    s.advance(Duration::from_secs(3601));
    assert_eq!(lookup_status(&s, &bt).await, 403);
    s.stop().await;
}

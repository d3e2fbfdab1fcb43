//! Cubbyhole (per-token storage that dies with its token) and response
//! wrapping (a response kept in a single-use token's cubbyhole), over HTTP
//! and with the real `bao` CLI.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, bao, call, call_with};

async fn token(s: &TestServer, policies: &[&str]) -> String {
    let r = call(
        s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"policies": policies})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["auth"]["client_token"].as_str().unwrap().to_owned()
}

fn body(v: Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(&v).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cubbyhole_is_private_and_dies_with_its_token() {
    let s = TestServer::dev().await;
    // A custom id, so the same token can be made again after revocation.
    let created = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"id": "cubby-owner-a", "policies": ["default"]})),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.raw);
    let a = "cubby-owner-a".to_owned();
    let b = token(&s, &["default"]).await;

    let w = call(
        &s,
        "POST",
        "cubbyhole/app/db",
        Some(&a),
        Some(json!({"password": "cubby-secret-1"})),
    )
    .await;
    assert_eq!(w.status, 204, "{}", w.raw);
    let r = call(&s, "GET", "cubbyhole/app/db", Some(&a), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"], json!({"password": "cubby-secret-1"}));
    let l = call(&s, "LIST", "cubbyhole/", Some(&a), None).await;
    assert_eq!(l.body["data"]["keys"], json!(["app/"]));
    let l = call(&s, "LIST", "cubbyhole/app", Some(&a), None).await;
    assert_eq!(l.body["data"]["keys"], json!(["db"]));

    // Another token, even root, sees its own (empty) cubbyhole.
    for other in [b.as_str(), "root"] {
        let r = call(&s, "GET", "cubbyhole/app/db", Some(other), None).await;
        assert_eq!((r.status, r.body.clone()), (404, json!({"errors": []})));
    }

    // Bad input changes nothing.
    let e = call(
        &s,
        "POST",
        "cubbyhole/app/",
        Some(&a),
        Some(json!({"k": "v"})),
    )
    .await;
    assert_eq!(e.status, 400);
    assert_eq!(e.errors(), ["cannot write to a path ending in '/'"]);
    let e = call(&s, "POST", "cubbyhole/empty", Some(&a), Some(json!({}))).await;
    assert_eq!(e.status, 400, "{}", e.raw);
    let e = call(
        &s,
        "POST",
        "cubbyhole/a//x",
        Some(&a),
        Some(json!({"k": "v"})),
    )
    .await;
    assert_eq!(e.status, 400, "{}", e.raw);
    let l = call(&s, "LIST", "cubbyhole/", Some(&a), None).await;
    assert_eq!(l.body["data"]["keys"], json!(["app/"]));

    // It cannot be disabled.
    let d = call(&s, "DELETE", "sys/mounts/cubbyhole", Some("root"), None).await;
    assert_eq!(d.status, 400);
    let m = call(&s, "GET", "sys/mounts", Some("root"), None).await;
    assert_eq!(m.body["data"]["cubbyhole/"]["type"], "cubbyhole");
    assert_eq!(m.body["data"]["cubbyhole/"]["local"], true);

    // Revoking the token destroys its cubbyhole: a token re-created with
    // the same id finds nothing.
    let del = call(&s, "DELETE", "cubbyhole/app/db", Some(&a), None).await;
    assert_eq!(del.status, 204);
    let w = call(
        &s,
        "POST",
        "cubbyhole/keep",
        Some(&a),
        Some(json!({"v": "cubby-secret-2"})),
    )
    .await;
    assert_eq!(w.status, 204);
    let rv = call(
        &s,
        "POST",
        "auth/token/revoke",
        Some("root"),
        Some(json!({"token": a})),
    )
    .await;
    assert_eq!(rv.status, 204);
    let again = call(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        Some(json!({"id": a, "policies": ["default"]})),
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.raw);
    let r = call(&s, "GET", "cubbyhole/keep", Some(&a), None).await;
    assert_eq!(r.status, 404, "the cubbyhole went with its token");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrapped_responses_unwrap_once() {
    let s = TestServer::dev().await;
    let w = call(
        &s,
        "POST",
        "secret/data/app",
        Some("root"),
        Some(json!({"data": {"password": "wrapped-value-1"}})),
    )
    .await;
    assert_eq!(w.status, 200, "{}", w.raw);

    // A wrapped KV read: only wrap_info comes back.
    let r = call_with(
        &s,
        "GET",
        "secret/data/app",
        Some("root"),
        &[("X-Vault-Wrap-TTL", "60s")],
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert!(!r.raw.contains("wrapped-value-1"));
    assert_eq!(r.body["request_id"], "");
    assert_eq!(r.body["data"], Value::Null);
    let info = &r.body["wrap_info"];
    assert_eq!(info["ttl"], 60);
    assert_eq!(info["creation_path"], "secret/data/app");
    assert!(info["creation_time"].as_str().unwrap().ends_with('Z'));
    assert_eq!(info["accessor"].as_str().unwrap().len(), 24);
    let wt = info["token"].as_str().unwrap().to_owned();

    // Lookup (no token needed) does not spend it.
    for _ in 0..2 {
        let l = call(
            &s,
            "POST",
            "sys/wrapping/lookup",
            None,
            Some(json!({"token": wt})),
        )
        .await;
        assert_eq!(l.status, 200, "{}", l.raw);
        assert_eq!(l.body["data"]["creation_path"], "secret/data/app");
        assert_eq!(l.body["data"]["creation_ttl"], 60);
    }
    // The wrapping token as the token store sees it.
    let t = call(
        &s,
        "POST",
        "auth/token/lookup",
        Some("root"),
        Some(json!({"token": wt})),
    )
    .await;
    assert_eq!(t.body["data"]["policies"], json!(["response-wrapping"]));
    assert_eq!(t.body["data"]["num_uses"], 1);
    assert_eq!(t.body["data"]["orphan"], true);
    assert_eq!(t.body["data"]["renewable"], false);
    // A wrapping token is good for nothing else.
    let no = call(&s, "GET", "secret/data/app", Some(&wt), None).await;
    assert_eq!(no.status, 403);

    // Unwrap with the wrapping token itself: the original envelope.
    let u = call(&s, "POST", "sys/wrapping/unwrap", Some(&wt), None).await;
    assert_eq!(u.status, 200, "{}", u.raw);
    assert_eq!(
        u.body["data"]["data"],
        json!({"password": "wrapped-value-1"})
    );
    assert_eq!(u.body["data"]["metadata"]["version"], 1);
    assert_ne!(u.body["request_id"], "");
    // Once.
    let again = call(&s, "POST", "sys/wrapping/unwrap", Some(&wt), None).await;
    assert_eq!(again.status, 400);
    let again = call(
        &s,
        "POST",
        "sys/wrapping/unwrap",
        Some("root"),
        Some(json!({"token": wt})),
    )
    .await;
    assert_eq!(again.status, 400);
    assert_eq!(
        again.errors(),
        ["wrapping token is not valid or does not exist"]
    );
    let l = call(
        &s,
        "POST",
        "sys/wrapping/lookup",
        None,
        Some(json!({"token": wt})),
    )
    .await;
    assert_eq!(l.status, 400);

    // sys/wrapping/wrap, rewrap, unwrap by body token.
    let nw = call(
        &s,
        "POST",
        "sys/wrapping/wrap",
        Some("root"),
        Some(json!({"a": "b"})),
    )
    .await;
    assert_eq!(nw.status, 400);
    assert_eq!(
        nw.errors(),
        ["endpoint requires response wrapping to be used"]
    );
    let w1 = call_with(
        &s,
        "POST",
        "sys/wrapping/wrap",
        Some("root"),
        &[("X-Vault-Wrap-TTL", "5m")],
        body(json!({"a": "b", "n": 1})),
    )
    .await;
    assert_eq!(w1.body["wrap_info"]["ttl"], 300);
    assert_eq!(w1.body["wrap_info"]["creation_path"], "sys/wrapping/wrap");
    let t1 = w1.body["wrap_info"]["token"].as_str().unwrap().to_owned();
    let rw = call(
        &s,
        "POST",
        "sys/wrapping/rewrap",
        Some("root"),
        Some(json!({"token": t1})),
    )
    .await;
    assert_eq!(rw.status, 200, "{}", rw.raw);
    assert_eq!(rw.body["wrap_info"]["ttl"], 300);
    let t2 = rw.body["wrap_info"]["token"].as_str().unwrap().to_owned();
    assert_ne!(t1, t2);
    let old = call(
        &s,
        "POST",
        "sys/wrapping/unwrap",
        Some("root"),
        Some(json!({"token": t1})),
    )
    .await;
    assert_eq!(old.status, 400, "rewrap spends the old token");
    let new = call(
        &s,
        "POST",
        "sys/wrapping/unwrap",
        Some("root"),
        Some(json!({"token": t2})),
    )
    .await;
    assert_eq!(new.status, 200);
    assert_eq!(new.body["data"], json!({"a": "b", "n": 1}));

    // Non-wrapping tokens are not unwrapped.
    let plain = token(&s, &["default"]).await;
    let e = call(
        &s,
        "POST",
        "sys/wrapping/unwrap",
        Some("root"),
        Some(json!({"token": plain})),
    )
    .await;
    assert_eq!(e.status, 400);

    // A wrapped token-create response: wrapped_accessor names the token.
    let wc = call_with(
        &s,
        "POST",
        "auth/token/create",
        Some("root"),
        &[("X-Vault-Wrap-TTL", "1m")],
        body(json!({"policies": ["default"]})),
    )
    .await;
    let wrapped_accessor = wc.body["wrap_info"]["wrapped_accessor"]
        .as_str()
        .unwrap()
        .to_owned();
    let wt = wc.body["wrap_info"]["token"].as_str().unwrap().to_owned();
    let u = call(&s, "POST", "sys/wrapping/unwrap", Some(&wt), None).await;
    assert_eq!(u.body["auth"]["accessor"], wrapped_accessor.as_str());

    // An expired wrapping token is gone.
    let we = call_with(
        &s,
        "POST",
        "sys/wrapping/wrap",
        Some("root"),
        &[("X-Vault-Wrap-TTL", "30s")],
        body(json!({"x": "y"})),
    )
    .await;
    let te = we.body["wrap_info"]["token"].as_str().unwrap().to_owned();
    s.advance(Duration::from_secs(31));
    let gone = call(
        &s,
        "POST",
        "sys/wrapping/unwrap",
        Some("root"),
        Some(json!({"token": te})),
    )
    .await;
    assert_eq!(gone.status, 400, "{}", gone.raw);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bao_cli_wraps_and_unwraps() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let (code, _, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &["kv", "put", "secret/cli", "token=cli-wrapped-1"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &["kv", "get", "-wrap-ttl=2m", "-format=json", "secret/cli"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(!out.contains("cli-wrapped-1"));
    let v: Value = serde_json::from_str(&out).unwrap();
    let wt = v["wrap_info"]["token"].as_str().unwrap().to_owned();
    assert_eq!(v["wrap_info"]["creation_path"], "secret/data/cli");

    let (code, out, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "write",
            "-format=json",
            "sys/wrapping/lookup",
            &format!("token={wt}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("\"creation_path\": \"secret/data/cli\""),
        "{out}"
    );

    let (code, out, err) = bao(&addr, None, home.path(), &["unwrap", "-field=data", &wt]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cli-wrapped-1"), "{out}");
    let (code, _, err) = bao(&addr, None, home.path(), &["unwrap", &wt]).await;
    assert_eq!(code, 2, "second unwrap fails");
    assert!(err.contains("wrapping token is not valid"), "{err}");
    s.stop().await;
}

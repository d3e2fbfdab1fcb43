//! The mount table over HTTP: enable, read, tune, disable (which drops the
//! mount's data), auth methods, and the UI mount listing.

use serde_json::json;

use crate::common::{TestServer, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_engines_lifecycle() {
    let s = TestServer::dev().await;
    let root = Some("root");

    let m = call(&s, "GET", "sys/mounts", root, None).await;
    for p in ["sys/", "secret/"] {
        assert!(m.body["data"].get(p).is_some(), "{p}");
        assert!(m.body.get(p).is_some(), "{p} at the top level too");
    }
    assert_eq!(
        m.body["data"]["secret/"]["options"],
        json!({"version": "2"})
    );
    assert_eq!(m.body["data"]["sys/"]["type"], "system");

    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/foo",
            root,
            Some(json!({"type": "kv"}))
        )
        .await
        .status,
        204
    );
    let r = call(
        &s,
        "POST",
        "sys/mounts/foo",
        root,
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["path is already in use at foo/".to_string()]
    );
    let r = call(
        &s,
        "POST",
        "sys/mounts/foo/bar",
        root,
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["path is already in use at foo/".to_string()]
    );
    for (path, body, msg) in [
        (
            "bar",
            json!({"type": "nonexistent-type"}),
            "plugin not found in the catalog: nonexistent-type",
        ),
        (
            "bar",
            json!({}),
            "backend type must be specified as a string",
        ),
        ("sys", json!({"type": "kv"}), "cannot mount \"sys/\""),
        ("auth", json!({"type": "kv"}), "cannot mount \"auth/\""),
    ] {
        let r = call(&s, "POST", &format!("sys/mounts/{path}"), root, Some(body)).await;
        assert_eq!((r.status, r.errors()), (400, vec![msg.to_string()]));
    }
    let r = call(
        &s,
        "POST",
        "sys/mounts/bar",
        root,
        Some(json!({"type": "kv", "config": "abc"})),
    )
    .await;
    assert_eq!(r.status, 400);

    // KV v1 at foo/: write, read, list.
    assert_eq!(
        call(&s, "PUT", "foo/a/b", root, Some(json!({"v": "1"})))
            .await
            .status,
        204
    );
    assert_eq!(
        call(&s, "GET", "foo/a/b", root, None).await.body["data"],
        json!({"v": "1"})
    );
    assert_eq!(
        call(&s, "LIST", "foo/a", root, None).await.body["data"]["keys"],
        json!(["b"])
    );

    // Tune.
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/foo/tune",
            root,
            Some(json!({"default_lease_ttl": "1h", "description": "x"}))
        )
        .await
        .status,
        204
    );
    let t = call(&s, "GET", "sys/mounts/foo/tune", root, None).await;
    assert_eq!(t.body["data"]["default_lease_ttl"], 3600);
    assert_eq!(t.body["data"]["max_lease_ttl"], 2_764_800);
    assert_eq!(t.body["data"]["description"], "x");
    let r = call(
        &s,
        "POST",
        "sys/mounts/foo/tune",
        root,
        Some(json!({"max_lease_ttl": "30m"})),
    )
    .await;
    assert_eq!(r.status, 400);
    let r = call(
        &s,
        "POST",
        "sys/mounts/foo/tune",
        root,
        Some(json!({"default_lease_ttl": "bogus"})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["time: invalid duration \"bogus\"".to_string()]
    );
    let m = call(&s, "GET", "sys/mounts/foo", root, None).await;
    assert_eq!(m.body["data"]["config"]["default_lease_ttl"], 3600);
    assert_eq!(m.body["data"]["description"], "x");
    let r = call(&s, "GET", "sys/mounts/nonexistent", root, None).await;
    assert_eq!(
        r.errors(),
        vec!["No secret engine mount at nonexistent/".to_string()]
    );

    // Disable drops the data: a new mount at the same path is empty.
    assert_eq!(
        call(&s, "DELETE", "sys/mounts/foo", root, None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&s, "DELETE", "sys/mounts/foo", root, None)
            .await
            .status,
        204
    );
    assert_eq!(call(&s, "GET", "foo/a/b", root, None).await.status, 404);
    call(
        &s,
        "POST",
        "sys/mounts/foo",
        root,
        Some(json!({"type": "kv"})),
    )
    .await;
    assert_eq!(call(&s, "GET", "foo/a/b", root, None).await.status, 404);
    let r = call(&s, "DELETE", "sys/mounts/sys", root, None).await;
    assert_eq!(r.errors(), vec!["cannot unmount \"sys/\"".to_string()]);

    // kv-v2 type and options.version=2.
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/v2a",
            root,
            Some(json!({"type": "kv-v2"}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/v2b",
            root,
            Some(json!({"type": "kv", "options": {"version": "2"}}))
        )
        .await
        .status,
        204
    );
    for m in ["v2a", "v2b"] {
        assert_eq!(
            call(&s, "GET", &format!("sys/mounts/{m}"), root, None)
                .await
                .body["data"]["options"]["version"],
            "2"
        );
        assert_eq!(
            call(
                &s,
                "POST",
                &format!("{m}/data/x"),
                root,
                Some(json!({"data": {"k": "v"}}))
            )
            .await
            .status,
            200
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_table_and_ui_mounts() {
    let s = TestServer::dev().await;
    let root = Some("root");
    let a = call(&s, "GET", "sys/auth", root, None).await;
    assert_eq!(a.body["data"]["token/"]["type"], "token");
    assert_eq!(
        a.body["data"]["token/"]["config"]["token_type"],
        "default-service"
    );
    let r = call(&s, "DELETE", "sys/auth/token", root, None).await;
    assert_eq!(
        r.errors(),
        vec!["token credential backend cannot be disabled".to_string()]
    );
    let r = call(
        &s,
        "POST",
        "sys/auth/x",
        root,
        Some(json!({"type": "nonexistent-type"})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["plugin not found in the catalog: nonexistent-type".to_string()]
    );
    let t = call(&s, "GET", "sys/auth/token/tune", root, None).await;
    assert_eq!(t.body["data"]["default_lease_ttl"], 2_764_800);
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/mounts/auth/token/tune",
            root,
            Some(json!({"default_lease_ttl": "1h"}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(&s, "GET", "sys/auth/token/tune", root, None)
            .await
            .body["data"]["default_lease_ttl"],
        3600
    );
    // Token creation follows the tuned default.
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["default"]})),
    )
    .await;
    assert_eq!(r.body["auth"]["lease_duration"], 3600);

    // UI mounts: nothing without a token, everything for root, only
    // reachable mounts for a restricted token.
    let u = call(&s, "GET", "sys/internal/ui/mounts", None, None).await;
    assert_eq!(u.body["data"], json!({"auth": {}, "secret": {}}));
    let u = call(&s, "GET", "sys/internal/ui/mounts", root, None).await;
    assert!(u.body["data"]["secret"].get("secret/").is_some());
    let u = call(
        &s,
        "GET",
        "sys/internal/ui/mounts/secret/deep/path",
        root,
        None,
    )
    .await;
    assert_eq!(u.body["data"]["path"], "secret/");
    assert_eq!(u.body["data"]["options"]["version"], "2");
    let u = call(&s, "GET", "sys/internal/ui/mounts/secret", None, None).await;
    assert_eq!(u.status, 403);
    let u = call(&s, "GET", "sys/internal/ui/mounts/nonexistent", root, None).await;
    assert_eq!(u.status, 403);
    call(
        &s,
        "PUT",
        "sys/policies/acl/ro",
        root,
        Some(json!({"policy": "path \"secret/data/x\" { capabilities = [\"read\"] }"})),
    )
    .await;
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["ro"]})),
    )
    .await;
    let t = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    call(
        &s,
        "POST",
        "sys/mounts/hidden",
        root,
        Some(json!({"type": "kv"})),
    )
    .await;
    let u = call(&s, "GET", "sys/internal/ui/mounts", Some(&t), None).await;
    assert!(u.body["data"]["secret"].get("secret/").is_some());
    assert!(u.body["data"]["secret"].get("hidden/").is_none());
    assert_eq!(
        call(&s, "GET", "sys/internal/ui/mounts/secret", Some(&t), None)
            .await
            .status,
        200
    );
    s.stop().await;
}

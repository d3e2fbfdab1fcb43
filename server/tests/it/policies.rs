//! ACL policies over HTTP: CRUD in both API shapes, enforcement (default
//! deny, globs, `+`, deny wins, create vs update, sudo), and the
//! capabilities endpoints.

use serde_json::json;

use crate::common::{TestServer, call};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_crud_in_both_shapes() {
    let s = TestServer::dev().await;
    let root = Some("root");
    let text = "path \"secret/*\" { capabilities = [\"read\"] }";

    let l = call(&s, "LIST", "sys/policies/acl", root, None).await;
    assert_eq!(l.body["data"]["keys"], json!(["default", "root"]));
    assert_eq!(
        call(&s, "GET", "sys/policies/acl?list=true", root, None)
            .await
            .body["data"]["keys"],
        json!(["default", "root"])
    );

    assert_eq!(
        call(
            &s,
            "PUT",
            "sys/policies/acl/P1",
            root,
            Some(json!({"policy": text}))
        )
        .await
        .status,
        204
    );
    let r = call(&s, "GET", "sys/policies/acl/p1", root, None).await;
    assert_eq!(r.body["data"]["name"], "p1");
    assert_eq!(r.body["data"]["policy"], text);
    assert_eq!(r.body["data"]["version"], 1);
    let l = call(&s, "LIST", "sys/policies/acl", root, None).await;
    assert_eq!(l.body["data"]["keys"], json!(["default", "p1", "root"]));

    // The legacy endpoint: rules, top-level fields, deprecation warning.
    let r = call(
        &s,
        "PUT",
        "sys/policy/p2",
        root,
        Some(json!({"rules": text})),
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["warnings"],
        json!(["'rules' is deprecated, please use 'policy' instead"])
    );
    let r = call(&s, "GET", "sys/policy/p2", root, None).await;
    assert_eq!(r.body["rules"], text);
    assert_eq!(r.body["data"]["rules"], text);
    let r = call(&s, "GET", "sys/policy", root, None).await;
    assert_eq!(r.body["policies"], json!(["default", "p1", "p2", "root"]));
    let r = call(&s, "GET", "sys/policy/root", root, None).await;
    assert_eq!(r.body["data"]["rules"], "");

    // Base64 bodies and JSON policies are accepted.
    let b64 = "cGF0aCAic2VjcmV0LyoiIHsgY2FwYWJpbGl0aWVzID0gWyJyZWFkIl0gfQ==";
    assert_eq!(
        call(
            &s,
            "PUT",
            "sys/policies/acl/b64",
            root,
            Some(json!({"policy": b64}))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        call(&s, "GET", "sys/policies/acl/b64", root, None)
            .await
            .body["data"]["policy"],
        text
    );
    let j = "{\"path\": {\"secret/*\": {\"capabilities\": [\"read\", \"list\"]}}}";
    assert_eq!(
        call(
            &s,
            "PUT",
            "sys/policies/acl/j",
            root,
            Some(json!({"policy": j}))
        )
        .await
        .status,
        204
    );

    // Bad policies: 400, nothing stored.
    for bad in [
        "path \"secret/*\" { capabilities = [\"read\"] ",
        "path \"secret/*\" { capabilities = [\"fly\"] }",
        "path \"secret/*\" { capabilities = [\"read\"]\n  colour = \"blue\" }",
        "foo \"bar\" { }",
        "this is not hcl",
    ] {
        let r = call(
            &s,
            "PUT",
            "sys/policies/acl/bad",
            root,
            Some(json!({"policy": bad})),
        )
        .await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(
            r.errors()[0].starts_with("failed to parse policy"),
            "{:?}",
            r.errors()
        );
    }
    let r = call(
        &s,
        "PUT",
        "sys/policies/acl/bad",
        root,
        Some(json!({"policy": "path \"x\" {\n  colour = 1\n}"})),
    )
    .await;
    assert!(r.errors()[0].contains("line 2"), "{:?}", r.errors());
    assert_eq!(
        call(&s, "GET", "sys/policies/acl/bad", root, None)
            .await
            .status,
        404
    );
    let r = call(&s, "PUT", "sys/policies/acl/bad", root, Some(json!({}))).await;
    assert_eq!(
        r.errors(),
        vec!["'policy' parameter not supplied or empty".to_string()]
    );

    // root and default are protected.
    let r = call(
        &s,
        "PUT",
        "sys/policies/acl/root",
        root,
        Some(json!({"policy": text})),
    )
    .await;
    assert_eq!(
        r.errors(),
        vec!["cannot update \"root\" policy".to_string()]
    );
    let r = call(&s, "DELETE", "sys/policies/acl/root", root, None).await;
    assert_eq!(
        r.errors(),
        vec!["cannot delete \"root\" policy".to_string()]
    );
    let r = call(&s, "DELETE", "sys/policies/acl/default", root, None).await;
    assert_eq!(r.errors(), vec!["cannot delete default policy".to_string()]);

    assert_eq!(
        call(&s, "DELETE", "sys/policies/acl/p1", root, None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&s, "DELETE", "sys/policies/acl/p1", root, None)
            .await
            .status,
        204
    );
    assert_eq!(
        call(&s, "GET", "sys/policies/acl/p1", root, None)
            .await
            .status,
        404
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_enforcement_and_capabilities() {
    let s = TestServer::dev().await;
    let root = Some("root");
    let policy = r#"
path "secret/data/app/*" { capabilities = ["read", "create"] }
path "secret/data/app/locked" { capabilities = ["deny"] }
path "secret/data/+/shared" { capabilities = ["read"] }
path "sys/rotate" { capabilities = ["update"] }
path "sys/key-status" { capabilities = ["read", "sudo"] }
"#;
    call(
        &s,
        "PUT",
        "sys/policies/acl/app",
        root,
        Some(json!({"policy": policy})),
    )
    .await;
    call(
        &s,
        "PUT",
        "sys/policies/acl/deny-all",
        root,
        Some(json!({"policy": "path \"secret/data/app/secret2\" { capabilities = [\"deny\"] }"})),
    )
    .await;
    for p in [
        "app/a",
        "app/locked",
        "team/shared",
        "app/secret2",
        "other/x",
    ] {
        let r = call(
            &s,
            "POST",
            &format!("secret/data/{p}"),
            root,
            Some(json!({"data": {"v": 1}})),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.raw);
    }
    let r = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["app", "deny-all"]})),
    )
    .await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());

    assert_eq!(
        call(&s, "GET", "secret/data/app/a", t, None).await.status,
        200
    );
    assert_eq!(
        call(&s, "GET", "secret/data/app/deep/er", t, None)
            .await
            .status,
        404,
        "allowed, just missing"
    );
    let r = call(&s, "GET", "secret/data/app/locked", t, None).await;
    assert_eq!(
        (r.status, r.errors()),
        (
            403,
            vec!["1 error occurred:\n\t* permission denied\n\n".to_string()]
        )
    );
    assert_eq!(
        call(&s, "GET", "secret/data/app/secret2", t, None)
            .await
            .status,
        403,
        "deny in another policy wins"
    );
    assert_eq!(
        call(&s, "GET", "secret/data/team/shared", t, None)
            .await
            .status,
        200
    );
    assert_eq!(
        call(&s, "GET", "secret/data/other/x", t, None).await.status,
        403,
        "default deny"
    );
    // create is allowed, update is not: a new key can be written, an existing one cannot.
    assert_eq!(
        call(
            &s,
            "POST",
            "secret/data/app/new",
            t,
            Some(json!({"data": {"v": 1}}))
        )
        .await
        .status,
        200
    );
    assert_eq!(
        call(
            &s,
            "POST",
            "secret/data/app/a",
            t,
            Some(json!({"data": {"v": 2}}))
        )
        .await
        .status,
        403
    );
    // sys/rotate is root-protected: update without sudo is not enough.
    assert_eq!(call(&s, "PUT", "sys/rotate", t, None).await.status, 403);
    assert_eq!(call(&s, "GET", "sys/key-status", t, None).await.status, 200);
    assert_eq!(call(&s, "GET", "sys/mounts", t, None).await.status, 403);

    // capabilities-self, capabilities (by token), capabilities-accessor.
    let r = call(&s, "POST", "sys/capabilities-self", t, Some(json!({"paths": ["secret/data/app/x", "secret/data/app/locked", "sys/mounts", "auth/token/lookup-self"]}))).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body["data"]["secret/data/app/x"],
        json!(["create", "read"])
    );
    assert_eq!(r.body["data"]["secret/data/app/locked"], json!(["deny"]));
    assert_eq!(r.body["data"]["sys/mounts"], json!(["deny"]));
    assert_eq!(r.body["data"]["auth/token/lookup-self"], json!(["read"]));
    let r = call(
        &s,
        "POST",
        "sys/capabilities-self",
        root,
        Some(json!({"path": "secret/foo"})),
    )
    .await;
    assert_eq!(r.body["capabilities"], json!(["root"]));
    let r = call(
        &s,
        "POST",
        "sys/capabilities",
        root,
        Some(json!({"token": token, "path": "secret/data/team/shared"})),
    )
    .await;
    assert_eq!(r.body["data"]["capabilities"], json!(["read"]));
    let acc = call(&s, "GET", "auth/token/lookup-self", t, None)
        .await
        .body["data"]["accessor"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = call(
        &s,
        "POST",
        "sys/capabilities-accessor",
        root,
        Some(json!({"accessor": acc, "paths": ["sys/rotate"]})),
    )
    .await;
    assert_eq!(r.body["data"]["sys/rotate"], json!(["update"]));
    let r = call(
        &s,
        "POST",
        "sys/capabilities",
        root,
        Some(json!({"token": token})),
    )
    .await;
    assert_eq!(r.errors(), vec!["paths must be supplied".to_string()]);
    assert_eq!(
        call(
            &s,
            "POST",
            "sys/capabilities",
            t,
            Some(json!({"token": token, "path": "x"}))
        )
        .await
        .status,
        403
    );

    // Policy changes apply at once to existing tokens.
    call(
        &s,
        "PUT",
        "sys/policies/acl/app",
        root,
        Some(json!({"policy": "path \"secret/data/other/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!(
        call(&s, "GET", "secret/data/other/x", t, None).await.status,
        200
    );
    assert_eq!(
        call(&s, "GET", "secret/data/app/a", t, None).await.status,
        403
    );
    s.stop().await;
}

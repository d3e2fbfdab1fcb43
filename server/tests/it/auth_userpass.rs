//! userpass and the identity store: users, logins (HTTP and the real
//! `bao login -method=userpass`), what the token can and cannot do, TTL
//! and renewal limits, CIDR bounds, and the entity and alias each login
//! resolves to, with policies attached to the entity.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, bao, call};

async fn setup(s: &TestServer) {
    let root = Some("root");
    let r = call(
        s,
        "POST",
        "sys/auth/userpass",
        root,
        Some(json!({"type": "userpass"})),
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
    assert_eq!(p.status, 204);
    let w = call(
        s,
        "POST",
        "secret/data/app/db",
        root,
        Some(json!({"data": {"password": "db-pass-1"}})),
    )
    .await;
    assert_eq!(w.status, 200);
    let w = call(
        s,
        "POST",
        "secret/data/other/x",
        root,
        Some(json!({"data": {"v": "no"}})),
    )
    .await;
    assert_eq!(w.status, 200);
}

async fn login(s: &TestServer, user: &str, password: &str) -> crate::common::Answer {
    call(
        s,
        "POST",
        &format!("auth/userpass/login/{user}"),
        None,
        Some(json!({"password": password})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_logins_and_what_the_token_may_do() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let root = Some("root");
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/Alice",
        root,
        Some(
            json!({"password": "correct horse", "token_policies": "app-read",
                     "token_ttl": "1h", "token_max_ttl": "2h"}),
        ),
    )
    .await;
    assert_eq!(u.status, 204, "{}", u.raw);
    let r = call(&s, "GET", "auth/userpass/users/alice", root, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["token_policies"], json!(["app-read"]));
    assert_eq!(r.body["data"]["token_ttl"], 3600);
    assert!(!r.raw.contains("correct horse"));
    assert!(r.body["data"].get("password").is_none());
    let l = call(&s, "LIST", "auth/userpass/users", root, None).await;
    assert_eq!(l.body["data"]["keys"], json!(["alice"]));

    // The login's auth block, in Vault's shape.
    let a = login(&s, "alice", "correct horse").await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let auth = &a.body["auth"];
    assert_eq!(auth["policies"], json!(["app-read", "default"]));
    assert_eq!(auth["token_policies"], json!(["app-read", "default"]));
    assert_eq!(auth["metadata"], json!({"username": "alice"}));
    assert_eq!(auth["lease_duration"], 3600);
    assert_eq!(auth["renewable"], true);
    assert_eq!(auth["orphan"], true);
    assert_eq!(auth["token_type"], "service");
    let entity_id = auth["entity_id"].as_str().unwrap().to_owned();
    assert_eq!(entity_id.len(), 36);
    let token = auth["client_token"].as_str().unwrap().to_owned();

    // What the policy allows, and what it does not.
    let ok = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(ok.body["data"]["data"]["password"], "db-pass-1");
    let no = call(&s, "GET", "secret/data/other/x", Some(&token), None).await;
    assert_eq!(no.status, 403);
    let look = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(look.body["data"]["display_name"], "userpass-alice");
    assert_eq!(look.body["data"]["path"], "auth/userpass/login/alice");
    assert_eq!(look.body["data"]["entity_id"], entity_id.as_str());

    // Renewal stops at the user's max TTL (2h).
    s.advance(Duration::from_secs(3000));
    let rn = call(
        &s,
        "POST",
        "auth/token/renew-self",
        Some(&token),
        Some(json!({"increment": "10h"})),
    )
    .await;
    assert_eq!(rn.status, 200, "{}", rn.raw);
    let granted = rn.body["auth"]["lease_duration"].as_u64().unwrap();
    assert!(
        (4190..=4200).contains(&granted),
        "capped at 2h from issue: {granted}"
    );
    s.advance(Duration::from_secs(4201));
    let gone = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    assert_eq!(gone.status, 403, "expired at the max TTL");

    // Wrong password, unknown user, missing password: one message, no token.
    for (user, pw) in [("alice", "wrong"), ("nobody", "correct horse")] {
        let bad = login(&s, user, pw).await;
        assert_eq!(bad.status, 400);
        assert_eq!(bad.errors(), ["invalid username or password"]);
        assert!(bad.body.get("auth").is_none());
    }
    let bad = call(
        &s,
        "POST",
        "auth/userpass/login/alice",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let bad = call(
        &s,
        "POST",
        "auth/userpass/login/alice",
        None,
        Some(json!({"password": ["not", "a", "string"]})),
    )
    .await;
    assert_eq!(bad.status, 400, "{}", bad.raw);
    let bad = call(
        &s,
        "POST",
        "auth/userpass/users/bob",
        root,
        Some(json!({"password": "x", "token_ttl": "soon"})),
    )
    .await;
    assert_eq!(bad.status, 400);
    let none = call(&s, "GET", "auth/userpass/users/bob", root, None).await;
    assert_eq!(none.status, 404, "a failed create leaves nothing");

    // Password change: the old one stops working.
    let pw = call(
        &s,
        "POST",
        "auth/userpass/users/alice/password",
        root,
        Some(json!({"password": "battery staple"})),
    )
    .await;
    assert_eq!(pw.status, 204);
    assert_eq!(login(&s, "alice", "correct horse").await.status, 400);
    assert_eq!(login(&s, "alice", "battery staple").await.status, 200);

    // A user may change their own password once a policy lets them.
    let p = call(
        &s,
        "PUT",
        "sys/policies/acl/self-pw",
        root,
        Some(json!({"policy": "path \"auth/userpass/users/alice/password\" { capabilities = [\"update\"] }"})),
    )
    .await;
    assert_eq!(p.status, 204);
    let pol = call(
        &s,
        "POST",
        "auth/userpass/users/alice/policies",
        root,
        Some(json!({"token_policies": ["app-read", "self-pw"]})),
    )
    .await;
    assert_eq!(pol.status, 204);
    let t = login(&s, "alice", "battery staple").await;
    let t = t.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let own = call(
        &s,
        "POST",
        "auth/userpass/users/alice/password",
        Some(&t),
        Some(json!({"password": "third one"})),
    )
    .await;
    assert_eq!(own.status, 204);
    assert_eq!(login(&s, "alice", "third one").await.status, 200);
    let other = call(
        &s,
        "POST",
        "auth/userpass/users/alice",
        Some(&t),
        Some(json!({"token_policies": "root"})),
    )
    .await;
    assert_eq!(other.status, 403);

    // token_type=batch: the login hands out a batch token.
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/batchy",
        root,
        Some(json!({"password": "pw", "token_policies": "app-read", "token_type": "batch"})),
    )
    .await;
    assert_eq!(u.status, 204, "{}", u.raw);
    let b = login(&s, "batchy", "pw").await;
    assert_eq!(b.status, 200, "{}", b.raw);
    assert_eq!(b.body["auth"]["token_type"], "batch");
    assert_eq!(b.body["auth"]["accessor"], "");
    assert_eq!(b.body["auth"]["renewable"], false);
    let bt = b.body["auth"]["client_token"].as_str().unwrap();
    assert!(bt.starts_with("b."));
    let ok = call(&s, "GET", "secret/data/app/db", Some(bt), None).await;
    assert_eq!(ok.status, 200);
    let no = call(&s, "GET", "secret/data/other/x", Some(bt), None).await;
    assert_eq!(no.status, 403);

    // Deleted: no more logins.
    let d = call(&s, "DELETE", "auth/userpass/users/alice", root, None).await;
    assert_eq!(d.status, 204);
    assert_eq!(login(&s, "alice", "third one").await.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cidr_bounds_and_entity_policies() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let root = Some("root");
    for (name, cidrs) in [("local", "127.0.0.0/8"), ("remote", "10.0.0.0/8")] {
        let u = call(
            &s,
            "POST",
            &format!("auth/userpass/users/{name}"),
            root,
            Some(json!({"password": "pw", "token_bound_cidrs": cidrs})),
        )
        .await;
        assert_eq!(u.status, 204, "{}", u.raw);
    }
    let ok = login(&s, "local", "pw").await;
    assert_eq!(ok.status, 200);
    let bad = login(&s, "remote", "pw").await;
    assert_eq!(bad.status, 403, "login from outside token_bound_cidrs");
    let bad = call(
        &s,
        "POST",
        "auth/userpass/users/x",
        root,
        Some(json!({"password": "pw", "token_bound_cidrs": "300.1.1.1/8"})),
    )
    .await;
    assert_eq!(bad.status, 400);

    // The entity: one per alias, reused across logins, listed and
    // looked up.
    let first = login(&s, "local", "pw").await;
    let second = login(&s, "local", "pw").await;
    let eid = first.body["auth"]["entity_id"].as_str().unwrap().to_owned();
    assert_eq!(second.body["auth"]["entity_id"], eid.as_str());
    let e = call(&s, "GET", &format!("identity/entity/id/{eid}"), root, None).await;
    assert_eq!(e.status, 200, "{}", e.raw);
    let alias = &e.body["data"]["aliases"][0];
    assert_eq!(alias["name"], "local");
    assert_eq!(alias["mount_type"], "userpass");
    assert_eq!(alias["mount_path"], "auth/userpass/");
    let auths = call(&s, "GET", "sys/auth", root, None).await;
    assert_eq!(
        alias["mount_accessor"],
        auths.body["data"]["userpass/"]["accessor"]
    );
    let list = call(&s, "LIST", "identity/entity/id", root, None).await;
    assert!(
        list.body["data"]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!(eid))
    );
    let alias_id = alias["id"].as_str().unwrap().to_owned();
    let al = call(
        &s,
        "GET",
        &format!("identity/entity-alias/id/{alias_id}"),
        root,
        None,
    )
    .await;
    assert_eq!(al.body["data"]["canonical_id"], eid.as_str());
    let lk = call(
        &s,
        "POST",
        "identity/lookup/entity",
        root,
        Some(json!({"alias_name": "local",
                     "alias_mount_accessor": alias["mount_accessor"]})),
    )
    .await;
    assert_eq!(lk.body["data"]["id"], eid.as_str());
    let lk = call(&s, "POST", "identity/lookup/entity", root, Some(json!({}))).await;
    assert_eq!(lk.status, 400);
    let lk = call(
        &s,
        "POST",
        "identity/lookup/entity",
        root,
        Some(json!({"name": "no-such-entity"})),
    )
    .await;
    assert_eq!(lk.status, 204);

    // Policies attached to the entity apply to its existing tokens.
    let token = first.body["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let no = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(no.status, 403);
    let up = call(
        &s,
        "POST",
        &format!("identity/entity/id/{eid}"),
        root,
        Some(json!({"policies": ["app-read"], "metadata": {"team": "payments"}})),
    )
    .await;
    assert_eq!(up.status, 204, "{}", up.raw);
    let yes = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(yes.status, 200);
    let again = login(&s, "local", "pw").await;
    assert_eq!(again.body["auth"]["identity_policies"], json!(["app-read"]));
    assert_eq!(
        again.body["auth"]["policies"],
        json!(["app-read", "default"])
    );
    assert_eq!(again.body["auth"]["token_policies"], json!(["default"]));
    // Disabled entity: no login, and its policies stop applying.
    let dis = call(
        &s,
        "POST",
        &format!("identity/entity/id/{eid}"),
        root,
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(dis.status, 204);
    assert_eq!(login(&s, "local", "pw").await.status, 403);
    let no = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(no.status, 403);

    // Entities made by hand, by name.
    let c = call(
        &s,
        "POST",
        "identity/entity",
        root,
        Some(json!({"name": "ops", "policies": ["p1"]})),
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.raw);
    assert_eq!(c.body["data"]["name"], "ops");
    assert_eq!(c.body["data"]["aliases"], Value::Null);
    let by_name = call(&s, "GET", "identity/entity/name/ops", root, None).await;
    assert_eq!(by_name.body["data"]["policies"], json!(["p1"]));
    let names = call(&s, "LIST", "identity/entity/name", root, None).await;
    assert!(
        names.body["data"]["keys"]
            .as_array()
            .unwrap()
            .contains(&json!("ops"))
    );
    let bad = call(
        &s,
        "POST",
        "identity/entity-alias",
        root,
        Some(json!({"name": "x", "canonical_id": c.body["data"]["id"], "mount_accessor": "nope"})),
    )
    .await;
    assert_eq!(bad.errors(), ["invalid mount accessor \"nope\""]);
    let d = call(&s, "DELETE", "identity/entity/name/ops", root, None).await;
    assert_eq!(d.status, 204);
    let gone = call(&s, "GET", "identity/entity/name/ops", root, None).await;
    assert_eq!(gone.status, 404);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bao_login_method_userpass() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let (code, _, err) = bao(
        &addr,
        Some("root"),
        home.path(),
        &[
            "write",
            "auth/userpass/users/carol",
            "password=s3cret-pw",
            "token_policies=app-read",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "login",
            "-method=userpass",
            "-format=json",
            "username=carol",
            "password=s3cret-pw",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["auth"]["policies"], json!(["app-read", "default"]));
    // The CLI stored the token in its helper file: the next commands use it.
    let (code, out, err) = bao(
        &addr,
        None,
        home.path(),
        &["kv", "get", "-field=password", "secret/app/db"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "db-pass-1");
    let (code, _, err) = bao(&addr, None, home.path(), &["kv", "get", "secret/other/x"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("permission denied"), "{err}");
    let (code, _, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "login",
            "-method=userpass",
            "username=carol",
            "password=wrong",
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("invalid username or password"), "{err}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewal_follows_the_user_as_it_is_now() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let root = Some("root");
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/renewer",
        root,
        Some(json!({"password": "pw", "token_ttl": "1h", "token_max_ttl": "3h"})),
    )
    .await;
    assert_eq!(u.status, 204);
    let t = login(&s, "renewer", "pw").await;
    let token = t.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let renew = || {
        call(
            &s,
            "POST",
            "auth/token/renew-self",
            Some(&token),
            Some(json!({})),
        )
    };
    assert_eq!(renew().await.body["auth"]["lease_duration"], 3600);
    // The user's settings change: the next renewal follows them.
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/renewer",
        root,
        Some(json!({"token_ttl": "30m", "token_max_ttl": "2h"})),
    )
    .await;
    assert_eq!(u.status, 204);
    assert_eq!(renew().await.body["auth"]["lease_duration"], 1800);
    for _ in 0..3 {
        s.advance(Duration::from_secs(1700));
        assert_eq!(renew().await.body["auth"]["lease_duration"], 1800);
    }
    s.advance(Duration::from_secs(900));
    let capped = renew().await;
    let left = capped.body["auth"]["lease_duration"].as_u64().unwrap();
    assert!((1190..=1200).contains(&left), "2h max from issue: {left}");
    // The user is gone: no renewal.
    let d = call(&s, "DELETE", "auth/userpass/users/renewer", root, None).await;
    assert_eq!(d.status, 204);
    let r = renew().await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert_eq!(r.errors(), ["user no longer exists"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_the_method_revokes_its_tokens_and_aliases() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let root = Some("root");
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/gone",
        root,
        Some(json!({"password": "pw"})),
    )
    .await;
    assert_eq!(u.status, 204);
    let t = login(&s, "gone", "pw").await;
    let token = t.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let eid = t.body["auth"]["entity_id"].as_str().unwrap().to_owned();
    // A token from elsewhere is not touched.
    let other = call(
        &s,
        "POST",
        "auth/token/create",
        root,
        Some(json!({"policies": ["default"]})),
    )
    .await;
    let other = other.body["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_owned();
    async fn look(s: &TestServer, t: &str) -> u16 {
        call(s, "GET", "auth/token/lookup-self", Some(t), None)
            .await
            .status
    }
    assert_eq!(look(&s, &token).await, 200);
    let d = call(&s, "DELETE", "sys/auth/userpass", root, None).await;
    assert_eq!(d.status, 204);
    assert_eq!(look(&s, &token).await, 403, "revoked with its method");
    assert_eq!(look(&s, &other).await, 200);
    let e = call(&s, "GET", &format!("identity/entity/id/{eid}"), root, None).await;
    assert_eq!(e.status, 200);
    assert_eq!(
        e.body["data"]["aliases"],
        json!([]),
        "its alias went with the method"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arca_login_method_userpass() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let u = call(
        &s,
        "POST",
        "auth/userpass/users/dave",
        Some("root"),
        Some(json!({"password": "pw-dave", "token_policies": "app-read"})),
    )
    .await;
    assert_eq!(u.status, 204);
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let home_s = home.path().to_str().unwrap().to_owned();
    let run = |args: Vec<&str>, stdin: &'static [u8]| {
        let env = [("ARCA_ADDR", addr.as_str()), ("HOME", home_s.as_str())];
        let mut io = arca_cli::Io::memory(&env, stdin);
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        async move {
            let code = arca_cli::execute(args, &mut io).await;
            (code, io.stdout_text(), io.stderr_text())
        }
    };
    let (code, out, err) = run(
        vec![
            "login",
            "-method=userpass",
            "username=dave",
            "password=pw-dave",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("Success! You are now authenticated."),
        "{out}"
    );
    assert!(out.contains("token_meta_username    dave"), "{out}");
    assert!(
        out.contains("policies               [\"app-read\" \"default\"]"),
        "{out}"
    );
    // The token is in the helper file; the next command uses it.
    let stored = std::fs::read_to_string(home.path().join(".vault-token")).unwrap();
    assert!(stored.starts_with("s."));
    let (code, out, err) = run(vec!["kv", "get", "-field=password", "secret/app/db"], b"").await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "db-pass-1");
    // The password from standard input.
    let (code, _, err) = run(
        vec!["login", "-method=userpass", "-no-store", "username=dave"],
        b"pw-dave\n",
    )
    .await;
    assert_eq!(code, 0, "{err}");
    // Wrong password, missing username, unknown method.
    let (code, _, err) = run(
        vec!["login", "-method=userpass", "username=dave", "password=no"],
        b"",
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("invalid username or password"), "{err}");
    let (code, _, err) = run(vec!["login", "-method=userpass", "password=x"], b"").await;
    assert_eq!(code, 1);
    assert!(err.contains("'username' must be specified"), "{err}");
    let (code, _, _) = run(vec!["login", "-method=carrier-pigeon"], b"").await;
    assert_eq!(code, 1);
    s.stop().await;
}

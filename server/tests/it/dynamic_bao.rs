//! The issue's `bao` flows for dynamic secrets, with the real CLI against
//! Arca and the real PostgreSQL behind it: `bao read database/creds/app`
//! mints a user that logs in, `bao lease lookup` and `bao lease renew`
//! move its expiry (in PostgreSQL too), `bao lease revoke -prefix` drops
//! every user under the prefix.

use serde_json::Value;

use crate::common::{TestServer, bao};
use crate::database::{login, valid_until};

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bao_reads_renews_and_revokes_database_credentials() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let (addr, h, root) = (s.url(), home.path(), Some("root"));
    let run = |args: &'static [&'static str]| {
        let addr = addr.clone();
        async move {
            let (code, out, err) = bao(&addr, root, h, args).await;
            assert_eq!(code, 0, "bao {args:?}: {err}");
            out
        }
    };
    run(&["secrets", "enable", "database"]).await;
    run(&[
        "write",
        "database/config/pg",
        "plugin_name=postgresql-database-plugin",
        "connection_url=postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
        "username=arca_test_admin",
        "password=arca-test-admin",
        "allowed_roles=app",
    ])
    .await;
    run(&[
        "write",
        "database/roles/app",
        "db_name=pg",
        "creation_statements=CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';",
        "default_ttl=1h",
        "max_ttl=24h",
    ])
    .await;

    let mut users = Vec::new();
    let mut first_lease = String::new();
    for _ in 0..2 {
        let out = run(&["read", "-format=json", "database/creds/app"]).await;
        let creds = json(&out);
        assert_eq!(creds["lease_duration"], 3600);
        let user = creds["data"]["username"].as_str().unwrap().to_owned();
        let password = creds["data"]["password"].as_str().unwrap().to_owned();
        login(&user, &password).await.unwrap();
        if first_lease.is_empty() {
            first_lease = creds["lease_id"].as_str().unwrap().to_owned();
        }
        users.push((user, password));
    }

    // lookup, then renew by 2h: the lease and PostgreSQL's VALID UNTIL move.
    let (code, out, err) = bao(
        &addr,
        root,
        h,
        &["lease", "lookup", "-format=json", &first_lease],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let looked = json(&out);
    assert_eq!(looked["data"]["id"], first_lease.as_str());
    assert_eq!(looked["data"]["renewable"], true);
    let before = valid_until(&users[0].0).await.unwrap();
    let (code, out, err) = bao(
        &addr,
        root,
        h,
        &[
            "lease",
            "renew",
            "-format=json",
            "-increment=2h",
            &first_lease,
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json(&out)["lease_duration"], 7200);
    let after = valid_until(&users[0].0).await.unwrap();
    assert!(
        after >= before + 3600 - 5,
        "VALID UNTIL did not move: {before} -> {after}"
    );

    // revoke -prefix: both users are dropped.
    let (code, out, err) = bao(
        &addr,
        root,
        h,
        &["lease", "revoke", "-prefix", "database/creds/app"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("All revocation operations queued successfully!"),
        "{out}"
    );
    for (user, password) in &users {
        assert_eq!(
            valid_until(user).await,
            None,
            "{user} outlived revoke -prefix"
        );
        assert!(login(user, password).await.is_err());
    }
    // The lease is gone too.
    let (code, _, err) = bao(&addr, root, h, &["lease", "lookup", &first_lease]).await;
    assert_ne!(code, 0);
    assert!(err.contains("invalid lease"), "{err}");
    s.stop().await;
}

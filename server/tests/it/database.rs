//! The `database` engine against a real PostgreSQL (started by
//! `scripts/services`, with the superuser `arca_test_admin`): every test
//! is a login with the credentials Arca minted. After revoke, after
//! expiry, after the token that made them is revoked, the login fails;
//! renewal moves the database-side expiry; bad SQL leaves no user behind;
//! a revocation that fails while the database is unreachable is retried,
//! across a restart, until the user is gone.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arca_server::clock::Clock;
use arca_server::storage::DynBackend;
use arca_server::storage::file::FileBackend;
use serde_json::{Value, json};

use crate::common::{TestServer, call};

const ADMIN: &str = "arca_test_admin";
const ADMIN_PASSWORD: &str = "arca-test-admin";
const URL: &str = "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable";
const CREATE: &str = "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}'; GRANT pg_read_all_data TO \"{{name}}\";";

/// A connection as `user`, or why not.
pub(crate) async fn login(user: &str, password: &str) -> Result<tokio_postgres::Client, String> {
    let conn = format!(
        "host=127.0.0.1 port=5432 dbname=postgres user={user} password={password} connect_timeout=5"
    );
    match tokio_postgres::connect(&conn, tokio_postgres::NoTls).await {
        Ok((client, connection)) => {
            tokio::spawn(connection);
            Ok(client)
        }
        Err(e) => Err(e.to_string()),
    }
}

async fn admin() -> tokio_postgres::Client {
    login(ADMIN, ADMIN_PASSWORD)
        .await
        .expect("PostgreSQL with role arca_test_admin (scripts/services sets it up)")
}

/// `rolvaliduntil` of `user` as Unix seconds; None if there is no such role.
pub(crate) async fn valid_until(user: &str) -> Option<i64> {
    let row = admin()
        .await
        .query_opt(
            "SELECT extract(epoch FROM rolvaliduntil)::bigint FROM pg_roles WHERE rolname = $1",
            &[&user],
        )
        .await
        .unwrap()?;
    Some(row.get::<_, Option<i64>>(0).unwrap_or(0))
}

async fn post(s: &TestServer, path: &str, body: Value) -> crate::common::Answer {
    call(s, "POST", path, Some("root"), Some(body)).await
}

/// Enables `database/` with a connection `pg` and a role `app`.
async fn setup(s: &TestServer) {
    let r = post(s, "sys/mounts/database", json!({"type": "database"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let config = json!({"plugin_name": "postgresql-database-plugin", "connection_url": URL,
                        "username": ADMIN, "password": ADMIN_PASSWORD, "allowed_roles": "*"});
    let r = post(s, "database/config/pg", config).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let role = json!({"db_name": "pg", "creation_statements": CREATE,
                      "default_ttl": "1h", "max_ttl": "24h"});
    assert_eq!(post(s, "database/roles/app", role).await.status, 204);
}

/// `database/creds/app`: (lease id, username, password).
async fn creds(s: &TestServer, token: &str) -> (String, String, String) {
    let r = call(s, "GET", "database/creds/app", Some(token), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let d = &r.body["data"];
    (
        r.body["lease_id"].as_str().unwrap().to_owned(),
        d["username"].as_str().unwrap().to_owned(),
        d["password"].as_str().unwrap().to_owned(),
    )
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_credentials_log_in_until_revoked() {
    let s = TestServer::dev().await;
    setup(&s).await;

    // The config reads back without its password.
    let r = call(&s, "GET", "database/config/pg", Some("root"), None).await;
    assert_eq!(
        r.body["data"]["connection_details"],
        json!({"connection_url": URL, "username": ADMIN})
    );
    assert!(!r.raw.contains(ADMIN_PASSWORD));
    let r = call(&s, "GET", "database/roles/app", Some("root"), None).await;
    assert_eq!(r.body["data"]["default_ttl"], 3600);
    assert_eq!(r.body["data"]["credential_type"], "password");

    let r = call(&s, "GET", "database/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_duration"], 3600);
    assert_eq!(r.body["renewable"], true);
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    assert!(lease.starts_with("database/creds/app/"), "{lease}");
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    assert!(user.starts_with("v-token-app-"), "{user}");

    // The user logs in, and can do what the role granted.
    let c = login(&user, &password).await.unwrap();
    let who: String = c
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(who, user);
    c.query_one("SELECT count(*) FROM pg_catalog.pg_class", &[])
        .await
        .unwrap();
    assert!(
        c.simple_query("CREATE TABLE arca_should_not_exist (x int)")
            .await
            .is_err()
    );
    let until = valid_until(&user).await.unwrap();
    assert!((until - (now() + 3600)).abs() < 60, "VALID UNTIL {until}");

    // Renewal moves the expiry in the database.
    let r = post(
        &s,
        "sys/leases/renew",
        json!({"lease_id": lease, "increment": "2h"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_duration"], 7200);
    let until = valid_until(&user).await.unwrap();
    assert!((until - (now() + 7200)).abs() < 60, "VALID UNTIL {until}");

    // Revoked: the user is gone and cannot log in.
    assert_eq!(
        post(&s, "sys/leases/revoke", json!({"lease_id": lease}))
            .await
            .status,
        204
    );
    assert_eq!(valid_until(&user).await, None);
    assert!(login(&user, &password).await.is_err());

    // The CLI reads credentials as it reads anything.
    let home = tempfile::tempdir().unwrap();
    let (code, out, err) = crate::common::bao(
        &s.url(),
        Some("root"),
        home.path(),
        &["read", "-format=json", "database/creds/app"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let user = v["data"]["username"].as_str().unwrap();
    login(user, v["data"]["password"].as_str().unwrap())
        .await
        .unwrap();
    let (code, _, err) = crate::common::bao(
        &s.url(),
        Some("root"),
        home.path(),
        &["lease", "revoke", "-prefix", "database/creds/app"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        valid_until(user).await,
        None,
        "revoke -prefix left the user"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_die_on_expiry_and_with_their_token() {
    let s = TestServer::dev().await;
    setup(&s).await;
    // Expiry: once the TTL has passed, the lease is revoked.
    let (_, user, password) = creds(&s, "root").await;
    login(&user, &password).await.unwrap();
    s.advance(Duration::from_secs(3601));
    let mut dropped = false;
    for _ in 0..300 {
        if valid_until(&user).await.is_none() {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dropped, "the user outlived its lease");
    assert!(login(&user, &password).await.is_err());

    // A token's credentials go with it.
    let r = post(&s, "auth/token/create", json!({"ttl": "24h"})).await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let (_, user, password) = creds(&s, &token).await;
    assert!(user.starts_with("v-token-app-"), "{user}");
    login(&user, &password).await.unwrap();
    assert_eq!(
        post(&s, "auth/token/revoke", json!({"token": token}))
            .await
            .status,
        204
    );
    assert_eq!(
        valid_until(&user).await,
        None,
        "the token's user outlived it"
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_sql_fails_and_leaves_no_user() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let count = || async {
        admin()
            .await
            .query_one(
                "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-broken-%'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    let before = count().await;
    // The first statement works, the second does not: the transaction
    // takes the first back.
    let role = json!({"db_name": "pg", "creation_statements": [
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}'",
        "GRANT nonexistent_role_xyz TO \"{{name}}\"",
    ]});
    assert_eq!(post(&s, "database/roles/broken", role).await.status, 204);
    let r = call(&s, "GET", "database/creds/broken", Some("root"), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    let msg = r.errors().join(" ");
    assert!(
        msg.contains("role \"nonexistent_role_xyz\" does not exist"),
        "{msg}"
    );
    assert_eq!(count().await, before, "a half-made user was left");
    // Errors never carry the statement's password.
    let role = json!({"db_name": "pg", "creation_statements":
        "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD {{password}}"});
    assert_eq!(post(&s, "database/roles/broken", role).await.status, 204);
    let r = call(&s, "GET", "database/creds/broken", Some("root"), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    // PostgreSQL names the token it choked on: a piece of the password.
    assert!(
        r.errors()[0].contains(" at or near \"[redacted]\""),
        "{}",
        r.raw
    );
    // Unknown role, role not allowed, bad config.
    let r = call(&s, "GET", "database/creds/nope", Some("root"), None).await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["unknown role: nope".to_owned()])
    );
    let strict = json!({"allowed_roles": "other"});
    assert_eq!(post(&s, "database/config/pg", strict).await.status, 204);
    let r = call(&s, "GET", "database/creds/app", Some("root"), None).await;
    assert_eq!(r.errors(), ["\"app\" is not an allowed role"]);
    let dead = json!({"plugin_name": "postgresql-database-plugin", "username": ADMIN,
                      "password": ADMIN_PASSWORD,
                      "connection_url": URL.replace("5432", "1")});
    let r = post(&s, "database/config/down", dead).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(
        r.errors()[0].starts_with("error creating database object: "),
        "{}",
        r.raw
    );
    assert!(!r.raw.contains(ADMIN_PASSWORD));
    let r = post(
        &s,
        "database/config/x",
        json!({"plugin_name": "nope", "connection_url": "x"}),
    )
    .await;
    assert_eq!(r.status, 400);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_that_fails_is_retried_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Clock::manual(SystemTime::now());
    let backend: DynBackend = Arc::new(FileBackend::open(dir.path()).unwrap());
    let s = TestServer::dev_on(Arc::clone(&backend), clock.clone()).await;
    setup(&s).await;
    let (lease, user, password) = creds(&s, "root").await;
    login(&user, &password).await.unwrap();

    // The database becomes unreachable (the config now points nowhere).
    let away = json!({"connection_url": URL.replace("5432", "1"), "verify_connection": false});
    assert_eq!(post(&s, "database/config/pg", away).await.status, 204);
    let r = post(&s, "sys/leases/revoke", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    let r = post(&s, "sys/leases/lookup", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 200, "the lease was forgotten: {}", r.raw);
    // It expires while the database is away: the revocation fails again
    // and the lease stays.
    s.advance(Duration::from_secs(3601));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(valid_until(&user).await.is_some());
    let r = post(&s, "sys/leases/lookup", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    // sys/metrics shows it: a lease on database/, failed attempts, one
    // lease waiting for a retry.
    let m = metric_lines(&s).await;
    assert!(
        m.contains("vault_expire_leases_by_mount{mount_point=\"database/\"} 1\n"),
        "{m}"
    );
    assert!(m.contains("vault_expire_num_irrevocable_leases 1\n"), "{m}");
    assert!(!m.contains("vault_expire_revocation_failures 0\n"), "{m}");
    let r = call(&s, "GET", "sys/metrics", Some("root"), None).await;
    assert_eq!(r.body["Leases"], json!({"database/": 1}), "{}", r.raw);

    // Arca restarts; the database comes back: the user is dropped.
    let key = s.unseal_key.clone();
    s.core.seal().await;
    s.stop().await;
    let s = TestServer::restart_on(backend, clock, &key).await;
    let back = json!({"connection_url": URL});
    assert_eq!(post(&s, "database/config/pg", back).await.status, 204);
    let mut dropped = false;
    for _ in 0..300 {
        s.advance(Duration::from_secs(2));
        if valid_until(&user).await.is_none() {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        dropped,
        "the revocation was not retried once the database was back"
    );
    assert!(login(&user, &password).await.is_err());
    let r = post(&s, "sys/leases/lookup", json!({"lease_id": lease})).await;
    assert_eq!(r.errors(), ["invalid lease"]);
    let m = metric_lines(&s).await;
    assert!(m.contains("vault_expire_num_irrevocable_leases 0\n"), "{m}");
    assert!(m.contains("vault_expire_revocations 1\n"), "{m}");
    assert!(!m.contains("vault_expire_leases_by_mount{"), "{m}");
    s.stop().await;
}

/// `sys/metrics?format=prometheus`, the lines about expiration.
async fn metric_lines(s: &TestServer) -> String {
    let r = call(
        s,
        "GET",
        "sys/metrics?format=prometheus",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    r.raw
        .lines()
        .filter(|l| l.starts_with("vault_expire"))
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Arca's own CLI against a server: (exit code, stdout + stderr).
async fn arca(addr: &str, args: &[&str]) -> (i32, String) {
    let mut argv: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    argv.insert(args.len().min(2), format!("-address={addr}"));
    let mut io = arca_cli::Io::memory(&[("HOME", "/nonexistent"), ("VAULT_TOKEN", "root")], b"");
    let code = arca_cli::execute(argv, &mut io).await;
    (code, io.stdout_text() + &io.stderr_text())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_arca_cli_looks_up_renews_and_revokes_leases() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let (lease, user, _) = creds(&s, "root").await;
    let addr = s.url();

    let (code, out) = arca(&addr, &["lease", "lookup", &lease]).await;
    assert_eq!(code, 0, "{out}");
    // As bao prints it: the ttl as a duration.
    assert!(
        out.lines()
            .any(|l| l.starts_with("ttl ") && l.ends_with(" 1h")),
        "{out}"
    );
    for row in [
        "expire_time",
        "issue_time",
        "last_renewal",
        "path",
        "renewable",
        "ttl",
    ] {
        assert!(
            out.lines().any(|l| l.starts_with(row)),
            "{row} missing: {out}"
        );
    }
    assert!(
        out.lines()
            .any(|l| l.starts_with("path") && l.ends_with("database/creds/app")),
        "{out}"
    );

    let (code, out) = arca(&addr, &["lease", "renew", "-increment=2h", &lease]).await;
    assert_eq!(code, 0, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("lease_duration") && l.ends_with("2h")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("lease_id") && l.ends_with(&lease)),
        "{out}"
    );

    let (code, out) = arca(&addr, &["lease", "revoke", "-force", &lease]).await;
    assert_eq!(
        (code, out.trim()),
        (1, "Specifying -force requires also specifying -prefix")
    );
    let (code, out) = arca(&addr, &["lease", "revoke", &lease]).await;
    assert_eq!(
        (code, out.trim()),
        (0, "All revocation operations queued successfully!")
    );
    assert_eq!(valid_until(&user).await, None);
    let (code, out) = arca(&addr, &["lease", "lookup", &lease]).await;
    assert_eq!(code, 2);
    assert!(
        out.contains("error looking up lease id") && out.contains("invalid lease"),
        "{out}"
    );

    let (_, user, _) = creds(&s, "root").await;
    let (code, out) = arca(&addr, &["lease", "revoke", "-prefix", "database/creds/"]).await;
    assert_eq!(code, 0, "{out}");
    assert_eq!(valid_until(&user).await, None);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_has_the_lease_and_no_credential() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let audit = json!({"type": "file", "options": {"file_path": log.display().to_string()}});
    assert_eq!(
        call(&s, "PUT", "sys/audit/file", Some("root"), Some(audit))
            .await
            .status,
        204
    );
    let (lease, user, password) = creds(&s, "root").await;
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(!text.contains(&password), "a password in the audit log");
    assert!(
        !text.contains(&user),
        "a username in clear in the audit log"
    );
    let entry: Value = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|e| e["type"] == "response" && e["request"]["path"] == "database/creds/app")
        .unwrap();
    assert_eq!(entry["response"]["secret"], json!({"lease_id": lease}));
    assert!(
        entry["response"]["data"]["password"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_reads_share_the_connection_pool() {
    let s = std::sync::Arc::new(TestServer::dev().await);
    setup(&s).await;
    let pool = json!({"max_open_connections": 2});
    assert_eq!(post(&s, "database/config/pg", pool).await.status, 204);
    let r = call(&s, "GET", "database/config/pg", Some("root"), None).await;
    assert_eq!(
        r.body["data"]["connection_details"]["max_open_connections"],
        2
    );
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let s = std::sync::Arc::clone(&s);
        tasks.push(tokio::spawn(async move { creds(&s, "root").await }));
    }
    let mut users = std::collections::HashSet::new();
    for t in tasks {
        let (_, user, password) = t.await.unwrap();
        login(&user, &password).await.unwrap();
        users.insert(user);
    }
    assert_eq!(users.len(), 12);
    let r = post(&s, "sys/leases/revoke-prefix/database/creds/app", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    for u in &users {
        assert_eq!(valid_until(u).await, None);
    }
    if let Ok(s) = std::sync::Arc::try_unwrap(s) {
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_count_quota_stops_new_credentials_before_they_are_made() {
    let s = std::sync::Arc::new(TestServer::dev().await);
    setup(&s).await;
    let r = post(
        &s,
        "sys/quotas/lease-count/db",
        json!({"path": "database/creds/app", "max_leases": 3}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let made = || async {
        admin()
            .await
            .query_one(
                "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'v-token-qu-app-%'",
                &[],
            )
            .await
            .unwrap()
            .get::<_, i64>(0)
    };
    // A token of its own names the users this test makes.
    let r = post(&s, "auth/token/create", json!({"display_name": "quota"})).await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let before = made().await;

    // Eight at once against a quota of three: three users, five 429s.
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let (s, token) = (std::sync::Arc::clone(&s), token.clone());
        tasks.push(tokio::spawn(async move {
            call(&s, "GET", "database/creds/app", Some(&token), None).await
        }));
    }
    let mut leases = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let r = t.await.unwrap();
        match r.status {
            200 => leases.push(r.body["lease_id"].as_str().unwrap().to_owned()),
            429 => {
                assert_eq!(r.errors(), ["lease count quota exceeded"]);
                refused += 1;
            }
            other => panic!("{other}: {}", r.raw),
        }
    }
    assert_eq!((leases.len(), refused), (3, 5));
    assert_eq!(made().await - before, 3, "a refused request made a user");
    let r = call(&s, "GET", "sys/quotas/lease-count/db", Some("root"), None).await;
    assert_eq!(
        r.body["data"],
        json!({"counter": 3, "inheritable": false, "max_leases": 3, "name": "db",
               "path": "database/creds/app", "role": "", "type": "lease-count"})
    );
    let r = call(&s, "LIST", "sys/quotas/lease-count", Some("root"), None).await;
    assert_eq!(r.body["data"]["keys"], json!(["db"]));
    // What makes no lease goes on.
    let r = call(&s, "GET", "database/roles/app", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);

    // A revoked lease frees its place.
    let r = post(&s, "sys/leases/revoke", json!({"lease_id": leases[0]})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = call(&s, "GET", "database/creds/app", Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = call(&s, "GET", "database/creds/app", Some(&token), None).await;
    assert_eq!(r.status, 429, "{}", r.raw);

    // Bad rules change nothing; a deleted rule no longer counts.
    for (body, says) in [
        (
            json!({"path": "database/", "max_leases": 0}),
            "'max_leases' is invalid",
        ),
        (
            json!({"path": "nope/", "max_leases": 5}),
            "invalid mount path \"nope/\"",
        ),
    ] {
        let r = post(&s, "sys/quotas/lease-count/other", body).await;
        assert_eq!((r.status, r.errors()), (400, vec![says.to_owned()]));
    }
    let r = call(
        &s,
        "DELETE",
        "sys/quotas/lease-count/db",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(r.status, 204);
    let r = call(&s, "GET", "database/creds/app", Some(&token), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(
        post(&s, "auth/token/revoke", json!({"token": token}))
            .await
            .status,
        204
    );
    assert_eq!(made().await, before, "the token's users outlived it");
    if let Ok(s) = std::sync::Arc::try_unwrap(s) {
        s.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rotate_root_leaves_only_arca_knowing_the_password() {
    let s = TestServer::dev().await;
    setup(&s).await;
    // A privileged user of this test's own, so that rotating it touches
    // nothing else.
    let user = format!("arca_rot_{}", now());
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {user} WITH LOGIN CREATEROLE PASSWORD 'rot-pw-first'"
        ))
        .await
        .unwrap();
    let config = json!({"plugin_name": "postgresql-database-plugin", "connection_url": URL,
                        "username": user, "password": "rot-pw-first", "allowed_roles": "*"});
    assert_eq!(post(&s, "database/config/rot", config).await.status, 204);
    let role = json!({"db_name": "rot", "default_ttl": "1h",
                      "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}';",
                      "revocation_statements": "DROP ROLE IF EXISTS \"{{name}}\";"});
    assert_eq!(post(&s, "database/roles/onrot", role).await.status, 204);

    let r = post(&s, "database/rotate-root/rot", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    // The old password no longer works; Arca still mints with the new one.
    assert!(login(&user, "rot-pw-first").await.is_err());
    let r = call(&s, "GET", "database/creds/onrot", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let minted = r.body["data"]["username"].as_str().unwrap().to_owned();
    let pw = r.body["data"]["password"].as_str().unwrap().to_owned();
    login(&minted, &pw).await.unwrap();
    // Twice in a row works too (the second uses the first's password).
    let r = post(&s, "database/rotate-root/rot", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = call(&s, "GET", "database/creds/onrot", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let r = call(&s, "GET", "database/config/rot", Some("root"), None).await;
    assert!(!r.raw.contains("password\""), "{}", r.raw);

    // OpenBao's errors.
    let r = post(&s, "database/rotate-root/nope", json!({})).await;
    assert_eq!(
        (r.status, r.errors()),
        (
            500,
            vec!["1 error occurred:\n\t* failed to find entry for connection with name: \"nope\"\n\n".to_owned()]
        )
    );
    let r = call(&s, "GET", "database/rotate-root/rot", Some("root"), None).await;
    assert_eq!(r.status, 405, "{}", r.raw);
    let nouser = json!({"plugin_name": "postgresql-database-plugin",
                        "connection_url": URL.replace("{{username}}:{{password}}", "arca_test_admin:arca-test-admin")});
    assert_eq!(post(&s, "database/config/nouser", nouser).await.status, 204);
    let r = post(&s, "database/rotate-root/nouser", json!({})).await;
    assert_eq!(
        r.errors(),
        [
            "1 error occurred:\n\t* unable to rotate root credentials: no username in configuration\n\n"
        ]
    );
    // Clean up what this test made.
    let r = post(
        &s,
        "sys/leases/revoke-prefix/database/creds/onrot",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    admin()
        .await
        .batch_execute(&format!("DROP ROLE {user}"))
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_roles_rotate_the_password_the_database_accepts() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let user = format!("arca_static_{}", now());
    admin()
        .await
        .batch_execute(&format!(
            "CREATE ROLE {user} WITH LOGIN PASSWORD 'static-first'"
        ))
        .await
        .unwrap();
    let r = post(
        &s,
        "database/static-roles/st",
        json!({"db_name": "pg", "username": user, "rotation_period": "1m"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    // Made: the password was rotated at once.
    assert!(login(&user, "static-first").await.is_err());
    let creds = |s: &TestServer| {
        let s = s.url();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{s}/v1/database/static-creds/st"))
                .header("X-Vault-Token", "root")
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
            r.json::<serde_json::Value>().await.unwrap()["data"].clone()
        }
    };
    let first = creds(&s).await;
    assert_eq!(first["username"], user.as_str());
    assert_eq!(first["rotation_period"], 60);
    assert!(first["ttl"].as_u64().unwrap() <= 60);
    let pw1 = first["password"].as_str().unwrap().to_owned();
    login(&user, &pw1).await.unwrap();
    let r = call(&s, "GET", "database/static-roles/st", Some("root"), None).await;
    let d = &r.body["data"];
    assert_eq!(
        (
            d["credential_type"].clone(),
            d["db_name"].clone(),
            d["rotation_period"].clone(),
            d["rotation_statements"].clone()
        ),
        (json!("password"), json!("pg"), json!(60), json!([]))
    );
    assert_eq!(d["last_vault_rotation"], first["last_vault_rotation"]);
    assert!(!r.raw.contains(&pw1), "the role read shows the password");
    let r = call(&s, "LIST", "database/static-roles", Some("root"), None).await;
    assert_eq!(r.body["data"]["keys"], json!(["st"]));

    // rotate-role: a new password, the old one refused.
    let r = post(&s, "database/rotate-role/st", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let pw2 = creds(&s).await["password"].as_str().unwrap().to_owned();
    assert_ne!(pw1, pw2);
    assert!(login(&user, &pw1).await.is_err());
    login(&user, &pw2).await.unwrap();

    // The period passes: the mount rotates it by itself.
    s.advance(Duration::from_secs(61));
    let mut pw3 = pw2.clone();
    for _ in 0..50 {
        pw3 = creds(&s).await["password"].as_str().unwrap().to_owned();
        if pw3 != pw2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_ne!(pw3, pw2, "no rotation after the period");
    assert!(login(&user, &pw2).await.is_err());
    login(&user, &pw3).await.unwrap();

    // OpenBao's errors; nothing changes.
    for (body, says) in [
        (
            json!({"db_name": "pg", "username": user, "rotation_period": "2s"}),
            "rotation_period must be 5 seconds or more",
        ),
        (
            json!({"db_name": "pg", "rotation_period": "1h"}),
            "username is a required field to create a static account",
        ),
        (
            json!({"db_name": "pg", "username": user}),
            "rotation_period is required to create static accounts",
        ),
    ] {
        let r = post(&s, "database/static-roles/other", body).await;
        assert_eq!((r.status, r.errors()), (400, vec![says.to_owned()]));
    }
    let r = post(
        &s,
        "database/static-roles/ghost",
        json!({"db_name": "pg", "username": "arca_no_such_user", "rotation_period": "1h"}),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert!(
        r.errors()[0].contains("error setting credentials: 1 error occurred:\n\t* failed to execute query: ERROR: role \"arca_no_such_user\" does not exist"),
        "{}",
        r.raw
    );
    assert_eq!(
        call(&s, "GET", "database/static-roles/ghost", Some("root"), None)
            .await
            .status,
        404
    );
    let r = call(&s, "GET", "database/static-creds/nope", Some("root"), None).await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["unknown role: nope".to_owned()])
    );
    let r = post(&s, "database/rotate-role/nope", json!({})).await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["no static role found for role name".to_owned()])
    );
    login(&user, &pw3).await.unwrap();

    let r = call(&s, "DELETE", "database/static-roles/st", Some("root"), None).await;
    assert_eq!(r.status, 204);
    admin()
        .await
        .batch_execute(&format!("DROP ROLE {user}"))
        .await
        .unwrap();
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_template_names_the_users() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let t = json!({"username_template": "{{.RoleName | truncate 3}}-{{.DisplayName | uppercase}}-{{random 8 | lowercase}}"});
    assert_eq!(post(&s, "database/config/pg", t).await.status, 204);
    let r = call(&s, "GET", "database/config/pg", Some("root"), None).await;
    assert_eq!(
        r.body["data"]["connection_details"]["username_template"],
        "{{.RoleName | truncate 3}}-{{.DisplayName | uppercase}}-{{random 8 | lowercase}}"
    );
    let (lease, user, password) = creds(&s, "root").await;
    assert!(user.starts_with("app-TOKEN-"), "{user}");
    assert_eq!(user.len(), "app-TOKEN-".len() + 8);
    login(&user, &password).await.unwrap();
    assert_eq!(
        post(&s, "sys/leases/revoke", json!({"lease_id": lease}))
            .await
            .status,
        204
    );
    assert_eq!(valid_until(&user).await, None);
    // A template that cannot make a name is refused at write; the config
    // keeps its template.
    for bad in ["{{.RoleName", "{{ .Nope }}"] {
        let r = post(&s, "database/config/pg", json!({"username_template": bad})).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(
            r.errors()[0].starts_with("error creating database object: unable to "),
            "{}",
            r.raw
        );
    }
    let (_, user, _) = creds(&s, "root").await;
    assert!(user.starts_with("app-TOKEN-"), "{user}");
    let r = post(&s, "sys/leases/revoke-prefix/database/", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert_eq!(valid_until(&user).await, None);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_policy_makes_the_passwords() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let policy = "length = 24\nrule \"charset\" {\n  charset = \"abcdefghkmnpqrstuvwxyz\"\n  min-chars = 2\n}\nrule \"charset\" {\n  charset = \"23456789\"\n  min-chars = 4\n}";
    let r = post(&s, "sys/policies/password/pg-pw", json!({"policy": policy})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = call(&s, "GET", "sys/policies/password/pg-pw", Some("root"), None).await;
    assert_eq!(r.body["data"], json!({"policy": policy}));
    let r = call(&s, "LIST", "sys/policies/password", Some("root"), None).await;
    assert_eq!(r.body["data"]["keys"], json!(["pg-pw"]));
    let fits = |pw: &str| {
        pw.len() == 24
            && pw
                .chars()
                .all(|c| "abcdefghkmnpqrstuvwxyz23456789".contains(c))
            && pw.chars().filter(|c| c.is_ascii_digit()).count() >= 4
            && pw.chars().filter(|c| c.is_ascii_lowercase()).count() >= 2
    };
    let r = call(
        &s,
        "GET",
        "sys/policies/password/pg-pw/generate",
        Some("root"),
        None,
    )
    .await;
    let generated = r.body["data"]["password"].as_str().unwrap().to_owned();
    assert!(fits(&generated), "{generated}");

    assert_eq!(
        post(
            &s,
            "database/config/pg",
            json!({"password_policy": "pg-pw"})
        )
        .await
        .status,
        204
    );
    let (lease, user, password) = creds(&s, "root").await;
    assert!(fits(&password), "{password}");
    login(&user, &password).await.unwrap();
    assert_eq!(
        post(&s, "sys/leases/revoke", json!({"lease_id": lease}))
            .await
            .status,
        204
    );

    // OpenBao's errors.
    let r = call(
        &s,
        "GET",
        "sys/policies/password/nope/generate",
        Some("root"),
        None,
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (
            404,
            vec!["1 error occurred:\n\t* policy does not exist\n\n".to_owned()]
        )
    );
    let r = post(
        &s,
        "sys/policies/password/bad",
        json!({"policy": "length = 20"}),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["1 error occurred:\n\t* invalid password policy: 1 error occurred:\n\t* no charset specified\n\n\n\n".to_owned()])
    );
    let r = post(&s, "sys/policies/password/bad", json!({})).await;
    assert_eq!(r.errors(), ["1 error occurred:\n\t* missing policy\n\n"]);
    // A config naming a policy that is gone: the read fails, nothing made.
    assert_eq!(
        call(
            &s,
            "DELETE",
            "sys/policies/password/pg-pw",
            Some("root"),
            None
        )
        .await
        .status,
        204
    );
    let r = call(&s, "GET", "database/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert!(
        r.errors()[0]
            .contains("unable to generate password with policy \"pg-pw\": policy does not exist"),
        "{}",
        r.raw
    );
    s.stop().await;
}

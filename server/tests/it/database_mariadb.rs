//! The `database` engine's MySQL plugin against a real MariaDB (started by
//! `scripts/services`, with the user `arca_test_admin`): the minted
//! credentials log in and can do what the role grants; after revoke and
//! after expiry they cannot; bad SQL leaves no user behind.

use std::time::Duration;

use mysql_async::prelude::Queryable;
use serde_json::{Value, json};

use crate::common::{TestServer, call};

const ADMIN: &str = "arca_test_admin";
const ADMIN_PASSWORD: &str = "arca-test-admin";
const DSN: &str = "{{username}}:{{password}}@tcp(127.0.0.1:3306)/";
const CREATE: &str = "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'; GRANT SELECT ON mysql.* TO '{{name}}'@'%';";

/// A connection as `user`, or why not.
async fn login(user: &str, password: &str) -> Result<mysql_async::Conn, String> {
    let opts = mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(3306)
        .user(Some(user))
        .pass(Some(password));
    mysql_async::Conn::new(opts)
        .await
        .map_err(|e| e.to_string())
}

/// How many users' names start with `prefix`.
async fn users_like(prefix: &str) -> i64 {
    let mut c = login(ADMIN, ADMIN_PASSWORD)
        .await
        .expect("MariaDB with user arca_test_admin (scripts/services sets it up)");
    let n: Option<i64> = c
        .exec_first(
            "SELECT COUNT(*) FROM mysql.user WHERE User LIKE CONCAT(?, '%')",
            (prefix,),
        )
        .await
        .unwrap();
    n.unwrap_or(0)
}

async fn post(s: &TestServer, path: &str, body: Value) -> crate::common::Answer {
    call(s, "POST", path, Some("root"), Some(body)).await
}

/// Enables `database/` with a connection `maria` and a role `reader`.
async fn setup(s: &TestServer) {
    let r = post(s, "sys/mounts/database", json!({"type": "database"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let config = json!({"plugin_name": "mysql-database-plugin", "connection_url": DSN,
                        "username": ADMIN, "password": ADMIN_PASSWORD, "allowed_roles": "*"});
    let r = post(s, "database/config/maria", config).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let role = json!({"db_name": "maria", "creation_statements": CREATE,
                      "default_ttl": "1h", "max_ttl": "24h"});
    assert_eq!(post(s, "database/roles/reader", role).await.status, 204);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_mariadb_users_log_in_until_revoked_or_expired() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let r = call(&s, "GET", "database/config/maria", Some("root"), None).await;
    assert_eq!(
        r.body["data"]["connection_details"],
        json!({"connection_url": DSN, "username": ADMIN})
    );
    assert!(!r.raw.contains(ADMIN_PASSWORD));

    let r = call(&s, "GET", "database/creds/reader", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_duration"], 3600);
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    // Vault's MySQL names: v-<display 10>-<role 10>-<random>-<time>, 32 long.
    assert!(user.starts_with("v-token-reader-"), "{user}");
    assert_eq!(user.len(), 32, "{user}");

    // It logs in and can read what it was granted, and nothing more.
    let mut c = login(&user, &password).await.unwrap();
    let n: Option<i64> = c
        .query_first("SELECT COUNT(*) FROM mysql.user")
        .await
        .unwrap();
    assert!(n.unwrap() >= 1);
    let denied = c
        .query_drop("CREATE DATABASE arca_should_not_exist")
        .await
        .unwrap_err()
        .to_string();
    assert!(denied.contains("denied"), "{denied}");
    drop(c);
    assert!(login(&user, "wrong-password").await.is_err());

    // Renewal moves the lease (MySQL users have no expiry of their own).
    let r = post(
        &s,
        "sys/leases/renew",
        json!({"lease_id": lease, "increment": "2h"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_duration"], 7200);

    // Revoked: the user is gone.
    let r = post(&s, "sys/leases/revoke", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(login(&user, &password).await.is_err());
    assert_eq!(users_like(&user).await, 0);
    // A second revocation of a user already gone is not an error.
    let r = post(&s, "sys/leases/revoke", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 204, "{}", r.raw);

    // Expired: once its TTL has passed, the user is dropped.
    let r = call(&s, "GET", "database/creds/reader", Some("root"), None).await;
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    login(&user, &password).await.unwrap();
    s.advance(Duration::from_secs(3601));
    let mut dropped = false;
    for _ in 0..300 {
        if users_like(&user).await == 0 {
            dropped = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(dropped, "the user outlived its lease");
    assert!(login(&user, &password).await.is_err());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_mysql_statements_fail_and_leave_no_user() {
    let s = TestServer::dev().await;
    setup(&s).await;
    // CREATE USER commits at once; the GRANT after it fails: the default
    // rollback drops the user.
    let role = json!({"db_name": "maria", "creation_statements": [
        "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}'",
        "GRANT SELEC ON *.* TO '{{name}}'@'%'",
    ]});
    assert_eq!(post(&s, "database/roles/broken", role).await.status, 204);
    let r = call(&s, "GET", "database/creds/broken", Some("root"), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    let msg = r.errors().join(" ");
    assert!(msg.contains("Error 1064 (42000)"), "{msg}");
    assert_eq!(
        users_like("v-token-broken-").await,
        0,
        "a half-made user was left"
    );

    // The server quotes the statement it choked on: never the password.
    let role = json!({"db_name": "maria", "creation_statements":
        "CREATE USER '{{name}}'@'%' IDENTIFIED BY {{password}}"});
    assert_eq!(post(&s, "database/roles/broken", role).await.status, 204);
    let r = call(&s, "GET", "database/creds/broken", Some("root"), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert!(r.errors()[0].contains("[redacted]"), "{}", r.raw);
    assert_eq!(users_like("v-token-broken-").await, 0);

    // A config that cannot connect is refused, without its password.
    let dead = json!({"plugin_name": "mysql-database-plugin", "username": ADMIN,
                      "password": ADMIN_PASSWORD,
                      "connection_url": DSN.replace("3306", "1")});
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
        json!({"plugin_name": "mysql-database-plugin", "username": ADMIN}),
    )
    .await;
    assert_eq!(
        (r.status, r.errors()),
        (
            400,
            vec!["error creating database object: connection_url cannot be empty".to_owned()]
        )
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_static_roles_and_root_rotation_change_the_password_it_accepts() {
    let s = TestServer::dev().await;
    setup(&s).await;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    let (st_user, root_user) = (format!("arca_st_{stamp}"), format!("arca_rt_{stamp}"));
    let mut c = login(ADMIN, ADMIN_PASSWORD).await.unwrap();
    c.query_drop(format!(
        "CREATE USER '{st_user}'@'%' IDENTIFIED BY 'st-first'; CREATE USER '{root_user}'@'%' IDENTIFIED BY 'rt-first'; GRANT CREATE USER, SELECT ON *.* TO '{root_user}'@'%' WITH GRANT OPTION"
    ))
    .await
    .unwrap();

    // A static role: the password changes at once, and on rotate-role.
    let r = post(
        &s,
        "database/static-roles/st",
        json!({"db_name": "maria", "username": st_user, "rotation_period": "1h"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(login(&st_user, "st-first").await.is_err());
    let pw = |s: &TestServer| {
        let url = s.url();
        async move {
            let r = reqwest::Client::new()
                .get(format!("{url}/v1/database/static-creds/st"))
                .header("X-Vault-Token", "root")
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["data"]["password"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let first = pw(&s).await;
    login(&st_user, &first).await.unwrap();
    assert_eq!(
        post(&s, "database/rotate-role/st", json!({})).await.status,
        204
    );
    let second = pw(&s).await;
    assert!(login(&st_user, &first).await.is_err());
    login(&st_user, &second).await.unwrap();

    // rotate-root on a config of its own: the old password is refused,
    // Arca still works.
    let config = json!({"plugin_name": "mysql-database-plugin", "connection_url": DSN,
                        "username": root_user, "password": "rt-first", "allowed_roles": "*"});
    assert_eq!(post(&s, "database/config/rot", config).await.status, 204);
    let r = post(&s, "database/rotate-root/rot", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(login(&root_user, "rt-first").await.is_err());
    let role = json!({"db_name": "rot", "creation_statements": "CREATE USER '{{name}}'@'%' IDENTIFIED BY '{{password}}';"});
    assert_eq!(post(&s, "database/roles/onrot", role).await.status, 204);
    let r = call(&s, "GET", "database/creds/onrot", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let minted = r.body["data"]["username"].as_str().unwrap().to_owned();
    login(&minted, r.body["data"]["password"].as_str().unwrap())
        .await
        .unwrap();
    let r = post(
        &s,
        "sys/leases/revoke-prefix/database/creds/onrot",
        json!({}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert_eq!(users_like(&minted).await, 0);

    let mut c = login(ADMIN, ADMIN_PASSWORD).await.unwrap();
    c.query_drop(format!(
        "DROP USER '{st_user}'@'%'; DROP USER '{root_user}'@'%'"
    ))
    .await
    .unwrap();
    s.stop().await;
}

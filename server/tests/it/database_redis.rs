//! The `database` engine's Redis plugin against a real Redis (started by
//! `scripts/services`, with the ACL user `arca_test_admin`): the minted
//! user authenticates and can run what its rules allow, and nothing else;
//! after revoke it cannot authenticate.

use serde_json::{Value, json};

use crate::common::{TestServer, call};

const ADMIN: &str = "arca_test_admin";
const ADMIN_PASSWORD: &str = "arca-test-admin";

/// A connection as `user`, or why not.
async fn login(
    user: &str,
    password: &str,
) -> Result<redis::aio::MultiplexedConnection, redis::RedisError> {
    let client = redis::Client::open(format!("redis://{user}:{password}@127.0.0.1:6379/"))?;
    client.get_multiplexed_async_connection().await
}

async fn admin() -> redis::aio::MultiplexedConnection {
    login(ADMIN, ADMIN_PASSWORD)
        .await
        .expect("Redis with ACL user arca_test_admin (scripts/services sets it up)")
}

async fn user_exists(user: &str) -> bool {
    let mut c = admin().await;
    let users: Vec<String> = redis::cmd("ACL")
        .arg("USERS")
        .query_async(&mut c)
        .await
        .unwrap();
    users.iter().any(|u| u == user)
}

async fn post(s: &TestServer, path: &str, body: Value) -> crate::common::Answer {
    call(s, "POST", path, Some("root"), Some(body)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_redis_users_authenticate_with_their_rules_until_revoked() {
    let s = TestServer::dev().await;
    let r = post(&s, "sys/mounts/database", json!({"type": "database"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let config = json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1",
                        "port": 6379, "username": ADMIN, "password": ADMIN_PASSWORD,
                        "allowed_roles": "*"});
    let r = post(&s, "database/config/cache", config).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = call(&s, "GET", "database/config/cache", Some("root"), None).await;
    assert_eq!(
        r.body["data"]["connection_details"],
        json!({"host": "127.0.0.1", "port": 6379, "username": ADMIN})
    );
    assert!(!r.raw.contains(ADMIN_PASSWORD));
    // Read and write keys under app:, nothing else.
    let role = json!({"db_name": "cache", "default_ttl": "1h",
                      "creation_statements": r#"["~app:*", "+get", "+set"]"#});
    assert_eq!(post(&s, "database/roles/app", role).await.status, 204);

    let r = call(&s, "GET", "database/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    assert!(user.starts_with("V_TOKEN_APP_"), "{user}");

    let mut c = login(&user, &password).await.unwrap();
    let () = redis::cmd("SET")
        .arg("app:greeting")
        .arg("hello")
        .query_async(&mut c)
        .await
        .unwrap();
    let v: String = redis::cmd("GET")
        .arg("app:greeting")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v, "hello");
    let e = redis::cmd("GET")
        .arg("other:key")
        .query_async::<Option<String>>(&mut c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no permissions"), "{e}");
    let e = redis::cmd("DEL")
        .arg("app:greeting")
        .query_async::<i64>(&mut c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no permissions"), "{e}");
    assert!(login(&user, "wrong").await.is_err());

    // Revoked: the user is deleted and cannot authenticate.
    let r = post(&s, "sys/leases/revoke", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(!user_exists(&user).await);
    assert!(login(&user, &password).await.is_err());

    // The default rules: read any key, write none.
    let role = json!({"db_name": "cache"});
    assert_eq!(post(&s, "database/roles/reader", role).await.status, 204);
    let r = call(&s, "GET", "database/creds/reader", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    let mut c = login(&user, &password).await.unwrap();
    let v: Option<String> = redis::cmd("GET")
        .arg("app:greeting")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(v.as_deref(), Some("hello"));
    assert!(
        redis::cmd("SET")
            .arg("app:x")
            .arg("1")
            .query_async::<()>(&mut c)
            .await
            .is_err()
    );
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    assert_eq!(
        post(&s, "sys/leases/revoke", json!({"lease_id": lease}))
            .await
            .status,
        204
    );
    assert!(!user_exists(&user).await);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_redis_rules_fail_and_make_no_user() {
    let s = TestServer::dev().await;
    let r = post(&s, "sys/mounts/database", json!({"type": "database"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let config = json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1",
                        "port": "6379", "username": ADMIN, "password": ADMIN_PASSWORD,
                        "allowed_roles": "*"});
    assert_eq!(post(&s, "database/config/cache", config).await.status, 204);
    let before: usize = {
        let mut c = admin().await;
        let users: Vec<String> = redis::cmd("ACL")
            .arg("USERS")
            .query_async(&mut c)
            .await
            .unwrap();
        users.len()
    };
    for (rules, says) in [
        (
            json!(r#"["+nosuchcommand"]"#),
            "response returned from Conn: ERR Error in ACL SETUSER modifier '+nosuchcommand': Unknown command or category name in ACL",
        ),
        (
            json!("~sp:* +get"),
            "response returned from Conn: ERR Error in ACL SETUSER modifier '~sp:* +get': Syntax error",
        ),
    ] {
        let role = json!({"db_name": "cache", "creation_statements": rules});
        assert_eq!(post(&s, "database/roles/bad", role).await.status, 204);
        let r = call(&s, "GET", "database/creds/bad", Some("root"), None).await;
        assert_eq!(r.status, 500, "{}", r.raw);
        assert!(r.errors()[0].contains(says), "{}", r.raw);
    }
    let mut c = admin().await;
    let users: Vec<String> = redis::cmd("ACL")
        .arg("USERS")
        .query_async(&mut c)
        .await
        .unwrap();
    assert_eq!(users.len(), before, "a user was made: {users:?}");

    // Config errors.
    for (config, says) in [
        (
            json!({"plugin_name": "redis-database-plugin", "port": 6379}),
            "host cannot be empty",
        ),
        (
            json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1"}),
            "port cannot be empty",
        ),
        (
            json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1", "port": "x"}),
            "invalid port \"x\"",
        ),
    ] {
        let r = post(&s, "database/config/bad", config).await;
        assert_eq!(
            (r.status, r.errors()),
            (400, vec![format!("error creating database object: {says}")])
        );
    }
    let dead = json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1",
                      "port": 1, "username": ADMIN, "password": ADMIN_PASSWORD});
    let r = post(&s, "database/config/down", dead).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(!r.raw.contains(ADMIN_PASSWORD));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_static_roles_and_root_rotation_change_the_password_it_accepts() {
    let s = TestServer::dev().await;
    let r = post(&s, "sys/mounts/database", json!({"type": "database"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
        % 1_000_000_000;
    let (st_user, root_user) = (format!("arca_st_{stamp}"), format!("arca_rt_{stamp}"));
    let mut a = admin().await;
    for (u, p) in [(&st_user, "st-first"), (&root_user, "rt-first")] {
        let () = redis::cmd("ACL")
            .arg("SETUSER")
            .arg(u)
            .arg("on")
            .arg(format!(">{p}"))
            .arg("~*")
            .arg("+@all")
            .query_async(&mut a)
            .await
            .unwrap();
    }
    // The config's own user, rotated: only Arca knows it afterwards.
    let config = json!({"plugin_name": "redis-database-plugin", "host": "127.0.0.1", "port": 6379,
                        "username": root_user, "password": "rt-first", "allowed_roles": "*"});
    assert_eq!(post(&s, "database/config/cache", config).await.status, 204);
    let r = post(&s, "database/rotate-root/cache", json!({})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(login(&root_user, "rt-first").await.is_err());
    // A static role on the rotated connection.
    let r = post(
        &s,
        "database/static-roles/st",
        json!({"db_name": "cache", "username": st_user, "rotation_period": "1h"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(login(&st_user, "st-first").await.is_err());
    let r = call(&s, "GET", "database/static-creds/st", Some("root"), None).await;
    let first = r.body["data"]["password"].as_str().unwrap().to_owned();
    login(&st_user, &first).await.unwrap();
    assert_eq!(
        post(&s, "database/rotate-role/st", json!({})).await.status,
        204
    );
    let r = call(&s, "GET", "database/static-creds/st", Some("root"), None).await;
    let second = r.body["data"]["password"].as_str().unwrap().to_owned();
    assert!(login(&st_user, &first).await.is_err());
    login(&st_user, &second).await.unwrap();
    for u in [&st_user, &root_user] {
        let _: i64 = redis::cmd("ACL")
            .arg("DELUSER")
            .arg(u)
            .query_async(&mut a)
            .await
            .unwrap();
    }
    s.stop().await;
}

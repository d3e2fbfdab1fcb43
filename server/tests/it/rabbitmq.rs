//! The `rabbitmq` engine against a real RabbitMQ with its management
//! plugin (started by `scripts/services`, with the administrator
//! `arca_test_admin`): the minted user logs in over AMQP and opens the
//! vhost it was given, and the management API shows its tags and
//! permissions; after revoke it cannot log in. Checked against OpenBao's
//! answers (`bao server -dev`).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TestServer, call};

const ADMIN: &str = "arca_test_admin";
const ADMIN_PASSWORD: &str = "arca-test-admin";
const API: &str = "http://127.0.0.1:15672";

/// One AMQP 0-9-1 method frame on channel 0.
fn method_frame(class: u16, method: u16, args: &[u8]) -> Vec<u8> {
    let mut payload = Vec::new();
    payload.extend_from_slice(&class.to_be_bytes());
    payload.extend_from_slice(&method.to_be_bytes());
    payload.extend_from_slice(args);
    let mut f = vec![1, 0, 0];
    f.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    f.extend_from_slice(&payload);
    f.push(0xCE);
    f
}

fn shortstr(s: &str) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

/// The next method frame's (class, method), or None when the server
/// closed the connection.
async fn next_method(s: &mut tokio::net::TcpStream) -> Option<(u16, u16)> {
    let mut head = [0u8; 7];
    s.read_exact(&mut head).await.ok()?;
    let size = u32::from_be_bytes([head[3], head[4], head[5], head[6]]) as usize;
    let mut body = vec![0u8; size + 1];
    s.read_exact(&mut body).await.ok()?;
    Some((
        u16::from_be_bytes([body[0], body[1]]),
        u16::from_be_bytes([body[2], body[3]]),
    ))
}

/// An AMQP login as `user` that opens `vhost`: Ok, or what the broker
/// said no to.
async fn amqp_login(user: &str, password: &str, vhost: &str) -> Result<(), String> {
    let mut s = tokio::net::TcpStream::connect("127.0.0.1:5672")
        .await
        .map_err(|e| e.to_string())?;
    s.write_all(b"AMQP\x00\x00\x09\x01").await.unwrap();
    assert_eq!(
        next_method(&mut s).await,
        Some((10, 10)),
        "Connection.Start"
    );
    let mut args = 0u32.to_be_bytes().to_vec(); // no client properties
    args.extend(shortstr("PLAIN"));
    let response = format!("\0{user}\0{password}");
    args.extend_from_slice(&(response.len() as u32).to_be_bytes());
    args.extend_from_slice(response.as_bytes());
    args.extend(shortstr("en_US"));
    s.write_all(&method_frame(10, 11, &args)).await.unwrap();
    match next_method(&mut s).await {
        Some((10, 30)) => {} // Tune: logged in
        other => return Err(format!("login refused: {other:?}")),
    }
    let mut tune_ok = 2047u16.to_be_bytes().to_vec();
    tune_ok.extend_from_slice(&131_072u32.to_be_bytes());
    tune_ok.extend_from_slice(&0u16.to_be_bytes());
    s.write_all(&method_frame(10, 31, &tune_ok)).await.unwrap();
    let mut open = shortstr(vhost);
    open.extend(shortstr(""));
    open.push(0);
    s.write_all(&method_frame(10, 40, &open)).await.unwrap();
    match next_method(&mut s).await {
        Some((10, 41)) => Ok(()), // Open-Ok
        other => Err(format!("vhost refused: {other:?}")),
    }
}

async fn api_get(path: &str, user: &str, password: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("{API}/api/{path}"))
        .basic_auth(user, Some(password))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post(s: &TestServer, path: &str, body: Value) -> crate::common::Answer {
    call(s, "POST", path, Some("root"), Some(body)).await
}

async fn setup(s: &TestServer) {
    let r = post(s, "sys/mounts/rabbitmq", json!({"type": "rabbitmq"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = post(
        s,
        "rabbitmq/config/connection",
        json!({"connection_uri": API, "username": ADMIN, "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn minted_rabbitmq_users_log_in_with_their_permissions_until_revoked() {
    let s = TestServer::dev().await;
    setup(&s).await;
    // The connection is write-only, as OpenBao's.
    let r = call(&s, "GET", "rabbitmq/config/connection", Some("root"), None).await;
    assert_eq!(r.status, 405, "{}", r.raw);
    let r = call(&s, "GET", "rabbitmq/config/lease", Some("root"), None).await;
    assert_eq!((r.status, r.body.clone()), (404, json!({"errors": []})));
    let r = post(
        &s,
        "rabbitmq/config/lease",
        json!({"ttl": "1h", "max_ttl": "2h"}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let r = call(&s, "GET", "rabbitmq/config/lease", Some("root"), None).await;
    assert_eq!(r.body["data"], json!({"ttl": 3600, "max_ttl": 7200}));

    let role = json!({"tags": "management",
                      "vhosts": r#"{"/": {"configure": "", "write": ".*", "read": ".*"}}"#,
                      "vhost_topics": r#"{"/": {"amq.topic": {"write": "app\\..*", "read": ".*"}}}"#});
    assert_eq!(post(&s, "rabbitmq/roles/app", role).await.status, 204);
    let r = call(&s, "GET", "rabbitmq/roles/app", Some("root"), None).await;
    assert_eq!(
        r.body["data"],
        json!({"tags": "management",
               "vhosts": {"/": {"configure": "", "write": ".*", "read": ".*"}},
               "vhost_topics": {"/": {"amq.topic": {"write": "app\\..*", "read": ".*"}}}})
    );
    let r = call(&s, "LIST", "rabbitmq/roles", Some("root"), None).await;
    assert_eq!(r.body["data"]["keys"], json!(["app"]));

    let r = call(&s, "GET", "rabbitmq/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_duration"], 3600);
    assert_eq!(r.body["renewable"], true);
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    assert!(lease.starts_with("rabbitmq/creds/app/"), "{lease}");
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    assert!(user.starts_with("token-"), "{user}");
    assert_eq!(user.len(), "token-".len() + 36, "{user}");
    assert_eq!(password.len(), 36);

    // It logs in over AMQP and opens its vhost; a wrong password does not.
    amqp_login(&user, &password, "/").await.unwrap();
    assert!(amqp_login(&user, "wrong", "/").await.is_err());
    // The management API knows it, with its tag and permissions.
    let (status, me) = api_get("whoami", &user, &password).await;
    assert_eq!(status, 200);
    assert_eq!(me["name"], user.as_str());
    assert_eq!(me["tags"], json!(["management"]));
    let (_, perms) = api_get(&format!("users/{user}/permissions"), ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(perms[0]["vhost"], "/");
    assert_eq!(perms[0]["configure"], "");
    assert_eq!(perms[0]["write"], ".*");
    let (_, topics) = api_get(
        &format!("users/{user}/topic-permissions"),
        ADMIN,
        ADMIN_PASSWORD,
    )
    .await;
    assert_eq!(topics[0]["exchange"], "amq.topic");
    assert_eq!(topics[0]["write"], "app\\..*");

    // Renewal is capped by config/lease's max_ttl, with Vault's warning.
    let r = post(
        &s,
        "sys/leases/renew",
        json!({"lease_id": lease, "increment": "3h"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.raw);
    assert_eq!(r.body["lease_duration"], 7200);
    assert_eq!(
        r.body["warnings"],
        json!([
            "TTL of \"3h\" exceeded the effective max_ttl of \"2h\"; TTL value is capped accordingly"
        ])
    );

    // Revoked: the user is deleted and cannot log in.
    let r = post(&s, "sys/leases/revoke", json!({"lease_id": lease})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert_eq!(
        api_get(&format!("users/{user}"), ADMIN, ADMIN_PASSWORD)
            .await
            .0,
        404
    );
    assert!(amqp_login(&user, &password, "/").await.is_err());

    // Expired: after the TTL, the user is deleted.
    let r = call(&s, "GET", "rabbitmq/creds/app", Some("root"), None).await;
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    s.advance(Duration::from_secs(3601));
    let mut gone = false;
    for _ in 0..300 {
        if api_get(&format!("users/{user}"), ADMIN, ADMIN_PASSWORD)
            .await
            .0
            == 404
        {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(gone, "the user outlived its lease");

    // A user without permissions on a vhost cannot open it.
    let role = json!({"vhosts": r#"{"/": {"configure": "", "write": "", "read": ".*"}}"#});
    assert_eq!(post(&s, "rabbitmq/roles/reader", role).await.status, 204);
    let r = call(&s, "GET", "rabbitmq/creds/reader", Some("root"), None).await;
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    amqp_login(&user, &password, "/").await.unwrap();
    let e = amqp_login(&user, &password, "other-vhost")
        .await
        .unwrap_err();
    assert!(e.starts_with("vhost refused"), "{e}");
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    assert_eq!(
        post(&s, "sys/leases/revoke", json!({"lease_id": lease}))
            .await
            .status,
        204
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_bad_input_is_refused_as_openbao_does() {
    let s = TestServer::dev().await;
    let r = post(&s, "sys/mounts/rabbitmq", json!({"type": "rabbitmq"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    for (body, says) in [
        (
            json!({"connection_uri": "", "username": "a", "password": "b"}),
            "missing connection_uri",
        ),
        (
            json!({"connection_uri": API, "password": "b"}),
            "missing username",
        ),
        (
            json!({"connection_uri": API, "username": "a"}),
            "missing password",
        ),
    ] {
        let r = post(&s, "rabbitmq/config/connection", body).await;
        assert_eq!((r.status, r.errors()), (400, vec![says.to_owned()]));
    }
    // A connection that does not answer, or refuses the credentials.
    let r = post(
        &s,
        "rabbitmq/config/connection",
        json!({"connection_uri": "http://127.0.0.1:1", "username": ADMIN, "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert!(
        r.errors()[0].contains("failed to validate the connection: "),
        "{}",
        r.raw
    );
    let r = post(
        &s,
        "rabbitmq/config/connection",
        json!({"connection_uri": API, "username": ADMIN, "password": "wrong"}),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert_eq!(
        r.errors(),
        [
            "1 error occurred:\n\t* failed to validate the connection: Error: API responded with a 401 Unauthorized\n\n"
        ]
    );
    assert!(!r.raw.contains(ADMIN_PASSWORD));
    // Credentials before the connection is configured; unknown roles.
    assert_eq!(
        post(&s, "rabbitmq/roles/app", json!({"tags": ""}))
            .await
            .status,
        204
    );
    let r = call(&s, "GET", "rabbitmq/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    let r = call(&s, "GET", "rabbitmq/creds/nope", Some("root"), None).await;
    assert_eq!(
        (r.status, r.errors()),
        (400, vec!["unknown role: nope".to_owned()])
    );
    let r = call(&s, "GET", "rabbitmq/roles/nope", Some("root"), None).await;
    assert_eq!((r.status, r.body.clone()), (404, json!({"errors": []})));
    let r = post(&s, "rabbitmq/roles/bad", json!({"vhosts": "notjson"})).await;
    assert_eq!(r.status, 400, "{}", r.raw);
    assert!(
        r.errors()[0].starts_with("failed to unmarshal vhosts: "),
        "{}",
        r.raw
    );
    assert_eq!(
        call(&s, "GET", "rabbitmq/roles/bad", Some("root"), None)
            .await
            .status,
        404
    );
    // A permission RabbitMQ refuses (an unknown vhost): no user is left.
    setup_connection(&s).await;
    // A token of its own, so that its users are known by name.
    let novhost_users = || async {
        let (_, users) = api_get("users", ADMIN, ADMIN_PASSWORD).await;
        users
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|u| u["name"].as_str())
            .filter(|n| n.starts_with("token-novhost-"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let before = novhost_users().await;
    let r = post(&s, "auth/token/create", json!({"display_name": "novhost"})).await;
    let token = r.body["auth"]["client_token"].as_str().unwrap().to_owned();
    let role =
        json!({"vhosts": r#"{"no-such-vhost": {"configure": ".*", "write": ".*", "read": ".*"}}"#});
    assert_eq!(post(&s, "rabbitmq/roles/novhost", role).await.status, 204);
    let r = call(&s, "GET", "rabbitmq/creds/novhost", Some(&token), None).await;
    assert_eq!(r.status, 500, "{}", r.raw);
    assert!(
        r.errors()[0].contains("failed to update permissions to the token-novhost-"),
        "{}",
        r.raw
    );
    assert_eq!(novhost_users().await, before, "a half-made user was left");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_username_template_names_the_users() {
    let s = TestServer::dev().await;
    let r = post(&s, "sys/mounts/rabbitmq", json!({"type": "rabbitmq"})).await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let connection = |t: &str| {
        json!({"connection_uri": API, "username": ADMIN, "password": ADMIN_PASSWORD,
               "username_template": t})
    };
    // Refused at write, with OpenBao's prefixes, and nothing is stored.
    for (t, says) in [
        ("{{ .Bad", "unable to initialize username template: "),
        ("{{ .Nope }}", "invalid username template: "),
    ] {
        let r = post(&s, "rabbitmq/config/connection", connection(t)).await;
        assert_eq!(r.status, 400, "{}", r.raw);
        assert!(r.errors()[0].starts_with(says), "{t}: {}", r.raw);
    }
    assert_eq!(
        post(&s, "rabbitmq/roles/app", json!({"tags": ""}))
            .await
            .status,
        204
    );
    let r = call(&s, "GET", "rabbitmq/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 400, "no connection was stored: {}", r.raw);
    let r = post(
        &s,
        "rabbitmq/config/connection",
        connection(r#"{{ printf "arca-%s-%s" (.RoleName) (random 8) | lowercase }}"#),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    let vhosts = json!({"vhosts": r#"{"/": {"configure": ".*", "write": ".*", "read": ".*"}}"#});
    assert_eq!(post(&s, "rabbitmq/roles/app", vhosts).await.status, 204);
    let r = call(&s, "GET", "rabbitmq/creds/app", Some("root"), None).await;
    assert_eq!(r.status, 200, "{}", r.raw);
    let user = r.body["data"]["username"].as_str().unwrap().to_owned();
    let password = r.body["data"]["password"].as_str().unwrap().to_owned();
    assert!(user.starts_with("arca-app-"), "{user}");
    assert_eq!(user.len(), "arca-app-".len() + 8, "{user}");
    assert_eq!(user, user.to_lowercase());
    amqp_login(&user, &password, "/").await.unwrap();
    let lease = r.body["lease_id"].as_str().unwrap().to_owned();
    let r = call(
        &s,
        "PUT",
        "sys/leases/revoke",
        Some("root"),
        Some(json!({"lease_id": lease})),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
    assert!(amqp_login(&user, &password, "/").await.is_err());
    s.stop().await;
}

async fn setup_connection(s: &TestServer) {
    let r = post(
        s,
        "rabbitmq/config/connection",
        json!({"connection_uri": API, "username": ADMIN, "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(r.status, 204, "{}", r.raw);
}

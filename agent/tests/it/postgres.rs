//! A dynamic PostgreSQL credential through arca-agent (sidecar mode), on
//! real PostgreSQL (scripts/services): the file's user logs in; its lease
//! is renewed at two thirds; when the role's max TTL stops renewals, a new
//! user replaces it in the file before the old one expires, and the old
//! lease is revoked (its user can no longer log in).

use std::time::{Duration, Instant};

use arca_agent::{Agent, Exit, config};
use serde_json::{Value, json};

use crate::common::{Sidecar, arca, postgres_role, root};

async fn pg_login(user: &str, password: &str) -> Result<(), String> {
    let conn = format!(
        "host=127.0.0.1 port=5432 dbname=postgres user={user} password={password} connect_timeout=5"
    );
    let (client, connection) = tokio_postgres::connect(&conn, tokio_postgres::NoTls)
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    client
        .simple_query("SELECT 1")
        .await
        .map_err(|e| e.to_string())?;
    Ok(())
}

fn creds(file: &std::path::Path) -> Option<(String, String)> {
    let s = std::fs::read_to_string(file).ok()?;
    let (u, p) = s.trim().split_once(':')?;
    Some((u.to_owned(), p.to_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_credentials_are_renewed_then_replaced_before_they_expire() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    postgres_role(&addr, "6s", "15s").await;
    let token = root(&addr, "POST", "auth/token/create", json!({"ttl": "1h"})).await;
    let token = token["auth"]["client_token"].as_str().unwrap().to_owned();
    std::fs::write(dir.path().join("token"), &token).unwrap();
    let hcl = format!(
        r#"
revoke_on_shutdown = true
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{d}/token"
    }}
  }}
}}
template {{
  destination = "{d}/db"
  perms       = "0600"
  contents    = "{{{{ with secret \"database/creds/app\" }}}}{{{{ .Data.username }}}}:{{{{ .Data.password }}}}{{{{ end }}}}"
}}
"#,
        d = dir.path().display()
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    let run = Sidecar::start(cfg);
    let file = dir.path().join("db");
    let started = Instant::now();
    let mut first = None;
    while first.is_none() && started.elapsed() < Duration::from_secs(10) {
        first = creds(&file);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (user1, pass1) = first.expect("the credentials were never rendered");
    pg_login(&user1, &pass1)
        .await
        .expect("the first user logs in");

    // Past the first 6 s lease: renewed, so the same user still works.
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(creds(&file).unwrap().0, user1, "replaced too early");
    pg_login(&user1, &pass1)
        .await
        .expect("the renewed user logs in after its first TTL");

    // The max TTL (15 s) stops the renewals: a new user in the file before
    // the old one runs out, and the old one revoked.
    let mut second = None;
    while started.elapsed() < Duration::from_secs(30) {
        if let Some(c) = creds(&file).filter(|c| c.0 != user1) {
            second = Some((c, started.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ((user2, pass2), at) = second.expect("the credentials were never replaced");
    assert!(
        at < Duration::from_secs(15),
        "replaced only after the max TTL: {at:?}"
    );
    pg_login(&user2, &pass2)
        .await
        .expect("the new user logs in");
    let mut old_refused = false;
    for _ in 0..50 {
        if pg_login(&user1, &pass1).await.is_err() {
            old_refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(old_refused, "the replaced user still logs in");
    // revoke_on_shutdown: stopping the sidecar revokes what it holds.
    assert_eq!(run.stop().await, Exit::Stopped);
    assert!(
        pg_login(&user2, &pass2).await.is_err(),
        "the sidecar's user survived its shutdown"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sidecar_takes_over_the_init_containers_credentials() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    postgres_role(&addr, "6s", "60s").await;
    let token = root(&addr, "POST", "auth/token/create", json!({"ttl": "1h"})).await;
    std::fs::write(
        d.join("token"),
        token["auth"]["client_token"].as_str().unwrap(),
    )
    .unwrap();
    let hcl = |exit_after_auth: bool| {
        format!(
            r#"
exit_after_auth = {exit_after_auth}
handoff_file = "{d}/handoff"
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{d}/token"
    }}
  }}
}}
template {{
  destination = "{d}/db"
  contents    = "{{{{ with secret \"database/creds/app\" }}}}{{{{ .Data.username }}}}:{{{{ .Data.password }}}}{{{{ end }}}}"
}}
"#,
            d = d.display()
        )
    };
    let leases = || async {
        root(
            &addr,
            "LIST",
            "sys/leases/lookup/database/creds/app",
            Value::Null,
        )
        .await["data"]["keys"]
            .as_array()
            .map_or(0, Vec::len)
    };
    // The init container: renders, leaves its token and secrets.
    let cfg = config::from_hcl(&hcl(true), "init.hcl").unwrap();
    let exit = Agent::new(cfg)
        .unwrap()
        .run(Some(Duration::from_secs(30)), std::future::pending())
        .await
        .unwrap();
    assert_eq!(exit, Exit::Rendered);
    let (user, pass) = creds(&d.join("db")).unwrap();
    assert_eq!(leases().await, 1);
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join("handoff"))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(mode, 0o600);
    }
    // The sidecar: the same user, no second lease, renewed past its TTL.
    let cfg = config::from_hcl(&hcl(false), "sidecar.hcl").unwrap();
    let run = Sidecar::start(cfg);
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(
        creds(&d.join("db")).unwrap().0,
        user,
        "the sidecar minted its own user"
    );
    assert_eq!(leases().await, 1, "a second lease was made");
    pg_login(&user, &pass)
        .await
        .expect("the init container's user, renewed by the sidecar, logs in past its TTL");
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_proxy_adds_the_token_and_serves_leased_answers_again() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    postgres_role(&addr, "1h", "").await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"x": "y"}}),
    )
    .await;
    let token = root(&addr, "POST", "auth/token/create", json!({"ttl": "1h"})).await;
    std::fs::write(
        d.join("token"),
        token["auth"]["client_token"].as_str().unwrap(),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let hcl = format!(
        r#"
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{d}/token"
    }}
  }}
}}
api_proxy {{
  use_auto_auth_token = true
}}
cache {{}}
listener "tcp" {{
  address     = "127.0.0.1:{port}"
  tls_disable = true
}}
"#,
        d = d.display()
    );
    let cfg = config::from_hcl(&hcl, "agent.hcl").unwrap();
    assert!(cfg.warnings.is_empty(), "{:?}", cfg.warnings);
    let run = Sidecar::start(cfg);
    let proxy = format!("http://127.0.0.1:{port}/v1");
    let get = |path: &str| {
        let url = format!("{proxy}/{path}");
        async move {
            for _ in 0..50 {
                if let Ok(r) = reqwest::get(&url).await {
                    let status = r.status().as_u16();
                    return (status, r.json::<Value>().await.unwrap_or(Value::Null));
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("the proxy does not answer");
        }
    };
    // The proxy listens from the start; the agent's token exists once it
    // has logged in (before that a request goes through without one, as
    // with Vault Agent).
    let metrics = format!("http://127.0.0.1:{port}/agent/v1/metrics");
    let t = std::time::Instant::now();
    loop {
        let text = match reqwest::get(&metrics).await {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.lines().any(|l| l == "arca_agent_logins_total 1") {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(10), "no login: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // No token in the request: the agent's is added.
    let (status, body) = get("secret/data/app").await;
    assert_eq!(
        (status, &body["data"]["data"]["x"]),
        (200, &json!("y")),
        "{body}"
    );
    // Credentials: the second read is the first answer again, and logs in.
    let (_, first) = get("database/creds/app").await;
    let (_, again) = get("database/creds/app").await;
    assert_eq!(first["data"]["username"], again["data"]["username"]);
    assert_eq!(first["lease_id"], again["lease_id"]);
    pg_login(
        first["data"]["username"].as_str().unwrap(),
        first["data"]["password"].as_str().unwrap(),
    )
    .await
    .unwrap();
    let leases = root(
        &addr,
        "LIST",
        "sys/leases/lookup/database/creds/app",
        Value::Null,
    )
    .await;
    assert_eq!(
        leases["data"]["keys"].as_array().map(Vec::len),
        Some(1),
        "{leases}"
    );
    // The server's own answers pass through: a path that is not there.
    let (status, _) = get("secret/data/nothing").await;
    assert_eq!(status, 404);
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lease_revoked_on_the_server_is_replaced_at_once() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    postgres_role(&addr, "1h", "2h").await;
    let token = root(&addr, "POST", "auth/token/create", json!({"ttl": "1h"})).await;
    let token = token["auth"]["client_token"].as_str().unwrap().to_owned();
    std::fs::write(dir.path().join("token"), &token).unwrap();
    let hcl = format!(
        r#"
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{d}/token"
    }}
  }}
}}
template {{
  destination = "{d}/db"
  contents    = "{{{{ with secret \"database/creds/app\" }}}}{{{{ .Data.username }}}}:{{{{ .Data.password }}}}{{{{ end }}}}"
}}
"#,
        d = dir.path().display()
    );
    let run = Sidecar::start(config::from_hcl(&hcl, "agent.hcl").unwrap());
    let file = dir.path().join("db");
    let started = Instant::now();
    let mut first = None;
    while first.is_none() && started.elapsed() < Duration::from_secs(10) {
        first = creds(&file);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (user1, _) = first.expect("the credentials were never rendered");
    // Let the event stream connect, then an operator revokes every lease
    // of the role (a leaked password, say).
    tokio::time::sleep(Duration::from_millis(500)).await;
    root(
        &addr,
        "PUT",
        "sys/leases/revoke-prefix/database/creds/app",
        Value::Null,
    )
    .await;
    let revoked = Instant::now();
    let mut second = None;
    while second.is_none() && revoked.elapsed() < Duration::from_secs(2) {
        second = creds(&file).filter(|c| c.0 != user1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (user2, pass2) = second.expect("the revoked credentials stayed in the file (no push)");
    pg_login(&user2, &pass2)
        .await
        .expect("the new user logs in");
    assert_eq!(run.stop().await, Exit::Stopped);
}

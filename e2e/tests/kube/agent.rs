//! arca-agent in a pod's place, against the real API server: it logs in
//! with a TokenRequest token of a real ServiceAccount (kubernetes auth
//! through TokenReview), renders a KV v2 secret and PostgreSQL credentials
//! (10 s TTL, 30 s max TTL) in init mode, then keeps them fresh as a
//! sidecar: the credentials log in, are renewed, and are replaced before
//! the max TTL ends them, the old user revoked; a KV write reaches its file.

use std::path::Path;
use std::time::{Duration, Instant};

use arca_agent::{Agent, Exit, config};
use arca_e2e::{Cluster, TestNamespace};
use serde_json::json;

use crate::arca::Arca;

pub(crate) const PG_URL: &str =
    "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable";

pub(crate) async fn pg_login(user: &str, password: &str) -> Result<(), String> {
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

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn agent_config(arca: &Arca, dir: &Path, exit_after_auth: bool) -> config::Config {
    let hcl = format!(
        r#"
exit_after_auth = {exit_after_auth}
vault {{
  address = "http://{addr}"
}}
auto_auth {{
  method "kubernetes" {{
    mount_path = "auth/kubernetes"
    config = {{
      role       = "app"
      token_path = "{d}/sa-token"
    }}
  }}
  sink "file" {{
    config = {{
      path = "{d}/agent-token"
    }}
  }}
}}
template_config {{
  static_secret_render_interval = "1s"
}}
template {{
  destination = "{d}/secrets/db"
  perms       = "0600"
  contents    = "{{{{ with secret \"database/creds/app\" }}}}{{{{ .Data.username }}}}:{{{{ .Data.password }}}}{{{{ end }}}}"
}}
template {{
  destination = "{d}/secrets/config"
  perms       = "0640"
  contents    = "{{{{ with secret \"secret/app\" }}}}{{{{ .Data.data.greeting }}}}{{{{ end }}}}"
}}
"#,
        addr = arca.addr,
        d = dir.display()
    );
    config::from_hcl(&hcl, "agent.hcl").unwrap()
}

/// Kubernetes auth through the real API server (role `app` for the
/// namespace's `app` service account, audience `arca`), a policy reading
/// `secret/data/app` and `database/creds/app`, the KV secret (`greeting:
/// hello`), and PostgreSQL role `app` (10 s TTL, 30 s max TTL).
pub(crate) async fn configure(cluster: &Cluster, ns: &TestNamespace, arca: &Arca) {
    let reviewer = crate::kubernetes_auth::setup(cluster, ns, arca).await;
    arca.must("POST", "sys/auth/kubernetes", json!({"type": "kubernetes"}))
        .await;
    arca.must(
        "POST",
        "auth/kubernetes/config",
        json!({"kubernetes_host": cluster.server_url(), "kubernetes_ca_cert": cluster.ca_pem(),
               "token_reviewer_jwt": reviewer, "disable_local_ca_jwt": true}),
    )
    .await;
    arca.must(
        "PUT",
        "sys/policies/acl/agent",
        json!({"policy": "path \"secret/data/app\" { capabilities = [\"read\"] }\npath \"database/creds/app\" { capabilities = [\"read\"] }"}),
    )
    .await;
    arca.must(
        "POST",
        "auth/kubernetes/role/app",
        json!({"bound_service_account_names": "app", "bound_service_account_namespaces": ns.name,
               "audience": "arca", "token_policies": "agent", "token_ttl": "10m"}),
    )
    .await;
    arca.must(
        "POST",
        "secret/data/app",
        json!({"data": {"greeting": "hello"}}),
    )
    .await;
    arca.must("POST", "sys/mounts/database", json!({"type": "database"}))
        .await;
    arca.must(
        "POST",
        "database/config/pg",
        json!({"plugin_name": "postgresql-database-plugin", "connection_url": PG_URL,
               "username": "arca_test_admin", "password": "arca-test-admin", "allowed_roles": "app"}),
    )
    .await;
    arca.must(
        "POST",
        "database/roles/app",
        json!({"db_name": "pg", "default_ttl": "10s", "max_ttl": "30s",
               "creation_statements": "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';"}),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_logs_in_as_a_service_account_and_keeps_secrets_fresh() {
    let cluster = Cluster::connect().await;
    let ns = cluster.namespace().await;
    let arca = Arca::dev().await;
    configure(&cluster, &ns, &arca).await;
    // The pod's projected token, as the kubelet writes it.
    let dir = tempfile::tempdir().unwrap();
    let jwt = cluster.token(&ns.name, "app", &["arca"], 600).await;
    std::fs::write(dir.path().join("sa-token"), jwt).unwrap();

    // Init: everything rendered once, then exit.
    let exit = Agent::new(agent_config(&arca, dir.path(), true))
        .unwrap()
        .run(Some(Duration::from_secs(60)), std::future::pending())
        .await
        .unwrap();
    assert_eq!(exit, Exit::Rendered);
    let db = dir.path().join("secrets/db");
    let conf = dir.path().join("secrets/config");
    assert_eq!(read(&conf), "hello");
    let (u0, p0) = read(&db)
        .split_once(':')
        .map(|(u, p)| (u.to_owned(), p.to_owned()))
        .unwrap();
    pg_login(&u0, &p0)
        .await
        .expect("the init container's user logs in");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!((mode(&db), mode(&conf)), (0o600, 0o640));
    }

    // Sidecar: fresh from here on.
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cfg = agent_config(&arca, dir.path(), false);
    let sidecar = tokio::spawn(async move {
        Agent::new(cfg)
            .unwrap()
            .run(None, async {
                let _ = stopped.await;
            })
            .await
    });
    let started = Instant::now();
    let mut first = None;
    while started.elapsed() < Duration::from_secs(10) {
        if let Some((u, p)) = read(&db).split_once(':').filter(|(u, _)| *u != u0) {
            first = Some((u.to_owned(), p.to_owned()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (user1, pass1) = first.expect("the sidecar did not render its own credentials");
    pg_login(&user1, &pass1)
        .await
        .expect("the sidecar's user logs in");

    // A KV write reaches the file within the refresh interval (1 s) and a bit.
    let written = Instant::now();
    arca.must(
        "POST",
        "secret/data/app",
        json!({"data": {"greeting": "bonjour"}}),
    )
    .await;
    while read(&conf) != "bonjour" {
        assert!(
            written.elapsed() < Duration::from_secs(3),
            "the KV write did not reach the file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Past the first 10 s lease: renewed, the same user still logs in.
    tokio::time::sleep(Duration::from_secs(12).saturating_sub(started.elapsed())).await;
    assert_eq!(read(&db).split_once(':').unwrap().0, user1);
    pg_login(&user1, &pass1)
        .await
        .expect("the renewed user logs in past its first TTL");
    // Before the 30 s max TTL: replaced, the file never empty meanwhile.
    let mut replaced = None;
    while started.elapsed() < Duration::from_secs(32) {
        let now = read(&db);
        assert!(!now.is_empty(), "the credentials file was empty");
        if let Some((u, p)) = now.split_once(':').filter(|(u, _)| *u != user1) {
            replaced = Some((u.to_owned(), p.to_owned(), started.elapsed()));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (user2, pass2, at) = replaced.expect("the credentials were not replaced");
    assert!(
        at < Duration::from_secs(30),
        "replaced after the max TTL: {at:?}"
    );
    pg_login(&user2, &pass2)
        .await
        .expect("the replacement logs in");
    let mut refused = false;
    for _ in 0..50 {
        if pg_login(&user1, &pass1).await.is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the replaced user still logs in");
    stop.send(()).unwrap();
    assert_eq!(sidecar.await.unwrap().unwrap(), Exit::Stopped);
    arca.stop().await;
    ns.delete().await;
}

//! The `database` secrets engine: connections (`config/:name`), roles
//! (`roles/:name`) and credentials (`creds/:role`): a new database user
//! for each read, with a lease; revoking the lease drops the user, renewing
//! it moves the user's expiry in the database. OpenBao's paths, fields and
//! answers. Plugins: plugin.rs (PostgreSQL so far).
//!
//! What a lease keeps (`internal`): the username, the role and the
//! connection's name, so the user can be dropped even after the role is
//! deleted (with the default statements then). Passwords are never kept.

mod config;
mod mysql;
mod plugin;
mod postgres;
mod redis;
mod role;
mod static_role;
pub mod template;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;

use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::expiration::leases::LeaseEntry;
use crate::logical::{Operation, Request, Response, SecretLease};
use crate::secret::SecretString;
use crate::ttl::Limits;

use config::DbConfig;
use plugin::{Plugin, PluginError, Statements};
use role::Role;

/// `config/<name>` -> DbConfig.
const CONFIG_PREFIX: &str = "config/";
/// `role/<name>` -> Role.
const ROLE_PREFIX: &str = "role/";

pub struct Database {
    view: View,
    clock: Clock,
    /// Open connections by config name; dropped when the config changes.
    connections: tokio::sync::Mutex<HashMap<String, Arc<dyn Plugin>>>,
    /// One root rotation at a time.
    rotating: tokio::sync::Mutex<()>,
}

pub fn new(view: View, clock: Clock) -> Arc<dyn Backend> {
    let db = Arc::new(Database {
        view,
        clock,
        connections: tokio::sync::Mutex::new(HashMap::new()),
        rotating: tokio::sync::Mutex::new(()),
    });
    // Static roles rotate on their own while the mount exists.
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        rt.spawn(static_role::ticker(Arc::downgrade(&db)));
    }
    db
}

/// A plugin's failure as the client sees it, without `secret` in it.
fn upstream(e: PluginError, secret: &str) -> Error {
    Error::Upstream(redact(&e.0, secret))
}

/// `msg` without `secret`, whole or in part: a database quotes the token
/// it choked on (`syntax error at or near "..."`, `near '...' at line 1`),
/// which may be a piece of an unquoted password cut at a `-`. Any run of
/// six or more characters of the secret goes, and any quoted piece that is
/// a part of it.
fn redact(msg: &str, secret: &str) -> String {
    if secret.is_empty() {
        return msg.to_owned();
    }
    const RUN: usize = 6;
    let mut whole = String::with_capacity(msg.len());
    let mut i = 0;
    while i < msg.len() {
        // The longest run of the secret starting here.
        let mut len = 0;
        for end in (i + 1..=msg.len()).rev() {
            if msg.is_char_boundary(end) && secret.contains(&msg[i..end]) {
                len = end - i;
                break;
            }
        }
        if len >= RUN.min(secret.len()) {
            whole.push_str("[redacted]");
            i += len;
        } else {
            let step = msg[i..].chars().next().map_or(1, char::len_utf8);
            whole.push_str(&msg[i..i + step]);
            i += step;
        }
    }
    let mut out = String::with_capacity(whole.len());
    let mut rest = whole.as_str();
    // Quoted pieces, in either quote.
    while let Some(open) = rest.find(['"', '\'']) {
        let q = rest[open..].chars().next().unwrap_or('"');
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let Some(close) = rest.find(q) else {
            break;
        };
        let piece = &rest[..close];
        if !piece.is_empty() && secret.contains(piece) {
            out.push_str("[redacted]");
        } else {
            out.push_str(piece);
        }
        out.push(q);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn internal_str<'a>(lease: &'a LeaseEntry, key: &str) -> &'a str {
    lease
        .internal
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
}

impl Database {
    async fn config(&self, name: &str) -> Result<Option<DbConfig>> {
        Ok(self
            .view
            .get_json::<DbConfig>(&format!("{CONFIG_PREFIX}{name}"))
            .await?)
    }

    async fn role(&self, name: &str) -> Result<Option<Role>> {
        Ok(self
            .view
            .get_json::<Role>(&format!("{ROLE_PREFIX}{name}"))
            .await?)
    }

    /// The connection of config `name`, opened if need be.
    async fn connection(&self, name: &str) -> Result<(Arc<dyn Plugin>, DbConfig)> {
        let config = self.config(name).await?.ok_or_else(|| {
            Error::invalid(format!(
                "error getting database connection: no database named {name:?}"
            ))
        })?;
        let mut open = self.connections.lock().await;
        // A rotation a crash interrupted is settled before first use (one
        // under way holds the lock and settles nothing here).
        let config = match self.rotating.try_lock() {
            Ok(_rotation) if config.rotating_password.is_some() && !open.contains_key(name) => {
                self.settle_rotation(name, config).await?
            }
            _ => config,
        };
        if let Some(p) = open.get(name) {
            return Ok((Arc::clone(p), config));
        }
        let p: Arc<dyn Plugin> = plugin::open(&config)
            .map_err(|e| Error::invalid(format!("error getting database connection: {e}")))?
            .into();
        open.insert(name.to_owned(), Arc::clone(&p));
        Ok((p, config))
    }

    async fn drop_connection(&self, name: &str) {
        if let Some(p) = self.connections.lock().await.remove(name) {
            p.reset().await;
        }
    }

    async fn list(&self, prefix: &str) -> Result<Response> {
        let keys = self.view.list(prefix).await?;
        if keys.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::list(keys))
    }

    async fn handle_config(&self, req: &Request, name: &str) -> Result<Response> {
        let key = format!("{CONFIG_PREFIX}{name}");
        match req.operation {
            Operation::Read => self
                .config(name)
                .await?
                .map(|c| Response::data(c.to_read()))
                .ok_or(Error::NotFound),
            Operation::Create | Operation::Update => {
                let (config, verify) = DbConfig::from_write(self.config(name).await?, &req.data)?;
                if verify {
                    let p = plugin::open(&config).map_err(|e| {
                        Error::invalid(format!("error creating database object: {e}"))
                    })?;
                    p.verify().await.map_err(|e| {
                        Error::invalid(format!(
                            "error creating database object: {}",
                            upstream(e, config.password.expose())
                        ))
                    })?;
                    p.reset().await;
                }
                self.view.put_json(&key, &config).await?;
                self.drop_connection(name).await;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.view.delete(&key).await?;
                self.drop_connection(name).await;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    async fn handle_role(&self, req: &Request, name: &str) -> Result<Response> {
        let key = format!("{ROLE_PREFIX}{name}");
        match req.operation {
            Operation::Read => self
                .role(name)
                .await?
                .map(|r| Response::data(r.to_read()))
                .ok_or(Error::NotFound),
            Operation::Create | Operation::Update => {
                let role = Role::from_write(self.role(name).await?, &req.data)?;
                self.view.put_json(&key, &role).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.view.delete(&key).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    /// `creds/:role`: a new user, valid for the role's TTL (within the
    /// mount's max), and its lease.
    async fn creds(&self, req: &Request, name: &str) -> Result<Response> {
        if req.operation != Operation::Read {
            return Err(Error::UnsupportedOperation);
        }
        let role = self
            .role(name)
            .await?
            .ok_or_else(|| Error::invalid(format!("unknown role: {name}")))?;
        let (plugin, config) = self.connection(&role.db_name).await?;
        if !config.allows(name) {
            return Err(Error::invalid(format!("{name:?} is not an allowed role")));
        }
        let (default_ttl, max_ttl) = role.ttls();
        let limits = Limits {
            default: req.mount_default_ttl,
            max: max_ttl.map_or(req.mount_max_ttl, |m| m.min(req.mount_max_ttl)),
            explicit_max: Duration::ZERO,
            period: Duration::ZERO,
        };
        let ttl = limits.grant(default_ttl).ttl;
        let now = OffsetDateTime::from(self.clock.now());
        let display = req
            .token_entry
            .as_ref()
            .map_or("token", |t| t.display_name.as_str());
        let username = match config
            .detail_str("username_template")
            .filter(|t| !t.is_empty())
        {
            Some(t) => {
                template::render_username(&t, display, name, now).map_err(Error::Upstream)?
            }
            None => plugin.username(display, name, now),
        };
        let password =
            crate::password_policy::password_for(req, &config.password_policy, template::password)
                .await?;
        let expiration = template::expiration(now + ttl);
        plugin
            .new_user(&role.statements(), &username, &password, &expiration)
            .await
            .map_err(|e| upstream(e, &password))?;
        let mut data = Map::new();
        data.insert("password".into(), json!(password));
        data.insert("username".into(), json!(username));
        let mut internal = Map::new();
        internal.insert("username".into(), json!(username));
        internal.insert("role".into(), json!(name));
        internal.insert("db_name".into(), json!(role.db_name));
        Ok(Response {
            data: Some(data),
            secret: Some(Box::new(SecretLease {
                ttl: Some(ttl),
                max_ttl,
                renewable: true,
                internal,
            })),
            ..Default::default()
        })
    }

    /// `rotate-root/:name`: a new password for the config's own user, set
    /// in the database and kept only here. The new password is stored
    /// (as pending) before the database is told, so a crash in between
    /// loses neither: `settle_rotation` finds which one works.
    async fn rotate_root(&self, name: &str) -> Result<Response> {
        let key = format!("{CONFIG_PREFIX}{name}");
        let _guard = self.rotating.lock().await;
        let config = self.config(name).await?.ok_or_else(|| {
            Error::Upstream(format!(
                "failed to find entry for connection with name: {name:?}"
            ))
        })?;
        let mut config = self.settle_rotation(name, config).await?;
        if config.username.is_empty() {
            return Err(Error::Upstream(
                "unable to rotate root credentials: no username in configuration".into(),
            ));
        }
        let (plugin, _) = self.connection(name).await?;
        let password = SecretString::new(template::password());
        config.rotating_password = Some(password.clone());
        self.view.put_json(&key, &config).await?;
        if let Err(e) = plugin
            .set_root_password(
                &config.root_rotation_statements,
                &config.username,
                password.expose(),
            )
            .await
        {
            // The database kept the old password.
            config.rotating_password = None;
            self.view.put_json(&key, &config).await?;
            return Err(Error::Upstream(format!(
                "failed to update user: {}",
                redact(&e.0, password.expose())
            )));
        }
        config.password = password;
        config.rotating_password = None;
        self.view.put_json(&key, &config).await?;
        self.drop_connection(name).await;
        Ok(Response::empty())
    }

    /// A rotation interrupted by a crash: keep whichever password the
    /// database takes. The caller holds `rotating`.
    async fn settle_rotation(&self, name: &str, mut config: DbConfig) -> Result<DbConfig> {
        let Some(pending) = config.rotating_password.take() else {
            return Ok(config);
        };
        let mut candidate = config.clone();
        candidate.password = pending;
        let works = match plugin::open(&candidate) {
            Ok(p) => {
                let ok = p.verify().await.is_ok();
                p.reset().await;
                ok
            }
            Err(_) => false,
        };
        let settled = if works { candidate } else { config };
        self.view
            .put_json(&format!("{CONFIG_PREFIX}{name}"), &settled)
            .await?;
        Ok(settled)
    }

    /// The statements and connection a lease's user is renewed or
    /// revoked with: its role's, or the defaults once the role is gone.
    async fn for_lease(&self, lease: &LeaseEntry) -> Result<(Arc<dyn Plugin>, Statements)> {
        let statements = match self.role(internal_str(lease, "role")).await? {
            Some(r) => r.statements(),
            None => Statements::default(),
        };
        let (plugin, _) = self.connection(internal_str(lease, "db_name")).await?;
        Ok((plugin, statements))
    }
}

#[async_trait]
impl Backend for Database {
    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        let op = req.operation;
        match rel.as_str() {
            "config" | "config/" if op == Operation::List => self.list(CONFIG_PREFIX).await,
            "roles" | "roles/" if op == Operation::List => self.list(ROLE_PREFIX).await,
            "static-roles" | "static-roles/" if op == Operation::List => {
                self.list(static_role::STATIC_PREFIX).await
            }
            r => {
                let (kind, name) = r.split_once('/').unwrap_or((r, ""));
                if name.is_empty() || name.contains('/') {
                    return Err(Error::UnsupportedPath);
                }
                match kind {
                    "config" => self.handle_config(req, name).await,
                    "roles" => self.handle_role(req, name).await,
                    "creds" => self.creds(req, name).await,
                    "static-roles" => self.handle_static_role(req, name).await,
                    "static-creds" => self.static_creds(req, name).await,
                    "rotate-role" if !matches!(op, Operation::Update | Operation::Create) => {
                        Err(Error::UnsupportedOperation)
                    }
                    "rotate-role" => self.rotate_role(name).await,
                    "rotate-root" | "reset"
                        if !matches!(op, Operation::Update | Operation::Create) =>
                    {
                        Err(Error::UnsupportedOperation)
                    }
                    "rotate-root" => self.rotate_root(name).await,
                    "reset" => {
                        self.config(name)
                            .await?
                            .ok_or_else(|| Error::invalid(format!("no database named {name:?}")))?;
                        self.drop_connection(name).await;
                        Ok(Response::empty())
                    }
                    _ => Err(Error::UnsupportedPath),
                }
            }
        }
    }

    fn may_lease(&self, req: &Request) -> bool {
        req.operation == Operation::Read && req.rel_path().starts_with("creds/")
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let rel = req.rel_path();
        if let Some(name) = rel.strip_prefix("config/") {
            return Ok(Some(self.config(name).await?.is_some()));
        }
        if let Some(name) = rel.strip_prefix("roles/") {
            return Ok(Some(self.role(name).await?.is_some()));
        }
        if let Some(name) = rel.strip_prefix("static-roles/") {
            return Ok(Some(self.static_role(name).await?.is_some()));
        }
        Ok(None)
    }

    async fn revoke_secret(&self, lease: &LeaseEntry) -> Result<()> {
        let username = internal_str(lease, "username");
        if username.is_empty() {
            return Ok(());
        }
        let (plugin, statements) = self.for_lease(lease).await?;
        plugin
            .revoke_user(&statements, username)
            .await
            .map_err(|e| upstream(e, ""))
    }

    async fn renew_secret(&self, lease: &LeaseEntry, ttl: Duration) -> Result<()> {
        let (plugin, statements) = self.for_lease(lease).await?;
        let expiration = template::expiration(OffsetDateTime::from(self.clock.now()) + ttl);
        plugin
            .renew_user(&statements, internal_str(lease, "username"), &expiration)
            .await
            .map_err(|e| upstream(e, ""))
    }
}

#[cfg(test)]
mod tests {
    use super::redact;
    use super::*;

    /// A rotation that stored its new password and then crashed, before or
    /// after telling the database: the next use keeps whichever password
    /// the database takes. Needs the PostgreSQL of scripts/services.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_rotation_settles_on_the_password_the_database_takes() {
        let admin = "host=127.0.0.1 port=5432 dbname=postgres user=arca_test_admin password=arca-test-admin";
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL with arca_test_admin (scripts/services)");
        tokio::spawn(conn);
        let user = format!("arca_settle_{}", template::random(8).to_lowercase());
        client
            .batch_execute(&format!(
                "CREATE ROLE {user} WITH LOGIN PASSWORD 'old-pw-123'"
            ))
            .await
            .unwrap();
        let (_, view) = crate::storage::gate::Gate::with_view("db/").await;
        let mut config = DbConfig::from_write(
            None,
            &serde_json::from_value(json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
                "username": user, "password": "old-pw-123", "allowed_roles": "*"}))
            .unwrap(),
        )
        .unwrap()
        .0;
        for (told_database, want) in [(false, "old-pw-123"), (true, "new-pw-456")] {
            config.password = SecretString::new("old-pw-123".into());
            config.rotating_password = Some(SecretString::new("new-pw-456".into()));
            client
                .batch_execute(&format!(
                    "ALTER ROLE {user} WITH PASSWORD '{}'",
                    if told_database {
                        "new-pw-456"
                    } else {
                        "old-pw-123"
                    }
                ))
                .await
                .unwrap();
            let db = Database {
                view: view.clone(),
                clock: Clock::system(),
                connections: tokio::sync::Mutex::new(HashMap::new()),
                rotating: tokio::sync::Mutex::new(()),
            };
            db.view.put_json("config/pg", &config).await.unwrap();
            let (plugin, settled) = db.connection("pg").await.unwrap();
            assert_eq!(settled.password.expose(), want);
            assert!(settled.rotating_password.is_none());
            plugin.verify().await.unwrap();
            let stored = db.config("pg").await.unwrap().unwrap();
            assert_eq!(stored.password.expose(), want);
            assert!(stored.rotating_password.is_none());
        }
        client
            .batch_execute(&format!("DROP ROLE {user}"))
            .await
            .unwrap();
    }

    /// The same for a static role's rotation: the next use keeps the
    /// password the database takes for the role's user.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_static_rotation_settles_too() {
        let admin = "host=127.0.0.1 port=5432 dbname=postgres user=arca_test_admin password=arca-test-admin";
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .expect("PostgreSQL with arca_test_admin (scripts/services)");
        tokio::spawn(conn);
        let user = format!("arca_stsettle_{}", template::random(8).to_lowercase());
        client
            .batch_execute(&format!(
                "CREATE ROLE {user} WITH LOGIN PASSWORD 'old-pw-123'"
            ))
            .await
            .unwrap();
        let (_, view) = crate::storage::gate::Gate::with_view("db/").await;
        let config = DbConfig::from_write(
            None,
            &serde_json::from_value(json!({
                "plugin_name": "postgresql-database-plugin",
                "connection_url": "postgresql://{{username}}:{{password}}@127.0.0.1:5432/postgres?sslmode=disable",
                "username": "arca_test_admin", "password": "arca-test-admin", "allowed_roles": "*"}))
            .unwrap(),
        )
        .unwrap()
        .0;
        let db = Database {
            view: view.clone(),
            clock: Clock::system(),
            connections: tokio::sync::Mutex::new(HashMap::new()),
            rotating: tokio::sync::Mutex::new(()),
        };
        db.view.put_json("config/pg", &config).await.unwrap();
        for (told_database, want) in [(false, "old-pw-123"), (true, "new-pw-456")] {
            client
                .batch_execute(&format!(
                    "ALTER ROLE {user} WITH PASSWORD '{}'",
                    if told_database {
                        "new-pw-456"
                    } else {
                        "old-pw-123"
                    }
                ))
                .await
                .unwrap();
            let role = static_role::StaticRole {
                db_name: "pg".into(),
                username: user.clone(),
                rotation_period: 3600,
                rotation_statements: Vec::new(),
                password: SecretString::new("old-pw-123".into()),
                last_vault_rotation: 1,
                pending_password: Some(SecretString::new("new-pw-456".into())),
            };
            db.view.put_json("static-role/st", &role).await.unwrap();
            let settled = db.settle("st", role).await.unwrap();
            assert_eq!(settled.password.expose(), want);
            assert!(settled.pending_password.is_none());
            let stored = db.static_role("st").await.unwrap().unwrap();
            assert_eq!(stored.password.expose(), want);
            assert!(stored.pending_password.is_none());
        }
        client
            .batch_execute(&format!("DROP ROLE {user}"))
            .await
            .unwrap();
    }

    #[test]
    fn passwords_are_redacted_whole_and_in_quoted_pieces() {
        let pw = "HBoiwEp4g2sV2nZ9-AbC";
        assert_eq!(
            redact(
                "syntax error at or near \"HBoiwEp4g2sV2nZ9\" (SQLSTATE 42601)",
                pw
            ),
            "syntax error at or near \"[redacted]\" (SQLSTATE 42601)"
        );
        assert_eq!(redact(&format!("bad {pw} here"), pw), "bad [redacted] here");
        assert_eq!(
            redact("role \"v-root-app-x\" already exists", pw),
            "role \"v-root-app-x\" already exists"
        );
        assert_eq!(redact("x \"\" y", pw), "x \"\" y");
        assert_eq!(
            redact("near \"A\"", pw),
            "near \"[redacted]\"",
            "one letter of it too"
        );
        assert_eq!(redact("as is", ""), "as is");
        // MariaDB quotes the rest of the statement from where it choked.
        assert_eq!(
            redact(
                "near '-AbC' at line 1 and near 'Ep4g2sV2nZ9-AbC;\nGRANT x' at line 2",
                pw
            ),
            "near '[redacted]' at line 1 and near '[redacted];\nGRANT x' at line 2"
        );
        assert_eq!(redact("ünïcode 'x' \"y", pw), "ünïcode 'x' \"y");
    }
}

//! `mysql-database-plugin` (and its `-aurora-`, `-rds-` and `-legacy-`
//! names, which make 16-character usernames): users made and dropped on a
//! MySQL or MariaDB server with the role's statements (or Vault's default
//! revocation), through a connection pool per config.
//!
//! The connection URL is Go's DSN, as Vault takes it
//! (`{{username}}:{{password}}@tcp(127.0.0.1:3306)/`), or a
//! `mysql://` URL. MySQL commits each `CREATE USER` and `GRANT` at once,
//! so a transaction cannot undo a creation that failed halfway: the
//! role's rollback statements run then, or when it has none its
//! revocation statements (Vault's default: drop the user), so that no
//! half-made user is left.
//!
//! Errors name what the server said, never the statement: the statements
//! carry the new password.

use async_trait::async_trait;
use mysql_async::prelude::Queryable;
use mysql_async::{Opts, OptsBuilder, Pool};

use super::plugin::{Plugin, PluginError, Statements};
use super::template::{NameShape, fill, split};
use crate::secret::SecretString;

/// Vault's default revocation for MySQL.
const DEFAULT_REVOKE: &str =
    "REVOKE ALL PRIVILEGES, GRANT OPTION FROM '{{name}}'@'%'; DROP USER '{{name}}'@'%';";

/// Vault's default root rotation for MySQL.
const DEFAULT_ROTATE_ROOT: &str = "ALTER USER '{{username}}'@'%' IDENTIFIED BY '{{password}}';";
/// What undoes a failed creation when the role says nothing.
const DEFAULT_ROLLBACK: &str = "DROP USER IF EXISTS '{{name}}'@'%';";

pub struct Mysql {
    pool: Pool,
    shape: NameShape,
}

fn db_error(e: &mysql_async::Error) -> PluginError {
    // `ERROR 1064 (42000): You have an error in your SQL syntax...` from
    // the server, else the client's own (connection refused...).
    match e {
        mysql_async::Error::Server(s) => {
            PluginError(format!("Error {} ({}): {}", s.code, s.state, s.message))
        }
        other => PluginError(other.to_string()),
    }
}

/// Options from a Go DSN: `user:password@tcp(host:port)/db?params` (also
/// `unix(/path/to/socket)`), with the credentials in place of
/// `{{username}}`/`{{password}}`. The error never repeats the URL.
fn dsn_opts(template: &str, username: &str, password: &SecretString) -> Result<Opts, String> {
    if template.starts_with("mysql://") {
        let url = super::plugin::connection_url(template, username, password);
        return Opts::from_url(url.expose())
            .map_err(|_| "invalid connection_url: not a valid mysql:// URL".to_owned());
    }
    let bad =
        || "invalid connection_url: expected user:password@tcp(host:port)/database".to_owned();
    // The credentials go in after the DSN is split, so that they may hold
    // any character.
    let (creds, rest) = template.rsplit_once('@').unwrap_or(("", template));
    let (user, pass) = creds.split_once(':').unwrap_or((creds, ""));
    let user = user.replace("{{username}}", username);
    let pass = pass.replace("{{password}}", password.expose());
    // The address may hold `/` itself (`unix(/run/mysqld/mysqld.sock)`).
    let (addr, path) = match rest.find(')') {
        Some(end) if rest.contains('(') => {
            let (addr, path) = rest.split_at(end + 1);
            (addr, path.strip_prefix('/').ok_or_else(bad)?)
        }
        _ => rest.split_once('/').ok_or_else(bad)?,
    };
    let db = path.split_once('?').map_or(path, |(db, _)| db);
    let mut b = OptsBuilder::default()
        .user((!user.is_empty()).then_some(user))
        .pass((!pass.is_empty()).then_some(pass))
        .db_name((!db.is_empty()).then_some(db));
    if let Some(inner) = addr.strip_prefix("tcp(").and_then(|a| a.strip_suffix(')')) {
        let (host, port) = match inner.rsplit_once(':') {
            Some((h, p)) => (h, p.parse::<u16>().map_err(|_| bad())?),
            None => (inner, 3306),
        };
        b = b.ip_or_hostname(host).tcp_port(port);
    } else if let Some(sock) = addr.strip_prefix("unix(").and_then(|a| a.strip_suffix(')')) {
        b = b.socket(Some(sock));
    } else if addr.is_empty() {
        b = b.ip_or_hostname("127.0.0.1").tcp_port(3306);
    } else {
        return Err(bad());
    }
    Ok(b.into())
}

impl Mysql {
    pub fn new(
        template: &str,
        username: &str,
        password: &SecretString,
        shape: NameShape,
    ) -> Result<Self, String> {
        let opts = dsn_opts(template, username, password)?;
        Ok(Self {
            pool: Pool::new(opts),
            shape,
        })
    }

    async fn conn(&self) -> Result<mysql_async::Conn, PluginError> {
        self.pool
            .get_conn()
            .await
            .map_err(|e| PluginError(format!("error verifying connection: {}", db_error(&e).0)))
    }

    /// Runs `statements` (filled in) in one transaction (which undoes
    /// what MySQL lets a transaction undo).
    async fn run(
        &self,
        statements: &[String],
        name: &str,
        password: &str,
        expiration: &str,
    ) -> Result<(), PluginError> {
        let mut conn = self.conn().await?;
        let mut tx = conn
            .start_transaction(mysql_async::TxOpts::default())
            .await
            .map_err(|e| db_error(&e))?;
        for s in split(statements) {
            tx.query_drop(fill(&s, name, password, expiration))
                .await
                .map_err(|e| PluginError(format!("failed to execute query: {}", db_error(&e).0)))?;
        }
        tx.commit().await.map_err(|e| db_error(&e))
    }

    async fn user_exists(&self, name: &str) -> Result<bool, PluginError> {
        let mut conn = self.conn().await?;
        let found: Option<u8> = conn
            .exec_first("SELECT 1 FROM mysql.user WHERE User = ? LIMIT 1", (name,))
            .await
            .map_err(|e| db_error(&e))?;
        Ok(found.is_some())
    }
}

#[async_trait]
impl Plugin for Mysql {
    fn name_shape(&self) -> NameShape {
        self.shape
    }

    async fn verify(&self) -> Result<(), PluginError> {
        let mut conn = self.conn().await?;
        conn.ping().await.map_err(|e| db_error(&e))
    }

    async fn reset(&self) {
        // Idle connections close; the pool opens new ones on next use.
        let _ = self.pool.clone().disconnect().await;
    }

    async fn new_user(
        &self,
        s: &Statements,
        name: &str,
        password: &str,
        expiration: &str,
    ) -> Result<(), PluginError> {
        if s.creation.is_empty() {
            return Err(PluginError("creation statements are required".into()));
        }
        if let Err(e) = self.run(&s.creation, name, password, expiration).await {
            let undo = if !s.rollback.is_empty() {
                s.rollback.clone()
            } else if !s.revocation.is_empty() {
                s.revocation.clone()
            } else {
                vec![DEFAULT_ROLLBACK.to_owned()]
            };
            if let Err(r) = self.run(&undo, name, password, expiration).await {
                tracing::warn!(error = %r.0, "database rollback statements failed");
            }
            return Err(e);
        }
        Ok(())
    }

    async fn renew_user(
        &self,
        s: &Statements,
        name: &str,
        expiration: &str,
    ) -> Result<(), PluginError> {
        // MySQL users do not expire by themselves: a renewal runs only the
        // role's own renew statements.
        if s.renew.is_empty() {
            return Ok(());
        }
        self.run(&s.renew, name, "", expiration).await
    }

    async fn set_root_password(
        &self,
        statements: &[String],
        name: &str,
        password: &str,
    ) -> Result<(), PluginError> {
        let rotate = if statements.is_empty() {
            vec![DEFAULT_ROTATE_ROOT.to_owned()]
        } else {
            statements.to_vec()
        };
        self.run(&rotate, name, password, "").await
    }

    async fn revoke_user(&self, s: &Statements, name: &str) -> Result<(), PluginError> {
        if s.revocation.is_empty() && !self.user_exists(name).await? {
            // Revoked before (or never made): nothing to undo.
            return Ok(());
        }
        let revoke = if s.revocation.is_empty() {
            vec![DEFAULT_REVOKE.to_owned()]
        } else {
            s.revocation.clone()
        };
        self.run(&revoke, name, "", "").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dsn: &str) -> Opts {
        dsn_opts(dsn, "admin", &SecretString::new("p@ss:w/rd)".into())).unwrap()
    }

    #[test]
    fn go_dsns_are_read_with_any_password() {
        let o = opts("{{username}}:{{password}}@tcp(db.example:3307)/app?tls=false");
        assert_eq!(o.user(), Some("admin"));
        assert_eq!(o.pass(), Some("p@ss:w/rd)"));
        assert_eq!(o.ip_or_hostname(), "db.example");
        assert_eq!(o.tcp_port(), 3307);
        assert_eq!(o.db_name(), Some("app"));
        let o = opts("{{username}}:{{password}}@tcp(127.0.0.1)/");
        assert_eq!(o.tcp_port(), 3306);
        assert_eq!(o.db_name(), None);
        let o = opts("root:fixed@unix(/run/mysqld/mysqld.sock)/");
        assert_eq!(o.user(), Some("root"));
        assert_eq!(o.pass(), Some("fixed"));
        assert_eq!(o.socket(), Some("/run/mysqld/mysqld.sock"));
        let o = opts("mysql://{{username}}:{{password}}@localhost:3306/x");
        assert_eq!(o.pass(), Some("p@ss:w/rd)"));
    }

    #[test]
    fn a_bad_dsn_is_refused_without_repeating_it() {
        for bad in [
            "admin:secret-pw@db:3306",
            "admin:secret-pw@tcp(db:port)/",
            "admin:secret-pw@udp(db)/",
        ] {
            let e = dsn_opts(bad, "", &SecretString::new(String::new()))
                .err()
                .unwrap();
            assert!(!e.contains("secret-pw"), "{e}");
        }
    }
}

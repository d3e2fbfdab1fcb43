//! `postgresql-database-plugin`: users made, renewed and dropped on a
//! PostgreSQL server with the role's statements (or Vault's defaults),
//! through one connection per config, opened on first use and opened again
//! after it fails. A role's creation statements run in one transaction:
//! if one fails, none has happened (and the rollback statements run), so
//! no half-made user is left.
//!
//! Errors name what the server said, never the statement: the statements
//! carry the new password.

use async_trait::async_trait;
use tokio_postgres::NoTls;

use super::plugin::{Plugin, PluginError, Statements};
use super::template::{self, NameShape, fill, split};
use crate::secret::SecretString;

/// Vault's default renewal: move the expiry.
const DEFAULT_RENEW: &str = "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';";
/// Drop what the user owns and was granted in this database, then the
/// user (Vault's default revocation does the same, schema by schema).
const DEFAULT_REVOKE: &str = "DROP OWNED BY \"{{name}}\"; DROP ROLE IF EXISTS \"{{name}}\";";

pub struct Postgres {
    /// The connection URL with `{{username}}`/`{{password}}` filled in.
    url: SecretString,
    client: tokio::sync::Mutex<Option<tokio_postgres::Client>>,
}

fn db_error(e: &tokio_postgres::Error) -> PluginError {
    // The server's own message (`ERROR: syntax error at or near "CREAT"
    // (SQLSTATE 42601)`), else the client's (connection refused...).
    let msg = match e.as_db_error() {
        Some(db) => format!(
            "{}: {} (SQLSTATE {})",
            db.severity(),
            db.message(),
            db.code().code()
        ),
        None => e.to_string(),
    };
    PluginError(msg)
}

impl Postgres {
    pub fn new(url: SecretString) -> Self {
        Self {
            url,
            client: tokio::sync::Mutex::new(None),
        }
    }

    /// The open connection, opening one if there is none (or it broke).
    async fn client(
        &self,
    ) -> Result<tokio::sync::MutexGuard<'_, Option<tokio_postgres::Client>>, PluginError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(|c| c.is_closed()) {
            let (client, connection) = tokio_postgres::connect(self.url.expose(), NoTls)
                .await
                .map_err(|e| {
                    PluginError(format!("error verifying connection: {}", db_error(&e).0))
                })?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection closed");
                }
            });
            *guard = Some(client);
        }
        Ok(guard)
    }

    /// Runs `statements` (filled in) in one transaction.
    async fn run(
        &self,
        statements: &[String],
        name: &str,
        password: &str,
        expiration: &str,
    ) -> Result<(), PluginError> {
        let mut guard = self.client().await?;
        let Some(client) = guard.as_mut() else {
            return Err(PluginError("no connection".into()));
        };
        let tx = client.transaction().await.map_err(|e| db_error(&e))?;
        for s in split(statements) {
            tx.batch_execute(&fill(&s, name, password, expiration))
                .await
                .map_err(|e| PluginError(format!("failed to execute query: {}", db_error(&e).0)))?;
        }
        tx.commit().await.map_err(|e| db_error(&e))
    }

    async fn role_exists(&self, name: &str) -> Result<bool, PluginError> {
        let guard = self.client().await?;
        let Some(client) = guard.as_ref() else {
            return Err(PluginError("no connection".into()));
        };
        let row = client
            .query_opt("SELECT 1 FROM pg_roles WHERE rolname = $1", &[&name])
            .await
            .map_err(|e| db_error(&e))?;
        Ok(row.is_some())
    }
}

#[async_trait]
impl Plugin for Postgres {
    fn name_shape(&self) -> NameShape {
        template::POSTGRES_NAME
    }

    async fn verify(&self) -> Result<(), PluginError> {
        let guard = self.client().await?;
        match guard.as_ref() {
            Some(c) => c
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| db_error(&e)),
            None => Err(PluginError("no connection".into())),
        }
    }

    async fn reset(&self) {
        *self.client.lock().await = None;
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
            // The transaction is rolled back; a role's own rollback
            // statements undo what lives outside it.
            if !s.rollback.is_empty() {
                if let Err(r) = self.run(&s.rollback, name, password, expiration).await {
                    tracing::warn!(error = %r.0, "database rollback statements failed");
                }
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
        let renew = if s.renew.is_empty() {
            vec![DEFAULT_RENEW.to_owned()]
        } else {
            s.renew.clone()
        };
        self.run(&renew, name, "", expiration).await
    }

    async fn revoke_user(&self, s: &Statements, name: &str) -> Result<(), PluginError> {
        if s.revocation.is_empty() && !self.role_exists(name).await? {
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

//! `postgresql-database-plugin`: users made, renewed and dropped on a
//! PostgreSQL server with the role's statements (or Vault's defaults),
//! through a pool of connections per config (`max_open_connections`,
//! default 4 as Vault's), opened on first use; a connection that broke is
//! not put back. A role's creation statements run in one transaction:
//! if one fails, none has happened (and the rollback statements run), so
//! no half-made user is left.
//!
//! Errors name what the server said, never the statement: the statements
//! carry the new password.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_postgres::NoTls;

use super::plugin::{Plugin, PluginError, Statements};
use super::template::{self, NameShape, fill, split};
use crate::secret::SecretString;

/// Vault's default root rotation.
const DEFAULT_ROTATE_ROOT: &str = "ALTER ROLE \"{{name}}\" WITH PASSWORD '{{password}}';";
/// Vault's default renewal: move the expiry.
const DEFAULT_RENEW: &str = "ALTER ROLE \"{{name}}\" VALID UNTIL '{{expiration}}';";
/// Drop what the user owns and was granted in this database, then the
/// user (Vault's default revocation does the same, schema by schema).
const DEFAULT_REVOKE: &str = "DROP OWNED BY \"{{name}}\"; DROP ROLE IF EXISTS \"{{name}}\";";

pub struct Postgres {
    /// The connection URL with `{{username}}`/`{{password}}` filled in.
    url: SecretString,
    /// Connections not in use.
    idle: std::sync::Mutex<Vec<tokio_postgres::Client>>,
    /// One permit per connection that may be open.
    open: Arc<tokio::sync::Semaphore>,
}

/// Vault's default `max_open_connections`.
pub const DEFAULT_MAX_OPEN: usize = 4;

/// A connection taken from the pool; it goes back when dropped, unless it
/// broke.
struct Pooled<'a> {
    pool: &'a Postgres,
    client: Option<tokio_postgres::Client>,
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl std::ops::Deref for Pooled<'_> {
    type Target = tokio_postgres::Client;
    fn deref(&self) -> &Self::Target {
        // Set from creation until drop.
        self.client.as_ref().unwrap_or_else(|| unreachable!())
    }
}

impl std::ops::DerefMut for Pooled<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.client.as_mut().unwrap_or_else(|| unreachable!())
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            if !c.is_closed() {
                self.pool
                    .idle
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(c);
            }
        }
    }
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
    pub fn new(url: SecretString, max_open: usize) -> Self {
        Self {
            url,
            idle: std::sync::Mutex::new(Vec::new()),
            open: Arc::new(tokio::sync::Semaphore::new(max_open.max(1))),
        }
    }

    /// A connection: an idle one, or a new one if fewer than the maximum
    /// are open (else wait for one).
    async fn client(&self) -> Result<Pooled<'_>, PluginError> {
        let permit = Arc::clone(&self.open)
            .acquire_owned()
            .await
            .map_err(|_| PluginError("the connection pool is closed".into()))?;
        loop {
            let idle = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
            match idle {
                Some(c) if c.is_closed() => continue,
                Some(c) => {
                    return Ok(Pooled {
                        pool: self,
                        client: Some(c),
                        _permit: permit,
                    });
                }
                None => break,
            }
        }
        let (client, connection) = tokio_postgres::connect(self.url.expose(), NoTls)
            .await
            .map_err(|e| PluginError(format!("error verifying connection: {}", db_error(&e).0)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "database connection closed");
            }
        });
        Ok(Pooled {
            pool: self,
            client: Some(client),
            _permit: permit,
        })
    }

    /// Runs `statements` (filled in) in one transaction.
    async fn run(
        &self,
        statements: &[String],
        name: &str,
        password: &str,
        expiration: &str,
    ) -> Result<(), PluginError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| db_error(&e))?;
        for s in split(statements) {
            tx.batch_execute(&fill(&s, name, password, expiration))
                .await
                .map_err(|e| PluginError(format!("failed to execute query: {}", db_error(&e).0)))?;
        }
        tx.commit().await.map_err(|e| db_error(&e))
    }

    async fn role_exists(&self, name: &str) -> Result<bool, PluginError> {
        let client = self.client().await?;
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
        let client = self.client().await?;
        client
            .simple_query("SELECT 1")
            .await
            .map(|_| ())
            .map_err(|e| db_error(&e))
    }

    async fn reset(&self) {
        // Idle connections close now; the engine drops this pool on a
        // reset, so those in use close when their requests end.
        self.idle.lock().unwrap_or_else(|p| p.into_inner()).clear();
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

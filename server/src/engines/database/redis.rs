//! `redis-database-plugin`: ACL users made and deleted on a Redis server
//! (6.0 or later), as Vault's plugin does. The config gives `host` and
//! `port` (no URL) and the privileged `username`/`password`. A role's
//! first creation statement is a JSON list of ACL rules (else each
//! statement is one rule; `["~*", "+@read"]` when it has none); the user
//! is made with
//! `ACL SETUSER <name> ON ><password> <rules...>` and revoked with
//! `ACL DELUSER`. Redis users do not expire by themselves: renewal moves
//! only the lease.

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{ConnectionAddr, IntoConnectionInfo, RedisConnectionInfo};

use super::config::DbConfig;
use super::plugin::{Plugin, PluginError, Statements};
use super::template::{self, NameShape};

/// Vault's default rules: read every key.
const DEFAULT_RULES: &str = r#"["~*", "+@read"]"#;

pub struct Redis {
    client: redis::Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
}

/// The server's answer as OpenBao's plugin reports it
/// (`response returned from Conn: ERR Error in ACL SETUSER ...`), else
/// the client's own error.
fn redis_error(e: &redis::RedisError) -> PluginError {
    match (e.code(), e.detail()) {
        (Some(code), Some(detail)) => {
            PluginError(format!("response returned from Conn: {code} {detail}"))
        }
        _ => PluginError(e.to_string()),
    }
}

impl Redis {
    pub fn new(config: &DbConfig) -> Result<Self, String> {
        let host = config.detail_str("host").unwrap_or_default();
        let port = config
            .detail_str("port")
            .and_then(|p| p.parse::<u16>().ok())
            .ok_or("invalid port")?;
        let mut settings = RedisConnectionInfo::default();
        if !config.username.is_empty() {
            settings = settings.set_username(&config.username);
        }
        if !config.password.expose().is_empty() {
            settings = settings.set_password(config.password.expose());
        }
        let info = ConnectionAddr::Tcp(host, port)
            .into_connection_info()
            .map_err(|e| e.to_string())?
            .set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|e| e.to_string())?;
        Ok(Self {
            client,
            conn: tokio::sync::Mutex::new(None),
        })
    }

    /// The open connection, opening one if there is none.
    async fn conn(&self) -> Result<MultiplexedConnection, PluginError> {
        let mut guard = self.conn.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let c = self
            .client
            .get_multiplexed_async_connection()
            .await
            .map_err(|e| PluginError(format!("error verifying connection: {e}")))?;
        *guard = Some(c.clone());
        Ok(c)
    }

    /// Runs a command; a connection that failed is dropped, so the next
    /// command opens a new one.
    async fn run(&self, cmd: &redis::Cmd) -> Result<redis::Value, PluginError> {
        let mut c = self.conn().await?;
        match cmd.query_async::<redis::Value>(&mut c).await {
            Ok(v) => Ok(v),
            Err(e) => {
                if e.is_io_error() || e.is_connection_dropped() {
                    *self.conn.lock().await = None;
                }
                Err(redis_error(&e))
            }
        }
    }
}

/// The ACL rules of a role's creation statements: a JSON list in the
/// first, or else each statement one rule, as OpenBao takes them.
fn rules(s: &Statements) -> Vec<String> {
    let statements: Vec<&str> = s
        .creation
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty())
        .collect();
    let first = statements.first().copied().unwrap_or(DEFAULT_RULES);
    match serde_json::from_str::<Vec<String>>(first) {
        Ok(rules) => rules,
        Err(_) => statements.into_iter().map(str::to_owned).collect(),
    }
}

#[async_trait]
impl Plugin for Redis {
    fn name_shape(&self) -> NameShape {
        template::REDIS_NAME
    }

    async fn verify(&self) -> Result<(), PluginError> {
        self.run(&redis::cmd("PING")).await.map(|_| ())
    }

    async fn reset(&self) {
        *self.conn.lock().await = None;
    }

    async fn new_user(
        &self,
        s: &Statements,
        name: &str,
        password: &str,
        _expiration: &str,
    ) -> Result<(), PluginError> {
        let rules = rules(s);
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg(name)
            .arg("ON")
            .arg(format!(">{password}"));
        for r in &rules {
            cmd.arg(r);
        }
        // SETUSER applies all its rules or none: nothing to undo.
        self.run(&cmd).await.map(|_| ())
    }

    async fn renew_user(
        &self,
        _s: &Statements,
        _name: &str,
        _expiration: &str,
    ) -> Result<(), PluginError> {
        Ok(())
    }

    async fn set_root_password(
        &self,
        _statements: &[String],
        name: &str,
        password: &str,
    ) -> Result<(), PluginError> {
        let mut cmd = redis::cmd("ACL");
        cmd.arg("SETUSER")
            .arg(name)
            .arg("RESETPASS")
            .arg(format!(">{password}"));
        self.run(&cmd).await.map(|_| ())
    }

    async fn revoke_user(&self, _s: &Statements, name: &str) -> Result<(), PluginError> {
        // Deleting a user that is gone answers 0, not an error.
        let mut cmd = redis::cmd("ACL");
        cmd.arg("DELUSER").arg(name);
        self.run(&cmd).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_come_from_the_first_statement_or_the_default() {
        let mut s = Statements::default();
        assert_eq!(rules(&s), ["~*", "+@read"]);
        s.creation = vec![" ".into(), r#"["~app:*", "+get", "+set"]"#.into()];
        assert_eq!(rules(&s), ["~app:*", "+get", "+set"]);
        s.creation = vec!["+@all".into()];
        assert_eq!(rules(&s), ["+@all"]);
        s.creation = vec!["~l:*".into(), "+set".into()];
        assert_eq!(rules(&s), ["~l:*", "+set"]);
    }
}

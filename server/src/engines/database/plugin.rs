//! What a database plugin does (`Plugin`), and the plugins Arca has, by
//! Vault's `plugin_name`.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::config::DbConfig;
use super::template::{self, NameShape};
use crate::secret::SecretString;

/// A plugin's failure: the database's message, never a statement (they
/// carry passwords).
#[derive(Debug)]
pub struct PluginError(pub String);

/// A role's statements, as the plugin runs them.
#[derive(Debug, Clone, Default)]
pub struct Statements {
    pub creation: Vec<String>,
    pub revocation: Vec<String>,
    pub rollback: Vec<String>,
    pub renew: Vec<String>,
}

#[async_trait]
pub trait Plugin: Send + Sync {
    /// How this database's usernames are made.
    fn name_shape(&self) -> NameShape;

    /// A new username for `role`, asked for by a token named `display`.
    fn username(&self, display: &str, role: &str, now: OffsetDateTime) -> String {
        template::username(display, role, now, self.name_shape())
    }

    /// Can the server be reached with the configured credentials?
    async fn verify(&self) -> Result<(), PluginError>;

    /// Drops the connection; the next use opens a new one
    /// (`database/reset/:name`).
    async fn reset(&self);

    /// Creates `name` with `password`, valid until `expiration`.
    async fn new_user(
        &self,
        s: &Statements,
        name: &str,
        password: &str,
        expiration: &str,
    ) -> Result<(), PluginError>;

    /// Moves `name`'s expiry.
    async fn renew_user(
        &self,
        s: &Statements,
        name: &str,
        expiration: &str,
    ) -> Result<(), PluginError>;

    /// Drops `name`; a user that is gone already is not an error.
    async fn revoke_user(&self, s: &Statements, name: &str) -> Result<(), PluginError>;

    /// Gives the config's own user `name` the password `password`, with
    /// the config's root rotation statements or the plugin's default.
    async fn set_root_password(
        &self,
        statements: &[String],
        name: &str,
        password: &str,
    ) -> Result<(), PluginError>;
}

/// The plugins Arca has.
pub const PLUGINS: &[&str] = &[
    "postgresql-database-plugin",
    "mysql-database-plugin",
    "mysql-aurora-database-plugin",
    "mysql-rds-database-plugin",
    "mysql-legacy-database-plugin",
    "redis-database-plugin",
    "valkey-database-plugin",
];

/// The plugins that speak to Redis (and Valkey, its fork).
fn is_redis(name: &str) -> bool {
    matches!(name, "redis-database-plugin" | "valkey-database-plugin")
}

/// What a plugin needs of a config, checked at write.
pub fn check(config: &DbConfig) -> Result<(), String> {
    if let Some(t) = config
        .detail_str("username_template")
        .filter(|t| !t.is_empty())
    {
        // A trial render: a template that cannot make a name is refused
        // now, not at the first credentials.
        template::render_username(&t, "token", "role", OffsetDateTime::now_utc())?;
    }
    if is_redis(&config.plugin_name) {
        if config.detail_str("host").is_none_or(|h| h.is_empty()) {
            return Err("host cannot be empty".into());
        }
        let port = config.detail_str("port").unwrap_or_default();
        if port.is_empty() {
            return Err("port cannot be empty".into());
        }
        if port.parse::<u16>().is_err() {
            return Err(format!("invalid port {port:?}"));
        }
        if config
            .detail("tls")
            .is_some_and(|t| t == true || t == "true")
        {
            return Err("tls is not supported by Arca's redis plugin yet".into());
        }
        return Ok(());
    }
    if config.connection_url.is_empty() {
        return Err("connection_url cannot be empty".into());
    }
    Ok(())
}

/// Percent-encodes what goes into a URL's user info.
fn userinfo(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The connection URL with the config's username and password filled in.
pub fn connection_url(template: &str, username: &str, password: &SecretString) -> SecretString {
    SecretString::new(
        template
            .replace("{{username}}", &userinfo(username))
            .replace("{{password}}", &userinfo(password.expose())),
    )
}

/// The connection a config describes (opened on first use).
pub fn open(config: &DbConfig) -> Result<Box<dyn Plugin>, String> {
    let legacy = matches!(
        config.plugin_name.as_str(),
        "mysql-aurora-database-plugin"
            | "mysql-rds-database-plugin"
            | "mysql-legacy-database-plugin"
    );
    match config.plugin_name.as_str() {
        "postgresql-database-plugin" => Ok(Box::new(super::postgres::Postgres::new(
            connection_url(&config.connection_url, &config.username, &config.password),
            config
                .detail_str("max_open_connections")
                .and_then(|n| n.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or(super::postgres::DEFAULT_MAX_OPEN),
        ))),
        "mysql-database-plugin"
        | "mysql-aurora-database-plugin"
        | "mysql-rds-database-plugin"
        | "mysql-legacy-database-plugin" => Ok(Box::new(super::mysql::Mysql::new(
            &config.connection_url,
            &config.username,
            &config.password,
            if legacy {
                template::MYSQL_LEGACY_NAME
            } else {
                template::MYSQL_NAME
            },
        )?)),
        name if is_redis(name) => Ok(Box::new(super::redis::Redis::new(config)?)),
        other => Err(format!("plugin not found in the catalog: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_escaped_into_the_url() {
        let url = connection_url(
            "postgresql://{{username}}:{{password}}@db:5432/app",
            "admin",
            &SecretString::new("p@ss:w/rd".into()),
        );
        assert_eq!(
            url.expose(),
            "postgresql://admin:p%40ss%3Aw%2Frd@db:5432/app"
        );
    }
}

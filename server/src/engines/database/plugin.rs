//! What a database plugin does (`Plugin`), and the plugins Arca has, by
//! Vault's `plugin_name`.

use async_trait::async_trait;

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
}

/// The plugins Arca has.
pub const PLUGINS: &[&str] = &["postgresql-database-plugin"];

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

/// The plugin named `name`, for a connection URL.
pub fn open(name: &str, url: SecretString) -> Option<Box<dyn Plugin>> {
    match name {
        "postgresql-database-plugin" => Some(Box::new(super::postgres::Postgres::new(url))),
        _ => None,
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

//! `database/config/:name`: a database connection (plugin, URL, the
//! privileged username and password, which roles may use it). A write
//! updates the fields it gives, as Vault's; a read never returns the
//! password. Fields the endpoint does not take are ignored, as Vault's
//! framework does on a 204.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::plugin::PLUGINS;
use crate::error::{Error, Result};
use crate::fields;
use crate::secret::SecretString;

#[derive(Clone, Serialize, Deserialize)]
pub struct DbConfig {
    pub plugin_name: String,
    #[serde(default)]
    pub plugin_version: String,
    /// For the SQL plugins; Redis takes `host` and `port` instead.
    #[serde(default)]
    pub connection_url: String,
    /// The plugin's own connection fields as written (`DETAIL_FIELDS`).
    #[serde(default)]
    pub details: Map<String, Value>,
    #[serde(default)]
    pub username: String,
    #[serde(default, with = "crate::secret::stored")]
    pub password: SecretString,
    /// Role names, or `*` for every role.
    #[serde(default)]
    pub allowed_roles: Vec<String>,
    #[serde(default)]
    pub password_policy: String,
    #[serde(default)]
    pub root_rotation_statements: Vec<String>,
    /// A root rotation under way: the new password, stored before the
    /// database is told, so that a crash in between loses neither (the
    /// next use of the connection finds which one the database takes).
    #[serde(default, with = "crate::secret::stored_opt")]
    pub rotating_password: Option<SecretString>,
}

/// Connection fields a plugin takes besides the URL and credentials, kept
/// as written and shown back under `connection_details`.
const DETAIL_FIELDS: &[&str] = &[
    "host",
    "port",
    "tls",
    "insecure_tls",
    "ca_cert",
    "max_open_connections",
    "max_idle_connections",
    "max_connection_lifetime",
    "username_template",
    "disable_escaping",
];

impl DbConfig {
    /// A plugin field: a string, number or bool as written.
    pub fn detail(&self, field: &str) -> Option<&Value> {
        self.details.get(field).filter(|v| !v.is_null())
    }

    /// A plugin field read as a string (`"6379"` and `6379` alike).
    pub fn detail_str(&self, field: &str) -> Option<String> {
        match self.detail(field)? {
            Value::String(s) => Some(s.clone()),
            v @ (Value::Number(_) | Value::Bool(_)) => Some(v.to_string()),
            _ => None,
        }
    }

    /// A write: the fields given, over `existing` if there is one; and
    /// whether to check the connection (`verify_connection`, default true).
    pub fn from_write(existing: Option<DbConfig>, d: &Map<String, Value>) -> Result<(Self, bool)> {
        let plugin_name = fields::string(d, "plugin_name")?
            .filter(|p| !p.is_empty())
            .or_else(|| existing.as_ref().map(|c| c.plugin_name.clone()))
            .ok_or_else(|| Error::invalid("empty plugin name"))?;
        if !PLUGINS.contains(&plugin_name.as_str()) {
            return Err(Error::invalid(format!(
                "error creating database object: plugin not found in the catalog: {plugin_name}"
            )));
        }
        let connection_url = fields::string(d, "connection_url")?
            .or_else(|| existing.as_ref().map(|c| c.connection_url.clone()))
            .unwrap_or_default();
        let mut details = existing
            .as_ref()
            .map(|c| c.details.clone())
            .unwrap_or_default();
        for field in DETAIL_FIELDS {
            match d.get(*field) {
                Some(v @ (Value::String(_) | Value::Number(_) | Value::Bool(_))) => {
                    details.insert((*field).to_owned(), v.clone());
                }
                Some(Value::Null) | None => {}
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "error creating database object: {field} must be a string, number or boolean"
                    )));
                }
            }
        }
        let keep = |field: &str, old: Option<String>| -> Result<String> {
            Ok(fields::string(d, field)?.or(old).unwrap_or_default())
        };
        let c = DbConfig {
            username: keep("username", existing.as_ref().map(|c| c.username.clone()))?,
            password: match fields::string(d, "password")? {
                Some(p) => SecretString::new(p),
                None => existing
                    .as_ref()
                    .map(|c| c.password.clone())
                    .unwrap_or_else(|| SecretString::new(String::new())),
            },
            allowed_roles: match fields::string_list(d, "allowed_roles")? {
                Some(r) => r,
                None => existing
                    .as_ref()
                    .map(|c| c.allowed_roles.clone())
                    .unwrap_or_default(),
            },
            password_policy: keep(
                "password_policy",
                existing.as_ref().map(|c| c.password_policy.clone()),
            )?,
            plugin_version: keep(
                "plugin_version",
                existing.as_ref().map(|c| c.plugin_version.clone()),
            )?,
            root_rotation_statements: match fields::string_list(d, "root_rotation_statements")? {
                Some(r) => r,
                None => existing
                    .as_ref()
                    .map(|c| c.root_rotation_statements.clone())
                    .unwrap_or_default(),
            },
            plugin_name,
            connection_url,
            details,
            rotating_password: existing.as_ref().and_then(|c| c.rotating_password.clone()),
        };
        super::plugin::check(&c)
            .map_err(|e| Error::invalid(format!("error creating database object: {e}")))?;
        let verify = fields::bool(d, "verify_connection")?.unwrap_or(true);
        Ok((c, verify))
    }

    /// The read shape: no password.
    pub fn to_read(&self) -> Map<String, Value> {
        let mut details = self.details.clone();
        if !self.connection_url.is_empty() {
            details.insert("connection_url".into(), json!(self.connection_url));
        }
        details.insert("username".into(), json!(self.username));
        let v = json!({
            "allowed_roles": self.allowed_roles,
            "connection_details": details,
            "password_policy": self.password_policy,
            "plugin_name": self.plugin_name,
            "plugin_version": self.plugin_version,
            "root_credentials_rotate_statements": self.root_rotation_statements,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    /// May `role` use this connection?
    pub fn allows(&self, role: &str) -> bool {
        self.allowed_roles.iter().any(|r| r == "*" || r == role)
    }
}

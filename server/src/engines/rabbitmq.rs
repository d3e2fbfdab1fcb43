//! The `rabbitmq` secrets engine: a RabbitMQ user for each read of
//! `creds/:role`, made through the management HTTP API with the role's
//! tags and permissions, with a lease; revoking the lease deletes the
//! user. OpenBao's paths, fields and answers:
//!
//! - `config/connection` (write only): `connection_uri` (the management
//!   API), `username`, `password`, `verify_connection` (default true),
//!   `password_policy` (a `sys/policies/password` policy the passwords
//!   are made by), `username_template` (Go text/template with
//!   `.DisplayName`, `.RoleName` and Vault's functions; tried at write).
//! - `config/lease`: `ttl`, `max_ttl` of the credentials (0: the mount's).
//! - `roles/:name`: `tags`, `vhosts` (JSON: vhost -> configure/write/read
//!   patterns), `vhost_topics` (JSON: vhost -> exchange -> write/read).
//! - `creds/:name`: username `<display name>-<uuid>` (or the
//!   `username_template`'s), a 36-character password (or the policy's).
//!
//! The password is never kept; a lease keeps the username.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::backend::Backend;
use crate::barrier::View;
use crate::engines::database::template::render_username;
use crate::error::{Error, Result};
use crate::expiration::leases::LeaseEntry;
use crate::fields;
use crate::logical::{Operation, Request, Response, SecretLease};
use crate::secret::SecretString;

const CONNECTION_KEY: &str = "config/connection";
const LEASE_KEY: &str = "config/lease";
const ROLE_PREFIX: &str = "role/";
/// How long a call to the management API may take.
const TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone, Serialize, Deserialize)]
struct Connection {
    connection_uri: String,
    username: String,
    #[serde(with = "crate::secret::stored")]
    password: SecretString,
    #[serde(default)]
    password_policy: String,
    #[serde(default)]
    username_template: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct LeaseConfig {
    /// Seconds.
    ttl: u64,
    max_ttl: u64,
}

/// A vhost's permissions: patterns of resource names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct VhostPermission {
    #[serde(default)]
    configure: String,
    #[serde(default)]
    write: String,
    #[serde(default)]
    read: String,
}

/// An exchange's topic permissions in a vhost.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TopicPermission {
    #[serde(default)]
    write: String,
    #[serde(default)]
    read: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Role {
    #[serde(default)]
    tags: String,
    #[serde(default)]
    vhosts: std::collections::BTreeMap<String, VhostPermission>,
    #[serde(default)]
    vhost_topics:
        std::collections::BTreeMap<String, std::collections::BTreeMap<String, TopicPermission>>,
}

pub struct Rabbitmq {
    view: View,
    http: reqwest::Client,
}

pub fn new(view: View) -> Result<Arc<dyn Backend>> {
    let http = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|e| Error::Internal(format!("the rabbitmq HTTP client: {e}")))?;
    Ok(Arc::new(Rabbitmq { view, http }))
}

/// A JSON field given as a JSON string (as Vault takes it) or as the value.
fn json_field<T: serde::de::DeserializeOwned + Default>(
    d: &Map<String, Value>,
    field: &str,
) -> Result<Option<T>> {
    let parsed = match d.get(field) {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(Some(T::default())),
        Some(Value::String(s)) => serde_json::from_str(s),
        Some(v) => serde_json::from_value(v.clone()),
    };
    parsed
        .map(Some)
        .map_err(|e| Error::invalid(format!("failed to unmarshal {field}: {e}")))
}

/// One path segment of the management API (`/` is the default vhost).
fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The management API's failure, as OpenBao's client words it.
fn api_error(status: reqwest::StatusCode) -> String {
    format!("Error: API responded with a {status}")
}

/// A 36-character base62 password, as OpenBao's default.
fn password() -> String {
    use rand::Rng;
    const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..36)
        .map(|_| char::from(ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())]))
        .collect()
}

impl Rabbitmq {
    async fn connection(&self) -> Result<Option<Connection>> {
        Ok(self.view.get_json(CONNECTION_KEY).await?)
    }

    async fn role(&self, name: &str) -> Result<Option<Role>> {
        Ok(self.view.get_json(&format!("{ROLE_PREFIX}{name}")).await?)
    }

    /// A call to the management API; an answer other than 2xx is an error
    /// (404 is `Ok(false)` where `missing_ok`).
    async fn call(
        &self,
        c: &Connection,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        missing_ok: bool,
    ) -> std::result::Result<bool, String> {
        let url = format!("{}/api/{path}", c.connection_uri.trim_end_matches('/'));
        let mut req = self
            .http
            .request(method, url)
            .basic_auth(&c.username, Some(c.password.expose()));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| {
            // reqwest's message names the URL, never the credentials.
            let mut msg = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                msg.push_str(&format!(": {s}"));
                source = s.source();
            }
            msg
        })?;
        let status = resp.status();
        if status.is_success() {
            Ok(true)
        } else if missing_ok && status == reqwest::StatusCode::NOT_FOUND {
            Ok(false)
        } else {
            Err(api_error(status))
        }
    }

    async fn write_connection(&self, req: &Request) -> Result<Response> {
        let d = &req.data;
        let required = |field: &str| -> Result<String> {
            fields::string(d, field)?
                .filter(|v| !v.is_empty())
                .ok_or_else(|| Error::invalid(format!("missing {field}")))
        };
        let c = Connection {
            connection_uri: required("connection_uri")?,
            username: required("username")?,
            password: SecretString::new(required("password")?),
            password_policy: fields::string(d, "password_policy")?.unwrap_or_default(),
            username_template: fields::string(d, "username_template")?.unwrap_or_default(),
        };
        if !c.username_template.is_empty() {
            // A trial render, as OpenBao's: a template that cannot make a
            // name is refused now, not at the first credentials.
            render_username(
                &c.username_template,
                "",
                "",
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| {
                Error::invalid(
                    e.replace("unable to generate username", "invalid username template"),
                )
            })?;
        }
        if fields::bool(d, "verify_connection")?.unwrap_or(true) {
            self.call(&c, reqwest::Method::GET, "users/", None, false)
                .await
                .map_err(|e| Error::Upstream(format!("failed to validate the connection: {e}")))?;
        }
        self.view.put_json(CONNECTION_KEY, &c).await?;
        Ok(Response::empty())
    }

    async fn handle_lease(&self, req: &Request) -> Result<Response> {
        match req.operation {
            Operation::Read => {
                let l: LeaseConfig = self
                    .view
                    .get_json(LEASE_KEY)
                    .await?
                    .ok_or(Error::NotFound)?;
                Ok(Response::data(map(
                    json!({"ttl": l.ttl, "max_ttl": l.max_ttl}),
                )))
            }
            Operation::Create | Operation::Update => {
                let secs = |field: &str| -> Result<u64> {
                    Ok(fields::duration(&req.data, field)?.map_or(0, |t| t.as_secs()))
                };
                let l = LeaseConfig {
                    ttl: secs("ttl")?,
                    max_ttl: secs("max_ttl")?,
                };
                self.view.put_json(LEASE_KEY, &l).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.view.delete(LEASE_KEY).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    async fn handle_role(&self, req: &Request, name: &str) -> Result<Response> {
        let key = format!("{ROLE_PREFIX}{name}");
        match req.operation {
            Operation::Read => {
                let r = self.role(name).await?.ok_or(Error::NotFound)?;
                Ok(Response::data(map(json!({
                    "tags": r.tags,
                    "vhosts": r.vhosts,
                    "vhost_topics": r.vhost_topics,
                }))))
            }
            Operation::Create | Operation::Update => {
                let old = self.role(name).await?.unwrap_or_default();
                let r = Role {
                    tags: fields::string(&req.data, "tags")?.unwrap_or(old.tags),
                    vhosts: json_field(&req.data, "vhosts")?.unwrap_or(old.vhosts),
                    vhost_topics: json_field(&req.data, "vhost_topics")?
                        .unwrap_or(old.vhost_topics),
                };
                self.view.put_json(&key, &r).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.view.delete(&key).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    /// `creds/:role`: a new user with the role's tags and permissions.
    async fn creds(&self, req: &Request, name: &str) -> Result<Response> {
        if req.operation != Operation::Read {
            return Err(Error::UnsupportedOperation);
        }
        let role = self
            .role(name)
            .await?
            .ok_or_else(|| Error::invalid(format!("unknown role: {name}")))?;
        let c = self.connection().await?.ok_or_else(|| {
            Error::invalid("configure the connection with rabbitmq/config/connection first")
        })?;
        let lease: LeaseConfig = self.view.get_json(LEASE_KEY).await?.unwrap_or_default();
        let display = req
            .token_entry
            .as_ref()
            .map_or("token", |t| t.display_name.as_str());
        let username = if c.username_template.is_empty() {
            format!("{display}-{}", uuid::Uuid::new_v4())
        } else {
            render_username(
                &c.username_template,
                display,
                name,
                time::OffsetDateTime::now_utc(),
            )
            .map_err(|e| Error::Internal(format!("failed to generate username: {e}")))?
        };
        let password =
            crate::password_policy::password_for(req, &c.password_policy, password).await?;
        let user = segment(&username);
        self.call(
            &c,
            reqwest::Method::PUT,
            &format!("users/{user}"),
            Some(json!({"password": password, "tags": role.tags})),
            false,
        )
        .await
        .map_err(|e| {
            Error::Upstream(format!(
                "failed to create a new user with the generated credentials: {e}"
            ))
        })?;
        // The permissions; if one cannot be set, the user goes again.
        let mut failed = None;
        for (vhost, p) in &role.vhosts {
            let body = json!({"configure": p.configure, "write": p.write, "read": p.read});
            let path = format!("permissions/{}/{user}", segment(vhost));
            if let Err(e) = self
                .call(&c, reqwest::Method::PUT, &path, Some(body), false)
                .await
            {
                failed = Some(format!(
                    "failed to update permissions to the {username} user: {e}"
                ));
                break;
            }
        }
        if failed.is_none() {
            'topics: for (vhost, exchanges) in &role.vhost_topics {
                for (exchange, p) in exchanges {
                    let body = json!({"exchange": exchange, "write": p.write, "read": p.read});
                    let path = format!("topic-permissions/{}/{user}", segment(vhost));
                    if let Err(e) = self
                        .call(&c, reqwest::Method::PUT, &path, Some(body), false)
                        .await
                    {
                        failed = Some(format!(
                            "failed to update topic permissions to the {username} user: {e}"
                        ));
                        break 'topics;
                    }
                }
            }
        }
        if let Some(e) = failed {
            let path = format!("users/{user}");
            if let Err(d) = self
                .call(&c, reqwest::Method::DELETE, &path, None, true)
                .await
            {
                tracing::warn!(error = %d, "could not delete a half-made rabbitmq user");
            }
            return Err(Error::Upstream(e));
        }
        let mut data = Map::new();
        data.insert("password".into(), json!(password));
        data.insert("username".into(), json!(username));
        let mut internal = Map::new();
        internal.insert("username".into(), json!(username));
        let secs = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        Ok(Response {
            data: Some(data),
            secret: Some(Box::new(SecretLease {
                ttl: secs(lease.ttl),
                max_ttl: secs(lease.max_ttl),
                renewable: true,
                internal,
            })),
            ..Default::default()
        })
    }
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

#[async_trait]
impl Backend for Rabbitmq {
    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        let op = req.operation;
        match rel.as_str() {
            "config/connection" => match op {
                Operation::Create | Operation::Update => self.write_connection(req).await,
                _ => Err(Error::UnsupportedOperation),
            },
            "config/lease" => self.handle_lease(req).await,
            "roles" | "roles/" => match op {
                Operation::List => {
                    let keys = self.view.list(ROLE_PREFIX).await?;
                    if keys.is_empty() {
                        return Err(Error::NotFound);
                    }
                    Ok(Response::list(keys))
                }
                _ => Err(Error::UnsupportedOperation),
            },
            r => {
                let (kind, name) = r.split_once('/').unwrap_or((r, ""));
                if name.is_empty() || name.contains('/') {
                    return Err(Error::UnsupportedPath);
                }
                match kind {
                    "roles" => self.handle_role(req, name).await,
                    "creds" => self.creds(req, name).await,
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
        if let Some(name) = rel.strip_prefix("roles/") {
            return Ok(Some(self.role(name).await?.is_some()));
        }
        if rel == "config/lease" {
            return Ok(Some(self.view.get(LEASE_KEY).await?.is_some()));
        }
        Ok(None)
    }

    async fn revoke_secret(&self, lease: &LeaseEntry) -> Result<()> {
        let username = lease
            .internal
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or("");
        if username.is_empty() {
            return Ok(());
        }
        let c = self.connection().await?.ok_or_else(|| {
            Error::invalid("configure the connection with rabbitmq/config/connection first")
        })?;
        // A user deleted already is not an error.
        self.call(
            &c,
            reqwest::Method::DELETE,
            &format!("users/{}", segment(username)),
            None,
            true,
        )
        .await
        .map(|_| ())
        .map_err(|e| Error::Upstream(format!("could not delete user: {e}")))
    }

    async fn renew_secret(&self, _lease: &LeaseEntry, _ttl: Duration) -> Result<()> {
        // RabbitMQ users do not expire by themselves: the lease moves.
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_fields_come_as_strings_or_values() {
        let d = map(json!({
            "vhosts": "{\"/\": {\"configure\": \".*\", \"read\": \"r\"}}",
            "vhost_topics": {"/": {"amq.topic": {"write": "w"}}},
            "bad": "notjson",
        }));
        let v: std::collections::BTreeMap<String, VhostPermission> =
            json_field(&d, "vhosts").unwrap().unwrap();
        assert_eq!(v["/"].configure, ".*");
        assert_eq!(v["/"].write, "");
        let t: std::collections::BTreeMap<
            String,
            std::collections::BTreeMap<String, TopicPermission>,
        > = json_field(&d, "vhost_topics").unwrap().unwrap();
        assert_eq!(t["/"]["amq.topic"].write, "w");
        let e = json_field::<Role>(&d, "bad").unwrap_err();
        assert!(e.to_string().contains("failed to unmarshal bad"), "{e}");
        assert!(json_field::<Role>(&d, "absent").unwrap().is_none());
    }

    #[test]
    fn segments_and_passwords() {
        assert_eq!(segment("/"), "%2F");
        assert_eq!(segment("token-1a2b"), "token-1a2b");
        assert_eq!(segment("a b/c"), "a%20b%2Fc");
        let p = password();
        assert_eq!(p.len(), 36);
        assert!(p.chars().all(|c| c.is_ascii_alphanumeric()));
    }
}

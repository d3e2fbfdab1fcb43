//! The internal request and response every backend speaks: what the HTTP
//! layer builds from a Vault request, and what it turns back into Vault's
//! JSON envelope.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::secret::SecretString;
use crate::token::TokenEntry;

/// Vault's logical operations. HTTP PUT/POST arrive as `Update` and become
/// `Create` when the backend says the target does not exist yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    Read,
    Create,
    Update,
    Patch,
    Delete,
    List,
    Renew,
    Revoke,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Create => "create",
            Self::Update => "update",
            Self::Patch => "patch",
            Self::Delete => "delete",
            Self::List => "list",
            Self::Renew => "renew",
            Self::Revoke => "revoke",
        }
    }

    pub fn is_write(self) -> bool {
        matches!(
            self,
            Self::Create | Self::Update | Self::Patch | Self::Delete
        )
    }
}

/// `Debug` is written by hand: field values (passwords, secret ids,
/// secrets being written) never appear, only their names.
pub struct Request {
    pub id: String,
    pub operation: Operation,
    /// Full logical path, without the `/v1/` prefix or a leading slash.
    pub path: String,
    /// Body fields for writes, query parameters for reads and lists.
    pub data: Map<String, Value>,
    pub client_token: Option<SecretString>,
    pub remote_addr: Option<IpAddr>,
    pub remote_port: Option<u16>,
    pub wrap_ttl: Option<Duration>,
    /// Set by the router: the mount this request was routed to (`secret/`,
    /// `auth/token/`), and the path relative to it.
    pub mount_point: String,
    /// Set by the token check: the caller's token, when there is one.
    pub token_entry: Option<Arc<TokenEntry>>,
    /// The hashed id of the caller's token (store key), when there is one.
    pub token_hash: Option<String>,
    /// The ACL grants `sudo` on this path (or the token is root).
    pub root_privs: bool,
    /// Set by the router: the mount's effective default lease TTL (what a
    /// KV v1 read reports as its lease duration).
    pub mount_default_ttl: Duration,
    /// Set by the router: the mount's effective max lease TTL.
    pub mount_max_ttl: Duration,
    /// Set by the router: the password policies, for engines that make
    /// passwords by a named one (`password_policy`).
    pub password_policies: Option<Arc<crate::password_policy::PasswordPolicies>>,
}

impl std::fmt::Debug for Request {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("id", &self.id)
            .field("operation", &self.operation)
            .field("path", &self.path)
            .field("data_keys", &self.data.keys().collect::<Vec<_>>())
            .field("client_token", &self.client_token)
            .field("remote_addr", &self.remote_addr)
            .field("wrap_ttl", &self.wrap_ttl)
            .field("mount_point", &self.mount_point)
            .finish_non_exhaustive()
    }
}

impl Request {
    pub fn new(operation: Operation, path: impl Into<String>) -> Self {
        Self {
            id: uuid::Uuid::new_v4().to_string(),
            operation,
            path: path.into(),
            data: Map::new(),
            client_token: None,
            remote_addr: None,
            remote_port: None,
            wrap_ttl: None,
            mount_point: String::new(),
            token_entry: None,
            token_hash: None,
            root_privs: false,
            mount_default_ttl: Duration::ZERO,
            mount_max_ttl: Duration::ZERO,
            password_policies: None,
        }
    }

    pub fn with_data(mut self, data: Map<String, Value>) -> Self {
        self.data = data;
        self
    }

    pub fn with_token(mut self, token: &str) -> Self {
        self.client_token = Some(SecretString::from(token));
        self
    }

    /// The path relative to the mount it was routed to.
    pub fn rel_path(&self) -> &str {
        self.path.get(self.mount_point.len()..).unwrap_or("")
    }
}

/// An auth result: what a login (or token creation) hands to the token
/// store, and what the envelope's `auth` block reports.
/// `Debug` by hand: the client token never shows.
#[derive(Clone, Default)]
pub struct Auth {
    pub client_token: String,
    pub accessor: String,
    pub policies: Vec<String>,
    pub token_policies: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
    pub lease_duration: u64,
    pub renewable: bool,
    pub entity_id: String,
    pub token_type: crate::token::TokenType,
    pub orphan: bool,
    pub num_uses: i64,
    /// Policies the token gets from its identity entity.
    pub identity_policies: Vec<String>,
}

/// What a successful login hands the core, which resolves the identity
/// and mints the token (core/login.rs). Auth methods never mint tokens
/// themselves.
#[derive(Debug, Clone, Default)]
pub struct Login {
    /// The alias name identity knows this caller by on this mount (the
    /// username, the role id, the service account's uid, the JWT's user
    /// claim).
    pub alias_name: String,
    pub alias_metadata: std::collections::BTreeMap<String, String>,
    /// The part after the mount type in the token's display name
    /// (`userpass-alice`).
    pub display_name: String,
    /// The token's metadata (`auth.metadata`).
    pub metadata: std::collections::BTreeMap<String, String>,
    pub token: crate::auth::token_params::TokenParams,
}

/// `Debug` by hand: data values (secrets) never show, only their keys.
#[derive(Default)]
pub struct Response {
    pub data: Option<Map<String, Value>>,
    pub auth: Option<Auth>,
    pub warnings: Vec<String>,
    /// Some sys endpoints repeat `data`'s fields at the top level of the
    /// envelope (Vault keeps this for old clients).
    pub data_at_top_level: bool,
    /// A status other than 200/204 (e.g. 202 for async operations).
    pub status: Option<u16>,
    /// A body that is not the envelope (sys/metrics text, raw JSON).
    /// `data` may still be set alongside, for the audit log.
    pub raw: Option<RawBody>,
    /// Set when the response was wrapped: the envelope then carries only
    /// this, and an empty request id.
    pub wrap_info: Option<WrapInfo>,
    /// A login: the core turns it into `auth` with a new token.
    pub login: Option<Box<Login>>,
    /// The envelope's `lease_duration`: a lease's TTL, or for data that is
    /// not a lease, a refresh interval (KV v1's).
    pub lease_duration: u64,
    /// A secret with a lifetime, from the backend: the core stores its
    /// lease (and then fills `lease`), so it is never sent as is.
    pub secret: Option<Box<SecretLease>>,
    /// The lease the envelope reports (`lease_id`, `renewable`).
    pub lease: Option<LeaseInfo>,
}

/// What a backend says of a secret it hands out with a lifetime (a
/// database user): the core registers its lease.
/// `Debug` by hand: `internal` may name what a secret unlocks.
pub struct SecretLease {
    /// The TTL the engine asks for (its role's); None: the mount's default.
    pub ttl: Option<std::time::Duration>,
    /// The role's max TTL; None: the mount's.
    pub max_ttl: Option<std::time::Duration>,
    pub renewable: bool,
    /// What the engine needs to renew or revoke the secret (a username),
    /// kept with the lease, never sent.
    pub internal: Map<String, Value>,
}

impl std::fmt::Debug for SecretLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretLease")
            .field("ttl", &self.ttl)
            .field("max_ttl", &self.max_ttl)
            .field("renewable", &self.renewable)
            .field("internal_keys", &self.internal.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A registered lease, as the envelope reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseInfo {
    pub id: String,
    pub renewable: bool,
}

/// What a wrapped response hands back instead of its data.
/// `Debug` by hand: the wrapping token never shows.
#[derive(Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WrapInfo {
    pub token: String,
    pub accessor: String,
    /// Seconds.
    pub ttl: u64,
    /// RFC 3339 with nanoseconds.
    pub creation_time: String,
    pub creation_path: String,
    /// The accessor of the token inside, when an auth response was wrapped.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

/// `Debug` by hand: the body may be a wrapped secret.
pub struct RawBody {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn data(data: Map<String, Value>) -> Self {
        Self {
            data: Some(data),
            ..Default::default()
        }
    }

    pub fn from_value(v: Value) -> Self {
        match v {
            Value::Object(m) => Self::data(m),
            _ => Self::default(),
        }
    }

    /// A successful login.
    pub fn login(login: Login) -> Self {
        Self {
            login: Some(Box::new(login)),
            ..Default::default()
        }
    }

    pub fn with_warning(mut self, w: impl Into<String>) -> Self {
        self.warnings.push(w.into());
        self
    }

    pub fn top_level(mut self) -> Self {
        self.data_at_top_level = true;
        self
    }

    /// `{"keys": [...]}`, the shape of every list response.
    pub fn list(keys: Vec<String>) -> Self {
        let mut m = Map::new();
        m.insert("keys".into(), Value::from(keys));
        Self::data(m)
    }

    /// Nothing to report: 204 No Content.
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_none()
            && self.auth.is_none()
            && self.warnings.is_empty()
            && self.raw.is_none()
            && self.wrap_info.is_none()
            && self.login.is_none()
            && self.lease.is_none()
    }
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("client_token", &"<redacted>")
            .field("accessor", &self.accessor)
            .field("policies", &self.policies)
            .field("lease_duration", &self.lease_duration)
            .field("entity_id", &self.entity_id)
            .field("token_type", &self.token_type)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for WrapInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrapInfo")
            .field("token", &"<redacted>")
            .field("accessor", &self.accessor)
            .field("ttl", &self.ttl)
            .field("creation_path", &self.creation_path)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for RawBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawBody")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("len", &self.body.len())
            .finish()
    }
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Response")
            .field(
                "data_keys",
                &self.data.as_ref().map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("auth", &self.auth)
            .field("warnings", &self.warnings)
            .field("status", &self.status)
            .field("raw", &self.raw)
            .field("wrap_info", &self.wrap_info)
            .field("login", &self.login.is_some())
            .field("secret", &self.secret)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_values_or_tokens() {
        let mut req =
            Request::new(Operation::Update, "auth/approle/login").with_token("s.caller-token");
        req.data
            .insert("secret_id".into(), Value::String("sid-value-9".into()));
        let resp = Response {
            data: req.data.clone().into(),
            auth: Some(Auth {
                client_token: "s.minted-token".into(),
                ..Default::default()
            }),
            wrap_info: Some(WrapInfo {
                token: "s.wrapping-token".into(),
                ..Default::default()
            }),
            raw: Some(RawBody {
                status: 200,
                content_type: "application/json",
                body: b"sid-value-9".to_vec(),
            }),
            ..Default::default()
        };
        let text = format!("{req:?} {resp:?}");
        for secret in [
            "sid-value-9",
            "s.caller-token",
            "s.minted-token",
            "s.wrapping-token",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(text.contains("secret_id"), "keys are shown: {text}");
    }
}

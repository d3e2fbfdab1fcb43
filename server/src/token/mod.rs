//! Tokens: the entry stored for each token (mod.rs), the token store that
//! keeps them under salted hashes and revokes them as trees (store.rs), and
//! the `auth/token/` endpoints (backend.rs).

pub mod backend;
pub mod store;

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::clock;

pub use store::TokenStore;

/// Prefix of service tokens, as OpenBao issues them (`s.` + 24 base62).
pub const SERVICE_TOKEN_PREFIX: &str = "s.";
/// Prefix of batch tokens (encrypted entries, never stored).
pub const BATCH_TOKEN_PREFIX: &str = "b.";
const RANDOM_LEN: usize = 24;

/// Service tokens are stored and can be renewed and revoked; batch tokens
/// are the entry itself, encrypted, and can be neither.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    #[default]
    Service,
    Batch,
}

impl TokenType {
    /// As Vault writes it (`type` in a lookup, `token_type` in `auth`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Service => "service",
            TokenType::Batch => "batch",
        }
    }
}

/// A token as stored (under the salted hash of its id, which is never
/// stored). Accessor and metadata are not secret.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TokenEntry {
    pub accessor: String,
    /// Hash of the parent token; empty for orphans.
    #[serde(default)]
    pub parent: String,
    pub policies: Vec<String>,
    pub path: String,
    #[serde(default)]
    pub meta: Option<BTreeMap<String, String>>,
    pub display_name: String,
    /// 0 = unlimited; -1 = the last use is in progress (revoked after it).
    #[serde(default)]
    pub num_uses: i64,
    /// Unix seconds.
    pub creation_time: i64,
    /// Unix nanoseconds.
    pub issue_time: i64,
    pub creation_ttl: u64,
    #[serde(default)]
    pub explicit_max_ttl: u64,
    #[serde(default)]
    pub period: u64,
    pub renewable: bool,
    #[serde(default)]
    pub orphan: bool,
    /// Unix nanoseconds; None = never expires.
    #[serde(default)]
    pub expire_time: Option<i64>,
    /// Unix nanoseconds of the last renewal.
    #[serde(default)]
    pub last_renewal: Option<i64>,
    #[serde(default)]
    pub entity_id: String,
    #[serde(default)]
    pub token_type: TokenType,
    /// Mount accessor of the auth method that issued it, for identity.
    #[serde(default)]
    pub mount_accessor: String,
    /// Renewals stop here (seconds since issue; 0: the issuing mount's
    /// max TTL): the role's or user's `token_max_ttl`.
    #[serde(default)]
    pub max_ttl: u64,
    /// Where the token may be used from (`token_bound_cidrs`).
    #[serde(default)]
    pub bound_cidrs: Vec<String>,
    /// Set while its tree is being revoked: the token is dead already.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub revoking: bool,
}

impl TokenEntry {
    /// A new token's entry: issued `now_nanos`, living `ttl` (zero: never
    /// expires; renewable otherwise, unless it is a batch token), an
    /// orphan with no uses limit, entity, meta or bounds. Callers set what
    /// differs with struct update syntax.
    pub fn new(
        kind: TokenType,
        policies: Vec<String>,
        path: impl Into<String>,
        display_name: impl Into<String>,
        now_nanos: i64,
        ttl: std::time::Duration,
    ) -> Self {
        let batch = kind == TokenType::Batch;
        Self {
            // A batch token has no accessor: nothing can look it up.
            accessor: if batch {
                String::new()
            } else {
                generate_accessor()
            },
            parent: String::new(),
            policies,
            path: path.into(),
            meta: None,
            display_name: display_name.into(),
            num_uses: 0,
            creation_time: now_nanos / 1_000_000_000,
            issue_time: now_nanos,
            creation_ttl: ttl.as_secs(),
            explicit_max_ttl: 0,
            period: 0,
            renewable: !batch && !ttl.is_zero(),
            orphan: true,
            expire_time: (!ttl.is_zero()).then(|| {
                now_nanos.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX / 2))
            }),
            last_renewal: None,
            entity_id: String::new(),
            token_type: kind,
            mount_accessor: String::new(),
            max_ttl: 0,
            bound_cidrs: Vec::new(),
            revoking: false,
        }
    }

    pub fn is_batch(&self) -> bool {
        self.token_type == TokenType::Batch
    }

    pub fn is_root(&self) -> bool {
        self.policies.iter().any(|p| p == "root")
    }

    pub fn ttl_remaining(&self, now_nanos: i64) -> u64 {
        match self.expire_time {
            None => 0,
            Some(exp) if exp <= now_nanos => 0,
            Some(exp) => ((exp - now_nanos) / 1_000_000_000) as u64,
        }
    }

    pub fn is_expired(&self, now_nanos: i64) -> bool {
        self.expire_time.is_some_and(|e| e <= now_nanos)
    }

    /// The `data` of a lookup response. `id` is the token when the caller
    /// presented it, empty for lookups by accessor.
    pub fn lookup_data(&self, id: &str, now_nanos: i64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("accessor".into(), json!(self.accessor));
        if !self.bound_cidrs.is_empty() {
            m.insert("bound_cidrs".into(), json!(self.bound_cidrs));
        }
        m.insert("creation_time".into(), json!(self.creation_time));
        m.insert("creation_ttl".into(), json!(self.creation_ttl));
        m.insert("display_name".into(), json!(self.display_name));
        m.insert("entity_id".into(), json!(self.entity_id));
        m.insert(
            "expire_time".into(),
            self.expire_time
                .map_or(Value::Null, |e| json!(clock::rfc3339_nanos(e))),
        );
        m.insert("explicit_max_ttl".into(), json!(self.explicit_max_ttl));
        m.insert("id".into(), json!(id));
        m.insert(
            "issue_time".into(),
            json!(clock::rfc3339_nanos(self.issue_time)),
        );
        if let Some(r) = self.last_renewal {
            m.insert("last_renewal".into(), json!(clock::rfc3339_nanos(r)));
            m.insert("last_renewal_time".into(), json!(r / 1_000_000_000));
        }
        m.insert(
            "meta".into(),
            self.meta.as_ref().map_or(Value::Null, |m| json!(m)),
        );
        m.insert("num_uses".into(), json!(self.num_uses));
        m.insert("orphan".into(), json!(self.orphan));
        m.insert("path".into(), json!(self.path));
        if self.period > 0 {
            m.insert("period".into(), json!(self.period));
        }
        m.insert("policies".into(), json!(self.policies));
        m.insert("renewable".into(), json!(self.renewable));
        m.insert("ttl".into(), json!(self.ttl_remaining(now_nanos)));
        m.insert("type".into(), json!(self.token_type.as_str()));
        m
    }
}

fn random_base62(len: usize) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

pub fn generate_token() -> String {
    format!("{SERVICE_TOKEN_PREFIX}{}", random_base62(RANDOM_LEN))
}

pub fn generate_accessor() -> String {
    random_base62(RANDOM_LEN)
}

/// `token-<name>` with characters outside `[a-zA-Z0-9-]` replaced, as Vault
/// builds display names.
pub fn display_name(prefix: &str, name: &str) -> String {
    if name.is_empty() {
        return prefix.to_owned();
    }
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{prefix}-{}", cleaned.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_shapes() {
        let t = generate_token();
        assert!(t.starts_with("s."));
        assert_eq!(t.len(), 26);
        assert_eq!(generate_accessor().len(), 24);
        assert_ne!(generate_token(), generate_token());
        assert_eq!(display_name("token", "x"), "token-x");
        assert_eq!(display_name("token", "My App!"), "token-my-app-");
        assert_eq!(display_name("token", ""), "token");
    }
}

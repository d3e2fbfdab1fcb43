//! The generic response envelope every logical endpoint answers with, and
//! the rules by which a response body becomes one.
//!
//! Field order follows what a Vault server sends, so that the server can
//! serialize these types as they are. Debug output never shows tokens or
//! secret values: only the keys of `data` are printed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The response envelope: `request_id`, `lease_id`, `renewable`,
/// `lease_duration`, `data`, `wrap_info`, `warnings`, `auth`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Secret {
    /// Identifies the request in the audit log.
    #[serde(default)]
    pub request_id: String,
    /// The lease of a dynamic secret; empty when there is none.
    #[serde(default)]
    pub lease_id: String,
    /// Whether the lease can be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// Lease length in seconds.
    #[serde(default)]
    pub lease_duration: i64,
    /// The endpoint's payload.
    #[serde(default)]
    pub data: Option<Map<String, Value>>,
    /// Set when the response was wrapped in a cubbyhole token.
    #[serde(default)]
    pub wrap_info: Option<WrapInfo>,
    /// Non-fatal warnings.
    #[serde(default)]
    pub warnings: Option<Vec<String>>,
    /// Set when the response carries a (new or renewed) token.
    #[serde(default)]
    pub auth: Option<SecretAuth>,
}

impl Secret {
    /// A field of `data`, if present.
    pub fn field(&self, key: &str) -> Option<&Value> {
        self.data.as_ref().and_then(|d| d.get(key))
    }

    /// Whether `data` or `warnings` hold anything: a 404 with neither means
    /// "nothing here", one with either is still a usable answer.
    pub fn has_content(&self) -> bool {
        self.data.as_ref().is_some_and(|d| !d.is_empty())
            || self.warnings.as_ref().is_some_and(|w| !w.is_empty())
    }

    /// Whether every envelope field is empty, i.e. the body was not an envelope.
    fn is_zero(&self) -> bool {
        self.request_id.is_empty()
            && self.lease_id.is_empty()
            && !self.renewable
            && self.lease_duration == 0
            && self.data.is_none()
            && self.wrap_info.is_none()
            && self.warnings.is_none()
            && self.auth.is_none()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("request_id", &self.request_id)
            .field("lease_id", &self.lease_id)
            .field("renewable", &self.renewable)
            .field("lease_duration", &self.lease_duration)
            .field(
                "data_keys",
                &self.data.as_ref().map(|d| d.keys().collect::<Vec<_>>()),
            )
            .field("wrap_info", &self.wrap_info)
            .field("warnings", &self.warnings)
            .field("auth", &self.auth)
            .finish()
    }
}

/// The `auth` block: a token and what it may do.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecretAuth {
    /// The token itself.
    #[serde(default)]
    pub client_token: String,
    /// The token's accessor.
    #[serde(default)]
    pub accessor: String,
    /// All policies (token and identity).
    #[serde(default)]
    pub policies: Option<Vec<String>>,
    /// Policies attached to the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_policies: Option<Vec<String>>,
    /// Policies that come from the token's identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_policies: Option<Vec<String>>,
    /// Token metadata.
    #[serde(default)]
    pub metadata: Option<BTreeMap<String, String>>,
    /// TTL in seconds; 0 means none (root).
    #[serde(default)]
    pub lease_duration: i64,
    /// Whether the token can be renewed.
    #[serde(default)]
    pub renewable: bool,
    /// The identity entity, if any.
    #[serde(default)]
    pub entity_id: String,
    /// `service` or `batch`.
    #[serde(default)]
    pub token_type: String,
    /// Whether the token has no parent.
    #[serde(default)]
    pub orphan: bool,
    /// MFA requirement (not used by Arca; kept for the wire shape).
    #[serde(default)]
    pub mfa_requirement: Option<Value>,
    /// Remaining uses; 0 means unlimited.
    #[serde(default)]
    pub num_uses: i64,
}

impl fmt::Debug for SecretAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretAuth")
            .field("client_token", &"<redacted>")
            .field("accessor", &self.accessor)
            .field("policies", &self.policies)
            .field("token_policies", &self.token_policies)
            .field("identity_policies", &self.identity_policies)
            .field("metadata", &self.metadata)
            .field("lease_duration", &self.lease_duration)
            .field("renewable", &self.renewable)
            .field("entity_id", &self.entity_id)
            .field("token_type", &self.token_type)
            .field("orphan", &self.orphan)
            .field("num_uses", &self.num_uses)
            .finish()
    }
}

/// The `wrap_info` block of a wrapped response.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WrapInfo {
    /// The wrapping token.
    #[serde(default)]
    pub token: String,
    /// The wrapping token's accessor.
    #[serde(default)]
    pub accessor: String,
    /// TTL of the wrapping token, seconds.
    #[serde(default)]
    pub ttl: i64,
    /// Creation time, RFC 3339.
    #[serde(default)]
    pub creation_time: String,
    /// The path whose response was wrapped.
    #[serde(default)]
    pub creation_path: String,
    /// Accessor of the wrapped token, when a token was wrapped.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wrapped_accessor: String,
}

impl fmt::Debug for WrapInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WrapInfo")
            .field("token", &"<redacted>")
            .field("accessor", &self.accessor)
            .field("ttl", &self.ttl)
            .field("creation_time", &self.creation_time)
            .field("creation_path", &self.creation_path)
            .field("wrapped_accessor", &self.wrapped_accessor)
            .finish()
    }
}

/// Turns a response body into a [`Secret`] the way the Go client does:
/// an empty body is `None`; a body with none of the envelope fields (such as
/// `sys/health`) becomes the `data` of an otherwise empty secret, unless it
/// holds nothing but `errors`, which is `None` as well.
pub fn parse_secret(body: &[u8]) -> Result<Option<Secret>, serde_json::Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let raw: Value = serde_json::from_slice(body)?;
    let mut secret: Secret = serde_json::from_value(raw.clone())?;
    if secret.is_zero() {
        if let Value::Object(map) = raw {
            if map.len() == 1 && map.contains_key("errors") {
                return Ok(None);
            }
            if !map.is_empty() {
                secret.data = Some(map);
            }
        }
    }
    Ok(Some(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelopes_and_bare_bodies() {
        let s = parse_secret(br#"{"request_id":"r","lease_id":"","renewable":false,"lease_duration":0,"data":{"a":1},"wrap_info":null,"warnings":null,"auth":null}"#)
            .unwrap()
            .unwrap();
        assert_eq!(s.request_id, "r");
        assert_eq!(s.field("a"), Some(&Value::from(1)));

        let bare = parse_secret(br#"{"initialized":true}"#).unwrap().unwrap();
        assert_eq!(bare.field("initialized"), Some(&Value::Bool(true)));

        assert!(parse_secret(br#"{"errors":[]}"#).unwrap().is_none());
        assert!(parse_secret(b"").unwrap().is_none());
        assert!(parse_secret(b"not json").is_err());
    }

    #[test]
    fn debug_never_shows_tokens_or_values() {
        let s = Secret {
            data: Some(Map::from_iter([(
                "password".to_string(),
                Value::from("hunter2"),
            )])),
            auth: Some(SecretAuth {
                client_token: "s.supersecret".into(),
                ..SecretAuth::default()
            }),
            wrap_info: Some(WrapInfo {
                token: "s.wraptoken".into(),
                ..WrapInfo::default()
            }),
            ..Secret::default()
        };
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("supersecret"));
        assert!(!dbg.contains("wraptoken"));
        assert!(!dbg.contains("hunter2"));
        assert!(dbg.contains("password"));
    }

    #[test]
    fn serializes_in_server_order() {
        let json = serde_json::to_string(&Secret::default()).unwrap();
        assert_eq!(
            json,
            r#"{"request_id":"","lease_id":"","renewable":false,"lease_duration":0,"data":null,"wrap_info":null,"warnings":null,"auth":null}"#
        );
    }
}

//! The token store: `auth/token/create`, lookup, renew and revoke, in the
//! by-token, self and by-accessor forms.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::client::{Client, Method, Response, trim_path};
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Body of `POST auth/token/create`, in the Go client's field order.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenCreateRequest {
    /// A caller-chosen token value (root only).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub id: String,
    /// Policies of the new token.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// Metadata, written to the audit log.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub meta: BTreeMap<String, String>,
    /// TTL as a duration string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ttl: String,
    /// Hard TTL cap as a duration string.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub explicit_max_ttl: String,
    /// Renewal period of a periodic token.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub period: String,
    /// Create an orphan token.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_parent: bool,
    /// Do not add the `default` policy.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_default_policy: bool,
    /// Display name.
    #[serde(default)]
    pub display_name: String,
    /// Use limit; 0 means unlimited.
    #[serde(default)]
    pub num_uses: i64,
    /// Whether the token may be renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renewable: Option<bool>,
    /// `service` or `batch`.
    #[serde(rename = "type", default)]
    pub token_type: String,
    /// Entity alias (role-based creation).
    #[serde(default)]
    pub entity_alias: String,
}

impl fmt::Debug for TokenCreateRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCreateRequest")
            .field("id", &if self.id.is_empty() { "" } else { "<redacted>" })
            .field("policies", &self.policies)
            .field("meta", &self.meta)
            .field("ttl", &self.ttl)
            .field("explicit_max_ttl", &self.explicit_max_ttl)
            .field("period", &self.period)
            .field("no_parent", &self.no_parent)
            .field("no_default_policy", &self.no_default_policy)
            .field("display_name", &self.display_name)
            .field("num_uses", &self.num_uses)
            .field("renewable", &self.renewable)
            .field("token_type", &self.token_type)
            .field("entity_alias", &self.entity_alias)
            .finish()
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn secret_of(resp: Response) -> Result<Secret> {
    resp.required_secret()
}

impl Client {
    /// `POST auth/token/create`.
    pub async fn create_token(&self, request: &TokenCreateRequest) -> Result<Secret> {
        self.create_token_at("auth/token/create", request).await
    }

    /// `POST auth/token/create/<role>`.
    pub async fn create_token_with_role(
        &self,
        role: &str,
        request: &TokenCreateRequest,
    ) -> Result<Secret> {
        let path = format!("auth/token/create/{}", trim_path(role));
        self.create_token_at(&path, request).await
    }

    async fn create_token_at(&self, path: &str, request: &TokenCreateRequest) -> Result<Secret> {
        let body = serde_json::to_value(request).map_err(|source| Error::Decode {
            method: "POST".into(),
            url: format!("{}/v1/{path}", self.address()),
            source,
        })?;
        secret_of(self.call(Method::Post, path, Some(&body)).await?)
    }

    /// `POST auth/token/lookup`.
    pub async fn lookup_token(&self, token: &str) -> Result<Secret> {
        let body = json!({ "token": token });
        secret_of(
            self.call(Method::Post, "auth/token/lookup", Some(&body))
                .await?,
        )
    }

    /// `GET auth/token/lookup-self`.
    pub async fn lookup_self(&self) -> Result<Secret> {
        secret_of(
            self.call(Method::Get, "auth/token/lookup-self", None)
                .await?,
        )
    }

    /// `POST auth/token/lookup-accessor`.
    pub async fn lookup_accessor(&self, accessor: &str) -> Result<Secret> {
        let body = json!({ "accessor": accessor });
        secret_of(
            self.call(Method::Post, "auth/token/lookup-accessor", Some(&body))
                .await?,
        )
    }

    /// `PUT auth/token/renew`; `increment_secs` 0 asks for the default TTL.
    pub async fn renew_token(&self, token: &str, increment_secs: i64) -> Result<Secret> {
        let body = json!({ "token": token, "increment": increment_secs });
        secret_of(
            self.call(Method::Put, "auth/token/renew", Some(&body))
                .await?,
        )
    }

    /// `PUT auth/token/renew-self`.
    pub async fn renew_self(&self, increment_secs: i64) -> Result<Secret> {
        let body = json!({ "increment": increment_secs });
        secret_of(
            self.call(Method::Put, "auth/token/renew-self", Some(&body))
                .await?,
        )
    }

    /// `POST auth/token/renew-accessor`.
    pub async fn renew_accessor(&self, accessor: &str, increment_secs: i64) -> Result<Secret> {
        let body = json!({ "accessor": accessor, "increment": increment_secs });
        secret_of(
            self.call(Method::Post, "auth/token/renew-accessor", Some(&body))
                .await?,
        )
    }

    /// `PUT auth/token/revoke`: revokes a token and its children.
    pub async fn revoke_token(&self, token: &str) -> Result<()> {
        let body = json!({ "token": token });
        self.call(Method::Put, "auth/token/revoke", Some(&body))
            .await?;
        Ok(())
    }

    /// `PUT auth/token/revoke-self`.
    pub async fn revoke_self(&self) -> Result<()> {
        self.call(Method::Put, "auth/token/revoke-self", None)
            .await?;
        Ok(())
    }

    /// `POST auth/token/revoke-accessor`.
    pub async fn revoke_accessor(&self, accessor: &str) -> Result<()> {
        let body = json!({ "accessor": accessor });
        self.call(Method::Post, "auth/token/revoke-accessor", Some(&body))
            .await?;
        Ok(())
    }

    /// `PUT auth/token/revoke-orphan`: revokes a token, orphaning its children.
    pub async fn revoke_orphan(&self, token: &str) -> Result<()> {
        let body = json!({ "token": token });
        self.call(Method::Put, "auth/token/revoke-orphan", Some(&body))
            .await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_request_serializes_like_bao() {
        let req = TokenCreateRequest {
            policies: vec!["p1".into()],
            meta: BTreeMap::from([("a".to_string(), "b".to_string())]),
            ttl: "1h0m0s".into(),
            explicit_max_ttl: "2h0m0s".into(),
            period: "0s".into(),
            display_name: "x".into(),
            num_uses: 3,
            renewable: Some(true),
            token_type: "service".into(),
            ..TokenCreateRequest::default()
        };
        assert_eq!(
            serde_json::to_string(&req).unwrap(),
            r#"{"policies":["p1"],"meta":{"a":"b"},"ttl":"1h0m0s","explicit_max_ttl":"2h0m0s","period":"0s","display_name":"x","num_uses":3,"renewable":true,"type":"service","entity_alias":""}"#
        );
        let with_id = TokenCreateRequest {
            id: "my-secret-id".into(),
            ..TokenCreateRequest::default()
        };
        assert!(!format!("{with_id:?}").contains("my-secret-id"));
    }
}

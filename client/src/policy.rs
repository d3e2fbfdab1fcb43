//! ACL policies: `sys/policies/acl/<name>`.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::client::{Client, Method, trim_path};
use crate::error::Result;

#[derive(Deserialize)]
struct Keys {
    #[serde(default)]
    keys: Vec<String>,
}

impl Client {
    /// `GET sys/policies/acl/<name>`: the policy text, `None` if there is no
    /// such policy.
    pub async fn read_policy(&self, name: &str) -> Result<Option<String>> {
        let path = format!("sys/policies/acl/{}", trim_path(name));
        let resp = self.send(Method::Get, &path, &[], None).await?;
        if resp.status == 404 {
            return Ok(None);
        }
        let secret = resp.check()?.secret()?;
        Ok(secret
            .as_ref()
            .and_then(|s| s.field("policy"))
            .and_then(Value::as_str)
            .map(str::to_string))
    }

    /// `PUT sys/policies/acl/<name>` with the policy text.
    pub async fn write_policy(&self, name: &str, policy: &str) -> Result<()> {
        let path = format!("sys/policies/acl/{}", trim_path(name));
        self.call(Method::Put, &path, Some(&json!({ "policy": policy })))
            .await?;
        Ok(())
    }

    /// `LIST sys/policies/acl`: policy names in the server's order.
    pub async fn list_policies(&self) -> Result<Vec<String>> {
        let resp = self
            .send(Method::Get, "sys/policies/acl", &[("list", "true")], None)
            .await?
            .check()?;
        let keys: Keys = resp.data()?;
        Ok(keys.keys)
    }

    /// `DELETE sys/policies/acl/<name>`.
    pub async fn delete_policy(&self, name: &str) -> Result<()> {
        let path = format!("sys/policies/acl/{}", trim_path(name));
        self.call(Method::Delete, &path, None).await?;
        Ok(())
    }
}

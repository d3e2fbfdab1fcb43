//! What a token may do on a path: `sys/capabilities`,
//! `sys/capabilities-self` and `sys/capabilities-accessor`.

use serde_json::{Value, json};

use crate::client::{Client, Method, Response};
use crate::error::Result;

/// The capabilities for `path` in an answer: the server puts them under the
/// path itself, and (for a single path) under `capabilities` too.
fn extract(resp: &Response, path: &str) -> Result<Vec<String>> {
    let secret = resp.required_secret()?;
    let pick = |key: &str| -> Vec<String> {
        secret
            .field(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let caps = pick(path);
    if caps.is_empty() {
        return Ok(pick("capabilities"));
    }
    Ok(caps)
}

impl Client {
    /// `POST sys/capabilities`: capabilities of `token` on `path`.
    pub async fn capabilities(&self, token: &str, path: &str) -> Result<Vec<String>> {
        let body = json!({ "token": token, "path": path });
        let resp = self
            .call(Method::Post, "sys/capabilities", Some(&body))
            .await?;
        extract(&resp, path)
    }

    /// `POST sys/capabilities-self`: capabilities of this client's token.
    pub async fn capabilities_self(&self, path: &str) -> Result<Vec<String>> {
        // The Go client sends its own token in the body as well; do the same.
        let body = json!({ "token": self.token().unwrap_or_default(), "path": path });
        let resp = self
            .call(Method::Post, "sys/capabilities-self", Some(&body))
            .await?;
        extract(&resp, path)
    }

    /// `POST sys/capabilities-accessor`: capabilities of the token with this accessor.
    pub async fn capabilities_accessor(&self, accessor: &str, path: &str) -> Result<Vec<String>> {
        let body = json!({ "accessor": accessor, "path": path });
        let resp = self
            .call(Method::Post, "sys/capabilities-accessor", Some(&body))
            .await?;
        extract(&resp, path)
    }
}

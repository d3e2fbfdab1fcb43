//! Logging in: the auth methods' login endpoints (kubernetes, approle,
//! jwt, userpass), and unwrapping a response-wrapped secret. Each answers
//! the response whose `auth` holds the new token; the client's own token is
//! not changed (see [`Client::set_token`]).

use serde_json::{Value, json};

use crate::client::{Client, Method};
use crate::error::{Error, Result};
use crate::secret::Secret;

impl Client {
    /// `POST auth/<mount>/login` with `body`; the answer must carry `auth`.
    pub async fn login(&self, mount: &str, body: &Value) -> Result<Secret> {
        let path = format!("{}/login", mount_path(mount));
        let secret = self
            .without_token()
            .call(Method::Put, &path, Some(body))
            .await?
            .required_secret()?;
        if secret.auth.is_none() {
            return Err(Error::EmptyResponse {
                method: "PUT".into(),
                url: format!("{}/v1/{path} (no auth in the answer)", self.address()),
            });
        }
        Ok(secret)
    }

    /// The kubernetes method: a service-account token (`jwt`) for `role`.
    pub async fn login_kubernetes(&self, mount: &str, role: &str, jwt: &str) -> Result<Secret> {
        self.login(mount, &json!({"role": role, "jwt": jwt})).await
    }

    /// The jwt/oidc method's JWT login.
    pub async fn login_jwt(&self, mount: &str, role: &str, jwt: &str) -> Result<Secret> {
        let mut body = json!({"jwt": jwt});
        if !role.is_empty() {
            body["role"] = json!(role);
        }
        self.login(mount, &body).await
    }

    /// AppRole: a role id, and a secret id unless the role binds none.
    pub async fn login_approle(
        &self,
        mount: &str,
        role_id: &str,
        secret_id: Option<&str>,
    ) -> Result<Secret> {
        let mut body = json!({"role_id": role_id});
        if let Some(s) = secret_id {
            body["secret_id"] = json!(s);
        }
        self.login(mount, &body).await
    }

    /// Userpass: `auth/<mount>/login/<username>`.
    pub async fn login_userpass(&self, mount: &str, user: &str, password: &str) -> Result<Secret> {
        let path = format!("{}/login/{user}", mount_path(mount));
        self.without_token()
            .call(Method::Put, &path, Some(&json!({"password": password})))
            .await?
            .required_secret()
    }

    /// `sys/wrapping/unwrap` with the wrapping token itself: the wrapped
    /// response.
    pub async fn unwrap(&self, wrapping_token: &str) -> Result<Secret> {
        self.with_token(wrapping_token)
            .call(Method::Put, "sys/wrapping/unwrap", Some(&json!({})))
            .await?
            .required_secret()
    }

    fn without_token(&self) -> Client {
        let mut c = self.clone();
        c.clear_token();
        c
    }
}

/// `kubernetes` and `auth/kubernetes` both name the mount at
/// `auth/kubernetes/` (Vault Agent's `mount_path` has the prefix).
fn mount_path(mount: &str) -> String {
    let m = mount.trim_matches('/');
    if m.starts_with("auth/") {
        m.to_owned()
    } else {
        format!("auth/{m}")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn mount_paths() {
        assert_eq!(super::mount_path("kubernetes"), "auth/kubernetes");
        assert_eq!(super::mount_path("auth/k8s/"), "auth/k8s");
        assert_eq!(super::mount_path("/auth/approle"), "auth/approle");
    }
}

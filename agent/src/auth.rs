//! Auto-auth: logging in with the configured method (kubernetes, approle,
//! jwt, token_file), as Vault Agent does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_client::Client;

use crate::config::Method;

/// A token the agent holds.
#[derive(Clone)]
pub struct Login {
    pub token: arca_client::sensitive::SecretString,
    /// Seconds; 0 for a token that does not expire.
    pub lease_duration: u64,
    pub renewable: bool,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Login")
            .field("lease_duration", &self.lease_duration)
            .field("renewable", &self.renewable)
            .finish_non_exhaustive()
    }
}

fn read_trimmed(path: &Path, what: &str) -> Result<String, String> {
    let s = std::fs::read_to_string(path)
        .map_err(|e| format!("reading {what} {}: {e}", path.display()))?;
    let s = s.trim().to_owned();
    if s.is_empty() {
        return Err(format!("{what} {} is empty", path.display()));
    }
    Ok(s)
}

/// Logs in once. The files are read at each attempt (the kubelet rotates
/// the service-account token).
pub async fn login(client: &Client, m: &Method) -> Result<Login, String> {
    let setting = |k: &str| m.setting(k).filter(|v| !v.is_empty());
    let required = |k: &str| {
        setting(k).ok_or_else(|| format!("auto_auth method {:?} needs config.{k}", m.kind))
    };
    let answer = match m.kind.as_str() {
        "kubernetes" => {
            let role = required("role")?;
            let path = setting("token_path").map_or_else(
                || PathBuf::from(arca_client::pod::TOKEN_PATH),
                PathBuf::from,
            );
            let jwt = read_trimmed(&path, "the service-account token")?;
            client.login_kubernetes(&m.mount_path, &role, &jwt).await
        }
        "jwt" => {
            let path = PathBuf::from(required("path")?);
            let jwt = read_trimmed(&path, "the JWT")?;
            client
                .login_jwt(&m.mount_path, &setting("role").unwrap_or_default(), &jwt)
                .await
        }
        "approle" => {
            let role_id = read_trimmed(Path::new(&required("role_id_file_path")?), "the role id")?;
            let secret_path = setting("secret_id_file_path");
            let secret_id = match &secret_path {
                Some(p) => Some(read_trimmed(Path::new(p), "the secret id")?),
                None => None,
            };
            let answer = client
                .login_approle(&m.mount_path, &role_id, secret_id.as_deref())
                .await;
            // Vault Agent's default: a secret id is used once, then removed.
            let remove = setting("remove_secret_id_file_after_reading").is_none_or(|v| v == "true");
            if let (Ok(_), Some(p), true) = (&answer, &secret_path, remove) {
                let _ = std::fs::remove_file(p);
            }
            answer
        }
        "token_file" => {
            let token = read_trimmed(Path::new(&required("token_file_path")?), "the token file")?;
            // The token is the login: its times come from a lookup.
            let me = client
                .with_token(token.clone())
                .lookup_self()
                .await
                .map_err(|e| e.to_string())?;
            let data = me.data.unwrap_or_default();
            return Ok(Login {
                token: token.as_str().into(),
                lease_duration: data
                    .get("ttl")
                    .and_then(serde_json::Value::as_u64)
                    .unwrap_or(0),
                renewable: data
                    .get("renewable")
                    .and_then(serde_json::Value::as_bool)
                    .unwrap_or(false),
            });
        }
        other => return Err(format!("auth method {other:?} is not supported")),
    };
    let answer = answer.map_err(|e| e.to_string())?;
    let auth = answer.auth.ok_or("the login answered without auth")?;
    Ok(Login {
        token: auth.client_token.as_str().into(),
        lease_duration: u64::try_from(auth.lease_duration).unwrap_or(0),
        renewable: auth.renewable,
    })
}

/// The next wait of a retry: doubled, capped, with up to a quarter of
/// jitter taken off so that many pods do not retry in step.
pub fn backoff(previous: Duration, min: Duration, max: Duration) -> Duration {
    use rand::Rng;
    let next = if previous.is_zero() {
        min
    } else {
        (previous * 2).min(max)
    };
    let jitter = rand::thread_rng().gen_range(0.0..0.25);
    next.mul_f64(1.0 - jitter).max(min.min(next))
}

//! Asking the cluster's API server: the TokenReview API
//! (`POST /apis/authentication.k8s.io/v1/tokenreviews`), which says whether
//! a service-account token is genuine and still valid, and a namespace's
//! labels (`GET /api/v1/namespaces/:name`) for roles with a namespace
//! selector.
//!
//! TLS is verified against the configured CA only (no system roots): the
//! API server is the cluster's, not the Internet's. The bearer is the
//! reviewer JWT, or the client's own JWT when none is configured (a
//! service account may review itself if RBAC lets it). Neither the tokens
//! nor the request body are ever logged; errors name the step that failed.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::ApiTarget;
use crate::secret::SecretString;

const TOKEN_REVIEW_PATH: &str = "apis/authentication.k8s.io/v1/tokenreviews";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// An API server answer larger than this is not a TokenReview.
const MAX_BODY: usize = 1 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("TLS client: {0}")]
    Client(String),
    #[error("lookup failed: {0}")]
    Transport(String),
    #[error(
        "lookup failed: service account unauthorized; this could mean it has been deleted or recreated with a new token"
    )]
    Unauthorized,
    #[error("lookup failed: the API server answered {status}: {reason}")]
    Status { status: u16, reason: String },
    #[error("lookup failed: {0}")]
    Rejected(String),
    #[error("lookup failed: service account jwt not valid")]
    NotAuthenticated,
    #[error(
        "lookup failed: service account jwt valid for audience(s) {got:?}, but wanted {wanted:?}"
    )]
    Audience {
        got: Vec<String>,
        wanted: Vec<String>,
    },
    #[error("lookup failed: unexpected username format")]
    Username,
    #[error("lookup failed: username returned is not a service account")]
    NotServiceAccount,
    #[error("lookup failed: the API server's answer is not a {0}")]
    Malformed(&'static str),
    #[error(
        "namespace lookup failed: TokenReviewer JWT needs to be configured to use namespace selectors"
    )]
    NoReviewer,
}

/// The service account the API server vouches for.
#[derive(Debug, PartialEq, Eq)]
pub struct Reviewed {
    pub namespace: String,
    pub name: String,
    pub uid: String,
}

#[derive(Serialize)]
struct TokenReviewRequest<'a> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    spec: RequestSpec<'a>,
}

#[derive(Serialize)]
struct RequestSpec<'a> {
    token: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    audiences: &'a [String],
}

#[derive(Deserialize)]
struct TokenReviewResponse {
    #[serde(default)]
    status: Option<ReviewStatus>,
}

#[derive(Deserialize, Default)]
struct ReviewStatus {
    #[serde(default)]
    authenticated: bool,
    #[serde(default)]
    error: String,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    user: UserInfo,
}

#[derive(Deserialize, Default)]
struct UserInfo {
    #[serde(default)]
    username: String,
    #[serde(default)]
    uid: String,
}

/// A metav1.Status (the API server's error body).
#[derive(Deserialize)]
struct Status {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct Namespace {
    #[serde(default)]
    metadata: NamespaceMeta,
}

#[derive(Deserialize, Default)]
struct NamespaceMeta {
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The API client, rebuilt only when the trusted CA changes (the pod's CA
/// file may be rotated; a configured one changes on config writes).
#[derive(Default)]
pub struct ApiClient {
    cached: Mutex<Option<(String, reqwest::Client)>>,
}

impl ApiClient {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self, ca_pem: &str) -> Result<reqwest::Client, ReviewError> {
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((pem, client)) = cached.as_ref() {
            if pem == ca_pem {
                return Ok(client.clone());
            }
        }
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .tls_built_in_root_certs(false)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if !ca_pem.is_empty() {
            let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
                .map_err(|e| ReviewError::Client(format!("kubernetes_ca_cert: {e}")))?;
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder
            .build()
            .map_err(|e| ReviewError::Client(e.to_string()))?;
        *cached = Some((ca_pem.to_owned(), client.clone()));
        Ok(client)
    }

    /// Reviews `jwt`. `audiences` are what the token must be valid for
    /// (the role's audience, or the token's own `aud` as Vault sends).
    pub async fn review(
        &self,
        target: &ApiTarget,
        jwt: &SecretString,
        audiences: &[String],
    ) -> Result<Reviewed, ReviewError> {
        let url = target
            .base
            .join(TOKEN_REVIEW_PATH)
            .map_err(|e| ReviewError::Client(e.to_string()))?;
        let body = TokenReviewRequest {
            api_version: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: RequestSpec {
                token: jwt.expose(),
                audiences,
            },
        };
        let body = serde_json::to_vec(&body).map_err(|e| ReviewError::Client(e.to_string()))?;
        let bearer = target.reviewer.as_ref().unwrap_or(jwt);
        let resp = self
            .client(&target.ca_pem)?
            .post(url)
            .bearer_auth(bearer.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| ReviewError::Transport(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let bytes = read_capped(resp).await?;
        if !(200..=206).contains(&status) {
            return Err(if status == 401 {
                ReviewError::Unauthorized
            } else {
                ReviewError::Status {
                    status,
                    reason: status_message(&bytes),
                }
            });
        }
        if let Ok(s) = serde_json::from_slice::<Status>(&bytes) {
            if s.kind == "Status" && s.status != "Success" {
                return Err(ReviewError::Rejected(s.message));
            }
        }
        let review: TokenReviewResponse =
            serde_json::from_slice(&bytes).map_err(|_| ReviewError::Malformed("TokenReview"))?;
        let status = review.status.unwrap_or_default();
        if !status.error.is_empty() {
            return Err(ReviewError::Rejected(status.error));
        }
        if !status.authenticated {
            return Err(ReviewError::NotAuthenticated);
        }
        if !audiences.is_empty() && !audiences.iter().any(|a| status.audiences.contains(a)) {
            return Err(ReviewError::Audience {
                got: status.audiences,
                wanted: audiences.to_vec(),
            });
        }
        // system:serviceaccount:<namespace>:<name>
        let parts: Vec<&str> = status.user.username.split(':').collect();
        let [system, kind, namespace, name] = parts.as_slice() else {
            return Err(ReviewError::Username);
        };
        if *system != "system" || *kind != "serviceaccount" {
            return Err(ReviewError::NotServiceAccount);
        }
        Ok(Reviewed {
            namespace: (*namespace).to_owned(),
            name: (*name).to_owned(),
            uid: status.user.uid,
        })
    }

    /// A namespace's labels, read with the reviewer JWT (which needs
    /// `get` on namespaces). `namespace` must already be a valid name.
    pub async fn namespace_labels(
        &self,
        target: &ApiTarget,
        namespace: &str,
    ) -> Result<BTreeMap<String, String>, ReviewError> {
        let reviewer = target.reviewer.as_ref().ok_or(ReviewError::NoReviewer)?;
        let url = target
            .base
            .join(&format!("api/v1/namespaces/{namespace}"))
            .map_err(|e| ReviewError::Client(e.to_string()))?;
        let resp = self
            .client(&target.ca_pem)?
            .get(url)
            .bearer_auth(reviewer.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| ReviewError::Transport(error_chain(&e)))?;
        let status = resp.status().as_u16();
        let bytes = read_capped(resp).await?;
        if status != 200 {
            return Err(ReviewError::Status {
                status,
                reason: status_message(&bytes),
            });
        }
        let ns: Namespace =
            serde_json::from_slice(&bytes).map_err(|_| ReviewError::Malformed("Namespace"))?;
        Ok(ns.metadata.labels)
    }
}

/// reqwest's top-level message hides the cause (a TLS failure reads
/// "error sending request"); the chain says what happened.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

async fn read_capped(mut resp: reqwest::Response) -> Result<Vec<u8>, ReviewError> {
    let mut out = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| ReviewError::Transport(error_chain(&e)))?
    {
        if out.len() + chunk.len() > MAX_BODY {
            return Err(ReviewError::Malformed("response of a sane size"));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// The `message` of a metav1.Status body, else a bounded excerpt.
fn status_message(body: &[u8]) -> String {
    if let Ok(s) = serde_json::from_slice::<Status>(body) {
        if !s.message.is_empty() {
            return s.message;
        }
    }
    String::from_utf8_lossy(&body[..body.len().min(200)])
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_body_is_a_v1_token_review() {
        let aud = vec!["vault".to_string()];
        let body = serde_json::to_value(TokenReviewRequest {
            api_version: "authentication.k8s.io/v1",
            kind: "TokenReview",
            spec: RequestSpec {
                token: "t",
                audiences: &aud,
            },
        })
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                               "spec": {"token": "t", "audiences": ["vault"]}})
        );
        let none = serde_json::to_value(RequestSpec {
            token: "t",
            audiences: &[],
        })
        .unwrap();
        assert!(none.get("audiences").is_none());
    }

    #[test]
    fn status_messages() {
        assert_eq!(
            status_message(br#"{"kind":"Status","status":"Failure","message":"forbidden: no"}"#),
            "forbidden: no"
        );
        assert_eq!(status_message(b"plain text"), "plain text");
    }
}

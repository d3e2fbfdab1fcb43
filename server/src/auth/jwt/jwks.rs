//! Where the verification keys come from: static PEM keys, a JWKS URL, or
//! the `jwks_uri` of an OIDC discovery document. Remote keys are cached in
//! memory; a token naming a `kid` the cache does not have triggers a
//! refresh (key rotation), at most once per [`MIN_REFRESH`] so that
//! unauthenticated logins with made-up key ids cannot make Arca hammer
//! the identity provider. Keys older than [`MAX_KEY_AGE`] are refreshed
//! on next use, so a key the provider withdrew stops being trusted.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use super::keys::{Alg, PublicKey, parse_jwks, parse_pem};
use crate::clock::Clock;

/// Least time between two refreshes caused by unknown key ids.
pub const MIN_REFRESH: Duration = Duration::from_secs(10);
/// Cached remote keys older than this are fetched again before use.
pub const MAX_KEY_AGE: Duration = Duration::from_secs(3600);
/// A JWKS or discovery document larger than this is refused.
const MAX_BODY: usize = 1 << 20;
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a signature was not accepted; the text is Vault's for each source.
#[derive(Debug, PartialEq, Eq)]
pub enum SigError {
    /// No static key verified the token.
    NoStaticKey,
    /// No remote key verified the token (after a refresh when the key id
    /// was unknown).
    NoRemoteKey,
    /// The remote keys could not be fetched.
    Fetch(String),
}

impl std::fmt::Display for SigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoStaticKey => {
                f.write_str("no known key successfully validated the token signature")
            }
            Self::NoRemoteKey => f.write_str("failed to verify id token signature"),
            Self::Fetch(e) => write!(f, "fetching keys: {e}"),
        }
    }
}

/// The signed parts of a token, as the verifier needs them.
pub struct Signed<'a> {
    pub alg: Alg,
    pub kid: Option<&'a str>,
    /// `header.payload`, the bytes the signature covers.
    pub message: &'a str,
    /// base64url signature.
    pub signature: &'a str,
}

pub enum KeySource {
    Static(Vec<PublicKey>),
    Remote(Remote),
}

impl KeySource {
    /// Static keys from PEM strings (already checked when the config was
    /// written).
    pub fn from_pems(pems: &[String]) -> Result<Self, String> {
        pems.iter()
            .map(|p| parse_pem(p))
            .collect::<Result<Vec<_>, _>>()
            .map(Self::Static)
    }

    /// Whether the source's own errors read as static or remote ones.
    pub fn is_remote(&self) -> bool {
        matches!(self, Self::Remote(_))
    }

    pub async fn verify(&self, token: &Signed<'_>) -> Result<(), SigError> {
        match self {
            Self::Static(keys) => {
                if keys
                    .iter()
                    .any(|k| k.verifies(token.alg, token.message.as_bytes(), token.signature))
                {
                    Ok(())
                } else {
                    Err(SigError::NoStaticKey)
                }
            }
            Self::Remote(r) => r.verify(token).await,
        }
    }
}

/// What a cached key set says about a token.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Verified,
    /// A key with the token's `kid` exists and did not verify it: a bad
    /// signature, not a rotation.
    Rejected,
    /// No key by that id (or, without a `kid`, none verified): the keys
    /// may have rotated.
    Unknown,
}

fn check(keys: &[PublicKey], token: &Signed<'_>) -> Outcome {
    let verifies = |k: &PublicKey| k.verifies(token.alg, token.message.as_bytes(), token.signature);
    match token.kid {
        Some(kid) => {
            let mut named = keys
                .iter()
                .filter(|k| k.kid.as_deref() == Some(kid))
                .peekable();
            if named.peek().is_none() {
                Outcome::Unknown
            } else if named.any(verifies) {
                Outcome::Verified
            } else {
                Outcome::Rejected
            }
        }
        None if keys.iter().any(verifies) => Outcome::Verified,
        None => Outcome::Unknown,
    }
}

struct Cached {
    keys: Vec<PublicKey>,
    fetched_at: Option<SystemTime>,
    generation: u64,
}

/// The last fetch attempt, successful or not: refreshes are throttled
/// from it, so a provider that is down is not asked on every login.
#[derive(Default)]
struct Attempt {
    at: Option<SystemTime>,
    error: Option<String>,
}

/// A JWKS URL and the keys last fetched from it.
pub struct Remote {
    client: reqwest::Client,
    jwks_url: String,
    clock: Clock,
    cached: RwLock<Arc<Cached>>,
    attempt: Mutex<Attempt>,
    /// Held while fetching, so concurrent misses make one request.
    refresh: tokio::sync::Mutex<()>,
}

impl Remote {
    pub fn new(client: reqwest::Client, jwks_url: String, clock: Clock) -> Self {
        Self {
            client,
            jwks_url,
            clock,
            cached: RwLock::new(Arc::new(Cached {
                keys: Vec::new(),
                fetched_at: None,
                generation: 0,
            })),
            attempt: Mutex::new(Attempt::default()),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    fn current(&self) -> Arc<Cached> {
        Arc::clone(&self.cached.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn since(&self, t: Option<SystemTime>) -> Option<Duration> {
        t.map(|t| self.clock.now().duration_since(t).unwrap_or_default())
    }

    fn attempt(&self) -> std::sync::MutexGuard<'_, Attempt> {
        self.attempt.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fetches the key set now and caches it.
    pub async fn fetch(&self) -> Result<(), String> {
        self.attempt().at = Some(self.clock.now());
        let fetched = match get(&self.client, &self.jwks_url).await {
            Ok(body) => parse_jwks(&body),
            Err(e) => Err(e),
        };
        self.attempt().error = fetched.as_ref().err().cloned();
        let keys = fetched?;
        let mut slot = self.cached.write().unwrap_or_else(|e| e.into_inner());
        let generation = slot.generation + 1;
        *slot = Arc::new(Cached {
            keys,
            fetched_at: Some(self.clock.now()),
            generation,
        });
        Ok(())
    }

    async fn verify(&self, token: &Signed<'_>) -> Result<(), SigError> {
        let seen = self.current();
        let stale = self.since(seen.fetched_at).is_none_or(|a| a >= MAX_KEY_AGE);
        if !stale {
            match check(&seen.keys, token) {
                Outcome::Verified => return Ok(()),
                Outcome::Rejected => return Err(SigError::NoRemoteKey),
                Outcome::Unknown => {}
            }
        }
        let _one_at_a_time = self.refresh.lock().await;
        let recent = self
            .since(self.attempt().at)
            .is_some_and(|a| a < MIN_REFRESH);
        if self.current().generation == seen.generation && !recent {
            if let Err(e) = self.fetch().await {
                // With keys in hand keep serving from them: the provider
                // may be briefly down.
                tracing::warn!(url = %self.jwks_url, error = %e, "refreshing JWKS failed");
            }
        }
        let now = self.current();
        if now.fetched_at.is_none() {
            let e = self.attempt().error.clone().unwrap_or_default();
            return Err(SigError::Fetch(e));
        }
        match check(&now.keys, token) {
            Outcome::Verified => Ok(()),
            Outcome::Rejected | Outcome::Unknown => Err(SigError::NoRemoteKey),
        }
    }
}

/// An HTTP client that trusts only `ca_pem` when it is set, else the
/// built-in web roots.
pub fn client(ca_pem: &str) -> Result<reqwest::Client, String> {
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .timeout(REQUEST_TIMEOUT)
        .connect_timeout(CONNECT_TIMEOUT);
    if !ca_pem.trim().is_empty() {
        let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes())
            .ok()
            .filter(|c| !c.is_empty())
            .ok_or_else(|| "could not parse CA PEM value successfully".to_owned())?;
        b = b.tls_built_in_root_certs(false);
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    b.build()
        .map_err(|e| format!("error creating HTTP client: {e}"))
}

/// An error's causes, as Go prints a wrapped error. reqwest's own top
/// line only repeats the URL, which the caller already names.
fn chain(e: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut src = e.source();
    while let Some(s) = src {
        parts.push(s.to_string());
        src = s.source();
    }
    if parts.is_empty() {
        e.to_string()
    } else {
        parts.join(": ")
    }
}

/// GETs `url`; anything but 200 is an error `"<status>: <body>"`.
async fn get(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, String> {
    let mut resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("Get {url:?}: {}", chain(&e)))?;
    let status = resp.status();
    let mut body = Vec::new();
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|e| format!("unable to read response body: {}", chain(&e)))?
    {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("response from {url:?} exceeds {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    if status != reqwest::StatusCode::OK {
        let text = String::from_utf8_lossy(&body);
        let text: String = text.chars().take(512).collect();
        return Err(format!("{status}: {text}"));
    }
    Ok(body)
}

/// The discovery document's `jwks_uri`, after checking that its `issuer`
/// is exactly the configured URL (as go-oidc does).
pub async fn discover(client: &reqwest::Client, issuer: &str) -> Result<String, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = get(client, &url).await?;
    let doc: Value = serde_json::from_slice(&body)
        .map_err(|e| format!("failed to decode OIDC discovery document: {e}"))?;
    let returned = doc.get("issuer").and_then(Value::as_str).unwrap_or("");
    if returned != issuer {
        return Err(format!(
            "issuer did not match the returned issuer, expected {issuer:?} got {returned:?}"
        ));
    }
    doc.get("jwks_uri")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "the OIDC discovery document has no jwks_uri".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_by_key_id() {
        let keys: Vec<PublicKey> = Vec::new();
        let t = Signed {
            alg: Alg::RS256,
            kid: Some("k1"),
            message: "a.b",
            signature: "c2ln",
        };
        assert_eq!(check(&keys, &t), Outcome::Unknown);
        let t = Signed { kid: None, ..t };
        assert_eq!(check(&keys, &t), Outcome::Unknown);
    }

    #[test]
    fn bad_ca_pem_is_reported() {
        assert_eq!(
            client("not a pem").unwrap_err(),
            "could not parse CA PEM value successfully"
        );
        assert!(client("").is_ok());
    }

    #[test]
    fn messages_are_vaults() {
        assert_eq!(
            SigError::NoStaticKey.to_string(),
            "no known key successfully validated the token signature"
        );
        assert_eq!(
            SigError::NoRemoteKey.to_string(),
            "failed to verify id token signature"
        );
    }
}

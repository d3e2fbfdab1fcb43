//! The [`Client`]: one server address, an optional token, TLS settings, and
//! the raw logical operations every typed helper is built on.
//!
//! Requests look like the Go client's: JSON bodies without a Content-Type,
//! `X-Vault-Request: true` on every request, `X-Vault-Token` when a token is
//! set, and LIST sent as `GET …?list=true`. Status 200–399 is success; any
//! other status becomes [`Error::Api`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde_json::Value;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::secret::{Secret, parse_secret};

/// How long one request may take, like the Go client's default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A token held by the client: zeroized on drop, never printed by Debug.
#[derive(Clone)]
struct Token(String);

impl Drop for Token {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Configures a [`Client`]: address, token and TLS trust.
#[derive(Clone)]
pub struct ClientBuilder {
    address: String,
    token: Option<Token>,
    ca_cert: Option<PathBuf>,
    ca_pem: Option<Vec<u8>>,
    resolve: Vec<(String, std::net::SocketAddr)>,
    tls_skip_verify: bool,
    timeout: Duration,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("address", &self.address)
            .field("token", &self.token)
            .field("ca_cert", &self.ca_cert)
            .field("ca_pem", &self.ca_pem.as_ref().map(|p| p.len()))
            .field("resolve", &self.resolve)
            .field("tls_skip_verify", &self.tls_skip_verify)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ClientBuilder {
    /// Starts a builder for the server at `address` (`http://host:port` or `https://…`).
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            token: None,
            ca_cert: None,
            ca_pem: None,
            resolve: Vec::new(),
            tls_skip_verify: false,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Trusts these PEM CA certificate(s) (held in memory, e.g. read from
    /// a Kubernetes Secret); used instead of `ca_cert` when both are set.
    pub fn ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.ca_pem = Some(pem.into());
        self
    }

    /// Connects to `addr` for `host` instead of resolving it: the TLS
    /// name checked stays `host` (a pod reached by its IP, verified
    /// against the DNS name its certificate carries).
    pub fn resolve(mut self, host: impl Into<String>, addr: std::net::SocketAddr) -> Self {
        self.resolve.push((host.into(), addr));
        self
    }

    /// Sends this token with every request.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(Token(token.into()));
        self
    }

    /// Trusts the PEM CA certificate(s) in this file, in addition to the
    /// built-in roots.
    pub fn ca_cert(mut self, path: impl AsRef<Path>) -> Self {
        self.ca_cert = Some(path.as_ref().to_path_buf());
        self
    }

    /// Disables TLS certificate verification (tests and dev servers only).
    pub fn tls_skip_verify(mut self, skip: bool) -> Self {
        self.tls_skip_verify = skip;
        self
    }

    /// Sets the timeout of one request (60 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Builds the client: checks the address and loads the CA file.
    pub fn build(self) -> Result<Client> {
        let address = self.address.trim().trim_end_matches('/').to_string();
        if !(address.starts_with("http://") || address.starts_with("https://")) {
            return Err(Error::InvalidAddress {
                address: self.address.clone(),
                reason: "the scheme must be http:// or https://".into(),
            });
        }
        if address
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty())
        {
            return Err(Error::InvalidAddress {
                address: self.address.clone(),
                reason: "no host".into(),
            });
        }
        let mut http = reqwest::Client::builder()
            .timeout(self.timeout)
            .user_agent(concat!("arca-client/", env!("CARGO_PKG_VERSION")));
        for (host, addr) in &self.resolve {
            http = http.resolve(host, *addr);
        }
        if let Some(pem) = &self.ca_pem {
            if !self.tls_skip_verify {
                let tls =
                    crate::tls::config_for_ca_file(pem).map_err(|reason| Error::CaCertInvalid {
                        path: PathBuf::from("<in memory>"),
                        reason,
                    })?;
                http = http.use_preconfigured_tls(tls);
            }
        } else if let Some(path) = &self.ca_cert {
            let pem = std::fs::read(path).map_err(|source| Error::CaCertRead {
                path: path.clone(),
                source,
            })?;
            if !self.tls_skip_verify {
                let tls = crate::tls::config_for_ca_file(&pem).map_err(|reason| {
                    Error::CaCertInvalid {
                        path: path.clone(),
                        reason,
                    }
                })?;
                http = http.use_preconfigured_tls(tls);
            }
        }
        if self.tls_skip_verify {
            http = http.danger_accept_invalid_certs(true);
        }
        // A plain-HTTP server needs no root certificates: not loading the
        // built-in set keeps a small process (the agent) smaller.
        if address.starts_with("http://") {
            http = http.tls_built_in_root_certs(false);
        }
        Ok(Client {
            http: http.build().map_err(Error::Setup)?,
            address,
            token: self.token.clone(),
        })
    }
}

/// An async client for one Vault-compatible server. Cheap to clone.
#[derive(Clone)]
pub struct Client {
    pub(crate) http: reqwest::Client,
    address: String,
    token: Option<Token>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("address", &self.address)
            .field("token", &self.token)
            .finish()
    }
}

/// HTTP methods the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Get,
    Put,
    Post,
    Delete,
    /// JSON merge patch (RFC 7386), sent with its Content-Type.
    Patch,
}

impl Method {
    fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
        }
    }

    fn reqwest(self) -> reqwest::Method {
        match self {
            Method::Get => reqwest::Method::GET,
            Method::Put => reqwest::Method::PUT,
            Method::Post => reqwest::Method::POST,
            Method::Delete => reqwest::Method::DELETE,
            Method::Patch => reqwest::Method::PATCH,
        }
    }
}

/// A raw answer: status and body, with what was asked for error messages.
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
    pub(crate) method: Method,
    pub(crate) url: String,
}

impl Response {
    /// Turns an error status into [`Error::Api`] (or [`Error::ApiRaw`]).
    pub(crate) fn check(self) -> Result<Self> {
        if (200..400).contains(&self.status) {
            return Ok(self);
        }
        Err(self.into_error())
    }

    pub(crate) fn into_error(self) -> Error {
        #[derive(serde::Deserialize)]
        struct ErrorBody {
            #[serde(default)]
            errors: Option<Vec<String>>,
        }
        let method = self.method.as_str().to_string();
        match serde_json::from_slice::<ErrorBody>(&self.body) {
            Ok(body) => Error::Api {
                status: self.status,
                errors: body.errors.unwrap_or_default(),
                url: self.url,
                method,
            },
            Err(_) => Error::ApiRaw {
                status: self.status,
                body: String::from_utf8_lossy(&self.body).into_owned(),
                url: self.url,
                method,
            },
        }
    }

    /// The body as a [`Secret`], `None` when empty.
    pub(crate) fn secret(&self) -> Result<Option<Secret>> {
        parse_secret(&self.body).map_err(|source| self.decode_error(source))
    }

    /// The body as a [`Secret`]; an empty body is an error.
    pub(crate) fn required_secret(&self) -> Result<Secret> {
        self.secret()?.ok_or_else(|| self.empty_error())
    }

    /// The body decoded as `T`.
    pub(crate) fn json<T: DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|source| self.decode_error(source))
    }

    /// The `data` of the envelope decoded as `T` (the whole body when it is
    /// not an envelope).
    pub(crate) fn data<T: DeserializeOwned>(&self) -> Result<T> {
        let secret = self.required_secret()?;
        let data = secret.data.ok_or_else(|| self.empty_error())?;
        serde_json::from_value(Value::Object(data)).map_err(|source| self.decode_error(source))
    }

    fn decode_error(&self, source: serde_json::Error) -> Error {
        Error::Decode {
            method: self.method.as_str().to_string(),
            url: self.url.clone(),
            source,
        }
    }

    fn empty_error(&self) -> Error {
        Error::EmptyResponse {
            method: self.method.as_str().to_string(),
            url: self.url.clone(),
        }
    }
}

impl Client {
    /// A client for `address` without a token or TLS settings.
    pub fn new(address: impl Into<String>) -> Result<Self> {
        ClientBuilder::new(address).build()
    }

    /// Starts a [`ClientBuilder`].
    pub fn builder(address: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(address)
    }

    /// The server address, without a trailing slash.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The token sent with requests, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_ref().map(|t| t.0.as_str())
    }

    /// Sets the token sent with requests.
    pub fn set_token(&mut self, token: impl Into<String>) {
        self.token = Some(Token(token.into()));
    }

    /// Stops sending a token.
    pub fn clear_token(&mut self) {
        self.token = None;
    }

    /// A copy of this client that sends `token` instead.
    pub fn with_token(&self, token: impl Into<String>) -> Client {
        let mut c = self.clone();
        c.set_token(token);
        c
    }

    /// Reads a logical path (`GET /v1/<path>`). A 404 without data or
    /// warnings is `Ok(None)`, like the Go client.
    pub async fn read(&self, path: &str) -> Result<Option<Secret>> {
        self.read_with_query(path, &[]).await
    }

    /// Like [`Client::read`], with query parameters.
    pub async fn read_with_query(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Option<Secret>> {
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let resp = self.send(Method::Get, path, &query, None).await?;
        not_found_is_none(resp)
    }

    /// Lists a logical path (`GET /v1/<path>?list=true`). A 404 without data
    /// is `Ok(None)`.
    pub async fn list(&self, path: &str) -> Result<Option<Secret>> {
        let resp = self
            .send(Method::Get, path, &[("list", "true")], None)
            .await?;
        not_found_is_none(resp)
    }

    /// Writes a logical path (`PUT /v1/<path>` with `body` as JSON; `Null`
    /// sends `null`). A 204 or empty body is `Ok(None)`.
    pub async fn write(&self, path: &str, body: &Value) -> Result<Option<Secret>> {
        self.send(Method::Put, path, &[], Some(body))
            .await?
            .check()?
            .secret()
    }

    /// Deletes a logical path (`DELETE /v1/<path>`).
    pub async fn delete(&self, path: &str) -> Result<Option<Secret>> {
        self.delete_with_query(path, &[]).await
    }

    /// Like [`Client::delete`], with query parameters.
    pub async fn delete_with_query(
        &self,
        path: &str,
        query: &[(String, String)],
    ) -> Result<Option<Secret>> {
        let query: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.send(Method::Delete, path, &query, None)
            .await?
            .check()?
            .secret()
    }

    /// Sends a request and checks its status.
    pub(crate) async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Response> {
        self.send(method, path, &[], body).await?.check()
    }

    /// Sends one request; any status is returned, only transport failures
    /// are errors.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
    ) -> Result<Response> {
        let url = self.url(path, query);
        let mut req = self
            .http
            .request(method.reqwest(), &url)
            .header("X-Vault-Request", "true");
        if let Some(token) = &self.token {
            req = req.header("X-Vault-Token", token.0.as_str());
        }
        if method == Method::Patch {
            // The one Content-Type Vault requires (it answers 415 otherwise).
            req = req.header("Content-Type", "application/merge-patch+json");
        }
        if let Some(body) = body {
            // The Go client sends JSON without a Content-Type; do the same so
            // the server sees what `vault`/`bao` send.
            let bytes = serde_json::to_vec(body).map_err(|source| Error::Decode {
                method: method.as_str().to_string(),
                url: url.clone(),
                source,
            })?;
            req = req.body(bytes);
        }
        let transport = |source| Error::Transport {
            method: method.as_str().to_string(),
            url: url.clone(),
            source,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        let body = resp.bytes().await.map_err(transport)?.to_vec();
        Ok(Response {
            status,
            body,
            method,
            url,
        })
    }

    pub(crate) fn url(&self, path: &str, query: &[(&str, &str)]) -> String {
        let mut url = format!(
            "{}/v1/{}",
            self.address,
            escape_path(path.trim_start_matches('/'))
        );
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&escape_query(k));
            url.push('=');
            url.push_str(&escape_query(v));
        }
        url
    }
}

/// A read/list answer: 404 without content is "nothing there".
fn not_found_is_none(resp: Response) -> Result<Option<Secret>> {
    if resp.status == 404 {
        return match resp.secret() {
            Ok(Some(secret)) if secret.has_content() => Ok(Some(secret)),
            Ok(_) => Ok(None),
            Err(_) => Err(resp.into_error()),
        };
    }
    resp.check()?.secret()
}

/// Trims slashes off both ends of a mount or policy path.
pub(crate) fn trim_path(path: &str) -> &str {
    path.trim().trim_matches('/')
}

fn escape_path(path: &str) -> String {
    escape(path, |b| b"/!$&'()*+,;=:@".contains(&b))
}

fn escape_query(s: &str) -> String {
    escape(s, |_| false)
}

fn escape(s: &str, keep: impl Fn(u8) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) || keep(b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls_like_the_go_client() {
        let c = Client::new("http://127.0.0.1:8200/").unwrap();
        assert_eq!(c.address(), "http://127.0.0.1:8200");
        assert_eq!(
            c.url("/secret/metadata", &[("list", "true")]),
            "http://127.0.0.1:8200/v1/secret/metadata?list=true"
        );
        assert_eq!(
            c.url("a b/c", &[("k", "a&b")]),
            "http://127.0.0.1:8200/v1/a%20b/c?k=a%26b"
        );
    }

    #[test]
    fn rejects_bad_addresses() {
        assert!(matches!(
            Client::new("127.0.0.1:8200"),
            Err(Error::InvalidAddress { .. })
        ));
        assert!(matches!(
            Client::new("http://"),
            Err(Error::InvalidAddress { .. })
        ));
        assert!(matches!(
            Client::builder("https://x")
                .ca_cert("/nonexistent/ca.pem")
                .build(),
            Err(Error::CaCertRead { .. })
        ));
    }

    #[test]
    fn debug_redacts_the_token() {
        let c = Client::builder("http://x")
            .token("s.topsecret")
            .build()
            .unwrap();
        assert_eq!(c.token(), Some("s.topsecret"));
        let dbg = format!(
            "{c:?} {:?}",
            Client::builder("http://x").token("s.topsecret")
        );
        assert!(!dbg.contains("topsecret"), "{dbg}");
    }

    #[test]
    fn error_statuses_become_api_errors() {
        let resp = Response {
            status: 400,
            body: br#"{"errors":["bad"]}"#.to_vec(),
            method: Method::Put,
            url: "http://x/v1/a".into(),
        };
        match resp.check() {
            Err(Error::Api {
                status,
                errors,
                method,
                ..
            }) => {
                assert_eq!(
                    (status, errors, method.as_str()),
                    (400, vec!["bad".to_string()], "PUT")
                );
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("a 400 must be an error"),
        }
        let resp = Response {
            status: 404,
            body: br#"{"errors":[]}"#.to_vec(),
            method: Method::Get,
            url: "u".into(),
        };
        assert!(not_found_is_none(resp).unwrap().is_none());
    }
}

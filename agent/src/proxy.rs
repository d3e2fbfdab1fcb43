//! The local API proxy (`api_proxy` and `cache` with a `listener`): the
//! application talks to the agent instead of the server. A request without
//! a token gets the agent's (`use_auto_auth_token = true`; `"force"` puts
//! it on every request); with `cache {}`, a read that answered with a lease
//! (database credentials) is answered again from memory until that lease
//! nears its end, so an application that restarts does not mint a new
//! database user each time.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;

/// What the proxy needs.
pub struct Proxy {
    pub upstream: String,
    pub client: reqwest::Client,
    /// The agent's current token (a new login replaces it).
    pub token: Arc<RwLock<String>>,
    pub use_token: bool,
    pub force_token: bool,
    /// `Some` with `cache {}`: GET path?query + token -> the answer.
    pub cache: Option<Mutex<HashMap<String, Cached>>>,
}

pub struct Cached {
    until: Instant,
    status: u16,
    body: Bytes,
}

type Response = hyper::Response<Full<Bytes>>;

fn answer(status: u16, body: impl Into<Bytes>) -> Response {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

impl Proxy {
    pub async fn handle(&self, req: hyper::Request<hyper::body::Incoming>) -> Response {
        let method = req.method().clone();
        let path_q = req
            .uri()
            .path_and_query()
            .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
        let mut headers = req.headers().clone();
        let body = match req.into_body().collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => return answer(400, r#"{"errors":["unreadable request body"]}"#),
        };
        let has_token = headers.contains_key("x-vault-token");
        if self.use_token && (self.force_token || !has_token) {
            let token = self.token.read().map(|t| t.clone()).unwrap_or_default();
            if let Ok(v) = token.parse() {
                headers.insert("x-vault-token", v);
            }
        }
        let key = format!(
            "{path_q}\n{}",
            headers
                .get("x-vault-token")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
        );
        let cacheable = method == hyper::Method::GET;
        if let (true, Some(cache)) = (cacheable, &self.cache) {
            let mut c = cache.lock().unwrap_or_else(|p| p.into_inner());
            match c.get(&key) {
                Some(hit) if hit.until > Instant::now() => {
                    return answer(hit.status, hit.body.clone());
                }
                Some(_) => {
                    c.remove(&key);
                }
                None => {}
            }
        }
        headers.remove("host");
        headers.remove("content-length");
        let Ok(m) = reqwest::Method::from_bytes(method.as_str().as_bytes()) else {
            return answer(405, r#"{"errors":["unsupported method"]}"#);
        };
        let mut up = self.client.request(
            m,
            format!("{}{path_q}", self.upstream.trim_end_matches('/')),
        );
        for (k, v) in &headers {
            up = up.header(k.as_str(), v.as_bytes());
        }
        let resp = match up.body(body.to_vec()).send().await {
            Ok(r) => r,
            Err(e) => {
                let msg = serde_json::json!({"errors": [format!("the agent could not reach the server: {e}")]});
                return answer(502, msg.to_string());
            }
        };
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await.unwrap_or_default();
        if let (true, Some(cache)) = (cacheable && status == 200, &self.cache) {
            if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(&bytes) {
                let leased = doc["lease_id"].as_str().is_some_and(|l| !l.is_empty());
                let secs = doc["lease_duration"].as_u64().unwrap_or(0);
                if leased && secs > 0 {
                    // Served again until a tenth of the lease is left.
                    let until = Instant::now() + Duration::from_secs(secs).mul_f64(0.9);
                    cache.lock().unwrap_or_else(|p| p.into_inner()).insert(
                        key,
                        Cached {
                            until,
                            status,
                            body: bytes.clone(),
                        },
                    );
                }
            }
        }
        answer(status, bytes)
    }
}

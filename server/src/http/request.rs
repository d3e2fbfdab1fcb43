//! A Vault HTTP request -> the internal `Request`: operation from the
//! method (and `?list=true`), path under `/v1/`, data from the JSON body
//! (read as bytes: Vault clients send JSON without a Content-Type) or from
//! the query string, token from `X-Vault-Token` or `Authorization: Bearer`.

use std::net::SocketAddr;

use hyper::http::request::Parts;
use hyper::{HeaderMap, Method};
use serde_json::{Map, Value};

use crate::duration;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request};
use crate::secret::SecretString;

/// The client token of a request, if any.
pub fn token(headers: &HeaderMap) -> Option<SecretString> {
    if let Some(t) = headers.get("x-vault-token").and_then(|v| v.to_str().ok()) {
        if !t.is_empty() {
            return Some(SecretString::from(t));
        }
    }
    let auth = headers.get(hyper::header::AUTHORIZATION)?.to_str().ok()?;
    let t = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))?;
    (!t.is_empty()).then(|| SecretString::from(t.trim()))
}

/// Query string -> map of strings (repeated keys keep the last value).
pub fn query_map(query: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        m.insert(percent_decode(k), Value::String(percent_decode(v)));
    }
    m
}

/// A URL path, `%xx`-decoded (a `+` stays a `+`, as in Go's paths).
pub fn path_decode(s: &str) -> String {
    decode(s, false)
}

/// A query-string component: `%xx` and `+` as a space.
pub fn percent_decode(s: &str) -> String {
    decode(s, true)
}

/// Whether a logical path is well formed: no empty, `.` or `..` segment
/// (a trailing slash is allowed: lists). Handlers strip slashes, so a
/// path like `sys/policies/acl//admin` would otherwise reach the
/// `admin` policy while the ACL saw another path.
pub fn valid_path(path: &str) -> bool {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    trimmed.is_empty()
        || trimmed
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn decode(s: &str, plus_is_space: bool) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                }
                _ => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Parses a JSON body the way Vault does: empty is an empty object; it
/// must be an object.
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>> {
    if body.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        // Vault decodes a bare JSON string or number into nothing.
        Ok(Value::String(_) | Value::Number(_) | Value::Bool(_) | Value::Null) => Ok(Map::new()),
        Ok(Value::Array(_)) => Err(Error::BadJson(
            "json: cannot unmarshal array into Go value of type map[string]interface {}".into(),
        )),
        Err(e) if e.is_eof() => Err(Error::BadJson("unexpected EOF".into())),
        Err(e) => Err(Error::BadJson(e.to_string())),
    }
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Builds the internal request. `path` is the part after `/v1/`.
pub fn build(
    parts: &Parts,
    path: &str,
    body: &[u8],
    remote: Option<SocketAddr>,
    request_id: String,
) -> Result<Request> {
    let query = query_map(parts.uri.query());
    let (op, mut data) = match parts.method {
        Method::GET => {
            let list = match query.get("list").and_then(Value::as_str) {
                Some(v) => parse_bool(v).ok_or(Error::InvalidRequest(String::new()))?,
                None => false,
            };
            (
                if list {
                    Operation::List
                } else {
                    Operation::Read
                },
                query,
            )
        }
        Method::PUT | Method::POST => (Operation::Update, parse_body(body)?),
        Method::DELETE => (Operation::Delete, query),
        Method::PATCH => {
            let ct = parts
                .headers
                .get(hyper::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            if !ct.starts_with("application/merge-patch+json") {
                return Err(Error::UnsupportedMediaType(format!(
                    "PATCH requires Content-Type of application/merge-patch+json, provided {ct}"
                )));
            }
            (Operation::Patch, parse_body(body)?)
        }
        _ if parts.method.as_str() == "LIST" => (Operation::List, query),
        _ => return Err(Error::MethodNotAllowed),
    };
    let mut path = path.to_owned();
    if op == Operation::List {
        data.remove("list");
        if !path.ends_with('/') {
            path.push('/');
        }
    }
    if op == Operation::Read {
        data.remove("list");
    }
    let wrap_ttl = match parts
        .headers
        .get("x-vault-wrap-ttl")
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if !v.is_empty() => {
            Some(duration::parse(v).map_err(|e| Error::invalid(e.to_string()))?)
        }
        _ => None,
    };
    Ok(Request {
        id: request_id,
        operation: op,
        path,
        data,
        client_token: token(&parts.headers),
        remote_addr: remote.map(|a| a.ip()),
        remote_port: remote.map(|a| a.port()),
        wrap_ttl,
        mount_point: String::new(),
        token_entry: None,
        token_hash: None,
        root_privs: false,
        mount_default_ttl: std::time::Duration::ZERO,
        mount_max_ttl: std::time::Duration::ZERO,
        password_policies: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies() {
        assert!(parse_body(b"").unwrap().is_empty());
        assert!(parse_body(b"  \n").unwrap().is_empty());
        assert_eq!(parse_body(br#"{"a":1}"#).unwrap()["a"], 1);
        assert!(parse_body(b"\"hello\"").unwrap().is_empty());
        let e = parse_body(br#"{"a":"#).unwrap_err().to_string();
        assert_eq!(e, "failed to decode JSON input: unexpected EOF");
        assert!(
            parse_body(b"[1,2]")
                .unwrap_err()
                .to_string()
                .contains("cannot unmarshal array")
        );
        assert!(parse_body(b"{{").is_err());
    }

    #[test]
    fn queries() {
        let q = query_map(Some("list=true&a=b%20c&x=1+2&bad=%zz"));
        assert_eq!(q["a"], "b c");
        assert_eq!(q["x"], "1 2");
        assert_eq!(q["bad"], "%zz");
        assert_eq!(percent_decode("%"), "%");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(path_decode("secret/data/a+b%20c"), "secret/data/a+b c");
        for ok in ["secret/data/x", "secret/", "sys/mounts", "", "a/b/"] {
            assert!(valid_path(ok), "{ok}");
        }
        for bad in [
            "sys/policies/acl//admin",
            "a/../b",
            "./x",
            "a/.",
            "//x",
            "/x",
            "a//",
        ] {
            assert!(!valid_path(bad), "{bad}");
        }
    }

    #[test]
    fn tokens() {
        let mut h = HeaderMap::new();
        assert!(token(&h).is_none());
        h.insert("authorization", "Bearer abc".parse().unwrap());
        assert_eq!(token(&h).unwrap().expose(), "abc");
        h.insert("x-vault-token", "xyz".parse().unwrap());
        assert_eq!(token(&h).unwrap().expose(), "xyz");
    }
}

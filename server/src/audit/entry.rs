//! The audit entry, in Vault's shape: `{time, type, auth, request,
//! response, error}`. One [`Record`] describes a request (and, for the
//! response entry, its outcome) once; each device renders it with its own
//! [`Hasher`], which HMACs the client token, accessors and every string in
//! `data` on the fly while serializing, so nothing is copied per device.

use std::collections::BTreeSet;

use hmac::{Hmac, Mac};
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::logical::{Auth, Request, Response, WrapInfo};
use crate::router::{MountEntry, Table};
use crate::secret::SecretBytes;
use crate::token::TokenEntry;

/// Prefix of every hashed value, as Vault writes it.
pub const HMAC_PREFIX: &str = "hmac-sha256:";

/// HMAC-SHA256 keyed by a device's salt. The keyed state is computed once
/// and cloned per value.
#[derive(Clone)]
pub struct Hasher {
    mac: Hmac<Sha256>,
}

impl Hasher {
    pub fn new(salt: &SecretBytes) -> Self {
        // HMAC takes keys of any length: this cannot fail; an empty key is
        // the fallback that keeps the type total.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(salt.expose())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        Self { mac }
    }

    /// `hmac-sha256:<hex>` of a value.
    pub fn hash(&self, value: &str) -> String {
        let mut mac = self.mac.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = String::with_capacity(HMAC_PREFIX.len() + 64);
        out.push_str(HMAC_PREFIX);
        out.push_str(&hex::encode(digest));
        out
    }
}

/// The caller's token and accessor as one device logs them, computed once
/// per caller and kept (they are what the log holds anyway, not secrets).
pub struct CallerHashes {
    pub token: String,
    pub accessor: String,
    /// `token_issue_time`, formatted once.
    pub issue_time: String,
}

/// How a device treats sensitive strings.
#[derive(Clone, Copy)]
pub struct Policy<'a> {
    /// None: `log_raw`, nothing is hashed.
    pub hasher: Option<&'a Hasher>,
    /// Hash accessors too (`hmac_accessor`, default true).
    pub hmac_accessor: bool,
    /// The request's caller, already hashed.
    pub caller: Option<&'a CallerHashes>,
}

impl Policy<'_> {
    fn caller_token(&self, raw: &str) -> std::borrow::Cow<'_, str> {
        match self.caller {
            Some(c) => std::borrow::Cow::Borrowed(c.token.as_str()),
            None => std::borrow::Cow::Owned(self.secret(raw)),
        }
    }

    fn caller_accessor(&self, raw: &str) -> std::borrow::Cow<'_, str> {
        match self.caller {
            Some(c) => std::borrow::Cow::Borrowed(c.accessor.as_str()),
            None => std::borrow::Cow::Owned(self.accessor(raw)),
        }
    }

    fn secret(&self, v: &str) -> String {
        match self.hasher {
            Some(h) => h.hash(v),
            None => v.to_owned(),
        }
    }

    fn accessor(&self, v: &str) -> String {
        match self.hasher {
            Some(h) if self.hmac_accessor => h.hash(v),
            _ => v.to_owned(),
        }
    }
}

/// Everything an entry says about one request.
pub struct Record<'a> {
    /// RFC 3339 with nanoseconds.
    pub time: String,
    pub req: &'a Request,
    pub mount: Option<&'a MountEntry>,
    /// The outcome, for the response entry.
    pub outcome: Option<Outcome<'a>>,
    /// Why the request was refused before reaching its backend.
    pub error: Option<String>,
    /// Whether the token's policies allowed the request
    /// (`auth.policy_results.allowed`).
    pub allowed: bool,
}

pub enum Outcome<'a> {
    Ok(&'a Response),
    Err(String),
}

/// One device's rendering of a record.
pub struct Rendered<'a> {
    pub record: &'a Record<'a>,
    pub policy: Policy<'a>,
}

impl Serialize for Rendered<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let p = self.policy;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("time", &r.time)?;
        m.serialize_entry(
            "type",
            if r.outcome.is_some() {
                "response"
            } else {
                "request"
            },
        )?;
        m.serialize_entry(
            "auth",
            &AuthOut {
                record: r,
                policy: p,
            },
        )?;
        m.serialize_entry(
            "request",
            &RequestOut {
                record: r,
                policy: p,
            },
        )?;
        if let Some(outcome) = &r.outcome {
            m.serialize_entry(
                "response",
                &ResponseOut {
                    record: r,
                    outcome,
                    policy: p,
                },
            )?;
        }
        let error = match (&r.error, &r.outcome) {
            (Some(e), _) => Some(e.as_str()),
            (None, Some(Outcome::Err(e))) => Some(e.as_str()),
            _ => None,
        };
        if let Some(e) = error {
            m.serialize_entry("error", e)?;
        }
        m.end()
    }
}

#[derive(Serialize)]
struct PolicyResults {
    allowed: bool,
}

#[derive(Serialize)]
struct RootNamespace {
    id: &'static str,
}

struct AuthOut<'a> {
    record: &'a Record<'a>,
    policy: Policy<'a>,
}

impl Serialize for AuthOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let req = self.record.req;
        let p = self.policy;
        let mut m = s.serialize_map(None)?;
        let Some(entry) = req.token_entry.as_deref() else {
            m.serialize_entry("token_type", "default")?;
            return m.end();
        };
        if let Some(t) = &req.client_token {
            m.serialize_entry("client_token", &p.caller_token(t.expose()))?;
        }
        m.serialize_entry("accessor", &p.caller_accessor(&entry.accessor))?;
        m.serialize_entry("display_name", &entry.display_name)?;
        m.serialize_entry("policies", &entry.policies)?;
        m.serialize_entry("token_policies", &entry.policies)?;
        if let Some(meta) = entry.meta.as_ref().filter(|m| !m.is_empty()) {
            m.serialize_entry("metadata", meta)?;
        }
        if !entry.entity_id.is_empty() {
            m.serialize_entry("entity_id", &entry.entity_id)?;
        }
        m.serialize_entry(
            "policy_results",
            &PolicyResults {
                allowed: self.record.allowed,
            },
        )?;
        m.serialize_entry("token_type", &entry.token_type)?;
        if entry.creation_ttl > 0 {
            m.serialize_entry("token_ttl", &entry.creation_ttl)?;
        }
        match p.caller {
            Some(c) => m.serialize_entry("token_issue_time", &c.issue_time)?,
            None => m.serialize_entry("token_issue_time", &issue_time(entry))?,
        }
        m.end()
    }
}

/// `token_issue_time`: RFC 3339 to the second, as Vault logs it.
pub fn issue_time(entry: &TokenEntry) -> String {
    crate::clock::rfc3339_secs(entry.issue_time / 1_000_000_000)
}

fn mount_fields<M: SerializeMap>(m: &mut M, mount: Option<&MountEntry>) -> Result<(), M::Error> {
    if let Some(mount) = mount {
        m.serialize_entry("mount_point", &mount.route_prefix())?;
        m.serialize_entry("mount_type", &mount.mount_type)?;
        m.serialize_entry("mount_accessor", &mount.accessor)?;
        m.serialize_entry(
            "mount_class",
            match mount.table {
                Table::Mounts => "secret",
                Table::Auth => "auth",
            },
        )?;
    }
    Ok(())
}

struct RequestOut<'a> {
    record: &'a Record<'a>,
    policy: Policy<'a>,
}

impl Serialize for RequestOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.record;
        let req = r.req;
        let p = self.policy;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("id", &req.id)?;
        m.serialize_entry("operation", req.operation.as_str())?;
        mount_fields(&mut m, r.mount)?;
        if let Some(t) = &req.client_token {
            m.serialize_entry("client_token", &p.caller_token(t.expose()))?;
        }
        if let Some(e) = &req.token_entry {
            m.serialize_entry("client_token_accessor", &p.caller_accessor(&e.accessor))?;
        }
        m.serialize_entry("namespace", &RootNamespace { id: "root" })?;
        m.serialize_entry("path", &req.path)?;
        if !req.data.is_empty() {
            let keep: BTreeSet<&str> = r
                .mount
                .map(|e| {
                    e.config
                        .audit_non_hmac_request_keys
                        .iter()
                        .map(String::as_str)
                        .collect()
                })
                .unwrap_or_default();
            m.serialize_entry(
                "data",
                &HashedMap {
                    map: &req.data,
                    policy: p,
                    keep: &keep,
                },
            )?;
        }
        if let Some(ip) = req.remote_addr {
            m.serialize_entry("remote_address", &ip.to_string())?;
        }
        if let Some(port) = req.remote_port {
            m.serialize_entry("remote_port", &port)?;
        }
        if let Some(ttl) = req.wrap_ttl {
            m.serialize_entry("wrap_ttl", &ttl.as_secs())?;
        }
        m.end()
    }
}

struct ResponseOut<'a> {
    record: &'a Record<'a>,
    outcome: &'a Outcome<'a>,
    policy: Policy<'a>,
}

impl Serialize for ResponseOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.policy;
        let mut m = s.serialize_map(None)?;
        mount_fields(&mut m, self.record.mount)?;
        let keep: BTreeSet<&str> = self
            .record
            .mount
            .map(|e| {
                e.config
                    .audit_non_hmac_response_keys
                    .iter()
                    .map(String::as_str)
                    .collect()
            })
            .unwrap_or_default();
        match self.outcome {
            Outcome::Ok(resp) => {
                if let Some(auth) = &resp.auth {
                    m.serialize_entry("auth", &ResponseAuth { auth, policy: p })?;
                }
                if let Some(data) = &resp.data {
                    m.serialize_entry(
                        "data",
                        &HashedMap {
                            map: data,
                            policy: p,
                            keep: &keep,
                        },
                    )?;
                }
                if let Some(w) = &resp.wrap_info {
                    m.serialize_entry("wrap_info", &WrapOut { info: w, policy: p })?;
                }
                if !resp.warnings.is_empty() {
                    m.serialize_entry("warnings", &resp.warnings)?;
                }
            }
            Outcome::Err(e) => {
                let mut data = Map::new();
                data.insert("error".into(), Value::String(e.clone()));
                m.serialize_entry(
                    "data",
                    &HashedMap {
                        map: &data,
                        policy: p,
                        keep: &keep,
                    },
                )?;
            }
        }
        m.end()
    }
}

struct ResponseAuth<'a> {
    auth: &'a Auth,
    policy: Policy<'a>,
}

impl Serialize for ResponseAuth<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.auth;
        let p = self.policy;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("client_token", &p.secret(&a.client_token))?;
        m.serialize_entry("accessor", &p.accessor(&a.accessor))?;
        m.serialize_entry("policies", &a.policies)?;
        m.serialize_entry("token_policies", &a.token_policies)?;
        if let Some(meta) = a.metadata.as_ref().filter(|m| !m.is_empty()) {
            m.serialize_entry("metadata", meta)?;
        }
        if !a.entity_id.is_empty() {
            m.serialize_entry("entity_id", &a.entity_id)?;
        }
        m.serialize_entry("token_type", &a.token_type)?;
        m.serialize_entry("token_ttl", &a.lease_duration)?;
        m.end()
    }
}

struct WrapOut<'a> {
    info: &'a WrapInfo,
    policy: Policy<'a>,
}

impl Serialize for WrapOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let w = self.info;
        let p = self.policy;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("ttl", &w.ttl)?;
        m.serialize_entry("token", &p.secret(&w.token))?;
        m.serialize_entry("accessor", &p.accessor(&w.accessor))?;
        m.serialize_entry("creation_time", &w.creation_time)?;
        m.serialize_entry("creation_path", &w.creation_path)?;
        if !w.wrapped_accessor.is_empty() {
            m.serialize_entry("wrapped_accessor", &p.accessor(&w.wrapped_accessor))?;
        }
        m.end()
    }
}

/// A data map whose string values (at any depth) are hashed as they are
/// written, except under the top-level keys in `keep`.
struct HashedMap<'a> {
    map: &'a Map<String, Value>,
    policy: Policy<'a>,
    keep: &'a BTreeSet<&'a str>,
}

impl Serialize for HashedMap<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.map.len()))?;
        for (k, v) in self.map {
            if self.keep.contains(k.as_str()) || self.policy.hasher.is_none() {
                m.serialize_entry(k, v)?;
            } else {
                m.serialize_entry(
                    k,
                    &HashedValue {
                        value: v,
                        policy: self.policy,
                    },
                )?;
            }
        }
        m.end()
    }
}

struct HashedValue<'a> {
    value: &'a Value,
    policy: Policy<'a>,
}

impl Serialize for HashedValue<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::String(v) => s.serialize_str(&self.policy.secret(v)),
            Value::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&HashedValue {
                        value: item,
                        policy: self.policy,
                    })?;
                }
                seq.end()
            }
            Value::Object(map) => {
                let mut m = s.serialize_map(Some(map.len()))?;
                for (k, v) in map {
                    m.serialize_entry(
                        k,
                        &HashedValue {
                            value: v,
                            policy: self.policy,
                        },
                    )?;
                }
                m.end()
            }
            other => other.serialize(s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::Operation;
    use serde_json::json;

    fn hasher() -> Hasher {
        Hasher::new(&SecretBytes::new(b"salt".to_vec()))
    }

    #[test]
    fn hashes_like_hmac_sha256() {
        // Checked against an independent implementation.
        assert_eq!(
            hasher().hash("hunter2"),
            format!("{HMAC_PREFIX}{}", expected_hmac("salt", "hunter2"))
        );
        assert_ne!(hasher().hash("a"), hasher().hash("b"));
    }

    fn expected_hmac(key: &str, msg: &str) -> String {
        let out = std::process::Command::new("openssl")
            .args(["dgst", "-sha256", "-hmac", key])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(msg.as_bytes())?;
                c.wait_with_output()
            })
            .expect("openssl runs");
        let text = String::from_utf8(out.stdout).unwrap();
        text.rsplit(' ').next().unwrap().trim().to_owned()
    }

    #[test]
    fn every_string_in_data_is_hashed_and_nothing_else_changes() {
        let h = hasher();
        let mut req = Request::new(Operation::Update, "secret/data/x");
        req.data = json!({"data": {"pass": "hunter2", "n": 3, "l": ["a", true]}, "options": {}})
            .as_object()
            .cloned()
            .unwrap();
        req.client_token = Some(crate::secret::SecretString::from("s.token"));
        let record = Record {
            time: "t".into(),
            req: &req,
            mount: None,
            outcome: None,
            error: None,
            allowed: true,
        };
        let out = serde_json::to_value(Rendered {
            record: &record,
            policy: Policy {
                hasher: Some(&h),
                hmac_accessor: true,
                caller: None,
            },
        })
        .unwrap();
        assert_eq!(out["type"], "request");
        assert_eq!(out["request"]["data"]["data"]["pass"], h.hash("hunter2"));
        assert_eq!(out["request"]["data"]["data"]["n"], 3);
        assert_eq!(out["request"]["data"]["data"]["l"][0], h.hash("a"));
        assert_eq!(out["request"]["data"]["data"]["l"][1], true);
        assert_eq!(out["request"]["client_token"], h.hash("s.token"));
        assert_eq!(out["auth"], json!({"token_type": "default"}));
        assert!(!out.to_string().contains("hunter2"));

        let raw = serde_json::to_value(Rendered {
            record: &record,
            policy: Policy {
                hasher: None,
                hmac_accessor: true,
                caller: None,
            },
        })
        .unwrap();
        assert_eq!(raw["request"]["data"]["data"]["pass"], "hunter2");
    }
}

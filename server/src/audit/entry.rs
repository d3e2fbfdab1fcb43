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
    /// The hash of "", which every KV v2 read logs (`deletion_time`).
    empty: Hashed,
}

impl Hasher {
    pub fn new(salt: &SecretBytes) -> Self {
        // HMAC takes keys of any length: this cannot fail; an empty key is
        // the fallback that keeps the type total.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(salt.expose())
            .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
        let empty = Self::compute(&mac, "");
        Self { mac, empty }
    }

    /// `hmac-sha256:<hex>` of a value.
    pub fn hash(&self, value: &str) -> String {
        self.hash_to(value).as_str().to_owned()
    }

    /// The same, on the stack.
    pub fn hash_to(&self, value: &str) -> Hashed {
        if value.is_empty() {
            return self.empty;
        }
        Self::compute(&self.mac, value)
    }

    fn compute(keyed: &Hmac<Sha256>, value: &str) -> Hashed {
        let mut mac = keyed.clone();
        mac.update(value.as_bytes());
        let digest = mac.finalize().into_bytes();
        let mut out = [0u8; HASHED_LEN];
        out[..HMAC_PREFIX.len()].copy_from_slice(HMAC_PREFIX.as_bytes());
        // 32 bytes into 64 digits: the lengths match, this cannot fail.
        let _ = hex::encode_to_slice(digest, &mut out[HMAC_PREFIX.len()..]);
        Hashed(out)
    }
}

/// Length of a hashed value: the prefix and 64 hex digits.
const HASHED_LEN: usize = HMAC_PREFIX.len() + 64;

/// A hashed value as [`Hasher::hash_to`] makes it.
#[derive(Clone, Copy)]
pub struct Hashed([u8; HASHED_LEN]);

impl Hashed {
    pub fn as_str(&self) -> &str {
        // ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// The caller's token and accessor as one device logs them, computed once
/// per caller and kept (they are what the log holds anyway, not secrets).
pub struct CallerHashes {
    pub token: String,
    pub accessor: String,
    /// `token_issue_time`, formatted once.
    pub issue_time: String,
    /// The entry's `auth` object, rendered once per value of
    /// `policy_results.allowed` (false, true): everything in it comes from
    /// the token entry, which does not change.
    pub auth: [std::sync::OnceLock<Vec<u8>>; 2],
}

impl CallerHashes {
    pub fn new(token: String, accessor: String, issue_time: String) -> Self {
        Self {
            token,
            accessor,
            issue_time,
            auth: Default::default(),
        }
    }
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

/// The `auth` and `request` objects of the last entry [`render_json`]
/// wrote, by their place in the output: a request's response entry repeats
/// them byte for byte, so they are copied rather than rendered again.
#[derive(Default)]
pub struct Shared {
    /// Addresses of the request and mount (compared, never followed), and
    /// `allowed`.
    key: Option<(usize, bool, Option<usize>)>,
    auth: std::ops::Range<usize>,
    request: std::ops::Range<usize>,
    /// Where `request` lacks the `mount_accessor` a response entry has
    /// (a request entry's does, as Vault's): the place to add it.
    accessor_at: Option<usize>,
    /// `request` has the mount's accessor.
    accessor_in: bool,
}

impl Shared {
    fn key(r: &Record<'_>) -> (usize, bool, Option<usize>) {
        (
            std::ptr::from_ref(r.req).addr(),
            r.allowed,
            r.mount.map(|m| std::ptr::from_ref(m).addr()),
        )
    }
}

/// Appends the JSON of `record` to `out`, without prefix or newline, the
/// same bytes as serializing [`Rendered`]: written field by field so that
/// what is known not to need escaping is copied, the caller's `auth` object
/// comes from its cache and a response entry reuses its request entry's
/// `auth` and `request`, which `shared` remembers from the last call.
pub fn render_json(
    record: &Record<'_>,
    policy: Policy<'_>,
    out: &mut Vec<u8>,
    shared: &mut Shared,
) -> serde_json::Result<()> {
    out.extend_from_slice(b"{\"time\":");
    serde_json::to_writer(&mut *out, &record.time)?;
    out.extend_from_slice(if record.outcome.is_some() {
        b",\"type\":\"response\",\"auth\":"
    } else {
        b",\"type\":\"request\",\"auth\":"
    });
    let key = Shared::key(record);
    let same = shared.key == Some(key);
    let start = out.len();
    if same {
        out.extend_from_within(shared.auth.clone());
    } else {
        let auth = AuthOut { record, policy };
        match policy.caller.filter(|_| record.req.token_entry.is_some()) {
            Some(c) => {
                let cached = c.auth[usize::from(record.allowed)]
                    .get_or_init(|| serde_json::to_vec(&auth).unwrap_or_default());
                if cached.is_empty() {
                    serde_json::to_writer(&mut *out, &auth)?;
                } else {
                    out.extend_from_slice(cached);
                }
            }
            None => serde_json::to_writer(&mut *out, &auth)?,
        }
    }
    let auth = start..out.len();
    out.extend_from_slice(b",\"request\":");
    let start = out.len();
    let accessor_in = record.outcome.is_some() && record.mount.is_some();
    let mut accessor_at = None;
    match (record.mount, shared.accessor_at) {
        // The same object.
        _ if same && shared.accessor_in == accessor_in => {
            out.extend_from_within(shared.request.clone());
            accessor_at = shared
                .accessor_at
                .map(|at| at - shared.request.start + start);
        }
        // The response entry after its request entry: the same object
        // with the mount's accessor.
        (Some(mount), Some(at)) if same && accessor_in => {
            out.extend_from_within(shared.request.start..at);
            out.extend_from_slice(b",\"mount_accessor\":");
            serde_json::to_writer(&mut *out, &mount.accessor)?;
            out.extend_from_within(at..shared.request.end);
        }
        _ => {
            serde_json::to_writer(&mut *out, &RequestOut { record, policy })?;
            if record.mount.is_some() && !accessor_in {
                // After `mount_type`, before `mount_class`: no string
                // value can hold this unescaped.
                accessor_at = find(&out[start..], b",\"mount_class\":").map(|i| start + i);
            }
        }
    }
    *shared = Shared {
        key: Some(key),
        auth,
        request: start..out.len(),
        accessor_at,
        accessor_in,
    };
    if let Some(outcome) = &record.outcome {
        out.extend_from_slice(b",\"response\":");
        serde_json::to_writer(
            &mut *out,
            &ResponseOut {
                record,
                outcome,
                policy,
            },
        )?;
    }
    if let Some(e) = record.error_message() {
        out.extend_from_slice(b",\"error\":");
        serde_json::to_writer(&mut *out, e)?;
    }
    out.push(b'}');
    Ok(())
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

impl Record<'_> {
    /// The entry's `error`: why it was refused, or how its backend failed.
    fn error_message(&self) -> Option<&str> {
        match (&self.error, &self.outcome) {
            (Some(e), _) => Some(e.as_str()),
            (None, Some(Outcome::Err(e))) => Some(e.as_str()),
            _ => None,
        }
    }
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
        if let Some(e) = r.error_message() {
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

/// The mount's fields; `accessor`: with `mount_accessor`, which Vault
/// sets on a request only once it is routed, after its request entry.
fn mount_fields<M: SerializeMap>(
    m: &mut M,
    mount: Option<&MountEntry>,
    accessor: bool,
) -> Result<(), M::Error> {
    if let Some(mount) = mount {
        m.serialize_entry("mount_point", &mount.route_prefix())?;
        m.serialize_entry("mount_type", &mount.mount_type)?;
        if accessor {
            m.serialize_entry("mount_accessor", &mount.accessor)?;
        }
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
        mount_fields(&mut m, r.mount, r.outcome.is_some())?;
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
        if let Some(ip) = &req.remote_addr {
            m.serialize_entry("remote_address", &AsStr(ip))?;
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

/// Serializes a value's `Display` as a JSON string, without a `String`
/// in between.
struct AsStr<'a, T>(&'a T);

impl<T: std::fmt::Display> Serialize for AsStr<'_, T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self.0)
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
        mount_fields(&mut m, self.record.mount, true)?;
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
                // A leased secret: its lease id, in clear, as Vault logs it.
                if let Some(lease) = &resp.lease {
                    m.serialize_entry("secret", &serde_json::json!({"lease_id": lease.id}))?;
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
            Value::String(v) => match self.policy.hasher {
                Some(h) => s.serialize_str(h.hash_to(v).as_str()),
                None => s.serialize_str(v),
            },
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
        // The kept hash of "" is the hash of "".
        assert_eq!(
            hasher().hash(""),
            format!("{HMAC_PREFIX}{}", expected_hmac("salt", ""))
        );
        assert_ne!(
            hasher().hash(""),
            Hasher::new(&SecretBytes::new(b"other".to_vec())).hash("")
        );
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

    fn token_entry(meta: bool, entity: &str) -> TokenEntry {
        serde_json::from_value(json!({
            "accessor": "acc\"1", "policies": ["default", "p\u{e9}"], "path": "auth/token/create",
            "meta": if meta { json!({"user": "al\nice"}) } else { Value::Null },
            "display_name": "token", "creation_time": 1_700_000_000,
            "issue_time": 1_700_000_000_123_456_789_i64, "creation_ttl": if meta { 3600 } else { 0 },
            "renewable": true, "entity_id": entity,
        }))
        .unwrap()
    }

    fn mount() -> MountEntry {
        let mut m: MountEntry = serde_json::from_value(json!({
            "table": "mounts", "path": "sec\",\"mount_class\":ret/", "type": "kv", "uuid": "u",
            "accessor": "kv_1",
        }))
        .unwrap();
        m.config.audit_non_hmac_response_keys = vec!["plain".into()];
        m.config.audit_non_hmac_request_keys = vec!["open".into()];
        m
    }

    /// The field-by-field writer gives the same bytes as serializing
    /// `Rendered`, for every kind of entry, with and without the caller
    /// cache and for a response that reuses its request's fragments.
    #[test]
    fn render_json_matches_the_serde_rendering() {
        let h = hasher();
        let mount = mount();
        let mut responses = Vec::new();
        let mut ok = Response::data(
            json!({"data": {"v": "s3cr\"et", "n": 1}, "plain": "x", "list": ["a", null]})
                .as_object()
                .cloned()
                .unwrap(),
        );
        ok.warnings = vec!["careful \u{1}".into()];
        ok.wrap_info = Some(WrapInfo {
            token: "s.wrap".into(),
            accessor: "wacc".into(),
            ttl: 60,
            creation_time: "now".into(),
            creation_path: "secret/data/x".into(),
            wrapped_accessor: "inner".into(),
        });
        responses.push(ok);
        let mut leased = Response::data(
            json!({"username": "v-root-app-x", "password": "pw"})
                .as_object()
                .cloned()
                .unwrap(),
        );
        leased.lease = Some(crate::logical::LeaseInfo {
            id: "database/creds/app/abc".into(),
            renewable: true,
        });
        responses.push(leased);
        responses.push(Response {
            auth: Some(Auth {
                client_token: "s.new".into(),
                accessor: "newacc".into(),
                policies: vec!["default".into()],
                token_policies: vec!["default".into()],
                metadata: Some(json!({"role": "r"}).as_object().cloned().unwrap()),
                lease_duration: 30,
                entity_id: "e1".into(),
                token_type: crate::token::TokenType::Service,
                ..Default::default()
            }),
            ..Default::default()
        });
        responses.push(Response::default());
        for (meta, entity, with_data, with_mount) in [
            (true, "ent", true, true),
            (false, "", false, false),
            (false, "ent", true, false),
        ] {
            let mut req = Request::new(Operation::Update, "secret/data/x\u{7f}");
            if with_data {
                req.data = json!({"data": {"pass": "hunter2"}, "open": "o", "n": [1, "z"]})
                    .as_object()
                    .cloned()
                    .unwrap();
            }
            req.client_token = Some(crate::secret::SecretString::from("s.token"));
            req.token_entry = Some(std::sync::Arc::new(token_entry(meta, entity)));
            req.remote_addr = Some("10.0.0.1".parse().unwrap());
            req.remote_port = Some(4242);
            req.wrap_ttl = Some(std::time::Duration::from_secs(90));
            let mount = with_mount.then_some(&mount);
            let mut outcomes: Vec<Option<Outcome<'_>>> =
                vec![None, Some(Outcome::Err("bad \"x\"".into()))];
            outcomes.extend(responses.iter().map(|r| Some(Outcome::Ok(r))));
            // One cache across both values of `allowed`, as a device keeps it.
            let entry = req.token_entry.as_deref().unwrap();
            let caller = CallerHashes::new(
                h.hash("s.token"),
                h.hash(&entry.accessor),
                issue_time(entry),
            );
            for allowed in [true, false] {
                for log_raw in [false, true] {
                    for cached in [None, Some(&caller), Some(&caller)] {
                        let policy = Policy {
                            hasher: (!log_raw).then_some(&h),
                            hmac_accessor: true,
                            caller: cached.filter(|_| !log_raw),
                        };
                        // One buffer for all, as a device renders a
                        // request's entries.
                        let mut shared = Shared::default();
                        let mut got = b"prefix".to_vec();
                        for outcome in &outcomes {
                            let outcome = outcome.as_ref().map(|o| match o {
                                Outcome::Ok(r) => Outcome::Ok(r),
                                Outcome::Err(e) => Outcome::Err(e.clone()),
                            });
                            let record = Record {
                                time: "2026-12-01T00:00:00.000000001Z".into(),
                                req: &req,
                                mount,
                                error: (!allowed).then(|| "permission denied".to_owned()),
                                outcome,
                                allowed,
                            };
                            let want = serde_json::to_vec(&Rendered {
                                record: &record,
                                policy,
                            })
                            .unwrap();
                            let start = got.len();
                            render_json(&record, policy, &mut got, &mut shared).unwrap();
                            assert_eq!(
                                String::from_utf8_lossy(&got[start..]),
                                String::from_utf8_lossy(&want)
                            );
                            // As Vault: the mount's accessor is in the
                            // request once it has been routed.
                            let v: Value = serde_json::from_slice(&want).unwrap();
                            let accessor = &v["request"]["mount_accessor"];
                            match (mount, record.outcome.is_some()) {
                                (Some(_), true) => assert_eq!(accessor, "kv_1"),
                                _ => assert!(accessor.is_null(), "{v}"),
                            }
                            if mount.is_some() {
                                assert_eq!(v["request"]["mount_class"], "secret");
                                if record.outcome.is_some() {
                                    assert_eq!(v["response"]["mount_accessor"], "kv_1");
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

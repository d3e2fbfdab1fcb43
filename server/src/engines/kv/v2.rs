//! KV version 2: versioned secrets with metadata, Vault's API:
//! `config`, `data/:path`, `metadata/:path`, `delete/:path`,
//! `undelete/:path`, `destroy/:path`, `subkeys/:path`.
//!
//! Storage (all through the mount's barrier view):
//! - `config` -> mount-wide settings
//! - `metadata/<path>` -> KeyMetadata (the path itself is the key, so
//!   listing metadata lists secrets at any depth)
//! - `versions/<sha256(path)>/<n>` -> one version's data; the hash keeps
//!   version keys apart from metadata keys and of fixed shape

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::{Clock, rfc3339_nanos};
use crate::duration::format_go;
use crate::engines::validate_path;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use crate::storage::Op;

/// Mount-wide settings.
const CONFIG_PATH: &str = "config";
const METADATA_PREFIX: &str = "metadata/";
const VERSIONS_PREFIX: &str = "versions/";
/// Versions kept when neither the key nor the mount sets max_versions.
const DEFAULT_MAX_VERSIONS: u64 = 10;

const INVALID_PATH_WARNING: &str = "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Arca CLI, use 'arca kv get' for this operation.";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Config {
    #[serde(default)]
    max_versions: u64,
    #[serde(default)]
    cas_required: bool,
    /// Seconds; 0 = never.
    #[serde(default)]
    delete_version_after: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct VersionMeta {
    /// Unix nanoseconds.
    created_time: i64,
    /// Unix nanoseconds; None = not deleted (or not scheduled).
    #[serde(default)]
    deletion_time: Option<i64>,
    #[serde(default)]
    destroyed: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct KeyMetadata {
    #[serde(default)]
    versions: BTreeMap<u64, VersionMeta>,
    #[serde(default)]
    current_version: u64,
    #[serde(default)]
    oldest_version: u64,
    #[serde(default)]
    max_versions: u64,
    #[serde(default)]
    cas_required: bool,
    #[serde(default)]
    delete_version_after: u64,
    #[serde(default)]
    custom_metadata: Option<BTreeMap<String, String>>,
    created_time: i64,
    updated_time: i64,
}

pub struct KvV2 {
    view: View,
    clock: Clock,
    /// Serializes read-modify-write of metadata (one mount, one lock: KV
    /// writes are storage-bound anyway).
    write: tokio::sync::Mutex<()>,
}

fn version_key(path: &str, version: u64) -> String {
    let h = Sha256::digest(path.as_bytes());
    format!("{VERSIONS_PREFIX}{}/{version}", hex::encode(h))
}

fn is_deleted(v: &VersionMeta, now: i64) -> bool {
    v.deletion_time.is_some_and(|t| t <= now)
}

fn time_or_empty(t: Option<i64>) -> Value {
    t.map_or(json!(""), |t| json!(rfc3339_nanos(t)))
}

impl KvV2 {
    pub fn new(view: View, clock: Clock) -> Self {
        Self {
            view,
            clock,
            write: tokio::sync::Mutex::new(()),
        }
    }

    async fn config(&self) -> Result<Config> {
        Ok(self.view.get_json(CONFIG_PATH).await?.unwrap_or_default())
    }

    async fn metadata(&self, path: &str) -> Result<Option<KeyMetadata>> {
        Ok(self
            .view
            .get_json(&format!("{METADATA_PREFIX}{path}"))
            .await?)
    }

    fn version_meta_json(&self, m: &KeyMetadata, version: u64) -> Map<String, Value> {
        let v = m.versions.get(&version);
        let mut out = Map::new();
        out.insert(
            "created_time".into(),
            json!(v.map(|v| rfc3339_nanos(v.created_time)).unwrap_or_default()),
        );
        out.insert(
            "custom_metadata".into(),
            m.custom_metadata.as_ref().map_or(Value::Null, |c| json!(c)),
        );
        out.insert(
            "deletion_time".into(),
            time_or_empty(v.and_then(|v| v.deletion_time)),
        );
        out.insert("destroyed".into(), json!(v.is_some_and(|v| v.destroyed)));
        out.insert("version".into(), json!(version));
        out
    }

    fn effective_max_versions(cfg: &Config, m: &KeyMetadata) -> u64 {
        match (m.max_versions, cfg.max_versions) {
            (0, 0) => DEFAULT_MAX_VERSIONS,
            (0, c) => c,
            (k, 0) => k,
            (k, c) => k.min(c),
        }
    }

    async fn read_data(&self, path: &str, req: &Request) -> Result<Response> {
        let Some(meta) = self.metadata(path).await? else {
            return Err(Error::NotFound);
        };
        let version = match fields::int(&req.data, "version")? {
            Some(v) if v > 0 => v as u64,
            Some(v) if v < 0 => return Err(Error::invalid("version must be a positive number")),
            _ => meta.current_version,
        };
        let Some(vm) = meta.versions.get(&version) else {
            return Err(Error::NotFound);
        };
        let now = self.clock.now_nanos();
        let metadata = self.version_meta_json(&meta, version);
        if vm.destroyed || is_deleted(vm, now) {
            let mut data = Map::new();
            data.insert("data".into(), Value::Null);
            data.insert("metadata".into(), Value::Object(metadata));
            return Ok(Response {
                data: Some(data),
                status: Some(404),
                ..Default::default()
            });
        }
        let secret: Value = self
            .view
            .get_json(&version_key(path, version))
            .await?
            .unwrap_or(Value::Null);
        let mut data = Map::new();
        data.insert("data".into(), secret);
        data.insert("metadata".into(), Value::Object(metadata));
        Ok(Response::data(data))
    }

    /// Writes a new version (`merge`: a patch on top of the current one).
    async fn write_data(&self, path: &str, req: &Request, patch: bool) -> Result<Response> {
        if path.is_empty() || path.ends_with('/') {
            return Err(Error::invalid("cannot write to a path ending in '/'"));
        }
        let new_data = match req.data.get("data") {
            Some(Value::Object(m)) => m.clone(),
            Some(Value::Null) | None => {
                return Err(Error::invalid("no data provided"));
            }
            Some(_) => return Err(Error::invalid("data must be a JSON object")),
        };
        let cas = match req.data.get("options") {
            Some(Value::Object(o)) => fields::int(o, "cas")?,
            Some(Value::Null) | None => None,
            Some(_) => return Err(Error::invalid("options must be a JSON object")),
        };
        let _guard = self.write.lock().await;
        let cfg = self.config().await?;
        let now = self.clock.now_nanos();
        let existing = self.metadata(path).await?;
        if patch && existing.is_none() {
            return Err(Error::NotFound);
        }
        let mut meta = existing.unwrap_or_else(|| KeyMetadata {
            created_time: now,
            updated_time: now,
            ..Default::default()
        });
        let cas_required = cfg.cas_required || meta.cas_required;
        match cas {
            None if cas_required => {
                return Err(Error::invalid(
                    "check-and-set parameter required for this call",
                ));
            }
            Some(c) if c < 0 || c as u64 != meta.current_version => {
                return Err(Error::invalid(
                    "check-and-set parameter did not match the current version",
                ));
            }
            _ => {}
        }
        let merged = if patch {
            let current = meta.versions.get(&meta.current_version);
            if current.is_none_or(|v| v.destroyed || is_deleted(v, now)) {
                return Err(Error::NotFound);
            }
            let mut base: Value = self
                .view
                .get_json(&version_key(path, meta.current_version))
                .await?
                .unwrap_or(Value::Object(Map::new()));
            merge_patch(&mut base, &Value::Object(new_data));
            match base {
                Value::Object(m) => m,
                _ => Map::new(),
            }
        } else {
            new_data
        };
        let version = meta.current_version + 1;
        let dva = match (meta.delete_version_after, cfg.delete_version_after) {
            (0, c) => c,
            (k, _) => k,
        };
        meta.versions.insert(
            version,
            VersionMeta {
                created_time: now,
                deletion_time: (dva > 0).then(|| now + (dva as i64) * 1_000_000_000),
                destroyed: false,
            },
        );
        meta.current_version = version;
        meta.updated_time = now;
        if meta.oldest_version == 0 {
            meta.oldest_version = version;
        }
        let mut ops = vec![Op::Put(
            version_key(path, version),
            crate::barrier::view::to_json(&merged),
        )];
        // Trim versions past max_versions, oldest first.
        let max = Self::effective_max_versions(&cfg, &meta);
        while meta.versions.len() as u64 > max {
            let Some((&oldest, _)) = meta.versions.iter().next() else {
                break;
            };
            meta.versions.remove(&oldest);
            ops.push(Op::Delete(version_key(path, oldest)));
        }
        meta.oldest_version = meta.versions.keys().next().copied().unwrap_or(version);
        ops.push(Op::Put(
            format!("{METADATA_PREFIX}{path}"),
            crate::barrier::view::to_json(&meta),
        ));
        self.view.write(ops).await?;
        Ok(Response::data(self.version_meta_json(&meta, version)))
    }

    fn versions_arg(req: &Request) -> Result<Vec<u64>> {
        let list = match req.data.get("versions") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|v| match v {
                    Value::Number(n) => n.as_u64().ok_or(()),
                    Value::String(s) => s.trim().parse::<u64>().map_err(|_| ()),
                    _ => Err(()),
                })
                .collect::<Result<Vec<_>, ()>>()
                .map_err(|_| Error::invalid("versions must be a list of positive integers"))?,
            Some(Value::String(s)) => s
                .split(',')
                .map(|v| v.trim().parse::<u64>())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| Error::invalid("versions must be a list of positive integers"))?,
            Some(Value::Number(n)) => vec![
                n.as_u64()
                    .ok_or_else(|| Error::invalid("versions must be positive"))?,
            ],
            _ => Vec::new(),
        };
        if list.is_empty() {
            return Err(Error::invalid("no version number provided"));
        }
        Ok(list)
    }

    /// Soft delete, undelete or destroy versions.
    async fn version_op(
        &self,
        path: &str,
        versions: Option<Vec<u64>>,
        kind: VersionOp,
    ) -> Result<Response> {
        let _guard = self.write.lock().await;
        let Some(mut meta) = self.metadata(path).await? else {
            return Ok(Response::empty());
        };
        let versions = versions.unwrap_or_else(|| vec![meta.current_version]);
        let now = self.clock.now_nanos();
        let mut ops = Vec::new();
        for v in versions {
            let Some(vm) = meta.versions.get_mut(&v) else {
                continue;
            };
            match kind {
                VersionOp::Delete => {
                    if !vm.destroyed && !is_deleted(vm, now) {
                        vm.deletion_time = Some(now);
                    }
                }
                VersionOp::Undelete => {
                    if !vm.destroyed {
                        vm.deletion_time = None;
                    }
                }
                VersionOp::Destroy => {
                    vm.destroyed = true;
                    ops.push(Op::Delete(version_key(path, v)));
                }
            }
        }
        meta.updated_time = now;
        ops.push(Op::Put(
            format!("{METADATA_PREFIX}{path}"),
            crate::barrier::view::to_json(&meta),
        ));
        self.view.write(ops).await?;
        Ok(Response::empty())
    }

    async fn read_metadata(&self, path: &str) -> Result<Response> {
        let Some(meta) = self.metadata(path).await? else {
            return Err(Error::NotFound);
        };
        let versions: Map<String, Value> = meta
            .versions
            .iter()
            .map(|(n, v)| {
                (
                    n.to_string(),
                    json!({
                        "created_time": rfc3339_nanos(v.created_time),
                        "deletion_time": time_or_empty(v.deletion_time),
                        "destroyed": v.destroyed,
                    }),
                )
            })
            .collect();
        Ok(Response::from_value(json!({
            "cas_required": meta.cas_required,
            "created_time": rfc3339_nanos(meta.created_time),
            "current_version": meta.current_version,
            "custom_metadata": meta.custom_metadata,
            "delete_version_after": format_go(Duration::from_secs(meta.delete_version_after)),
            "max_versions": meta.max_versions,
            "oldest_version": meta.oldest_version,
            "updated_time": rfc3339_nanos(meta.updated_time),
            "versions": versions,
        })))
    }

    async fn write_metadata(&self, path: &str, req: &Request, patch: bool) -> Result<Response> {
        if path.is_empty() || path.ends_with('/') {
            return Err(Error::invalid("cannot write to a path ending in '/'"));
        }
        let d = &req.data;
        let _guard = self.write.lock().await;
        let now = self.clock.now_nanos();
        let existing = self.metadata(path).await?;
        if patch && existing.is_none() {
            return Err(Error::NotFound);
        }
        let mut meta = existing.unwrap_or_else(|| KeyMetadata {
            created_time: now,
            updated_time: now,
            ..Default::default()
        });
        if let Some(v) = fields::int(d, "max_versions")? {
            if v < 0 {
                return Err(Error::invalid("max_versions must be a positive number"));
            }
            meta.max_versions = v as u64;
        }
        if let Some(v) = fields::bool(d, "cas_required")? {
            meta.cas_required = v;
        }
        if let Some(v) = fields::duration(d, "delete_version_after")? {
            meta.delete_version_after = v.as_secs();
        }
        if let Some(c) = fields::string_map(d, "custom_metadata")? {
            if c.len() > 64 {
                return Err(Error::invalid("custom_metadata may have at most 64 keys"));
            }
            if c.iter().any(|(k, v)| k.len() > 128 || v.len() > 512) {
                return Err(Error::invalid(
                    "custom_metadata keys must be at most 128 bytes, values 512",
                ));
            }
            meta.custom_metadata = if patch {
                let mut merged = meta.custom_metadata.take().unwrap_or_default();
                merged.extend(c);
                Some(merged)
            } else {
                Some(c)
            };
        }
        meta.updated_time = now;
        let cfg = self.config().await?;
        let mut ops = Vec::new();
        let max = Self::effective_max_versions(&cfg, &meta);
        while meta.versions.len() as u64 > max {
            let Some((&oldest, _)) = meta.versions.iter().next() else {
                break;
            };
            meta.versions.remove(&oldest);
            ops.push(Op::Delete(version_key(path, oldest)));
        }
        if let Some(&o) = meta.versions.keys().next() {
            meta.oldest_version = o;
        }
        ops.push(Op::Put(
            format!("{METADATA_PREFIX}{path}"),
            crate::barrier::view::to_json(&meta),
        ));
        self.view.write(ops).await?;
        Ok(Response::empty())
    }

    async fn delete_metadata(&self, path: &str) -> Result<Response> {
        let _guard = self.write.lock().await;
        let Some(meta) = self.metadata(path).await? else {
            return Ok(Response::empty());
        };
        let mut ops: Vec<Op> = meta
            .versions
            .keys()
            .map(|v| Op::Delete(version_key(path, *v)))
            .collect();
        ops.push(Op::Delete(format!("{METADATA_PREFIX}{path}")));
        self.view.write(ops).await?;
        Ok(Response::empty())
    }

    async fn list(&self, path: &str) -> Result<Response> {
        let prefix = if path.is_empty() || path.ends_with('/') {
            format!("{METADATA_PREFIX}{path}")
        } else {
            format!("{METADATA_PREFIX}{path}/")
        };
        let keys = self.view.list(&prefix).await?;
        if keys.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::list(keys))
    }

    async fn subkeys(&self, path: &str, req: &Request) -> Result<Response> {
        let depth = fields::int(&req.data, "depth")?.unwrap_or(0);
        if depth < 0 {
            return Err(Error::invalid("depth must be a non-negative integer"));
        }
        let resp = self.read_data(path, req).await?;
        let Some(mut data) = resp.data else {
            return Err(Error::NotFound);
        };
        if resp.status == Some(404) {
            return Ok(Response {
                data: Some(data),
                status: Some(404),
                ..Default::default()
            });
        }
        let secret = data.remove("data").unwrap_or(Value::Null);
        let mut out = Map::new();
        out.insert("subkeys".into(), subkeys_of(&secret, depth as usize, 1));
        out.insert(
            "metadata".into(),
            data.remove("metadata").unwrap_or(Value::Null),
        );
        Ok(Response::data(out))
    }
}

#[derive(Clone, Copy)]
enum VersionOp {
    Delete,
    Undelete,
    Destroy,
}

/// RFC 7386 JSON merge patch.
fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Map::new());
            }
            if let Value::Object(t) = target {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// The secret's structure with every leaf replaced by null.
fn subkeys_of(v: &Value, depth: usize, level: usize) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let inner = if v.is_object() && (depth == 0 || level < depth) {
                        subkeys_of(v, depth, level + 1)
                    } else {
                        Value::Null
                    };
                    (k.clone(), inner)
                })
                .collect(),
        ),
        _ => Value::Null,
    }
}

#[async_trait]
impl Backend for KvV2 {
    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let rel = req.rel_path();
        if let Some(path) = rel
            .strip_prefix("data/")
            .or_else(|| rel.strip_prefix("metadata/"))
        {
            if path.is_empty() || path.ends_with('/') {
                return Ok(None);
            }
            return Ok(Some(self.metadata(path).await?.is_some()));
        }
        if rel == CONFIG_PATH {
            return Ok(Some(self.view.get(CONFIG_PATH).await?.is_some()));
        }
        Ok(None)
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().to_owned();
        validate_path(&rel)?;
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        let (kind, path) = match rel.split_once('/') {
            Some((k, p)) => (k, p),
            None => (rel.as_str(), ""),
        };
        match (kind, op) {
            ("config", Operation::Read) if path.is_empty() => {
                let c = self.config().await?;
                Ok(Response::from_value(json!({
                    "max_versions": c.max_versions,
                    "cas_required": c.cas_required,
                    "delete_version_after": format_go(Duration::from_secs(c.delete_version_after)),
                })))
            }
            ("config", _) if write && path.is_empty() => {
                let _guard = self.write.lock().await;
                let mut c = self.config().await?;
                if let Some(v) = fields::int(&req.data, "max_versions")? {
                    if v < 0 {
                        return Err(Error::invalid("max_versions must be a positive number"));
                    }
                    c.max_versions = v as u64;
                }
                if let Some(v) = fields::bool(&req.data, "cas_required")? {
                    c.cas_required = v;
                }
                if let Some(v) = fields::duration(&req.data, "delete_version_after")? {
                    c.delete_version_after = v.as_secs();
                }
                self.view.put_json(CONFIG_PATH, &c).await?;
                Ok(Response::empty())
            }
            ("data", Operation::Read) if !path.is_empty() => self.read_data(path, req).await,
            ("data", _) if write => self.write_data(path, req, false).await,
            ("data", Operation::Patch) => self.write_data(path, req, true).await,
            ("data", Operation::Delete) => self.version_op(path, None, VersionOp::Delete).await,
            ("delete", _) if write => {
                let v = Self::versions_arg(req)?;
                self.version_op(path, Some(v), VersionOp::Delete).await
            }
            ("undelete", _) if write => {
                let v = Self::versions_arg(req)?;
                self.version_op(path, Some(v), VersionOp::Undelete).await
            }
            ("destroy", _) if write => {
                let v = Self::versions_arg(req)?;
                self.version_op(path, Some(v), VersionOp::Destroy).await
            }
            ("metadata", Operation::List) => self.list(path).await,
            ("metadata", Operation::Read) if path.is_empty() => Ok(Response {
                status: Some(404),
                warnings: vec![
                    "Non-listing operations on the root of a K/V v2 mount are not supported."
                        .into(),
                ],
                ..Default::default()
            }),
            ("metadata", Operation::Read) => self.read_metadata(path).await,
            ("metadata", _) if write => self.write_metadata(path, req, false).await,
            ("metadata", Operation::Patch) => self.write_metadata(path, req, true).await,
            ("metadata", Operation::Delete) => self.delete_metadata(path).await,
            ("subkeys", Operation::Read) => self.subkeys(path, req).await,
            ("config" | "data" | "delete" | "undelete" | "destroy" | "metadata" | "subkeys", _) => {
                Err(Error::UnsupportedOperation)
            }
            _ => Ok(Response {
                status: Some(404),
                warnings: vec![INVALID_PATH_WARNING.into()],
                ..Default::default()
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": "x"}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": "x"}));
    }

    #[test]
    fn subkeys_depth() {
        let v = json!({"a": 1, "b": {"c": {"d": 2}}});
        assert_eq!(
            subkeys_of(&v, 0, 1),
            json!({"a": null, "b": {"c": {"d": null}}})
        );
        assert_eq!(subkeys_of(&v, 1, 1), json!({"a": null, "b": null}));
        assert_eq!(subkeys_of(&v, 2, 1), json!({"a": null, "b": {"c": null}}));
    }
}

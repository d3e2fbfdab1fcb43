//! What KV v2 keeps in its mount's barrier view, and the version
//! bookkeeping Vault's `KeyMetadata.AddVersion` does.
//!
//! Storage layout:
//! - `config`: the mount-wide [`Config`].
//! - `metadata/<path>`: one [`KeyMetadata`] per secret. The secret's path
//!   is the storage key, so listing `metadata/<folder>/` lists secrets and
//!   folders at any depth with the storage layer's own listing.
//! - `versions/<sha256(path)>/<n>`: the data of version `n`. Hashing the
//!   path keeps version keys out of the metadata tree and of fixed shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::barrier::View;
use crate::barrier::view::to_json;
use crate::clock::rfc3339_nanos;
use crate::error::Result;
use crate::storage::Op;

/// Mount-wide settings.
pub(super) const CONFIG_PATH: &str = "config";
/// Key metadata, one entry per secret path.
const METADATA_PREFIX: &str = "metadata/";
/// Version data, grouped by the hash of the secret path.
const VERSIONS_PREFIX: &str = "versions/";
/// Versions kept when neither the key nor the mount sets `max_versions`.
const DEFAULT_MAX_VERSIONS: u32 = 10;
const NANOS_PER_SEC: i64 = 1_000_000_000;

/// The mount's `config` endpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Config {
    #[serde(default)]
    pub(super) max_versions: u32,
    #[serde(default)]
    pub(super) cas_required: bool,
    #[serde(default)]
    pub(super) metadata_cas_required: bool,
    /// Seconds. 0: not set; negative: disabled for every key (Vault
    /// stores -1s for "disabled").
    #[serde(default)]
    pub(super) delete_version_after: i64,
}

impl Config {
    fn delete_version_after_disabled(&self) -> bool {
        self.delete_version_after < 0
    }
}

/// One version's bookkeeping (its data lives under `versions/`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct VersionMeta {
    /// Unix nanoseconds.
    pub(super) created_time: i64,
    /// Unix nanoseconds: deleted from then on (possibly in the future,
    /// with `delete_version_after`). `None`: not deleted.
    #[serde(default)]
    pub(super) deletion_time: Option<i64>,
    #[serde(default)]
    pub(super) destroyed: bool,
}

impl VersionMeta {
    /// Deleted (or destroyed) at `now`: Vault answers 404 with metadata.
    pub(super) fn is_gone(&self, now: i64) -> bool {
        self.destroyed || self.deletion_time.is_some_and(|t| t <= now)
    }
}

/// A secret's metadata: its versions and per-key settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct KeyMetadata {
    #[serde(default)]
    pub(super) versions: BTreeMap<u64, VersionMeta>,
    #[serde(default)]
    pub(super) current_version: u64,
    /// Vault's sliding-window marker: 0 until versions are first trimmed.
    #[serde(default)]
    pub(super) oldest_version: u64,
    #[serde(default)]
    pub(super) max_versions: u32,
    #[serde(default)]
    pub(super) cas_required: bool,
    /// Seconds; 0 = not set.
    #[serde(default)]
    pub(super) delete_version_after: u64,
    /// `None` and an empty map both read back as `null`, as in Vault.
    #[serde(default)]
    pub(super) custom_metadata: Option<BTreeMap<String, String>>,
    /// Unix nanoseconds.
    #[serde(default)]
    pub(super) created_time: i64,
    #[serde(default)]
    pub(super) updated_time: i64,
    /// Counts metadata writes, for `metadata_cas`.
    #[serde(default)]
    pub(super) current_metadata_version: u64,
    #[serde(default)]
    pub(super) metadata_cas_required: bool,
}

/// RFC 3339 time, or `""` when there is none (Vault's empty timestamp).
fn time_or_empty(t: Option<i64>) -> String {
    t.map(rfc3339_nanos).unwrap_or_default()
}

fn go_duration(secs: i64) -> String {
    arca_client::duration::GoDuration(secs.saturating_mul(1_000_000_000)).go_string()
}

impl KeyMetadata {
    pub(super) fn new(now: i64) -> Self {
        Self {
            created_time: now,
            updated_time: now,
            ..Default::default()
        }
    }

    fn custom_metadata_json(&self) -> Value {
        match &self.custom_metadata {
            Some(m) if !m.is_empty() => json!(m),
            _ => Value::Null,
        }
    }

    /// The `metadata` block of a data read and the body of a data write:
    /// one version and the key's custom metadata.
    pub(super) fn version_json(&self, version: u64) -> Map<String, Value> {
        let v = self.versions.get(&version);
        let mut out = Map::new();
        out.insert(
            "created_time".into(),
            json!(time_or_empty(v.map(|v| v.created_time))),
        );
        out.insert("custom_metadata".into(), self.custom_metadata_json());
        out.insert(
            "deletion_time".into(),
            json!(time_or_empty(v.and_then(|v| v.deletion_time))),
        );
        out.insert("destroyed".into(), json!(v.is_some_and(|v| v.destroyed)));
        out.insert("version".into(), json!(version));
        out
    }

    /// The body of a metadata read.
    pub(super) fn to_json(&self) -> Map<String, Value> {
        let versions: Map<String, Value> = self
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
        let dva = i64::try_from(self.delete_version_after).unwrap_or(i64::MAX);
        let mut out = Map::new();
        out.insert("cas_required".into(), json!(self.cas_required));
        out.insert(
            "created_time".into(),
            json!(rfc3339_nanos(self.created_time)),
        );
        out.insert(
            "current_metadata_version".into(),
            json!(self.current_metadata_version),
        );
        out.insert("current_version".into(), json!(self.current_version));
        out.insert("custom_metadata".into(), self.custom_metadata_json());
        out.insert("delete_version_after".into(), json!(go_duration(dva)));
        out.insert("max_versions".into(), json!(self.max_versions));
        out.insert(
            "metadata_cas_required".into(),
            json!(self.metadata_cas_required),
        );
        out.insert("oldest_version".into(), json!(self.oldest_version));
        out.insert(
            "updated_time".into(),
            json!(rfc3339_nanos(self.updated_time)),
        );
        out.insert("versions".into(), Value::Object(versions));
        out
    }

    /// When a version created at `created` is deleted by itself: the
    /// smaller non-zero of the mount's and the key's `delete_version_after`
    /// (Vault's `deletionTime`), never when the mount disables it.
    pub(super) fn deletion_time(&self, cfg: &Config, created: i64) -> Option<i64> {
        if cfg.delete_version_after_disabled() {
            return None;
        }
        let mount = cfg.delete_version_after;
        let key = i64::try_from(self.delete_version_after).unwrap_or(i64::MAX);
        let secs = match (mount, key) {
            (0, 0) => return None,
            (m, 0) => m,
            (0, k) => k,
            (m, k) => m.min(k),
        };
        Some(created.saturating_add(secs.saturating_mul(NANOS_PER_SEC)))
    }

    /// Adds the next version and slides the window of kept versions, like
    /// Vault's `AddVersion`: the limit is the larger of the key's and the
    /// mount's `max_versions` (10 when neither is set). Returns the
    /// versions that fell out of the window, whose data must be deleted.
    pub(super) fn add_version(
        &mut self,
        created: i64,
        deletion: Option<i64>,
        cfg: &Config,
    ) -> Vec<u64> {
        self.current_version += 1;
        self.versions.insert(
            self.current_version,
            VersionMeta {
                created_time: created,
                deletion_time: deletion,
                destroyed: false,
            },
        );
        self.updated_time = created;
        if self.created_time == 0 {
            self.created_time = created;
        }
        let max = match self.max_versions.max(cfg.max_versions) {
            0 => DEFAULT_MAX_VERSIONS,
            m => m,
        };
        let max = u64::from(max);
        if self.current_version - self.oldest_version < max {
            return Vec::new();
        }
        let last_dropped = self.current_version - max;
        let dropped: Vec<u64> = self
            .versions
            .range(..=last_dropped)
            .map(|(v, _)| *v)
            .collect();
        for v in &dropped {
            self.versions.remove(v);
        }
        self.oldest_version = last_dropped + 1;
        dropped
    }
}

fn metadata_key(path: &str) -> String {
    format!("{METADATA_PREFIX}{path}")
}

fn version_key(path: &str, version: u64) -> String {
    let h = Sha256::digest(path.as_bytes());
    format!("{VERSIONS_PREFIX}{}/{version}", hex::encode(h))
}

/// The mount's storage, in KV v2's terms.
#[derive(Clone)]
pub(super) struct Store {
    view: View,
}

impl Store {
    pub(super) fn new(view: View) -> Self {
        Self { view }
    }

    pub(super) async fn config(&self) -> Result<Config> {
        Ok(self.view.get_json(CONFIG_PATH).await?.unwrap_or_default())
    }

    pub(super) async fn put_config(&self, cfg: &Config) -> Result<()> {
        Ok(self.view.put_json(CONFIG_PATH, cfg).await?)
    }

    pub(super) async fn metadata(&self, path: &str) -> Result<Option<KeyMetadata>> {
        Ok(self.view.get_json(&metadata_key(path)).await?)
    }

    /// The data of one version; `None` if it is not stored.
    pub(super) async fn version_data(
        &self,
        path: &str,
        version: u64,
    ) -> Result<Option<Map<String, Value>>> {
        Ok(self.view.get_json(&version_key(path, version)).await?)
    }

    /// Secret names directly under `folder` (`""` or ending in `/`).
    pub(super) async fn list(&self, folder: &str) -> Result<Vec<String>> {
        Ok(self.view.list(&metadata_key(folder)).await?)
    }

    /// Starts an atomic change to one secret.
    pub(super) fn batch<'a>(&'a self, path: &'a str) -> Batch<'a> {
        Batch {
            store: self,
            path,
            ops: Vec::new(),
        }
    }
}

/// Changes to one secret, written together or not at all.
pub(super) struct Batch<'a> {
    store: &'a Store,
    path: &'a str,
    ops: Vec<Op>,
}

impl Batch<'_> {
    pub(super) fn put_version(&mut self, version: u64, data: &Map<String, Value>) {
        self.ops
            .push(Op::Put(version_key(self.path, version), to_json(data)));
    }

    pub(super) fn delete_version(&mut self, version: u64) {
        self.ops.push(Op::Delete(version_key(self.path, version)));
    }

    pub(super) fn put_metadata(&mut self, meta: &KeyMetadata) {
        self.ops
            .push(Op::Put(metadata_key(self.path), to_json(meta)));
    }

    pub(super) fn delete_metadata(&mut self) {
        self.ops.push(Op::Delete(metadata_key(self.path)));
    }

    pub(super) async fn commit(self) -> Result<()> {
        if self.ops.is_empty() {
            return Ok(());
        }
        Ok(self.store.view.write(self.ops).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(meta: &mut KeyMetadata, cfg: &Config, n: usize) -> Vec<Vec<u64>> {
        (0..n)
            .map(|i| meta.add_version(i as i64 + 1, None, cfg))
            .collect()
    }

    #[test]
    fn window_slides_like_vault() {
        let cfg = Config::default();
        let mut meta = KeyMetadata {
            max_versions: 3,
            ..Default::default()
        };
        let dropped = written(&mut meta, &cfg, 5);
        // Vault's window counts from oldest_version 0, so the third write
        // already moves it (dropping the version 0 that never existed).
        assert_eq!(dropped, vec![vec![], vec![], vec![], vec![1], vec![2]]);
        assert_eq!(meta.oldest_version, 3);
        assert_eq!(
            meta.versions.keys().copied().collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
        assert_eq!(meta.created_time, 1);
        assert_eq!(meta.updated_time, 5);

        // Lowering the limit drops several at the next write.
        meta.max_versions = 1;
        assert_eq!(meta.add_version(9, None, &cfg), vec![3, 4, 5]);
        assert_eq!(meta.oldest_version, 6);

        // The larger of the key's and the mount's limit wins.
        meta.max_versions = 5;
        let mount = Config {
            max_versions: 2,
            ..Default::default()
        };
        let dropped = written(&mut meta, &mount, 3);
        assert!(dropped.iter().all(Vec::is_empty));
        assert_eq!(meta.versions.len(), 4);

        let mut fresh = KeyMetadata::default();
        let dropped = written(&mut fresh, &cfg, 11);
        assert_eq!(dropped[10], vec![1]);
        assert_eq!(fresh.versions.len(), 10);
    }

    #[test]
    fn deletion_time_takes_the_smaller_setting() {
        let mut meta = KeyMetadata::default();
        let mut cfg = Config::default();
        assert_eq!(meta.deletion_time(&cfg, 0), None);
        cfg.delete_version_after = 60;
        assert_eq!(meta.deletion_time(&cfg, 0), Some(60 * NANOS_PER_SEC));
        meta.delete_version_after = 30;
        assert_eq!(meta.deletion_time(&cfg, 0), Some(30 * NANOS_PER_SEC));
        meta.delete_version_after = 90;
        assert_eq!(meta.deletion_time(&cfg, 0), Some(60 * NANOS_PER_SEC));
        cfg.delete_version_after = 0;
        assert_eq!(meta.deletion_time(&cfg, 0), Some(90 * NANOS_PER_SEC));
        cfg.delete_version_after = -1;
        assert_eq!(meta.deletion_time(&cfg, 0), None);
    }

    #[test]
    fn json_shapes() {
        let mut meta = KeyMetadata::new(1_000_000_000);
        meta.custom_metadata = Some(BTreeMap::new());
        meta.delete_version_after = 5400;
        meta.add_version(2_000_000_000, Some(3_000_000_000), &Config::default());
        let v = meta.version_json(1);
        assert_eq!(v["custom_metadata"], Value::Null);
        assert_eq!(v["created_time"], "1970-01-01T00:00:02Z");
        assert_eq!(v["deletion_time"], "1970-01-01T00:00:03Z");
        assert_eq!(meta.version_json(7)["created_time"], "");
        let m = meta.to_json();
        assert_eq!(m["delete_version_after"], "1h30m0s");
        assert_eq!(m["updated_time"], "1970-01-01T00:00:02Z");
        assert_eq!(m["versions"]["1"]["destroyed"], false);
        assert_eq!(go_duration(-1), "-1s");
    }
}

//! The settings endpoints: `metadata/:path` (read, list, write, merge-
//! patch, delete a secret whole) and the mount-wide `config`.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::fields::{Fields, custom_metadata, validate_custom_metadata};
use super::store::KeyMetadata;
use super::{KvV2, not_found_empty};
use crate::duration::format_go;
use crate::error::{Error, Result};
use crate::logical::{Request, Response};

const CAS_REQUIRED_IGNORED: &str =
    "\"cas_required\" set to false, but is mandated by backend config. This value will be ignored.";
const METADATA_CAS_REQUIRED_IGNORED: &str = "\"metadata_cas_required\" set to false, but is mandated by backend config. This value will be ignored.";

/// The settings a metadata write or patch may change, parsed up front so
/// that a bad field is rejected before anything is touched.
struct MetadataInput {
    max_versions: Option<u32>,
    cas_required: Option<bool>,
    delete_version_after: Option<u64>,
    /// `None` values (PATCH only) remove the key.
    custom_metadata: Option<BTreeMap<String, Option<String>>>,
    /// PATCH: `custom_metadata: null` removes them all.
    clear_custom_metadata: bool,
    metadata_cas: Option<i64>,
    metadata_cas_required: Option<bool>,
}

impl MetadataInput {
    fn parse(f: &Fields<'_>, patch: bool) -> Result<Self> {
        let max_versions = match f.int("max_versions")? {
            None => None,
            Some(v) => Some(u32::try_from(v).map_err(|_| {
                Error::invalid(format!(
                    "max_versions must be between 0 and {}, got {v}",
                    u32::MAX
                ))
            })?),
        };
        let cas_required = f.bool("cas_required")?;
        let delete_version_after = f
            .duration_secs("delete_version_after", false)?
            .map(|s| s.unsigned_abs());
        let clear_custom_metadata = patch && matches!(f.raw("custom_metadata"), Some(Value::Null));
        let custom_metadata = match f.map("custom_metadata")? {
            None => None,
            Some(raw) => {
                let parsed = custom_metadata(&raw, patch)?;
                let present: BTreeMap<String, String> = parsed
                    .iter()
                    .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
                    .collect();
                validate_custom_metadata(&present)?;
                Some(parsed)
            }
        };
        Ok(Self {
            max_versions,
            cas_required,
            delete_version_after,
            custom_metadata,
            clear_custom_metadata,
            metadata_cas: f.int("metadata_cas")?,
            metadata_cas_required: f.bool("metadata_cas_required")?,
        })
    }

    /// Vault's fast path: a write that sets nothing changes nothing (and
    /// checks no CAS).
    fn is_empty(&self) -> bool {
        self.max_versions.is_none()
            && self.cas_required.is_none()
            && self.delete_version_after.is_none()
            && self.custom_metadata.is_none()
            && self.metadata_cas_required.is_none()
    }

    fn apply(self, meta: &mut KeyMetadata, patch: bool) {
        if let Some(v) = self.max_versions {
            meta.max_versions = v;
        }
        if let Some(v) = self.cas_required {
            meta.cas_required = v;
        }
        if let Some(v) = self.delete_version_after {
            meta.delete_version_after = v;
        }
        if let Some(v) = self.metadata_cas_required {
            meta.metadata_cas_required = v;
        }
        if self.clear_custom_metadata {
            meta.custom_metadata = None;
        } else if let Some(input) = self.custom_metadata {
            let mut merged = if patch {
                meta.custom_metadata.take().unwrap_or_default()
            } else {
                BTreeMap::new()
            };
            for (k, v) in input {
                match v {
                    Some(v) => {
                        merged.insert(k, v);
                    }
                    None => {
                        merged.remove(&k);
                    }
                }
            }
            meta.custom_metadata = (!merged.is_empty()).then_some(merged);
        }
    }
}

impl KvV2 {
    pub(super) async fn read_metadata(&self, path: &str) -> Result<Response> {
        let _guard = self.lock(path).read().await;
        match self.store.metadata(path).await? {
            Some(meta) => Ok(Response::data(meta.to_json())),
            None => Err(Error::NotFound),
        }
    }

    /// `LIST metadata/<folder>/`, with Vault's `after` and `limit` paging.
    pub(super) async fn list(&self, folder: &str, req: &Request) -> Result<Response> {
        let f = Fields::validated(&req.data);
        let after = match f.raw("after") {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let limit = f.int("limit")?.unwrap_or(0);
        let mut keys = self.store.list(&super::super::folder(folder)).await?;
        if !after.is_empty() {
            keys.retain(|k| k.as_str() > after.as_str());
        }
        if let Ok(limit) = usize::try_from(limit) {
            if limit > 0 {
                keys.truncate(limit);
            }
        }
        if keys.is_empty() {
            return Err(Error::NotFound);
        }
        Ok(Response::list(keys))
    }

    /// `PUT metadata/:path` (`patch`: `PATCH`, which needs the secret to
    /// exist and merges `custom_metadata`).
    pub(super) async fn write_metadata(
        &self,
        path: &str,
        req: &Request,
        patch: bool,
    ) -> Result<Response> {
        let f = if patch {
            Fields::validated(&req.data)
        } else {
            Fields::unvalidated(&req.data)
        };
        let input = MetadataInput::parse(&f, patch)?;
        if input.is_empty() {
            return Ok(Response::empty());
        }
        let _guard = self.lock(path).write().await;
        let cfg = self.store.config().await?;
        let existing = self.store.metadata(path).await?;
        if patch && existing.is_none() {
            return Ok(not_found_empty());
        }
        let now = self.clock.now_nanos();
        let mut meta = existing.unwrap_or_else(|| KeyMetadata::new(now));
        match input.metadata_cas {
            Some(c) if u64::try_from(c).ok() != Some(meta.current_metadata_version) => {
                return Err(Error::invalid(
                    "metadata check-and-set parameter does not match the current version",
                ));
            }
            None if cfg.metadata_cas_required || meta.metadata_cas_required => {
                return Err(Error::invalid(
                    "metadata check-and-set parameter required for this call",
                ));
            }
            _ => {}
        }
        let mut warnings = Vec::new();
        if input.cas_required == Some(false) && cfg.cas_required {
            warnings.push(CAS_REQUIRED_IGNORED.to_owned());
        }
        if input.metadata_cas_required == Some(false) && cfg.metadata_cas_required {
            warnings.push(METADATA_CAS_REQUIRED_IGNORED.to_owned());
        }
        input.apply(&mut meta, patch);
        meta.current_metadata_version += 1;
        meta.updated_time = now;
        let mut batch = self.store.batch(path);
        batch.put_metadata(&meta);
        batch.commit().await?;
        Ok(Response {
            warnings,
            ..Default::default()
        })
    }

    /// `DELETE metadata/:path`: every version and the metadata, at once.
    pub(super) async fn delete_metadata(&self, path: &str) -> Result<Response> {
        let _guard = self.lock(path).write().await;
        let Some(meta) = self.store.metadata(path).await? else {
            return Ok(Response::empty());
        };
        let mut batch = self.store.batch(path);
        for v in meta.versions.keys() {
            batch.delete_version(*v);
        }
        batch.delete_metadata();
        batch.commit().await?;
        Ok(Response::empty())
    }

    pub(super) async fn read_config(&self) -> Result<Response> {
        let c = self.store.config().await?;
        let dva = if c.delete_version_after < 0 {
            "-1s".to_owned()
        } else {
            format_go(std::time::Duration::from_secs(
                c.delete_version_after.unsigned_abs(),
            ))
        };
        Ok(Response::from_value(json!({
            "cas_required": c.cas_required,
            "delete_version_after": dva,
            "max_versions": c.max_versions,
            "metadata_cas_required": c.metadata_cas_required,
        })))
    }

    /// `PUT config`. A negative `delete_version_after` disables automatic
    /// deletion for every key; zero clears the setting.
    pub(super) async fn write_config(&self, req: &Request) -> Result<Response> {
        let f = Fields::validated(&req.data);
        let max_versions = match f.int("max_versions")? {
            None => None,
            Some(v) => Some(u32::try_from(v).map_err(|_| {
                Error::invalid(format!(
                    "max_versions must be between 0 and {}, got {v}",
                    u32::MAX
                ))
            })?),
        };
        let cas_required = f.bool("cas_required")?;
        let metadata_cas_required = f.bool("metadata_cas_required")?;
        let dva = f.duration_secs("delete_version_after", true)?;
        if max_versions.is_none()
            && cas_required.is_none()
            && metadata_cas_required.is_none()
            && dva.is_none()
        {
            return Ok(Response::empty());
        }
        let _guard = self.lock(super::store::CONFIG_PATH).write().await;
        let mut c = self.store.config().await?;
        if let Some(v) = max_versions {
            c.max_versions = v;
        }
        if let Some(v) = cas_required {
            c.cas_required = v;
        }
        if let Some(v) = metadata_cas_required {
            c.metadata_cas_required = v;
        }
        if let Some(v) = dva {
            c.delete_version_after = if v < 0 { -1 } else { v };
        }
        self.store.put_config(&c).await?;
        Ok(Response::empty())
    }
}

/// What the metadata PATCH body's unknown fields are compared against.
pub(super) const METADATA_FIELDS: &[&str] = &[
    "cas_required",
    "max_versions",
    "delete_version_after",
    "custom_metadata",
    "after",
    "limit",
    "metadata_cas",
    "metadata_cas_required",
];

/// `config`'s fields.
pub(super) const CONFIG_FIELDS: &[&str] = &[
    "max_versions",
    "cas_required",
    "metadata_cas_required",
    "delete_version_after",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value, patch: bool) -> Result<MetadataInput> {
        let m = v.as_object().unwrap().clone();
        MetadataInput::parse(&Fields::unvalidated(&m), patch)
    }

    #[test]
    fn writes_replace_and_patches_merge_custom_metadata() {
        let mut meta = KeyMetadata {
            custom_metadata: Some([("a".into(), "1".into()), ("b".into(), "2".into())].into()),
            ..Default::default()
        };
        input(json!({"custom_metadata": {"a": null, "c": "3"}}), true)
            .unwrap()
            .apply(&mut meta, true);
        assert_eq!(
            meta.custom_metadata.clone().unwrap(),
            BTreeMap::from([("b".to_string(), "2".to_string()), ("c".into(), "3".into())])
        );
        input(json!({"custom_metadata": {"z": "9"}}), false)
            .unwrap()
            .apply(&mut meta, false);
        assert_eq!(meta.custom_metadata.clone().unwrap().len(), 1);
        input(json!({"custom_metadata": null}), true)
            .unwrap()
            .apply(&mut meta, true);
        assert_eq!(meta.custom_metadata, None);
        input(json!({"custom_metadata": {}}), false)
            .unwrap()
            .apply(&mut meta, false);
        assert_eq!(meta.custom_metadata, None);
    }

    #[test]
    fn empty_inputs_and_bad_fields() {
        assert!(input(json!({}), false).unwrap().is_empty());
        assert!(
            input(json!({"metadata_cas": 3, "bogus": 1}), false)
                .unwrap()
                .is_empty()
        );
        assert!(
            !input(json!({"custom_metadata": null}), false)
                .unwrap()
                .is_empty()
        );
        assert!(input(json!({"max_versions": -1}), false).is_err());
        assert_eq!(
            input(json!({"custom_metadata": {"k": null}}), false)
                .err()
                .unwrap()
                .to_string(),
            "1 error occurred:\n\t* custom_metadata validation failed: length of value for key \"k\" is 0 but must be 0 < len(value) <= 512\n\n"
        );
        assert!(input(json!({"custom_metadata": {"k": null}}), true).is_ok());
    }
}

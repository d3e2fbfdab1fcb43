//! The version endpoints: `data/:path` (read a version, write one, merge-
//! patch the current one, soft-delete the current one), `delete/`,
//! `undelete/`, `destroy/` (by version number) and `subkeys/`.

use serde_json::{Map, Value};

use super::fields::Fields;
use super::store::KeyMetadata;
use super::{KvV2, not_found_empty};
use crate::error::{Error, Result};
use crate::logical::{Request, Response};

/// A deleted or destroyed version: 404 with the version's metadata, like
/// Vault's `RespondWithStatusCode(resp, 404)`.
fn gone(data: Map<String, Value>) -> Response {
    Response {
        data: Some(data),
        status: Some(404),
        ..Default::default()
    }
}

/// `version` of a read: the current one unless a positive number is given
/// (Vault ignores zero and negative values).
fn wanted_version(f: &Fields<'_>, meta: &KeyMetadata) -> Result<u64> {
    Ok(match f.int("version")? {
        Some(v) if v > 0 => v as u64,
        _ => meta.current_version,
    })
}

/// `options.cas`, weakly decoded to an integer like Vault does.
fn cas_option(options: &Map<String, Value>) -> Result<Option<i64>> {
    let parse_err = || Error::invalid("error parsing check-and-set parameter");
    Ok(match options.get("cas") {
        None => None,
        Some(Value::Null) => Some(0),
        Some(Value::Bool(b)) => Some(i64::from(*b)),
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(parse_err)?),
        Some(Value::String(s)) if s.is_empty() => Some(0),
        Some(Value::String(s)) => Some(s.parse().map_err(|_| parse_err())?),
        Some(_) => return Err(parse_err()),
    })
}

/// Vault's `validateCheckAndSetOption`.
fn check_cas(cas: Option<i64>, required: bool, meta: &KeyMetadata) -> Result<()> {
    match cas {
        Some(c) if u64::try_from(c).ok() != Some(meta.current_version) => Err(Error::invalid(
            "check-and-set parameter did not match the current version",
        )),
        Some(_) => Ok(()),
        None if required => Err(Error::invalid(
            "check-and-set parameter required for this call",
        )),
        None => Ok(()),
    }
}

/// RFC 7386 JSON merge patch.
pub(super) fn merge_patch(target: &mut Value, patch: &Value) {
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

/// The secret's structure with its leaves (values and empty objects)
/// replaced by null, down to `max_depth` levels (0: all), like Vault's
/// `removeValues`.
pub(super) fn subkeys_of(data: &Map<String, Value>, max_depth: i64, depth: i64) -> Value {
    Value::Object(
        data.iter()
            .map(|(k, v)| {
                let inner = match v {
                    Value::Object(m) if !m.is_empty() && (max_depth == 0 || depth < max_depth) => {
                        subkeys_of(m, max_depth, depth + 1)
                    }
                    _ => Value::Null,
                };
                (k.clone(), inner)
            })
            .collect(),
    )
}

/// Which of the version endpoints a request is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum VersionOp {
    Delete,
    Undelete,
    Destroy,
}

impl KvV2 {
    /// `GET data/:path` (and the version lookup behind `subkeys/`):
    /// the version's metadata, and its data unless it is deleted.
    async fn read_version(
        &self,
        path: &str,
        f: &Fields<'_>,
    ) -> Result<Option<(KeyMetadata, u64, Option<Map<String, Value>>)>> {
        let Some(meta) = self.store.metadata(path).await? else {
            return Ok(None);
        };
        let version = wanted_version(f, &meta)?;
        let Some(vm) = meta.versions.get(&version) else {
            return Ok(None);
        };
        if vm.is_gone(self.clock.now_nanos()) {
            return Ok(Some((meta, version, None)));
        }
        let data = self
            .store
            .version_data(path, version)
            .await?
            .ok_or_else(|| Error::internal("could not find version data"))?;
        Ok(Some((meta, version, Some(data))))
    }

    pub(super) async fn read_data(&self, path: &str, req: &Request) -> Result<Response> {
        let f = Fields::validated(&req.data);
        let _guard = self.lock(path).read().await;
        let Some((meta, version, data)) = self.read_version(path, &f).await? else {
            return Err(Error::NotFound);
        };
        let mut out = Map::new();
        let found = data.is_some();
        out.insert("data".into(), data.map_or(Value::Null, Value::Object));
        out.insert("metadata".into(), Value::Object(meta.version_json(version)));
        Ok(if found {
            Response::data(out)
        } else {
            gone(out)
        })
    }

    pub(super) async fn subkeys(&self, path: &str, req: &Request) -> Result<Response> {
        let f = Fields::validated(&req.data);
        let depth = f.int("depth")?.unwrap_or(0);
        let _guard = self.lock(path).read().await;
        let Some((meta, version, data)) = self.read_version(path, &f).await? else {
            return Err(Error::NotFound);
        };
        let mut out = Map::new();
        out.insert("metadata".into(), Value::Object(meta.version_json(version)));
        match data {
            Some(d) => {
                out.insert("subkeys".into(), subkeys_of(&d, depth, 1));
                Ok(Response::data(out))
            }
            None => {
                out.insert("subkeys".into(), Value::Null);
                Ok(gone(out))
            }
        }
    }

    /// `PUT data/:path` (`patch`: `PATCH`, a merge patch on the current
    /// version). Everything is checked before anything is written; the new
    /// version, the metadata and the trimmed versions go in one batch.
    pub(super) async fn write_data(
        &self,
        path: &str,
        req: &Request,
        patch: bool,
    ) -> Result<Response> {
        // Vault validates PATCH bodies through the framework (prefixed
        // errors) but reports PUT conversions bare.
        let f = if patch {
            Fields::validated(&req.data)
        } else {
            Fields::unvalidated(&req.data)
        };
        let new_data = match f.raw("data") {
            None | Some(Value::Null) => return Err(Error::invalid("no data provided")),
            Some(_) => f.map("data")?.unwrap_or_default(),
        };
        let options = f.map("options")?.unwrap_or_default();
        let cas = cas_option(&options)?;

        let _guard = self.lock(path).write().await;
        let cfg = self.store.config().await?;
        let existing = self.store.metadata(path).await?;
        if patch && existing.is_none() {
            return Ok(not_found_empty());
        }
        let now = self.clock.now_nanos();
        let mut meta = existing.unwrap_or_default();
        check_cas(cas, cfg.cas_required || meta.cas_required, &meta)?;

        let merged = if patch {
            let current = meta.current_version;
            match meta.versions.get(&current) {
                None => return Ok(not_found_empty()),
                Some(vm) if vm.is_gone(now) => return Ok(gone(meta.version_json(current))),
                Some(_) => {}
            }
            let base = self
                .store
                .version_data(path, current)
                .await?
                .ok_or_else(|| Error::internal("could not find version data"))?;
            let mut base = Value::Object(base);
            merge_patch(&mut base, &Value::Object(new_data));
            match base {
                Value::Object(m) => m,
                _ => Map::new(),
            }
        } else {
            new_data
        };

        let deletion = meta.deletion_time(&cfg, now);
        let dropped = meta.add_version(now, deletion, &cfg);
        let version = meta.current_version;
        let mut batch = self.store.batch(path);
        batch.put_version(version, &merged);
        for v in dropped {
            batch.delete_version(v);
        }
        batch.put_metadata(&meta);
        batch.commit().await?;
        Ok(Response::data(meta.version_json(version)))
    }

    /// `DELETE data/:path`: soft-deletes the current version (a no-op when
    /// it is already deleted or destroyed).
    pub(super) async fn delete_current(&self, path: &str) -> Result<Response> {
        let _guard = self.lock(path).write().await;
        let Some(mut meta) = self.store.metadata(path).await? else {
            return Ok(Response::empty());
        };
        let now = self.clock.now_nanos();
        let current = meta.current_version;
        match meta.versions.get_mut(&current) {
            Some(vm) if !vm.is_gone(now) => vm.deletion_time = Some(now),
            _ => return Ok(Response::empty()),
        }
        let mut batch = self.store.batch(path);
        batch.put_metadata(&meta);
        batch.commit().await?;
        Ok(Response::empty())
    }

    /// `delete/`, `undelete/`, `destroy/`: the listed versions; numbers
    /// that do not exist are skipped, as in Vault.
    pub(super) async fn version_op(
        &self,
        path: &str,
        req: &Request,
        op: VersionOp,
    ) -> Result<Response> {
        let f = Fields::validated(&req.data);
        let versions = f.comma_ints("versions")?.unwrap_or_default();
        if versions.is_empty() {
            // Vault's own capitalization differs between the endpoints.
            return Err(Error::invalid(match op {
                VersionOp::Destroy => "no version number provided",
                VersionOp::Delete | VersionOp::Undelete => "No version number provided",
            }));
        }
        let _guard = self.lock(path).write().await;
        let cfg = self.store.config().await?;
        let Some(mut meta) = self.store.metadata(path).await? else {
            return Ok(Response::empty());
        };
        let now = self.clock.now_nanos();
        let undeleted_until = meta.deletion_time(&cfg, now);
        let mut batch = self.store.batch(path);
        for v in versions {
            let Some(vm) = u64::try_from(v)
                .ok()
                .and_then(|v| meta.versions.get_mut(&v))
            else {
                continue;
            };
            match op {
                VersionOp::Delete if !vm.is_gone(now) => vm.deletion_time = Some(now),
                VersionOp::Undelete if !vm.destroyed => vm.deletion_time = undeleted_until,
                VersionOp::Destroy => {
                    vm.destroyed = true;
                    batch.delete_version(v as u64);
                }
                VersionOp::Delete | VersionOp::Undelete => {}
            }
        }
        batch.put_metadata(&meta);
        batch.commit().await?;
        Ok(Response::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386() {
        let mut t = json!({"a": 1, "b": {"c": 2, "d": 3}});
        merge_patch(&mut t, &json!({"a": null, "b": {"c": 5}, "e": "x"}));
        assert_eq!(t, json!({"b": {"c": 5, "d": 3}, "e": "x"}));
        merge_patch(&mut t, &json!({"b": "flat"}));
        assert_eq!(t, json!({"b": "flat", "e": "x"}));
    }

    #[test]
    fn subkeys_like_vault() {
        let v = json!({"a": 1, "b": {"c": {"d": 1}, "e": [1, 2], "f": {}}, "g": null});
        let m = v.as_object().unwrap();
        assert_eq!(
            subkeys_of(m, 0, 1),
            json!({"a": null, "b": {"c": {"d": null}, "e": null, "f": null}, "g": null})
        );
        assert_eq!(
            subkeys_of(m, 1, 1),
            json!({"a": null, "b": null, "g": null})
        );
        assert_eq!(
            subkeys_of(m, 2, 1),
            json!({"a": null, "b": {"c": null, "e": null, "f": null}, "g": null})
        );
        assert_eq!(
            subkeys_of(m, -1, 1),
            json!({"a": null, "b": null, "g": null})
        );
    }

    #[test]
    fn cas_rules() {
        let meta = KeyMetadata {
            current_version: 3,
            ..Default::default()
        };
        assert!(check_cas(Some(3), true, &meta).is_ok());
        assert!(check_cas(None, false, &meta).is_ok());
        for bad in [Some(2), Some(-1), Some(0)] {
            assert_eq!(
                check_cas(bad, false, &meta).unwrap_err().to_string(),
                "check-and-set parameter did not match the current version"
            );
        }
        assert_eq!(
            check_cas(None, true, &meta).unwrap_err().to_string(),
            "check-and-set parameter required for this call"
        );
        let opts = |v: Value| v.as_object().unwrap().clone();
        assert_eq!(cas_option(&opts(json!({"cas": "3"}))).unwrap(), Some(3));
        assert_eq!(cas_option(&opts(json!({"cas": null}))).unwrap(), Some(0));
        assert_eq!(cas_option(&opts(json!({}))).unwrap(), None);
        for bad in [
            json!({"cas": 4.0}),
            json!({"cas": "x"}),
            json!({"cas": [1]}),
        ] {
            assert_eq!(
                cas_option(&opts(bad)).unwrap_err().to_string(),
                "error parsing check-and-set parameter"
            );
        }
    }
}

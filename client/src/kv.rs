//! Helpers for the key/value engine: the preflight request that tells a
//! KV v1 mount from a v2 one (the Go CLI's `kvPreflightVersionRequest`),
//! and the JSON merge patch KV v2 takes. Reads, writes, lists and deletes
//! of KV paths are the raw logical operations of [`Client`].

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::client::{Client, Method};
use crate::error::Result;
use crate::secret::Secret;

/// The KV mount that serves a path, as `sys/internal/ui/mounts/<path>`
/// reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KvMount {
    /// The mount path with its trailing slash (`secret/`); empty when the
    /// server has no preflight endpoint.
    pub path: String,
    /// 1 or 2 (anything but `options.version = "2"` is version 1).
    pub version: u8,
}

impl KvMount {
    /// Whether the mount is versioned (KV v2).
    pub fn is_v2(&self) -> bool {
        self.version == 2
    }
}

#[derive(Deserialize)]
struct PreflightData {
    #[serde(default)]
    path: String,
    #[serde(default)]
    options: Option<BTreeMap<String, Value>>,
}

impl Client {
    /// `GET sys/internal/ui/mounts/<path>`: the mount serving `path` and
    /// its KV version. A 404 (a server without the endpoint) means
    /// version 1 at an unknown mount, as in the Go CLI; any other error
    /// status is an error.
    pub async fn kv_preflight(&self, path: &str) -> Result<KvMount> {
        let url_path = format!("sys/internal/ui/mounts/{path}");
        let resp = self.send(Method::Get, &url_path, &[], None).await?;
        if resp.status == 404 {
            return Ok(KvMount {
                path: String::new(),
                version: 1,
            });
        }
        let resp = resp.check()?;
        let data: PreflightData = resp.data()?;
        let version = match data
            .options
            .as_ref()
            .and_then(|o| o.get("version"))
            .and_then(Value::as_str)
        {
            Some("2") => 2,
            _ => 1,
        };
        Ok(KvMount {
            path: data.path,
            version,
        })
    }

    /// `PATCH <path>` with `body` as an `application/merge-patch+json`
    /// document (KV v2's `data/` and `metadata/`). A 204 is `Ok(None)`.
    pub async fn json_merge_patch(&self, path: &str, body: &Value) -> Result<Option<Secret>> {
        self.call(Method::Patch, path, Some(body)).await?.secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preflight_shapes() {
        let d: PreflightData =
            serde_json::from_str(r#"{"path":"secret/","options":{"version":"2"},"type":"kv"}"#)
                .unwrap();
        assert_eq!(d.path, "secret/");
        assert_eq!(d.options.unwrap()["version"], "2");
        let d: PreflightData = serde_json::from_str(r#"{"path":"kv/","options":null}"#).unwrap();
        assert!(d.options.is_none());
        assert!(
            KvMount {
                path: "s/".into(),
                version: 2
            }
            .is_v2()
        );
    }
}

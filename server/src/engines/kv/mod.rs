//! The key/value engine: version 1 (v1.rs, one value per path) and
//! version 2 (v2/, versioned, with metadata), chosen by the mount's
//! `options.version` (`kv-v2` mounts arrive here with version 2 set).
//!
//! Both versions answer like OpenBao's KV plugin, errors included; the
//! rules they share (which paths are valid, the unknown-parameter warning)
//! are here.

pub mod v1;
pub mod v2;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};
use crate::router::MountEntry;

pub fn new(entry: &MountEntry, view: View, clock: Clock) -> Result<Arc<dyn Backend>> {
    let version = entry
        .options
        .as_ref()
        .and_then(|o| o.get("version"))
        .map(String::as_str)
        .unwrap_or("1");
    match version {
        "1" | "" => Ok(Arc::new(v1::KvV1::new(view))),
        "2" => Ok(Arc::new(v2::KvV2::new(view, clock))),
        other => Err(Error::invalid(format!(
            "invalid kv version {other:?} (1 or 2)"
        ))),
    }
}

/// Checks a path inside the mount before any handler sees it: no empty,
/// `.` or `..` segment (Vault's HTTP layer redirects those to the cleaned
/// path; Arca refuses them), and no write to a folder (Vault's core
/// answers that for every backend).
fn check_request(req: &Request) -> Result<()> {
    validate_rel_path(req.rel_path())?;
    let write = matches!(
        req.operation,
        Operation::Create | Operation::Update | Operation::Patch
    );
    if write && req.path.ends_with('/') {
        return Err(Error::invalid("cannot write to a path ending in '/'"));
    }
    Ok(())
}

/// A listed path as a folder: `""` or ending in `/` (the HTTP layer adds
/// the slash to every LIST; requests built in-process may not).
fn folder(path: &str) -> String {
    if path.is_empty() || path.ends_with('/') {
        path.to_owned()
    } else {
        format!("{path}/")
    }
}

/// Like [`check_request`], for the path alone (existence checks). The
/// shared check allows any run of trailing slashes; a folder has one.
fn validate_rel_path(rel: &str) -> Result<()> {
    crate::engines::validate_path(rel)?;
    if rel.ends_with("//") {
        return Err(Error::invalid(format!(
            "invalid path {rel:?}: empty, '.' or '..' segment"
        )));
    }
    Ok(())
}

/// Vault's framework warning for request fields the endpoint does not
/// take. Like Vault, only a plain answer with a body carries it: not a
/// 204, and not a 404 that reports a deleted version.
fn ignored_params(data: &Map<String, Value>, known: &[&str], resp: &Response) -> Option<String> {
    if resp.status.is_some() || resp.raw.is_some() || resp.data.is_none() {
        return None;
    }
    let unknown: Vec<&str> = data
        .keys()
        .map(String::as_str)
        .filter(|k| !known.contains(k))
        .collect();
    (!unknown.is_empty()).then(|| {
        format!(
            "Endpoint ignored these unrecognized parameters: [{}]",
            unknown.join(" ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_parameters_warning() {
        let data = json!({"zz": 1, "aa": 2, "version": 1});
        let data = data.as_object().unwrap();
        let ok = Response::data(Map::new());
        assert_eq!(
            ignored_params(data, &["version"], &ok).as_deref(),
            Some("Endpoint ignored these unrecognized parameters: [aa zz]")
        );
        assert_eq!(ignored_params(data, &["version", "aa", "zz"], &ok), None);
        assert_eq!(ignored_params(data, &[], &Response::empty()), None);
        let gone = Response {
            data: Some(Map::new()),
            status: Some(404),
            ..Default::default()
        };
        assert_eq!(ignored_params(data, &[], &gone), None);
    }

    #[test]
    fn paths_and_folder_writes() {
        let mut req = Request::new(Operation::Update, "secret/data/a/");
        req.mount_point = "secret/".into();
        assert_eq!(
            check_request(&req).unwrap_err().to_string(),
            "cannot write to a path ending in '/'"
        );
        req.operation = Operation::Read;
        assert!(check_request(&req).is_ok());
        for bad in [
            "secret/data/a//b",
            "secret/data/../x",
            "secret/data/./x",
            "secret/metadata/a//",
        ] {
            let mut req = Request::new(Operation::Read, bad);
            req.mount_point = "secret/".into();
            assert!(check_request(&req).is_err(), "{bad}");
        }
    }
}

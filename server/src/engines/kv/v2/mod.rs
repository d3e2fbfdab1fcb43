//! KV version 2: versioned secrets with metadata, Vault's API and answers.
//!
//! - data.rs: `data/:path`, `delete/`, `undelete/`, `destroy/`, `subkeys/`
//! - metadata.rs: `metadata/:path` and `config`
//! - store.rs: what is stored where, and the version window
//! - fields.rs: request fields converted (and rejected) like Vault does
//!
//! This file routes a request to its endpoint. Every write holds its key's
//! write lock from the first read to the one atomic batch it commits, so a
//! failed request changes nothing. The locks are striped by key: writes to
//! different keys run side by side, which is what lets the storage layer
//! fold them into one fsync (group commit).

mod data;
mod fields;
mod metadata;
mod store;

use async_trait::async_trait;
use tokio::sync::RwLock;

use self::data::VersionOp;
use self::metadata::{CONFIG_FIELDS, METADATA_FIELDS};
use self::store::{CONFIG_PATH, Store};
use super::{check_request, ignored_params, validate_rel_path};
use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::logical::{Operation, RawBody, Request, Response};

pub struct KvV2 {
    store: Store,
    clock: Clock,
    /// Read-modify-write of a key is serial under its stripe's lock.
    locks: Box<[RwLock<()>]>,
}

/// Lock stripes per mount: enough that concurrent writers rarely share one.
const LOCK_STRIPES: usize = 256;

/// The roots that answer Vault's "non-listing operations" warning.
const ROOTS: &[&str] = &["data", "metadata", "delete", "undelete", "destroy"];

const DATA_FIELDS: &[&str] = &["version", "options", "data"];
const VERSIONS_FIELDS: &[&str] = &["versions"];
const SUBKEYS_FIELDS: &[&str] = &["depth", "version"];

/// A 404 with an empty body, which is what Vault sends when a PATCH
/// target does not exist (`RespondWithStatusCode(nil, 404)`).
fn not_found_empty() -> Response {
    Response {
        raw: Some(RawBody {
            status: 404,
            content_type: "application/json",
            body: Vec::new(),
        }),
        ..Default::default()
    }
}

/// 404 with a warning and no data, Vault's answer for paths the engine
/// does not serve.
fn warning_404(warning: String) -> Response {
    Response {
        warnings: vec![warning],
        status: Some(404),
        ..Default::default()
    }
}

/// The warning for a path outside the API, naming the `kv` subcommand
/// meant for the operation.
fn invalid_path(op: Operation) -> Response {
    let sub = match op {
        Operation::Create | Operation::Update => "put",
        Operation::Patch => "patch",
        Operation::Read => "get",
        Operation::List => "list",
        Operation::Delete => "delete",
        Operation::Renew | Operation::Revoke => "",
    };
    warning_404(format!(
        "Invalid path for a versioned K/V secrets engine. See the API docs for the appropriate API endpoints to use. If using the Arca CLI, use 'arca kv {sub}' for this operation."
    ))
}

impl KvV2 {
    pub fn new(view: View, clock: Clock) -> Self {
        Self {
            store: Store::new(view),
            clock,
            locks: (0..LOCK_STRIPES).map(|_| RwLock::new(())).collect(),
        }
    }

    /// The lock of the stripe `key` falls in.
    fn lock(&self, key: &str) -> &RwLock<()> {
        use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
        let h = BuildHasherDefault::<DefaultHasher>::default().hash_one(key);
        &self.locks[(h as usize) % self.locks.len()]
    }

    async fn route(&self, req: &Request, rel: &str) -> Result<Response> {
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        if ROOTS.contains(&rel) {
            return Ok(warning_404(
                "Non-listing operations on the root of a K/V v2 mount are not supported.".into(),
            ));
        }
        if rel == CONFIG_PATH {
            return match op {
                Operation::Read => self.read_config().await,
                _ if write => self.write_config(req).await,
                _ => Err(Error::UnsupportedOperation),
            };
        }
        let Some((kind, path)) = rel.split_once('/') else {
            return Ok(invalid_path(op));
        };
        match (kind, op) {
            ("data", Operation::Read) => self.read_data(path, req).await,
            ("data", _) if write => self.write_data(path, req, false).await,
            ("data", Operation::Patch) => self.write_data(path, req, true).await,
            ("data", Operation::Delete) => self.delete_current(path).await,
            ("metadata", Operation::Read) => self.read_metadata(path).await,
            ("metadata", Operation::List) => self.list(path, req).await,
            ("metadata", _) if write => self.write_metadata(path, req, false).await,
            ("metadata", Operation::Patch) => self.write_metadata(path, req, true).await,
            ("metadata", Operation::Delete) => self.delete_metadata(path).await,
            ("delete", _) if write => self.version_op(path, req, VersionOp::Delete).await,
            ("undelete", _) if write => self.version_op(path, req, VersionOp::Undelete).await,
            ("destroy", _) if write => self.version_op(path, req, VersionOp::Destroy).await,
            ("subkeys", Operation::Read) => self.subkeys(path, req).await,
            ("data" | "metadata" | "delete" | "undelete" | "destroy" | "subkeys", _) => {
                Err(Error::UnsupportedOperation)
            }
            _ => Ok(invalid_path(op)),
        }
    }
}

/// The fields the endpoint at `rel` takes, for the unknown-parameter
/// warning; `None` where Vault's framework would not warn.
fn known_fields(rel: &str) -> Option<&'static [&'static str]> {
    if rel == CONFIG_PATH {
        return Some(CONFIG_FIELDS);
    }
    match rel.split_once('/')?.0 {
        "data" => Some(DATA_FIELDS),
        "metadata" => Some(METADATA_FIELDS),
        "delete" | "undelete" | "destroy" => Some(VERSIONS_FIELDS),
        "subkeys" => Some(SUBKEYS_FIELDS),
        _ => None,
    }
}

#[async_trait]
impl Backend for KvV2 {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let rel = req.rel_path();
        let Some(path) = rel
            .strip_prefix("data/")
            .or_else(|| rel.strip_prefix("metadata/"))
        else {
            return Ok(None);
        };
        if path.is_empty() || path.ends_with('/') || validate_rel_path(rel).is_err() {
            return Ok(None);
        }
        Ok(Some(self.store.metadata(path).await?.is_some()))
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        check_request(req)?;
        let rel = req.rel_path().to_owned();
        let mut resp = self.route(req, &rel).await?;
        if let Some(known) = known_fields(&rel) {
            if let Some(w) = ignored_params(&req.data, known, &resp) {
                resp.warnings.push(w);
            }
        }
        Ok(resp)
    }
}

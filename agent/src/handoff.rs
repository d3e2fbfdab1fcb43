//! One login per pod: the init container hands its token and the secrets
//! it fetched (leases included) to the sidecar through a file on the
//! agents' in-memory volume (Arca's `handoff_file`), so that the sidecar
//! neither logs in again nor mints a second set of credentials. A sidecar
//! that finds no hand-off, or one whose token the server no longer takes,
//! logs in itself.
//!
//! The file holds a token and secrets: it is written 0600, and belongs on
//! a memory-backed volume that only the agent containers mount.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::template::Dep;

#[derive(Serialize, Deserialize)]
pub struct Handoff {
    pub token: String,
    pub renewable: bool,
    pub secrets: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
pub struct Entry {
    pub path: String,
    pub params: Vec<(String, String)>,
    pub secret: arca_client::Secret,
    /// Unix seconds the lease ends at (none for a secret without one).
    pub expires: Option<i64>,
}

impl Entry {
    pub fn dep(&self) -> Dep {
        Dep {
            path: self.path.clone(),
            params: self.params.clone(),
        }
    }
}

pub fn write(path: &Path, h: &Handoff) -> Result<(), String> {
    let bytes = serde_json::to_vec(h).map_err(|e| e.to_string())?;
    crate::files::write_atomic(path, &bytes, 0o600, true)
        .map(|_| ())
        .map_err(|e| format!("writing the hand-off {}: {e}", path.display()))
}

/// The hand-off, if there is a readable one.
pub fn read(path: &Path) -> Option<Handoff> {
    let bytes = std::fs::read(path).ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn now_unix() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
    .unwrap_or(0)
}

//! The key/value engine: version 1 (v1.rs, one value per path) and
//! version 2 (versioned, with metadata), chosen by the mount's
//! `options.version`.

pub mod v1;
pub mod v2;

use std::sync::Arc;

use crate::backend::Backend;
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};
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

//! Secret engines, one directory each, and the factory the mount manager
//! uses to build one for a mount of a given type.

pub mod cubbyhole;
pub mod database;
pub mod kv;
pub mod rabbitmq;

use std::sync::Arc;

use crate::clock::Clock;
use crate::router::mounts::Factory;

/// The engine types Arca can mount.
pub fn factory(clock: Clock) -> Factory {
    Arc::new(move |entry, view| match entry.mount_type.as_str() {
        "kv" => Some(kv::new(entry, view, clock.clone())),
        "database" => Some(Ok(database::new(view, clock.clone()))),
        "rabbitmq" => Some(rabbitmq::new(view)),
        _ => None,
    })
}

/// A secret path inside a mount: no empty segments, no `.` or `..`.
pub fn validate_path(path: &str) -> crate::error::Result<()> {
    let trimmed = path.trim_end_matches('/');
    if trimmed.split('/').any(|s| s == ".." || s == ".")
        || trimmed.contains("//")
        || trimmed.starts_with('/')
    {
        return Err(crate::error::Error::invalid(format!(
            "invalid path {path:?}: empty, '.' or '..' segment"
        )));
    }
    Ok(())
}

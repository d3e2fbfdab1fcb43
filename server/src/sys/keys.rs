//! `sys/key-status`, `sys/rotate` (and `sys/rotate/keyring`, the path the
//! newer CLI uses), `sys/rotate/config` (automatic rotation, applied by
//! barrier/rotation.rs).

use std::time::Duration;

use serde_json::{Value, json};

use super::SysBackend;
use crate::barrier::rotation::{Config, MAX_OPERATIONS, MIN_INTERVAL, MIN_OPERATIONS};
use crate::clock;
use crate::duration::format_go;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};

/// A config write: the fields given replace those of `current`, with
/// Vault's bounds.
fn updated(current: Config, req: &Request) -> Result<Config> {
    let d = &req.data;
    let mut c = current;
    if let Some(n) = fields::int(d, "max_operations")? {
        match u64::try_from(n) {
            Ok(n) if (MIN_OPERATIONS..=MAX_OPERATIONS).contains(&n) => c.max_operations = n,
            _ => {
                return Err(Error::invalid(format!(
                    "max_operations must be in the range [{MIN_OPERATIONS},{MAX_OPERATIONS}]"
                )));
            }
        }
    }
    if let Some(i) = fields::duration(d, "interval")? {
        if !i.is_zero() && i < MIN_INTERVAL {
            return Err(Error::invalid(format!(
                "interval must be greater or equal to {}",
                format_go(MIN_INTERVAL)
            )));
        }
        c.interval_secs = i.as_secs();
    }
    if let Some(e) = fields::bool(d, "enabled")? {
        c.enabled = e;
    }
    Ok(c)
}

/// The read shape: `interval` is 0, or a Go duration string.
fn config_body(c: Config) -> Value {
    let interval = match c.interval_secs {
        0 => json!(0),
        s => json!(format_go(Duration::from_secs(s))),
    };
    json!({
        "enabled": c.enabled,
        "interval": interval,
        "max_operations": c.max_operations,
    })
}

impl SysBackend {
    pub(super) async fn handle_keys(&self, req: &Request, rel: &str) -> Result<Response> {
        let op = req.operation;
        let write = matches!(op, Operation::Update | Operation::Create);
        match rel {
            "key-status" if op == Operation::Read => {
                let s = self.barrier.key_status()?;
                Ok(Response::from_value(json!({
                    "term": s.term,
                    "install_time": clock::rfc3339(s.install_time),
                    "encryptions": s.encryptions,
                }))
                .top_level())
            }
            "rotate" | "rotate/keyring" if write => {
                let s = self.rotation.rotate().await?;
                tracing::info!(term = s.term, "installed new keyring term");
                Ok(Response::empty())
            }
            "rotate/config" | "rotate/keyring/config" if op == Operation::Read => {
                Ok(Response::from_value(config_body(self.rotation.config())))
            }
            "rotate/config" | "rotate/keyring/config" if write => {
                let config = updated(self.rotation.config(), req)?;
                self.rotation.set(config).await?;
                tracing::info!(
                    enabled = config.enabled,
                    max_operations = config.max_operations,
                    interval_secs = config.interval_secs,
                    "keyring rotation config written"
                );
                Ok(Response::empty())
            }
            "key-status"
            | "rotate"
            | "rotate/keyring"
            | "rotate/config"
            | "rotate/keyring/config" => Err(Error::UnsupportedOperation),
            _ => Err(Error::UnsupportedPath),
        }
    }
}

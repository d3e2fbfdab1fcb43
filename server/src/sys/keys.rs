//! `sys/key-status`, `sys/rotate` (and `sys/rotate/keyring`, the path the
//! newer CLI uses), `sys/rotate/config`.

use serde_json::json;

use super::SysBackend;
use crate::clock;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};

/// Vault rotates automatically after this many encryptions (2^32 * 0.9).
const MAX_OPERATIONS: u64 = 3_865_470_566;

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
                let s = self.barrier.rotate().await?;
                tracing::info!(term = s.term, "installed new keyring term");
                Ok(Response::empty())
            }
            "rotate/config" | "rotate/keyring/config" if op == Operation::Read => {
                Ok(Response::from_value(json!({
                    "enabled": true,
                    "interval": 0,
                    "max_operations": MAX_OPERATIONS,
                })))
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

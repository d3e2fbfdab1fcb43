//! `sys/audit` (list), `sys/audit/:path` (enable, disable) and
//! `sys/audit-hash/:path` (a value as that device would log it, so an
//! operator can find it in the log).

use crate::audit;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};

use super::SysBackend;

impl SysBackend {
    pub(super) async fn handle_audit(&self, req: &Request, rel: &str) -> Result<Response> {
        let op = req.operation;
        if let Some(path) = rel.strip_prefix("audit-hash/") {
            if !matches!(op, Operation::Update | Operation::Create) {
                return Err(Error::UnsupportedOperation);
            }
            let input = fields::string(&req.data, "input")?.unwrap_or_default();
            if input.is_empty() {
                return Err(Error::invalid("the \"input\" parameter is empty"));
            }
            let hash = self.audit.hash(path, &input)?;
            return Ok(Response::from_value(serde_json::json!({ "hash": hash })).top_level());
        }
        let path = rel
            .strip_prefix("audit")
            .unwrap_or("")
            .trim_start_matches('/');
        if path.is_empty() {
            return match op {
                Operation::Read => {
                    Ok(Response::data(audit::list_body(&self.audit.list())).top_level())
                }
                _ => Err(Error::UnsupportedOperation),
            };
        }
        match op {
            Operation::Update | Operation::Create => {
                let device_type = fields::string(&req.data, "type")?.unwrap_or_default();
                if device_type.is_empty() {
                    return Err(Error::invalid("backend type must be specified as a string"));
                }
                let description = fields::string(&req.data, "description")?.unwrap_or_default();
                let options = fields::string_map(&req.data, "options")?.unwrap_or_default();
                let local = fields::bool(&req.data, "local")?.unwrap_or(false);
                self.audit
                    .enable(path, &device_type, description, options, local)
                    .await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.audit.disable(path).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

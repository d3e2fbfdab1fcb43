//! `sys/capabilities`, `sys/capabilities-self`, `sys/capabilities-accessor`:
//! what a token may do on a set of paths.

use serde_json::{Map, Value, json};

use super::SysBackend;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};

impl SysBackend {
    pub(super) async fn handle_capabilities(&self, req: &Request, which: &str) -> Result<Response> {
        if !matches!(req.operation, Operation::Update | Operation::Create) {
            return Err(Error::UnsupportedOperation);
        }
        let d = &req.data;
        let mut paths = fields::string_list(d, "paths")?.unwrap_or_default();
        paths.extend(fields::string_list(d, "path")?.unwrap_or_default());
        if paths.is_empty() {
            return Err(Error::invalid("paths must be supplied"));
        }
        let entry = match which {
            "capabilities-self" => req.token_entry.clone().ok_or(Error::PermissionDenied)?,
            "capabilities-accessor" => {
                let accessor = fields::string(d, "accessor")?.unwrap_or_default();
                if accessor.is_empty() {
                    return Err(Error::invalid("missing accessor"));
                }
                self.tokens
                    .lookup_accessor(&accessor)
                    .await?
                    .map(|(_, e)| e)
                    .ok_or_else(|| Error::InvalidRequestWrapped("invalid accessor".into()))?
            }
            _ => {
                let token = fields::string(d, "token")?.unwrap_or_default();
                if token.is_empty() {
                    return Err(Error::invalid("missing token"));
                }
                self.tokens
                    .lookup(&token)
                    .await?
                    .map(|(_, e)| e)
                    .ok_or_else(|| Error::InvalidRequestWrapped("invalid token".into()))?
            }
        };
        let names = self.identity.effective_policies(&entry).unwrap_or_default();
        let acl = self.policies.acl(&names, entry.is_root()).await?;
        let mut data = Map::new();
        let mut last = Value::Null;
        for p in &paths {
            let caps = json!(acl.capabilities(p));
            last = caps.clone();
            data.insert(p.clone(), caps);
        }
        if paths.len() == 1 {
            data.insert("capabilities".into(), last);
        }
        Ok(Response::data(data).top_level())
    }
}

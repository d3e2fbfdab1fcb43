//! KV version 1: one JSON object per path, no history, Vault's
//! "passthrough" backend. Every value is stored through the mount's
//! barrier view under its own path, so listing is the storage listing.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::{check_request, ignored_params, validate_rel_path};
use crate::backend::Backend;
use crate::barrier::View;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};

pub struct KvV1 {
    view: View,
}

impl KvV1 {
    pub fn new(view: View) -> Self {
        Self { view }
    }
}

#[async_trait]
impl Backend for KvV1 {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let path = req.rel_path();
        if path.is_empty() || path.ends_with('/') || validate_rel_path(path).is_err() {
            return Ok(None);
        }
        Ok(Some(self.view.get(path).await?.is_some()))
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        check_request(req)?;
        let path = req.rel_path().to_owned();
        let resp = match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(Error::NotFound);
                }
                match self.view.get_json::<Map<String, Value>>(&path).await? {
                    Some(data) => {
                        // Vault reports a refresh interval: the secret's own
                        // `ttl` (or `lease`) key, else the mount's default.
                        let ttl = ["ttl", "lease"]
                            .iter()
                            .find_map(|k| match data.get(*k) {
                                Some(Value::String(s)) => crate::duration::parse(s).ok(),
                                Some(Value::Number(n)) => {
                                    n.as_u64().map(std::time::Duration::from_secs)
                                }
                                _ => None,
                            })
                            .unwrap_or(req.mount_default_ttl);
                        let mut resp = Response::data(data);
                        resp.lease_duration = ttl.as_secs();
                        resp
                    }
                    None => return Err(Error::NotFound),
                }
            }
            Operation::Create | Operation::Update => {
                if req.data.is_empty() {
                    return Err(Error::invalid("missing data fields"));
                }
                self.view.put_json(&path, &req.data).await?;
                return Ok(Response::empty());
            }
            Operation::Delete => {
                self.view.delete(&path).await?;
                return Ok(Response::empty());
            }
            Operation::List => {
                let keys = self.view.list(&super::folder(&path)).await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Response::list(keys)
            }
            Operation::Patch | Operation::Renew | Operation::Revoke => {
                return Err(Error::UnsupportedOperation);
            }
        };
        // Reads and lists take no parameters: Vault warns about any.
        let mut resp = resp;
        if let Some(w) = ignored_params(&req.data, &[], &resp) {
            resp.warnings.push(w);
        }
        Ok(resp)
    }
}

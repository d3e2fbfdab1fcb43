//! KV version 1: one JSON object per path, no history. Every value is
//! stored through the mount's barrier view.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::barrier::View;
use crate::engines::validate_path;
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
    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let path = req.rel_path();
        if path.is_empty() || path.ends_with('/') {
            return Ok(None);
        }
        Ok(Some(self.view.get(path).await?.is_some()))
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let path = req.rel_path().to_owned();
        validate_path(&path)?;
        match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(Error::UnsupportedPath);
                }
                match self.view.get_json::<Map<String, Value>>(&path).await? {
                    Some(data) => Ok(Response::data(data)),
                    None => Err(Error::NotFound),
                }
            }
            Operation::Create | Operation::Update => {
                if path.is_empty() || path.ends_with('/') {
                    return Err(Error::invalid("cannot write to a path ending in '/'"));
                }
                if req.data.is_empty() {
                    return Err(Error::invalid("missing data fields"));
                }
                self.view.put_json(&path, &req.data).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.view.delete(&path).await?;
                Ok(Response::empty())
            }
            Operation::List => {
                let prefix = if path.is_empty() || path.ends_with('/') {
                    path.clone()
                } else {
                    format!("{path}/")
                };
                let keys = self.view.list(&prefix).await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Ok(Response::list(keys))
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

//! `cubbyhole/`: per-token private storage. Every entry lives under the
//! salted hash of the token that wrote it (the token store's key, never the
//! token itself), so a token sees only its own cubbyhole and nothing it
//! stored outlives it: the token store calls [`Cubbyhole::token_revoked`]
//! when the token goes, and the whole prefix is dropped.
//!
//! Response wrapping keeps the wrapped response in the wrapping token's
//! cubbyhole under [`RESPONSE_KEY`], which is why it is built in and cannot
//! be disabled.

use async_trait::async_trait;
use serde_json::{Map, Value};

use crate::backend::Backend;
use crate::barrier::View;
use crate::engines::validate_path;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};
use crate::token::store::RevokeHook;

/// Where a wrapping token's cubbyhole keeps the wrapped response.
pub const RESPONSE_KEY: &str = "response";

pub struct Cubbyhole {
    view: View,
}

impl Cubbyhole {
    pub fn new(view: View) -> Self {
        Self { view }
    }

    fn key(token_hash: &str, path: &str) -> String {
        format!("{token_hash}/{path}")
    }

    /// Reads an entry of the cubbyhole of `token_hash`.
    pub async fn read(&self, token_hash: &str, path: &str) -> Result<Option<Map<String, Value>>> {
        Ok(self
            .view
            .get_json::<Map<String, Value>>(&Self::key(token_hash, path))
            .await?)
    }

    /// Writes an entry of the cubbyhole of `token_hash`.
    pub async fn write(
        &self,
        token_hash: &str,
        path: &str,
        data: &Map<String, Value>,
    ) -> Result<()> {
        self.view
            .put_json(&Self::key(token_hash, path), data)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl RevokeHook for Cubbyhole {
    async fn token_revoked(&self, token_hash: &str) -> Result<()> {
        self.view.sub(&format!("{token_hash}/")).clear().await?;
        Ok(())
    }
}

#[async_trait]
impl Backend for Cubbyhole {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    async fn exists(&self, req: &Request) -> Result<Option<bool>> {
        let (Some(hash), path) = (req.token_hash.as_deref(), req.rel_path()) else {
            return Ok(None);
        };
        if path.is_empty() || path.ends_with('/') {
            return Ok(None);
        }
        Ok(Some(self.view.get(&Self::key(hash, path)).await?.is_some()))
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let path = req.rel_path().to_owned();
        validate_path(&path)?;
        // The ACL check before this needs a token, so there is one.
        let hash = req.token_hash.clone().ok_or(Error::PermissionDenied)?;
        // A batch token has no lifetime in storage that a cubbyhole could
        // follow.
        if req.token_entry.as_ref().is_some_and(|e| e.is_batch()) {
            return Err(Error::invalid(
                "cubbyhole operations are only supported by 'service' type tokens",
            ));
        }
        match req.operation {
            Operation::Read => {
                if path.is_empty() {
                    return Err(Error::UnsupportedOperation);
                }
                let data = self.read(&hash, &path).await?.ok_or(Error::NotFound)?;
                let mut resp = Response::data(data);
                if path == RESPONSE_KEY
                    && req.token_entry.as_ref().is_some_and(|e| {
                        e.policies
                            .iter()
                            .any(|p| p == crate::policy::store::RESPONSE_WRAPPING_POLICY_NAME)
                    })
                {
                    resp = resp.with_warning(
                        "Reading from 'cubbyhole/response' is deprecated. Please use \
                         sys/wrapping/unwrap to unwrap responses, as it provides additional \
                         security checks and other benefits.",
                    );
                }
                Ok(resp)
            }
            Operation::Create | Operation::Update => {
                if path.is_empty() || path.ends_with('/') {
                    return Err(Error::invalid("cannot write to a path ending in '/'"));
                }
                if req.data.is_empty() {
                    return Err(Error::InvalidRequestWrapped("missing data fields".into()));
                }
                self.write(&hash, &path, &req.data).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                if path.is_empty() {
                    return Err(Error::UnsupportedOperation);
                }
                self.view.delete(&Self::key(&hash, &path)).await?;
                Ok(Response::empty())
            }
            Operation::List => {
                let mut dir = path.clone();
                if !dir.is_empty() && !dir.ends_with('/') {
                    dir.push('/');
                }
                let keys = self.view.list(&Self::key(&hash, &dir)).await?;
                if keys.is_empty() {
                    return Err(Error::NotFound);
                }
                Ok(Response::list(keys))
            }
            Operation::Patch | Operation::Renew | Operation::Revoke => {
                Err(Error::UnsupportedOperation)
            }
        }
    }
}

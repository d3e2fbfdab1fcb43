//! `sys/wrapping/{wrap,unwrap,lookup,rewrap}`. The token to act on comes
//! from the body (`token`) or, without one, is the caller's own token.
//! The wrapping itself happens on the request path (core/handle.rs), for
//! any response requested with `X-Vault-Wrap-TTL`.

use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};

use super::SysBackend;

impl SysBackend {
    pub(super) async fn handle_wrapping(&self, req: &mut Request, rel: &str) -> Result<Response> {
        if !matches!(req.operation, Operation::Update | Operation::Create) {
            return Err(Error::UnsupportedOperation);
        }
        let body_token = fields::string(&req.data, "token")?.filter(|t| !t.is_empty());
        match rel {
            "wrapping/wrap" => {
                if req.wrap_ttl.is_none() {
                    return Err(Error::invalid(
                        "endpoint requires response wrapping to be used",
                    ));
                }
                if req.data.is_empty() {
                    return Err(Error::invalid("missing data fields"));
                }
                Ok(Response::data(std::mem::take(&mut req.data)))
            }
            "wrapping/unwrap" => {
                self.wrapper
                    .unwrap(body_token.as_deref(), req.token_hash.as_deref())
                    .await
            }
            "wrapping/rewrap" => {
                self.wrapper
                    .rewrap(body_token.as_deref(), req.token_hash.as_deref())
                    .await
            }
            "wrapping/lookup" => {
                let token = match body_token {
                    Some(t) => t,
                    None => req
                        .client_token
                        .as_ref()
                        .map(|t| t.expose().to_owned())
                        .filter(|t| !t.is_empty())
                        .ok_or_else(|| Error::invalid("missing \"token\" value in input"))?,
                };
                self.wrapper.lookup(&token).await
            }
            _ => Err(Error::UnsupportedPath),
        }
    }
}

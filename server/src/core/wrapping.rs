//! Response wrapping. A wrapped response is stored, as the envelope the
//! client would have received, in the cubbyhole of a new single-use token
//! (policy `response-wrapping`, orphan, TTL = the wrap TTL); the client gets
//! only that token (`wrap_info`). Unwrapping spends the token's one use,
//! so a response unwraps once; an expired token is reaped by the token
//! store, and its cubbyhole goes with it.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::clock::{self, Clock};
use crate::engines::cubbyhole::{Cubbyhole, RESPONSE_KEY};
use crate::error::{Error, Result};
use crate::logical::{RawBody, Response, WrapInfo};
use crate::policy::store::RESPONSE_WRAPPING_POLICY_NAME;
use crate::token::{TokenEntry, TokenStore, TokenType};

/// The path recorded on every wrapping token, as Vault records it.
const WRAPPING_TOKEN_PATH: &str = "sys/wrapping/wrap";
/// Field of the stored entry holding the envelope (JSON text).
const RESPONSE_FIELD: &str = "response";
/// Fields of the stored entry kept for `sys/wrapping/lookup` and rewrap.
const CREATION_PATH_FIELD: &str = "creation_path";
const CREATION_TIME_FIELD: &str = "creation_time";
const CREATION_TTL_FIELD: &str = "creation_ttl";

/// "wrapping token is not valid or does not exist", Vault's one answer for
/// every bad wrapping token, so a caller learns nothing by probing.
fn invalid_token() -> Error {
    Error::invalid("wrapping token is not valid or does not exist")
}

pub struct Wrapper {
    tokens: Arc<TokenStore>,
    cubbyhole: Arc<Cubbyhole>,
    clock: Clock,
}

/// A wrapping token, checked and spent.
struct Spent {
    hash: String,
    stored: Map<String, Value>,
    /// Given in the body: revoke it once done. (A caller's own token is
    /// revoked by the request path after its last use.)
    revoke: bool,
}

impl Wrapper {
    pub fn new(tokens: Arc<TokenStore>, cubbyhole: Arc<Cubbyhole>, clock: Clock) -> Self {
        Self {
            tokens,
            cubbyhole,
            clock,
        }
    }

    /// Wraps an envelope: stores it under a new wrapping token and returns
    /// the `wrap_info` that replaces it. `wrapped_accessor` names the token
    /// inside when an auth response is wrapped.
    pub async fn wrap(
        &self,
        envelope: &[u8],
        creation_path: &str,
        ttl: Duration,
        wrapped_accessor: &str,
    ) -> Result<WrapInfo> {
        let now = self.clock.now_nanos();
        let ttl_secs = ttl.as_secs().max(1);
        let ttl = Duration::from_secs(ttl_secs);
        let entry = TokenEntry {
            num_uses: 1,
            explicit_max_ttl: ttl.as_secs(),
            renewable: false,
            ..TokenEntry::new(
                TokenType::Service,
                vec![RESPONSE_WRAPPING_POLICY_NAME.to_owned()],
                WRAPPING_TOKEN_PATH,
                "token",
                now,
                ttl,
            )
        };
        let accessor = entry.accessor.clone();
        let token = self.tokens.create(entry, None).await?;
        let creation_time = clock::rfc3339_nanos(now);
        let mut stored = Map::new();
        stored.insert(
            RESPONSE_FIELD.into(),
            Value::String(String::from_utf8_lossy(envelope).trim_end().to_owned()),
        );
        stored.insert(CREATION_PATH_FIELD.into(), json!(creation_path));
        stored.insert(CREATION_TIME_FIELD.into(), json!(creation_time));
        stored.insert(CREATION_TTL_FIELD.into(), json!(ttl_secs));
        let hash = self.tokens.hash(&token);
        if let Err(e) = self.cubbyhole.write(&hash, RESPONSE_KEY, &stored).await {
            // No half-made wrapping token: without its response it is useless.
            let _ = self.tokens.revoke_tree(&hash).await;
            return Err(e);
        }
        Ok(WrapInfo {
            token,
            accessor,
            ttl: ttl_secs,
            creation_time,
            creation_path: creation_path.to_owned(),
            wrapped_accessor: wrapped_accessor.to_owned(),
        })
    }

    /// The stored entry of a live wrapping token, without spending it.
    async fn stored(&self, hash: &str) -> Result<Map<String, Value>> {
        let entry = self.tokens.get(hash).await?.ok_or_else(invalid_token)?;
        if entry.policies != [RESPONSE_WRAPPING_POLICY_NAME] || entry.num_uses < 0 {
            return Err(invalid_token());
        }
        self.cubbyhole
            .read(hash, RESPONSE_KEY)
            .await?
            .ok_or_else(invalid_token)
    }

    /// Checks a wrapping token and spends its one use. `token` is the
    /// token from the body; without one the caller's own token is the
    /// wrapping token (its use was counted when the request came in, and it
    /// is revoked after the request).
    async fn spend(&self, token: Option<&str>, caller_hash: Option<&str>) -> Result<Spent> {
        match token {
            Some(t) => {
                let (hash, entry) = self.tokens.lookup(t).await?.ok_or_else(invalid_token)?;
                if entry.policies != [RESPONSE_WRAPPING_POLICY_NAME] {
                    return Err(invalid_token());
                }
                let stored = self.stored(&hash).await?;
                // The use is counted atomically: of two concurrent unwraps
                // only one gets past this.
                if self.tokens.use_token(&hash, entry).await?.is_none() {
                    return Err(invalid_token());
                }
                Ok(Spent {
                    hash,
                    stored,
                    revoke: true,
                })
            }
            None => {
                let hash = caller_hash.ok_or_else(invalid_token)?;
                let entry = self.tokens.get(hash).await?.ok_or_else(invalid_token)?;
                if entry.policies != [RESPONSE_WRAPPING_POLICY_NAME] {
                    return Err(invalid_token());
                }
                let stored = self
                    .cubbyhole
                    .read(hash, RESPONSE_KEY)
                    .await?
                    .ok_or_else(invalid_token)?;
                Ok(Spent {
                    hash: hash.to_owned(),
                    stored,
                    revoke: false,
                })
            }
        }
    }

    async fn done(&self, spent: &Spent) {
        if spent.revoke {
            if let Err(e) = self.tokens.revoke_tree(&spent.hash).await {
                // Its one use is spent, so it is useless; the reaper drops
                // it at its TTL.
                tracing::warn!(error = %e, "failed to revoke a spent wrapping token");
            }
        }
    }

    /// `sys/wrapping/unwrap`: the wrapped envelope, once.
    pub async fn unwrap(&self, token: Option<&str>, caller_hash: Option<&str>) -> Result<Response> {
        let spent = self.spend(token, caller_hash).await?;
        self.done(&spent).await;
        let text = spent
            .stored
            .get(RESPONSE_FIELD)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::internal("wrapped response without its envelope"))?
            .to_owned();
        let parsed: Value = serde_json::from_str(&text).map_err(Error::internal)?;
        // The client gets the envelope as it was; `data` is kept beside it
        // for the audit log.
        let data = parsed.get("data").and_then(Value::as_object).cloned();
        let mut body = text.into_bytes();
        body.push(b'\n');
        Ok(Response {
            data,
            raw: Some(RawBody {
                status: 200,
                content_type: "application/json",
                body,
            }),
            ..Default::default()
        })
    }

    /// `sys/wrapping/lookup`: creation path, time and TTL; the token is not
    /// spent.
    pub async fn lookup(&self, token: &str) -> Result<Response> {
        let hash = self.tokens.hash(token);
        let stored = self.stored(&hash).await?;
        let mut data = Map::new();
        for f in [CREATION_PATH_FIELD, CREATION_TIME_FIELD, CREATION_TTL_FIELD] {
            data.insert(f.into(), stored.get(f).cloned().unwrap_or(Value::Null));
        }
        Ok(Response::data(data))
    }

    /// `sys/wrapping/rewrap`: the same response under a new token with the
    /// same TTL and creation path; the old token is spent.
    pub async fn rewrap(&self, token: Option<&str>, caller_hash: Option<&str>) -> Result<Response> {
        let spent = self.spend(token, caller_hash).await?;
        let text = spent
            .stored
            .get(RESPONSE_FIELD)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let path = spent
            .stored
            .get(CREATION_PATH_FIELD)
            .and_then(Value::as_str)
            .unwrap_or(WRAPPING_TOKEN_PATH);
        let ttl = spent
            .stored
            .get(CREATION_TTL_FIELD)
            .and_then(Value::as_u64)
            .unwrap_or(300);
        let wrapped_accessor = serde_json::from_str::<Value>(text)
            .ok()
            .and_then(|v| v.pointer("/auth/accessor")?.as_str().map(str::to_owned))
            .unwrap_or_default();
        let info = self
            .wrap(
                text.as_bytes(),
                path,
                Duration::from_secs(ttl),
                &wrapped_accessor,
            )
            .await?;
        self.done(&spent).await;
        Ok(Response {
            wrap_info: Some(info),
            ..Default::default()
        })
    }
}

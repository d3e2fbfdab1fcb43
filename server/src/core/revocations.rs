//! What the expiration manager calls when a deadline passes: each kind of
//! target goes back to what issued it.

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::expiration::{Revoker, Target};
use crate::token::TokenStore;

pub(super) struct Revocations {
    pub(super) tokens: Arc<TokenStore>,
}

#[async_trait]
impl Revoker for Revocations {
    async fn revoke(&self, target: &Target) -> Result<()> {
        match target {
            // An expired token goes with its children, as in Vault.
            Target::Token(hash) => self.tokens.revoke_tree(hash).await,
        }
    }
}

//! Physical storage: the `Backend` trait every store implements, and the
//! stores themselves. Backends see only opaque keys and (above the barrier)
//! ciphertext; they know nothing of seals, tokens or mounts.
//!
//! Semantics follow Vault's physical layer: `list(prefix)` returns the
//! immediate children of `prefix`, with a trailing `/` on "folders".

pub mod file;
pub mod inmem;

#[cfg(test)]
mod conformance;
#[cfg(test)]
pub(crate) mod gate;

use std::sync::Arc;

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("storage backend error: {0}")]
    Backend(String),
    #[error("storage backend is shut down")]
    Closed,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One change in a batch written atomically.
#[derive(Debug, Clone)]
pub enum Op {
    Put(String, Vec<u8>),
    Delete(String),
}

#[async_trait]
pub trait Backend: Send + Sync + 'static {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;

    /// Durable when it returns `Ok`.
    async fn put(&self, key: &str, value: Vec<u8>) -> Result<()> {
        self.write(vec![Op::Put(key.to_owned(), value)]).await
    }

    async fn delete(&self, key: &str) -> Result<()> {
        self.write(vec![Op::Delete(key.to_owned())]).await
    }

    /// Applies every op or none; durable when it returns `Ok`.
    async fn write(&self, ops: Vec<Op>) -> Result<()>;

    /// Immediate children of `prefix` (folders end in `/`), sorted.
    async fn list(&self, prefix: &str) -> Result<Vec<String>>;

    /// Every key under `prefix`, at any depth (used to drop a mount whole).
    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>>;

    /// Up to `limit` entries under `prefix`, at any depth, in key order,
    /// starting after the key `after` (from the first with None): a page
    /// of a scan that reads a whole prefix back without a read per key.
    async fn entries(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let mut keys = self.keys_under(prefix).await?;
        keys.sort_unstable();
        let mut page = Vec::new();
        for key in keys {
            if page.len() >= limit {
                break;
            }
            if after.is_some_and(|a| key.as_str() <= a) {
                continue;
            }
            if let Some(value) = self.get(&key).await? {
                page.push((key, value));
            }
        }
        Ok(page)
    }

    /// Deletes every key under `prefix`, atomically.
    async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        let ops = self
            .keys_under(prefix)
            .await?
            .into_iter()
            .map(Op::Delete)
            .collect::<Vec<_>>();
        if ops.is_empty() {
            return Ok(());
        }
        self.write(ops).await
    }
}

pub type DynBackend = Arc<dyn Backend>;

/// Folds a sorted run of full keys under `prefix` into immediate children.
/// Shared by the backends so that listing means the same everywhere.
pub(crate) fn immediate_children<'a>(
    prefix: &str,
    keys: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for key in keys {
        let Some(rest) = key.strip_prefix(prefix) else {
            continue;
        };
        let child = match rest.find('/') {
            Some(i) => &rest[..=i],
            None => rest,
        };
        if child.is_empty() {
            continue;
        }
        if out.last().map(String::as_str) != Some(child) {
            out.push(child.to_owned());
        }
    }
    out.sort();
    out.dedup();
    out
}

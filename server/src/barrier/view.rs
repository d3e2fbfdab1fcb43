//! A storage view: the barrier seen through a path prefix. Each mount,
//! and each subsystem of the core, gets one, so that it can only touch its
//! own entries and so that dropping a mount drops its prefix whole.

use std::sync::Arc;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{Barrier, Error, Result};
use crate::storage::Op;

#[derive(Clone)]
pub struct View {
    barrier: Arc<Barrier>,
    prefix: Arc<str>,
}

impl View {
    pub fn new(barrier: Arc<Barrier>, prefix: &str) -> Self {
        Self {
            barrier,
            prefix: prefix.into(),
        }
    }

    /// A narrower view inside this one.
    pub fn sub(&self, prefix: &str) -> Self {
        Self {
            barrier: Arc::clone(&self.barrier),
            prefix: format!("{}{}", self.prefix, prefix).into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    fn full(&self, key: &str) -> String {
        let mut s = String::with_capacity(self.prefix.len() + key.len());
        s.push_str(&self.prefix);
        s.push_str(key);
        s
    }

    /// Encrypts a value kept outside storage, bound to `key` in this view.
    pub fn seal_value(&self, key: &str, plain: &[u8]) -> Result<Vec<u8>> {
        self.barrier.seal_value(&self.full(key), plain)
    }

    pub fn open_value(&self, key: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        self.barrier.open_value(&self.full(key), sealed)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        self.barrier.get(&self.full(key)).await
    }

    pub async fn put(&self, key: &str, value: &[u8]) -> Result<()> {
        self.barrier.put(&self.full(key), value).await
    }

    pub async fn delete(&self, key: &str) -> Result<()> {
        self.barrier.delete(&self.full(key)).await
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.barrier.list(&self.full(prefix)).await
    }

    /// A page of up to `limit` entries under `prefix` at any depth, in key
    /// order, after the key `after`; keys are relative to the view. The
    /// values are sealed: `open_value(key, value)` opens each.
    pub async fn entries_sealed(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        let after = after.map(|a| self.full(a));
        let page = self
            .barrier
            .entries_sealed(&self.full(prefix), after.as_deref(), limit)
            .await?;
        Ok(page
            .into_iter()
            .map(|(mut k, v)| {
                k.drain(..self.prefix.len());
                (k, v)
            })
            .collect())
    }

    /// Atomic batch; keys are relative to the view.
    pub async fn write(&self, ops: Vec<Op>) -> Result<()> {
        let ops = ops
            .into_iter()
            .map(|op| match op {
                Op::Put(k, v) => Op::Put(self.full(&k), v),
                Op::Delete(k) => Op::Delete(self.full(&k)),
            })
            .collect();
        self.barrier.write(ops).await
    }

    /// Drops every entry of the view.
    pub async fn clear(&self) -> Result<()> {
        self.barrier.delete_prefix(&self.prefix).await
    }

    pub async fn get_json<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>> {
        match self.get(key).await? {
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|_| Error::Decrypt {
                    path: self.full(key),
                }),
            None => Ok(None),
        }
    }

    pub async fn put_json<T: Serialize>(&self, key: &str, value: &T) -> Result<()> {
        self.put(key, &to_json(value)).await
    }
}

/// JSON bytes of a value for storage. Our stored types are plain structs
/// of strings, numbers and maps with string keys, which always serialize.
pub fn to_json<T: Serialize>(value: &T) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_default()
}

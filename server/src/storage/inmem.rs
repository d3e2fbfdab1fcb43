//! In-memory backend (`storage "inmem"`, and the dev server): a sorted map
//! behind a read-write lock. Nothing survives the process.

use std::collections::BTreeMap;
use std::sync::RwLock;

use async_trait::async_trait;

use super::{Backend, Error, Op, Result, immediate_children};

#[derive(Default)]
pub struct InmemBackend {
    map: RwLock<BTreeMap<String, Vec<u8>>>,
}

impl InmemBackend {
    pub fn new() -> Self {
        Self::default()
    }
}

fn poisoned<T>(_: T) -> Error {
    Error::Backend("in-memory store lock poisoned".into())
}

#[async_trait]
impl Backend for InmemBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.map.read().map_err(poisoned)?.get(key).cloned())
    }

    async fn write(&self, ops: Vec<Op>) -> Result<()> {
        let mut map = self.map.write().map_err(poisoned)?;
        for op in ops {
            match op {
                Op::Put(k, v) => {
                    map.insert(k, v);
                }
                Op::Delete(k) => {
                    map.remove(&k);
                }
            }
        }
        Ok(())
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let map = self.map.read().map_err(poisoned)?;
        let keys = map
            .range(prefix.to_owned()..)
            .map(|(k, _)| k.as_str())
            .take_while(|k| k.starts_with(prefix));
        Ok(immediate_children(prefix, keys))
    }

    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>> {
        let map = self.map.read().map_err(poisoned)?;
        Ok(map
            .range(prefix.to_owned()..)
            .map(|(k, _)| k.clone())
            .take_while(|k| k.starts_with(prefix))
            .collect())
    }

    async fn entries(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        use std::ops::Bound;
        let map = self.map.read().map_err(poisoned)?;
        let start = after.map_or(Bound::Included(prefix), Bound::Excluded);
        Ok(map
            .range::<str, _>((start, Bound::Unbounded))
            .skip_while(|(k, _)| k.as_str() < prefix)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        super::super::conformance::run(&InmemBackend::new()).await;
    }
}

//! A test store that holds one chosen operation until the test lets it
//! go, so a test can stop a request half-way (between its read of storage
//! and what it does next) and make something else happen in that gap.

use std::sync::Mutex;

use async_trait::async_trait;
use tokio::sync::Notify;

use super::inmem::InmemBackend;
use super::{Backend, Op, Result};

/// Which operation the gate holds: a read after it has read (its caller
/// goes on with what was there before), a write before it writes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Kind {
    Get,
    Write,
}

#[derive(Default)]
pub struct Gate {
    inner: InmemBackend,
    /// The next operation of this kind on a key ending with this suffix
    /// waits (once).
    armed: Mutex<Option<(Kind, String)>>,
    reached: Notify,
    go: Notify,
}

impl Gate {
    pub fn new() -> Self {
        Self::default()
    }

    /// A gate, and a view of `prefix` through an unsealed barrier on it.
    pub async fn with_view(prefix: &str) -> (std::sync::Arc<Self>, crate::barrier::View) {
        use crate::barrier::{Barrier, View, keyring};
        let gate = std::sync::Arc::new(Self::new());
        let barrier = std::sync::Arc::new(Barrier::new(gate.clone()));
        let root = keyring::random_key();
        // Neither can fail on a fresh in-memory store with its own key.
        let _ = barrier.initialize(root.clone()).await;
        let _ = barrier.unseal(root).await;
        (gate, View::new(barrier, prefix))
    }

    /// Holds the next `kind` operation on a key ending with `suffix`.
    pub fn arm(&self, kind: Kind, suffix: &str) {
        *self.armed.lock().unwrap_or_else(|e| e.into_inner()) = Some((kind, suffix.to_owned()));
    }

    /// Waits until the armed operation has arrived and is held.
    pub async fn reached(&self) {
        self.reached.notified().await;
    }

    /// Lets the held operation go on.
    pub fn release(&self) {
        self.go.notify_one();
    }

    async fn pass(&self, kind: Kind, key: &str) {
        let hold = {
            let mut armed = self.armed.lock().unwrap_or_else(|e| e.into_inner());
            let hit = armed
                .as_ref()
                .is_some_and(|(k, suffix)| *k == kind && key.ends_with(suffix.as_str()));
            if hit {
                *armed = None;
            }
            hit
        };
        if hold {
            self.reached.notify_one();
            self.go.notified().await;
        }
    }
}

#[async_trait]
impl Backend for Gate {
    /// Held after reading: the caller gets what was there before.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let value = self.inner.get(key).await;
        self.pass(Kind::Get, key).await;
        value
    }

    /// Held before writing.
    async fn write(&self, ops: Vec<Op>) -> Result<()> {
        for op in &ops {
            let (Op::Put(k, _) | Op::Delete(k)) = op;
            self.pass(Kind::Write, k).await;
        }
        self.inner.write(ops).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.list(prefix).await
    }

    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.inner.keys_under(prefix).await
    }
}

//! The barrier: everything above it is plaintext, everything below it
//! (the storage backend) is ciphertext. Entries are encrypted with the
//! active term of the keyring; the keyring is encrypted with the root key,
//! which exists only in memory while unsealed.
//!
//! Nothing but the seal configuration (written by the seal, in clear,
//! because it must be read while sealed), the encrypted keyring and
//! ciphertext reaches the backend.

pub mod aead;
pub mod keyring;
pub mod rotation;
pub mod view;

use std::sync::{Arc, RwLock};

use time::OffsetDateTime;
use zeroize::Zeroizing;

use crate::secret::SecretBytes;
use crate::storage::{self, DynBackend, Op};
use keyring::{Keyring, KeyringError};

pub use view::View;

/// Where the keyring lives, encrypted under the root key.
pub const KEYRING_PATH: &str = "core/keyring";
/// The term number used for data encrypted directly by the root key (only
/// the keyring itself), so it can never be mistaken for a keyring term.
const ROOT_KEY_TERM: u32 = 0;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Vault is sealed")]
    Sealed,
    #[error(transparent)]
    Storage(#[from] storage::Error),
    #[error("failed to decrypt entry at {path}")]
    Decrypt { path: String },
    #[error("entry at {path} uses unknown key term {term}")]
    UnknownTerm { path: String, term: u32 },
    #[error("failed to decrypt keys from storage: cipher: message authentication failed")]
    InvalidRootKey,
    #[error("barrier is not initialized")]
    NotInitialized,
    #[error("barrier is already initialized")]
    AlreadyInitialized,
    #[error("{0}")]
    Keyring(#[from] KeyringError),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What `Barrier::upkeep` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upkeep {
    None,
    /// Stored the active term's count.
    Stored,
    /// Rotated to this term.
    Rotated(u32),
}

/// What `sys/key-status` reports.
pub struct KeyStatus {
    pub term: u32,
    pub install_time: OffsetDateTime,
    pub encryptions: u64,
}

pub struct Barrier {
    backend: DynBackend,
    keyring: RwLock<Option<Arc<Keyring>>>,
    /// Held across a whole rotation (build, persist, install), so two
    /// rotations cannot both build term N+1 from the same keyring with
    /// different keys and leave memory and storage disagreeing; and
    /// across every other write of the keyring.
    rotation: tokio::sync::Mutex<()>,
    /// Woken when the active term's stored count is `STORE_EVERY` behind
    /// (rotation.rs stores it, or rotates).
    upkeep: tokio::sync::Notify,
}

impl Barrier {
    pub fn new(backend: DynBackend) -> Self {
        Self {
            backend,
            keyring: RwLock::new(None),
            rotation: tokio::sync::Mutex::new(()),
            upkeep: tokio::sync::Notify::new(),
        }
    }

    /// The raw store, for the seal configuration only.
    pub fn backend(&self) -> &DynBackend {
        &self.backend
    }

    pub async fn is_initialized(&self) -> Result<bool> {
        Ok(self.backend.get(KEYRING_PATH).await?.is_some())
    }

    /// Creates the keyring and stores it under `root`. The barrier stays
    /// sealed; `unseal` with the same key opens it.
    pub async fn initialize(&self, root: SecretBytes) -> Result<()> {
        if self.is_initialized().await? {
            return Err(Error::AlreadyInitialized);
        }
        let keyring = Keyring::generate(root)?;
        self.persist_keyring(&keyring).await
    }

    pub async fn unseal(&self, root: SecretBytes) -> Result<()> {
        let sealed = self
            .backend
            .get(KEYRING_PATH)
            .await?
            .ok_or(Error::NotInitialized)?;
        let cipher = aead::Cipher::new(root.expose()).map_err(|_| Error::InvalidRootKey)?;
        let plain = Zeroizing::new(
            cipher
                .open(KEYRING_PATH, &sealed)
                .map_err(|_| Error::InvalidRootKey)?,
        );
        let keyring = Keyring::decode(root, &plain)?;
        *self.write_lock() = Some(Arc::new(keyring));
        Ok(())
    }

    /// Drops the keyring (and with it every key) from memory.
    pub fn seal(&self) {
        *self.write_lock() = None;
    }

    pub fn is_sealed(&self) -> bool {
        self.read_lock().is_none()
    }

    fn read_lock(&self) -> std::sync::RwLockReadGuard<'_, Option<Arc<Keyring>>> {
        // A poisoned lock only means a panic elsewhere mid-swap of an Arc;
        // the value inside is still a whole keyring or None.
        self.keyring.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_lock(&self) -> std::sync::RwLockWriteGuard<'_, Option<Arc<Keyring>>> {
        self.keyring.write().unwrap_or_else(|e| e.into_inner())
    }

    fn keyring(&self) -> Result<Arc<Keyring>> {
        self.read_lock().clone().ok_or(Error::Sealed)
    }

    /// Stores `keyring`, with its encryption counts.
    async fn persist_keyring(&self, keyring: &Keyring) -> Result<()> {
        let (plain, count) = keyring.encode();
        let sealed = keyring
            .root_cipher()
            .seal(ROOT_KEY_TERM, KEYRING_PATH, &plain);
        self.backend.put(KEYRING_PATH, sealed).await?;
        keyring.mark_stored(count);
        Ok(())
    }

    fn encrypt(&self, keyring: &Keyring, path: &str, plain: &[u8]) -> Vec<u8> {
        let term = keyring.active();
        if term.count_encryption() {
            self.upkeep.notify_one();
        }
        term.cipher().seal(term.number, path, plain)
    }

    /// Stores the active term's count if it moved (before a seal).
    pub async fn store_count(&self) -> Result<()> {
        let never = rotation::Config {
            enabled: false,
            ..Default::default()
        };
        self.upkeep(&never, OffsetDateTime::now_utc(), true).await?;
        Ok(())
    }

    /// Waits until the stored count has fallen `STORE_EVERY` behind.
    pub async fn upkeep_wanted(&self) {
        self.upkeep.notified().await;
    }

    /// Rotates when `config` says the active term has done enough (`now`:
    /// for its `interval`); otherwise stores its count if it is
    /// `STORE_EVERY` behind, or at all behind when `flush`. What it did.
    pub async fn upkeep(
        &self,
        config: &rotation::Config,
        now: OffsetDateTime,
        flush: bool,
    ) -> Result<Upkeep> {
        let _rotating = self.rotation.lock().await;
        let Some(current) = self.read_lock().clone() else {
            return Ok(Upkeep::None);
        };
        let term = current.active();
        if config.due(term.encryptions(), term.install_time, now) {
            let status = self.rotate_locked(&current, now).await?;
            return Ok(Upkeep::Rotated(status.term));
        }
        let behind = term.encryptions().saturating_sub(term.stored());
        if behind >= keyring::STORE_EVERY || (flush && behind > 0) {
            self.persist_keyring(&current).await?;
            return Ok(Upkeep::Stored);
        }
        Ok(Upkeep::None)
    }

    fn decrypt(&self, keyring: &Keyring, path: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let n = aead::term_of(sealed).map_err(|_| Error::Decrypt { path: path.into() })?;
        let term = keyring.term(n).ok_or_else(|| Error::UnknownTerm {
            path: path.into(),
            term: n,
        })?;
        term.cipher()
            .open(path, sealed)
            .map_err(|_| Error::Decrypt { path: path.into() })
    }

    /// Encrypts a value that is not stored (a batch token) under the
    /// active term, bound to `context` as the path is for stored entries.
    pub fn seal_value(&self, context: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let keyring = self.keyring()?;
        Ok(self.encrypt(&keyring, context, plain))
    }

    /// Decrypts what `seal_value` made for the same `context`.
    pub fn open_value(&self, context: &str, sealed: &[u8]) -> Result<Vec<u8>> {
        let keyring = self.keyring()?;
        self.decrypt(&keyring, context, sealed)
    }

    pub async fn get(&self, path: &str) -> Result<Option<Vec<u8>>> {
        let keyring = self.keyring()?;
        match self.backend.get(path).await? {
            Some(sealed) => self.decrypt(&keyring, path, &sealed).map(Some),
            None => Ok(None),
        }
    }

    pub async fn put(&self, path: &str, plain: &[u8]) -> Result<()> {
        let keyring = self.keyring()?;
        let sealed = self.encrypt(&keyring, path, plain);
        self.backend.put(path, sealed).await?;
        Ok(())
    }

    pub async fn delete(&self, path: &str) -> Result<()> {
        self.keyring()?;
        self.backend.delete(path).await?;
        Ok(())
    }

    /// Writes a batch atomically; `Op::Put` values are plaintext here.
    pub async fn write(&self, ops: Vec<Op>) -> Result<()> {
        let keyring = self.keyring()?;
        let ops = ops
            .into_iter()
            .map(|op| match op {
                Op::Put(k, v) => {
                    let sealed = self.encrypt(&keyring, &k, &v);
                    Op::Put(k, sealed)
                }
                del @ Op::Delete(_) => del,
            })
            .collect();
        self.backend.write(ops).await?;
        Ok(())
    }

    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        self.keyring()?;
        Ok(self.backend.list(prefix).await?)
    }

    /// A page of the entries under `prefix` (see `Backend::entries`),
    /// still sealed: each opens with `open_value(key, value)`, wherever
    /// the caller wants the work done.
    pub async fn entries_sealed(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        self.keyring()?;
        Ok(self.backend.entries(prefix, after, limit).await?)
    }

    pub async fn delete_prefix(&self, prefix: &str) -> Result<()> {
        self.keyring()?;
        Ok(self.backend.delete_prefix(prefix).await?)
    }

    /// Adds a new key term; new writes use it, old entries stay readable.
    ///
    /// Rotations are serialized. The new keyring is installed only if the
    /// one it was built from is still in memory: a seal (or seal and
    /// unseal) during the rotation leaves memory as the seal left it, and
    /// the stored keyring, a superset of the old one, is read at the next
    /// unseal. Nothing was encrypted under the new term in that case.
    pub async fn rotate(&self, now: OffsetDateTime) -> Result<KeyStatus> {
        let _rotating = self.rotation.lock().await;
        let current = self.keyring()?;
        self.rotate_locked(&current, now).await
    }

    /// `rotate`, the rotation lock held, from `current`.
    async fn rotate_locked(
        &self,
        current: &Arc<Keyring>,
        now: OffsetDateTime,
    ) -> Result<KeyStatus> {
        let next = current.rotated(now)?;
        self.persist_keyring(&next).await?;
        let status = status_of(&next);
        let mut installed = self.write_lock();
        match &*installed {
            Some(k) if Arc::ptr_eq(k, current) => *installed = Some(Arc::new(next)),
            _ => return Err(Error::Sealed),
        }
        Ok(status)
    }

    pub fn key_status(&self) -> Result<KeyStatus> {
        Ok(status_of(&*self.keyring()?))
    }
}

fn status_of(k: &Keyring) -> KeyStatus {
    let t = k.active();
    KeyStatus {
        term: t.number,
        install_time: t.install_time,
        encryptions: t.encryptions(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Backend;
    use crate::storage::inmem::InmemBackend;

    async fn unsealed() -> (Arc<InmemBackend>, Barrier, SecretBytes) {
        let store = Arc::new(InmemBackend::new());
        let b = Barrier::new(store.clone());
        let root = keyring::random_key();
        b.initialize(root.clone()).await.unwrap();
        assert!(b.is_sealed());
        b.unseal(root.clone()).await.unwrap();
        (store, b, root)
    }

    #[tokio::test]
    async fn stores_only_ciphertext() {
        let (store, b, _) = unsealed().await;
        b.put("secret/a", b"plaintext-value").await.unwrap();
        let raw = store.get("secret/a").await.unwrap().unwrap();
        assert!(!raw.windows(9).any(|w| w == b"plaintext"));
        assert_eq!(
            b.get("secret/a").await.unwrap().unwrap(),
            b"plaintext-value"
        );
        for key in store.keys_under("").await.unwrap() {
            let v = store.get(&key).await.unwrap().unwrap();
            assert!(!v.windows(9).any(|w| w == b"plaintext"), "{key}");
        }
    }

    #[tokio::test]
    async fn sealed_barrier_refuses_everything() {
        let (_, b, _) = unsealed().await;
        b.seal();
        assert!(matches!(b.get("x").await, Err(Error::Sealed)));
        assert!(matches!(b.put("x", b"v").await, Err(Error::Sealed)));
        assert!(matches!(b.list("").await, Err(Error::Sealed)));
    }

    #[tokio::test]
    async fn wrong_root_key_fails_and_stays_sealed() {
        let (_, b, _) = unsealed().await;
        b.seal();
        let err = b.unseal(keyring::random_key()).await.unwrap_err();
        assert!(matches!(err, Error::InvalidRootKey));
        assert!(b.is_sealed());
        assert!(matches!(
            b.initialize(keyring::random_key()).await,
            Err(Error::AlreadyInitialized)
        ));
    }

    #[tokio::test]
    async fn rotation_keeps_old_entries_readable_across_unseal() {
        let (store, b, root) = unsealed().await;
        b.put("old", b"1").await.unwrap();
        let s = b.rotate(OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(s.term, 2);
        b.put("new", b"2").await.unwrap();
        assert_eq!(
            aead::term_of(&store.get("old").await.unwrap().unwrap()).unwrap(),
            1
        );
        assert_eq!(
            aead::term_of(&store.get("new").await.unwrap().unwrap()).unwrap(),
            2
        );
        b.seal();
        b.unseal(root).await.unwrap();
        assert_eq!(b.key_status().unwrap().term, 2);
        assert_eq!(b.get("old").await.unwrap().unwrap(), b"1");
        assert_eq!(b.get("new").await.unwrap().unwrap(), b"2");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_rotations_lose_no_key() {
        let (_, b, root) = unsealed().await;
        let b = Arc::new(b);
        let mut expected_term = 1;
        for round in 0..40 {
            let tasks: Vec<_> = (0..4)
                .map(|i| {
                    let b = Arc::clone(&b);
                    tokio::spawn(async move {
                        b.put(&format!("r{round}/before{i}"), b"v").await.unwrap();
                        b.rotate(OffsetDateTime::now_utc()).await.unwrap();
                        b.put(&format!("r{round}/after{i}"), b"v").await.unwrap();
                    })
                })
                .collect();
            for t in tasks {
                t.await.unwrap();
            }
            expected_term += 4;
            assert_eq!(b.key_status().unwrap().term, expected_term, "round {round}");
        }
        b.seal();
        b.unseal(root).await.unwrap();
        for round in 0..40 {
            for i in 0..4 {
                for when in ["before", "after"] {
                    let path = format!("r{round}/{when}{i}");
                    assert_eq!(b.get(&path).await.unwrap().unwrap(), b"v", "{path}");
                }
            }
        }
    }

    #[tokio::test]
    async fn a_rotation_overlapping_a_seal_puts_no_key_back() {
        use crate::storage::gate::{Gate, Kind};
        let store = Arc::new(Gate::new());
        let root = keyring::random_key();
        let b = Arc::new(Barrier::new(store.clone()));
        b.initialize(root.clone()).await.unwrap();
        b.unseal(root.clone()).await.unwrap();

        // The rotation is between persisting its keyring and installing it
        // when the barrier is sealed.
        store.arm(Kind::Write, KEYRING_PATH);
        let rotating = tokio::spawn({
            let b = Arc::clone(&b);
            async move { b.rotate(OffsetDateTime::now_utc()).await }
        });
        store.reached().await;
        b.seal();
        store.release();
        assert!(matches!(rotating.await.unwrap(), Err(Error::Sealed)));
        assert!(b.is_sealed(), "the rotation put keys back after the seal");
        // The stored keyring is the rotated one, and it opens.
        b.unseal(root).await.unwrap();
        assert_eq!(b.key_status().unwrap().term, 2);
    }

    #[tokio::test]
    async fn the_encryption_count_is_stored_as_it_grows() {
        let (store, b, root) = unsealed().await;
        let config = rotation::Config::default();
        let now = OffsetDateTime::now_utc();
        for i in 0..10 {
            b.put(&format!("k{i}"), b"v").await.unwrap();
        }
        // Ten behind: stored only when flushed (hourly, and at seal).
        assert_eq!(b.upkeep(&config, now, false).await.unwrap(), Upkeep::None);
        assert_eq!(b.upkeep(&config, now, true).await.unwrap(), Upkeep::Stored);
        b.seal();
        b.unseal(root.clone()).await.unwrap();
        assert_eq!(b.key_status().unwrap().encryptions, 10);
        // STORE_EVERY behind: the barrier asks, upkeep stores, and a crash
        // (a new barrier on the same store, nothing flushed) keeps it.
        b.keyring()
            .unwrap()
            .active()
            .add_encryptions(keyring::STORE_EVERY - 1);
        let asked = b.upkeep_wanted();
        b.put("one-more", b"v").await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(1), asked)
            .await
            .expect("the barrier did not ask for upkeep");
        assert_eq!(b.upkeep(&config, now, false).await.unwrap(), Upkeep::Stored);
        let crashed = Barrier::new(store);
        crashed.unseal(root).await.unwrap();
        assert_eq!(
            crashed.key_status().unwrap().encryptions,
            10 + keyring::STORE_EVERY
        );
    }

    #[tokio::test]
    async fn a_term_is_rotated_once_it_did_max_operations() {
        let (_, b, root) = unsealed().await;
        let config = rotation::Config {
            enabled: true,
            max_operations: rotation::MIN_OPERATIONS,
            interval_secs: 0,
        };
        let now = OffsetDateTime::now_utc();
        b.keyring()
            .unwrap()
            .active()
            .add_encryptions(rotation::MIN_OPERATIONS - 2);
        b.put("a", b"1").await.unwrap();
        assert_ne!(
            b.upkeep(&config, now, false).await.unwrap(),
            Upkeep::Rotated(2)
        );
        b.put("b", b"2").await.unwrap();
        assert_eq!(
            b.upkeep(&config, now, false).await.unwrap(),
            Upkeep::Rotated(2)
        );
        b.put("c", b"3").await.unwrap();
        assert_eq!(b.key_status().unwrap().term, 2);
        assert_eq!(b.key_status().unwrap().encryptions, 1);
        // Disabled, or not yet old enough: nothing happens.
        b.keyring()
            .unwrap()
            .active()
            .add_encryptions(rotation::MAX_OPERATIONS);
        let off = rotation::Config {
            enabled: false,
            ..config
        };
        assert_ne!(
            b.upkeep(&off, now, false).await.unwrap(),
            Upkeep::Rotated(3)
        );
        let daily = rotation::Config {
            enabled: true,
            max_operations: rotation::MAX_OPERATIONS * 2,
            interval_secs: 24 * 3600,
        };
        assert_ne!(
            b.upkeep(&daily, now, false).await.unwrap(),
            Upkeep::Rotated(3)
        );
        let tomorrow = now + time::Duration::days(1);
        assert_eq!(
            b.upkeep(&daily, tomorrow, false).await.unwrap(),
            Upkeep::Rotated(3)
        );
        b.seal();
        b.unseal(root).await.unwrap();
        for (k, v) in [("a", b"1"), ("b", b"2"), ("c", b"3")] {
            assert_eq!(b.get(k).await.unwrap().unwrap(), v);
        }
    }

    #[tokio::test]
    async fn moved_ciphertext_does_not_decrypt() {
        let (store, b, _) = unsealed().await;
        b.put("a", b"1").await.unwrap();
        let raw = store.get("a").await.unwrap().unwrap();
        store.put("b", raw).await.unwrap();
        assert!(matches!(b.get("b").await, Err(Error::Decrypt { .. })));
    }
}

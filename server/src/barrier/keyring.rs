//! The keyring: numbered key terms, the newest of which encrypts new
//! writes, and the root key that encrypts the keyring itself.
//!
//! A keyring is immutable once built; rotation builds a new one with one
//! more term and the barrier swaps it in. Old terms stay so that entries
//! written under them remain readable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use zeroize::{Zeroize, Zeroizing};

use super::aead::{Cipher, KEY_LEN};
use crate::secret::SecretBytes;

pub struct Term {
    pub number: u32,
    cipher: Cipher,
    key: SecretBytes,
    pub install_time: OffsetDateTime,
    encryptions: AtomicU64,
    /// The count the stored keyring holds for this term (the barrier
    /// stores it again every `STORE_EVERY` encryptions, hourly and at
    /// seal, so a crash loses at most about that many).
    stored: AtomicU64,
}

impl Term {
    fn new(
        number: u32,
        key: SecretBytes,
        install_time: OffsetDateTime,
        encryptions: u64,
    ) -> Option<Self> {
        let cipher = Cipher::new(key.expose()).ok()?;
        Some(Self {
            number,
            cipher,
            key,
            install_time,
            encryptions: AtomicU64::new(encryptions),
            stored: AtomicU64::new(encryptions),
        })
    }

    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// Counts one encryption; true when the stored count is
    /// `STORE_EVERY` or more behind (time to store it).
    pub fn count_encryption(&self) -> bool {
        let n = self.encryptions.fetch_add(1, Ordering::Relaxed) + 1;
        n >= self.stored().saturating_add(STORE_EVERY)
    }

    pub fn encryptions(&self) -> u64 {
        self.encryptions.load(Ordering::Relaxed)
    }

    /// The count the stored keyring holds for this term.
    pub fn stored(&self) -> u64 {
        self.stored.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    pub fn add_encryptions(&self, n: u64) {
        self.encryptions.fetch_add(n, Ordering::Relaxed);
    }
}

/// How far the stored count of the active term may fall behind before it
/// is stored again. A crash loses at most about this many from the count:
/// nothing next to the margin Vault's default `max_operations` leaves
/// (2^32 × 0.1 below the AES-GCM bound), and one keyring write per 65,536
/// encryptions costs nothing measurable.
pub const STORE_EVERY: u64 = 1 << 16;

pub struct Keyring {
    root: SecretBytes,
    root_cipher: Cipher,
    /// The term new writes use; kept apart so that there always is one.
    active: Term,
    /// Every older term, still needed to read what was written under it.
    older: BTreeMap<u32, Term>,
}

#[derive(Serialize, Deserialize)]
struct StoredTerm {
    term: u32,
    /// base64 of the key; the whole document is encrypted by the root key.
    key: String,
    install_time: i64,
    #[serde(default)]
    encryptions: u64,
}

impl Drop for StoredTerm {
    fn drop(&mut self) {
        self.key.zeroize();
    }
}

#[derive(Serialize, Deserialize)]
struct StoredKeyring {
    active: u32,
    terms: Vec<StoredTerm>,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("keyring is malformed")]
    Malformed,
    #[error("root key has the wrong length")]
    RootKey,
}

pub fn random_key() -> SecretBytes {
    let mut key = vec![0u8; KEY_LEN];
    rand::rngs::OsRng.fill_bytes(&mut key);
    SecretBytes::new(key)
}

impl Keyring {
    /// A fresh keyring with term 1, for `sys/init`.
    pub fn generate(root: SecretBytes) -> Result<Self, KeyringError> {
        let root_cipher = Cipher::new(root.expose()).map_err(|_| KeyringError::RootKey)?;
        let term = Term::new(1, random_key(), OffsetDateTime::now_utc(), 0)
            .ok_or(KeyringError::Malformed)?;
        Ok(Self {
            root,
            root_cipher,
            active: term,
            older: BTreeMap::new(),
        })
    }

    pub fn root_cipher(&self) -> &Cipher {
        &self.root_cipher
    }

    pub fn active(&self) -> &Term {
        &self.active
    }

    pub fn term(&self, n: u32) -> Option<&Term> {
        if n == self.active.number {
            Some(&self.active)
        } else {
            self.older.get(&n)
        }
    }

    fn all_terms(&self) -> impl Iterator<Item = &Term> {
        self.older.values().chain(std::iter::once(&self.active))
    }

    /// A new keyring with one more term, installed `now`, which becomes
    /// active.
    pub fn rotated(&self, now: OffsetDateTime) -> Result<Self, KeyringError> {
        let next = self.active.number + 1;
        let mut older = BTreeMap::new();
        for t in self.all_terms() {
            let copy = Term::new(t.number, t.key.clone(), t.install_time, t.encryptions())
                .ok_or(KeyringError::Malformed)?;
            older.insert(t.number, copy);
        }
        let active = Term::new(next, random_key(), now, 0).ok_or(KeyringError::Malformed)?;
        Ok(Self {
            root: self.root.clone(),
            root_cipher: Cipher::new(self.root.expose()).map_err(|_| KeyringError::RootKey)?,
            active,
            older,
        })
    }

    /// The serialized keyring (to be encrypted with the root key), and
    /// the active term's count in it, to `mark_stored` once it is stored.
    pub fn encode(&self) -> (Zeroizing<Vec<u8>>, u64) {
        let count = self.active.encryptions();
        let stored = StoredKeyring {
            active: self.active.number,
            terms: self
                .all_terms()
                .map(|t| StoredTerm {
                    term: t.number,
                    key: B64.encode(t.key.expose()),
                    install_time: t.install_time.unix_timestamp(),
                    encryptions: if t.number == self.active.number {
                        count
                    } else {
                        t.encryptions()
                    },
                })
                .collect(),
        };
        // Serializing plain structs of strings and numbers cannot fail.
        (
            Zeroizing::new(serde_json::to_vec(&stored).unwrap_or_default()),
            count,
        )
    }

    /// The stored keyring now holds the active term's count `n`.
    pub fn mark_stored(&self, n: u64) {
        self.active.stored.fetch_max(n, Ordering::Relaxed);
    }

    pub fn decode(root: SecretBytes, bytes: &[u8]) -> Result<Self, KeyringError> {
        let root_cipher = Cipher::new(root.expose()).map_err(|_| KeyringError::RootKey)?;
        let stored: StoredKeyring =
            serde_json::from_slice(bytes).map_err(|_| KeyringError::Malformed)?;
        let mut older = BTreeMap::new();
        for t in &stored.terms {
            let key = Zeroizing::new(B64.decode(&t.key).map_err(|_| KeyringError::Malformed)?);
            let installed = OffsetDateTime::from_unix_timestamp(t.install_time)
                .map_err(|_| KeyringError::Malformed)?;
            let term = Term::new(
                t.term,
                SecretBytes::new(key.to_vec()),
                installed,
                t.encryptions,
            )
            .ok_or(KeyringError::Malformed)?;
            older.insert(t.term, term);
        }
        let active = older
            .remove(&stored.active)
            .ok_or(KeyringError::Malformed)?;
        Ok(Self {
            root,
            root_cipher,
            active,
            older,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_keeps_terms() {
        let root = random_key();
        let k = Keyring::generate(root.clone()).unwrap();
        let k2 = k.rotated(OffsetDateTime::now_utc()).unwrap();
        assert_eq!(k2.active().number, 2);
        k2.active().count_encryption();
        let (bytes, count) = k2.encode();
        assert_eq!(count, 1);
        let back = Keyring::decode(root, &bytes).unwrap();
        assert_eq!(back.active().encryptions(), 1);
        assert_eq!(back.active().stored(), 1);
        assert_eq!(back.active().number, 2);
        assert!(back.term(1).is_some());
        let ct = k.active().cipher().seal(1, "p", b"x");
        assert_eq!(back.term(1).unwrap().cipher().open("p", &ct).unwrap(), b"x");
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(Keyring::decode(random_key(), b"{}").is_err());
        assert!(Keyring::decode(random_key(), b"not json").is_err());
        assert!(Keyring::decode(SecretBytes::new(vec![1, 2]), b"{}").is_err());
    }
}

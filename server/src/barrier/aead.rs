//! The ciphertext layout of every entry stored through the barrier:
//!
//! ```text
//! | term: u32 BE | version: u8 = 1 | nonce: 12 bytes | AES-256-GCM(ciphertext || tag) |
//! ```
//!
//! The storage path is the associated data, so an entry copied to another
//! path (by someone with write access to the raw store) fails to decrypt.

use aes_gcm::aead::{Aead, AeadCore, OsRng, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};

pub const VERSION: u8 = 1;
const TERM_LEN: usize = 4;
const NONCE_LEN: usize = 12;
const HEADER_LEN: usize = TERM_LEN + 1 + NONCE_LEN;
/// Size of an AES-256 key.
pub const KEY_LEN: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AeadError {
    #[error("invalid key length")]
    KeyLength,
    #[error("ciphertext too short")]
    TooShort,
    #[error("unsupported ciphertext version {0}")]
    Version(u8),
    #[error("message authentication failed")]
    Authentication,
}

/// An AES-256-GCM key ready to use (the expanded key schedule is kept, and
/// zeroized on drop by `aes-gcm`'s `zeroize` feature).
pub struct Cipher(Aes256Gcm);

impl Cipher {
    pub fn new(key: &[u8]) -> Result<Self, AeadError> {
        if key.len() != KEY_LEN {
            return Err(AeadError::KeyLength);
        }
        Aes256Gcm::new_from_slice(key)
            .map(Self)
            .map_err(|_| AeadError::KeyLength)
    }

    pub fn seal(&self, term: u32, path: &str, plaintext: &[u8]) -> Vec<u8> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + 16);
        out.extend_from_slice(&term.to_be_bytes());
        out.push(VERSION);
        out.extend_from_slice(&nonce);
        // Encryption with a valid key and nonce cannot fail for inputs under
        // GCM's 64 GiB bound, far above the request body limit.
        match self.0.encrypt(
            &nonce,
            Payload {
                msg: plaintext,
                aad: path.as_bytes(),
            },
        ) {
            Ok(ct) => out.extend_from_slice(&ct),
            Err(_) => out.clear(),
        }
        out
    }

    pub fn open(&self, path: &str, sealed: &[u8]) -> Result<Vec<u8>, AeadError> {
        if sealed.len() < HEADER_LEN + 16 {
            return Err(AeadError::TooShort);
        }
        if sealed[TERM_LEN] != VERSION {
            return Err(AeadError::Version(sealed[TERM_LEN]));
        }
        let nonce = Nonce::from_slice(&sealed[TERM_LEN + 1..HEADER_LEN]);
        self.0
            .decrypt(
                nonce,
                Payload {
                    msg: &sealed[HEADER_LEN..],
                    aad: path.as_bytes(),
                },
            )
            .map_err(|_| AeadError::Authentication)
    }
}

/// The key term a ciphertext was written under.
pub fn term_of(sealed: &[u8]) -> Result<u32, AeadError> {
    let bytes: [u8; TERM_LEN] = sealed
        .get(..TERM_LEN)
        .and_then(|b| b.try_into().ok())
        .ok_or(AeadError::TooShort)?;
    Ok(u32::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_layout() {
        let c = Cipher::new(&[7u8; 32]).unwrap();
        let ct = c.seal(3, "core/x", b"hello");
        assert_eq!(term_of(&ct).unwrap(), 3);
        assert_eq!(ct[4], VERSION);
        assert_eq!(ct.len(), HEADER_LEN + 5 + 16);
        assert_eq!(c.open("core/x", &ct).unwrap(), b"hello");
        assert!(!ct.windows(5).any(|w| w == b"hello"));
    }

    #[test]
    fn path_is_bound() {
        let c = Cipher::new(&[7u8; 32]).unwrap();
        let ct = c.seal(1, "a", b"v");
        assert_eq!(c.open("b", &ct), Err(AeadError::Authentication));
    }

    #[test]
    fn tampering_and_truncation_fail_cleanly() {
        let c = Cipher::new(&[7u8; 32]).unwrap();
        let mut ct = c.seal(1, "a", b"value");
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert_eq!(c.open("a", &ct), Err(AeadError::Authentication));
        assert_eq!(c.open("a", &ct[..10]), Err(AeadError::TooShort));
        ct[4] = 9;
        assert_eq!(c.open("a", &ct), Err(AeadError::Version(9)));
        let other = Cipher::new(&[8u8; 32]).unwrap();
        let ct = c.seal(1, "a", b"value");
        assert_eq!(other.open("a", &ct), Err(AeadError::Authentication));
        assert!(Cipher::new(&[1u8; 16]).is_err());
    }
}

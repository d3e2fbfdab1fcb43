//! Shamir's secret sharing over GF(2^8), wrapped around the `sharks` crate
//! so it can be replaced without touching the callers.
//!
//! A share is encoded the way Vault encodes it: the y bytes followed by the
//! one-byte x coordinate, so a 32-byte root key gives 33-byte shares.

use sharks::{Share, Sharks};
use zeroize::Zeroizing;

use crate::secret::SecretBytes;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShamirError {
    #[error("invalid share count or threshold")]
    Parameters,
    #[error("shares must be of the same length")]
    LengthMismatch,
    #[error("share is too short")]
    TooShort,
    #[error("duplicate share")]
    Duplicate,
    #[error("not enough shares")]
    NotEnough,
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
pub fn split(secret: &[u8], parts: u8, threshold: u8) -> Result<Vec<SecretBytes>, ShamirError> {
    if threshold == 0 || parts < threshold || secret.is_empty() {
        return Err(ShamirError::Parameters);
    }
    let sharks = Sharks(threshold);
    Ok(sharks
        .dealer(secret)
        .take(parts as usize)
        .map(|share| {
            // sharks encodes x || y; turn it into Vault's y || x.
            let xy = Zeroizing::new(Vec::from(&share));
            let mut yx = Vec::with_capacity(xy.len());
            yx.extend_from_slice(&xy[1..]);
            yx.push(xy[0]);
            SecretBytes::new(yx)
        })
        .collect())
}

/// Recovers the secret from at least `threshold` distinct shares. With a
/// wrong set of shares the result is garbage, not an error: callers check
/// it (the barrier does, by decrypting the keyring).
pub fn combine(shares: &[SecretBytes], threshold: u8) -> Result<SecretBytes, ShamirError> {
    let first_len = shares.first().ok_or(ShamirError::NotEnough)?.len();
    if first_len < 2 {
        return Err(ShamirError::TooShort);
    }
    let mut parsed = Vec::with_capacity(shares.len());
    let mut seen = [false; 256];
    for s in shares {
        let b = s.expose();
        if b.len() != first_len {
            return Err(ShamirError::LengthMismatch);
        }
        let x = b[b.len() - 1];
        if x == 0 || seen[x as usize] {
            return Err(ShamirError::Duplicate);
        }
        seen[x as usize] = true;
        let mut xy = Zeroizing::new(Vec::with_capacity(b.len()));
        xy.push(x);
        xy.extend_from_slice(&b[..b.len() - 1]);
        let share = Share::try_from(xy.as_slice()).map_err(|_| ShamirError::TooShort)?;
        parsed.push(share);
    }
    if parsed.len() < threshold as usize {
        return Err(ShamirError::NotEnough);
    }
    Sharks(threshold)
        .recover(parsed.iter())
        .map(SecretBytes::new)
        .map_err(|_| ShamirError::NotEnough)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_threshold_subset_recovers() {
        let secret = [42u8; 32];
        let shares = split(&secret, 5, 3).unwrap();
        assert_eq!(shares.len(), 5);
        assert!(shares.iter().all(|s| s.len() == 33));
        for combo in [[0, 1, 2], [4, 2, 0], [1, 3, 4]] {
            let pick: Vec<_> = combo.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(combine(&pick, 3).unwrap().expose(), &secret);
        }
    }

    #[test]
    fn too_few_or_foreign_shares_do_not_recover() {
        let secret = [7u8; 32];
        let shares = split(&secret, 5, 3).unwrap();
        assert_eq!(
            combine(&shares[..2], 3).unwrap_err(),
            ShamirError::NotEnough
        );
        let other = split(&[9u8; 32], 5, 3).unwrap();
        let mixed = vec![shares[0].clone(), shares[1].clone(), other[2].clone()];
        assert_ne!(combine(&mixed, 3).unwrap().expose(), &secret);
        let dup = vec![shares[0].clone(), shares[0].clone(), shares[1].clone()];
        assert_eq!(combine(&dup, 3).unwrap_err(), ShamirError::Duplicate);
        let short = vec![shares[0].clone(), SecretBytes::new(vec![1, 2, 3])];
        assert_eq!(combine(&short, 2).unwrap_err(), ShamirError::LengthMismatch);
    }

    #[test]
    fn one_share_is_enough_when_threshold_is_one() {
        let shares = split(&[1u8; 32], 1, 1).unwrap();
        assert_eq!(combine(&shares, 1).unwrap().expose(), &[1u8; 32]);
        assert!(split(&[1u8; 32], 2, 3).is_err());
        assert!(split(&[1u8; 32], 2, 0).is_err());
    }
}

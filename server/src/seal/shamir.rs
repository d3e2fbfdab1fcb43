//! Shamir's secret sharing over GF(2^8), wrapped around the `blahaj` crate
//! so it can be replaced without touching the callers. `blahaj` is the
//! maintained fork of `sharks`, which Arca used before: same field
//! (x^8 + x^4 + x^3 + x^2 + 1) and share layout, so shares made by older
//! servers still combine (tested below), without RUSTSEC-2024-0398 (sharks
//! drew coefficients from 1..=255, never 0, which leaks a little about the
//! secret).
//!
//! A share is encoded the way Vault encodes it: the y bytes followed by the
//! one-byte x coordinate, so a 32-byte root key gives 33-byte shares.

use blahaj::{Share, Sharks};
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
            // blahaj encodes x || y; turn it into Vault's y || x.
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

    /// Shares made by the `sharks` code this module used before (5 of 3,
    /// printed by it), so servers initialized then still unseal.
    #[test]
    fn shares_made_by_the_old_code_still_combine() {
        let secret =
            hex::decode("0b30557a9fc4e90e33587da2c7ec11365b80a5caef14395e83a8cdf2173c6186")
                .unwrap();
        let shares: Vec<SecretBytes> = [
            "3be61a5092bed51eae3f217025d5fe9f727625f6510f88445ae252fb91d44eb701",
            "b606b88c8471c7e5b582f766e144fb01d1aafa3d1cd9102971e12bc7140c1d0f02",
            "86d0f7a6890bfbf528e5abb4037d14a8f85c7a01a2c2a133a8abb4ce92e4323e03",
            "3f7a4339adaaf0ce9ca1bcde50ee7ca5159f0e3f66582ea113692f04598f110204",
            "0fac0c13a0d0ccde01c6e00cb2d7930c3c698e03d8439fbbca23b00ddf673e3305",
        ]
        .iter()
        .map(|h| SecretBytes::new(hex::decode(h).unwrap()))
        .collect();
        for combo in [[0, 1, 2], [4, 3, 1], [0, 2, 4], [1, 2, 3]] {
            let pick: Vec<_> = combo.iter().map(|&i| shares[i].clone()).collect();
            assert_eq!(
                combine(&pick, 3).unwrap().expose(),
                secret.as_slice(),
                "{combo:?}"
            );
        }
        // And new shares of the same secret combine with the old ones'
        // recovery, as they must for a rekey to keep working.
        let new = split(&secret, 5, 3).unwrap();
        assert_eq!(combine(&new[2..], 3).unwrap().expose(), secret.as_slice());
    }

    /// The flaw of RUSTSEC-2024-0398: coefficients were never 0, so for a
    /// one-byte secret and threshold 2, share y = s + a*x with a != 0 could
    /// never equal s. Over many splits, fresh shares take every value.
    #[test]
    fn coefficients_can_be_zero() {
        let mut hit_secret = false;
        for _ in 0..4096 {
            let shares = split(&[0x5a], 2, 2).unwrap();
            if shares[0].expose()[0] == 0x5a {
                hit_secret = true;
                break;
            }
        }
        assert!(
            hit_secret,
            "a share never equalled the secret: coefficients avoid 0"
        );
    }

    #[test]
    fn one_share_is_enough_when_threshold_is_one() {
        let shares = split(&[1u8; 32], 1, 1).unwrap();
        assert_eq!(combine(&shares, 1).unwrap().expose(), &[1u8; 32]);
        assert!(split(&[1u8; 32], 2, 3).is_err());
        assert!(split(&[1u8; 32], 2, 0).is_err());
    }
}

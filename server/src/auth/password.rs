//! Password hashing for userpass: Argon2id (19 MiB, 2 passes, 1 lane) in
//! PHC string form. Each hash takes tens of milliseconds and 19 MiB, so
//! hashes run on a small pool of dedicated threads (one per core), each
//! reusing one block buffer, zeroized after every hash: the memory a
//! burst of logins needs is bounded by the pool, where fresh allocations
//! on arbitrary blocking threads left hundreds of MiB in the allocator's
//! per-thread arenas. The pool also bounds CPU: a flood of logins queues
//! instead of starving every other request.
//!
//! Verifying an unknown user's password runs the same work against a fixed
//! dummy hash, so timing does not tell whether a user exists.

use std::sync::mpsc;
use std::sync::{Arc, LazyLock, Mutex};

use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use subtle::ConstantTimeEq;
use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::secret::SecretString;

const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT_LEN: usize = 32;

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing threads, started on first use.
static POOL: LazyLock<Mutex<mpsc::Sender<Job>>> = LazyLock::new(|| {
    let (tx, rx) = mpsc::channel::<Job>();
    let rx = Arc::new(Mutex::new(rx));
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    for i in 0..n {
        let rx = Arc::clone(&rx);
        // A thread that cannot start leaves the others to do the work.
        let _ = std::thread::Builder::new()
            .name(format!("arca-password-{i}"))
            .spawn(move || {
                let mut memory: Vec<Block> = Vec::new();
                loop {
                    let job = match rx.lock() {
                        Ok(r) => r.recv(),
                        Err(poisoned) => poisoned.into_inner().recv(),
                    };
                    match job {
                        Ok(job) => job(&mut memory),
                        Err(_) => return,
                    }
                }
            });
    }
    Mutex::new(tx)
});

fn params() -> Result<Params> {
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).map_err(Error::internal)
}

/// Runs one Argon2id computation on the pool.
async fn compute(password: SecretString, salt: Vec<u8>, params: Params) -> Result<Vec<u8>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move |memory: &mut Vec<Block>| {
        let blocks = params.block_count();
        if memory.len() != blocks {
            memory.zeroize();
            *memory = vec![Block::default(); blocks];
        }
        let mut out = vec![0u8; params.output_len().unwrap_or(OUTPUT_LEN)];
        let r = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(
                password.expose().as_bytes(),
                &salt,
                &mut out,
                memory.as_mut_slice(),
            )
            .map(|()| out)
            .map_err(Error::internal);
        for b in memory.iter_mut() {
            b.zeroize();
        }
        let _ = tx.send(r);
    });
    POOL.lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(job)
        .map_err(|_| Error::internal("the password hashing threads are gone"))?;
    rx.await
        .map_err(|_| Error::internal("a password hashing thread stopped"))?
}

fn phc(salt: &SaltString, hash: &[u8]) -> String {
    format!(
        "$argon2id$v=19$m={M_COST_KIB},t={T_COST},p={P_COST}${}${}",
        salt.as_str(),
        B64.encode(hash)
    )
}

/// A hash of a password nobody has, verified in place of a missing user's.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    phc(
        &SaltString::from_b64("YXJjYWR1bW15c2FsdA")
            .unwrap_or_else(|_| SaltString::generate(&mut rand::rngs::OsRng)),
        &[0u8; OUTPUT_LEN],
    )
});

/// The PHC string of a new password.
pub async fn hash(password: SecretString) -> Result<String> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    let mut raw = [0u8; 64];
    let decoded = salt.decode_b64(&mut raw).map_err(Error::internal)?.to_vec();
    let out = compute(password, decoded, params()?).await?;
    Ok(phc(&salt, &out))
}

/// Whether `password` matches `stored` (None: no such user; the same work
/// is done and the answer is no). The comparison is constant-time.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool> {
    let exists = stored.is_some();
    let phc_string = stored.unwrap_or_else(|| DUMMY.clone());
    let Ok(parsed) = PasswordHash::new(&phc_string) else {
        return Ok(false);
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return Ok(false);
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return Ok(false);
    };
    if parsed.algorithm.as_str() != "argon2id" {
        return Ok(false);
    }
    let mut raw = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut raw) else {
        return Ok(false);
    };
    let params = Params::new(
        params.m_cost(),
        params.t_cost(),
        params.p_cost(),
        Some(expected.len()),
    )
    .map_err(Error::internal)?;
    let out = compute(password, salt.to_vec(), params).await?;
    let ok: bool = out.ct_eq(expected.as_bytes()).into();
    Ok(ok && exists)
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[tokio::test]
    async fn hashes_verify_and_missing_users_fail() {
        let h = hash(SecretString::from("pw-1")).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(!h.contains("pw-1"));
        assert!(
            verify(SecretString::from("pw-1"), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(
            !verify(SecretString::from("pw-2"), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify(SecretString::from("x"), None).await.unwrap());
        assert!(
            !verify(SecretString::from("x"), Some("garbage".into()))
                .await
                .unwrap()
        );
        // The PHC string is standard: the argon2 crate's own verifier agrees.
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(Argon2::default().verify_password(b"pw-1", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"pw-2", &parsed).is_err());
    }
}

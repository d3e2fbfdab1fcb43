//! Password hashing for userpass: Argon2id in PHC string form, run off the
//! async workers and a few at a time (each hash takes tens of
//! milliseconds and ~19 MiB, so unbounded concurrency would be a memory
//! and CPU denial of service). Verifying an unknown user's password runs
//! the same work against a fixed dummy hash, so timing does not tell
//! whether a user exists.

use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::{Error, Result};
use crate::secret::SecretString;

/// OWASP's Argon2id baseline: 19 MiB, 2 passes, 1 lane.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;

/// Hashes in flight at once.
static PERMITS: LazyLock<Arc<tokio::sync::Semaphore>> = LazyLock::new(|| {
    let n = std::thread::available_parallelism().map_or(2, |n| n.get());
    Arc::new(tokio::sync::Semaphore::new(n))
});

fn argon2() -> Argon2<'static> {
    // These constants are valid Argon2 parameters; default() is only the
    // unreachable fallback that keeps this total.
    let params = Params::new(M_COST_KIB, T_COST, P_COST, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A hash of a password nobody has, verified in place of a missing user's.
static DUMMY: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2()
        .hash_password(b"arca-dummy-password-for-constant-time", &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
});

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    let _permit = PERMITS
        .clone()
        .acquire_owned()
        .await
        .map_err(Error::internal)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(Error::internal)
}

/// The PHC string of a new password.
pub async fn hash(password: SecretString) -> Result<String> {
    blocking(move || {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        argon2()
            .hash_password(password.expose().as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(Error::internal)
    })
    .await?
}

/// Whether `password` matches `stored` (None: no such user; the same work
/// is done and the answer is no). The comparison inside is constant-time.
pub async fn verify(password: SecretString, stored: Option<String>) -> Result<bool> {
    let exists = stored.is_some();
    let phc = stored.unwrap_or_else(|| DUMMY.clone());
    let ok = blocking(move || {
        PasswordHash::new(&phc)
            .map(|h| {
                argon2()
                    .verify_password(password.expose().as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await?;
    Ok(ok && exists)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_missing_users_fail() {
        let h = hash(SecretString::from("pw-1")).await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(!h.contains("pw-1"));
        assert!(
            verify(SecretString::from("pw-1"), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify(SecretString::from("pw-2"), Some(h)).await.unwrap());
        assert!(
            !verify(
                SecretString::from("arca-dummy-password-for-constant-time"),
                None
            )
            .await
            .unwrap()
        );
        assert!(
            !verify(SecretString::from("x"), Some("garbage".into()))
                .await
                .unwrap()
        );
    }
}

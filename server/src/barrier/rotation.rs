//! Automatic rotation of the keyring (`sys/rotate/config`): a term is
//! retired after `max_operations` encryptions (by default Vault's
//! 2^32 × 0.9, the bound for AES-GCM with random nonces) or, if set, after
//! `interval`. One task per unsealed server stores the active term's
//! encryption count as it grows (keyring.rs) and rotates when a term is
//! due; it wakes when the barrier asks, when the config changes, and
//! hourly (for `interval`, and to store a count that grew slowly).

use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio::sync::{Notify, watch};

use super::{Barrier, Result, Upkeep};
use crate::clock::Clock;

/// Where the config is kept, through the barrier.
const CONFIG_PATH: &str = "core/keyring-rotation-config";
/// Vault's default and upper bound for `max_operations` (2^32 × 0.9).
pub const MAX_OPERATIONS: u64 = 3_865_470_566;
/// Vault's lower bound for `max_operations`.
pub const MIN_OPERATIONS: u64 = 1_000_000;
/// Vault's lower bound for a non-zero `interval`.
pub const MIN_INTERVAL: Duration = Duration::from_secs(24 * 3600);
/// How often the task looks at the clock for `interval`.
const CHECK_EVERY: Duration = Duration::from_secs(3600);
/// Pause after a failed upkeep (storage down) before trying again.
const RETRY_AFTER: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Config {
    pub enabled: bool,
    pub max_operations: u64,
    /// 0: no time-based rotation.
    pub interval_secs: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            enabled: true,
            max_operations: MAX_OPERATIONS,
            interval_secs: 0,
        }
    }
}

impl Config {
    /// Whether a term with this many encryptions, installed then, is due.
    pub fn due(&self, encryptions: u64, installed: OffsetDateTime, now: OffsetDateTime) -> bool {
        if !self.enabled {
            return false;
        }
        let aged = self.interval_secs > 0
            && i64::try_from(self.interval_secs)
                .is_ok_and(|s| now.unix_timestamp() - installed.unix_timestamp() >= s);
        encryptions >= self.max_operations || aged
    }
}

/// The config and the task that applies it.
pub struct AutoRotation {
    barrier: Arc<Barrier>,
    clock: Clock,
    config: RwLock<Config>,
    changed: Notify,
}

impl AutoRotation {
    /// Reads the stored config (Vault's defaults if none). New terms are
    /// installed at `clock`'s time, which `interval` is measured by.
    pub async fn load(barrier: Arc<Barrier>, clock: Clock) -> Result<Arc<Self>> {
        let config = match barrier.get(CONFIG_PATH).await? {
            Some(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::error!(error = %e, "keyring rotation config is unreadable; using the defaults");
                Config::default()
            }),
            None => Config::default(),
        };
        Ok(Arc::new(Self {
            barrier,
            clock,
            config: RwLock::new(config),
            changed: Notify::new(),
        }))
    }

    pub fn config(&self) -> Config {
        *self.config.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores a new config (checked by the caller) and applies it.
    pub async fn set(&self, config: Config) -> Result<()> {
        self.barrier
            .put(CONFIG_PATH, &super::view::to_json(&config))
            .await?;
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = config;
        self.changed.notify_one();
        Ok(())
    }

    /// `sys/rotate`: a new term now.
    pub async fn rotate(&self) -> Result<super::KeyStatus> {
        self.barrier.rotate(self.now()).await
    }

    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::from(self.clock.now())
    }

    /// Runs until `stop` turns true (the server seals).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        let mut flush = false;
        loop {
            let now = self.now();
            let pause = match self.barrier.upkeep(&self.config(), now, flush).await {
                Ok(Upkeep::Rotated(term)) => {
                    tracing::info!(term, "keyring rotated automatically");
                    Duration::ZERO
                }
                Ok(_) => Duration::ZERO,
                Err(e) => {
                    tracing::warn!(error = %e, "keyring upkeep failed; retrying");
                    RETRY_AFTER
                }
            };
            if !pause.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(pause) => {}
                    _ = stop.changed() => return,
                }
            }
            flush = false;
            tokio::select! {
                _ = self.barrier.upkeep_wanted() => {}
                _ = self.changed.notified() => {}
                _ = tokio::time::sleep(CHECK_EVERY) => flush = true,
                _ = stop.changed() => return,
            }
            if *stop.borrow() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_by_count_or_age_when_enabled() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let day = time::Duration::days(1);
        let c = Config {
            enabled: true,
            max_operations: MIN_OPERATIONS,
            interval_secs: 24 * 3600,
        };
        assert!(!c.due(
            MIN_OPERATIONS - 1,
            t0,
            t0 + day - time::Duration::seconds(1)
        ));
        assert!(c.due(MIN_OPERATIONS, t0, t0));
        assert!(c.due(0, t0, t0 + day));
        let off = Config {
            enabled: false,
            ..c
        };
        assert!(!off.due(u64::MAX, t0, t0 + day * 30));
        assert!(!Config::default().due(MAX_OPERATIONS - 1, t0, t0 + day * 3650));
        assert!(Config::default().due(MAX_OPERATIONS, t0, t0));
    }
}

//! Dropping expired secret-ids. They are refused (and dropped) as soon as
//! they are touched, so tidying is only about storage: `tidy/secret-id`
//! starts a pass in the background (Vault's 202 and warning), and every
//! mount runs one a minute, as Vault's periodic function does. At most one
//! pass runs at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::Result;
use crate::logical::Response;

use super::Inner;

/// How often a mount tidies on its own.
const TIDY_EVERY: Duration = Duration::from_secs(60);

/// Clears the running flag however the pass ends.
struct Running<'a>(&'a AtomicBool);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn claim(flag: &AtomicBool) -> bool {
    flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
}

/// One pass over every role's secret-ids; returns how many were dropped.
async fn pass(inner: &Inner) -> Result<usize> {
    let store = &inner.store;
    let now = inner.clock.now_nanos();
    let mut dropped = 0;
    for role_hmac in store.role_hmacs().await? {
        for secret_hmac in store.secret_hmacs(&role_hmac).await? {
            let _guard = store.secret_lock(&secret_hmac).lock().await;
            if let Some(e) = store.secret(&role_hmac, &secret_hmac).await? {
                if e.expired(now) {
                    store.delete_secret(&role_hmac, &e).await?;
                    dropped += 1;
                }
            }
        }
    }
    Ok(dropped)
}

/// Runs a pass already claimed with `claim`.
async fn run_claimed(inner: &Inner) {
    let _running = Running(&inner.tidying);
    match pass(inner).await {
        Ok(dropped) => tracing::debug!(dropped, "approle: tidied expired secret-ids"),
        Err(e) => tracing::warn!(error = %e, "approle: tidying secret-ids failed"),
    }
}

/// `tidy/secret-id`.
pub(super) fn start(inner: &Arc<Inner>) -> Result<Response> {
    if !claim(&inner.tidying) {
        return Ok(Response::empty().with_warning("Tidy operation already in progress."));
    }
    let inner = Arc::clone(inner);
    tokio::spawn(async move { run_claimed(&inner).await });
    let mut resp = Response::empty().with_warning(
        "Tidy operation successfully started. Any information from the operation will be printed to Arca's server logs.",
    );
    resp.status = Some(202);
    Ok(resp)
}

/// Tidies every minute while the mount exists: the task holds the method
/// weakly and ends once the method is dropped (unmounted, sealed).
pub(super) fn schedule(inner: &Arc<Inner>) {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let weak = Arc::downgrade(inner);
    runtime.spawn(async move {
        let mut tick = tokio::time::interval(TIDY_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The first tick is immediate; a fresh mount has nothing to tidy.
        tick.tick().await;
        loop {
            tick.tick().await;
            let Some(inner) = weak.upgrade() else {
                break;
            };
            if claim(&inner.tidying) {
                run_claimed(&inner).await;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pass_at_a_time() {
        let flag = AtomicBool::new(false);
        assert!(claim(&flag));
        assert!(!claim(&flag));
        drop(Running(&flag));
        assert!(claim(&flag));
    }
}

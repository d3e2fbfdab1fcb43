//! The expiration manager: every deadline in the server, and the one task
//! that acts on them. A service token's expiry is registered here by the
//! token store (which keeps the deadline in the token's entry, so it is
//! rebuilt from storage at unseal), and every lease of a secret by the
//! lease store (leases.rs).
//!
//! The index is ordered by deadline, with a map from each target back to
//! its deadline, so setting, moving and dropping a deadline are O(log n)
//! however many there are. One task sleeps until the earliest deadline,
//! woken early when a sooner one arrives (or the manual test clock moves),
//! and hands what is due to the `Revoker`. A revocation that fails is
//! tried again later, with backoff, and never forgotten.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub mod leases;

use async_trait::async_trait;
use tokio::sync::{Notify, watch};

use crate::clock::Clock;
use crate::error::Result;

/// The task looks again at least this often, in case the wall clock jumps.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// A failed revocation is tried again after this, doubling each time...
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// ...up to this.
const MAX_RETRY: Duration = Duration::from_secs(5 * 60);
/// Revocations handed out per pass: a burst of expirations is worked off
/// in slices, so the index lock is never held for long.
const BATCH: usize = 256;

/// What a deadline belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Target {
    /// A service token, by the hash the token store keeps it under.
    Token(Arc<str>),
    /// A secret's lease, by its id (see `LeaseKey`).
    Lease(LeaseKey),
}

/// A lease id as the indexes hold it, without an allocation of its own
/// (a million leases are a million of these, three times over): the path
/// it was issued on, interned by the lease store, and its random part
/// inline. `leases::Leases::key` and `id` convert.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseKey {
    /// The interned path (or, for an id not of the usual shape, the whole
    /// id, with `rand` all zero).
    pub(crate) path: u32,
    pub(crate) rand: [u8; leases::ID_LEN],
}

/// Ends what a deadline belongs to.
#[async_trait]
pub trait Revoker: Send + Sync {
    async fn revoke(&self, target: &Target) -> Result<()>;
}

impl std::fmt::Debug for LeaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rand: String = self.rand.iter().map(|&b| char::from(b)).collect();
        write!(f, "LeaseKey(path #{}, {rand:?})", self.path)
    }
}

/// Deadlines (Unix nanoseconds), both ways round.
#[derive(Default)]
struct Index {
    by_time: BTreeSet<(i64, Target)>,
    /// A B-tree rather than a hash map: no power-of-two slack (a million
    /// entries would cost twice their size), and a restore builds it in
    /// one pass from sorted entries.
    by_target: BTreeMap<Target, i64>,
    /// Failed revocations: how long to wait before the next try.
    backoff: HashMap<Target, Duration, Hasher>,
}

/// Targets are random ids (lease ids, hashes of random tokens), not
/// chosen by a client: a fast seeded hash serves.
type Hasher = foldhash::fast::RandomState;

impl Index {
    /// Sets (or with None drops) `target`'s deadline; true when it is now
    /// the earliest.
    fn set(&mut self, target: Target, deadline: Option<i64>) -> bool {
        self.set_reporting(target, deadline).0
    }

    /// `set`, also telling whether `target` had a deadline before.
    fn set_reporting(&mut self, target: Target, deadline: Option<i64>) -> (bool, bool) {
        let Some(at) = deadline else {
            let had = match self.by_target.remove(&target) {
                Some(old) => {
                    self.by_time.remove(&(old, target.clone()));
                    true
                }
                None => false,
            };
            self.backoff.remove(&target);
            return (false, had);
        };
        let had = match self.by_target.insert(target.clone(), at) {
            Some(old) if old == at => return (false, true),
            Some(old) => {
                self.by_time.remove(&(old, target.clone()));
                true
            }
            None => false,
        };
        let sooner = self.by_time.first().is_none_or(|(first, _)| at < *first);
        self.by_time.insert((at, target));
        (sooner, had)
    }

    /// Sets many deadlines; true when the earliest moved sooner. The new
    /// entries are sorted and merged into the time index in one pass
    /// rather than inserted one by one (a restore of a million leases).
    fn set_all(&mut self, mut fresh: Vec<(Target, i64)>) -> bool {
        // By target; of a target given twice, the last deadline stays (the
        // sort is stable, so it is the last of its run).
        fresh.sort_by(|a, b| a.0.cmp(&b.0));
        // In place: of a run, the first is kept and takes the last's time.
        fresh.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                kept.1 = later.1;
            }
            same
        });
        let kept = fresh;
        // What was there before for these targets goes.
        if !self.by_target.is_empty() {
            for (target, _) in &kept {
                if let Some(old) = self.by_target.remove(target) {
                    self.by_time.remove(&(old, target.clone()));
                }
            }
        }
        let mut by_target: BTreeMap<Target, i64> = kept.iter().cloned().collect();
        self.by_target.append(&mut by_target);
        let mut times: Vec<(i64, Target)> = kept.into_iter().map(|(t, at)| (at, t)).collect();
        times.sort_unstable();
        let Some((earliest, _)) = times.first() else {
            return false;
        };
        let sooner = self
            .by_time
            .first()
            .is_none_or(|(first, _)| earliest < first);
        let mut merged: BTreeSet<(i64, Target)> = times.into_iter().collect();
        self.by_time.append(&mut merged);
        sooner
    }

    /// Up to `BATCH` targets due at `now`, earliest first.
    fn due(&self, now: i64) -> Vec<Target> {
        self.by_time
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(BATCH)
            .map(|(_, t)| t.clone())
            .collect()
    }
}

pub struct Expiration {
    clock: Clock,
    index: Mutex<Index>,
    wake: Notify,
    /// Revocations done (`revoke_due`), and failed attempts.
    revoked: std::sync::atomic::AtomicU64,
    failed: std::sync::atomic::AtomicU64,
}

/// What `sys/metrics` reports of the expiration manager.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// Deadlines held (tokens and leases).
    pub deadlines: usize,
    /// Revocations done since start.
    pub revoked: u64,
    /// Failed revocation attempts since start.
    pub failed: u64,
    /// Targets whose revocation failed and waits for a retry now.
    pub retrying: usize,
}

impl Expiration {
    pub fn new(clock: Clock) -> Arc<Self> {
        Arc::new(Self {
            clock,
            index: Mutex::new(Index::default()),
            wake: Notify::new(),
            revoked: std::sync::atomic::AtomicU64::new(0),
            failed: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Index> {
        // Poisoned only by a panic between two collection operations of
        // `set`; at worst a deadline is missing until it is set again.
        self.index.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets `target`'s deadline (Unix nanoseconds), or drops it with None.
    /// Returns whether `target` had a deadline before.
    pub fn set(&self, target: Target, deadline: Option<i64>) -> bool {
        let (sooner, had) = self.lock().set_reporting(target, deadline);
        if sooner {
            self.wake.notify_one();
        }
        had
    }

    /// Sets many deadlines at once (a restore), taking the lock once.
    pub fn set_all(&self, deadlines: Vec<(Target, i64)>) {
        if self.lock().set_all(deadlines) {
            self.wake.notify_one();
        }
    }

    /// The deadline of `target`, if it has one.
    pub fn deadline(&self, target: &Target) -> Option<i64> {
        self.lock().by_target.get(target).copied()
    }

    pub fn stats(&self) -> Stats {
        use std::sync::atomic::Ordering::Relaxed;
        let index = self.lock();
        Stats {
            deadlines: index.by_target.len(),
            revoked: self.revoked.load(Relaxed),
            failed: self.failed.load(Relaxed),
            retrying: index.backoff.len(),
        }
    }

    /// How many deadlines are held.
    pub fn len(&self) -> usize {
        self.lock().by_target.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Something is past its deadline and was noticed before the task got
    /// to it: look now.
    pub fn poke(&self) {
        self.wake.notify_one();
    }

    fn next_deadline(&self) -> Option<i64> {
        self.lock().by_time.first().map(|(at, _)| *at)
    }

    /// Hands every target due now to `revoker`; a target revoked is
    /// dropped from the index, one that failed is tried again later.
    /// Returns how many were revoked.
    pub async fn revoke_due(&self, revoker: &dyn Revoker) -> usize {
        let mut revoked = 0;
        loop {
            let now = self.clock.now_nanos();
            let due = self.lock().due(now);
            if due.is_empty() {
                return revoked;
            }
            for target in due {
                match revoker.revoke(&target).await {
                    Ok(()) => {
                        self.revoked
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // Unless it was given a new deadline meanwhile.
                        let mut idx = self.lock();
                        if idx.by_target.get(&target).is_some_and(|at| *at <= now) {
                            idx.set(target, None);
                        }
                        revoked += 1;
                    }
                    Err(e) => {
                        self.failed
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tracing::warn!(target = ?target, error = %e, "revocation failed; will retry");
                        let mut idx = self.lock();
                        let wait = idx
                            .backoff
                            .get(&target)
                            .map_or(FIRST_RETRY, |w| (*w * 2).min(MAX_RETRY));
                        idx.backoff.insert(target.clone(), wait);
                        let retry = now
                            .saturating_add(i64::try_from(wait.as_nanos()).unwrap_or(i64::MAX / 2));
                        idx.set(target, Some(retry));
                    }
                }
            }
        }
    }

    /// Runs until `stop` turns true: revokes what is due, then sleeps
    /// until the next deadline.
    pub async fn run(self: Arc<Self>, revoker: Arc<dyn Revoker>, mut stop: watch::Receiver<bool>) {
        let mut moved = self.clock.moved();
        loop {
            if *stop.borrow() {
                return;
            }
            self.revoke_due(revoker.as_ref()).await;
            let wait = match self.next_deadline() {
                Some(at) => {
                    let now = self.clock.now_nanos();
                    Duration::from_nanos(u64::try_from(at.saturating_sub(now)).unwrap_or(0))
                        .min(MAX_SLEEP)
                }
                None => MAX_SLEEP,
            };
            let clock_moved = async {
                match moved.as_mut() {
                    Some(rx) => {
                        let _ = rx.changed().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.wake.notified() => {}
                _ = clock_moved => {}
                _ = stop.changed() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    use crate::error::Error;

    fn token(s: &str) -> Target {
        Target::Token(Arc::from(s))
    }

    #[test]
    fn set_all_merges_with_what_is_there_and_keeps_the_last_of_a_repeat() {
        let mut idx = Index::default();
        assert!(idx.set(token("a"), Some(50)));
        assert!(!idx.set(token("b"), Some(60)));
        // b moves, c arrives twice (the last wins), d is new and earliest.
        let sooner = idx.set_all(vec![
            (token("b"), 70),
            (token("c"), 10),
            (token("d"), 5),
            (token("c"), 80),
        ]);
        assert!(sooner);
        let by_time: Vec<(i64, Target)> = idx.by_time.iter().cloned().collect();
        assert_eq!(
            by_time,
            [
                (5, token("d")),
                (50, token("a")),
                (70, token("b")),
                (80, token("c"))
            ]
        );
        assert_eq!(idx.by_target.len(), 4);
        assert_eq!(idx.by_target[&token("c")], 80);
        // Later deadlines only: the earliest did not move.
        assert!(!idx.set_all(vec![(token("e"), 100)]));
        assert!(!idx.set_all(Vec::new()));
        assert_eq!(idx.due(60).len(), 2);
    }

    /// Records what it revoked; fails for the targets in `broken`.
    #[derive(Default)]
    struct Recorder {
        revoked: Mutex<Vec<Target>>,
        broken: Mutex<Vec<Target>>,
    }

    #[async_trait]
    impl Revoker for Recorder {
        async fn revoke(&self, target: &Target) -> Result<()> {
            if self.broken.lock().unwrap().contains(target) {
                return Err(Error::internal("database down"));
            }
            self.revoked.lock().unwrap().push(target.clone());
            Ok(())
        }
    }

    const S: i64 = 1_000_000_000;

    #[tokio::test]
    async fn due_targets_are_revoked_in_order_and_dropped() {
        let clock = Clock::manual(SystemTime::now());
        let e = Expiration::new(clock.clone());
        let now = clock.now_nanos();
        e.set(token("b"), Some(now + 20 * S));
        e.set(token("a"), Some(now + 10 * S));
        e.set(token("c"), Some(now + 30 * S));
        e.set(token("c"), None);
        e.set(token("a"), Some(now + 5 * S));
        assert_eq!(e.len(), 2);
        let r = Recorder::default();
        assert_eq!(e.revoke_due(&r).await, 0);
        clock.advance(Duration::from_secs(25));
        assert_eq!(e.revoke_due(&r).await, 2);
        assert_eq!(*r.revoked.lock().unwrap(), [token("a"), token("b")]);
        assert!(e.is_empty());
    }

    #[tokio::test]
    async fn a_failed_revocation_is_retried_with_backoff_until_it_works() {
        let clock = Clock::manual(SystemTime::now());
        let e = Expiration::new(clock.clone());
        let now = clock.now_nanos();
        e.set(token("x"), Some(now));
        let r = Recorder::default();
        r.broken.lock().unwrap().push(token("x"));
        assert_eq!(e.revoke_due(&r).await, 0);
        assert_eq!(
            e.deadline(&token("x")),
            Some(now + S),
            "retried in a second"
        );
        clock.advance(Duration::from_secs(1));
        e.revoke_due(&r).await;
        assert_eq!(e.deadline(&token("x")), Some(now + 3 * S), "then in two");
        r.broken.lock().unwrap().clear();
        clock.advance(Duration::from_secs(2));
        assert_eq!(e.revoke_due(&r).await, 1);
        assert!(e.is_empty());
    }

    #[tokio::test]
    async fn the_task_wakes_for_a_sooner_deadline_and_for_the_clock() {
        let clock = Clock::manual(SystemTime::now());
        let e = Expiration::new(clock.clone());
        let r = Arc::new(Recorder::default());
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(Arc::clone(&e).run(r.clone(), stop_rx));
        let now = clock.now_nanos();
        e.set(token("soon"), Some(now + 60 * S));
        clock.advance(Duration::from_secs(61));
        for _ in 0..200 {
            if !r.revoked.lock().unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        assert_eq!(*r.revoked.lock().unwrap(), [token("soon")]);
        stop.send_replace(true);
        task.await.unwrap();
    }

    #[test]
    fn the_two_views_of_the_index_stay_in_step() {
        let mut idx = Index::default();
        let n = 200_000i64;
        let targets: Vec<Target> = (0..n).map(|i| token(&format!("{i:064x}"))).collect();
        for (i, t) in targets.iter().enumerate() {
            idx.set(t.clone(), Some(i as i64));
        }
        // Drop every other one of the first half, move the rest past the end.
        for (i, t) in targets.iter().enumerate().take(100_000) {
            idx.set(
                t.clone(),
                if i % 2 == 0 { None } else { Some(n + i as i64) },
            );
        }
        assert_eq!(idx.by_target.len(), 150_000);
        assert_eq!(idx.by_time.len(), 150_000);
        assert!(idx.due(99_999).is_empty());
        assert_eq!(idx.due(100_000), [targets[100_000].clone()]);
        assert_eq!(idx.due(n).len(), BATCH);
        assert_eq!(idx.by_target[&targets[1]], n + 1);
    }
}

//! Leases: what a secret engine handed out with a lifetime (a database
//! user, a RabbitMQ user), kept through the barrier under
//! `sys/expire/id/<lease id>` until it is revoked, with what the engine
//! needs to revoke it. Lease ids are Vault's: the request path, then a
//! random id (`database/creds/app/4rvPxEYmcXGjX7gL2HqwTsMN`).
//!
//! Every lease's deadline is registered with the expiration manager
//! (`Target::Lease`); at unseal the stored leases are read back and
//! registered again, so a lease that ran out while the server was down is
//! revoked right away. Leases are also indexed by the token that created
//! them, in memory, so revoking a token revokes its leases.

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Expiration, LeaseKey, Target};
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// Under the system view: `expire/id/<lease id>` -> LeaseEntry.
const ID_PREFIX: &str = "expire/id/";
/// Length of the random part of a lease id (base62), as Vault's.
pub(crate) const ID_LEN: usize = 24;

/// A lease as stored. `internal` is the engine's own data about the secret
/// (a username to drop); the secret itself (a password) is not kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseEntry {
    pub lease_id: String,
    /// The request path that created it.
    pub path: String,
    /// The mount that issued it (leases outlive renames of nothing but
    /// survive restarts, so the accessor, not the path, finds it).
    pub mount_accessor: String,
    /// Hash of the token that created it; empty for none.
    #[serde(default)]
    pub token_hash: String,
    #[serde(default)]
    pub internal: Map<String, Value>,
    /// Unix nanoseconds.
    pub issue_time: i64,
    pub expire_time: i64,
    #[serde(default)]
    pub last_renewal: Option<i64>,
    pub renewable: bool,
    /// The TTL it was granted, in seconds: what a renewal without an
    /// increment extends it by.
    #[serde(default)]
    pub ttl: u64,
    /// The role's max TTL in seconds when it set one (0: the mount's).
    #[serde(default)]
    pub max_ttl: u64,
}

/// What restoring a lease at unseal reads of it (borrowed from the
/// stored JSON where it can be).
#[derive(Deserialize)]
struct LeaseHead<'a> {
    #[serde(borrow)]
    lease_id: Cow<'a, str>,
    #[serde(borrow, default)]
    token_hash: Cow<'a, str>,
    expire_time: i64,
}

/// A page of leases read back, as the indexes take it: decoded and
/// grouped by the decoding task, so that the one task that fills the
/// indexes only merges.
#[derive(Default)]
struct Restored {
    /// Token hash -> the page's leases it created.
    by_token: Vec<(String, Vec<LeaseKey>)>,
    /// Interned path -> the page's leases under it.
    counts: Vec<(u32, u64)>,
    deadlines: Vec<(Target, i64)>,
}

/// Leases read back per storage read at unseal...
const LOAD_PAGE: usize = 4096;
/// ...and pages being decoded at once.
const DECODING: usize = 3;

/// What the lease endpoints need of the mounts behind leases (core's
/// revocations.rs provides it).
#[async_trait::async_trait]
pub trait Issuers: Send + Sync {
    /// Undoes the lease's secret through the mount that issued it, then
    /// forgets the lease; a lease that is gone is not an error.
    async fn revoke_lease(&self, lease_id: &str) -> Result<()>;

    /// Asks the issuing mount to let the secret live `ttl` more (a
    /// database moves its expiry).
    async fn renew_secret(&self, lease: &LeaseEntry, ttl: Duration) -> Result<()>;

    /// The default and max TTL of the mount that issued a lease, if it is
    /// still there.
    fn mount_ttls(&self, lease: &LeaseEntry) -> Option<(Duration, Duration)>;
}

impl LeaseEntry {
    /// Seconds left (0 once past).
    pub fn ttl_remaining(&self, now_nanos: i64) -> u64 {
        u64::try_from(self.expire_time.saturating_sub(now_nanos) / 1_000_000_000).unwrap_or(0)
    }
}

/// A lease to register: what the engine said, settled by the core.
pub struct NewLease {
    pub path: String,
    pub mount_accessor: String,
    pub token_hash: String,
    pub internal: Map<String, Value>,
    pub ttl: Duration,
    pub renewable: bool,
    pub max_ttl: Duration,
}

pub struct Leases {
    view: View,
    clock: Clock,
    expiration: Arc<Expiration>,
    /// Token hash -> the leases it created.
    by_token: RwLock<HashMap<String, BTreeSet<LeaseKey>, foldhash::fast::RandomState>>,
    /// The paths of lease ids, interned (`LeaseKey::path`). Paths are few
    /// (a mount's roles); they are kept for the life of the process.
    paths: RwLock<Paths>,
    /// Live leases per interned path (lease-count quotas, metrics).
    counts: std::sync::Mutex<HashMap<u32, u64>>,
}

#[derive(Default)]
struct Paths {
    ids: HashMap<Arc<str>, u32, foldhash::fast::RandomState>,
    names: Vec<Arc<str>>,
}

/// Splits a lease id into its path and its random part, if it has the
/// usual shape (`<path>/<24 base62 characters>`).
fn split_id(lease_id: &str) -> Option<(&str, [u8; ID_LEN])> {
    let (path, rand) = lease_id.rsplit_once('/')?;
    let rand: [u8; ID_LEN] = rand.as_bytes().try_into().ok()?;
    rand.iter()
        .all(u8::is_ascii_alphanumeric)
        .then_some((path, rand))
}

fn random_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rngs::OsRng;
    (0..ID_LEN)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn key(lease_id: &str) -> String {
    format!("{ID_PREFIX}{lease_id}")
}

impl Leases {
    /// Reads every stored lease back and registers its deadline.
    pub async fn load(view: View, clock: Clock, expiration: Arc<Expiration>) -> Result<Arc<Self>> {
        let leases = Arc::new(Self {
            view,
            clock,
            expiration,
            by_token: RwLock::new(HashMap::default()),
            paths: RwLock::new(Paths::default()),
            counts: std::sync::Mutex::new(HashMap::new()),
        });
        // Three stages, so that a restore keeps every core busy: a task
        // reads the leases a page at a time (one storage read each); each
        // page is opened and decoded (of each lease only what the indexes
        // need) by a task of its own, a few at once; this task fills the
        // indexes, page by page in order. The deadlines go to the
        // expiration manager at the end, merged in one pass.
        let (tx, mut rx) = tokio::sync::mpsc::channel(DECODING);
        let reader = tokio::spawn(Arc::clone(&leases).read_pages(tx));
        // Per token, the keys gathered unsorted; each token's set is built
        // at the end, in one sorted pass.
        let mut by_token: HashMap<String, Vec<LeaseKey>, foldhash::fast::RandomState> =
            HashMap::default();
        let mut deadlines = Vec::new();
        while let Some(task) = rx.recv().await {
            let page = task
                .await
                .map_err(|e| Error::Internal(format!("reading the leases back: {e}")))??;
            leases.merge_restored(page, &mut by_token, &mut deadlines);
        }
        reader
            .await
            .map_err(|e| Error::Internal(format!("reading the leases back: {e}")))??;
        // The token index first, then the deadlines: one after the other,
        // what the first leaves free the second takes.
        let by_token: HashMap<String, BTreeSet<LeaseKey>, _> = by_token
            .into_iter()
            .map(|(token, keys)| (token, keys.into_iter().collect()))
            .collect();
        {
            let mut index = leases.by_token.write().unwrap_or_else(|p| p.into_inner());
            if index.is_empty() {
                *index = by_token;
            } else {
                for (token, mut keys) in by_token {
                    index.entry(token).or_default().append(&mut keys);
                }
            }
        }
        leases.expiration.set_all(deadlines);
        Ok(leases)
    }

    /// The reading stage of `load`: hands on a decoding task per page.
    async fn read_pages(
        self: Arc<Self>,
        tx: tokio::sync::mpsc::Sender<tokio::task::JoinHandle<Result<Restored>>>,
    ) -> Result<()> {
        let mut after: Option<String> = None;
        loop {
            let page = self
                .view
                .entries_sealed(ID_PREFIX, after.as_deref(), LOAD_PAGE)
                .await?;
            let full = page.len() == LOAD_PAGE;
            after = page.last().map(|(k, _)| k.clone());
            let task = tokio::spawn(Arc::clone(&self).decode(page));
            if tx.send(task).await.is_err() || !full {
                return Ok(());
            }
        }
    }

    /// Opens a page of stored leases and decodes what the indexes need.
    async fn decode(self: Arc<Self>, page: Vec<(String, Vec<u8>)>) -> Result<Restored> {
        let mut restored = Restored {
            deadlines: Vec::with_capacity(page.len()),
            ..Restored::default()
        };
        let mut by_token: HashMap<String, usize, foldhash::fast::RandomState> = HashMap::default();
        for (k, sealed) in page {
            let plain = self.view.open_value(&k, &sealed)?;
            let head = serde_json::from_slice::<LeaseHead<'_>>(&plain)
                .map_err(|_| Error::Internal(format!("the stored lease {k} cannot be read")))?;
            let key = self.key(&head.lease_id);
            match restored.counts.last_mut() {
                Some((path, n)) if *path == key.path => *n += 1,
                _ => restored.counts.push((key.path, 1)),
            }
            if !head.token_hash.is_empty() {
                match by_token.get(head.token_hash.as_ref()) {
                    Some(&i) => restored.by_token[i].1.push(key),
                    None => {
                        by_token.insert(head.token_hash.to_string(), restored.by_token.len());
                        restored
                            .by_token
                            .push((head.token_hash.into_owned(), vec![key]));
                    }
                }
            }
            restored
                .deadlines
                .push((Target::Lease(key), head.expire_time));
        }
        Ok(restored)
    }

    /// Merges a decoded page into the counts (at once) and into what
    /// `load` builds the token index and deadlines from.
    fn merge_restored(
        &self,
        page: Restored,
        by_token: &mut HashMap<String, Vec<LeaseKey>, foldhash::fast::RandomState>,
        deadlines: &mut Vec<(Target, i64)>,
    ) {
        {
            let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
            for (path, n) in page.counts {
                *counts.entry(path).or_default() += n;
            }
        }
        for (token, mut keys) in page.by_token {
            match by_token.get_mut(token.as_str()) {
                Some(all) => all.append(&mut keys),
                None => {
                    by_token.insert(token, keys);
                }
            }
        }
        deadlines.extend(page.deadlines);
    }

    /// The index key of a lease id, interning its path.
    pub fn key(&self, lease_id: &str) -> LeaseKey {
        let (path, rand) = split_id(lease_id).unwrap_or((lease_id, [0; ID_LEN]));
        if let Some(&n) = self
            .paths
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .ids
            .get(path)
        {
            return LeaseKey { path: n, rand };
        }
        let mut paths = self.paths.write().unwrap_or_else(|p| p.into_inner());
        let n = match paths.ids.get(path) {
            Some(&n) => n,
            None => {
                // Four billion distinct paths are not reached: they are a
                // mount's role paths, or odd ids read back from storage.
                let n = u32::try_from(paths.names.len()).unwrap_or(u32::MAX);
                let name: Arc<str> = path.into();
                paths.names.push(Arc::clone(&name));
                paths.ids.insert(name, n);
                n
            }
        };
        LeaseKey { path: n, rand }
    }

    /// The lease id an index key stands for.
    pub fn id(&self, key: &LeaseKey) -> String {
        let paths = self.paths.read().unwrap_or_else(|p| p.into_inner());
        let path = paths.names.get(key.path as usize).map_or("", |p| p);
        if key.rand == [0; ID_LEN] {
            return path.to_owned();
        }
        let mut id = String::with_capacity(path.len() + 1 + ID_LEN);
        id.push_str(path);
        id.push('/');
        // Only ids whose random part is ASCII are split (`split_id`).
        id.extend(key.rand.iter().map(|&b| char::from(b)));
        id
    }

    fn index(&self, e: &LeaseEntry) {
        let key = self.key(&e.lease_id);
        if !e.token_hash.is_empty() {
            self.by_token
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .entry(e.token_hash.clone())
                .or_default()
                .insert(key);
        }
        if !self.expiration.set(Target::Lease(key), Some(e.expire_time)) {
            *self
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(key.path)
                .or_default() += 1;
        }
    }

    fn unindex(&self, e: &LeaseEntry) {
        let key = self.key(&e.lease_id);
        if !e.token_hash.is_empty() {
            let mut by_token = self.by_token.write().unwrap_or_else(|p| p.into_inner());
            if let Some(keys) = by_token.get_mut(&e.token_hash) {
                keys.remove(&key);
                if keys.is_empty() {
                    by_token.remove(&e.token_hash);
                }
            }
        }
        if self.expiration.set(Target::Lease(key), None) {
            if let Some(n) = self
                .counts
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&key.path)
            {
                *n = n.saturating_sub(1);
            }
        }
    }

    /// How many leases live under `prefix` (by path segments: `database`
    /// covers `database/creds/app`, not `database2/...`; "" covers all).
    pub fn count_under(&self, prefix: &str) -> u64 {
        let prefix = prefix.trim_matches('/');
        let paths = self.paths.read().unwrap_or_else(|p| p.into_inner());
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        counts
            .iter()
            .filter(|(path, _)| {
                paths.names.get(**path as usize).is_some_and(|p| {
                    prefix.is_empty()
                        || p.as_ref() == prefix
                        || p.strip_prefix(prefix).is_some_and(|r| r.starts_with('/'))
                })
            })
            .map(|(_, n)| *n)
            .sum()
    }

    /// The expiration manager's figures (`sys/metrics`).
    pub fn expiration_stats(&self) -> super::Stats {
        self.expiration.stats()
    }

    /// Live leases by the path they were issued on, for every path that
    /// has some, sorted.
    pub fn counts_by_path(&self) -> Vec<(String, u64)> {
        let paths = self.paths.read().unwrap_or_else(|p| p.into_inner());
        let counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, u64)> = counts
            .iter()
            .filter(|(_, n)| **n > 0)
            .filter_map(|(path, n)| Some((paths.names.get(*path as usize)?.to_string(), *n)))
            .collect();
        out.sort();
        out
    }

    /// Now, by the clock leases are timed with (Unix nanoseconds).
    pub fn now(&self) -> i64 {
        self.clock.now_nanos()
    }

    /// Stores and registers a new lease.
    pub async fn register(&self, new: NewLease) -> Result<LeaseEntry> {
        let now = self.clock.now_nanos();
        let entry = LeaseEntry {
            lease_id: format!("{}/{}", new.path.trim_end_matches('/'), random_id()),
            path: new.path,
            mount_accessor: new.mount_accessor,
            token_hash: new.token_hash,
            internal: new.internal,
            issue_time: now,
            expire_time: now
                .saturating_add(i64::try_from(new.ttl.as_nanos()).unwrap_or(i64::MAX / 2)),
            last_renewal: None,
            renewable: new.renewable,
            ttl: new.ttl.as_secs(),
            max_ttl: new.max_ttl.as_secs(),
        };
        self.view.put_json(&key(&entry.lease_id), &entry).await?;
        self.index(&entry);
        Ok(entry)
    }

    pub async fn get(&self, lease_id: &str) -> Result<Option<LeaseEntry>> {
        if lease_id.is_empty() || lease_id.ends_with('/') {
            return Ok(None);
        }
        Ok(self.view.get_json::<LeaseEntry>(&key(lease_id)).await?)
    }

    /// Moves a lease's deadline (a renewal).
    pub async fn renewed(&self, mut entry: LeaseEntry, ttl: Duration) -> Result<LeaseEntry> {
        let now = self.clock.now_nanos();
        entry.expire_time =
            now.saturating_add(i64::try_from(ttl.as_nanos()).unwrap_or(i64::MAX / 2));
        entry.last_renewal = Some(now);
        self.view.put_json(&key(&entry.lease_id), &entry).await?;
        self.index(&entry);
        Ok(entry)
    }

    /// Every stored lease (tidy).
    pub async fn all(&self) -> Result<Vec<LeaseEntry>> {
        let mut out = Vec::new();
        for id in self.ids_under("").await? {
            if let Some(e) = self.get(&id).await? {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Forgets a lease (revoked, or forced).
    pub async fn remove(&self, entry: &LeaseEntry) -> Result<()> {
        self.view.delete(&key(&entry.lease_id)).await?;
        self.unindex(entry);
        Ok(())
    }

    /// The ids of the leases `token_hash` created.
    pub fn of_token(&self, token_hash: &str) -> Vec<String> {
        self.by_token
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(token_hash)
            .map(|keys| {
                let mut ids: Vec<String> = keys.iter().map(|k| self.id(k)).collect();
                ids.sort_unstable();
                ids
            })
            .unwrap_or_default()
    }

    /// Every lease id under `prefix` (a path prefix, as `revoke-prefix`
    /// takes it).
    pub async fn ids_under(&self, prefix: &str) -> Result<Vec<String>> {
        let base = prefix.trim_start_matches('/');
        let mut out = Vec::new();
        // The prefix may end inside a segment (`database/creds/a` matches
        // `database/creds/app/...`): list its parent and filter.
        let (dir, _) = base.rsplit_once('/').map_or(("", base), |(d, r)| (d, r));
        let dir = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        let mut stack = vec![dir];
        while let Some(d) = stack.pop() {
            for child in self.view.list(&format!("{ID_PREFIX}{d}")).await? {
                let id = format!("{d}{child}");
                if !id.starts_with(base) && !base.starts_with(id.as_str()) {
                    continue;
                }
                if id.ends_with('/') {
                    stack.push(id);
                } else if id.starts_with(base) {
                    out.push(id);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// `LIST sys/leases/lookup/<prefix>`: the immediate children of
    /// `prefix` (folders end with `/`).
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let prefix = prefix.trim_start_matches('/');
        if !prefix.is_empty() && !prefix.ends_with('/') {
            return Err(Error::invalid("prefix must end with a slash"));
        }
        Ok(self.view.list(&format!("{ID_PREFIX}{prefix}")).await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::gate::Gate;
    use std::time::SystemTime;

    async fn leases(clock: &Clock) -> (View, Arc<Expiration>, Arc<Leases>) {
        let (_, view) = Gate::with_view("sys/").await;
        let e = Expiration::new(clock.clone());
        let l = Leases::load(view.clone(), clock.clone(), Arc::clone(&e))
            .await
            .unwrap();
        (view, e, l)
    }

    fn new(path: &str, token: &str, ttl: u64) -> NewLease {
        let mut internal = Map::new();
        internal.insert("username".into(), Value::from("v-app-x"));
        NewLease {
            path: path.into(),
            mount_accessor: "database_1234".into(),
            token_hash: token.into(),
            internal,
            ttl: Duration::from_secs(ttl),
            renewable: true,
            max_ttl: Duration::ZERO,
        }
    }

    #[tokio::test]
    async fn leases_are_stored_indexed_and_restored() {
        let clock = Clock::manual(SystemTime::now());
        let (view, e, l) = leases(&clock).await;
        let a = l
            .register(new("database/creds/app", "tok1", 60))
            .await
            .unwrap();
        let b = l
            .register(new("database/creds/app", "tok1", 120))
            .await
            .unwrap();
        let c = l
            .register(new("rabbitmq/creds/web", "tok2", 30))
            .await
            .unwrap();
        assert!(a.lease_id.starts_with("database/creds/app/"));
        assert_eq!(a.lease_id.len(), "database/creds/app/".len() + ID_LEN);
        assert_eq!(l.get(&a.lease_id).await.unwrap().unwrap(), a);
        assert_eq!(l.of_token("tok1"), {
            let mut v = vec![a.lease_id.clone(), b.lease_id.clone()];
            v.sort();
            v
        });
        assert_eq!(e.len(), 3);
        assert_eq!(
            l.ids_under("database/creds/a").await.unwrap().len(),
            2,
            "a prefix that ends inside a segment"
        );
        assert_eq!(
            l.ids_under("rabbitmq/").await.unwrap(),
            [c.lease_id.as_str()]
        );
        assert_eq!(l.list("").await.unwrap(), ["database/", "rabbitmq/"]);
        assert_eq!(l.list("database/creds/").await.unwrap(), ["app/"]);
        assert!(l.list("database").await.is_err());
        l.remove(&a).await.unwrap();
        assert_eq!(l.of_token("tok1"), [b.lease_id.as_str()]);

        // A restart: a new manager reads them back with their deadlines.
        let e2 = Expiration::new(clock.clone());
        let l2 = Leases::load(view, clock.clone(), Arc::clone(&e2))
            .await
            .unwrap();
        assert_eq!(e2.len(), 2);
        assert_eq!(
            e2.deadline(&Target::Lease(l2.key(&b.lease_id))),
            Some(b.expire_time)
        );
        assert_eq!(l2.of_token("tok2"), [c.lease_id]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restore_reads_every_page() {
        let clock = Clock::manual(SystemTime::now());
        let (view, _, l) = leases(&clock).await;
        let n = 2 * LOAD_PAGE + 3;
        let mut last = None;
        for i in 0..n {
            let path = if i % 2 == 0 {
                "database/creds/app"
            } else {
                "rabbitmq/creds/web"
            };
            let tok = if i % 3 == 0 { "" } else { "tok" };
            last = Some(l.register(new(path, tok, 60 + i as u64)).await.unwrap());
        }
        let e2 = Expiration::new(clock.clone());
        let l2 = Leases::load(view, clock.clone(), Arc::clone(&e2))
            .await
            .unwrap();
        let last = last.unwrap();
        assert_eq!(
            e2.deadline(&Target::Lease(l2.key(&last.lease_id))),
            Some(last.expire_time)
        );
        assert_eq!(e2.len(), n);
        assert_eq!(l2.of_token("tok").len(), n - n.div_ceil(3));
        // The counts by path come back too (lease-count quotas).
        assert_eq!(l2.count_under(""), n as u64);
        assert_eq!(l2.count_under("database"), n.div_ceil(2) as u64);
        assert_eq!(l2.count_under("rabbitmq/creds/web/"), (n / 2) as u64);
        assert_eq!(l2.count_under("data"), 0, "by whole segments");
        let one = l2.get(&last.lease_id).await.unwrap().unwrap();
        l2.remove(&one).await.unwrap();
        l2.remove(&one).await.unwrap();
        assert_eq!(
            l2.count_under(""),
            n as u64 - 1,
            "a lease removed twice counts once"
        );
        assert_eq!(
            l2.counts_by_path(),
            [
                ("database/creds/app".to_owned(), n.div_ceil(2) as u64 - 1),
                ("rabbitmq/creds/web".to_owned(), (n / 2) as u64)
            ]
        );
    }

    #[tokio::test]
    async fn index_keys_stand_for_their_ids() {
        let clock = Clock::manual(SystemTime::now());
        let (_, _, l) = leases(&clock).await;
        let usual = format!("database/creds/app/{}", random_id());
        let same_path = format!("database/creds/app/{}", random_id());
        let k = l.key(&usual);
        assert_eq!(l.id(&k), usual);
        assert_eq!(l.key(&same_path).path, k.path, "one path, interned once");
        assert_ne!(l.key(&same_path), k);
        // Ids of other shapes are kept whole.
        for odd in [
            "x",
            "a/b",
            "database/creds/app/short",
            "database/creds/app/ééééééééééééé",
            "database/creds/app/0123456789012345678901234",
            "database/creds/app/01234567890123456789012-",
            "",
        ] {
            let k = l.key(odd);
            assert_eq!(l.id(&k), odd);
            assert_eq!(l.key(odd), k);
        }
    }

    #[tokio::test]
    async fn renewal_moves_the_deadline() {
        let clock = Clock::manual(SystemTime::now());
        let (_, e, l) = leases(&clock).await;
        let a = l.register(new("database/creds/app", "", 60)).await.unwrap();
        clock.advance(Duration::from_secs(30));
        let r = l.renewed(a, Duration::from_secs(60)).await.unwrap();
        assert_eq!(r.ttl_remaining(clock.now_nanos()), 60);
        assert_eq!(
            e.deadline(&Target::Lease(l.key(&r.lease_id))),
            Some(r.expire_time)
        );
        assert_eq!(l.get(&r.lease_id).await.unwrap().unwrap(), r);
    }
}

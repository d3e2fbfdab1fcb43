//! The token store. A token's id is never stored: entries live under the
//! HMAC-SHA256 of the id with a per-cluster salt, so a copy of the storage
//! (even decrypted) does not yield usable tokens. Accessors are indexed the
//! same way; parent/child links make revocation of a whole tree possible.
//!
//! Revocation: every write of an entry (create, use count, renewal,
//! revocation) happens under one lock, and a tree is first marked
//! `revoking` top-down (a marked token is dead at once and cannot gain
//! children), then deleted children-first. Cache fills that raced with a
//! revocation are discarded (an epoch counter), so a revoked token never
//! comes back from the cache.
//!
//! Expiry: every entry carries its wall-clock deadline. An in-memory index
//! of deadlines (rebuilt from storage at unseal, so expiry survives a
//! restart) feeds one reaper task that sleeps until the next deadline and is
//! woken early when a sooner one arrives. Lookups also refuse expired
//! entries, so a token is dead on time even if the reaper is late.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::Notify;

use super::TokenEntry;
use crate::barrier::View;
use crate::barrier::view::to_json;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::secret::SecretBytes;
use crate::storage::Op;

/// The HMAC key for token and accessor hashes.
const SALT_PATH: &str = "salt";
/// `id/<hash>` -> TokenEntry.
const ID_PREFIX: &str = "id/";
/// `accessor/<hash of accessor>` -> AccessorEntry.
const ACCESSOR_PREFIX: &str = "accessor/";
/// `parent/<parent hash>/<child hash>` -> empty; children of a token.
const PARENT_PREFIX: &str = "parent/";
/// What batch tokens are encrypted for (never a storage key).
const BATCH_CONTEXT: &str = "batch-token";
/// Entries kept decrypted in memory; past this the cache starts over.
const CACHE_LIMIT: usize = 16_384;
/// The reaper re-checks at least this often, in case the wall clock jumps.
const MAX_REAPER_SLEEP: Duration = Duration::from_secs(30);

#[derive(Serialize, Deserialize)]
struct AccessorEntry {
    accessor: String,
    token_hash: String,
}

/// Called when a token is revoked, so that what hangs off it (its
/// cubbyhole, its leases) goes with it.
#[async_trait::async_trait]
pub trait RevokeHook: Send + Sync {
    async fn token_revoked(&self, token_hash: &str) -> Result<()>;
}

pub struct TokenStore {
    view: View,
    salt: SecretBytes,
    clock: Clock,
    cache: RwLock<HashMap<String, Arc<TokenEntry>>>,
    expiry: Mutex<BTreeSet<(i64, String)>>,
    wake: Notify,
    /// Serializes read-modify-write of entries (use counts, renewals).
    write: tokio::sync::Mutex<()>,
    hooks: RwLock<Vec<Arc<dyn RevokeHook>>>,
    /// Bumped by every revocation; a cache fill that saw it move drops
    /// what it read.
    epoch: std::sync::atomic::AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl TokenStore {
    pub async fn load(view: View, clock: Clock) -> Result<Arc<Self>> {
        let salt = match view.get(SALT_PATH).await? {
            Some(s) => SecretBytes::new(s),
            None => {
                let s = crate::barrier::keyring::random_key();
                view.put(SALT_PATH, s.expose()).await?;
                s
            }
        };
        let store = Arc::new(Self {
            view,
            salt,
            clock,
            cache: RwLock::new(HashMap::new()),
            expiry: Mutex::new(BTreeSet::new()),
            wake: Notify::new(),
            write: tokio::sync::Mutex::new(()),
            hooks: RwLock::new(Vec::new()),
            epoch: std::sync::atomic::AtomicU64::new(0),
        });
        // Rebuild the expiry index from what is stored.
        for hash in store.view.list(ID_PREFIX).await? {
            if let Some(entry) = store
                .view
                .get_json::<TokenEntry>(&format!("{ID_PREFIX}{hash}"))
                .await?
            {
                if let Some(exp) = entry.expire_time {
                    lock(&store.expiry).insert((exp, hash));
                }
            }
        }
        Ok(store)
    }

    pub fn add_hook(&self, hook: Arc<dyn RevokeHook>) {
        self.hooks
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(hook);
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    fn hmac(&self, kind: &[u8], value: &str) -> String {
        // HMAC accepts keys of any length; this cannot fail.
        let mut mac = match <Hmac<Sha256> as Mac>::new_from_slice(self.salt.expose()) {
            Ok(m) => m,
            Err(_) => return String::new(),
        };
        mac.update(kind);
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    pub fn hash(&self, token: &str) -> String {
        self.hmac(b"token:", token)
    }

    fn accessor_hash(&self, accessor: &str) -> String {
        self.hmac(b"accessor:", accessor)
    }

    fn cache_put(&self, hash: &str, entry: Arc<TokenEntry>) {
        let mut c = self.cache.write().unwrap_or_else(|e| e.into_inner());
        if c.len() >= CACHE_LIMIT {
            c.clear();
        }
        c.insert(hash.to_owned(), entry);
    }

    fn cache_drop(&self, hash: &str) {
        self.cache
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(hash);
    }

    fn track_expiry(&self, hash: &str, old: Option<i64>, new: Option<i64>) {
        let mut idx = lock(&self.expiry);
        if let Some(o) = old {
            idx.remove(&(o, hash.to_owned()));
        }
        if let Some(n) = new {
            let sooner = idx.first().is_none_or(|(first, _)| n < *first);
            idx.insert((n, hash.to_owned()));
            if sooner {
                self.wake.notify_one();
            }
        }
    }

    /// Stores a new token; returns its id. `id` is a caller-chosen token id
    /// (root only); otherwise one is generated.
    pub async fn create(&self, entry: TokenEntry, id: Option<String>) -> Result<String> {
        let token = id.unwrap_or_else(super::generate_token);
        let hash = self.hash(&token);
        if !entry.parent.is_empty() && self.stored(&entry.parent).await?.is_none_or(|p| p.revoking)
        {
            // The parent is gone or being revoked: its child would outlive it.
            return Err(Error::PermissionDenied);
        }
        if self
            .view
            .get(&format!("{ID_PREFIX}{hash}"))
            .await?
            .is_some()
        {
            return Err(Error::invalid("cannot create a token with a duplicate ID"));
        }
        let mut ops = vec![
            Op::Put(format!("{ID_PREFIX}{hash}"), to_json(&entry)),
            Op::Put(
                format!("{ACCESSOR_PREFIX}{}", self.accessor_hash(&entry.accessor)),
                to_json(&AccessorEntry {
                    accessor: entry.accessor.clone(),
                    token_hash: hash.clone(),
                }),
            ),
        ];
        if !entry.parent.is_empty() {
            ops.push(Op::Put(
                format!("{PARENT_PREFIX}{}/{hash}", entry.parent),
                Vec::new(),
            ));
        }
        let parent = entry.parent.clone();
        self.view.write(ops).await?;
        self.track_expiry(&hash, None, entry.expire_time);
        self.cache_put(&hash, Arc::new(entry));
        // No lock is held across the write (logins create tokens in
        // parallel, and on the file store each write waits for an fsync).
        // A revocation marks the parent before it lists the children, so
        // either it lists this child, or this check sees the mark.
        if !parent.is_empty() && self.stored(&parent).await?.is_none_or(|p| p.revoking) {
            self.revoke_one(&hash).await?;
            return Err(Error::PermissionDenied);
        }
        Ok(token)
    }

    /// The live entry for a hash: None if missing, expired or used up.
    pub async fn get(&self, hash: &str) -> Result<Option<Arc<TokenEntry>>> {
        let cached = self
            .cache
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(hash)
            .cloned();
        let entry = match cached {
            Some(e) => e,
            None => {
                let before = self.epoch.load(std::sync::atomic::Ordering::Acquire);
                match self.stored(hash).await? {
                    Some(e) => {
                        let e = Arc::new(e);
                        if self.epoch.load(std::sync::atomic::Ordering::Acquire) == before {
                            self.cache_put(hash, Arc::clone(&e));
                        }
                        e
                    }
                    None => return Ok(None),
                }
            }
        };
        if entry.revoking {
            return Ok(None);
        }
        if entry.is_expired(self.clock.now_nanos()) {
            self.wake.notify_one();
            return Ok(None);
        }
        Ok(Some(entry))
    }

    /// The entry as stored (no cache, no liveness checks).
    async fn stored(&self, hash: &str) -> Result<Option<TokenEntry>> {
        Ok(self
            .view
            .get_json::<TokenEntry>(&format!("{ID_PREFIX}{hash}"))
            .await?)
    }

    pub async fn lookup(&self, token: &str) -> Result<Option<(String, Arc<TokenEntry>)>> {
        if token.is_empty() {
            return Ok(None);
        }
        let hash = self.hash(token);
        if token.starts_with(super::BATCH_TOKEN_PREFIX) {
            return Ok(self.open_batch(token).await?.map(|e| (hash, e)));
        }
        Ok(self.get(&hash).await?.map(|e| (hash, e)))
    }

    /// A batch token: the entry itself, encrypted under the barrier's
    /// active key term and bound to this store, base64url after `b.`.
    /// Nothing is stored, so it cannot be renewed or revoked; it dies at
    /// its TTL, or with its parent.
    pub fn create_batch(&self, entry: &TokenEntry) -> Result<String> {
        let sealed = self.view.seal_value(BATCH_CONTEXT, &to_json(entry))?;
        Ok(format!(
            "{}{}",
            super::BATCH_TOKEN_PREFIX,
            base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sealed)
        ))
    }

    async fn open_batch(&self, token: &str) -> Result<Option<Arc<TokenEntry>>> {
        let body = token
            .strip_prefix(super::BATCH_TOKEN_PREFIX)
            .unwrap_or_default();
        let Ok(sealed) =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, body)
        else {
            return Ok(None);
        };
        // A token that does not decrypt is simply not a token.
        let Ok(plain) = self.view.open_value(BATCH_CONTEXT, &sealed) else {
            return Ok(None);
        };
        let Ok(entry) = serde_json::from_slice::<TokenEntry>(&plain) else {
            return Ok(None);
        };
        if entry.is_expired(self.clock.now_nanos()) {
            return Ok(None);
        }
        if !entry.parent.is_empty() && self.get(&entry.parent).await?.is_none() {
            return Ok(None);
        }
        Ok(Some(Arc::new(entry)))
    }

    pub async fn lookup_accessor(
        &self,
        accessor: &str,
    ) -> Result<Option<(String, Arc<TokenEntry>)>> {
        if accessor.is_empty() {
            return Ok(None);
        }
        let key = format!("{ACCESSOR_PREFIX}{}", self.accessor_hash(accessor));
        let Some(a) = self.view.get_json::<AccessorEntry>(&key).await? else {
            return Ok(None);
        };
        Ok(self.get(&a.token_hash).await?.map(|e| (a.token_hash, e)))
    }

    /// Counts one use of a limited-use token. Returns None when the token
    /// has no use left; the entry after the use otherwise. A token whose
    /// last use this is comes back with `num_uses == -1` and must be
    /// revoked once the request is done.
    pub async fn use_token(
        &self,
        hash: &str,
        entry: Arc<TokenEntry>,
    ) -> Result<Option<Arc<TokenEntry>>> {
        if entry.num_uses == 0 {
            return Ok(Some(entry));
        }
        let _guard = self.write.lock().await;
        // From storage, under the lock: the cache may be a step behind.
        let now = self.clock.now_nanos();
        let current = match self.stored(hash).await? {
            Some(c) if !c.revoking && !c.is_expired(now) => Arc::new(c),
            _ => return Ok(None),
        };
        if current.num_uses < 0 {
            return Ok(None);
        }
        if current.num_uses == 0 {
            return Ok(Some(current));
        }
        let mut next = (*current).clone();
        next.num_uses = if next.num_uses == 1 {
            -1
        } else {
            next.num_uses - 1
        };
        self.put_entry(hash, next).await.map(Some)
    }

    async fn put_entry(&self, hash: &str, entry: TokenEntry) -> Result<Arc<TokenEntry>> {
        self.view
            .put_json(&format!("{ID_PREFIX}{hash}"), &entry)
            .await?;
        let entry = Arc::new(entry);
        self.cache_put(hash, Arc::clone(&entry));
        Ok(entry)
    }

    /// Rewrites an entry (renewal) and keeps the expiry index in step.
    pub async fn update(
        &self,
        hash: &str,
        old: &TokenEntry,
        new: TokenEntry,
    ) -> Result<Arc<TokenEntry>> {
        let _guard = self.write.lock().await;
        // Revoked (or being revoked) since the caller read it: do not write
        // it back to life.
        let Some(current) = self.stored(hash).await?.filter(|c| !c.revoking) else {
            return Err(Error::PermissionDenied);
        };
        let (o, n) = (current.expire_time.or(old.expire_time), new.expire_time);
        let e = self.put_entry(hash, new).await?;
        self.track_expiry(hash, o, n);
        Ok(e)
    }

    /// Revokes a token and every token descended from it: first every
    /// node is marked `revoking`, top-down (dead at once, and no new
    /// children), then deleted children-first, so a crash half-way leaves
    /// no live descendant of a revoked token.
    pub async fn revoke_tree(&self, hash: &str) -> Result<()> {
        // Iteratively, so a deep tree cannot overflow the stack.
        let mut order = Vec::new();
        let mut stack = vec![hash.to_owned()];
        while let Some(h) = stack.pop() {
            self.mark_revoking(&h).await?;
            for child in self.view.list(&format!("{PARENT_PREFIX}{h}/")).await? {
                stack.push(child.trim_end_matches('/').to_owned());
            }
            order.push(h);
        }
        // Pre-order reversed: every child before its parent.
        for h in order.iter().rev() {
            self.revoke_one(h).await?;
        }
        Ok(())
    }

    async fn mark_revoking(&self, hash: &str) -> Result<()> {
        let _guard = self.write.lock().await;
        if let Some(mut e) = self.stored(hash).await?.filter(|e| !e.revoking) {
            e.revoking = true;
            self.put_entry(hash, e).await?;
        }
        Ok(())
    }

    /// Revokes a token but keeps its children, who become orphans.
    pub async fn revoke_orphan(&self, hash: &str) -> Result<()> {
        for child in self.view.list(&format!("{PARENT_PREFIX}{hash}/")).await? {
            let key = format!("{ID_PREFIX}{child}");
            if let Some(mut e) = self.view.get_json::<TokenEntry>(&key).await? {
                e.parent.clear();
                e.orphan = true;
                let _guard = self.write.lock().await;
                self.put_entry(&child, e).await?;
            }
        }
        self.revoke_one(hash).await
    }

    async fn revoke_one(&self, hash: &str) -> Result<()> {
        let _guard = self.write.lock().await;
        let key = format!("{ID_PREFIX}{hash}");
        let entry = self.view.get_json::<TokenEntry>(&key).await?;
        let hooks = self.hooks.read().unwrap_or_else(|e| e.into_inner()).clone();
        for hook in hooks {
            hook.token_revoked(hash).await?;
        }
        let mut ops = vec![Op::Delete(key)];
        for child in self.view.list(&format!("{PARENT_PREFIX}{hash}/")).await? {
            ops.push(Op::Delete(format!("{PARENT_PREFIX}{hash}/{child}")));
        }
        if let Some(e) = &entry {
            ops.push(Op::Delete(format!(
                "{ACCESSOR_PREFIX}{}",
                self.accessor_hash(&e.accessor)
            )));
            if !e.parent.is_empty() {
                ops.push(Op::Delete(format!("{PARENT_PREFIX}{}/{hash}", e.parent)));
            }
        }
        self.view.write(ops).await?;
        self.cache_drop(hash);
        self.epoch.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if let Some(e) = entry {
            self.track_expiry(hash, e.expire_time, None);
        }
        Ok(())
    }

    /// Revokes every token an auth mount issued (the mount is being
    /// disabled); returns how many.
    pub async fn revoke_issued_by(&self, mount_accessor: &str) -> Result<usize> {
        if mount_accessor.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        for hash in self.view.list(ID_PREFIX).await? {
            let key = format!("{ID_PREFIX}{hash}");
            if let Some(e) = self.view.get_json::<TokenEntry>(&key).await? {
                if e.mount_accessor == mount_accessor {
                    self.revoke_tree(&hash).await?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    /// Every accessor, for `auth/token/accessors`.
    pub async fn accessors(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for key in self.view.list(ACCESSOR_PREFIX).await? {
            if let Some(a) = self
                .view
                .get_json::<AccessorEntry>(&format!("{ACCESSOR_PREFIX}{key}"))
                .await?
            {
                out.push(a.accessor);
            }
        }
        Ok(out)
    }

    pub async fn count(&self) -> Result<usize> {
        Ok(self.view.list(ID_PREFIX).await?.len())
    }

    /// Revokes every token whose deadline has passed; returns how many.
    pub async fn reap_expired(&self) -> Result<usize> {
        let now = self.clock.now_nanos();
        let due: Vec<String> = lock(&self.expiry)
            .iter()
            .take_while(|(t, _)| *t <= now)
            .map(|(_, h)| h.clone())
            .collect();
        for h in &due {
            self.revoke_tree(h).await?;
            // Stale index entries (already revoked) are dropped here too.
            lock(&self.expiry).retain(|(_, x)| x != h);
        }
        Ok(due.len())
    }

    fn next_deadline(&self) -> Option<i64> {
        lock(&self.expiry).first().map(|(t, _)| *t)
    }

    /// Runs until `stop` fires: revokes tokens as their deadlines pass.
    pub async fn run_reaper(self: Arc<Self>, mut stop: tokio::sync::watch::Receiver<bool>) {
        let mut moved = self.clock.moved();
        loop {
            if *stop.borrow() {
                return;
            }
            if let Err(e) = self.reap_expired().await {
                tracing::warn!(error = %e, "token expiry: revocation failed, will retry");
            }
            let wait = match self.next_deadline() {
                Some(t) => {
                    let now = self.clock.now_nanos();
                    Duration::from_nanos(u64::try_from(t.saturating_sub(now)).unwrap_or(0))
                        .min(MAX_REAPER_SLEEP)
                }
                None => MAX_REAPER_SLEEP,
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

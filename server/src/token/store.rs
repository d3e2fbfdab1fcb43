//! The token store. A token's id is never stored: entries live under the
//! HMAC-SHA256 of the id with a per-cluster salt, so a copy of the storage
//! (even decrypted) does not yield usable tokens. Accessors are indexed the
//! same way; parent/child links make revocation of a whole tree possible.
//!
//! Revocation: every rewrite of an entry (use count, renewal, orphaning,
//! revocation) happens under one lock and starts from storage, and a tree
//! is first marked `revoking` top-down (a marked token is dead at once and
//! cannot gain children), then deleted children-first. A cache fill that
//! raced with any write of an entry is discarded (an epoch counter checked
//! under the cache's lock), so neither a revoked token nor a spent use
//! comes back from the cache.
//!
//! Expiry: every entry carries its wall-clock deadline, registered with
//! the expiration manager (re-registered from storage at unseal, so expiry
//! survives a restart), whose task revokes the token when it passes.
//! Lookups also refuse expired entries, so a token is dead on time even if
//! that task is late.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::TokenEntry;
use crate::barrier::View;
use crate::barrier::view::to_json;
use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::expiration::{Expiration, Target};
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
    cache: RwLock<Cache>,
    expiration: Arc<Expiration>,
    /// Serializes read-modify-write of entries (use counts, renewals).
    write: tokio::sync::Mutex<()>,
    hooks: RwLock<Vec<Arc<dyn RevokeHook>>>,
}

/// Decrypted entries, and the epoch: bumped by every write of an entry
/// (under this lock), so a fill that read storage before the write sees
/// it moved and drops what it read.
#[derive(Default)]
struct Cache {
    epoch: u64,
    entries: HashMap<String, Arc<TokenEntry>>,
}

impl TokenStore {
    pub async fn load(view: View, clock: Clock, expiration: Arc<Expiration>) -> Result<Arc<Self>> {
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
            cache: RwLock::new(Cache::default()),
            expiration,
            write: tokio::sync::Mutex::new(()),
            hooks: RwLock::new(Vec::new()),
        });
        // Register the stored deadlines.
        for hash in store.view.list(ID_PREFIX).await? {
            if let Some(entry) = store
                .view
                .get_json::<TokenEntry>(&format!("{ID_PREFIX}{hash}"))
                .await?
            {
                if let Some(exp) = entry.expire_time {
                    store.expiration.set(Target::Token(hash.into()), Some(exp));
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

    fn cache_write(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        // Poisoned only by a panic between two map operations; the map is
        // still whole and at worst misses an entry.
        self.cache.write().unwrap_or_else(|e| e.into_inner())
    }

    /// After a write of the entry to storage.
    fn cache_put(&self, hash: &str, entry: Arc<TokenEntry>) {
        let mut c = self.cache_write();
        c.epoch += 1;
        if c.entries.len() >= CACHE_LIMIT {
            c.entries.clear();
        }
        c.entries.insert(hash.to_owned(), entry);
    }

    /// After a deletion of the entry from storage.
    fn cache_drop(&self, hash: &str) {
        let mut c = self.cache_write();
        c.epoch += 1;
        c.entries.remove(hash);
    }

    /// What a reader found in storage, kept only if no entry was written
    /// since `epoch` (read before it went to storage).
    fn cache_fill(&self, hash: &str, entry: &Arc<TokenEntry>, epoch: u64) {
        let mut c = self.cache_write();
        if c.epoch != epoch {
            return;
        }
        if c.entries.len() >= CACHE_LIMIT {
            c.entries.clear();
        }
        c.entries.insert(hash.to_owned(), Arc::clone(entry));
    }

    /// Registers `hash`'s deadline (None: it has none, or is gone).
    fn track_expiry(&self, hash: &str, deadline: Option<i64>) {
        self.expiration.set(Target::Token(hash.into()), deadline);
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
        self.track_expiry(&hash, entry.expire_time);
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
        let (cached, epoch) = {
            let c = self.cache.read().unwrap_or_else(|e| e.into_inner());
            (c.entries.get(hash).cloned(), c.epoch)
        };
        let entry = match cached {
            Some(e) => e,
            None => match self.stored(hash).await? {
                Some(e) => {
                    let e = Arc::new(e);
                    self.cache_fill(hash, &e, epoch);
                    e
                }
                None => return Ok(None),
            },
        };
        if entry.revoking {
            return Ok(None);
        }
        if entry.is_expired(self.clock.now_nanos()) {
            self.expiration.poke();
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

    /// Renews a token: sets its deadline (keeping the expiry index in
    /// step) and its last renewal, on the entry as stored now, so a use
    /// counted or a revocation begun since the caller read it stands.
    pub async fn renew(
        &self,
        hash: &str,
        expire_time: i64,
        renewed_at: i64,
    ) -> Result<Arc<TokenEntry>> {
        let renewed = self
            .modify(hash, |e| {
                e.expire_time = Some(expire_time);
                e.last_renewal = Some(renewed_at);
            })
            .await?
            .ok_or(Error::PermissionDenied)?;
        self.track_expiry(hash, Some(expire_time));
        Ok(renewed)
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
        self.modify(hash, |e| e.revoking = true).await?;
        Ok(())
    }

    /// The guarded read-modify-write of an entry: under the write lock and
    /// from storage (not from anything read before), so it cannot bring
    /// back an entry revoked meanwhile or undo a use counted meanwhile. An
    /// entry that is gone or being revoked is left alone (None).
    async fn modify(
        &self,
        hash: &str,
        change: impl FnOnce(&mut TokenEntry),
    ) -> Result<Option<Arc<TokenEntry>>> {
        let _guard = self.write.lock().await;
        let Some(mut e) = self.stored(hash).await?.filter(|e| !e.revoking) else {
            return Ok(None);
        };
        change(&mut e);
        self.put_entry(hash, e).await.map(Some)
    }

    /// Revokes a token but keeps its children, who become orphans.
    pub async fn revoke_orphan(&self, hash: &str) -> Result<()> {
        for child in self.view.list(&format!("{PARENT_PREFIX}{hash}/")).await? {
            self.modify(&child, |e| {
                e.parent.clear();
                e.orphan = true;
            })
            .await?;
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
        self.track_expiry(hash, None);
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

    /// The lease id of every service token that expires (Vault's
    /// `<path>/<hash>`), sorted: tokens are leases in `sys/leases`.
    pub async fn lease_ids(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for hash in self.view.list(ID_PREFIX).await? {
            if hash.ends_with('/') {
                continue;
            }
            if let Some(e) = self.stored(&hash).await? {
                // A root token made at init has no lease (one made through
                // token create, as dev mode's, has).
                if !e.path.is_empty() && e.path != "auth/token/root" {
                    out.push(format!("{}/{hash}", e.path.trim_end_matches('/')));
                }
            }
        }
        out.sort();
        Ok(out)
    }

    pub async fn count(&self) -> Result<usize> {
        Ok(self.view.list(ID_PREFIX).await?.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::gate::{Gate, Kind};

    async fn store() -> (Arc<Gate>, Arc<TokenStore>) {
        let (gate, view) = Gate::with_view("sys/token/").await;
        let clock = Clock::system();
        let store = TokenStore::load(view, clock.clone(), Expiration::new(clock));
        (gate, store.await.unwrap())
    }

    fn entry(parent: &str, num_uses: i64) -> TokenEntry {
        serde_json::from_value(serde_json::json!({
            "accessor": super::super::generate_accessor(),
            "parent": parent,
            "policies": ["default"],
            "path": "auth/token/create",
            "display_name": "token",
            "num_uses": num_uses,
            "creation_time": 0,
            "issue_time": 0,
            "creation_ttl": 0,
            "renewable": false,
        }))
        .unwrap()
    }

    /// A parent and a child with three uses: (parent hash, child hash).
    async fn family(store: &TokenStore) -> (String, String) {
        let parent = store.hash(&store.create(entry("", 0), None).await.unwrap());
        let child = store.create(entry(&parent, 3), None).await.unwrap();
        (parent, store.hash(&child))
    }

    /// Lets every other task run until it finishes or waits (the test
    /// runtime has one thread, and storage here never waits).
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    #[tokio::test]
    async fn revoke_orphan_does_not_bring_back_a_child_revoked_meanwhile() {
        let (gate, store) = store().await;
        let (parent, child) = family(&store).await;
        gate.arm(Kind::Get, &format!("id/{child}"));
        let orphaning = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.revoke_orphan(&parent).await }
        });
        gate.reached().await;
        let revoking = tokio::spawn({
            let (store, child) = (Arc::clone(&store), child.clone());
            async move { store.revoke_tree(&child).await }
        });
        settle().await;
        gate.release();
        orphaning.await.unwrap().unwrap();
        revoking.await.unwrap().unwrap();
        assert!(store.get(&child).await.unwrap().is_none(), "revived");
        assert!(store.stored(&child).await.unwrap().is_none(), "revived");
    }

    #[tokio::test]
    async fn revoke_orphan_does_not_undo_a_use_counted_meanwhile() {
        let (gate, store) = store().await;
        let (parent, child) = family(&store).await;
        let before = store.get(&child).await.unwrap().unwrap();
        gate.arm(Kind::Get, &format!("id/{child}"));
        let orphaning = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.revoke_orphan(&parent).await }
        });
        gate.reached().await;
        let using = tokio::spawn({
            let (store, child) = (Arc::clone(&store), child.clone());
            async move { store.use_token(&child, before).await }
        });
        settle().await;
        gate.release();
        orphaning.await.unwrap().unwrap();
        using.await.unwrap().unwrap();
        let stored = store.stored(&child).await.unwrap().unwrap();
        assert_eq!(stored.num_uses, 2, "the use was undone");
        assert!(stored.orphan && stored.parent.is_empty());
        assert_eq!(store.get(&child).await.unwrap().unwrap().num_uses, 2);
    }

    #[tokio::test]
    async fn a_cache_fill_does_not_undo_a_use_counted_meanwhile() {
        let (gate, store) = store().await;
        let (_, child) = family(&store).await;
        let before = store.get(&child).await.unwrap().unwrap();
        store.cache_drop(&child);
        gate.arm(Kind::Get, &format!("id/{child}"));
        let filling = tokio::spawn({
            let (store, child) = (Arc::clone(&store), child.clone());
            async move { store.get(&child).await }
        });
        gate.reached().await;
        store.use_token(&child, before).await.unwrap();
        gate.release();
        filling.await.unwrap().unwrap();
        assert_eq!(store.get(&child).await.unwrap().unwrap().num_uses, 2);
    }
}

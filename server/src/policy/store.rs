//! The policy store: ACL policies kept through the barrier under
//! `sys/policy/<name>`, parsed once and cached, and the compiled ACL of
//! every policy set in use cached too (invalidated on any change).
//!
//! `root` is built in (it grants everything and has no text); `default` is
//! created on first start and can be edited but not deleted.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};

use super::{Acl, Policy, parse};
use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// The rules every token gets unless created with `no_default_policy`.
pub const DEFAULT_POLICY: &str = r#"
# Let a token look up its own properties.
path "auth/token/lookup-self" {
    capabilities = ["read"]
}

# Let a token renew itself.
path "auth/token/renew-self" {
    capabilities = ["update"]
}

# Let a token revoke itself.
path "auth/token/revoke-self" {
    capabilities = ["update"]
}

# Let a token ask what it may do on a path.
path "sys/capabilities-self" {
    capabilities = ["update"]
}

# Let a token read its own identity entity.
path "identity/entity/id/{{identity.entity.id}}" {
  capabilities = ["read"]
}
path "identity/entity/name/{{identity.entity.name}}" {
  capabilities = ["read"]
}

# Let a token see its resultant ACL (used by UIs).
path "sys/internal/ui/resultant-acl" {
    capabilities = ["read"]
}

# Let a token renew and look up leases by id.
path "sys/leases/renew" {
    capabilities = ["update"]
}
path "sys/leases/lookup" {
    capabilities = ["update"]
}

# A token's private storage.
path "cubbyhole/*" {
    capabilities = ["create", "read", "update", "delete", "list"]
}

# Response wrapping.
path "sys/wrapping/wrap" {
    capabilities = ["update"]
}
path "sys/wrapping/lookup" {
    capabilities = ["update"]
}
path "sys/wrapping/unwrap" {
    capabilities = ["update"]
}

# General purpose tools.
path "sys/tools/hash" {
    capabilities = ["update"]
}
path "sys/tools/hash/*" {
    capabilities = ["update"]
}

# OIDC provider authorization endpoint.
path "identity/oidc/provider/+/authorize" {
    capabilities = ["read", "update"]
}
"#;

/// The one policy of a wrapping token: it may read its own cubbyhole's
/// `response` and use the wrapping endpoints, nothing else. Built in, never
/// stored, cannot be changed.
pub const RESPONSE_WRAPPING_POLICY_NAME: &str = "response-wrapping";
const RESPONSE_WRAPPING_POLICY: &str = r#"
path "cubbyhole/response" {
    capabilities = ["create", "read"]
}
path "sys/wrapping/*" {
    capabilities = ["update"]
}
"#;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredPolicy {
    pub name: String,
    pub policy: String,
    pub version: u64,
    /// Unix nanoseconds of the last write.
    pub modified: i64,
}

/// What the store keeps in memory, behind one lock so that a fill and an
/// invalidation cannot interleave.
#[derive(Default)]
struct Caches {
    /// Bumped by every change of a policy. A fill remembers it before it
    /// reads storage and inserts only if it has not moved: a policy read
    /// before a write or delete is never cached after it.
    generation: u64,
    parsed: HashMap<String, Arc<Policy>>,
    /// Non-root ACLs, keyed by their policy names.
    acls: HashMap<Vec<String>, Arc<Acl>>,
}

pub struct PolicyStore {
    view: View,
    clock: Clock,
    caches: RwLock<Caches>,
    /// The ACL of every root token.
    root_acl: Arc<Acl>,
    root: Arc<Policy>,
    response_wrapping: Arc<Policy>,
}

impl PolicyStore {
    pub async fn load(view: View, clock: Clock) -> Result<Self> {
        let response_wrapping = Arc::new(
            parse::parse(RESPONSE_WRAPPING_POLICY_NAME, RESPONSE_WRAPPING_POLICY)
                .map_err(|e| Error::internal(e.to_string()))?,
        );
        let root = Arc::new(Policy {
            name: "root".into(),
            raw: String::new(),
            paths: Vec::new(),
        });
        let store = Self {
            root_acl: Arc::new(Acl::new(std::slice::from_ref(&root), true)),
            root,
            response_wrapping,
            view,
            clock,
            caches: RwLock::new(Caches::default()),
        };
        if store.stored("default").await?.is_none() {
            store.write("default", DEFAULT_POLICY).await?;
        }
        Ok(store)
    }

    /// The stored form of a policy (None for `root`, which is not stored).
    pub async fn stored(&self, name: &str) -> Result<Option<StoredPolicy>> {
        Ok(self
            .view
            .get_json::<StoredPolicy>(&name.to_lowercase())
            .await?)
    }

    pub async fn get(&self, name: &str) -> Result<Option<Arc<Policy>>> {
        let name = name.to_lowercase();
        if name == "root" {
            return Ok(Some(Arc::clone(&self.root)));
        }
        if name == RESPONSE_WRAPPING_POLICY_NAME {
            return Ok(Some(Arc::clone(&self.response_wrapping)));
        }
        let generation = {
            let caches = self.read_caches();
            if let Some(p) = caches.parsed.get(&name) {
                return Ok(Some(Arc::clone(p)));
            }
            caches.generation
        };
        let Some(stored) = self.stored(&name).await? else {
            return Ok(None);
        };
        let parsed = Arc::new(
            parse::parse(&name, &stored.policy).map_err(|e| Error::internal(e.to_string()))?,
        );
        let mut caches = self.write_caches();
        if caches.generation == generation {
            caches.parsed.insert(name, Arc::clone(&parsed));
        }
        Ok(Some(parsed))
    }

    fn read_caches(&self) -> std::sync::RwLockReadGuard<'_, Caches> {
        // Poisoned only by a panic between two map operations; the maps
        // are still whole and at worst miss an entry.
        self.caches.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_caches(&self) -> std::sync::RwLockWriteGuard<'_, Caches> {
        self.caches.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Parses and stores a policy. `root` cannot be written.
    pub async fn set(&self, name: &str, raw: &str) -> Result<()> {
        let name = name.to_lowercase();
        if name == "root" || name == RESPONSE_WRAPPING_POLICY_NAME {
            return Err(Error::invalid(format!("cannot update {name:?} policy")));
        }
        if name.is_empty() {
            return Err(Error::invalid("policy name must be provided"));
        }
        parse::parse(&name, raw).map_err(|e| Error::invalid(e.to_string()))?;
        self.write(&name, raw).await?;
        tracing::info!(policy = %name, "policy written");
        Ok(())
    }

    async fn write(&self, name: &str, raw: &str) -> Result<()> {
        let version = self.stored(name).await?.map_or(1, |p| p.version + 1);
        let stored = StoredPolicy {
            name: name.to_owned(),
            policy: raw.to_owned(),
            version,
            modified: self.clock.now_nanos(),
        };
        self.view.put_json(name, &stored).await?;
        self.invalidate(name);
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        let name = name.to_lowercase();
        match name.as_str() {
            "root" => return Err(Error::invalid("cannot delete \"root\" policy")),
            "default" => return Err(Error::invalid("cannot delete default policy")),
            RESPONSE_WRAPPING_POLICY_NAME => {
                return Err(Error::invalid(format!(
                    "cannot delete {RESPONSE_WRAPPING_POLICY_NAME:?} policy"
                )));
            }
            _ => {}
        }
        self.view.delete(&name).await?;
        self.invalidate(&name);
        tracing::info!(policy = %name, "policy deleted");
        Ok(())
    }

    /// Called after a policy's stored form changed.
    fn invalidate(&self, name: &str) {
        let mut caches = self.write_caches();
        caches.generation += 1;
        caches.parsed.remove(name);
        caches.acls.clear();
    }

    /// Stored names sorted, then `root`, as Vault lists them.
    pub async fn list(&self) -> Result<Vec<String>> {
        let mut names: Vec<String> = self
            .view
            .list("")
            .await?
            .into_iter()
            .filter(|n| !n.ends_with('/'))
            .collect();
        names.sort();
        names.push("root".into());
        Ok(names)
    }

    pub async fn exists(&self, name: &str) -> Result<bool> {
        Ok(name == "root" || self.stored(name).await?.is_some())
    }

    /// The compiled ACL of a set of policy names (missing policies are
    /// skipped, as in Vault). `root_token`: the token is itself a root
    /// token; only then does the name `root` grant anything (Acl::new).
    pub async fn acl(&self, names: &[String], root_token: bool) -> Result<Arc<Acl>> {
        if root_token && names.iter().any(|n| n == "root") {
            return Ok(Arc::clone(&self.root_acl));
        }
        let generation = {
            let caches = self.read_caches();
            if let Some(a) = caches.acls.get(names) {
                return Ok(Arc::clone(a));
            }
            caches.generation
        };
        let mut policies = Vec::with_capacity(names.len());
        for n in names {
            if let Some(p) = self.get(n).await? {
                policies.push(p);
            }
        }
        let acl = Arc::new(Acl::new(&policies, false));
        let mut caches = self.write_caches();
        if caches.generation == generation {
            caches.acls.insert(names.to_vec(), Arc::clone(&acl));
        }
        Ok(acl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::Operation;
    use crate::storage::gate::{Gate, Kind};
    use serde_json::Map;

    const READ: &str = r#"path "secret/*" { capabilities = ["read"] }"#;
    const NONE: &str = r#"path "other/*" { capabilities = ["read"] }"#;

    async fn store() -> (Arc<Gate>, Arc<PolicyStore>) {
        let (gate, view) = Gate::with_view("sys/policy/").await;
        let store = PolicyStore::load(view, Clock::system()).await.unwrap();
        (gate, Arc::new(store))
    }

    async fn reads_secret(store: &PolicyStore) -> bool {
        let acl = store.acl(&["p".to_owned()], false).await.unwrap();
        acl.allow("secret/x", Operation::Read, &Map::new(), None)
            .allowed
    }

    /// A fill (of the parsed policy or of an ACL) that read storage before
    /// a change must not cache what it read after the change.
    async fn a_fill_racing(change: impl AsyncFnOnce(&PolicyStore), fill_acl: bool) {
        let (gate, store) = store().await;
        store.set("p", READ).await.unwrap();
        gate.arm(Kind::Get, "policy/p");
        let fill = tokio::spawn({
            let store = Arc::clone(&store);
            async move {
                if fill_acl {
                    reads_secret(&store).await;
                } else {
                    store.get("p").await.unwrap();
                }
            }
        });
        gate.reached().await;
        change(&store).await;
        gate.release();
        fill.await.unwrap();
        assert!(!reads_secret(&store).await, "a stale policy was cached");
    }

    #[tokio::test]
    async fn a_policy_read_before_a_write_is_not_cached_after_it() {
        a_fill_racing(async |s| s.set("p", NONE).await.unwrap(), false).await;
    }

    #[tokio::test]
    async fn a_policy_read_before_a_delete_is_not_cached_after_it() {
        a_fill_racing(async |s| s.delete("p").await.unwrap(), false).await;
    }

    #[tokio::test]
    async fn an_acl_built_before_a_write_is_not_cached_after_it() {
        a_fill_racing(async |s| s.set("p", NONE).await.unwrap(), true).await;
    }

    #[tokio::test]
    async fn an_acl_built_before_a_delete_is_not_cached_after_it() {
        a_fill_racing(async |s| s.delete("p").await.unwrap(), true).await;
    }
}

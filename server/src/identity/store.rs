//! The identity store: entities (who someone is, across auth methods) and
//! their aliases (how one auth method names them: a mount accessor and a
//! name). Every login resolves its alias here, creating the entity on
//! first sight, so tokens carry an `entity_id` and policies attached to an
//! entity apply to every token of it.
//!
//! One stored record per entity (`entity/<id>`, aliases inside), all of
//! them loaded at unseal into in-memory indexes; changes are written
//! through before the indexes move.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::barrier::View;
use crate::clock::{self, Clock};
use crate::error::{Error, Result};

/// `entity/<id>` -> Entity.
const ENTITY_PREFIX: &str = "entity/";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alias {
    pub id: String,
    pub mount_accessor: String,
    pub mount_type: String,
    pub mount_path: String,
    pub name: String,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub custom_metadata: BTreeMap<String, String>,
    pub creation_time: i64,
    pub last_update_time: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entity {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub policies: Vec<String>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub aliases: Vec<Alias>,
    #[serde(default)]
    pub disabled: bool,
    pub creation_time: i64,
    pub last_update_time: i64,
}

fn opt_map(m: &BTreeMap<String, String>) -> Value {
    if m.is_empty() { Value::Null } else { json!(m) }
}

impl Alias {
    pub fn to_api(&self, entity_id: &str) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("canonical_id".into(), json!(entity_id));
        m.insert(
            "creation_time".into(),
            json!(clock::rfc3339_nanos(self.creation_time)),
        );
        m.insert("custom_metadata".into(), opt_map(&self.custom_metadata));
        m.insert("id".into(), json!(self.id));
        m.insert(
            "last_update_time".into(),
            json!(clock::rfc3339_nanos(self.last_update_time)),
        );
        m.insert("local".into(), json!(false));
        m.insert("merged_from_canonical_ids".into(), Value::Null);
        m.insert("metadata".into(), opt_map(&self.metadata));
        m.insert("mount_accessor".into(), json!(self.mount_accessor));
        m.insert("mount_path".into(), json!(self.mount_path));
        m.insert("mount_type".into(), json!(self.mount_type));
        m.insert("name".into(), json!(self.name));
        m
    }
}

impl Entity {
    pub fn to_api(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "aliases".into(),
            Value::Array(
                self.aliases
                    .iter()
                    .map(|a| Value::Object(a.to_api(&self.id)))
                    .collect(),
            ),
        );
        m.insert(
            "creation_time".into(),
            json!(clock::rfc3339_nanos(self.creation_time)),
        );
        m.insert("direct_group_ids".into(), json!([]));
        m.insert("disabled".into(), json!(self.disabled));
        m.insert("group_ids".into(), json!([]));
        m.insert("id".into(), json!(self.id));
        m.insert("inherited_group_ids".into(), json!([]));
        m.insert(
            "last_update_time".into(),
            json!(clock::rfc3339_nanos(self.last_update_time)),
        );
        m.insert("merged_entity_ids".into(), Value::Null);
        m.insert("metadata".into(), opt_map(&self.metadata));
        m.insert("name".into(), json!(self.name));
        m.insert("namespace_id".into(), json!("root"));
        m.insert("policies".into(), json!(self.policies));
        m
    }
}

/// The mount an alias belongs to, as the caller knows it.
pub struct AliasMount<'a> {
    pub accessor: &'a str,
    pub mount_type: &'a str,
    /// `auth/userpass/`.
    pub path: &'a str,
}

#[derive(Default)]
struct Indexes {
    entities: HashMap<String, Arc<Entity>>,
    by_name: HashMap<String, String>,
    /// (mount accessor, alias name) -> entity id.
    by_alias: HashMap<(String, String), String>,
    /// alias id -> entity id.
    alias_owner: HashMap<String, String>,
}

impl Indexes {
    fn insert(&mut self, e: Arc<Entity>) {
        self.by_name.insert(e.name.clone(), e.id.clone());
        for a in &e.aliases {
            self.by_alias
                .insert((a.mount_accessor.clone(), a.name.clone()), e.id.clone());
            self.alias_owner.insert(a.id.clone(), e.id.clone());
        }
        self.entities.insert(e.id.clone(), e);
    }

    fn remove(&mut self, id: &str) -> Option<Arc<Entity>> {
        let e = self.entities.remove(id)?;
        self.by_name.remove(&e.name);
        for a in &e.aliases {
            self.by_alias
                .remove(&(a.mount_accessor.clone(), a.name.clone()));
            self.alias_owner.remove(&a.id);
        }
        Some(e)
    }
}

/// What a write to an entity may change.
#[derive(Default)]
pub struct EntityUpdate {
    pub name: Option<String>,
    pub policies: Option<Vec<String>>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub disabled: Option<bool>,
}

pub struct IdentityStore {
    view: View,
    clock: Clock,
    idx: RwLock<Indexes>,
    /// Serializes read-modify-write of entities.
    write: tokio::sync::Mutex<()>,
}

impl IdentityStore {
    pub async fn load(view: View, clock: Clock) -> Result<Self> {
        let mut idx = Indexes::default();
        for id in view.list(ENTITY_PREFIX).await? {
            if let Some(e) = view
                .get_json::<Entity>(&format!("{ENTITY_PREFIX}{id}"))
                .await?
            {
                idx.insert(Arc::new(e));
            }
        }
        Ok(Self {
            view,
            clock,
            idx: RwLock::new(idx),
            write: tokio::sync::Mutex::new(()),
        })
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Indexes> {
        self.idx.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_idx(&self) -> std::sync::RwLockWriteGuard<'_, Indexes> {
        self.idx.write().unwrap_or_else(|e| e.into_inner())
    }

    async fn persist(&self, e: Entity) -> Result<Arc<Entity>> {
        self.view
            .put_json(&format!("{ENTITY_PREFIX}{}", e.id), &e)
            .await?;
        let e = Arc::new(e);
        let mut idx = self.write_idx();
        idx.remove(&e.id);
        idx.insert(Arc::clone(&e));
        Ok(e)
    }

    pub fn entity(&self, id: &str) -> Option<Arc<Entity>> {
        self.read().entities.get(id).cloned()
    }

    pub fn entity_by_name(&self, name: &str) -> Option<Arc<Entity>> {
        let idx = self.read();
        idx.by_name
            .get(name)
            .and_then(|id| idx.entities.get(id))
            .cloned()
    }

    pub fn entity_by_alias(&self, accessor: &str, name: &str) -> Option<Arc<Entity>> {
        let idx = self.read();
        idx.by_alias
            .get(&(accessor.to_owned(), name.to_owned()))
            .and_then(|id| idx.entities.get(id))
            .cloned()
    }

    /// The alias with this id and its entity.
    pub fn alias(&self, alias_id: &str) -> Option<(Arc<Entity>, Alias)> {
        let idx = self.read();
        let e = idx
            .alias_owner
            .get(alias_id)
            .and_then(|id| idx.entities.get(id))?;
        let a = e.aliases.iter().find(|a| a.id == alias_id)?.clone();
        Some((Arc::clone(e), a))
    }

    pub fn entities(&self) -> Vec<Arc<Entity>> {
        let mut v: Vec<_> = self.read().entities.values().cloned().collect();
        v.sort_by(|a, b| a.id.cmp(&b.id));
        v
    }

    /// The policies an entity adds to its tokens (none when disabled or
    /// gone).
    pub fn policies(&self, entity_id: &str) -> Vec<String> {
        self.read()
            .entities
            .get(entity_id)
            .filter(|e| !e.disabled)
            .map(|e| {
                e.policies
                    .iter()
                    .filter(|p| *p != "root")
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every policy a token acts with now: its own, plus its entity's.
    /// `None` when its entity is disabled: such a token may do nothing.
    pub fn effective_policies(&self, entry: &crate::token::TokenEntry) -> Option<Vec<String>> {
        if entry.entity_id.is_empty() {
            return Some(entry.policies.clone());
        }
        let idx = self.read();
        let Some(e) = idx.entities.get(&entry.entity_id) else {
            return Some(entry.policies.clone());
        };
        if e.disabled {
            return None;
        }
        let mut names = entry.policies.clone();
        // `root` is refused in entity policies on write; one stored before
        // that check existed is dropped here too (and Acl::new grants root
        // only to a root token anyway).
        names.extend(e.policies.iter().filter(|p| *p != "root").cloned());
        names.sort();
        names.dedup();
        Some(names)
    }

    fn new_entity(&self, id: Option<String>, name: Option<String>) -> Entity {
        let id = id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let now = self.clock.now_nanos();
        let name = name.unwrap_or_else(|| {
            format!(
                "entity_{}.root",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            )
        });
        Entity {
            id,
            name,
            policies: Vec::new(),
            metadata: BTreeMap::new(),
            aliases: Vec::new(),
            disabled: false,
            creation_time: now,
            last_update_time: now,
        }
    }

    /// A login's alias: the entity that has it, created (with the alias)
    /// on first sight; the alias metadata follows the latest login.
    pub async fn resolve_login(
        &self,
        mount: &AliasMount<'_>,
        name: &str,
        metadata: &BTreeMap<String, String>,
    ) -> Result<Arc<Entity>> {
        if let Some(e) = self.entity_by_alias(mount.accessor, name) {
            let stale = e.aliases.iter().any(|a| {
                a.mount_accessor == mount.accessor && a.name == name && &a.metadata != metadata
            });
            if !stale {
                return Ok(e);
            }
        }
        let _guard = self.write.lock().await;
        let now = self.clock.now_nanos();
        let mut entity = match self.entity_by_alias(mount.accessor, name) {
            Some(e) => (*e).clone(),
            None => {
                let mut e = self.new_entity(None, None);
                e.aliases.push(Alias {
                    id: uuid::Uuid::new_v4().to_string(),
                    mount_accessor: mount.accessor.to_owned(),
                    mount_type: mount.mount_type.to_owned(),
                    mount_path: mount.path.to_owned(),
                    name: name.to_owned(),
                    metadata: BTreeMap::new(),
                    custom_metadata: BTreeMap::new(),
                    creation_time: now,
                    last_update_time: now,
                });
                e
            }
        };
        for a in entity
            .aliases
            .iter_mut()
            .filter(|a| a.mount_accessor == mount.accessor && a.name == name)
        {
            if &a.metadata != metadata {
                a.metadata = metadata.clone();
                a.last_update_time = now;
            }
        }
        self.persist(entity).await
    }

    /// `identity/entity` (create, or update by id) and
    /// `identity/entity/{id,name}/:key` writes.
    pub async fn upsert_entity(&self, id: Option<&str>, upd: EntityUpdate) -> Result<Arc<Entity>> {
        let _guard = self.write.lock().await;
        let mut e = match id {
            Some(id) => (*self
                .entity(id)
                .ok_or_else(|| Error::invalid("entity not found"))?)
            .clone(),
            None => match upd.name.as_deref().and_then(|n| self.entity_by_name(n)) {
                // Vault updates an entity written again by name.
                Some(existing) => (*existing).clone(),
                None => self.new_entity(None, upd.name.clone()),
            },
        };
        if let Some(name) = upd.name.filter(|n| *n != e.name) {
            if self.entity_by_name(&name).is_some() {
                return Err(Error::invalid("entity name is already in use"));
            }
            e.name = name;
        }
        if let Some(p) = upd.policies {
            // Policy names are case-insensitive: stored lowercased, as the
            // policy store keeps them.
            let mut p: Vec<String> = p
                .into_iter()
                .map(|s| s.trim().to_lowercase())
                .filter(|s| !s.is_empty())
                .collect();
            if p.iter().any(|p| p == "root") {
                return Err(Error::invalid("policies cannot contain root"));
            }
            p.sort();
            p.dedup();
            e.policies = p;
        }
        if let Some(m) = upd.metadata {
            e.metadata = m;
        }
        if let Some(d) = upd.disabled {
            e.disabled = d;
        }
        e.last_update_time = self.clock.now_nanos();
        self.persist(e).await
    }

    pub async fn delete_entity(&self, id: &str) -> Result<()> {
        let _guard = self.write.lock().await;
        self.view.delete(&format!("{ENTITY_PREFIX}{id}")).await?;
        self.write_idx().remove(id);
        Ok(())
    }

    /// `identity/entity-alias`: an alias made by hand for an entity.
    pub async fn create_alias(
        &self,
        entity_id: &str,
        mount: &AliasMount<'_>,
        name: &str,
        custom_metadata: BTreeMap<String, String>,
    ) -> Result<Alias> {
        let _guard = self.write.lock().await;
        if let Some(owner) = self.entity_by_alias(mount.accessor, name) {
            return Err(Error::invalid(format!(
                "alias with combination of mount accessor and name already exists for entity {:?}",
                owner.id
            )));
        }
        let mut e = (*self
            .entity(entity_id)
            .ok_or_else(|| Error::invalid("invalid canonical ID"))?)
        .clone();
        if e.aliases.iter().any(|a| a.mount_accessor == mount.accessor) {
            return Err(Error::invalid(
                "entity already has an alias on this mount accessor",
            ));
        }
        let now = self.clock.now_nanos();
        let alias = Alias {
            id: uuid::Uuid::new_v4().to_string(),
            mount_accessor: mount.accessor.to_owned(),
            mount_type: mount.mount_type.to_owned(),
            mount_path: mount.path.to_owned(),
            name: name.to_owned(),
            metadata: BTreeMap::new(),
            custom_metadata,
            creation_time: now,
            last_update_time: now,
        };
        e.aliases.push(alias.clone());
        e.last_update_time = now;
        self.persist(e).await?;
        Ok(alias)
    }

    pub async fn delete_alias(&self, alias_id: &str) -> Result<()> {
        let _guard = self.write.lock().await;
        let Some((e, _)) = self.alias(alias_id) else {
            return Ok(());
        };
        let mut e = (*e).clone();
        e.aliases.retain(|a| a.id != alias_id);
        e.last_update_time = self.clock.now_nanos();
        self.persist(e).await?;
        Ok(())
    }

    /// Drops the aliases of a disabled auth mount.
    pub async fn drop_mount(&self, accessor: &str) -> Result<()> {
        // Under the lock before reading: an update in between would be
        // overwritten by the copy read here.
        let _guard = self.write.lock().await;
        let affected: Vec<Arc<Entity>> = self
            .entities()
            .into_iter()
            .filter(|e| e.aliases.iter().any(|a| a.mount_accessor == accessor))
            .collect();
        for e in affected {
            let mut e = (*e).clone();
            e.aliases.retain(|a| a.mount_accessor != accessor);
            self.persist(e).await?;
        }
        Ok(())
    }
}

//! `identity/`: entities and entity aliases (store.rs) and their
//! endpoints: `entity`, `entity/id/:id`, `entity/name/:name`,
//! `entity-alias`, `entity-alias/id/:id`, `lookup/entity`. Built in, like
//! Vault's; groups are not implemented (docs/compat.md).

pub mod store;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::backend::Backend;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use crate::router::{Mounts, Table};

pub use store::{AliasMount, Entity, EntityUpdate, IdentityStore};

pub struct IdentityBackend {
    store: Arc<IdentityStore>,
    mounts: Arc<Mounts>,
}

fn entity_update(d: &Map<String, Value>) -> Result<EntityUpdate> {
    Ok(EntityUpdate {
        name: fields::string(d, "name")?.filter(|n| !n.is_empty()),
        policies: fields::string_list(d, "policies")?,
        metadata: fields::string_map(d, "metadata")?,
        disabled: fields::bool(d, "disabled")?,
    })
}

fn created(e: &Entity) -> Response {
    Response::from_value(json!({
        "aliases": if e.aliases.is_empty() { Value::Null } else {
            Value::Array(e.aliases.iter().map(|a| Value::Object(a.to_api(&e.id))).collect())
        },
        "id": e.id,
        "name": e.name,
    }))
}

impl IdentityBackend {
    pub fn new(store: Arc<IdentityStore>, mounts: Arc<Mounts>) -> Self {
        Self { store, mounts }
    }

    fn entity_list(&self, by_name: bool) -> Result<Response> {
        let entities = self.store.entities();
        if entities.is_empty() {
            return Err(Error::NotFound);
        }
        if by_name {
            let mut names: Vec<String> = entities.iter().map(|e| e.name.clone()).collect();
            names.sort();
            return Ok(Response::list(names));
        }
        let mut info = Map::new();
        for e in &entities {
            let aliases: Vec<Value> = e
                .aliases
                .iter()
                .map(|a| {
                    json!({"id": a.id, "mount_accessor": a.mount_accessor,
                           "mount_path": a.mount_path, "mount_type": a.mount_type, "name": a.name})
                })
                .collect();
            info.insert(e.id.clone(), json!({"aliases": aliases, "name": e.name}));
        }
        let mut data = Map::new();
        data.insert("key_info".into(), Value::Object(info));
        data.insert(
            "keys".into(),
            json!(entities.iter().map(|e| e.id.clone()).collect::<Vec<_>>()),
        );
        Ok(Response::data(data))
    }

    async fn entity_by(&self, req: &Request, by_name: bool, key: &str) -> Result<Response> {
        let found = if by_name {
            self.store.entity_by_name(key)
        } else {
            self.store.entity(key)
        };
        match req.operation {
            Operation::Read => found
                .map(|e| Response::data(e.to_api()))
                .ok_or(Error::NotFound),
            Operation::Create | Operation::Update => {
                let mut upd = entity_update(&req.data)?;
                let id = match (&found, by_name) {
                    (Some(e), _) => Some(e.id.clone()),
                    (None, false) => return Err(Error::invalid("entity not found")),
                    (None, true) => {
                        upd.name = Some(key.to_owned());
                        None
                    }
                };
                let e = self.store.upsert_entity(id.as_deref(), upd).await?;
                Ok(if found.is_some() {
                    Response::empty()
                } else {
                    created(&e)
                })
            }
            Operation::Delete => {
                if let Some(e) = found {
                    self.store.delete_entity(&e.id).await?;
                }
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    fn mount_of(&self, accessor: &str) -> Result<Arc<crate::router::MountEntry>> {
        self.mounts
            .by_accessor(accessor)
            .filter(|m| m.table == Table::Auth)
            .ok_or_else(|| Error::invalid(format!("invalid mount accessor {accessor:?}")))
    }

    async fn create_alias(&self, req: &Request) -> Result<Response> {
        let d = &req.data;
        let name = fields::string(d, "name")?.unwrap_or_default();
        if name.is_empty() {
            return Err(Error::invalid("missing alias name"));
        }
        let accessor = fields::string(d, "mount_accessor")?.unwrap_or_default();
        if accessor.is_empty() {
            return Err(Error::invalid("missing mount_accessor"));
        }
        let canonical = fields::string(d, "canonical_id")?
            .or(fields::string(d, "entity_id")?)
            .unwrap_or_default();
        let mount = self.mount_of(&accessor)?;
        let path = mount.route_prefix();
        let custom = fields::string_map(d, "custom_metadata")?.unwrap_or_default();
        let entity_id = if canonical.is_empty() {
            self.store
                .upsert_entity(None, EntityUpdate::default())
                .await?
                .id
                .clone()
        } else {
            canonical
        };
        let alias = self
            .store
            .create_alias(
                &entity_id,
                &AliasMount {
                    accessor: &accessor,
                    mount_type: &mount.mount_type,
                    path: &path,
                },
                &name,
                custom,
            )
            .await?;
        Ok(Response::from_value(
            json!({"canonical_id": entity_id, "id": alias.id}),
        ))
    }

    fn alias_list(&self) -> Result<Response> {
        let mut info = Map::new();
        let mut keys = Vec::new();
        for e in self.store.entities() {
            for a in &e.aliases {
                keys.push(a.id.clone());
                let mut v = a.to_api(&e.id);
                for k in [
                    "creation_time",
                    "last_update_time",
                    "id",
                    "merged_from_canonical_ids",
                ] {
                    v.remove(k);
                }
                info.insert(a.id.clone(), Value::Object(v));
            }
        }
        if keys.is_empty() {
            return Err(Error::NotFound);
        }
        keys.sort();
        let mut data = Map::new();
        data.insert("key_info".into(), Value::Object(info));
        data.insert("keys".into(), json!(keys));
        Ok(Response::data(data))
    }

    async fn alias_by_id(&self, req: &Request, id: &str) -> Result<Response> {
        match req.operation {
            Operation::Read => {
                let (e, a) = self.store.alias(id).ok_or(Error::NotFound)?;
                let mut v = a.to_api(&e.id);
                v.insert("namespace_id".into(), json!("root"));
                Ok(Response::data(v))
            }
            Operation::Delete => {
                self.store.delete_alias(id).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    fn lookup(&self, req: &Request) -> Result<Response> {
        let d = &req.data;
        let s = |k: &str| -> Result<Option<String>> {
            Ok(fields::string(d, k)?.filter(|v| !v.is_empty()))
        };
        let (id, name, alias_id, alias_name, accessor) = (
            s("id")?,
            s("name")?,
            s("alias_id")?,
            s("alias_name")?,
            s("alias_mount_accessor")?,
        );
        let given = [&id, &name, &alias_id, &alias_name]
            .iter()
            .filter(|v| v.is_some())
            .count();
        if given == 0 {
            return Err(Error::invalid("query parameter not supplied"));
        }
        if given > 1 {
            return Err(Error::invalid(
                "query parameter conflict; please supply distinct set of query parameters",
            ));
        }
        let found = if let Some(id) = id {
            self.store.entity(&id)
        } else if let Some(n) = name {
            self.store.entity_by_name(&n)
        } else if let Some(a) = alias_id {
            self.store.alias(&a).map(|(e, _)| e)
        } else {
            let accessor =
                accessor.ok_or_else(|| Error::invalid("missing alias_mount_accessor"))?;
            self.store
                .entity_by_alias(&accessor, alias_name.as_deref().unwrap_or_default())
        };
        Ok(found.map_or_else(Response::empty, |e| Response::data(e.to_api())))
    }
}

#[async_trait]
impl Backend for IdentityBackend {
    /// Reads only read.
    fn pure_reads(&self) -> bool {
        true
    }

    async fn handle(&self, req: &mut Request) -> Result<Response> {
        let rel = req.rel_path().trim_end_matches('/').to_owned();
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        match rel.as_str() {
            "entity" if write => {
                let upd = entity_update(&req.data)?;
                let id = fields::string(&req.data, "id")?.filter(|v| !v.is_empty());
                let existed = id.is_some()
                    || upd
                        .name
                        .as_deref()
                        .is_some_and(|n| self.store.entity_by_name(n).is_some());
                let e = self.store.upsert_entity(id.as_deref(), upd).await?;
                Ok(if existed {
                    Response::empty()
                } else {
                    created(&e)
                })
            }
            "entity/id" if op == Operation::List => self.entity_list(false),
            "entity/name" if op == Operation::List => self.entity_list(true),
            "entity-alias" if write => self.create_alias(req).await,
            "entity-alias/id" if op == Operation::List => self.alias_list(),
            "lookup/entity" if write => self.lookup(req),
            r => {
                if let Some(id) = r.strip_prefix("entity/id/") {
                    self.entity_by(req, false, id).await
                } else if let Some(name) = r.strip_prefix("entity/name/") {
                    self.entity_by(req, true, name).await
                } else if let Some(id) = r.strip_prefix("entity-alias/id/") {
                    self.alias_by_id(req, id).await
                } else {
                    Err(Error::UnsupportedPath)
                }
            }
        }
    }
}

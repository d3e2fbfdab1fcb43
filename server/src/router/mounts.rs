//! The mount manager: enables, disables and tunes secret engines and auth
//! methods. The two tables are stored through the barrier (`core/mounts`,
//! `core/auth`); each mount gets a storage view under its UUID so that
//! disabling it drops everything it stored.
//!
//! Order of changes, for crash safety: a new mount's table entry is stored
//! before it is routed; a disabled mount leaves the table first and its
//! data second (a crash in between leaves orphaned ciphertext, never a
//! mount pointing at missing data).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{MountConfig, MountEntry, MountMetrics, Route, Router, Table};
use crate::backend::Backend;
use crate::barrier::{Barrier, View};
use crate::error::{Error, Result};

/// The secret engine table.
const MOUNT_TABLE_PATH: &str = "core/mounts";
/// The auth method table.
const AUTH_TABLE_PATH: &str = "core/auth";

/// Builds a backend for a mount of a given type (None: unknown type).
pub type Factory = Arc<dyn Fn(&MountEntry, View) -> Option<Result<Arc<dyn Backend>>> + Send + Sync>;

/// The server-wide lease TTLs a mount falls back to.
#[derive(Debug, Clone, Copy)]
pub struct SystemTtl {
    pub default: Duration,
    pub max: Duration,
}

impl Default for SystemTtl {
    fn default() -> Self {
        // 768h, Vault's defaults.
        let d = Duration::from_secs(768 * 3600);
        Self { default: d, max: d }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredTable {
    entries: Vec<MountEntry>,
}

/// What a request to enable a mount carries.
#[derive(Debug, Clone, Default)]
pub struct MountRequest {
    pub mount_type: String,
    pub description: String,
    pub config: MountConfig,
    pub options: Option<BTreeMap<String, String>>,
    pub local: bool,
    pub seal_wrap: bool,
}

pub struct Mounts {
    barrier: Arc<Barrier>,
    router: Arc<Router>,
    factory: Factory,
    ttl: SystemTtl,
    entries: RwLock<Vec<Arc<MountEntry>>>,
    /// Serializes table changes.
    change: tokio::sync::Mutex<()>,
    builtins: RwLock<HashMap<String, Arc<dyn Backend>>>,
}

impl Mounts {
    pub fn new(
        barrier: Arc<Barrier>,
        router: Arc<Router>,
        factory: Factory,
        ttl: SystemTtl,
    ) -> Self {
        Self {
            barrier,
            router,
            factory,
            ttl,
            entries: RwLock::new(Vec::new()),
            change: tokio::sync::Mutex::new(()),
            builtins: RwLock::new(HashMap::new()),
        }
    }

    pub fn router(&self) -> &Arc<Router> {
        &self.router
    }

    pub fn system_ttl(&self) -> SystemTtl {
        self.ttl
    }

    /// Effective (default, max) lease TTLs of a mount.
    pub fn ttls(&self, entry: &MountEntry) -> (Duration, Duration) {
        let d = match entry.config.default_lease_ttl {
            0 => self.ttl.default,
            s => Duration::from_secs(s),
        };
        let m = match entry.config.max_lease_ttl {
            0 => self.ttl.max,
            s => Duration::from_secs(s),
        };
        (d, m)
    }

    /// Loads both tables (creating the built-in mounts on first start) and
    /// routes every mount. `builtins` maps a built-in type to its backend.
    pub async fn load(
        &self,
        builtins: HashMap<String, Arc<dyn Backend>>,
        defaults: Vec<MountEntry>,
    ) -> Result<()> {
        *self.builtins.write().unwrap_or_else(|e| e.into_inner()) = builtins;
        let mut all = Vec::new();
        for (table, path) in [
            (Table::Mounts, MOUNT_TABLE_PATH),
            (Table::Auth, AUTH_TABLE_PATH),
        ] {
            let stored = self.barrier.get(path).await?;
            let mut entries = match stored {
                Some(bytes) => {
                    serde_json::from_slice::<StoredTable>(&bytes)
                        .map_err(|e| {
                            Error::internal(format!("mount table {path} is corrupt: {e}"))
                        })?
                        .entries
                }
                None => Vec::new(),
            };
            let mut changed = false;
            for d in defaults.iter().filter(|d| d.table == table) {
                if !entries.iter().any(|e| e.path == d.path) {
                    entries.push(d.clone());
                    changed = true;
                }
            }
            if changed {
                self.persist(table, &entries).await?;
            }
            all.extend(entries);
        }
        for entry in all {
            let entry = Arc::new(entry);
            let backend = self.build(&entry)?;
            self.route(Arc::clone(&entry), backend);
            self.entries
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .push(entry);
        }
        Ok(())
    }

    fn build(&self, entry: &MountEntry) -> Result<Arc<dyn Backend>> {
        if let Some(b) = self
            .builtins
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&entry.mount_type)
        {
            return Ok(Arc::clone(b));
        }
        let view = View::new(Arc::clone(&self.barrier), &entry.storage_prefix());
        match (self.factory)(entry, view) {
            Some(r) => r,
            None => Err(Error::invalid(format!(
                "plugin not found in the catalog: {}",
                entry.mount_type
            ))),
        }
    }

    fn route(&self, entry: Arc<MountEntry>, backend: Arc<dyn Backend>) {
        let metrics = self
            .router
            .route(&entry.route_prefix())
            .filter(|r| r.prefix == entry.route_prefix())
            .map(|r| Arc::clone(&r.metrics))
            .unwrap_or_else(|| Arc::new(MountMetrics::default()));
        self.router.insert(Route {
            prefix: entry.route_prefix(),
            entry,
            backend,
            metrics,
        });
    }

    async fn persist(&self, table: Table, entries: &[MountEntry]) -> Result<()> {
        let path = match table {
            Table::Mounts => MOUNT_TABLE_PATH,
            Table::Auth => AUTH_TABLE_PATH,
        };
        let stored = StoredTable {
            entries: entries.to_vec(),
        };
        self.barrier
            .put(path, &crate::barrier::view::to_json(&stored))
            .await?;
        Ok(())
    }

    fn table_entries(&self, table: Table) -> Vec<MountEntry> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| e.table == table)
            .map(|e| (**e).clone())
            .collect()
    }

    pub fn list(&self, table: Table) -> Vec<Arc<MountEntry>> {
        let mut v: Vec<_> = self
            .entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| e.table == table)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    pub fn get(&self, table: Table, path: &str) -> Option<Arc<MountEntry>> {
        let path = normalize(path);
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|e| e.table == table && e.path == path)
            .cloned()
    }

    /// Drops every route and backend (seal). Backends such as the system
    /// backend hold the mount manager, so without this the unsealed graph
    /// would keep itself alive after seal.
    pub fn teardown(&self) {
        self.router.clear();
        self.builtins
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The mount with this accessor (identity aliases, token renewal).
    pub fn by_accessor(&self, accessor: &str) -> Option<Arc<MountEntry>> {
        self.entries
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .find(|e| e.accessor == accessor)
            .cloned()
    }

    pub async fn mount(&self, table: Table, path: &str, req: MountRequest) -> Result<()> {
        let _guard = self.change.lock().await;
        let path = normalize(path);
        if req.mount_type.is_empty() {
            return Err(Error::invalid("backend type must be specified as a string"));
        }
        if path == "/"
            || path.starts_with('/')
            || path.contains("//")
            || path.split('/').any(|s| s == ".." || s == ".")
        {
            return Err(Error::invalid(format!("invalid mount path {path:?}")));
        }
        if table == Table::Mounts {
            for reserved in ["sys/", "auth/", "cubbyhole/", "identity/"] {
                if path.starts_with(reserved) || reserved.starts_with(path.as_str()) {
                    return Err(Error::invalid(format!("cannot mount {reserved:?}")));
                }
            }
        }
        let existing = self.table_entries(table);
        if let Some(clash) = existing
            .iter()
            .find(|e| path.starts_with(e.path.as_str()) || e.path.starts_with(path.as_str()))
        {
            return Err(Error::invalid(format!(
                "path is already in use at {}",
                clash.path
            )));
        }
        let mount_type = match req.mount_type.as_str() {
            "kv-v2" => "kv".to_owned(),
            t => t.to_owned(),
        };
        // The built-in backends exist once, where the server put them.
        match (table, mount_type.as_str()) {
            (Table::Auth, "token") => {
                return Err(Error::invalid(
                    "token credential backend cannot be instantiated",
                ));
            }
            (Table::Mounts, t @ ("cubbyhole" | "identity" | "system")) => {
                return Err(Error::invalid(format!(
                    "mount type of {t:?} is not mountable"
                )));
            }
            _ => {}
        }
        let mut options = req.options.clone();
        if req.mount_type == "kv-v2" {
            options
                .get_or_insert_with(BTreeMap::new)
                .insert("version".into(), "2".into());
        }
        if options.is_none() {
            options = Some(BTreeMap::new());
        }
        let accessor_prefix = match table {
            Table::Mounts => mount_type.clone(),
            Table::Auth => format!("auth_{mount_type}"),
        };
        let entry = MountEntry {
            table,
            path: path.clone(),
            mount_type,
            description: req.description,
            uuid: uuid::Uuid::new_v4().to_string(),
            accessor: format!(
                "{accessor_prefix}_{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
            config: req.config,
            options,
            local: req.local,
            seal_wrap: req.seal_wrap,
            external_entropy_access: false,
            builtin: false,
        };
        validate_ttls(&entry.config)?;
        let entry = Arc::new(entry);
        let backend = self.build(&entry)?;
        let mut next = existing;
        next.push((*entry).clone());
        self.persist(table, &next).await?;
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&entry));
        tracing::info!(path = %entry.route_prefix(), mount_type = %entry.mount_type, "enabled");
        self.route(entry, backend);
        Ok(())
    }

    /// Disables a mount and drops its storage. Not mounted: nothing to do.
    pub async fn unmount(&self, table: Table, path: &str) -> Result<()> {
        let _guard = self.change.lock().await;
        let path = normalize(path);
        let Some(entry) = self.get(table, &path) else {
            return Ok(());
        };
        if entry.builtin {
            return Err(Error::invalid(match (table, entry.mount_type.as_str()) {
                (Table::Auth, "token") => "token credential backend cannot be disabled".to_owned(),
                _ => format!("cannot unmount {:?}", entry.path),
            }));
        }
        let route = self.router.route(&entry.route_prefix());
        let next: Vec<MountEntry> = self
            .table_entries(table)
            .into_iter()
            .filter(|e| e.path != path)
            .collect();
        self.persist(table, &next).await?;
        self.router.remove(&entry.route_prefix());
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|e| !(e.table == table && e.path == path));
        if let Some(r) = route.filter(|r| r.prefix == entry.route_prefix()) {
            if let Err(e) = r.backend.cleanup().await {
                tracing::warn!(mount = %entry.path, error = %e, "backend cleanup failed");
            }
        }
        View::new(Arc::clone(&self.barrier), &entry.storage_prefix())
            .clear()
            .await?;
        tracing::info!(path = %entry.route_prefix(), mount_type = %entry.mount_type, "disabled");
        Ok(())
    }

    /// Applies a tune to a mount's config and description.
    pub async fn tune(
        &self,
        table: Table,
        path: &str,
        apply: impl FnOnce(&mut MountEntry) -> Result<()>,
    ) -> Result<Arc<MountEntry>> {
        let _guard = self.change.lock().await;
        let path = normalize(path);
        let Some(current) = self.get(table, &path) else {
            return Err(Error::invalid(format!(
                "cannot fetch sysview for path {:?}",
                current_prefix(table, &path)
            )));
        };
        let mut updated = (*current).clone();
        apply(&mut updated)?;
        let (d, m) = self.ttls(&updated);
        if updated.config.max_lease_ttl != 0 && d > m {
            return Err(Error::invalid(format!(
                "backend max lease TTL of {} would be less than backend default lease TTL of {}",
                m.as_secs(),
                d.as_secs()
            )));
        }
        let next: Vec<MountEntry> = self
            .table_entries(table)
            .into_iter()
            .map(|e| if e.path == path { updated.clone() } else { e })
            .collect();
        self.persist(table, &next).await?;
        let updated = Arc::new(updated);
        {
            let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
            for e in entries.iter_mut() {
                if e.table == table && e.path == path {
                    *e = Arc::clone(&updated);
                }
            }
        }
        if let Some(r) = self
            .router
            .route(&updated.route_prefix())
            .filter(|r| r.prefix == updated.route_prefix())
        {
            self.router.insert(Route {
                prefix: r.prefix.clone(),
                entry: Arc::clone(&updated),
                backend: Arc::clone(&r.backend),
                metrics: Arc::clone(&r.metrics),
            });
        }
        Ok(updated)
    }
}

fn current_prefix(table: Table, path: &str) -> String {
    match table {
        Table::Mounts => path.to_owned(),
        Table::Auth => format!("auth/{path}"),
    }
}

fn validate_ttls(c: &MountConfig) -> Result<()> {
    if c.max_lease_ttl != 0 && c.default_lease_ttl > c.max_lease_ttl {
        return Err(Error::invalid(format!(
            "backend max lease TTL of {} would be less than backend default lease TTL of {}",
            c.max_lease_ttl, c.default_lease_ttl
        )));
    }
    Ok(())
}

/// `foo` -> `foo/`; leading slashes dropped.
pub fn normalize(path: &str) -> String {
    let p = path.trim_start_matches('/');
    if p.ends_with('/') {
        p.to_owned()
    } else {
        format!("{p}/")
    }
}

/// A built-in mount entry (sys/, token/, cubbyhole/, identity/).
pub fn builtin_entry(table: Table, path: &str, mount_type: &str, description: &str) -> MountEntry {
    let accessor_prefix = match (table, mount_type) {
        (Table::Auth, t) => format!("auth_{t}"),
        (Table::Mounts, t) => t.to_owned(),
    };
    MountEntry {
        table,
        path: path.to_owned(),
        mount_type: mount_type.to_owned(),
        description: description.to_owned(),
        uuid: uuid::Uuid::new_v4().to_string(),
        accessor: format!(
            "{accessor_prefix}_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        ),
        config: MountConfig::default(),
        options: None,
        local: mount_type == "cubbyhole",
        seal_wrap: mount_type == "system",
        external_entropy_access: false,
        builtin: true,
    }
}

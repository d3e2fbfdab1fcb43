//! Routing: the mount table's entries (`MountEntry`), the longest-prefix
//! router that maps a request path to a mounted backend, and the mount
//! manager that enables, disables and tunes mounts (mounts.rs).

pub mod mounts;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::backend::Backend;

pub use mounts::Mounts;

/// Secret engines live in the `mounts` table, auth methods in `auth`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Table {
    Mounts,
    Auth,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MountConfig {
    /// Seconds; 0 = use the system default.
    #[serde(default)]
    pub default_lease_ttl: u64,
    #[serde(default)]
    pub max_lease_ttl: u64,
    #[serde(default)]
    pub force_no_cache: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub passthrough_request_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_response_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_request_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audit_non_hmac_response_keys: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listing_visibility: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MountEntry {
    pub table: Table,
    /// The mount path with its trailing slash (`secret/`, `token/`).
    pub path: String,
    #[serde(rename = "type")]
    pub mount_type: String,
    #[serde(default)]
    pub description: String,
    pub uuid: String,
    pub accessor: String,
    #[serde(default)]
    pub config: MountConfig,
    #[serde(default)]
    pub options: Option<BTreeMap<String, String>>,
    #[serde(default)]
    pub local: bool,
    #[serde(default)]
    pub seal_wrap: bool,
    #[serde(default)]
    pub external_entropy_access: bool,
    /// Mounts the server itself creates (sys, token, cubbyhole, identity):
    /// they cannot be disabled and report no deprecation status.
    #[serde(default)]
    pub builtin: bool,
}

impl MountEntry {
    /// The path requests are routed by: `secret/`, `auth/token/`.
    pub fn route_prefix(&self) -> String {
        match self.table {
            Table::Mounts => self.path.clone(),
            Table::Auth => format!("auth/{}", self.path),
        }
    }

    /// The storage prefix of this mount's view.
    pub fn storage_prefix(&self) -> String {
        match self.table {
            Table::Mounts => format!("logical/{}/", self.uuid),
            Table::Auth => format!("auth/{}/", self.uuid),
        }
    }

    /// The JSON Vault reports for a mount in `sys/mounts` and friends.
    pub fn to_api(&self) -> Map<String, Value> {
        let mut config = Map::new();
        config.insert(
            "default_lease_ttl".into(),
            json!(self.config.default_lease_ttl),
        );
        config.insert("force_no_cache".into(), json!(self.config.force_no_cache));
        config.insert("max_lease_ttl".into(), json!(self.config.max_lease_ttl));
        if self.table == Table::Auth {
            config.insert(
                "token_type".into(),
                json!(
                    self.config
                        .token_type
                        .as_deref()
                        .unwrap_or("default-service")
                ),
            );
        }
        for (k, v) in [
            (
                "passthrough_request_headers",
                &self.config.passthrough_request_headers,
            ),
            (
                "allowed_response_headers",
                &self.config.allowed_response_headers,
            ),
            (
                "audit_non_hmac_request_keys",
                &self.config.audit_non_hmac_request_keys,
            ),
            (
                "audit_non_hmac_response_keys",
                &self.config.audit_non_hmac_response_keys,
            ),
        ] {
            if !v.is_empty() {
                config.insert(k.into(), json!(v));
            }
        }
        if !self.config.listing_visibility.is_empty() {
            config.insert(
                "listing_visibility".into(),
                json!(self.config.listing_visibility),
            );
        }
        let mut m = Map::new();
        m.insert("accessor".into(), json!(self.accessor));
        m.insert("config".into(), Value::Object(config));
        if !self.builtin {
            m.insert("deprecation_status".into(), json!("supported"));
        }
        m.insert("description".into(), json!(self.description));
        m.insert(
            "external_entropy_access".into(),
            json!(self.external_entropy_access),
        );
        m.insert("local".into(), json!(self.local));
        m.insert(
            "options".into(),
            self.options.as_ref().map_or(Value::Null, |o| json!(o)),
        );
        m.insert("plugin_version".into(), json!(""));
        m.insert(
            "running_plugin_version".into(),
            json!(format!("v{}+builtin.arca", crate::VERSION)),
        );
        m.insert("running_sha256".into(), json!(""));
        m.insert("seal_wrap".into(), json!(self.seal_wrap));
        m.insert("type".into(), json!(self.mount_type));
        m.insert("uuid".into(), json!(self.uuid));
        m
    }
}

/// Requests and latency per mount, for `sys/metrics`.
#[derive(Default)]
pub struct MountMetrics {
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    /// Cumulative latency histogram, upper bounds in `LATENCY_BUCKETS_US`.
    pub latency_buckets: [AtomicU64; LATENCY_BUCKETS_US.len()],
    pub latency_sum_us: AtomicU64,
}

/// Histogram bucket upper bounds in microseconds.
pub const LATENCY_BUCKETS_US: [u64; 10] = [
    50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 50_000, 250_000,
];

impl MountMetrics {
    pub fn observe(&self, elapsed: Duration, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency_sum_us.fetch_add(us, Ordering::Relaxed);
        if let Some(i) = LATENCY_BUCKETS_US.iter().position(|b| us <= *b) {
            self.latency_buckets[i].fetch_add(1, Ordering::Relaxed);
        }
    }
}

pub struct Route {
    pub prefix: String,
    pub entry: Arc<MountEntry>,
    pub backend: Arc<dyn Backend>,
    pub metrics: Arc<MountMetrics>,
}

/// Longest-prefix routing over a copy-on-write list of routes, longest
/// prefix first, so a lookup never waits for a mount being added.
#[derive(Default)]
pub struct Router {
    routes: RwLock<Arc<Vec<Arc<Route>>>>,
}

impl Router {
    pub fn route(&self, path: &str) -> Option<Arc<Route>> {
        let routes = Arc::clone(&self.routes.read().unwrap_or_else(|e| e.into_inner()));
        routes
            .iter()
            .find(|r| {
                path.starts_with(r.prefix.as_str()) || r.prefix.strip_suffix('/') == Some(path)
            })
            .cloned()
    }

    pub fn insert(&self, route: Route) {
        let mut guard = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let mut next: Vec<Arc<Route>> = guard
            .iter()
            .filter(|r| r.prefix != route.prefix)
            .cloned()
            .collect();
        next.push(Arc::new(route));
        next.sort_by(|a, b| {
            b.prefix
                .len()
                .cmp(&a.prefix.len())
                .then_with(|| a.prefix.cmp(&b.prefix))
        });
        *guard = Arc::new(next);
    }

    pub fn remove(&self, prefix: &str) -> Option<Arc<Route>> {
        let mut guard = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let found = guard.iter().find(|r| r.prefix == prefix).cloned();
        *guard = Arc::new(
            guard
                .iter()
                .filter(|r| r.prefix != prefix)
                .cloned()
                .collect(),
        );
        found
    }

    /// Drops every route (seal).
    pub fn clear(&self) {
        *self.routes.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(Vec::new());
    }

    pub fn all(&self) -> Arc<Vec<Arc<Route>>> {
        Arc::clone(&self.routes.read().unwrap_or_else(|e| e.into_inner()))
    }
}

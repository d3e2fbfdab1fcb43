//! Rate-limit quotas (`sys/quotas/rate-limit/:name`, Vault's shape): a
//! rule allows `rate` requests per `interval` to a path (a mount, a path
//! inside one, or everything when empty), per client address; a client
//! over the limit gets 429, and with `block_interval` stays refused that
//! long. The most specific rule for a path applies (longest path; the
//! global rule last), as Vault picks it. This is what bounds brute force
//! on login paths.
//!
//! Rules are stored under the system view; the buckets live in memory
//! (one per rule and client, dropped once idle), keyed by the core clock
//! so tests move time instead of sleeping.
//!
//! Lease-count quotas (`sys/quotas/lease-count/:name`, which Vault keeps
//! for its Enterprise edition): at most `max_leases` live leases under a
//! path. A request that would make one more (a backend says which may,
//! `Backend::may_lease`) is refused with 429 `lease count quota exceeded`
//! before the backend makes anything; requests in flight hold a slot, so
//! concurrent ones cannot overshoot.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, RwLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::barrier::View;
use crate::clock::Clock;
use crate::error::{Error, Result};

/// `rate-limit/<name>` -> RateLimit.
const RULE_PREFIX: &str = "rate-limit/";
/// `lease-count/<name>` -> LeaseCount.
const LEASE_RULE_PREFIX: &str = "lease-count/";
/// The quota configuration (exempt paths).
const CONFIG_KEY: &str = "config";
/// Past this many buckets, idle ones are swept.
const SWEEP_AT: usize = 10_000;
const NANOS: f64 = 1e9;

/// Vault's default exemptions: what must work for an operator to get in.
pub const DEFAULT_EXEMPT: &[&str] = &[
    "sys/generate-recovery-token/attempt",
    "sys/generate-recovery-token/update",
    "sys/generate-root/attempt",
    "sys/generate-root/update",
    "sys/health",
    "sys/seal-status",
    "sys/unseal",
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimit {
    pub name: String,
    /// "" = every path.
    pub path: String,
    /// Requests per interval.
    pub rate: f64,
    /// Seconds.
    pub interval: u64,
    /// Seconds a client over the limit stays refused (0: until the bucket
    /// refills).
    pub block_interval: u64,
    #[serde(default)]
    pub role: String,
}

impl RateLimit {
    pub fn to_api(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("block_interval".into(), json!(self.block_interval));
        m.insert("inheritable".into(), json!(self.path.is_empty()));
        m.insert("interval".into(), json!(self.interval));
        m.insert("name".into(), json!(self.name));
        m.insert("path".into(), json!(self.path));
        m.insert("rate".into(), json!(self.rate));
        m.insert("role".into(), json!(self.role));
        m.insert("type".into(), json!("rate-limit"));
        m
    }

    /// By path segments: `secret` covers `secret/x`, not `secret2/x`.
    fn applies_to(&self, path: &str) -> bool {
        let rule = self.path.trim_end_matches('/');
        rule.is_empty()
            || path == rule
            || path
                .strip_prefix(rule)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaseCount {
    pub name: String,
    /// "" = every path.
    pub path: String,
    pub max_leases: u64,
}

impl LeaseCount {
    /// Vault's read shape, with the live count.
    pub fn to_api(&self, counter: u64) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("counter".into(), json!(counter));
        m.insert("inheritable".into(), json!(self.path.is_empty()));
        m.insert("max_leases".into(), json!(self.max_leases));
        m.insert("name".into(), json!(self.name));
        m.insert("path".into(), json!(self.path));
        m.insert("role".into(), json!(""));
        m.insert("type".into(), json!("lease-count"));
        m
    }

    fn applies_to(&self, path: &str) -> bool {
        let rule = self.path.trim_end_matches('/');
        rule.is_empty()
            || path == rule
            || path
                .strip_prefix(rule)
                .is_some_and(|rest| rest.starts_with('/'))
    }
}

/// A slot held by a request that may make a lease under a lease-count
/// rule; given back when dropped (by then the lease, if any, counts).
pub struct LeaseSlot {
    inflight: Arc<Mutex<HashMap<String, u64>>>,
    rule: String,
}

impl Drop for LeaseSlot {
    fn drop(&mut self) {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = inflight.get_mut(&self.rule) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                inflight.remove(&self.rule);
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuotaConfig {
    pub rate_limit_exempt_paths: Vec<String>,
}

impl Default for QuotaConfig {
    fn default() -> Self {
        Self {
            rate_limit_exempt_paths: DEFAULT_EXEMPT.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

struct Bucket {
    tokens: f64,
    /// Unix nanoseconds of the last refill.
    at: i64,
    blocked_until: i64,
}

pub struct Quotas {
    view: View,
    clock: Clock,
    rules: RwLock<Arc<Vec<RateLimit>>>,
    config: RwLock<Arc<QuotaConfig>>,
    buckets: Mutex<HashMap<(String, IpAddr), Bucket>>,
    lease_rules: RwLock<Arc<Vec<LeaseCount>>>,
    /// Requests in flight that hold a slot, by lease-count rule.
    inflight: Arc<Mutex<HashMap<String, u64>>>,
    write: tokio::sync::Mutex<()>,
}

impl Quotas {
    pub async fn load(view: View, clock: Clock) -> Result<Self> {
        let mut rules = Vec::new();
        for name in view.list(RULE_PREFIX).await? {
            if let Some(r) = view
                .get_json::<RateLimit>(&format!("{RULE_PREFIX}{name}"))
                .await?
            {
                rules.push(r);
            }
        }
        let mut lease_rules = Vec::new();
        for name in view.list(LEASE_RULE_PREFIX).await? {
            if let Some(r) = view
                .get_json::<LeaseCount>(&format!("{LEASE_RULE_PREFIX}{name}"))
                .await?
            {
                lease_rules.push(r);
            }
        }
        let config = view
            .get_json::<QuotaConfig>(CONFIG_KEY)
            .await?
            .unwrap_or_default();
        let q = Self {
            view,
            clock,
            rules: RwLock::new(Arc::new(Vec::new())),
            config: RwLock::new(Arc::new(config)),
            buckets: Mutex::new(HashMap::new()),
            lease_rules: RwLock::new(Arc::new(Vec::new())),
            inflight: Arc::new(Mutex::new(HashMap::new())),
            write: tokio::sync::Mutex::new(()),
        };
        q.publish(rules);
        q.publish_lease_rules(lease_rules);
        Ok(q)
    }

    fn publish(&self, mut rules: Vec<RateLimit>) {
        // Most specific first; the global rule ("") last.
        rules.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then(a.name.cmp(&b.name)));
        *self.rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    fn publish_lease_rules(&self, mut rules: Vec<LeaseCount>) {
        rules.sort_by(|a, b| b.path.len().cmp(&a.path.len()).then(a.name.cmp(&b.name)));
        *self.lease_rules.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(rules);
    }

    fn lease_rules(&self) -> Arc<Vec<LeaseCount>> {
        Arc::clone(&self.lease_rules.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// For a request to `path` that may make a lease: a slot under the
    /// most specific lease-count rule that covers it, or 429 when that
    /// rule's leases and the requests in flight reach its maximum.
    /// `count_under` counts the live leases under a path.
    pub fn reserve_lease(
        &self,
        path: &str,
        count_under: impl Fn(&str) -> u64,
    ) -> Result<Option<LeaseSlot>> {
        let rules = self.lease_rules();
        let Some(rule) = rules.iter().find(|r| r.applies_to(path)) else {
            return Ok(None);
        };
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let pending = inflight.get(&rule.name).copied().unwrap_or(0);
        if count_under(&rule.path).saturating_add(pending) >= rule.max_leases {
            return Err(Error::LeaseCountExceeded);
        }
        *inflight.entry(rule.name.clone()).or_default() += 1;
        Ok(Some(LeaseSlot {
            inflight: Arc::clone(&self.inflight),
            rule: rule.name.clone(),
        }))
    }

    pub fn lease_rule(&self, name: &str) -> Option<LeaseCount> {
        self.lease_rules().iter().find(|r| r.name == name).cloned()
    }

    pub fn lease_rule_names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.lease_rules().iter().map(|r| r.name.clone()).collect();
        v.sort();
        v
    }

    /// Creates or replaces a lease-count rule; two may not cover the same
    /// path.
    pub async fn put_lease_rule(&self, rule: LeaseCount) -> Result<()> {
        let _guard = self.write.lock().await;
        let current = self.lease_rules();
        if let Some(clash) = current
            .iter()
            .find(|r| r.name != rule.name && r.path == rule.path)
        {
            return Err(Error::invalid(format!(
                "quota rule with similar properties exists under the name {:?}",
                clash.name
            )));
        }
        self.view
            .put_json(&format!("{LEASE_RULE_PREFIX}{}", rule.name), &rule)
            .await?;
        let mut next: Vec<LeaseCount> = current
            .iter()
            .filter(|r| r.name != rule.name)
            .cloned()
            .collect();
        next.push(rule);
        self.publish_lease_rules(next);
        Ok(())
    }

    pub async fn delete_lease_rule(&self, name: &str) -> Result<()> {
        let _guard = self.write.lock().await;
        self.view
            .delete(&format!("{LEASE_RULE_PREFIX}{name}"))
            .await?;
        let next: Vec<LeaseCount> = self
            .lease_rules()
            .iter()
            .filter(|r| r.name != name)
            .cloned()
            .collect();
        self.publish_lease_rules(next);
        Ok(())
    }

    fn rules(&self) -> Arc<Vec<RateLimit>> {
        Arc::clone(&self.rules.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn config(&self) -> Arc<QuotaConfig> {
        Arc::clone(&self.config.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Checks one request against the rule that applies to its path.
    pub fn allow(&self, path: &str, client: Option<IpAddr>) -> Result<()> {
        let rules = self.rules();
        if rules.is_empty() {
            return Ok(());
        }
        if self
            .config()
            .rate_limit_exempt_paths
            .iter()
            .any(|p| path == p || path.starts_with(&format!("{}/", p.trim_end_matches('/'))))
        {
            return Ok(());
        }
        let Some(rule) = rules.iter().find(|r| r.applies_to(path)) else {
            return Ok(());
        };
        let Some(ip) = client else {
            return Ok(());
        };
        let now = self.clock.now_nanos();
        let per_nano = rule.rate / (rule.interval.max(1) as f64 * NANOS);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= SWEEP_AT {
            let idle = i64::try_from(rule.interval.max(rule.block_interval))
                .unwrap_or(i64::MAX / 2)
                .saturating_mul(2_000_000_000);
            buckets.retain(|_, b| now - b.at < idle || b.blocked_until > now);
        }
        let b = buckets.entry((rule.name.clone(), ip)).or_insert(Bucket {
            tokens: rule.rate,
            at: now,
            blocked_until: 0,
        });
        let exceeded = || Error::RateLimited(path.to_owned());
        if b.blocked_until > now {
            return Err(exceeded());
        }
        let elapsed = (now - b.at).max(0) as f64;
        b.tokens = (b.tokens + elapsed * per_nano).min(rule.rate);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            return Ok(());
        }
        if rule.block_interval > 0 {
            b.blocked_until = now.saturating_add(
                i64::try_from(rule.block_interval)
                    .unwrap_or(i64::MAX / 2_000_000_000)
                    .saturating_mul(1_000_000_000),
            );
        }
        Err(exceeded())
    }

    pub fn get(&self, name: &str) -> Option<RateLimit> {
        self.rules().iter().find(|r| r.name == name).cloned()
    }

    pub fn names(&self) -> Vec<String> {
        let mut v: Vec<String> = self.rules().iter().map(|r| r.name.clone()).collect();
        v.sort();
        v
    }

    /// Creates or replaces a rule; two rules may not cover the same path.
    pub async fn put(&self, rule: RateLimit) -> Result<()> {
        let _guard = self.write.lock().await;
        let current = self.rules();
        if let Some(clash) = current
            .iter()
            .find(|r| r.name != rule.name && r.path == rule.path && r.role == rule.role)
        {
            return Err(Error::invalid(format!(
                "quota rule with similar properties exists under the name {:?}",
                clash.name
            )));
        }
        self.view
            .put_json(&format!("{RULE_PREFIX}{}", rule.name), &rule)
            .await?;
        let mut next: Vec<RateLimit> = current
            .iter()
            .filter(|r| r.name != rule.name)
            .cloned()
            .collect();
        next.push(rule);
        self.publish(next);
        Ok(())
    }

    pub async fn delete(&self, name: &str) -> Result<()> {
        let _guard = self.write.lock().await;
        self.view.delete(&format!("{RULE_PREFIX}{name}")).await?;
        let next: Vec<RateLimit> = self
            .rules()
            .iter()
            .filter(|r| r.name != name)
            .cloned()
            .collect();
        self.publish(next);
        Ok(())
    }

    pub async fn set_config(&self, config: QuotaConfig) -> Result<()> {
        let _guard = self.write.lock().await;
        self.view.put_json(CONFIG_KEY, &config).await?;
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
        Ok(())
    }
}

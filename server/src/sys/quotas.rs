//! `sys/quotas/rate-limit[/:name]` and `sys/quotas/config`: the rules of
//! quotas.rs, in Vault's shape.

use serde_json::json;

use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use crate::quotas::{LeaseCount, QuotaConfig, RateLimit};

use super::SysBackend;

impl SysBackend {
    pub(super) async fn handle_quotas(&self, req: &Request, rel: &str) -> Result<Response> {
        let op = req.operation;
        let write = matches!(op, Operation::Create | Operation::Update);
        let rest = rel.strip_prefix("quotas/").unwrap_or("");
        if rest == "config" {
            return match op {
                Operation::Read => {
                    let c = self.quotas.config();
                    Ok(Response::from_value(json!({
                        "enable_rate_limit_audit_logging": false,
                        "enable_rate_limit_response_headers": false,
                        "rate_limit_exempt_paths": c.rate_limit_exempt_paths,
                    })))
                }
                _ if write => {
                    for flag in [
                        "enable_rate_limit_audit_logging",
                        "enable_rate_limit_response_headers",
                    ] {
                        if fields::bool(&req.data, flag)?.unwrap_or(false) {
                            return Err(Error::invalid(format!("{flag} is not supported by Arca")));
                        }
                    }
                    let mut c = (*self.quotas.config()).clone();
                    if let Some(p) = fields::string_list(&req.data, "rate_limit_exempt_paths")? {
                        c.rate_limit_exempt_paths = p;
                    }
                    self.quotas
                        .set_config(QuotaConfig {
                            rate_limit_exempt_paths: c.rate_limit_exempt_paths,
                        })
                        .await?;
                    Ok(Response::empty())
                }
                _ => Err(Error::UnsupportedOperation),
            };
        }
        if let Some(name) = rest.strip_prefix("lease-count") {
            return self.handle_lease_count(req, name.trim_matches('/')).await;
        }
        let Some(name) = rest.strip_prefix("rate-limit") else {
            return Err(Error::UnsupportedPath);
        };
        let name = name.trim_matches('/');
        if name.is_empty() {
            return match op {
                Operation::List => {
                    let names = self.quotas.names();
                    if names.is_empty() {
                        return Err(Error::NotFound);
                    }
                    Ok(Response::list(names))
                }
                _ => Err(Error::UnsupportedOperation),
            };
        }
        match op {
            Operation::Read => self
                .quotas
                .get(name)
                .map(|r| Response::data(r.to_api()))
                .ok_or(Error::NotFound),
            Operation::Delete => {
                self.quotas.delete(name).await?;
                Ok(Response::empty())
            }
            _ if write => {
                let d = &req.data;
                let old = self.quotas.get(name);
                let rate = match d.get("rate") {
                    None => old.as_ref().map(|r| r.rate),
                    Some(v) => Some(
                        v.as_f64()
                            .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
                            .ok_or_else(|| Error::invalid("'rate' is invalid"))?,
                    ),
                };
                let rate = rate
                    .filter(|r| r.is_finite() && *r > 0.0)
                    .ok_or_else(|| Error::invalid("'rate' is invalid"))?;
                let secs = |key: &str, default: u64| -> Result<u64> {
                    match fields::duration(d, key)? {
                        Some(t) => Ok(t.as_secs()),
                        None => Ok(default),
                    }
                };
                let interval = secs("interval", old.as_ref().map_or(1, |r| r.interval))?.max(1);
                let block_interval = secs(
                    "block_interval",
                    old.as_ref().map_or(0, |r| r.block_interval),
                )?;
                let path = match fields::string(d, "path")? {
                    Some(p) => p.trim_start_matches('/').to_owned(),
                    None => old.as_ref().map(|r| r.path.clone()).unwrap_or_default(),
                };
                if !path.is_empty() && self.mounts.router().route(&path).is_none() {
                    return Err(Error::invalid(format!("invalid mount path {path:?}")));
                }
                if fields::string(d, "role")?.is_some_and(|r| !r.is_empty()) {
                    return Err(Error::invalid(
                        "role-based rate limits are not supported by Arca",
                    ));
                }
                self.quotas
                    .put(RateLimit {
                        name: name.to_owned(),
                        path,
                        rate,
                        interval,
                        block_interval,
                        role: String::new(),
                    })
                    .await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    /// `sys/quotas/lease-count[/:name]`: at most `max_leases` live leases
    /// under `path` (a mount, a path in one, or everything).
    async fn handle_lease_count(&self, req: &Request, name: &str) -> Result<Response> {
        let op = req.operation;
        if name.is_empty() {
            return match op {
                Operation::List => {
                    let names = self.quotas.lease_rule_names();
                    if names.is_empty() {
                        return Err(Error::NotFound);
                    }
                    Ok(Response::list(names))
                }
                _ => Err(Error::UnsupportedOperation),
            };
        }
        match op {
            Operation::Read => {
                let r = self.quotas.lease_rule(name).ok_or(Error::NotFound)?;
                let counter = self.leases.count_under(&r.path);
                Ok(Response::data(r.to_api(counter)))
            }
            Operation::Delete => {
                self.quotas.delete_lease_rule(name).await?;
                Ok(Response::empty())
            }
            Operation::Create | Operation::Update => {
                let d = &req.data;
                let old = self.quotas.lease_rule(name);
                let max_leases = match fields::int(d, "max_leases")? {
                    Some(n) => n,
                    None => old.as_ref().map_or(0, |r| r.max_leases as i64),
                };
                let max_leases = u64::try_from(max_leases)
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| Error::invalid("'max_leases' is invalid"))?;
                let path = match fields::string(d, "path")? {
                    Some(p) => p.trim_start_matches('/').to_owned(),
                    None => old.as_ref().map(|r| r.path.clone()).unwrap_or_default(),
                };
                if !path.is_empty() && self.mounts.router().route(&path).is_none() {
                    return Err(Error::invalid(format!("invalid mount path {path:?}")));
                }
                if fields::string(d, "role")?.is_some_and(|r| !r.is_empty()) {
                    return Err(Error::invalid(
                        "role-based lease count quotas are not supported by Arca",
                    ));
                }
                self.quotas
                    .put_lease_rule(LeaseCount {
                        name: name.to_owned(),
                        path,
                        max_leases,
                    })
                    .await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

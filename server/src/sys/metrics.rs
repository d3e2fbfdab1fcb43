//! `sys/metrics`: Prometheus text (`?format=prometheus`) or a JSON summary.

use std::sync::atomic::Ordering;

use serde_json::json;

use super::SysBackend;
use crate::error::{Error, Result};
use crate::logical::{Operation, RawBody, Request, Response};
use crate::metrics::Gauges;
use crate::router::Table;

impl SysBackend {
    pub(super) async fn handle_metrics(&self, req: &Request) -> Result<Response> {
        if req.operation != Operation::Read {
            return Err(Error::UnsupportedOperation);
        }
        let format = req
            .data
            .get("format")
            .and_then(|v| v.as_str())
            .unwrap_or("");
        let routes = self.mounts.router().all();
        // Leases by the mount their path routes to.
        let mut by_mount: std::collections::BTreeMap<String, u64> = Default::default();
        for (path, n) in self.leases.counts_by_path() {
            let mount = self
                .mounts
                .router()
                .route(&path)
                .map_or_else(|| "(gone)".to_owned(), |r| r.prefix.clone());
            *by_mount.entry(mount).or_default() += n;
        }
        let gauges = Gauges {
            sealed: false,
            initialized: true,
            tokens: self.tokens.count().await?,
            mounts: self.mounts.list(Table::Mounts).len() + self.mounts.list(Table::Auth).len(),
            policies: self.policies.list().await?.len(),
            key_term: self.barrier.key_status()?.term,
            leases_by_mount: by_mount.into_iter().collect(),
            expiration: self.leases.expiration_stats(),
        };
        match format {
            "prometheus" => Ok(Response {
                raw: Some(RawBody {
                    status: 200,
                    content_type: "text/plain; version=0.0.4",
                    body: self.metrics.render(&gauges, &routes).into_bytes(),
                }),
                ..Default::default()
            }),
            "" | "json" => {
                let per_mount: serde_json::Map<String, serde_json::Value> = routes
                    .iter()
                    .map(|r| {
                        (
                            r.prefix.clone(),
                            json!({
                                "requests": r.metrics.requests.load(Ordering::Relaxed),
                                "errors": r.metrics.errors.load(Ordering::Relaxed),
                            }),
                        )
                    })
                    .collect();
                let body = json!({
                    "Gauges": [
                        {"Name": "vault.core.unsealed", "Value": 1},
                        {"Name": "vault.token.count", "Value": gauges.tokens},
                        {"Name": "vault.core.mount_table.num_entries", "Value": gauges.mounts},
                        {"Name": "vault.policy.count", "Value": gauges.policies},
                        {"Name": "vault.expire.num_leases", "Value": gauges.num_leases()},
                        {"Name": "vault.expire.num_irrevocable_leases", "Value": gauges.expiration.retrying},
                    ],
                    "Counters": [
                        {"Name": "vault.expire.revocations", "Count": gauges.expiration.revoked},
                        {"Name": "vault.expire.revocation_failures", "Count": gauges.expiration.failed},
                    ],
                    "Leases": gauges.leases_by_mount.iter()
                        .map(|(m, n)| (m.clone(), json!(n)))
                        .collect::<serde_json::Map<String, serde_json::Value>>(),
                    "Routes": per_mount,
                });
                Ok(Response {
                    raw: Some(RawBody {
                        status: 200,
                        content_type: "application/json",
                        body: serde_json::to_vec(&body).unwrap_or_default(),
                    }),
                    ..Default::default()
                })
            }
            other => Ok(Response {
                raw: Some(RawBody {
                    status: 400,
                    content_type: "text/plain; charset=utf-8",
                    body: format!("metric response format {other:?} unknown\n").into_bytes(),
                }),
                ..Default::default()
            }),
        }
    }
}

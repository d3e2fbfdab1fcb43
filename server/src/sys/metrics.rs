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
        let gauges = Gauges {
            sealed: false,
            initialized: true,
            tokens: self.tokens.count().await?,
            mounts: self.mounts.list(Table::Mounts).len() + self.mounts.list(Table::Auth).len(),
            policies: self.policies.list().await?.len(),
            key_term: self.barrier.key_status()?.term,
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
                    ],
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

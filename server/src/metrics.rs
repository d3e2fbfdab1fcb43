//! Server-wide counters for `sys/metrics` (Prometheus text format). Per
//! mount counters live beside each route (router::MountMetrics); these are
//! the totals. Everything is an atomic: recording costs a few nanoseconds
//! and never takes a lock on the request path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::router::{LATENCY_BUCKETS_US, Route};

#[derive(Default)]
pub struct Metrics {
    requests: AtomicU64,
    errors: AtomicU64,
    latency_sum_us: AtomicU64,
}

/// Gauges read at scrape time.
pub struct Gauges {
    pub sealed: bool,
    pub initialized: bool,
    pub tokens: usize,
    pub mounts: usize,
    pub policies: usize,
    pub key_term: u32,
    /// Live leases of secrets by mount path, sorted.
    pub leases_by_mount: Vec<(String, u64)>,
    pub expiration: crate::expiration::Stats,
}

impl Gauges {
    /// Leases of secrets and tokens (tokens carry leases too in Vault).
    pub fn num_leases(&self) -> u64 {
        self.leases_by_mount.iter().map(|(_, n)| n).sum::<u64>() + self.tokens as u64
    }
}

impl Metrics {
    pub fn observe_request(&self, elapsed: Duration, failed: bool) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.latency_sum_us.fetch_add(
            u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    /// Renders every metric in the Prometheus text exposition format.
    pub fn render(&self, g: &Gauges, routes: &[std::sync::Arc<Route>]) -> String {
        let mut out = String::with_capacity(4096);
        let gauge = |out: &mut String, name: &str, help: &str, v: f64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        gauge(
            &mut out,
            "vault_core_unsealed",
            "1 if the server is unsealed.",
            f64::from(u8::from(!g.sealed)),
        );
        gauge(
            &mut out,
            "vault_core_initialized",
            "1 if the server is initialized.",
            f64::from(u8::from(g.initialized)),
        );
        gauge(
            &mut out,
            "vault_core_active",
            "1 if this node is the active node.",
            f64::from(u8::from(!g.sealed)),
        );
        gauge(
            &mut out,
            "vault_token_count",
            "Number of stored tokens.",
            g.tokens as f64,
        );
        gauge(
            &mut out,
            "vault_core_mount_table_num_entries",
            "Number of mounts.",
            g.mounts as f64,
        );
        gauge(
            &mut out,
            "vault_policy_count",
            "Number of ACL policies.",
            g.policies as f64,
        );
        gauge(
            &mut out,
            "vault_barrier_key_term",
            "Active keyring term.",
            f64::from(g.key_term),
        );
        gauge(
            &mut out,
            "vault_expire_num_leases",
            "Number of leases (token leases included).",
            g.num_leases() as f64,
        );
        let _ = writeln!(
            out,
            "# HELP vault_expire_leases_by_mount Live leases of secrets by mount.\n# TYPE vault_expire_leases_by_mount gauge"
        );
        for (mount, n) in &g.leases_by_mount {
            let _ = writeln!(
                out,
                "vault_expire_leases_by_mount{{mount_point=\"{}\"}} {n}",
                escape(mount)
            );
        }
        let _ = writeln!(
            out,
            "# HELP vault_expire_revocations Revocations done by the expiration manager.\n# TYPE vault_expire_revocations counter\nvault_expire_revocations {}",
            g.expiration.revoked
        );
        let _ = writeln!(
            out,
            "# HELP vault_expire_revocation_failures Failed revocation attempts (each is retried with backoff).\n# TYPE vault_expire_revocation_failures counter\nvault_expire_revocation_failures {}",
            g.expiration.failed
        );
        gauge(
            &mut out,
            "vault_expire_num_irrevocable_leases",
            "Leases whose revocation failed and waits for a retry.",
            g.expiration.retrying as f64,
        );

        let _ = writeln!(
            out,
            "# HELP vault_core_handle_request_count Requests handled.\n# TYPE vault_core_handle_request_count counter\nvault_core_handle_request_count {}",
            self.requests.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP vault_core_handle_request_errors Requests that failed.\n# TYPE vault_core_handle_request_errors counter\nvault_core_handle_request_errors {}",
            self.errors.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP vault_core_handle_request_seconds_sum Total time spent handling requests.\n# TYPE vault_core_handle_request_seconds_sum counter\nvault_core_handle_request_seconds_sum {}",
            self.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
        );

        let _ = writeln!(
            out,
            "# HELP vault_route_requests Requests by mount.\n# TYPE vault_route_requests counter"
        );
        for r in routes {
            let _ = writeln!(
                out,
                "vault_route_requests{{mount_point=\"{}\",type=\"{}\"}} {}",
                escape(&r.prefix),
                escape(&r.entry.mount_type),
                r.metrics.requests.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP vault_route_errors Failed requests by mount.\n# TYPE vault_route_errors counter"
        );
        for r in routes {
            let _ = writeln!(
                out,
                "vault_route_errors{{mount_point=\"{}\"}} {}",
                escape(&r.prefix),
                r.metrics.errors.load(Ordering::Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# HELP vault_route_seconds Request latency by mount.\n# TYPE vault_route_seconds histogram"
        );
        for r in routes {
            let mp = escape(&r.prefix);
            let mut cumulative = 0;
            for (i, bound) in LATENCY_BUCKETS_US.iter().enumerate() {
                cumulative += r.metrics.latency_buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "vault_route_seconds_bucket{{mount_point=\"{mp}\",le=\"{}\"}} {cumulative}",
                    *bound as f64 / 1e6
                );
            }
            let count = r.metrics.requests.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "vault_route_seconds_bucket{{mount_point=\"{mp}\",le=\"+Inf\"}} {count}"
            );
            let _ = writeln!(
                out,
                "vault_route_seconds_sum{{mount_point=\"{mp}\"}} {}",
                r.metrics.latency_sum_us.load(Ordering::Relaxed) as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "vault_route_seconds_count{{mount_point=\"{mp}\"}} {count}"
            );
        }
        out
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

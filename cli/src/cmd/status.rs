//! `arca status`: seal and HA status. Exit code 0 unsealed, 1 error, 2 sealed.
//! The seal-status printer here is shared with `operator unseal`.

use arca_client::sys::SealStatus;
use arca_client::{Client, LeaderStatus};
use serde::Serialize;

use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::output::Format;
use crate::output::table::table;

pub(crate) const SPEC: Spec = Spec {
    name: "status",
    synopsis: "Print seal and HA status",
    help: "Usage: arca status [options]\n\n  \
           Prints the current state of Arca including whether it is sealed and if HA\n  \
           mode is enabled. This command prints regardless of whether Arca is sealed.\n\n  \
           The exit code reflects the seal status:\n\n      \
           - 0 - unsealed\n      \
           - 1 - error\n      \
           - 2 - sealed",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<i32> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client().map_err(Error::status_check)?;
    let status = client
        .seal_status()
        .await
        .context("Error checking seal status")
        .map_err(Error::status_check)?;
    let printed = output_seal_status(ctx, &client, &status).await;
    if !status.sealed {
        return printed.map(|()| 0);
    }
    // Sealed is exit code 2 even when the leader status failed.
    if let Err(e) = printed {
        ctx.err(&e.to_string());
    }
    Ok(2)
}

/// What `status` prints: the seal status merged with the leader status.
#[derive(Serialize)]
struct SealStatusOutput<'a> {
    #[serde(rename = "type")]
    seal_type: &'a str,
    initialized: bool,
    sealed: bool,
    t: u8,
    n: u8,
    progress: u8,
    nonce: &'a str,
    version: &'a str,
    commit_date: &'a str,
    migration: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    cluster_name: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    cluster_id: &'a str,
    recovery_seal: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    storage_type: &'a str,
    build_date: &'a str,
    ha_enabled: bool,
    #[serde(skip_serializing_if = "is_false")]
    is_self: bool,
    #[serde(skip_serializing_if = "str::is_empty")]
    active_time: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    leader_address: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    leader_cluster_address: &'a str,
    #[serde(skip_serializing_if = "is_zero")]
    raft_committed_index: u64,
    #[serde(skip_serializing_if = "is_zero")]
    raft_applied_index: u64,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Prints a seal status with the leader status, as `status` and
/// `operator unseal` do. A sealed server cannot answer `sys/leader`; that
/// answer means HA is enabled. Any other failure is exit code 1 for both.
pub(crate) async fn output_seal_status(
    ctx: &mut Ctx<'_>,
    client: &Client,
    status: &SealStatus,
) -> Result<()> {
    let leader = match client.leader().await {
        Ok(l) => l,
        Err(e) if e.errors().iter().any(|m| m.contains("is sealed")) => LeaderStatus {
            ha_enabled: true,
            ..LeaderStatus::default()
        },
        Err(source) => {
            let e = Error::Api {
                context: "Error checking leader status".into(),
                source,
            };
            return Err(e.status_check());
        }
    };
    let out = SealStatusOutput {
        seal_type: &status.seal_type,
        initialized: status.initialized,
        sealed: status.sealed,
        t: status.t,
        n: status.n,
        progress: status.progress,
        nonce: &status.nonce,
        version: &status.version,
        commit_date: &status.commit_date,
        migration: status.migration,
        cluster_name: status.cluster_name.as_deref().unwrap_or_default(),
        cluster_id: status.cluster_id.as_deref().unwrap_or_default(),
        recovery_seal: status.recovery_seal,
        storage_type: &status.storage_type,
        build_date: "",
        ha_enabled: leader.ha_enabled,
        is_self: leader.is_self,
        active_time: leader.active_time.as_deref().unwrap_or_default(),
        leader_address: &leader.leader_address,
        leader_cluster_address: &leader.leader_cluster_address,
        raft_committed_index: leader.raft_committed_index,
        raft_applied_index: leader.raft_applied_index,
    };
    match ctx.format {
        Format::Json => ctx.output_json(&out),
        Format::Table => {
            let t = seal_status_table(&out);
            ctx.out(&t);
        }
    }
    Ok(())
}

fn seal_status_table(s: &SealStatusOutput<'_>) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |k: &str, v: String| rows.push(vec![k.to_string(), v]);
    row("Seal Type", s.seal_type.to_string());
    row("Initialized", s.initialized.to_string());
    row("Sealed", s.sealed.to_string());
    row("Total Shares", s.n.to_string());
    row("Threshold", s.t.to_string());
    if s.sealed {
        row("Unseal Progress", format!("{}/{}", s.progress, s.t));
        row("Unseal Nonce", s.nonce.to_string());
    }
    if s.migration {
        row("Seal Migration in Progress", "true".into());
    }
    if !s.version.is_empty() {
        row("Version", s.version.to_string());
    }
    if !s.commit_date.is_empty() {
        row("Commit Date", s.commit_date.to_string());
    }
    if !s.storage_type.is_empty() {
        row("Storage Type", s.storage_type.to_string());
    }
    if !s.cluster_name.is_empty() && !s.cluster_id.is_empty() {
        row("Cluster Name", s.cluster_name.to_string());
        row("Cluster ID", s.cluster_id.to_string());
    }
    row("HA Enabled", s.ha_enabled.to_string());
    if s.ha_enabled && !s.sealed {
        row("HA Cluster", s.leader_cluster_address.to_string());
        row(
            "HA Mode",
            if s.is_self { "active" } else { "standby" }.to_string(),
        );
        if s.is_self && !s.active_time.is_empty() {
            row("Active Since", s.active_time.to_string());
        }
        if !s.is_self && !s.leader_address.is_empty() {
            row("Active Node Address", s.leader_address.to_string());
        }
    }
    if s.raft_committed_index > 0 {
        row("Raft Committed Index", s.raft_committed_index.to_string());
    }
    if s.raft_applied_index > 0 {
        row("Raft Applied Index", s.raft_applied_index.to_string());
    }
    table(&["Key", "Value"], rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::json::to_json;

    fn sample(sealed: bool) -> SealStatusOutput<'static> {
        SealStatusOutput {
            seal_type: "shamir",
            initialized: true,
            sealed,
            t: 1,
            n: 1,
            progress: 0,
            nonce: "",
            version: "2.7.2",
            commit_date: "2026-10-26T20:32:27Z",
            migration: false,
            cluster_name: if sealed { "" } else { "vault-cluster-4ae2f4ba" },
            cluster_id: if sealed {
                ""
            } else {
                "c786e0fb-d06b-45a3-10b3-a3aff0faf618"
            },
            recovery_seal: false,
            storage_type: "inmem",
            build_date: "",
            ha_enabled: false,
            is_self: false,
            active_time: "",
            leader_address: "",
            leader_cluster_address: "",
            raft_committed_index: 0,
            raft_applied_index: 0,
        }
    }

    #[test]
    fn table_matches_bao_dev_server() {
        assert_eq!(
            seal_status_table(&sample(false)),
            "Key             Value\n\
             ---             -----\n\
             Seal Type       shamir\n\
             Initialized     true\n\
             Sealed          false\n\
             Total Shares    1\n\
             Threshold       1\n\
             Version         2.7.2\n\
             Commit Date     2026-10-26T20:32:27Z\n\
             Storage Type    inmem\n\
             Cluster Name    vault-cluster-4ae2f4ba\n\
             Cluster ID      c786e0fb-d06b-45a3-10b3-a3aff0faf618\n\
             HA Enabled      false"
        );
        let sealed = seal_status_table(&sample(true));
        assert!(
            sealed.contains("Unseal Progress    0/1\nUnseal Nonce       n/a\n"),
            "{sealed}"
        );
    }

    #[test]
    fn json_matches_bao_dev_server() {
        assert_eq!(
            to_json(&sample(false)),
            "{\n  \"type\": \"shamir\",\n  \"initialized\": true,\n  \"sealed\": false,\n  \"t\": 1,\n  \"n\": 1,\n  \"progress\": 0,\n  \"nonce\": \"\",\n  \"version\": \"2.7.2\",\n  \"commit_date\": \"2026-10-26T20:32:27Z\",\n  \"migration\": false,\n  \"cluster_name\": \"vault-cluster-4ae2f4ba\",\n  \"cluster_id\": \"c786e0fb-d06b-45a3-10b3-a3aff0faf618\",\n  \"recovery_seal\": false,\n  \"storage_type\": \"inmem\",\n  \"build_date\": \"\",\n  \"ha_enabled\": false\n}"
        );
    }
}

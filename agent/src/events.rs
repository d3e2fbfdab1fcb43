//! Push instead of polling: the agent listens to the server's event
//! stream (`sys/events/subscribe/*`) and tells its loop which secrets
//! changed, so a KV write reaches the file within a second rather than at
//! the next `static_secret_render_interval`. The stream is a hint, never
//! the only way: while it is down the agent polls as before, and every
//! (re)connection asks the loop to re-read everything, since events may
//! have been missed in between. Servers without the endpoint (Vault
//! without Enterprise, OpenBao) are retried rarely and quietly.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use arca_client::Client;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::status::Status;

/// What the loop should do about an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Connected (again): events may have been missed, re-read all.
    Resync,
    /// A secret at this path (KV v2: its `data/` path) changed.
    Path(String),
    /// This lease is gone (revoked, expired).
    Lease(String),
}

/// What an event means to the agent, if anything.
pub fn notice(event: &Value) -> Option<Notice> {
    let data = &event["data"];
    let kind = data["event_type"].as_str()?;
    let md = &data["event"]["metadata"];
    if kind.starts_with("lease/") {
        return md["lease_id"].as_str().map(|l| Notice::Lease(l.to_owned()));
    }
    if kind.starts_with("kv-") {
        let path = md["data_path"].as_str().or_else(|| md["path"].as_str())?;
        return Some(Notice::Path(path.to_owned()));
    }
    None
}

/// Runs until the agent drops the receiver: connect with the current
/// token, forward notices, reconnect with backoff when the stream ends.
pub async fn watch(
    client: Client,
    token: Arc<RwLock<String>>,
    tx: mpsc::Sender<Notice>,
    status: Arc<Status>,
) {
    let mut wait = Duration::ZERO;
    let mut said_unavailable = false;
    loop {
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        let current = token.read().map(|t| t.clone()).unwrap_or_default();
        if current.is_empty() {
            wait = Duration::from_secs(1);
            continue;
        }
        let mut stream = match client.with_token(current).subscribe_events("*", None).await {
            Ok(s) => s,
            Err(e) => {
                // 404/405: a server without events; poll, ask again rarely.
                let missing = matches!(e.status(), Some(404 | 405));
                wait = if missing {
                    Duration::from_secs(300)
                } else {
                    crate::auth::backoff(wait, Duration::from_secs(1), Duration::from_secs(30))
                };
                if !missing {
                    tracing::warn!("event stream unavailable, polling meanwhile: {e}");
                } else if !said_unavailable {
                    tracing::info!("the server has no event stream; polling");
                    said_unavailable = true;
                }
                continue;
            }
        };
        tracing::debug!("event stream connected");
        Status::set(&status.stream_up, true);
        if tx.send(Notice::Resync).await.is_err() {
            return;
        }
        let started = tokio::time::Instant::now();
        loop {
            match stream.next().await {
                Ok(Some(ev)) => {
                    Status::add(&status.events);
                    if let Some(n) = notice(&ev) {
                        if tx.send(n).await.is_err() {
                            return;
                        }
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!("event stream broke: {e}");
                    break;
                }
            }
        }
        Status::set(&status.stream_up, false);
        // A stream that lived a while is retried at once; one that keeps
        // ending at once backs off.
        wait = if started.elapsed() > Duration::from_secs(30) {
            Duration::from_millis(100)
        } else {
            crate::auth::backoff(wait, Duration::from_secs(1), Duration::from_secs(30))
        };
        tracing::info!("event stream closed; polling until it is back");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn notices_from_vault_events() {
        let kv = json!({"data": {"event_type": "kv-v2/data-write", "event": {"metadata": {
            "data_path": "secret/data/app", "path": "secret/data/app"}}}});
        assert_eq!(notice(&kv), Some(Notice::Path("secret/data/app".into())));
        let meta = json!({"data": {"event_type": "kv-v2/metadata-delete", "event": {"metadata": {
            "data_path": "secret/data/app", "path": "secret/metadata/app"}}}});
        assert_eq!(notice(&meta), Some(Notice::Path("secret/data/app".into())));
        let v1 = json!({"data": {"event_type": "kv-v1/delete", "event": {"metadata": {
            "path": "kv/app"}}}});
        assert_eq!(notice(&v1), Some(Notice::Path("kv/app".into())));
        let lease = json!({"data": {"event_type": "lease/revoke", "event": {"metadata": {
            "lease_id": "database/creds/app/x", "path": "database/creds/app"}}}});
        assert_eq!(
            notice(&lease),
            Some(Notice::Lease("database/creds/app/x".into()))
        );
        let other =
            json!({"data": {"event_type": "database/creds-create", "event": {"metadata": {}}}});
        assert_eq!(notice(&other), None);
        assert_eq!(notice(&json!({})), None);
    }
}

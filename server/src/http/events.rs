//! `GET /v1/sys/events/subscribe/:event_type?json=true`: the event
//! stream over a WebSocket, as Vault serves it. The request needs a valid
//! token and goes through the core like any other (audited); unlike
//! Vault, no grant on the subscribe path itself is needed, so an agent
//! with an application's policy gets push updates without one more rule.
//! Then the connection is upgraded and carries one text frame
//! per event whose type matches the pattern, whose `filter` matches, and
//! whose path the token may read — checked at each event, so a token
//! that loses access, or is revoked, hears nothing more (a revoked token
//! ends the stream).

use std::sync::Arc;
use std::time::Duration;

use hyper::Method;
use hyper::http::request::Parts;
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{broadcast, watch};

use arca_client::ws::{self, Opcode};

use super::{AppState, Reply};
use crate::core::Core;
use crate::error::Error;
use crate::events::{Event, Filter, glob};
use crate::logical::Operation;
use crate::secret::SecretString;

/// How often the server pings an idle stream (a dead peer is found out
/// when the ping cannot be written).
const PING_EVERY: Duration = Duration::from_secs(30);
/// Subscribers send only control frames; anything bigger is refused.
const MAX_FRAME: usize = 4096;
/// A subscriber that does not take a frame within this long is dropped
/// (it would otherwise hold its connection and task forever).
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Writes `frame`; false when the peer is gone or too slow.
async fn send<S: tokio::io::AsyncWrite + Unpin>(io: &mut S, frame: &[u8]) -> bool {
    matches!(
        tokio::time::timeout(WRITE_TIMEOUT, io.write_all(frame)).await,
        Ok(Ok(()))
    )
}

fn header<'a>(parts: &'a Parts, name: &str) -> &'a str {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

pub async fn subscribe(
    state: &AppState,
    mut parts: Parts,
    path: &str,
    remote: std::net::SocketAddr,
) -> Result<Reply, Error> {
    if parts.method != Method::GET {
        return Err(Error::MethodNotAllowed);
    }
    let pattern = path
        .strip_prefix("sys/events/subscribe/")
        .unwrap_or("")
        .to_owned();
    if pattern.is_empty() {
        return Err(Error::invalid("missing event type"));
    }
    let upgrade = header(&parts, "upgrade").eq_ignore_ascii_case("websocket")
        && header(&parts, "connection")
            .split(',')
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
    let key = header(&parts, "sec-websocket-key").to_owned();
    if !upgrade || key.is_empty() {
        return Err(Error::invalid(
            "the event stream is a WebSocket: send an Upgrade: websocket request",
        ));
    }
    if header(&parts, "sec-websocket-version") != "13" {
        return Err(Error::invalid("unsupported WebSocket version (13 only)"));
    }
    let query = super::query_map(parts.uri.query());
    let q = |k: &str| query.get(k).and_then(Value::as_str).unwrap_or("");
    if !matches!(q("json"), "true" | "1" | "t" | "T" | "TRUE" | "True") {
        return Err(Error::invalid(
            "events are sent as JSON only: add json=true (protobuf is not supported)",
        ));
    }
    let filter = match q("filter") {
        "" => None,
        f => Some(Filter::parse(f).map_err(|e| Error::invalid(format!("invalid filter: {e}")))?),
    };
    // A valid token is needed; what it may hear is decided per event.
    let token = super::request::token(&parts.headers).ok_or(Error::PermissionDenied)?;
    let active = state.core.active()?;
    if active.tokens.lookup(token.expose()).await?.is_none() {
        return Err(Error::PermissionDenied);
    }
    drop(active);
    // The subscription itself: authorized (read on the subscribe path)
    // and audited as a request.
    let id = super::request_id();
    let mut req = super::request::build(&parts, path, &[], Some(remote), id)?;
    req.operation = Operation::Read;
    req.data = Map::new();
    super::handle_within(&state.core, req, state.limits.max_request_duration).await?;

    let on_upgrade = parts
        .extensions
        .remove::<hyper::upgrade::OnUpgrade>()
        .ok_or_else(|| Error::invalid("this connection cannot be upgraded"))?;
    // Subscribed before the answer: an event published once the
    // subscriber has its 101 (and before the upgraded stream's task runs)
    // reaches it.
    let receivers = state.core.events.subscribe();
    let core = Arc::clone(&state.core);
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(io) => stream(TokioIo::new(io), core, receivers, token, pattern, filter).await,
            Err(e) => tracing::debug!(error = %e, "event stream upgrade failed"),
        }
    });
    Ok(Reply {
        status: 101,
        content_type: None,
        body: Vec::new(),
        headers: vec![
            ("upgrade", "websocket".to_owned()),
            ("connection", "Upgrade".to_owned()),
            ("sec-websocket-accept", ws::accept_key(&key)),
        ],
    })
}

/// Whether the token may hear of `event`; `None` when the token is gone
/// (revoked, expired) or the server sealed: the stream ends.
async fn may_hear(core: &Core, token: &SecretString, event: &Event) -> Option<bool> {
    let active = core.active().ok()?;
    let (_, entry) = active.tokens.lookup(token.expose()).await.ok()??;
    let names = active.identity.effective_policies(&entry)?;
    let acl = active.policies.acl(&names, entry.is_root()).await.ok()?;
    Some(
        acl.allow(event.acl_path(), Operation::Read, &Map::new(), None)
            .allowed,
    )
}

async fn stream<S>(
    mut io: S,
    core: Arc<Core>,
    (mut events, mut epoch): (broadcast::Receiver<Arc<Event>>, watch::Receiver<u64>),
    token: SecretString,
    pattern: String,
    filter: Option<Filter>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    let mut buf = Vec::with_capacity(256);
    let close =
        |code: u16, why: &str| ws::encode(Opcode::Close, &ws::close_payload(code, why), None);
    let goodbye = loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(ev) => {
                    if !glob(&pattern, &ev.event_type)
                        || filter.as_ref().is_some_and(|f| !f.matches(&ev))
                    {
                        continue;
                    }
                    match may_hear(&core, &token, &ev).await {
                        Some(true) => {
                            let frame = ws::encode(Opcode::Text, &ev.to_json(&core.events.source), None);
                            if !send(&mut io, &frame).await {
                                break None;
                            }
                        }
                        Some(false) => {}
                        None => break Some(close(1008, "token no longer valid")),
                    }
                }
                // Missed events: the subscriber must start over (and
                // re-read what it watches) rather than trust the stream.
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "event subscriber fell behind; closing its stream");
                    break Some(close(1013, "fell behind; subscribe again"));
                }
                Err(RecvError::Closed) => break Some(close(1001, "server stopping")),
            },
            _ = epoch.changed() => break Some(close(1001, "server sealed")),
            _ = ping.tick() => {
                if !send(&mut io, &ws::encode(Opcode::Ping, b"", None)).await {
                    break None;
                }
            }
            n = io.read_buf(&mut buf) => {
                match n {
                    Ok(0) | Err(_) => break None,
                    Ok(_) => {}
                }
                let mut reply = None;
                let mut end = None;
                loop {
                    match ws::decode(&buf, MAX_FRAME) {
                        Ok(Some((frame, used))) => {
                            buf.drain(..used);
                            match frame.opcode {
                                Opcode::Ping => reply = Some(ws::encode(Opcode::Pong, &frame.payload, None)),
                                Opcode::Close => {
                                    end = Some(close(1000, ""));
                                    break;
                                }
                                _ => {}
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            end = Some(close(1002, &e.to_string()));
                            break;
                        }
                    }
                }
                if let Some(r) = reply {
                    if !send(&mut io, &r).await {
                        break None;
                    }
                }
                if end.is_some() {
                    break end;
                }
            }
        }
    };
    if let Some(frame) = goodbye {
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            let _ = io.write_all(&frame).await;
            let _ = io.flush().await;
        })
        .await;
    }
    let _ = io.shutdown().await;
}

//! The event stream, client side: `GET /v1/sys/events/subscribe/
//! :event_type?json=true` upgraded to a WebSocket, read one event at a
//! time. The agent listens to it to re-render within a second of a write.

use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::client::Client;
use crate::error::{Error, Result};
use crate::ws::{self, Opcode};

/// Events are small; a frame over this is a broken peer.
const MAX_EVENT: usize = 1 << 20;

/// An open subscription.
pub struct EventStream {
    io: reqwest::Upgraded,
    buf: Vec<u8>,
    /// A fragmented message being put together.
    partial: Vec<u8>,
}

impl std::fmt::Debug for EventStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventStream").finish_non_exhaustive()
    }
}

fn stream_error(reason: impl Into<String>) -> Error {
    Error::Stream(reason.into())
}

impl Client {
    /// Subscribes to events whose type matches `pattern` (`*` wildcards:
    /// `kv*`, `*`), optionally narrowed by a `filter` expression.
    pub async fn subscribe_events(
        &self,
        pattern: &str,
        filter: Option<&str>,
    ) -> Result<EventStream> {
        let mut query = vec![("json", "true")];
        if let Some(f) = filter {
            query.push(("filter", f));
        }
        let url = self.url(&format!("sys/events/subscribe/{pattern}"), &query);
        let key = ws::client_key(rand::random());
        let mut req = self
            .http
            .get(&url)
            // The handshake gets the usual bound; the stream then has none.
            .timeout(Duration::from_secs(30))
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", &key);
        if let Some(t) = self.token() {
            req = req.header("X-Vault-Token", t);
        }
        let transport = |source| Error::Transport {
            method: "GET".into(),
            url: url.clone(),
            source,
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status().as_u16();
        if status != 101 {
            let body = resp.bytes().await.map_err(transport)?.to_vec();
            return Err(crate::client::Response {
                status,
                body,
                method: crate::client::Method::Get,
                url: url.clone(),
            }
            .into_error());
        }
        let accept = resp
            .headers()
            .get("sec-websocket-accept")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept != ws::accept_key(&key) {
            return Err(stream_error("the server's WebSocket handshake is wrong"));
        }
        let io = resp.upgrade().await.map_err(transport)?;
        Ok(EventStream {
            io,
            buf: Vec::with_capacity(1024),
            partial: Vec::new(),
        })
    }
}

impl EventStream {
    /// The next event (Vault's CloudEvents JSON); `Ok(None)` when the
    /// server closed the stream (sealed, token revoked, fell behind).
    pub async fn next(&mut self) -> Result<Option<Value>> {
        loop {
            while let Some((frame, used)) =
                ws::decode(&self.buf, MAX_EVENT).map_err(|e| stream_error(e.to_string()))?
            {
                self.buf.drain(..used);
                match frame.opcode {
                    Opcode::Ping => self.send(Opcode::Pong, &frame.payload).await?,
                    Opcode::Close => {
                        let _ = self.send(Opcode::Close, &frame.payload).await;
                        return Ok(None);
                    }
                    Opcode::Pong => {}
                    Opcode::Text | Opcode::Binary | Opcode::Continuation => {
                        self.partial.extend_from_slice(&frame.payload);
                        if self.partial.len() > MAX_EVENT {
                            return Err(stream_error("event over 1 MiB"));
                        }
                        if frame.fin {
                            let msg = std::mem::take(&mut self.partial);
                            let v = serde_json::from_slice(&msg)
                                .map_err(|e| stream_error(format!("event is not JSON: {e}")))?;
                            return Ok(Some(v));
                        }
                    }
                }
            }
            let n = self
                .io
                .read_buf(&mut self.buf)
                .await
                .map_err(|e| stream_error(e.to_string()))?;
            if n == 0 {
                return Ok(None);
            }
        }
    }

    async fn send(&mut self, op: Opcode, payload: &[u8]) -> Result<()> {
        let frame = ws::encode(op, payload, Some(rand::random()));
        self.io
            .write_all(&frame)
            .await
            .map_err(|e| stream_error(e.to_string()))
    }

    /// Closes the stream politely.
    pub async fn close(mut self) {
        let _ = self.send(Opcode::Close, &ws::close_payload(1000, "")).await;
        let _ = self.io.shutdown().await;
    }
}

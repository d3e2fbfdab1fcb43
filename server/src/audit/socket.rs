//! The `socket` audit device: entries sent over TCP (default) or UDP to
//! `address`. The connection is made lazily and kept; a failed write
//! reconnects once before the entry counts as lost, so a restarted
//! collector is picked up again without operator action.

use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpStream, UdpSocket};

use super::Sink;

/// Vault's default `write_timeout`.
pub const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketType {
    Tcp,
    Udp,
}

enum Conn {
    Tcp(TcpStream),
    Udp(UdpSocket),
}

pub struct SocketSink {
    address: String,
    kind: SocketType,
    timeout: Duration,
    conn: tokio::sync::Mutex<Option<Conn>>,
}

fn timed_out() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::TimedOut, "audit socket write timed out")
}

impl SocketSink {
    pub fn new(address: String, kind: SocketType, timeout: Duration) -> Self {
        Self {
            address,
            kind,
            timeout,
            conn: tokio::sync::Mutex::new(None),
        }
    }

    async fn connect(&self) -> std::io::Result<Conn> {
        let fut = async {
            match self.kind {
                SocketType::Tcp => {
                    let s = TcpStream::connect(&self.address).await?;
                    let _ = s.set_nodelay(true);
                    Ok(Conn::Tcp(s))
                }
                SocketType::Udp => {
                    let s = UdpSocket::bind("0.0.0.0:0").await?;
                    s.connect(&self.address).await?;
                    Ok(Conn::Udp(s))
                }
            }
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| timed_out())?
    }

    async fn send(&self, conn: &mut Conn, entry: &[u8]) -> std::io::Result<()> {
        let fut = async {
            match conn {
                Conn::Tcp(s) => s.write_all(entry).await,
                Conn::Udp(s) => s.send(entry).await.map(|_| ()),
            }
        };
        tokio::time::timeout(self.timeout, fut)
            .await
            .map_err(|_| timed_out())?
    }
}

#[async_trait]
impl Sink for SocketSink {
    /// Sends each entry in order on one connection (a request's entries
    /// stay adjacent). The wait for the connection is bounded by
    /// `write_timeout` too, so requests do not queue behind a hung
    /// collector for longer than that.
    async fn write(&self, entries: &[&[u8]]) -> std::io::Result<()> {
        let mut guard = tokio::time::timeout(self.timeout, self.conn.lock())
            .await
            .map_err(|_| timed_out())?;
        for entry in entries {
            self.send_one(&mut guard, entry).await?;
        }
        Ok(())
    }

    async fn reopen(&self) -> std::io::Result<()> {
        *self.conn.lock().await = None;
        Ok(())
    }
}

impl SocketSink {
    /// Sends one entry, reconnecting once if the connection failed.
    async fn send_one(&self, conn: &mut Option<Conn>, entry: &[u8]) -> std::io::Result<()> {
        let mut last = None;
        for _ in 0..2 {
            if conn.is_none() {
                match self.connect().await {
                    Ok(c) => *conn = Some(c),
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            if let Some(c) = conn.as_mut() {
                match self.send(c, entry).await {
                    Ok(()) => return Ok(()),
                    Err(e) => {
                        *conn = None;
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("audit socket unavailable")))
    }
}

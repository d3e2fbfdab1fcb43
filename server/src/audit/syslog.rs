//! The `syslog` audit device: entries sent to the local syslog daemon as
//! RFC 3164 datagrams (`<PRI>Mmm dd hh:mm:ss TAG[PID]: MSG`), the way Go's
//! `log/syslog` writes to a local socket. Options: `facility` (default
//! AUTH), `tag` (default "vault", so existing syslog routing rules keep
//! matching) and, an Arca addition, `socket_path` (default: the first of
//! /dev/log, /var/run/syslog, /var/run/log that exists). Sends happen on
//! the device's writer thread (writer.rs).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use super::writer::Blocking;

const SOCKET_PATHS: &[&str] = &["/dev/log", "/var/run/syslog", "/var/run/log"];
const SEVERITY_INFO: u8 = 6;
const SEND_TIMEOUT: Duration = Duration::from_secs(2);

/// Facility names as syslog (and Vault's `facility` option) spell them.
pub fn facility(name: &str) -> Option<u8> {
    let n = match name.to_ascii_uppercase().as_str() {
        "KERN" => 0,
        "USER" => 1,
        "MAIL" => 2,
        "DAEMON" => 3,
        "AUTH" => 4,
        "SYSLOG" => 5,
        "LPR" => 6,
        "NEWS" => 7,
        "UUCP" => 8,
        "CRON" => 9,
        "AUTHPRIV" => 10,
        "FTP" => 11,
        "LOCAL0" => 16,
        "LOCAL1" => 17,
        "LOCAL2" => 18,
        "LOCAL3" => 19,
        "LOCAL4" => 20,
        "LOCAL5" => 21,
        "LOCAL6" => 22,
        "LOCAL7" => 23,
        _ => return None,
    };
    Some(n)
}

pub struct SyslogSink {
    path: Option<PathBuf>,
    priority: u8,
    tag: String,
    socket: Mutex<Option<UnixDatagram>>,
}

impl SyslogSink {
    pub fn new(socket_path: Option<String>, facility: u8, tag: String) -> Self {
        Self {
            path: socket_path.map(PathBuf::from),
            priority: facility * 8 + SEVERITY_INFO,
            tag,
            socket: Mutex::new(None),
        }
    }

    fn target(&self) -> std::io::Result<PathBuf> {
        if let Some(p) = &self.path {
            return Ok(p.clone());
        }
        SOCKET_PATHS
            .iter()
            .map(Path::new)
            .find(|p| p.exists())
            .map(Path::to_path_buf)
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "Unix syslog delivery error: no syslog socket found",
                )
            })
    }

    fn connect(&self) -> std::io::Result<UnixDatagram> {
        let s = UnixDatagram::unbound()?;
        s.set_write_timeout(Some(SEND_TIMEOUT))?;
        s.connect(self.target()?)?;
        Ok(s)
    }

    fn message(&self, entry: &[u8]) -> Vec<u8> {
        let stamp = time::OffsetDateTime::now_utc();
        let month = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ][usize::from(u8::from(stamp.month())).saturating_sub(1) % 12];
        let header = format!(
            "<{}>{month} {:>2} {:02}:{:02}:{:02} {}[{}]: ",
            self.priority,
            stamp.day(),
            stamp.hour(),
            stamp.minute(),
            stamp.second(),
            self.tag,
            std::process::id()
        );
        let mut msg = header.into_bytes();
        msg.extend_from_slice(entry);
        msg
    }
}

impl Blocking for SyslogSink {
    /// One datagram per entry, on the device's writer thread (a send waits
    /// up to two seconds for a busy daemon).
    fn write_batch(&self, buf: &[u8], ends: &[usize]) -> std::io::Result<()> {
        let mut start = 0;
        for &end in ends {
            self.send(buf.get(start..end).unwrap_or_default())?;
            start = end;
        }
        Ok(())
    }

    fn reopen(&self) -> std::io::Result<()> {
        *self.socket.lock().unwrap_or_else(|e| e.into_inner()) = None;
        Ok(())
    }
}

impl SyslogSink {
    fn send(&self, entry: &[u8]) -> std::io::Result<()> {
        let msg = self.message(entry);
        let mut guard = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        let mut last = None;
        for _ in 0..2 {
            if guard.is_none() {
                match self.connect() {
                    Ok(s) => *guard = Some(s),
                    Err(e) => {
                        last = Some(e);
                        continue;
                    }
                }
            }
            if let Some(s) = guard.as_ref() {
                match s.send(&msg) {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        *guard = None;
                        last = Some(e);
                    }
                }
            }
        }
        Err(last.unwrap_or_else(|| std::io::Error::other("Unix syslog delivery error")))
    }
}

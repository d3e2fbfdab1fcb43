//! The `file` audit device: one line per entry appended to `file_path`
//! (or `stdout`, or `discard`). The file is opened once and kept; SIGHUP
//! reopens it so logrotate can move it away. A failed write drops the
//! handle and the next entry opens the file again, so the device recovers
//! by itself once the disk has room or the file can be written again.
//!
//! The writes happen on the device's own thread (writer.rs), never on a
//! runtime worker: a hung mount or a stdout nobody reads stalls this
//! device's requests (which fail after `write_timeout`), not the server.
//! The entries of concurrent requests gather while a write is under way
//! and go out together in the next one, a request's entries side by side
//! (concurrent writes to a file opened for appending do not interleave).
//!
//! Writability is checked before every write from the open file's mode: a
//! file whose write bits were all removed counts as unwritable even for a
//! process that could still write through its old handle (root does), so
//! an operator's `chmod a-w` stops the log, and with it every request.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use async_trait::async_trait;

use super::Sink;
use super::writer::{Blocking, Writer};

/// Vault's default mode for a new audit file.
pub const DEFAULT_MODE: u32 = 0o600;

enum Target {
    Path(PathBuf),
    Stdout,
}

/// The file (or stdout) as the writer thread sees it.
struct FileTarget {
    target: Target,
    /// Mode set on the file when it is opened; None: leave it as it is.
    mode: Option<u32>,
    file: RwLock<Option<Arc<File>>>,
    /// Set once the file has been opened (the first open applies `mode`).
    opened: std::sync::atomic::AtomicBool,
}

/// The device's sink: `discard` writes nothing; anything else is written
/// on a thread of its own. `scrub`: the entries are `log_raw`, and written
/// buffers are zeroed before reuse.
pub fn sink(
    device: &str,
    path: &str,
    mode: Option<u32>,
    scrub: bool,
    timeout: Duration,
) -> std::io::Result<Box<dyn Sink>> {
    let target = match path {
        "discard" => return Ok(Box::new(Discard)),
        "stdout" => Target::Stdout,
        p => Target::Path(PathBuf::from(p)),
    };
    let target = FileTarget {
        target,
        mode,
        file: RwLock::new(None),
        opened: std::sync::atomic::AtomicBool::new(false),
    };
    Ok(Box::new(Writer::start(device, target, timeout, scrub)?))
}

struct Discard;

#[async_trait]
impl Sink for Discard {
    async fn write(&self, _: &[&[u8]]) -> std::io::Result<()> {
        Ok(())
    }
}

impl FileTarget {
    /// Opens the file; `chmod` applies the configured mode (at enable,
    /// unseal and SIGHUP; not when recovering from a failed write, which
    /// would undo an operator's `chmod a-w`).
    fn open(&self, path: &PathBuf, chmod: bool) -> std::io::Result<File> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let mut opts = OpenOptions::new();
        opts.create(true).append(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(self.mode.unwrap_or(DEFAULT_MODE));
        }
        let file = opts.open(path)?;
        #[cfg(unix)]
        if let Some(mode) = self.mode.filter(|_| chmod) {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        Ok(file)
    }

    fn current(&self) -> Option<Arc<File>> {
        self.file
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map(Arc::clone)
    }

    /// The open file, opening it if there is none.
    fn file(&self, path: &PathBuf) -> std::io::Result<Arc<File>> {
        if let Some(f) = self.current() {
            return Ok(f);
        }
        let mut guard = self.file.write().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = guard.as_ref() {
            return Ok(Arc::clone(f));
        }
        let first = !self.opened.swap(true, std::sync::atomic::Ordering::Relaxed);
        let f = Arc::new(self.open(path, first)?);
        *guard = Some(Arc::clone(&f));
        Ok(f)
    }
}

impl Blocking for FileTarget {
    fn write_batch(&self, buf: &[u8], _ends: &[usize]) -> std::io::Result<()> {
        let path = match &self.target {
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(buf)?;
                return out.flush();
            }
            Target::Path(p) => p,
        };
        let f = self.file(path)?;
        let result = check_writable(&f).and_then(|()| (&*f).write_all(buf));
        if result.is_err() {
            // Drop this handle (unless a reopen already replaced it): the
            // next entry opens the file again.
            let mut guard = self.file.write().unwrap_or_else(|e| e.into_inner());
            if guard.as_ref().is_some_and(|g| Arc::ptr_eq(g, &f)) {
                *guard = None;
            }
        }
        result
    }

    fn reopen(&self) -> std::io::Result<()> {
        let Target::Path(path) = &self.target else {
            return Ok(());
        };
        let mut guard = self.file.write().unwrap_or_else(|e| e.into_inner());
        *guard = None;
        *guard = Some(Arc::new(self.open(path, true)?));
        Ok(())
    }
}

#[cfg(unix)]
fn check_writable(f: &File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if f.metadata()?.permissions().mode() & 0o222 == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "the audit file is not writable",
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_writable(_: &File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sink_at(dir: &tempfile::TempDir) -> (Arc<dyn Sink>, PathBuf) {
        let path = dir.path().join("audit.log");
        let s = sink(
            "file/",
            path.to_str().unwrap(),
            Some(0o600),
            false,
            Duration::from_secs(10),
        )
        .unwrap();
        (Arc::from(s), path)
    }

    /// Many requests at once, on several threads: every entry is in the
    /// file once and whole, and a request's entries stay together.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_entries_are_all_written_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, path) = sink_at(&dir);
        let tasks: Vec<_> = (0..400)
            .map(|i| {
                let sink = Arc::clone(&sink);
                tokio::spawn(async move {
                    if i % 2 == 0 {
                        let one = format!("one {i} {}\n", "x".repeat(i));
                        sink.write(&[one.as_bytes()]).await
                    } else {
                        let req = format!("req {i}\n");
                        let resp = format!("resp {i}\n");
                        sink.write(&[req.as_bytes(), resp.as_bytes()]).await
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 200 + 2 * 200);
        for i in 0..400 {
            if i % 2 == 0 {
                let want = format!("one {i} {}", "x".repeat(i));
                assert_eq!(lines.iter().filter(|l| **l == want).count(), 1, "{want}");
            } else {
                let at = lines.iter().position(|l| *l == format!("req {i}")).unwrap();
                assert_eq!(lines[at + 1], format!("resp {i}"));
            }
        }
    }

    /// A failed write fails the requests whose entries it carried, and
    /// the next write opens the file again.
    #[cfg(unix)]
    #[tokio::test]
    async fn a_failed_write_fails_its_entries_then_recovers() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let (sink, path) = sink_at(&dir);
        sink.write(&[b"before\n"]).await.unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert!(sink.write(&[b"a\n", b"b\n"]).await.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\n");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        sink.write(&[b"after\n"]).await.unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "before\nafter\n");
    }

    /// SIGHUP after logrotate moved the file: the next entries go to a new
    /// file at the configured path.
    #[tokio::test]
    async fn reopen_follows_a_moved_file() {
        let dir = tempfile::tempdir().unwrap();
        let (sink, path) = sink_at(&dir);
        sink.write(&[b"old\n"]).await.unwrap();
        let moved = dir.path().join("audit.log.1");
        std::fs::rename(&path, &moved).unwrap();
        sink.reopen().await.unwrap();
        sink.write(&[b"new\n"]).await.unwrap();
        assert_eq!(std::fs::read_to_string(&moved).unwrap(), "old\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
    }
}

//! The `file` audit device: one line per entry appended to `file_path`
//! (or `stdout`, or `discard`). The file is opened once and kept; SIGHUP
//! reopens it so logrotate can move it away. A failed write drops the
//! handle and the next entry opens the file again, so the device recovers
//! by itself once the disk has room or the file can be written again.
//!
//! Entries are appended without a lock of ours: the file is opened with
//! O_APPEND and each entry is one `write`, which the kernel appends whole,
//! so concurrent requests never wait for each other here (a mutex around
//! the write cost more in context switches than the write itself).
//!
//! Writability is checked on every entry from the open file's mode: a
//! file whose write bits were all removed counts as unwritable even for a
//! process that could still write through its old handle (root does), so
//! an operator's `chmod a-w` stops the log, and with it every request.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::Sink;

/// Vault's default mode for a new audit file.
pub const DEFAULT_MODE: u32 = 0o600;

enum Target {
    Path(PathBuf),
    Stdout,
    Discard,
}

pub struct FileSink {
    target: Target,
    /// Mode set on the file when it is opened; None: leave it as it is.
    mode: Option<u32>,
    file: RwLock<Option<Arc<File>>>,
    /// Set once the file has been opened (the first open applies `mode`).
    opened: std::sync::atomic::AtomicBool,
}

impl FileSink {
    /// `path` is `file_path`; `mode` the parsed `mode` option.
    pub fn new(path: &str, mode: Option<u32>) -> Self {
        let target = match path {
            "stdout" => Target::Stdout,
            "discard" => Target::Discard,
            p => Target::Path(PathBuf::from(p)),
        };
        Self {
            target,
            mode,
            file: RwLock::new(None),
            opened: std::sync::atomic::AtomicBool::new(false),
        }
    }

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

    fn write_blocking(&self, entry: &[u8]) -> std::io::Result<()> {
        let path = match &self.target {
            Target::Discard => return Ok(()),
            Target::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(entry)?;
                return out.flush();
            }
            Target::Path(p) => p,
        };
        let f = self.file(path)?;
        let result = check_writable(&f).and_then(|()| (&*f).write_all(entry));
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

#[async_trait]
impl Sink for FileSink {
    async fn write(&self, entry: &[u8]) -> std::io::Result<()> {
        // One append to the page cache: short enough to do in place.
        self.write_blocking(entry)
    }

    async fn write_many(&self, entries: &[Vec<u8>]) -> std::io::Result<()> {
        // One append for all of them: one syscall, and they stay together.
        self.write_blocking(&entries.concat())
    }

    async fn reopen(&self) -> std::io::Result<()> {
        let Target::Path(path) = &self.target else {
            return Ok(());
        };
        let mut guard = self.file.write().unwrap_or_else(|e| e.into_inner());
        *guard = None;
        *guard = Some(Arc::new(self.open(path, true)?));
        Ok(())
    }
}

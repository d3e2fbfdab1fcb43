//! The embedded single-file store (`storage "file" { path = "DIR" }`): one
//! redb database file, `DIR/arca.db`.
//!
//! Writes go through one writer thread that practises group commit: every
//! batch waiting when a transaction starts is applied in that transaction,
//! and all of them are acknowledged after the one fsync that makes them
//! durable. Under concurrency this turns N fsyncs into one; alone, a write
//! costs exactly one fsync as before. Reads never wait for the writer.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use async_trait::async_trait;
use redb::{Database, TableDefinition};
use tokio::sync::oneshot;

use super::{Backend, Error, Op, Result, immediate_children};

/// The single table: key -> value (ciphertext above the barrier).
const ENTRIES: TableDefinition<&str, &[u8]> = TableDefinition::new("entries");
/// File name inside the configured directory.
pub const DB_FILE: &str = "arca.db";
/// redb's page cache. Its default (1 GiB) would grow the server by the size
/// of the data it reads; past this, reads go to the OS page cache.
const CACHE_BYTES: usize = 64 << 20;
/// Upper bound of batches folded into one transaction, so one commit never
/// holds acknowledgements back for long.
const MAX_GROUP: usize = 256;

struct WriteJob {
    ops: Vec<Op>,
    done: oneshot::Sender<Result<()>>,
}

pub struct FileBackend {
    db: Arc<Database>,
    writer: mpsc::Sender<WriteJob>,
    path: PathBuf,
}

fn backend_err(e: impl std::fmt::Display) -> Error {
    Error::Backend(e.to_string())
}

impl FileBackend {
    /// Opens (or creates) the store in directory `dir`.
    pub fn open(dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::Backend(format!("creating {}: {e}", dir.display())))?;
        restrict_permissions(dir);
        let path = dir.join(DB_FILE);
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(&path)
            .map_err(|e| Error::Backend(format!("opening {}: {e}", path.display())))?;
        restrict_permissions(&path);
        // Make sure the table exists so read transactions can open it.
        let txn = db.begin_write().map_err(backend_err)?;
        txn.open_table(ENTRIES).map_err(backend_err)?;
        txn.commit().map_err(backend_err)?;

        let db = Arc::new(db);
        let (tx, rx) = mpsc::channel::<WriteJob>();
        let writer_db = Arc::clone(&db);
        std::thread::Builder::new()
            .name("arca-storage-writer".into())
            .spawn(move || writer_loop(&writer_db, &rx))
            .map_err(backend_err)?;
        Ok(Self {
            db,
            writer: tx,
            path,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(unix)]
fn restrict_permissions(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if path.is_dir() { 0o700 } else { 0o600 };
    // Best effort: a path we cannot chmod (not ours) still works.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

#[cfg(not(unix))]
fn restrict_permissions(_: &Path) {}

fn writer_loop(db: &Database, rx: &mpsc::Receiver<WriteJob>) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let result = commit_group(db, &jobs);
        for job in jobs {
            let r = match &result {
                Ok(()) => Ok(()),
                Err(e) => Err(Error::Backend(e.clone())),
            };
            let _ = job.done.send(r);
        }
    }
}

fn commit_group(db: &Database, jobs: &[WriteJob]) -> Result<(), String> {
    let txn = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut table = txn.open_table(ENTRIES).map_err(|e| e.to_string())?;
        for job in jobs {
            for op in &job.ops {
                match op {
                    Op::Put(k, v) => {
                        table
                            .insert(k.as_str(), v.as_slice())
                            .map_err(|e| e.to_string())?;
                    }
                    Op::Delete(k) => {
                        table.remove(k.as_str()).map_err(|e| e.to_string())?;
                    }
                }
            }
        }
    }
    txn.commit().map_err(|e| e.to_string())
}

impl FileBackend {
    fn scan(&self, prefix: &str) -> Result<Vec<String>> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(ENTRIES).map_err(backend_err)?;
        let mut keys = Vec::new();
        for item in table.range(prefix..).map_err(backend_err)? {
            let (k, _) = item.map_err(backend_err)?;
            let k = k.value();
            if !k.starts_with(prefix) {
                break;
            }
            keys.push(k.to_owned());
        }
        Ok(keys)
    }
}

#[async_trait]
impl Backend for FileBackend {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(ENTRIES).map_err(backend_err)?;
        Ok(table
            .get(key)
            .map_err(backend_err)?
            .map(|v| v.value().to_vec()))
    }

    async fn write(&self, ops: Vec<Op>) -> Result<()> {
        let (done, wait) = oneshot::channel();
        self.writer
            .send(WriteJob { ops, done })
            .map_err(|_| Error::Closed)?;
        wait.await.map_err(|_| Error::Closed)?
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        let keys = self.scan(prefix)?;
        Ok(immediate_children(prefix, keys.iter().map(String::as_str)))
    }

    async fn keys_under(&self, prefix: &str) -> Result<Vec<String>> {
        self.scan(prefix)
    }

    async fn entries(
        &self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        use std::ops::Bound;
        // One read transaction for the page.
        let txn = self.db.begin_read().map_err(backend_err)?;
        let table = txn.open_table(ENTRIES).map_err(backend_err)?;
        let start = after.map_or(Bound::Included(prefix), Bound::Excluded);
        let mut page = Vec::new();
        for item in table
            .range::<&str>((start, Bound::Unbounded))
            .map_err(backend_err)?
        {
            if page.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(backend_err)?;
            let k = k.value();
            if !k.starts_with(prefix) {
                if k < prefix {
                    continue;
                }
                break;
            }
            page.push((k.to_owned(), v.value().to_vec()));
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn conformance() {
        let dir = tempfile::tempdir().unwrap();
        let b = FileBackend::open(dir.path()).unwrap();
        super::super::conformance::run(&b).await;
    }

    #[tokio::test]
    async fn survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        {
            let b = FileBackend::open(dir.path()).unwrap();
            b.put("a/b", b"v1".to_vec()).await.unwrap();
        }
        // The writer thread may still hold the database for a moment.
        let mut tries = 0;
        let b = loop {
            match FileBackend::open(dir.path()) {
                Ok(b) => break b,
                Err(_) if tries < 100 => {
                    tries += 1;
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(b.get("a/b").await.unwrap(), Some(b"v1".to_vec()));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_are_all_acknowledged_and_present() {
        let dir = tempfile::tempdir().unwrap();
        let b = Arc::new(FileBackend::open(dir.path()).unwrap());
        let mut tasks = Vec::new();
        for i in 0..64 {
            let b = Arc::clone(&b);
            tasks.push(tokio::spawn(async move {
                b.put(&format!("k/{i}"), vec![i as u8]).await.unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(b.list("k/").await.unwrap().len(), 64);
    }
}

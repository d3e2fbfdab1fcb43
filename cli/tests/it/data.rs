//! Secrets engines, auth methods, generic read/write/list/delete, the
//! keyring, and seal/unseal/init against a real OpenBao dev server.

use crate::bao::{BaoServer, row};

#[test]
fn mounts_data_keyring_and_seal() {
    let bao = BaoServer::start();
    let root: &[(&str, &str)] = &[("ARCA_TOKEN", "root")];

    // secrets enable / list / tune / disable
    let out = bao.arca(&["secrets", "enable", "-path=foo", "kv"]);
    assert_eq!(
        out.ok(),
        "Success! Enabled the kv secrets engine at: foo/\n"
    );
    let out = bao.arca(&["secrets", "enable", "-path=foo", "kv"]);
    assert_eq!(
        out.fails(2),
        format!(
            "Error enabling: Error making API request.\n\nURL: POST {}/v1/sys/mounts/foo\nCode: 400. Errors:\n\n* path is already in use at foo/\n",
            bao.addr
        )
    );
    let out = bao.arca(&[
        "secrets",
        "enable",
        "-version=2",
        "-description=two",
        "-path=kv2",
        "kv",
    ]);
    assert_eq!(
        out.ok(),
        "Success! Enabled the kv secrets engine at: kv2/\n"
    );
    let list = bao.arca(&["secrets", "list"]);
    let lines: Vec<&str> = list.ok().lines().collect();
    assert!(
        lines[0].starts_with("Path ") && lines[0].ends_with("Description"),
        "{list:?}"
    );
    assert!(lines[1].starts_with("---- "));
    let foo = lines.iter().find(|l| l.starts_with("foo/ ")).unwrap();
    assert!(foo.contains(" kv ") && foo.ends_with("n/a"), "{foo}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("kv2/ ") && l.ends_with(" two"))
    );
    let detailed = bao.arca(&["secrets", "list", "-detailed"]);
    assert!(
        detailed
            .ok()
            .lines()
            .any(|l| l.starts_with("kv2/ ") && l.contains("map[version:2]"))
    );
    let json = bao.arca(&["secrets", "list", "-format=json"]).json();
    assert_eq!(json["foo/"]["type"], "kv");
    assert_eq!(json["kv2/"]["options"]["version"], "2");
    assert_eq!(
        bao.arca(&["secrets", "tune", "-default-lease-ttl=1h", "foo"])
            .ok(),
        "Success! Tuned the secrets engine at: foo/\n"
    );
    let out = bao.arca(&[
        "secrets",
        "tune",
        "-description=hello",
        "-max-lease-ttl=4h",
        "foo/",
    ]);
    assert_eq!(out.ok(), "Success! Tuned the secrets engine at: foo/\n");
    let tune = bao.arca(&["read", "sys/mounts/foo/tune"]);
    assert_eq!(row(tune.ok(), "default_lease_ttl"), "1h");
    assert_eq!(row(tune.ok(), "max_lease_ttl"), "4h");
    assert_eq!(row(tune.ok(), "description"), "hello");
    let tune = bao
        .arca(&["read", "-format=json", "sys/mounts/foo/tune"])
        .json();
    assert_eq!(tune["data"]["max_lease_ttl"], 14400);
    for path in ["foo", "foo", "kv2/"] {
        let out = bao.arca(&["secrets", "disable", path]);
        let expected = format!(
            "Success! Disabled the secrets engine (if it existed) at: {}\n",
            if path == "kv2/" { "kv2/" } else { "foo/" }
        );
        assert_eq!(out.ok(), expected);
    }
    let out = bao.arca(&["secrets", "enable", "nonexistent-type"]);
    assert!(
        out.fails(2)
            .contains("* plugin not found in the catalog: nonexistent-type"),
        "{out:?}"
    );

    // auth enable / list / tune / disable
    let out = bao.arca(&["auth", "enable", "userpass"]);
    assert_eq!(
        out.ok(),
        "Success! Enabled userpass auth method at: userpass/\n"
    );
    let list = bao.arca(&["auth", "list"]);
    let lines: Vec<&str> = list.ok().lines().collect();
    assert!(
        lines[0].starts_with("Path ") && lines[0].ends_with("Version"),
        "{list:?}"
    );
    assert!(lines.iter().any(|l| l.starts_with("token/ ")));
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("userpass/ ") && l.contains(" userpass "))
    );
    let detailed = bao.arca(&["auth", "list", "-detailed"]);
    assert!(detailed.ok().contains("default-service"));
    assert_eq!(
        bao.arca(&["auth", "list", "-format=json"]).json()["userpass/"]["type"],
        "userpass"
    );
    let out = bao.arca(&["auth", "tune", "-default-lease-ttl=1h", "userpass"]);
    assert_eq!(out.ok(), "Success! Tuned the auth method at: userpass/\n");
    let tune = bao.arca(&["read", "sys/auth/userpass/tune"]);
    assert_eq!(row(tune.ok(), "default_lease_ttl"), "1h");
    let out = bao.arca(&["auth", "disable", "userpass"]);
    assert_eq!(
        out.ok(),
        "Success! Disabled the auth method (if it existed) at: userpass/\n"
    );
    assert!(!bao.arca(&["auth", "list"]).ok().contains("userpass/"));

    // write / read / list / delete on a kv v1 mount
    bao.arca(&["secrets", "enable", "-path=kv1", "kv"]).ok();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pass.txt");
    std::fs::write(&file, "s3cr3t").unwrap();
    let at = format!("pass=@{}", file.display());
    let out = bao.arca(&["write", "kv1/app", "user=alice", &at]);
    assert_eq!(out.ok(), "Success! Data written to: kv1/app\n");
    let out = bao.arca_with(
        &["write", "kv1/other", "-"],
        root,
        br#"{"n": 1, "tags": ["a", "b"]}"#,
    );
    assert_eq!(out.ok(), "Success! Data written to: kv1/other\n");
    let read = bao.arca(&["read", "kv1/app"]);
    let table = read.ok();
    assert!(
        table.starts_with(
            "Key                 Value\n---                 -----\nrefresh_interval    768h\n"
        ),
        "{table}"
    );
    assert_eq!(row(table, "pass"), "s3cr3t");
    assert_eq!(row(table, "user"), "alice");
    assert_eq!(row(bao.arca(&["read", "kv1/other"]).ok(), "tags"), "[a b]");
    assert_eq!(bao.arca(&["read", "-field=user", "kv1/app"]).ok(), "alice");
    let json = bao.arca(&["read", "-format=json", "kv1/app"]).json();
    assert_eq!(json["data"]["pass"], "s3cr3t");
    assert_eq!(json["lease_duration"], 2_764_800);
    assert_eq!(bao.arca(&["list", "kv1"]).ok(), "Keys\n----\napp\nother\n");
    assert_eq!(
        bao.arca(&["list", "-format=json", "kv1/"]).json(),
        serde_json::json!(["app", "other"])
    );
    assert_eq!(
        bao.arca(&["read", "-field=nope", "kv1/app"]).fails(1),
        "Field \"nope\" not present in secret\n"
    );
    for path in ["kv1/app", "kv1/other"] {
        let out = bao.arca(&["delete", path]);
        assert_eq!(
            out.ok(),
            format!("Success! Data deleted (if it existed) at: {path}\n")
        );
    }
    assert_eq!(
        bao.arca(&["read", "kv1/app"]).fails(2),
        "No value found at kv1/app\n"
    );
    assert_eq!(
        bao.arca(&["list", "kv1"]).fails(2),
        "No value found at kv1\n"
    );
    assert_eq!(
        bao.arca(&["read", "sys/nope"]).fails(2),
        "No value found at sys/nope\n"
    );

    // kv v2 through the raw paths, a JSON body on stdin
    let out = bao.arca_with(
        &["write", "secret/data/app", "-"],
        root,
        br#"{"data": {"k": "v"}}"#,
    );
    assert_eq!(row(out.ok(), "version"), "1");
    let read = bao.arca(&["read", "-field=data", "secret/data/app"]);
    assert_eq!(read.ok(), "map[k:v]");
    assert_eq!(
        bao.arca(&["list", "secret/metadata"]).ok(),
        "Keys\n----\napp\n"
    );

    // write returning a secret, and sys endpoints through read
    let out = bao.arca(&["write", "-force", "auth/token/create"]);
    assert_eq!(row(out.ok(), "token_duration"), "∞");
    let out = bao.arca(&[
        "write",
        "sys/policies/acl/x",
        "policy=path \"a\" { capabilities = [\"read\"] }",
    ]);
    assert_eq!(out.ok(), "Success! Data written to: sys/policies/acl/x\n");
    assert!(
        bao.arca(&["list", "sys/policies/acl"])
            .ok()
            .contains("\nx\n")
    );
    assert_eq!(
        row(bao.arca(&["read", "sys/health"]).ok(), "sealed"),
        "false"
    );

    // keyring
    let status = bao.arca(&["operator", "key-status"]);
    let term: u64 = row(status.ok(), "Key Term").parse().unwrap();
    assert!(row(status.ok(), "Install Time").ends_with(" UTC"));
    let out = bao.arca(&["operator", "rotate"]);
    assert!(
        out.ok().starts_with("Success! Rotated key\n\nKey Term "),
        "{out:?}"
    );
    let json = bao.arca(&["operator", "key-status", "-format=json"]).json();
    assert_eq!(json["term"], term + 1);

    // init status, seal, status while sealed, unseal (argument and stdin)
    assert_eq!(
        bao.arca(&["operator", "init", "-status"]).ok(),
        "Arca is initialized\n"
    );
    let out = bao.arca(&["operator", "init"]);
    assert!(
        out.fails(2)
            .starts_with("Error initializing: Error making API request."),
        "{out:?}"
    );
    assert_eq!(
        bao.arca(&["operator", "seal"]).ok(),
        "Success! Arca is sealed.\n"
    );
    let out = bao.arca(&["status"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(row(&out.stdout, "Sealed"), "true");
    assert_eq!(row(&out.stdout, "Unseal Progress"), "0/1");
    assert_eq!(row(&out.stdout, "Unseal Nonce"), "n/a");
    let out = bao.arca(&["operator", "unseal", "not-a-key"]);
    assert!(
        out.fails(2)
            .starts_with("Error unsealing: Error making API request."),
        "{out:?}"
    );
    let out = bao.arca(&["operator", "unseal", &bao.unseal_key]);
    assert_eq!(row(out.ok(), "Sealed"), "false");
    bao.arca(&["operator", "seal"]).ok();
    let out = bao.arca(&["operator", "unseal", "-reset"]);
    assert_eq!(row(out.ok(), "Unseal Progress"), "0/1");
    let out = bao.arca_with(
        &["operator", "unseal", "-format=json"],
        root,
        bao.unseal_key.as_bytes(),
    );
    assert_eq!(out.json()["sealed"], false);
    assert_eq!(bao.arca(&["status"]).code, 0);
}

//! Commands that need no server, and errors when there is none.

use crate::bao::run;

#[test]
fn policy_fmt_rewrites_in_place_and_leaves_invalid_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("unfmt.hcl");
    std::fs::write(
        &file,
        "path \"secret/*\" { capabilities = [\"read\"] }\npath   \"sys/mounts\"{\ncapabilities=[\"read\",\"list\"]\n    }\n",
    )
    .unwrap();
    let path = file.to_str().unwrap();
    let out = run(&["policy", "fmt", path], &[], b"");
    assert_eq!(out.ok(), format!("Success! Formatted policy: {path}\n"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "path \"secret/*\" {\n  capabilities = [\"read\"]\n}\n\npath \"sys/mounts\" {\n  capabilities = [\"read\", \"list\"]\n}\n"
    );

    let bad = dir.path().join("bad.hcl");
    let src = "path \"a\" {\n capabilities = [\"read\"]\n";
    std::fs::write(&bad, src).unwrap();
    let out = run(&["policy", "fmt", bad.to_str().unwrap()], &[], b"");
    assert!(
        out.fails(1).starts_with("failed to parse policy: At "),
        "{out:?}"
    );
    assert_eq!(std::fs::read_to_string(&bad).unwrap(), src);
}

#[test]
fn unreachable_server_and_usage_errors() {
    let env = [("ARCA_ADDR", "http://127.0.0.1:1"), ("ARCA_TOKEN", "root")];
    let out = run(&["status"], &env, b"");
    assert!(
        out.fails(1).starts_with(
            "Error checking seal status: Get \"http://127.0.0.1:1/v1/sys/seal-status\": "
        ),
        "{out:?}"
    );
    let out = run(&["read", "secret/x"], &env, b"");
    assert!(
        out.fails(2).starts_with("Error reading secret/x: Get "),
        "{out:?}"
    );
    assert_eq!(
        run(&["policy", "read"], &env, b"").fails(1),
        "Not enough arguments (expected 1, got 0)\n"
    );
    assert_eq!(
        run(&["list", "a", "b"], &env, b"").fails(1),
        "Too many arguments (expected 1, got 2)\n"
    );
    assert_eq!(
        run(&["token", "lookup", "-bogus"], &env, b"").fails(1),
        "flag provided but not defined: -bogus\n"
    );
    let out = run(&["write", "secret/x"], &env, b"");
    assert_eq!(out.fails(1), "Must supply data or use -force\n");
    // VAULT_* variables are the fallback for ARCA_* ones.
    let out = run(&["status"], &[("VAULT_ADDR", "http://127.0.0.1:1")], b"");
    assert!(
        out.fails(1)
            .contains("http://127.0.0.1:1/v1/sys/seal-status")
    );
}

#[test]
fn client_and_request_errors_keep_their_exit_codes() {
    // A client that cannot be built is exit code 2 everywhere but `status`,
    // whose 2 means "sealed".
    let env = [
        ("ARCA_ADDR", "http://127.0.0.1:1"),
        ("ARCA_SKIP_VERIFY", "maybe"),
    ];
    for args in [
        &["read", "secret/x"][..],
        &["secrets", "list"],
        &["auth", "enable", "userpass"],
        &["kv", "get", "secret/x"],
        &["operator", "init", "-status"],
        &["token", "lookup"],
    ] {
        let out = run(args, &env, b"");
        assert_eq!(
            out.fails(2),
            "could not parse ARCA_SKIP_VERIFY\n",
            "{args:?}"
        );
    }
    assert_eq!(
        run(&["status"], &env, b"").fails(1),
        "could not parse ARCA_SKIP_VERIFY\n"
    );

    // A failed request: 2 with the command's context, 1 where 2 reports a
    // state, and the bare error of the KV preflight.
    let env = [("ARCA_ADDR", "http://127.0.0.1:1"), ("ARCA_TOKEN", "root")];
    let refused: [(&[&str], i32, &str); 11] = [
        (
            &["secrets", "disable", "kv"],
            2,
            "Error disabling secrets engine at kv/: ",
        ),
        (
            &["auth", "disable", "up"],
            2,
            "Error disabling auth method at up/: ",
        ),
        (
            &["secrets", "tune", "kv"],
            2,
            "Error tuning secrets engine kv/: ",
        ),
        (&["auth", "tune", "up"], 2, "Error tuning auth method up/: "),
        (&["secrets", "enable", "kv"], 2, "Error enabling: "),
        (
            &["auth", "enable", "userpass"],
            2,
            "Error enabling userpass auth: ",
        ),
        (&["secrets", "list"], 2, "Error listing secrets engines: "),
        (
            &["auth", "list"],
            2,
            "Error listing enabled authentications: ",
        ),
        (
            &["operator", "init", "-status"],
            1,
            "Error checking init status: ",
        ),
        (
            &["operator", "init"],
            2,
            "Get \"http://127.0.0.1:1/v1/sys/seal-status\": ",
        ),
        (
            &["kv", "get", "secret/x"],
            2,
            "Get \"http://127.0.0.1:1/v1/sys/internal/ui/mounts/secret/x\": ",
        ),
    ];
    for (args, code, prefix) in refused {
        let out = run(args, &env, b"");
        let err = out.fails(code);
        assert!(err.starts_with(prefix), "{args:?}: {err}");
        assert!(err.contains("http://127.0.0.1:1/v1/"), "{args:?}: {err}");
    }

    // Local mistakes are 1, but for those the Go CLI reports with 2.
    let local: [(&[&str], &[u8], i32, &str); 4] = [
        (
            &["kv", "put", "secret/x", "novalue"],
            b"",
            1,
            "Failed to parse K=V data: invalid key/value pair \"novalue\": format must be key=value\n",
        ),
        (
            &["operator", "unseal"],
            b"\n",
            1,
            "No unseal key given: pass it as the argument or on standard input\n",
        ),
        (
            &["policy", "write", "p", "/nonexistent/p.hcl"],
            b"",
            2,
            "Error opening policy file: open /nonexistent/p.hcl: no such file or directory\n",
        ),
        (
            &["login", "-"],
            b"\n",
            2,
            "Error authenticating: no token provided\n",
        ),
    ];
    for (args, stdin, code, message) in local {
        assert_eq!(run(args, &env, stdin).fails(code), message, "{args:?}");
    }
}

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

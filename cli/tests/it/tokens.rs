//! Status, login and the token helper, tokens, policies and capabilities
//! against a real OpenBao dev server.

use crate::bao::{BaoServer, row};

const P1: &str = "path \"secret/*\" {\n  capabilities = [\"read\", \"list\"]\n}\n";

#[test]
fn status_login_tokens_and_policies() {
    let bao = BaoServer::start();

    // status
    let out = bao.arca(&["status"]);
    let table = out.ok();
    assert!(
        table.starts_with("Key             Value\n---             -----\nSeal Type       shamir\n"),
        "{table}"
    );
    assert_eq!(row(table, "Sealed"), "false");
    assert_eq!(row(table, "Storage Type"), "inmem");
    assert_eq!(row(table, "HA Enabled"), "false");
    let json = bao.arca(&["status", "-format=json"]).json();
    assert_eq!(json["sealed"], false);
    assert_eq!(json["ha_enabled"], false);
    assert_eq!(json["build_date"], "");

    // login stores the token in ~/.vault-token, which later commands use.
    let no_token: &[(&str, &str)] = &[];
    let out = bao.arca_with(&["login", "root"], no_token, b"");
    let stdout = out.ok();
    assert!(
        stdout.starts_with("Success! You are now authenticated."),
        "{stdout}"
    );
    assert_eq!(row(stdout, "token"), "root");
    assert_eq!(row(stdout, "token_duration"), "∞");
    assert_eq!(row(stdout, "policies"), "[\"root\"]");
    assert_eq!(std::fs::read(bao.token_file()).unwrap(), b"root");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(bao.token_file())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = bao.arca_with(&["token", "lookup"], no_token, b"");
    assert_eq!(row(out.ok(), "id"), "root");
    assert_eq!(row(out.ok(), "expire_time"), "<nil>");
    let out = bao.arca_with(&["login", "-no-store", "s.notarealtoken"], no_token, b"");
    assert_eq!(
        out.fails(2),
        format!(
            "Error authenticating: error looking up token: Error making API request.\n\n\
             URL: GET {}/v1/auth/token/lookup-self\nCode: 403. Errors:\n\n* permission denied\n",
            bao.addr
        )
    );
    let out = bao.arca_with(&["login", "-format=json", "-"], no_token, b"root\n");
    assert_eq!(out.json()["auth"]["client_token"], "root");

    // policies
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p1.hcl");
    std::fs::write(&file, P1).unwrap();
    let out = bao.arca(&["policy", "write", "p1", file.to_str().unwrap()]);
    assert_eq!(out.ok(), "Success! Uploaded policy: p1\n");
    let out = bao.arca_with(
        &["policy", "write", "p2", "-"],
        &[("ARCA_TOKEN", "root")],
        P1.as_bytes(),
    );
    assert_eq!(out.ok(), "Success! Uploaded policy: p2\n");
    assert_eq!(bao.arca(&["policy", "read", "p1"]).ok(), P1);
    assert_eq!(
        bao.arca(&["policy", "read", "-format=json", "p1"]).json()["policy"],
        P1
    );
    let default = bao.arca(&["policy", "read", "default"]);
    assert!(
        default
            .ok()
            .starts_with("# Allow tokens to look up their own properties\n")
    );
    let list = bao.arca(&["policy", "list"]);
    for name in ["default", "p1", "p2", "root"] {
        assert!(list.ok().lines().any(|l| l == name), "{}", list.stdout);
    }
    let names = bao.arca(&["policy", "list", "-format=json"]).json();
    assert!(names.as_array().unwrap().contains(&serde_json::json!("p2")));
    assert_eq!(
        bao.arca(&["policy", "delete", "p2"]).ok(),
        "Success! Deleted policy: p2\n"
    );
    assert_eq!(
        bao.arca(&["policy", "read", "p2"]).fails(2),
        "No policy named: p2\n"
    );
    let err = bao.arca(&["policy", "delete", "root"]);
    assert_eq!(
        err.fails(2),
        format!(
            "Error deleting root: Error making API request.\n\nURL: DELETE {}/v1/sys/policies/acl/root\nCode: 400. Errors:\n\n* cannot delete \"root\" policy\n",
            bao.addr
        )
    );
    let bad = bao.arca_with(
        &["policy", "write", "bad", "-"],
        &[("ARCA_TOKEN", "root")],
        b"path \"secret/*\" {\n  capabilities = [\"fly\"]\n}\n",
    );
    assert!(
        bad.fails(2)
            .starts_with("Error uploading policy: Error making API request.")
    );
    assert!(
        bad.stderr.contains("invalid capability \\\"fly\\\"")
            || bad.stderr.contains("invalid capability \"fly\"")
    );

    // token create
    let out = bao.arca(&["token", "create", "-policy=p1", "-ttl=1h", "-metadata=a=b"]);
    let table = out.ok();
    assert!(
        table.starts_with(
            "Key                  Value\n---                  -----\ntoken                "
        ),
        "{table}"
    );
    assert_eq!(row(table, "token_duration"), "1h");
    assert_eq!(row(table, "token_renewable"), "true");
    assert_eq!(row(table, "token_policies"), "[\"default\" \"p1\"]");
    assert_eq!(row(table, "identity_policies"), "[]");
    assert_eq!(row(table, "token_meta_a"), "b");
    let created = bao
        .arca(&["token", "create", "-policy=p1", "-ttl=1h", "-format=json"])
        .json();
    let token = created["auth"]["client_token"]
        .as_str()
        .unwrap()
        .to_string();
    let accessor = created["auth"]["accessor"].as_str().unwrap().to_string();
    assert_eq!(created["auth"]["lease_duration"], 3600);
    assert!(created.get("wrap_info").is_none());
    let field = bao.arca(&["token", "create", "-field=token", "-orphan", "-period=1h"]);
    assert!(
        field.ok().starts_with("s.") || field.ok().starts_with("hvs."),
        "{field:?}"
    );
    assert!(!field.ok().ends_with('\n'));

    // token lookup
    let out = bao.arca(&["token", "lookup", &token]);
    assert_eq!(row(out.ok(), "policies"), "[default p1]");
    assert_eq!(row(out.ok(), "creation_ttl"), "1h");
    assert_eq!(row(out.ok(), "meta"), "<nil>");
    let out = bao.arca(&["token", "lookup", "-accessor", &accessor]);
    assert_eq!(row(out.ok(), "id"), "n/a");
    let json = bao
        .arca(&["token", "lookup", "-format=json", &token])
        .json();
    assert_eq!(json["data"]["id"], token.as_str());
    let own = bao.arca_with(&["token", "lookup"], &[("ARCA_TOKEN", &token)], b"");
    assert_eq!(row(own.ok(), "id"), token);

    // token renew
    let out = bao.arca(&["token", "renew", "-increment=30m", &token]);
    assert_eq!(row(out.ok(), "token_duration"), "30m");
    let out = bao.arca(&["token", "renew", "-accessor", &accessor]);
    assert_eq!(row(out.ok(), "token"), "n/a");
    let out = bao.arca_with(&["token", "renew"], &[("ARCA_TOKEN", &token)], b"");
    assert_eq!(row(out.ok(), "token"), token);
    let out = bao.arca(&["token", "renew"]);
    assert!(
        out.fails(2)
            .ends_with("Code: 400. Errors:\n\n* lease is not renewable\n"),
        "{out:?}"
    );

    // token capabilities
    assert_eq!(
        bao.arca(&["token", "capabilities", &token, "secret/foo"])
            .ok(),
        "list, read\n"
    );
    assert_eq!(
        bao.arca(&["token", "capabilities", "secret/foo"]).ok(),
        "root\n"
    );
    let own = bao.arca_with(
        &["token", "capabilities", "-format=json", "secret/foo"],
        &[("ARCA_TOKEN", &token)],
        b"",
    );
    assert_eq!(own.json(), serde_json::json!(["list", "read"]));
    let by_accessor = bao.arca(&[
        "token",
        "capabilities",
        "-accessor",
        &accessor,
        "secret/foo",
    ]);
    assert_eq!(by_accessor.ok(), "list, read\n");

    // token revoke
    let revoked = "Success! Revoked token (if it existed)\n";
    assert_eq!(bao.arca(&["token", "revoke", &token]).ok(), revoked);
    let out = bao.arca(&["token", "lookup", &token]);
    assert!(
        out.fails(2)
            .starts_with("Error looking up token: Error making API request.\n\nURL: POST "),
        "{out:?}"
    );
    assert!(
        out.stderr.ends_with("Code: 403. Errors:\n\n* bad token\n"),
        "{out:?}"
    );
    let other = bao.arca(&["token", "create", "-format=json"]).json();
    let acc = other["auth"]["accessor"].as_str().unwrap();
    assert_eq!(
        bao.arca(&["token", "revoke", "-accessor", acc]).ok(),
        revoked
    );
    let own = bao.arca(&["token", "create", "-policy=p1", "-field=token"]);
    let own = own.ok().to_string();
    assert_eq!(
        bao.arca_with(&["token", "revoke", "-self"], &[("ARCA_TOKEN", &own)], b"")
            .ok(),
        revoked
    );
    let parent = bao.arca(&["token", "create", "-field=token"]);
    let parent = parent.ok().to_string();
    assert_eq!(
        bao.arca(&["token", "revoke", "-mode=orphan", &parent]).ok(),
        revoked
    );
    assert_eq!(
        bao.arca(&["token", "revoke"]).fails(1),
        "Not enough arguments (expected 1, got 0)\n"
    );
}

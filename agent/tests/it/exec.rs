//! exec mode: the application runs under the agent with the secrets in
//! its environment, is restarted once per burst of changes, and its exit
//! code is the agent's.

use std::path::Path;
use std::time::Duration;

use arca_agent::{Agent, Exit, config};
use serde_json::json;

use crate::common::{Sidecar, arca, root};

fn hcl(addr: &str, token_file: &Path, command: &str) -> String {
    format!(
        r#"
vault {{
  address = "{addr}"
}}
auto_auth {{
  method "token_file" {{
    config = {{
      token_file_path = "{t}"
    }}
  }}
}}
template_config {{
  static_secret_render_interval = "500ms"
}}
env_template "SECRET" {{
  contents = "{{{{ with secret \"secret/data/app\" }}}}{{{{ .Data.data.password }}}}{{{{ end }}}}"
  error_on_missing_key = true
}}
exec {{
  command = ["/bin/sh", "-c", "{command}"]
  restart_on_secret_changes = "always"
  restart_stop_signal = "SIGTERM"
  min_interval = "2s"
}}
"#,
        t = token_file.display()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_app_gets_its_secrets_and_one_restart_per_burst() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "root").unwrap();
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "one"}}),
    )
    .await;
    let starts = dir.path().join("starts");
    // Each start appends the secret it was given, then waits for SIGTERM.
    let command = format!(
        "echo $SECRET >> {}; trap 'exit 0' TERM; while true; do sleep 0.05; done",
        starts.display()
    );
    let cfg = config::from_hcl(
        &hcl(&addr, &dir.path().join("token"), &command),
        "agent.hcl",
    )
    .unwrap();
    let run = Sidecar::start(cfg);
    let lines = || {
        std::fs::read_to_string(&starts)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for _ in 0..100 {
        if !lines().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(lines(), ["one"]);
    // A burst: three writes within a second make one restart, with the
    // last value.
    for v in ["two", "three", "four"] {
        root(
            &addr,
            "POST",
            "secret/data/app",
            json!({"data": {"password": v}}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Polled (a loaded machine delays the agent and the app); then
    // longer than min_interval, when a second restart would have come.
    for _ in 0..400 {
        if lines().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(lines(), ["one", "four"]);
    assert_eq!(run.stop().await, Exit::Stopped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_exits_with_the_apps_exit_code() {
    let addr = arca().await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "root").unwrap();
    root(
        &addr,
        "POST",
        "secret/data/app",
        json!({"data": {"password": "s3cret"}}),
    )
    .await;
    let cfg = config::from_hcl(
        &hcl(
            &addr,
            &dir.path().join("token"),
            "test $SECRET = s3cret && exit 3; exit 9",
        ),
        "agent.hcl",
    )
    .unwrap();
    let exit = Agent::new(cfg)
        .unwrap()
        .run(None, std::future::pending())
        .await
        .unwrap();
    assert_eq!(exit, Exit::App(3));
}

//! `arca-agent -config agent.hcl`: see the crate's documentation.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// The environment variable the injector passes the configuration in
/// (JSON, or base64 of it), when no `-config` is given.
const CONFIG_ENV: &str = "ARCA_AGENT_CONFIG";

const USAGE: &str = "Usage: arca-agent -config FILE [-init-deadline DURATION]

Runs a Vault Agent configuration (HCL, or JSON when FILE ends in .json):
logs in with auto_auth, renders every template to its destination, and
keeps them fresh; with exit_after_auth = true it renders once and exits
(an init container). Without -config, the configuration is read from
$ARCA_AGENT_CONFIG (JSON, plain or base64), as the injector passes it.

  -config FILE             the configuration file
  -init-deadline DURATION  give up on the first login and render after this
                           long (default: 5m with exit_after_auth, else none)
  -log-level LEVEL         trace, debug, info (default), warn, error
  -copy-to PATH            first copy this binary to PATH (0755): the
                           injector's init container leaves it on a shared
                           volume for exec mode; alone, only that
";

fn main() -> ExitCode {
    let mut config = None;
    let mut deadline = None;
    let mut level = "info".to_owned();
    let mut copy_to: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.trim_start_matches('-').split_once('=') {
            Some((f, v)) => (f.to_owned(), Some(v.to_owned())),
            None => (a.trim_start_matches('-').to_owned(), None),
        };
        let mut value = || inline.clone().or_else(|| args.next());
        match flag.as_str() {
            "config" => config = value().map(PathBuf::from),
            "init-deadline" => match value().map(|v| arca_client::duration::parse(&v)) {
                Some(Ok(d)) => deadline = Some(d),
                _ => return usage("-init-deadline wants a duration (30s, 5m)"),
            },
            "log-level" => level = value().unwrap_or_default(),
            "copy-to" => copy_to = value().map(PathBuf::from),
            "h" | "help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            _ => return usage(&format!("unknown argument {a:?}")),
        }
    }
    // The agent's own lines only, at the level asked for (a plain target
    // filter: no regex engine in the binary).
    let Ok(level) = level.parse::<tracing::level_filters::LevelFilter>() else {
        return usage("-log-level wants trace, debug, info, warn, error or off");
    };
    {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(
                tracing_subscriber::fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())),
            )
            .with(tracing_subscriber::filter::Targets::new().with_target("arca_agent", level))
            .init();
    }
    if let Some(to) = &copy_to {
        if let Err(e) = arca_agent::files::copy_self(to) {
            eprintln!("arca-agent: copying itself to {}: {e}", to.display());
            return ExitCode::FAILURE;
        }
        if config.is_none() && std::env::var_os(CONFIG_ENV).is_none() {
            return ExitCode::SUCCESS;
        }
    }
    let cfg = match arca_agent::load_config(config, CONFIG_ENV) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("arca-agent: {e}");
            return ExitCode::from(2);
        }
    };
    for w in &cfg.warnings {
        tracing::warn!("{w}");
    }
    if cfg.exit_after_auth && deadline.is_none() {
        deadline = Some(Duration::from_secs(300));
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("arca-agent: {e}");
            return ExitCode::FAILURE;
        }
    };
    let pid_file = cfg.pid_file.clone();
    let written = pid_file.clone();
    let result = runtime.block_on(async move {
        if let Some(p) = &written {
            std::fs::write(p, std::process::id().to_string())
                .map_err(|e| format!("writing the pid file {}: {e}", p.display()))?;
        }
        let agent = arca_agent::Agent::new(cfg)?;
        agent.run(deadline, stop_signal()).await
    });
    if let Some(p) = &pid_file {
        let _ = std::fs::remove_file(p);
    }
    match result {
        // exec mode: the application's own exit code.
        Ok(arca_agent::Exit::App(code)) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("arca-agent: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("arca-agent: {msg}\n\n{USAGE}");
    ExitCode::from(2)
}

/// SIGTERM or SIGINT.
async fn stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}

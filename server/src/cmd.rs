//! `arca server`: flags (Go style, as Vault's: `-dev`, `-config=FILE`,
//! `-dev-root-token-id`, `-dev-listen-address`), logging, the start-up
//! banner, and the serve loop until SIGTERM or Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::clock::Clock;
use crate::config::{self, Config, Listener, Storage};
use crate::core::{Core, CoreConfig};
use crate::router::mounts::SystemTtl;
use crate::storage::DynBackend;
use crate::storage::file::FileBackend;
use crate::storage::inmem::InmemBackend;

const HELP: &str = r#"Usage: arca server [options]

  This command starts an Arca server that responds to API requests. By
  default, Arca starts in sealed state. Its state must be unsealed (with
  "arca operator unseal") before it serves requests.

  Start a server with a configuration file:

      $ arca server -config=/etc/arca/config.hcl

  Start a development server (in memory, already unsealed, root token
  "root" if -dev-root-token-id=root is given). Not for production:

      $ arca server -dev

Command Options:

  -config=<string>
      Path to a configuration file in HCL: listener "tcp" { address,
      tls_disable, tls_cert_file, tls_key_file, tls_min_version,
      tls_max_version, tls_cipher_suites, tls_require_and_verify_client_cert,
      tls_client_ca_file, max_request_size,
      max_request_duration, http_read_header_timeout, http_read_timeout,
      http_write_timeout, http_idle_timeout },
      storage "file" { path } or storage "inmem" {}, api_addr, cluster_addr,
      cluster_name, ui, log_level, log_format, disable_mlock,
      default_lease_ttl, max_lease_ttl, pid_file, telemetry {
      unauthenticated_metrics_access }.

  -log-level=<string>
      Log verbosity: trace, debug, info, warn, error. Default: info.

  -log-format=<string>
      Log format: standard or json. Default: standard.

Dev Options:

  -dev
      Enable development mode: in-memory storage, initialized with one key
      share, unsealed, KV v2 mounted at secret/. All data is lost on exit.

  -dev-root-token-id=<string>
      Initial root token in dev mode (env ARCA_DEV_ROOT_TOKEN_ID or
      VAULT_DEV_ROOT_TOKEN_ID). Default: random.

  -dev-listen-address=<string>
      Address to listen on in dev mode (env ARCA_DEV_LISTEN_ADDRESS or
      VAULT_DEV_LISTEN_ADDRESS). Default: 127.0.0.1:8200.
"#;

#[derive(Debug, Default, PartialEq)]
struct Flags {
    help: bool,
    dev: bool,
    config: Option<PathBuf>,
    dev_root_token_id: Option<String>,
    dev_listen_address: Option<String>,
    log_level: Option<String>,
    log_format: Option<String>,
}

fn parse_flags(args: &[String]) -> Result<Flags, String> {
    let mut f = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n, Some(v.to_owned())),
            None => (stripped, None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            if let Some(v) = inline.clone() {
                return Ok(v);
            }
            let v = args
                .get(i)
                .cloned()
                .ok_or_else(|| format!("flag needs an argument: -{name}"))?;
            i += 1;
            Ok(v)
        };
        match name {
            "h" | "help" => f.help = true,
            "dev" => {
                f.dev = match inline.as_deref() {
                    None | Some("true") | Some("1") => true,
                    Some("false") | Some("0") => false,
                    Some(v) => return Err(format!("invalid boolean value {v:?} for -dev")),
                }
            }
            "config" => f.config = Some(PathBuf::from(value(name)?)),
            "dev-root-token-id" => f.dev_root_token_id = Some(value(name)?),
            "dev-listen-address" => f.dev_listen_address = Some(value(name)?),
            "log-level" => f.log_level = Some(value(name)?),
            "log-format" => f.log_format = Some(value(name)?),
            other => return Err(format!("flag provided but not defined: -{other}")),
        }
    }
    Ok(f)
}

fn env_any(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

fn init_logging(level: &str, format: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(format!("arca_server={level},arca={level},warn"))
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if format == "json" {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}

/// Runs `arca server`; returns the exit code.
pub fn server(args: &[String]) -> i32 {
    let flags = match parse_flags(args) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("{e}\n\n{HELP}");
            return 1;
        }
    };
    if flags.help {
        print!("{HELP}");
        return 0;
    }
    let config = if flags.dev {
        let address = flags
            .dev_listen_address
            .clone()
            .or_else(|| env_any(&["ARCA_DEV_LISTEN_ADDRESS", "VAULT_DEV_LISTEN_ADDRESS"]))
            .unwrap_or_else(|| "127.0.0.1:8200".into());
        Config {
            listeners: vec![Listener {
                address,
                tls_disable: true,
                ..Default::default()
            }],
            storage: Storage::Inmem,
            api_addr: None,
            cluster_addr: None,
            cluster_name: None,
            ui: true,
            log_level: None,
            log_format: None,
            disable_mlock: true,
            default_lease_ttl: None,
            max_lease_ttl: None,
            pid_file: None,
            unauthenticated_metrics_access: true,
        }
    } else {
        let Some(path) = &flags.config else {
            eprintln!(
                "No configuration files found. Use -config=FILE, or -dev for a development server."
            );
            return 1;
        };
        match config::load(path) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("Error loading configuration from {}: {e}", path.display());
                return 1;
            }
        }
    };
    let level = flags
        .log_level
        .clone()
        .or_else(|| config.log_level.clone())
        .unwrap_or_else(|| "info".into());
    let format = flags
        .log_format
        .clone()
        .or_else(|| config.log_format.clone())
        .unwrap_or_else(|| "standard".into());
    init_logging(&level, &format);

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("Error starting the runtime: {e}");
            return 1;
        }
    };
    let root_token_id = flags
        .dev_root_token_id
        .clone()
        .or_else(|| env_any(&["ARCA_DEV_ROOT_TOKEN_ID", "VAULT_DEV_ROOT_TOKEN_ID"]))
        // An empty id means "pick one", as Vault does.
        .filter(|id| !id.is_empty());
    match runtime.block_on(serve(config, flags.dev, root_token_id, &level)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    }
}

pub use crate::tls::acceptor as tls_acceptor;

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}

/// SIGHUP: audit devices reopen their files (logrotate), as Vault's do.
#[cfg(unix)]
async fn reopen_on_sighup(core: Arc<Core>) {
    let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP received: reopening audit devices");
        core.reopen_audit().await;
    }
}

fn write_token_helper(token: &str) {
    let Some(home) = std::env::var_os("HOME") else {
        return;
    };
    let path = PathBuf::from(home).join(".vault-token");
    #[cfg(unix)]
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
        {
            let _ = f.write_all(token.as_bytes());
        }
    }
    #[cfg(not(unix))]
    let _ = std::fs::write(&path, token);
}

async fn serve(
    config: Config,
    dev: bool,
    root_token_id: Option<String>,
    level: &str,
) -> Result<(), String> {
    let backend: DynBackend = match &config.storage {
        Storage::Inmem => Arc::new(InmemBackend::new()),
        Storage::File { path } => Arc::new(FileBackend::open(path).map_err(|e| e.to_string())?),
    };
    let mut ttl = SystemTtl::default();
    if let Some(d) = config.default_lease_ttl {
        ttl.default = d;
    }
    if let Some(m) = config.max_lease_ttl {
        ttl.max = m;
    }
    let core = Core::new(
        backend,
        CoreConfig {
            storage_type: config.storage.type_name().into(),
            ttl,
            unauthenticated_metrics: config.unauthenticated_metrics_access,
            cluster_name: config.cluster_name.clone(),
            api_addr: config.api_addr.clone(),
        },
        Clock::system(),
    );
    core.load_state().await.map_err(|e| e.to_string())?;

    let mut bound = Vec::new();
    for l in &config.listeners {
        let addr: SocketAddr = l
            .address
            .parse()
            .map_err(|_| format!("invalid listener address {:?}", l.address))?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| format!("error listening on {addr}: {e}"))?;
        let tls = tls_acceptor(l)?;
        bound.push((listener, tls, l.clone()));
    }
    let first = &config.listeners[0];
    let scheme = if first.tls_disable { "http" } else { "https" };
    let api_addr = config
        .api_addr
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{}", first.address));

    let dev_creds = if dev {
        let (key, root) = core
            .dev_setup(root_token_id)
            .await
            .map_err(|e| e.to_string())?;
        write_token_helper(&root);
        Some((key, root))
    } else {
        None
    };

    let mut out = String::new();
    out.push_str("==> Arca server configuration:\n\n");
    out.push_str(&format!("             Api Address: {api_addr}\n"));
    if let Some(c) = &config.cluster_addr {
        out.push_str(&format!("         Cluster Address: {c}\n"));
    }
    for (i, l) in config.listeners.iter().enumerate() {
        let max = l.limits.max_request_size;
        let tls = if l.tls_disable { "disabled" } else { "enabled" };
        out.push_str(&format!(
            "              Listener {}: tcp (addr: {:?}, max_request_size: \"{max}\", tls: {tls:?})\n",
            i + 1,
            l.address
        ));
    }
    out.push_str(&format!("               Log Level: {level}\n"));
    out.push_str(&format!(
        "                 Storage: {}\n",
        config.storage.type_name()
    ));
    out.push_str(&format!(
        "                 Version: Arca v{}\n\n",
        crate::VERSION
    ));
    out.push_str("==> Arca server started! Log data will stream in below:\n\n");
    if let Some((key, root)) = &dev_creds {
        out.push_str(&format!(
            "WARNING! dev mode is enabled! In this mode, Arca runs entirely in-memory
and starts unsealed with a single unseal key. The root token is already
authenticated to the CLI, so you can immediately begin using Arca.

You may need to set the following environment variables:

    $ export ARCA_ADDR='{api_addr}'
    $ export VAULT_ADDR='{api_addr}'

The unseal key and root token are displayed below in case you want to
seal/unseal the Vault or re-authenticate.

Unseal Key: {key}
Root Token: {root}

Development mode should NOT be used in production installations!

"
        ));
    }
    print!("{out}");
    use std::io::Write;
    let _ = std::io::stdout().flush();

    if let Some(pid_file) = &config.pid_file {
        let _ = std::fs::write(pid_file, std::process::id().to_string());
    }

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut servers = Vec::new();
    for (listener, tls, l) in bound {
        let mut rx = stop_rx.clone();
        let core = Arc::clone(&core);
        let limits = l.limits;
        servers.push(tokio::spawn(async move {
            crate::run(listener, tls, core, limits, async move {
                let _ = rx.wait_for(|s| *s).await;
            })
            .await;
        }));
    }
    #[cfg(unix)]
    let hup = tokio::spawn(reopen_on_sighup(Arc::clone(&core)));
    shutdown_signal().await;
    tracing::info!("shutdown signal received; stopping");
    #[cfg(unix)]
    hup.abort();
    stop_tx.send_replace(true);
    for s in servers {
        let _ = s.await;
    }
    core.seal().await;
    if let Some(pid_file) = &config.pid_file {
        let _ = std::fs::remove_file(pid_file);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn go_style_flags() {
        let f = parse_flags(&args(&[
            "-dev",
            "-dev-root-token-id=root",
            "--dev-listen-address",
            "127.0.0.1:1",
        ]))
        .unwrap();
        assert!(f.dev);
        assert_eq!(f.dev_root_token_id.as_deref(), Some("root"));
        assert_eq!(f.dev_listen_address.as_deref(), Some("127.0.0.1:1"));
        let f = parse_flags(&args(&["-config", "/x.hcl"])).unwrap();
        assert_eq!(f.config, Some(PathBuf::from("/x.hcl")));
        assert!(
            parse_flags(&args(&["-nope"]))
                .unwrap_err()
                .contains("not defined: -nope")
        );
        assert!(parse_flags(&args(&["-config"])).is_err());
        assert!(parse_flags(&args(&["stray"])).is_err());
        assert!(parse_flags(&args(&["-dev=maybe"])).is_err());
        assert!(parse_flags(&args(&["-h"])).unwrap().help);
    }
}

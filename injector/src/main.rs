//! `arca-injector -listen=:8080 -tls-cert-file=… -tls-key-file=…
//! -vault-address=…`: see `-help`.

use std::process::ExitCode;
use std::sync::Arc;

use arca_injector::{server, settings, tls};

// Every review allocates a few hundred small objects; glibc's malloc was
// a third of the injector's CPU under load.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let s = match settings::parse(&args, |k| std::env::var(k).ok()) {
        Ok(Some(s)) => s,
        Ok(None) => {
            print!("{}", settings::usage());
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("arca-injector: {e}");
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::new(format!("arca_injector={}", s.log_level));
    if s.log_format == "json" {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let files = match (s.tls_cert_file.clone(), s.tls_key_file.clone(), &s.tls_auto) {
        (Some(cert), Some(key), None) => Some((cert, key)),
        (None, None, Some(_)) => None,
        _ => {
            eprintln!(
                "arca-injector: give -tls-cert-file and -tls-key-file, or -tls-auto (the API server calls webhooks over HTTPS)"
            );
            return ExitCode::from(2);
        }
    };
    // One worker thread per CPU the process may use (cgroup quota
    // included); on one, a single-threaded runtime: no work-stealing
    // machinery on the path of every review.
    let cpus = std::thread::available_parallelism().map_or(1, usize::from);
    let mut builder = if cpus == 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("arca-injector: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        tls::init();
        let certs = match files {
            Some((cert, key)) => tls::Reloading::from_files(cert, key),
            None => {
                let namespace = s
                    .tls_auto_namespace
                    .clone()
                    .or_else(|| std::env::var("POD_NAMESPACE").ok())
                    .or_else(|| {
                        std::fs::read_to_string(
                            "/var/run/secrets/kubernetes.io/serviceaccount/namespace",
                        )
                        .ok()
                    })
                    .unwrap_or_else(|| "default".into());
                arca_injector::autotls::AutoTls {
                    webhook: s.tls_auto.clone().unwrap_or_default(),
                    hosts: s.tls_auto_hosts.clone(),
                    secret: s.tls_auto_secret.clone(),
                    namespace: namespace.trim().to_owned(),
                    lifetime: s.tls_auto_lifetime,
                }
                .start()
                .await
            }
        };
        let certs = match certs {
            Ok(c) => c,
            Err(e) => {
                eprintln!("arca-injector: {e}");
                return ExitCode::FAILURE;
            }
        };
        let addr = server::bind_address(&s.listen);
        let listener = match tokio::net::TcpListener::bind(&addr).await {
            Ok(l) => l,
            Err(e) => {
                eprintln!("arca-injector: listening on {addr}: {e}");
                return ExitCode::FAILURE;
            }
        };
        tracing::info!("serving admission reviews on https://{addr}/mutate");
        let app = Arc::new(server::App {
            settings: s,
            metrics: Default::default(),
        });
        tokio::select! {
            () = server::serve(listener, certs.server_config(), app) => {}
            _ = tokio::signal::ctrl_c() => {}
            () = sigterm() => {}
        }
        ExitCode::SUCCESS
    })
}

async fn sigterm() {
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut s) => {
            s.recv().await;
        }
        Err(_) => std::future::pending().await,
    }
}

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
    let (Some(cert), Some(key)) = (s.tls_cert_file.clone(), s.tls_key_file.clone()) else {
        eprintln!(
            "arca-injector: -tls-cert-file and -tls-key-file are required (the API server calls webhooks over HTTPS)"
        );
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("arca-injector: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        tls::init();
        let certs = match tls::Reloading::from_files(cert, key) {
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

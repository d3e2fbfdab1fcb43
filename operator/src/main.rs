use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

const USAGE: &str = "\
Usage: arca-operator <command> [flags]

Commands:
  run [flags]          Run the controllers (arca-operator run -help lists the flags).
  crds [--out DIR]...  Print the CustomResourceDefinitions as YAML, or write
                       one file per definition into each DIR. The
                       repository's copies: arca-operator crds --out crds
                       --out charts/arca/crds
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("crds") => crds(&args[1..]),
        Some("run") => run(&args[1..]),
        Some("-h" | "--help" | "help") => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(2)
        }
    }
}

fn crds(args: &[String]) -> ExitCode {
    match args {
        [] => {
            let mut out = std::io::stdout().lock();
            for (_, crd) in arca_operator::crd::definitions() {
                let written = arca_operator::crd::to_yaml(&crd)
                    .map_err(|e| e.to_string())
                    .and_then(|yaml| write!(out, "---\n{yaml}").map_err(|e| e.to_string()));
                if let Err(e) = written {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        _ => {
            let mut dirs = Vec::new();
            let mut rest = args.iter();
            while let Some(flag) = rest.next() {
                match (flag.as_str(), rest.next()) {
                    ("--out" | "-out", Some(dir)) => dirs.push(PathBuf::from(dir)),
                    _ => {
                        eprint!("{USAGE}");
                        return ExitCode::from(2);
                    }
                }
            }
            for dir in dirs {
                match arca_operator::crd::write_all(&dir) {
                    Ok(files) => files.iter().for_each(|f| println!("wrote {f}")),
                    Err(e) => {
                        eprintln!("error: {}: {e}", dir.display());
                        return ExitCode::FAILURE;
                    }
                }
            }
            ExitCode::SUCCESS
        }
    }
}

fn run(args: &[String]) -> ExitCode {
    if args
        .iter()
        .any(|a| matches!(a.as_str(), "-h" | "-help" | "--help"))
    {
        print!("{}", arca_operator::settings::USAGE);
        return ExitCode::SUCCESS;
    }
    let settings = match arca_operator::settings::parse(args) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}\n\n{}", arca_operator::settings::USAGE);
            return ExitCode::from(2);
        }
    };
    let filter = tracing_subscriber::EnvFilter::new(format!(
        "{level},kube_runtime=warn,kube_client=warn,kube_lease_manager=warn,arca_operator={level}",
        level = settings.log_level
    ));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if settings.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match rt.block_on(arca_operator::run::run(settings)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

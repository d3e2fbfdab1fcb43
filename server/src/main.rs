//! The `arca` binary: `arca server ...` runs the server; every other
//! subcommand is the client CLI.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("server") => arca_server::cmd::server(&args[1..]),
        _ => arca_cli::run(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

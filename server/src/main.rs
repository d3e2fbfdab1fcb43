//! The `arca` binary: `arca server ...` runs the server; every other
//! subcommand is the client CLI.

use std::process::ExitCode;

/// mimalloc rather than glibc's malloc: side by side (server and wrk each
/// on its own core, 8 s cells, three rounds) the server took 5-10 % less
/// CPU per request, and a file audit device cost 27 % of KV reads instead of
/// 32 % and 11 % of KV writes instead of 18 %. glibc's allocator spent that
/// time in `_int_malloc` and `malloc_consolidate`, which every allocation
/// over 1 KiB walks into. Built with `no_thp`: with transparent huge pages
/// an idle dev server held 14.8 MiB instead of 9.5 (glibc: 7.8).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("server") => arca_server::cmd::server(&args[1..]),
        _ => arca_cli::run(args),
    };
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

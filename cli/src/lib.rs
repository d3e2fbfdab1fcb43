//! arca-cli: the `arca` command line client, a `vault`/`bao`-compatible CLI
//! that reaches the server only through arca-client.
//!
//! The crate map:
//!
//! - [`run`], [`run_with`], [`execute`]: entry points (the `arca` binary
//!   calls [`run`] for every subcommand but `server`).
//! - `cmd/`: the command table and one file per subcommand; `mounts/`
//!   serves the `secrets …` and `auth …` pairs.
//! - `error`: what a command can fail with, and its exit code.
//! - `flags`: Go-style flag parsing (durations: `arca_client::duration`).
//! - `output/`: tables, Go-style JSON and `%v`, the secret envelope.
//! - `token_helper`: `~/.vault-token` (`policy fmt`'s renderer: `arca_client::hcl_fmt`).
//! - [`Io`]: the environment and streams a command uses.

mod cmd;
mod error;
mod flags;
mod io;
mod output;
mod token_helper;
mod wrap;

pub use io::Io;

/// Runs one command line (without the program name) against the process's
/// environment and standard streams; returns the exit code: 0 success,
/// 1 usage or local error, 2 API error (or "sealed" for `status`).
pub fn run(args: Vec<String>) -> i32 {
    let mut io = Io::process();
    run_with(args, &mut io)
}

/// Like [`run`], with the given environment and streams (see [`Io::memory`]).
/// Builds its own single-threaded runtime, so it must not be called from
/// inside an async context; use [`execute`] there.
pub fn run_with(args: Vec<String>, io: &mut Io) -> i32 {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            io.err(&format!("Error starting the runtime: {e}"));
            return 1;
        }
    };
    runtime.block_on(execute(args, io))
}

/// Runs one command line on the caller's runtime.
pub async fn execute(args: Vec<String>, io: &mut Io) -> i32 {
    cmd::execute(args, io).await
}

//! arca-cli: the `arca` command line client.

/// Runs a CLI command; returns the process exit code.
pub fn run(_args: Vec<String>) -> i32 {
    eprintln!("the arca CLI is not built yet; use the bao or vault CLI");
    1
}

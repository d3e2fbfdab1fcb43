//! `arca operator unseal [KEY]`: gives one unseal key share (read from
//! stdin when not given), or `-reset` to forget the shares given so far,
//! then prints the seal status.

use super::status::output_seal_status;
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "operator unseal",
    synopsis: "Unseals the server",
    help: "Usage: arca operator unseal [options] [KEY]\n\n  \
           Provide a portion of the root key to unseal an Arca server. Arca starts in\n  \
           a sealed state. It cannot perform operations until it is unsealed. This\n  \
           command accepts a portion of the root key (an \"unseal key\").\n\n  \
           The unseal key can be supplied as an argument to the command, but this is\n  \
           not recommended as the unseal key will be available in your history:\n\n      \
           $ arca operator unseal IXyR0OJnSFobekZMMCKCoVEpT7wI6l+USMzE3IcyDyo=\n\n  \
           Instead, run the command with no arguments and it reads the key from\n  \
           standard input:\n\n      \
           $ arca operator unseal < key-file",
    flags: &[Flag::new(
        "reset",
        Kind::Bool,
        "Discard any previously entered keys to the unseal process.",
    )
    .default("false")],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(0, Some(1))?;
    let mut key = ctx
        .args()
        .first()
        .map(|k| k.trim().to_string())
        .unwrap_or_default();
    let client = ctx.client()?;
    if ctx.flags.bool("reset") {
        let status = client
            .unseal_reset()
            .await
            .context("Error resetting unseal process")?;
        return output_seal_status(ctx, &client, &status).await;
    }
    if key.is_empty() {
        if ctx.io.is_terminal() {
            ctx.err("Unseal Key (will be read from standard input): ");
        }
        let read = ctx.io.read_stdin().map_err(|e| {
            Error::Local(format!(
                "An error occurred attempting to read the unseal key: {e}"
            ))
        })?;
        key = read.trim().to_string();
        if key.is_empty() {
            return Err(Error::Usage(
                "No unseal key given: pass it as the argument or on standard input".into(),
            ));
        }
    }
    let status = client.unseal(&key).await.context("Error unsealing")?;
    output_seal_status(ctx, &client, &status).await
}

//! `arca operator seal`: seals the server (`PUT sys/seal`).

use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "operator seal",
    synopsis: "Seals the server",
    help: "Usage: arca operator seal [options]\n\n  \
           Seals the Arca server. Sealing tells the server to stop responding to any\n  \
           operations until it is unsealed. When sealed, the server discards its\n  \
           in-memory root key to unlock the data, so it is physically blocked from\n  \
           responding to operations unsealed.\n\n  \
           If an unseal is in progress, sealing the server will reset the unsealing\n  \
           process. Users will have to re-enter their portions of the root key again.\n\n  \
           This command does nothing if the server is already sealed.\n\n  \
           Seal the server:\n\n      \
           $ arca operator seal",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    client.seal().await.context("Error sealing")?;
    ctx.out("Success! Arca is sealed.");
    Ok(())
}

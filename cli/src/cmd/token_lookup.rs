//! `arca token lookup [TOKEN]`: a token's properties; the caller's own
//! token (`lookup-self`) without an argument, by accessor with `-accessor`.

use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "token lookup",
    synopsis: "Display information about a token",
    help: "Usage: arca token lookup [options] [TOKEN | ACCESSOR]\n\n  \
           Displays information about a token or accessor. If a TOKEN is not provided,\n  \
           the locally authenticated token is used.\n\n  \
           Get information about the locally authenticated token (this uses the\n  \
           /auth/token/lookup-self endpoint and permission):\n\n      \
           $ arca token lookup\n\n  \
           Get information about a particular token (this uses the /auth/token/lookup\n  \
           endpoint and permission):\n\n      \
           $ arca token lookup s.2kjqZ12ofDr3efPdtMJ1z5dZ\n\n  \
           Get information about a token via its accessor:\n\n      \
           $ arca token lookup -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da",
    flags: &[Flag::new(
        "accessor",
        Kind::Bool,
        "Treat the argument as an accessor instead of a token. When this option is \
         selected, the output will NOT include the token.",
    )
    .default("false")],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let accessor = ctx.flags.bool("accessor");
    ctx.arity(usize::from(accessor), Some(1))?;
    let client = ctx.client()?;
    let arg = ctx.args().first().cloned();
    let result = match (accessor, arg) {
        (true, Some(acc)) => client.lookup_accessor(&acc).await,
        (false, Some(token)) => client.lookup_token(&token).await,
        (_, None) => client.lookup_self().await,
    };
    let secret = result.context("Error looking up token")?;
    ctx.output_secret_or_field(&secret)
}

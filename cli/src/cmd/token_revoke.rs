//! `arca token revoke [TOKEN]`: revokes a token and its children; the
//! caller's own token with `-self`, by accessor with `-accessor`, keeping
//! the children with `-mode=orphan`.

use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "token revoke",
    synopsis: "Revoke a token and its children",
    help: "Usage: arca token revoke [options] [TOKEN | ACCESSOR]\n\n  \
           Revokes authentication tokens and their children. If a TOKEN is not provided,\n  \
           the -self flag must be specified. If an ACCESSOR is provided, the -accessor\n  \
           flag must be specified.\n\n  \
           Revoke a token and all the token's children:\n\n      \
           $ arca token revoke s.96ddf4bc1fbd45d9\n\n  \
           Revoke a token leaving the token's children:\n\n      \
           $ arca token revoke -mode=orphan s.96ddf4bc1fbd45d9\n\n  \
           Revoke a token by accessor:\n\n      \
           $ arca token revoke -accessor 9793c9b3-e04a-46f3-e7b8-748d7da248da",
    flags: &[
        Flag::new(
            "accessor",
            Kind::Bool,
            "Treat the argument as an accessor instead of a token.",
        )
        .default("false"),
        Flag::new(
            "mode",
            Kind::Str,
            "Type of revocation to perform. If unspecified, Arca will revoke the token and \
             all of the token's children. If \"orphan\", Arca will revoke only the token, \
             leaving the children as orphans.",
        ),
        Flag::new(
            "self",
            Kind::Bool,
            "Perform the revocation on the currently authenticated token.",
        )
        .default("false"),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let accessor = ctx.flags.bool("accessor");
    let own = ctx.flags.bool("self");
    let mode = ctx.flags.string("mode");
    if own && accessor {
        return Err(Error::Usage("Cannot use -self with -accessor!".into()));
    }
    if !matches!(mode.as_str(), "" | "orphan") {
        return Err(Error::Usage(format!(
            "Unsupported revocation mode {mode:?}: only \"orphan\" is supported"
        )));
    }
    if accessor && mode == "orphan" {
        return Err(Error::Usage(
            "Cannot use -mode=orphan with -accessor!".into(),
        ));
    }
    let n = usize::from(!own);
    ctx.arity(n, Some(n))?;
    let client = ctx.client()?;
    let arg = ctx.args().first().cloned().unwrap_or_default();
    let result = if own {
        client.revoke_self().await
    } else if accessor {
        client.revoke_accessor(&arg).await
    } else if mode == "orphan" {
        client.revoke_orphan(&arg).await
    } else {
        client.revoke_token(&arg).await
    };
    result.context("Error revoking token")?;
    ctx.out("Success! Revoked token (if it existed)");
    Ok(())
}

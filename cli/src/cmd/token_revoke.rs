//! `arca token revoke [TOKEN]`: revokes a token and its children; the
//! caller's own token with `-self`, by accessor with `-accessor`, keeping
//! the children with `-mode=orphan`.

use super::{Ctx, Spec};
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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    let accessor = ctx.flags.bool("accessor");
    let own = ctx.flags.bool("self");
    let mode = ctx.flags.string("mode");
    if own && accessor {
        ctx.err("Cannot use -self with -accessor!");
        return 1;
    }
    if !matches!(mode.as_str(), "" | "orphan") {
        ctx.err(&format!(
            "Unsupported revocation mode {mode:?}: only \"orphan\" is supported"
        ));
        return 1;
    }
    if accessor && mode == "orphan" {
        ctx.err("Cannot use -mode=orphan with -accessor!");
        return 1;
    }
    let ok = if own {
        ctx.arity(0, Some(0))
    } else {
        ctx.arity(1, Some(1))
    };
    if !ok {
        return 1;
    }
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
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
    match result {
        Ok(()) => {
            ctx.out("Success! Revoked token (if it existed)");
            0
        }
        Err(e) => {
            ctx.err(&format!("Error revoking token: {e}"));
            2
        }
    }
}

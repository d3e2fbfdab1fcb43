//! `arca token capabilities [TOKEN] PATH`: what a token may do on a path;
//! the caller's own token without TOKEN, by accessor with `-accessor`.

use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "token capabilities",
    synopsis: "Print capabilities of a token on a path",
    help: "Usage: arca token capabilities [options] [TOKEN | ACCESSOR] PATH\n\n  \
           Fetches the capabilities of a token for a given path. If a TOKEN is provided\n  \
           as an argument, the \"/sys/capabilities\" endpoint and permission is used. If\n  \
           no TOKEN is provided, the \"/sys/capabilities-self\" endpoint and permission\n  \
           is used with the locally authenticated token. With -accessor, the argument\n  \
           is an accessor and \"/sys/capabilities-accessor\" is used.\n\n  \
           List capabilities for the local token on the \"secret/foo\" path:\n\n      \
           $ arca token capabilities secret/foo\n\n  \
           List capabilities for a token on the \"cubbyhole/foo\" path:\n\n      \
           $ arca token capabilities s.96ddf4bc1fbd45d9 cubbyhole/foo",
    flags: &[Flag::new(
        "accessor",
        Kind::Bool,
        "Treat the first argument as an accessor instead of a token.",
    )
    .default("false")],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let accessor = ctx.flags.bool("accessor");
    ctx.arity(if accessor { 2 } else { 1 }, Some(2))?;
    let client = ctx.client()?;
    let args = ctx.args().to_vec();
    let result = match args.as_slice() {
        [acc, path] if accessor => client.capabilities_accessor(acc, path).await,
        [token, path] => client.capabilities(token, path).await,
        // One argument: the arity check leaves no other case.
        _ => client.capabilities_self(&args[0]).await,
    };
    let mut caps = result.context("Error listing capabilities")?;
    caps.sort();
    match ctx.format {
        Format::Table => ctx.out(&caps.join(", ")),
        Format::Json => ctx.output_json(&caps),
    }
    Ok(())
}

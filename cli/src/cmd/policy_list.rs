//! `arca policy list`: policy names, one per line.

use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "policy list",
    synopsis: "Lists the installed policies",
    help: "Usage: arca policy list [options]\n\n  \
           Lists the names of the policies that are installed on the Arca server.\n\n  \
           List the available policies:\n\n      \
           $ arca policy list",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    let names = client
        .list_policies()
        .await
        .context("Error listing policies")?;
    match ctx.format {
        Format::Json => ctx.output_json(&names),
        Format::Table => {
            for n in &names {
                ctx.out(n);
            }
        }
    }
    Ok(())
}

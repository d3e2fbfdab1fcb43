//! `arca policy list`: policy names, one per line.

use super::{Ctx, Spec};
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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(0, Some(0)) {
        return 1;
    }
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    match client.list_policies().await {
        Ok(names) => match ctx.format {
            Format::Json => ctx.output_json(&names),
            Format::Table => {
                for n in &names {
                    ctx.out(n);
                }
                0
            }
        },
        Err(e) => {
            ctx.err(&format!("Error listing policies: {e}"));
            2
        }
    }
}

//! `arca policy read NAME`: prints a policy's text.

use serde_json::json;

use super::{Ctx, Spec};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "policy read",
    synopsis: "Prints the contents of a policy",
    help: "Usage: arca policy read [options] [NAME]\n\n  \
           Prints the contents and metadata of the Arca policy named NAME. If the policy\n  \
           does not exist, an error is returned.\n\n  \
           Read the policy named \"my-policy\":\n\n      \
           $ arca policy read my-policy",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let name = ctx.args()[0].trim().to_lowercase();
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    match client.read_policy(&name).await {
        Ok(Some(rules)) => match ctx.format {
            Format::Json => ctx.output_json(&json!({ "policy": rules })),
            Format::Table => {
                ctx.out(rules.trim());
                0
            }
        },
        Ok(None) => {
            ctx.err(&format!("No policy named: {name}"));
            2
        }
        Err(e) => {
            ctx.err(&format!("Error reading policy named {name}: {e}"));
            2
        }
    }
}

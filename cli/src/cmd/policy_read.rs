//! `arca policy read NAME`: prints a policy's text.

use serde_json::json;

use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let name = ctx.args()[0].trim().to_lowercase();
    let client = ctx.client()?;
    let rules = client
        .read_policy(&name)
        .await
        .context(format!("Error reading policy named {name}"))?
        .ok_or_else(|| Error::Response(format!("No policy named: {name}")))?;
    match ctx.format {
        Format::Json => ctx.output_json(&json!({ "policy": rules })),
        Format::Table => ctx.out(rules.trim()),
    }
    Ok(())
}

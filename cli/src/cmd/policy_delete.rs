//! `arca policy delete NAME`.

use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "policy delete",
    synopsis: "Deletes a policy by name",
    help: "Usage: arca policy delete [options] NAME\n\n  \
           Deletes the policy named NAME in the Arca server. Once the policy is deleted,\n  \
           all tokens associated with the policy are affected immediately.\n\n  \
           Delete the policy named \"my-policy\":\n\n      \
           $ arca policy delete my-policy\n\n  \
           Note that it is not possible to delete the \"default\" or \"root\" policies.\n  \
           These are built-in policies.",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let name = ctx.args()[0].trim().to_lowercase();
    let client = ctx.client()?;
    client
        .delete_policy(&name)
        .await
        .context(format!("Error deleting {name}"))?;
    ctx.out(&format!("Success! Deleted policy: {name}"));
    Ok(())
}

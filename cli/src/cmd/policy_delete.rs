//! `arca policy delete NAME`.

use super::{Ctx, Spec};

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
    match client.delete_policy(&name).await {
        Ok(()) => {
            ctx.out(&format!("Success! Deleted policy: {name}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error deleting {name}: {e}"));
            2
        }
    }
}

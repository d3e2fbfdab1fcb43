//! `arca secrets disable PATH`: unmounts a secrets engine and deletes its data.

use super::ctx::{sanitize_path, with_trailing_slash};
use super::{Ctx, Spec};

pub(crate) const SPEC: Spec = Spec {
    name: "secrets disable",
    synopsis: "Disable a secrets engine",
    help: "Usage: arca secrets disable [options] PATH\n\n  \
           Disables a secrets engine at the given PATH. The argument corresponds to the\n  \
           enabled PATH of the engine, not the TYPE! All secrets created by this engine\n  \
           are revoked and its Arca data is removed.\n\n  \
           Disable the secrets engine enabled at aws/:\n\n      \
           $ arca secrets disable aws/",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let path = with_trailing_slash(&sanitize_path(&ctx.args()[0]));
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    match client.disable_mount(&path).await {
        Ok(()) => {
            ctx.out(&format!(
                "Success! Disabled the secrets engine (if it existed) at: {path}"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error disabling secrets engine at {path}: {e}"));
            2
        }
    }
}

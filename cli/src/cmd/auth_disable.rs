//! `arca auth disable PATH`: disables an auth method and revokes its tokens.

use super::ctx::{sanitize_path, with_trailing_slash};
use super::{Ctx, Spec};

pub(crate) const SPEC: Spec = Spec {
    name: "auth disable",
    synopsis: "Disables an auth method",
    help: "Usage: arca auth disable [options] PATH\n\n  \
           Disables an existing auth method at the given PATH. The argument corresponds\n  \
           to the PATH of the mount, not the TYPE! Once the auth method is disabled its\n  \
           path can no longer be used to authenticate.\n\n  \
           All access tokens generated via the disabled auth method are immediately\n  \
           revoked. This command will block until all tokens are revoked.\n\n  \
           Disable the auth method at userpass/:\n\n      \
           $ arca auth disable userpass/",
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
    match client.disable_auth(&path).await {
        Ok(()) => {
            ctx.out(&format!(
                "Success! Disabled the auth method (if it existed) at: {path}"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error disabling auth method at {path}: {e}"));
            2
        }
    }
}

//! `arca policy fmt FILE`: rewrites a policy file in canonical style, in
//! place. Nothing is written when the file is not a valid policy.

use super::ctx::go_io_error;
use super::{Ctx, Spec};
use crate::hcl_fmt;

pub(crate) const SPEC: Spec = Spec {
    name: "policy fmt",
    synopsis: "Formats a policy on disk",
    help: "Usage: arca policy fmt [options] PATH\n\n  \
           Formats a local policy file to the policy specification. This command will\n  \
           overwrite the file at the given PATH with the properly-formatted policy file\n  \
           contents. Comments are kept.\n\n  \
           Format the local file \"my-policy.hcl\" as a policy file:\n\n      \
           $ arca policy fmt my-policy.hcl",
    flags: &[],
};

pub(crate) fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let path = ctx.args()[0].trim().to_string();
    let src = match std::fs::read_to_string(&path) {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!(
                "Error reading source file: {}",
                go_io_error("open", &path, &e)
            ));
            return 1;
        }
    };
    let formatted = match hcl_fmt::format_policy(&src) {
        Ok(f) => f,
        Err(e) => {
            ctx.err(&e.to_string());
            return 1;
        }
    };
    if let Err(e) = std::fs::write(&path, formatted) {
        ctx.err(&format!(
            "Error writing result: {}",
            go_io_error("open", &path, &e)
        ));
        return 1;
    }
    ctx.out(&format!("Success! Formatted policy: {path}"));
    0
}

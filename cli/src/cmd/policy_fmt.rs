//! `arca policy fmt FILE`: rewrites a policy file in canonical style, in
//! place. Nothing is written when the file is not a valid policy.

use super::ctx::go_io_error;
use super::{Ctx, Spec};
use crate::error::{Error, Result};
use arca_client::hcl_fmt;

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

pub(crate) fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let path = ctx.args()[0].trim().to_string();
    let src = std::fs::read_to_string(&path).map_err(|e| {
        Error::Local(format!(
            "Error reading source file: {}",
            go_io_error("open", &path, &e)
        ))
    })?;
    let formatted = hcl_fmt::format_policy(&src).map_err(|e| Error::Local(e.to_string()))?;
    std::fs::write(&path, formatted).map_err(|e| {
        Error::Local(format!(
            "Error writing result: {}",
            go_io_error("open", &path, &e)
        ))
    })?;
    ctx.out(&format!("Success! Formatted policy: {path}"));
    Ok(())
}

//! `arca policy write NAME FILE|-`: uploads an ACL policy.

use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "policy write",
    synopsis: "Uploads a named policy from a file",
    help: "Usage: arca policy write [options] NAME PATH\n\n  \
           Uploads a policy with name NAME from the contents of a local file PATH or\n  \
           stdin. If PATH is \"-\", the policy is read from stdin. Otherwise, it is\n  \
           loaded from the file at the given path on the local disk.\n\n  \
           Upload a policy named \"my-policy\" from \"/tmp/policy.hcl\" on the local disk:\n\n      \
           $ arca policy write my-policy /tmp/policy.hcl\n\n  \
           Upload a policy from stdin:\n\n      \
           $ cat my-policy.hcl | arca policy write my-policy -",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(2, Some(2))?;
    let name = ctx.args()[0].trim().to_lowercase();
    let path = ctx.args()[1].clone();
    let client = ctx.client()?;
    let rules = ctx
        .read_file_or_stdin(&path)
        .map_err(|e| Error::Failed(format!("Error opening policy file: {e}")))?;
    client
        .write_policy(&name, &rules)
        .await
        .context("Error uploading policy")?;
    ctx.out(&format!("Success! Uploaded policy: {name}"));
    Ok(())
}

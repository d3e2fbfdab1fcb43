//! `arca policy write NAME FILE|-`: uploads an ACL policy.

use super::{Ctx, Spec};

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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(2, Some(2)) {
        return 1;
    }
    let name = ctx.args()[0].trim().to_lowercase();
    let path = ctx.args()[1].clone();
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let rules = match ctx.read_file_or_stdin(&path) {
        Ok(r) => r,
        Err(e) => {
            ctx.err(&format!("Error opening policy file: {e}"));
            return 2;
        }
    };
    match client.write_policy(&name, &rules).await {
        Ok(()) => {
            ctx.out(&format!("Success! Uploaded policy: {name}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error uploading policy: {e}"));
            2
        }
    }
}

//! `arca read PATH [K=V...]`: reads any logical path.

use super::ctx::sanitize_path;
use super::{Ctx, Spec, kv_args};

pub(crate) const SPEC: Spec = Spec {
    name: "read",
    synopsis: "Read data and retrieves secrets",
    help: "Usage: arca read [options] PATH [K=V...]\n\n  \
           Reads data from Arca at the given path. This can be used to read secrets,\n  \
           generate dynamic credentials, get configuration details, and more.\n\n  \
           Read a secret from the static secrets engine:\n\n      \
           $ arca read secret/my-secret\n\n  \
           Print only one field:\n\n      \
           $ arca read -field=policy sys/policies/acl/default",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    let Some(first) = ctx.args().first() else {
        ctx.err("Not enough arguments (expected 1, got 0)");
        return 1;
    };
    let path = sanitize_path(first);
    let rest = ctx.args()[1..].to_vec();
    let data = match kv_args::parse(ctx, &rest) {
        Ok(d) => d,
        Err(e) => {
            ctx.err(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    match client
        .read_with_query(&path, &kv_args::to_query(data))
        .await
    {
        Ok(Some(secret)) => ctx.output_secret_or_field(&secret),
        Ok(None) => {
            ctx.err(&format!("No value found at {path}"));
            2
        }
        Err(e) => {
            ctx.err(&format!("Error reading {path}: {e}"));
            2
        }
    }
}

//! `arca read PATH [K=V...]`: reads any logical path.

use super::ctx::sanitize_path;
use super::{Ctx, Spec, kv_args};
use crate::error::{Context, Error, Result};

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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let Some(first) = ctx.args().first() else {
        return Err(Error::Usage(
            "Not enough arguments (expected 1, got 0)".into(),
        ));
    };
    let path = sanitize_path(first);
    let rest = ctx.args()[1..].to_vec();
    let data = kv_args::data(ctx, &rest)?;
    let client = ctx.client()?;
    let secret = client
        .read_with_query(&path, &kv_args::to_query(data))
        .await
        .context(format!("Error reading {path}"))?
        .ok_or_else(|| Error::Response(format!("No value found at {path}")))?;
    ctx.output_secret_or_field(&secret)
}

//! `arca list PATH`: lists the keys under a logical path.

use super::ctx::sanitize_path;
use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "list",
    synopsis: "List data or secrets",
    help: "Usage: arca list [options] PATH\n\n  \
           Lists data from Arca at the given path. This can be used to list keys in a,\n  \
           given secrets engine.\n\n  \
           List values under the \"my-app\" folder of the KV secrets engine:\n\n      \
           $ arca list secret/metadata/my-app/",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<i32> {
    ctx.arity(1, Some(1))?;
    let path = sanitize_path(&ctx.args()[0]);
    let client = ctx.client()?;
    let answer = client
        .list(&path)
        .await
        .context(format!("Error listing {path}"))?;
    ctx.output_list(&path, answer)
}

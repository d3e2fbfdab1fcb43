//! `arca delete PATH [K=V...]`: deletes any logical path.

use super::ctx::sanitize_path;
use super::{Ctx, Spec, kv_args};
use crate::error::{Context, Error, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "delete",
    synopsis: "Delete secrets and configuration",
    help: "Usage: arca delete [options] PATH\n\n  \
           Deletes secrets and configuration from Arca at the given path. The behavior\n  \
           of \"delete\" is delegated to the backend corresponding to the given path.\n\n  \
           Remove data in the status secrets engine:\n\n      \
           $ arca delete secret/my-secret\n\n  \
           Uninstall an encryption key in the transit backend:\n\n      \
           $ arca delete transit/keys/my-key",
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
    client
        .delete_with_query(&path, &kv_args::to_query(data))
        .await
        .context(format!("Error deleting {path}"))?;
    ctx.success(&format!("Success! Data deleted (if it existed) at: {path}"));
    Ok(())
}

//! `arca kv metadata delete [options] KEY`: deletes a KV v2 secret whole,
//! every version and its metadata.

use super::kv_path::{self, METADATA_MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "kv metadata delete",
    synopsis: "Deletes all versions and metadata for a key in the KV store",
    help: "Usage: arca kv metadata delete [options] PATH\n\n  \
           Deletes all versions and metadata for the provided key.\n\n      \
           $ arca kv metadata delete -mount=secret foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/metadata/foo) can cause confusion:\n\n      \
           $ arca kv metadata delete secret/foo",
    flags: &[METADATA_MOUNT_FLAG],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let (client, path) = kv_path::metadata_path(ctx).await?;
    client
        .delete(&path)
        .await
        .context(format!("Error deleting {path}"))?;
    ctx.out(&format!("Success! Data deleted (if it existed) at: {path}"));
    Ok(())
}

//! `arca kv metadata delete [options] KEY`: deletes a KV v2 secret whole,
//! every version and its metadata.

use super::kv_path::{self, ArgStyle, METADATA_MOUNT_FLAG};
use super::{Ctx, Spec};

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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let arg = ctx.args()[0].clone();
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let target = match kv_path::resolve(ctx, &client, &arg, ArgStyle::Sanitized).await {
        Ok(t) => t,
        Err(code) => return code,
    };
    if !target.v2 {
        ctx.err("Metadata not supported on KV Version 1");
        return 1;
    }
    let path = target.v2_path("metadata");
    if let Err(e) = client.delete(&path).await {
        ctx.err(&format!("Error deleting {path}: {e}"));
        return 2;
    }
    ctx.out(&format!("Success! Data deleted (if it existed) at: {path}"));
    0
}

//! `arca delete PATH [K=V...]`: deletes any logical path.

use super::ctx::sanitize_path;
use super::{Ctx, Spec, kv_args};
use crate::output::Format;

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
        .delete_with_query(&path, &kv_args::to_query(data))
        .await
    {
        Ok(_) => {
            if ctx.format == Format::Table {
                ctx.out(&format!("Success! Data deleted (if it existed) at: {path}"));
            }
            0
        }
        Err(e) => {
            ctx.err(&format!("Error deleting {path}: {e}"));
            2
        }
    }
}

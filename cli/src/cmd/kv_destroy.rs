//! `arca kv destroy [options] KEY`: permanently removes versions of a
//! KV v2 secret.

use serde_json::json;

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::flags::{Flag, Kind};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "kv destroy",
    synopsis: "Permanently removes one or more versions in the KV store",
    help: "Usage: arca kv destroy [options] KEY\n\n  \
           Permanently removes the specified versions' data from the key-value store. If\n  \
           no key exists at the path, no action is taken.\n\n  \
           To destroy version 3 of key foo:\n\n      \
           $ arca kv destroy -mount=secret -versions=3 foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv destroy -versions=3 secret/foo",
    flags: &[
        MOUNT_FLAG,
        Flag::new(
            "versions",
            Kind::List,
            "Specifies the version numbers to destroy.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    version_op(ctx, "destroy", "Destroy").await
}

/// `kv destroy` and `kv undelete`: one KV v2 endpoint (`destroy/` or
/// `undelete/`) applied to `-versions`, as bao words them.
pub(super) async fn version_op(ctx: &mut Ctx<'_>, endpoint: &str, verb: &str) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let versions = ctx.flags.list("versions");
    if versions.is_empty() {
        ctx.err(&format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {endpoint}."
        ));
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
        ctx.err(&format!("{verb} not supported on KV Version 1"));
        return 1;
    }
    let path = target.v2_path(endpoint);
    let body = json!({ "versions": versions });
    match client.write(&path, &body).await {
        Ok(Some(secret)) => ctx.output_secret(&secret),
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.out(&format!("Success! Data written to: {path}"));
            }
            0
        }
        Err(e) => {
            ctx.err(&format!("Error writing data to {path}: {e}"));
            2
        }
    }
}

//! `arca kv undelete [options] KEY`: restores soft-deleted versions of a
//! KV v2 secret.

use serde_json::json;

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::flags::{Flag, Kind};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "kv undelete",
    synopsis: "Undeletes versions in the KV store",
    help: "Usage: arca kv undelete [options] KEY\n\n  \
           Undeletes the data for the provided version and path in the key-value store.\n  \
           This restores the data, allowing it to be returned on get requests.\n\n  \
           To undelete version 3 of key \"foo\":\n\n      \
           $ arca kv undelete -mount=secret -versions=3 foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided,\n  \
           as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv undelete -versions=3 secret/foo",
    flags: &[
        MOUNT_FLAG,
        Flag::new(
            "versions",
            Kind::List,
            "Specifies the version numbers to undelete.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let versions = ctx.flags.list("versions");
    if versions.is_empty() {
        ctx.err(
            "No versions provided, use the \"-versions\" flag to specify the version to undelete.",
        );
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
        ctx.err("Undelete not supported on KV Version 1");
        return 1;
    }
    let path = target.v2_path("undelete");
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

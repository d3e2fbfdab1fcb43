//! `arca kv delete [options] KEY`: soft-deletes the current version of a
//! KV v2 secret (or the `-versions` given), or deletes a KV v1 secret.

use serde_json::json;

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "kv delete",
    synopsis: "Deletes versions in the KV store",
    help: "Usage: arca kv delete [options] PATH\n\n  \
           Deletes the data for the provided version and path in the key-value store. The\n  \
           versioned data will not be fully removed, but marked as deleted and will no\n  \
           longer be returned in normal get requests.\n\n  \
           To delete the latest version of the key \"foo\":\n\n      \
           $ arca kv delete -mount=secret foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv delete secret/foo\n\n  \
           To delete version 3 of key foo:\n\n      \
           $ arca kv delete -mount=secret -versions=3 foo\n\n  \
           To delete all versions and metadata, see the \"arca kv metadata\" subcommand.",
    flags: &[
        MOUNT_FLAG,
        Flag::new(
            "versions",
            Kind::List,
            "Specifies the version numbers to delete.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let (client, target) = kv_path::connect(ctx, &ctx.args()[0], ArgStyle::Sanitized).await?;
    let path = target.path("data");
    let versions = ctx.flags.list("versions");
    let result = if target.v2 && !versions.is_empty() {
        let body = json!({ "versions": versions });
        client.write(&target.v2_path("delete"), &body).await
    } else {
        client.delete(&path).await
    };
    match result.context(format!("Error deleting {path}"))? {
        Some(secret) => ctx.output_secret_or_field(&secret),
        None => {
            ctx.success(&format!("Success! Data deleted (if it existed) at: {path}"));
            Ok(())
        }
    }
}

//! `arca kv destroy [options] KEY`: permanently removes versions of a
//! KV v2 secret.

use serde_json::json;

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    version_op(ctx, "destroy", "Destroy").await
}

/// `kv destroy` and `kv undelete`: one KV v2 endpoint (`destroy/` or
/// `undelete/`) applied to `-versions`, as bao words them.
pub(super) async fn version_op(ctx: &mut Ctx<'_>, endpoint: &str, verb: &str) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let versions = ctx.flags.list("versions");
    if versions.is_empty() {
        return Err(Error::Usage(format!(
            "No versions provided, use the \"-versions\" flag to specify the version to {endpoint}."
        )));
    }
    let (client, target) = kv_path::connect(ctx, &ctx.args()[0], ArgStyle::Sanitized).await?;
    if !target.v2 {
        return Err(Error::Usage(format!(
            "{verb} not supported on KV Version 1"
        )));
    }
    let path = target.v2_path(endpoint);
    let body = json!({ "versions": versions });
    let answer = client
        .write(&path, &body)
        .await
        .context(format!("Error writing data to {path}"))?;
    ctx.output_written(&path, answer)
}

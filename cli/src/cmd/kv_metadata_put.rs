//! `arca kv metadata put [options] KEY`: creates a KV v2 secret without
//! data, or changes its settings (`-max-versions`, `-cas-required`,
//! `-delete-version-after`, `-custom-metadata`). The flags and the body
//! they make are shared with `kv metadata patch`.

use serde_json::{Map, Value, json};

use super::kv_path::{self, METADATA_MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};

pub(crate) const MAX_VERSIONS: Flag = Flag::new(
    "max-versions",
    Kind::Int,
    "The number of versions to keep. If not set, the backend's configured max version is used.",
)
.default("-1");

pub(crate) const CAS_REQUIRED: Flag = Flag::new(
    "cas-required",
    Kind::Bool,
    "If true the key will require the cas parameter to be set on all write requests. If \
     false, the backend's configuration will be used.",
);

pub(crate) const DELETE_VERSION_AFTER: Flag = Flag::new(
    "delete-version-after",
    Kind::Duration,
    "Specifies the length of time before a version is deleted. If not set, the backend's \
     configured delete-version-after is used. Cannot be greater than the backend's \
     delete-version-after. The delete-version-after is specified as a numeric string with a \
     suffix like \"30s\" or \"3h25m19s\".",
)
.default("-1ns");

pub(crate) const CUSTOM_METADATA: Flag = Flag::new(
    "custom-metadata",
    Kind::Map,
    "Specifies arbitrary version-agnostic key=value metadata meant to describe a secret. This \
     can be specified multiple times to add multiple pieces of metadata.",
);

pub(crate) const SPEC: Spec = Spec {
    name: "kv metadata put",
    synopsis: "Sets or updates key settings in the KV store",
    help: "Usage: arca kv metadata put [options] KEY\n\n  \
           This command can be used to create a blank key in the key-value store or to\n  \
           update key configuration for a specified key.\n\n  \
           Create a key in the key-value store with no data:\n\n      \
           $ arca kv metadata put -mount=secret foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/metadata/foo) can cause confusion:\n\n      \
           $ arca kv metadata put secret/foo\n\n  \
           Set a max versions setting on the key:\n\n      \
           $ arca kv metadata put -mount=secret -max-versions=5 foo\n\n  \
           Set delete-version-after on the key:\n\n      \
           $ arca kv metadata put -mount=secret -delete-version-after=3h25m19s foo\n\n  \
           Require Check-and-Set for this key:\n\n      \
           $ arca kv metadata put -mount=secret -cas-required foo\n\n  \
           Set custom metadata on the key:\n\n      \
           $ arca kv metadata put -mount=secret -custom-metadata=foo=abc -custom-metadata=bar=123 foo",
    flags: &[
        CAS_REQUIRED,
        CUSTOM_METADATA,
        DELETE_VERSION_AFTER,
        MAX_VERSIONS,
        METADATA_MOUNT_FLAG,
    ],
};

/// The settings the flags ask for, as the request body: only what was
/// given (`-max-versions` and `-delete-version-after` are unset below 0).
pub(crate) fn settings(ctx: &Ctx<'_>) -> Map<String, Value> {
    let mut data = Map::new();
    if ctx.flags.is_set("max-versions") && ctx.flags.int("max-versions") >= 0 {
        data.insert("max_versions".into(), json!(ctx.flags.int("max-versions")));
    }
    if ctx.flags.is_set("delete-version-after") {
        let d = ctx.flags.duration("delete-version-after");
        if d.0 >= 0 {
            data.insert("delete_version_after".into(), json!(d.go_string()));
        }
    }
    if ctx.flags.is_set("cas-required") {
        data.insert("cas_required".into(), json!(ctx.flags.bool("cas-required")));
    }
    data
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let (client, path) = kv_path::metadata_path(ctx).await?;
    let mut data = settings(ctx);
    let custom = ctx.flags.map("custom-metadata");
    if !custom.is_empty() {
        data.insert("custom_metadata".into(), json!(custom));
    }
    let answer = client
        .write(&path, &Value::Object(data))
        .await
        .context(format!("Error writing data to {path}"))?;
    ctx.output_written(&path, answer)
}

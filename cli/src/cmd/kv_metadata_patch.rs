//! `arca kv metadata patch [options] KEY`: changes some settings of an
//! existing KV v2 secret with a JSON merge patch; `-remove-custom-metadata`
//! drops custom metadata keys.

use serde_json::{Map, Value};

use super::kv_metadata_put::{CAS_REQUIRED, CUSTOM_METADATA, DELETE_VERSION_AFTER, MAX_VERSIONS};
use super::kv_path::{self, METADATA_MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "kv metadata patch",
    synopsis: "Patches key settings in the KV store",
    help: "Usage: arca kv metadata patch [options] KEY\n\n  \
           This command can be used to update key configuration for a specified key. Only\n  \
           the settings given change.\n\n  \
           Set a max versions setting on the key:\n\n      \
           $ arca kv metadata patch -mount=secret -max-versions=5 foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/metadata/foo) can cause confusion:\n\n      \
           $ arca kv metadata patch -max-versions=5 secret/foo\n\n  \
           Set custom metadata on the key, and remove another custom metadata key:\n\n      \
           $ arca kv metadata patch -mount=secret -custom-metadata=foo=abc -remove-custom-metadata=bar foo",
    flags: &[
        CAS_REQUIRED,
        CUSTOM_METADATA,
        DELETE_VERSION_AFTER,
        MAX_VERSIONS,
        METADATA_MOUNT_FLAG,
        Flag::new(
            "remove-custom-metadata",
            Kind::List,
            "Key to remove from custom metadata. To specify multiple values, specify this flag \
             multiple times.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let (client, path) = kv_path::metadata_path(ctx).await?;
    let mut data = super::kv_metadata_put::settings(ctx);
    // Like the Go CLI, the patch always carries custom_metadata (maybe
    // empty); a null removes a key.
    let mut custom: Map<String, Value> = ctx
        .flags
        .map("custom-metadata")
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    for key in ctx.flags.list("remove-custom-metadata") {
        custom.insert(key, Value::Null);
    }
    data.insert("custom_metadata".into(), Value::Object(custom));
    let answer = client
        .json_merge_patch(&path, &Value::Object(data))
        .await
        .context(format!("Error writing data to {path}"))?;
    ctx.output_written(&path, answer)
}

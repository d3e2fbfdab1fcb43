//! `arca kv patch [options] KEY K=V...`: changes some keys of a KV v2
//! secret, by HTTP PATCH (a JSON merge patch) or, with `-method=rw` or
//! when the token may not patch, by reading and writing it back.

use arca_client::{Client, Secret};
use serde_json::{Map, Value, json};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::kv_rollback::{existing_data, pre_read};
use super::{Ctx, Spec, kv_args};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "kv patch",
    synopsis: "Sets or updates data in the KV store without overwriting",
    help: "Usage: arca kv patch [options] KEY [DATA]\n\n  \
           *NOTE*: This is only supported for KV v2 engine mounts.\n\n  \
           Writes the data to the corresponding path in the key-value store. The data can be of\n  \
           any type.\n\n      \
           $ arca kv patch -mount=secret foo bar=baz\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided,\n  \
           as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv patch secret/foo bar=baz\n\n  \
           The data can also be consumed from a file on disk by prefixing with the \"@\"\n  \
           symbol. For example:\n\n      \
           $ arca kv patch -mount=secret foo @data.json\n\n  \
           Or it can be read from stdin using the \"-\" symbol:\n\n      \
           $ echo \"abcd1234\" | arca kv patch -mount=secret foo bar=-\n\n  \
           To perform a Check-And-Set operation, specify the -cas flag with the\n  \
           appropriate version number corresponding to the key you want to perform\n  \
           the CAS operation on:\n\n      \
           $ arca kv patch -mount=secret -cas=1 foo bar=baz\n\n  \
           By default, this operation will attempt an HTTP PATCH operation. If your\n  \
           policy does not allow that, it will fall back to a read/local update/write approach.\n  \
           If you wish to specify which method this command should use, you may do so\n  \
           with the -method flag. When -method=patch is specified, only an HTTP PATCH\n  \
           operation will be tried. If it fails, the entire command will fail.\n\n      \
           $ arca kv patch -mount=secret -method=patch foo bar=baz\n\n  \
           When -method=rw is specified, only a read/local update/write approach will be tried.\n\n      \
           $ arca kv patch -mount=secret -method=rw foo bar=baz\n\n  \
           To remove data from the corresponding path in the key-value store, kv patch can be used.\n\n      \
           $ arca kv patch -mount=secret -remove-data=bar foo",
    flags: &[
        Flag::new(
            "cas",
            Kind::Int,
            "Specifies to use a Check-And-Set operation. If set to 0 or not set, the patch \
             will be allowed. If the index is non-zero the patch will only be allowed if the \
             key's current version matches the version specified in the cas parameter.",
        ),
        Flag::new(
            "method",
            Kind::Str,
            "Specifies which method of patching to use. If set to \"patch\", then an HTTP \
             PATCH request will be issued. If set to \"rw\", then a read will be performed, \
             then a local update, followed by a remote update.",
        ),
        MOUNT_FLAG,
        Flag::new(
            "remove-data",
            Kind::List,
            "Key to remove from data. To specify multiple values, specify this flag multiple \
             times.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let args = ctx.args().to_vec();
    let remove = ctx.flags.list("remove-data");
    if args.is_empty() {
        return Err(Error::Usage(
            "Not enough arguments (expected >1, got 0)".into(),
        ));
    }
    if remove.is_empty() && args.len() == 1 {
        return Err(Error::Usage("Must supply data".into()));
    }
    let client = ctx.client()?;
    let mut data = kv_args::data(ctx, &args[1..])?.unwrap_or_default();
    let target = kv_path::resolve(ctx, &client, &args[0], ArgStyle::Sanitized).await?;
    if !target.v2 {
        return Err(Error::Response(
            "K/V engine mount must be version 2 for patch support".into(),
        ));
    }
    let path = target.v2_path("data");
    // A null in a JSON merge patch removes the key.
    for key in remove {
        data.insert(key, Value::Null);
    }
    let method = ctx.flags.string("method");
    let answer = match method.as_str() {
        "rw" => read_then_write(&client, &path, data).await?,
        "patch" => merge_patch(ctx, &client, &path, data, false).await?,
        "" => merge_patch(ctx, &client, &path, data, true).await?,
        other => {
            return Err(Error::Failed(format!(
                "Unsupported method provided to -method flag: {other}"
            )));
        }
    };
    ctx.kv_output_written(&path, answer)
}

/// An HTTP PATCH of the data; the write's answer.
async fn merge_patch(
    ctx: &mut Ctx<'_>,
    client: &Client,
    path: &str,
    data: Map<String, Value>,
    rw_fallback: bool,
) -> Result<Option<Secret>> {
    let mut options = Map::new();
    let cas = ctx.flags.int("cas");
    if cas > 0 {
        options.insert("cas".into(), json!(cas));
    }
    let body = json!({"data": data.clone(), "options": options});
    match client.json_merge_patch(path, &body).await {
        Ok(secret) => Ok(secret),
        // 405: a server without PATCH. 403: a token without the `patch`
        // capability. Without an explicit -method, both fall back.
        Err(e) if rw_fallback && e.status() == Some(405) => {
            read_then_write(client, path, data).await
        }
        Err(e) if rw_fallback && e.status() == Some(403) => {
            ctx.err(&format!(
                "Data was written to {path} but we recommend that you add the \"patch\" \
                 capability to your ACL policy in order to use HTTP PATCH in the future."
            ));
            read_then_write(client, path, data).await
        }
        Err(e) => Err(e).context(format!("Error writing data to {path}")),
    }
}

/// Reads the secret, merges the data in and writes it back (check-and-set
/// on the version read); the write's answer.
async fn read_then_write(
    client: &Client,
    path: &str,
    new_data: Map<String, Value>,
) -> Result<Option<Secret>> {
    let (meta, data) = pre_read(client, path, &[], "patch").await?;
    let mut data = existing_data(path, data, "patch")?;
    // A shallow merge, as the Go CLI does: removed keys are written as null.
    data.extend(new_data);
    let cas = meta.get("version").cloned().unwrap_or(Value::Null);
    let body = json!({"data": data, "options": {"cas": cas}});
    client
        .write(path, &body)
        .await
        .context(format!("Error writing data to {path}"))
}

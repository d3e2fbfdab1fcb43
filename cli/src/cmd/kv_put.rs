//! `arca kv put [options] KEY K=V...`: writes a secret (a new version of it
//! on KV v2, with `-cas` for check-and-set).

use serde_json::{Map, Value, json};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec, kv_args};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "kv put",
    synopsis: "Sets or updates data in the KV store",
    help: "Usage: arca kv put [options] KEY [DATA]\n\n  \
           Writes the data to the given path in the key-value store. The data can be of\n  \
           any type.\n\n      \
           $ arca kv put -mount=secret foo bar=baz\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv put secret/foo bar=baz\n\n  \
           The data can also be consumed from a file on disk by prefixing with the \"@\"\n  \
           symbol. For example:\n\n      \
           $ arca kv put -mount=secret foo @data.json\n\n  \
           Or it can be read from stdin using the \"-\" symbol:\n\n      \
           $ echo \"abcd1234\" | arca kv put -mount=secret foo bar=-\n\n  \
           To perform a Check-And-Set operation, specify the -cas flag with the\n  \
           appropriate version number corresponding to the key you want to perform\n  \
           the CAS operation on:\n\n      \
           $ arca kv put -mount=secret -cas=1 foo bar=baz",
    flags: &[
        Flag::new(
            "cas",
            Kind::Int,
            "Specifies to use a Check-And-Set operation. If not set the write will be \
             allowed. If set to 0 a write will only be allowed if the key doesn't exist. If \
             the index is non-zero the write will only be allowed if the key's current \
             version matches the version specified in the cas parameter.",
        )
        .default("-1"),
        MOUNT_FLAG,
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let args = ctx.args().to_vec();
    match args.len() {
        0 => {
            return Err(Error::Usage(
                "Not enough arguments (expected >1, got 0)".into(),
            ));
        }
        1 => return Err(Error::Usage("Must supply data".into())),
        _ => {}
    }
    let client = ctx.client()?;
    let data = kv_args::data(ctx, &args[1..])?.unwrap_or_default();
    let target = kv_path::resolve(ctx, &client, &args[0], ArgStyle::Sanitized).await?;
    let path = target.path("data");
    let body = if target.v2 {
        let mut options = Map::new();
        let cas = if ctx.flags.is_set("cas") {
            ctx.flags.int("cas")
        } else {
            -1
        };
        if cas > -1 {
            options.insert("cas".into(), json!(cas));
        }
        json!({"data": data, "options": options})
    } else {
        Value::Object(data)
    };
    let answer = client
        .write(&path, &body)
        .await
        .context(format!("Error writing data to {path}"))?;
    ctx.kv_output_written(&path, answer)
}

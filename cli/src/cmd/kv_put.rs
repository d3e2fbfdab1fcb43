//! `arca kv put [options] KEY K=V...`: writes a secret (a new version of it
//! on KV v2, with `-cas` for check-and-set).

use serde_json::{Map, Value, json};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec, kv_args};
use crate::flags::{Flag, Kind};
use crate::output::Format;

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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    let args = ctx.args().to_vec();
    match args.len() {
        0 => {
            ctx.err("Not enough arguments (expected >1, got 0)");
            return 1;
        }
        1 => {
            ctx.err("Must supply data");
            return 1;
        }
        _ => {}
    }
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let data = match kv_args::parse(ctx, &args[1..]) {
        Ok(d) => d.unwrap_or_default(),
        Err(e) => {
            ctx.err(&format!("Failed to parse K=V data: {e}"));
            return 1;
        }
    };
    let target = match kv_path::resolve(ctx, &client, &args[0], ArgStyle::Sanitized).await {
        Ok(t) => t,
        Err(code) => return code,
    };
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
    let secret = match client.write(&path, &body).await {
        Ok(Some(s)) => s,
        Ok(None) => {
            if ctx.format == Format::Table {
                ctx.out(&format!("Success! Data written to: {path}"));
            }
            return 0;
        }
        Err(e) => {
            ctx.err(&format!("Error writing data to {path}: {e}"));
            return 2;
        }
    };
    if let Some(field) = ctx.field() {
        return ctx.print_field(&secret, &field);
    }
    if secret.wrap_info.as_ref().is_some_and(|w| w.ttl != 0) {
        return ctx.output_secret(&secret);
    }
    if ctx.format == Format::Table {
        ctx.kv_output_path(&path, "Secret Path");
        let meta = secret.data.clone().unwrap_or_default();
        ctx.kv_output_section("Metadata", &meta);
        return 0;
    }
    ctx.output_secret(&secret)
}

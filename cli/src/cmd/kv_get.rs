//! `arca kv get [options] KEY`: reads a secret (a version of it on KV v2).

use serde_json::{Map, Value};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "kv get",
    synopsis: "Retrieves data from the KV store",
    help: "Usage: arca kv get [options] KEY\n\n  \
           Retrieves the value from Arca's key-value store at the given key name. If no\n  \
           key exists with that name, an error is returned. If a key exists with that\n  \
           name but has no data, nothing is returned.\n\n      \
           $ arca kv get -mount=secret foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv get secret/foo\n\n  \
           To view the given key name at a specific version in time, specify the \"-version\"\n  \
           flag:\n\n      \
           $ arca kv get -mount=secret -version=1 foo",
    flags: &[
        MOUNT_FLAG,
        Flag::new(
            "version",
            Kind::Int,
            "If passed, the value at the version number will be returned.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let (client, target) = kv_path::connect(ctx, &ctx.args()[0], ArgStyle::LeadingSlash).await?;
    let path = target.path("data");
    let version = ctx.flags.int("version");
    let query = if target.v2 && version > 0 {
        vec![("version".to_string(), version.to_string())]
    } else {
        Vec::new()
    };
    let secret = client
        .read_with_query(&path, &query)
        .await
        .context(format!("Error reading {path}"))?
        .ok_or_else(|| Error::Response(format!("No value found at {path}")))?;

    if let Some(field) = ctx.field() {
        if !target.v2 {
            return ctx.print_field(&secret, &field);
        }
        let Some(Value::Object(data)) = secret.field("data") else {
            return Err(Error::Response(format!("No data found at {path}")));
        };
        // `-field=data` is the data block itself unless the secret has a
        // key of that name.
        if field == "data" && !data.contains_key("data") {
            return ctx.print_field(&secret, &field);
        }
        let data = data.clone();
        return ctx.kv_print_map_field(&data, &field);
    }

    if secret.wrap_info.is_some() || ctx.format != Format::Table {
        ctx.output_secret(&secret);
        return Ok(());
    }
    ctx.output_warnings(&secret);
    if target.v2 {
        ctx.kv_output_path(&path, "Secret Path");
    }
    let all = secret.data.clone().unwrap_or_default();
    if let Some(Value::Object(meta)) = all.get("metadata") {
        ctx.kv_output_section("Metadata", meta);
        ctx.out("");
    }
    let data: Option<Map<String, Value>> = if target.v2 {
        match all.get("data") {
            Some(Value::Object(d)) => Some(d.clone()),
            _ => None,
        }
    } else {
        secret.data.clone()
    };
    if let Some(data) = data {
        ctx.kv_output_section("Data", &data);
    }
    Ok(())
}

//! `arca kv metadata get [options] KEY`: a KV v2 secret's settings and
//! the state of each of its versions.

use serde_json::Value;

use super::kv_path::{self, METADATA_MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "kv metadata get",
    synopsis: "Retrieves key metadata from the KV store",
    help: "Usage: arca kv metadata get [options] KEY\n\n  \
           Retrieves the metadata from Arca's key-value store at the given key name. If no\n  \
           key exists with that name, an error is returned.\n\n      \
           $ arca kv metadata get -mount=secret foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided\n  \
           for KV v2, as the fact that it is not actually the full API path to\n  \
           the secret (secret/metadata/foo) can cause confusion:\n\n      \
           $ arca kv metadata get secret/foo",
    flags: &[METADATA_MOUNT_FLAG],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<i32> {
    let (client, path) = kv_path::metadata_path(ctx).await?;
    let mut secret = client
        .read(&path)
        .await
        .context(format!("Error reading {path}"))?
        .ok_or_else(|| Error::Response(format!("No value found at {path}")))?;
    if secret.wrap_info.is_some() || ctx.format != Format::Table {
        ctx.output_secret(&secret);
        return Ok(0);
    }
    let versions = match secret.data.as_mut().and_then(|d| d.remove("versions")) {
        Some(Value::Object(v)) => v,
        _ => {
            // The error, then the secret anyway, as bao prints them.
            ctx.err(&format!("No value found at {path}"));
            ctx.output_secret(&secret);
            return Ok(2);
        }
    };
    ctx.kv_output_path(&path, "Metadata Path");
    let rest = secret.data.clone().unwrap_or_default();
    let header = super::kv_output::header_for_map("Metadata", &rest);
    ctx.out(&header);
    ctx.output_secret(&secret);
    let mut numbers = Vec::with_capacity(versions.len());
    for k in versions.keys() {
        let n: u64 = k
            .parse()
            .map_err(|_| Error::Response(format!("Error parsing version {k}")))?;
        numbers.push(n);
    }
    numbers.sort_unstable();
    for n in numbers {
        let Some(Value::Object(v)) = versions.get(&n.to_string()) else {
            continue;
        };
        let v = v.clone();
        let header = super::kv_output::header_for_map(&format!("Version {n}"), &v);
        ctx.out(&format!("\n{header}"));
        ctx.kv_output_map(&v);
    }
    Ok(0)
}

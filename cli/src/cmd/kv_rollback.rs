//! `arca kv rollback -version=N KEY`: writes an earlier version of a KV v2
//! secret as its new current version (check-and-set on the current one).

use serde_json::{Map, Value, json};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::flags::{Flag, Kind};
use crate::output::Format;

pub(crate) const SPEC: Spec = Spec {
    name: "kv rollback",
    synopsis: "Rolls back to a previous version of data",
    help: "Usage: arca kv rollback [options] KEY\n\n  \
           *NOTE*: This is only supported for KV v2 engine mounts.\n\n  \
           Restores a given previous version to the current version at the given path.\n  \
           The value is written as a new version; for instance, if the current version\n  \
           is 5 and the rollback version is 2, the data from version 2 will become\n  \
           version 6.\n\n      \
           $ arca kv rollback -mount=secret -version=2 foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided,\n  \
           as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv rollback -version=2 secret/foo",
    flags: &[
        MOUNT_FLAG,
        Flag::new(
            "version",
            Kind::Int,
            "Specifies the version number that should be made current again.",
        ),
    ],
};

/// One read of the secret for the rollback: its metadata and its data.
/// Prints the Go CLI's message and returns the exit code on failure.
async fn pre_read(
    ctx: &mut Ctx<'_>,
    client: &arca_client::Client,
    path: &str,
    query: &[(String, String)],
) -> Result<(Map<String, Value>, Option<Value>), i32> {
    let secret = match client.read_with_query(path, query).await {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error doing pre-read at {path}: {e}"));
            return Err(2);
        }
    };
    let Some(all) = secret.and_then(|s| s.data) else {
        ctx.err(&format!("No value found at {path}"));
        return Err(2);
    };
    match all.get("metadata") {
        None | Some(Value::Null) => {
            ctx.err(&format!(
                "No metadata found at {path}; rollback only works on existing data"
            ));
            Err(2)
        }
        Some(Value::Object(m)) => Ok((m.clone(), all.get("data").cloned())),
        Some(_) => {
            ctx.err(&format!(
                "Metadata found at {path} is not the expected type (JSON object)"
            ));
            Err(2)
        }
    }
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    let got = ctx.args().len();
    if got != 1 {
        ctx.err(&format!(
            "Invalid number of arguments (expected 1, got {got})"
        ));
        return 1;
    }
    if !ctx.flags.is_set("version") {
        ctx.err("Version flag must be specified");
        return 1;
    }
    let version = ctx.flags.int("version");
    if version <= 0 {
        ctx.err(&format!("Invalid value {version} for the version flag"));
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
        ctx.err("K/V engine mount must be version 2 for rollback support");
        return 2;
    }
    let path = target.v2_path("data");
    let (current, _) = match pre_read(ctx, &client, &path, &[]).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    let cas = current.get("version").cloned().unwrap_or(Value::Null);
    let query = [("version".to_string(), version.to_string())];
    let (meta, data) = match pre_read(ctx, &client, &path, &query).await {
        Ok(r) => r,
        Err(code) => return code,
    };
    // Like the Go CLI: any deletion time, even one still in the future,
    // counts as deleted.
    if meta
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        ctx.err("Cannot roll back to a version that has been deleted");
        return 2;
    }
    if meta.get("destroyed").and_then(Value::as_bool) == Some(true) {
        ctx.err("Cannot roll back to a version that has been destroyed");
        return 2;
    }
    let data = match data {
        None | Some(Value::Null) => {
            ctx.err(&format!(
                "No data found at {path}; rollback only works on existing data"
            ));
            return 2;
        }
        Some(Value::Object(d)) => d,
        Some(_) => {
            ctx.err(&format!(
                "Data found at {path} is not the expected type (JSON object)"
            ));
            return 2;
        }
    };
    let body = json!({"data": data, "options": {"cas": cas}});
    match client.write(&path, &body).await {
        Ok(Some(secret)) => {
            if let Some(field) = ctx.field() {
                return ctx.print_field(&secret, &field);
            }
            ctx.output_secret(&secret)
        }
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

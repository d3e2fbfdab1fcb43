//! `arca kv rollback -version=N KEY`: writes an earlier version of a KV v2
//! secret as its new current version (check-and-set on the current one).

use arca_client::Client;
use serde_json::{Map, Value, json};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

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

/// The read before `kv rollback` and `kv patch -method=rw` write (`what`
/// names the command in the errors): the secret's metadata and its data.
pub(super) async fn pre_read(
    client: &Client,
    path: &str,
    query: &[(String, String)],
    what: &str,
) -> Result<(Map<String, Value>, Option<Value>)> {
    let secret = client
        .read_with_query(path, query)
        .await
        .context(format!("Error doing pre-read at {path}"))?;
    let Some(all) = secret.and_then(|s| s.data) else {
        return Err(Error::Response(format!("No value found at {path}")));
    };
    match all.get("metadata") {
        None | Some(Value::Null) => Err(Error::Response(format!(
            "No metadata found at {path}; {what} only works on existing data"
        ))),
        Some(Value::Object(m)) => Ok((m.clone(), all.get("data").cloned())),
        Some(_) => Err(Error::Response(format!(
            "Metadata found at {path} is not the expected type (JSON object)"
        ))),
    }
}

/// The data [`pre_read`] found, which must be an object.
pub(super) fn existing_data(
    path: &str,
    data: Option<Value>,
    what: &str,
) -> Result<Map<String, Value>> {
    match data {
        None | Some(Value::Null) => Err(Error::Response(format!(
            "No data found at {path}; {what} only works on existing data"
        ))),
        Some(Value::Object(d)) => Ok(d),
        Some(_) => Err(Error::Response(format!(
            "Data found at {path} is not the expected type (JSON object)"
        ))),
    }
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let got = ctx.args().len();
    if got != 1 {
        return Err(Error::Usage(format!(
            "Invalid number of arguments (expected 1, got {got})"
        )));
    }
    if !ctx.flags.is_set("version") {
        return Err(Error::Usage("Version flag must be specified".into()));
    }
    let version = ctx.flags.int("version");
    if version <= 0 {
        return Err(Error::Usage(format!(
            "Invalid value {version} for the version flag"
        )));
    }
    let (client, target) = kv_path::connect(ctx, &ctx.args()[0], ArgStyle::Sanitized).await?;
    if !target.v2 {
        return Err(Error::Response(
            "K/V engine mount must be version 2 for rollback support".into(),
        ));
    }
    let path = target.v2_path("data");
    let (current, _) = pre_read(&client, &path, &[], "rollback").await?;
    let cas = current.get("version").cloned().unwrap_or(Value::Null);
    let query = [("version".to_string(), version.to_string())];
    let (meta, data) = pre_read(&client, &path, &query, "rollback").await?;
    // Like the Go CLI: any deletion time, even one still in the future,
    // counts as deleted.
    if meta
        .get("deletion_time")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.is_empty())
    {
        return Err(Error::Response(
            "Cannot roll back to a version that has been deleted".into(),
        ));
    }
    if meta.get("destroyed").and_then(Value::as_bool) == Some(true) {
        return Err(Error::Response(
            "Cannot roll back to a version that has been destroyed".into(),
        ));
    }
    let data = existing_data(&path, data, "rollback")?;
    let body = json!({"data": data, "options": {"cas": cas}});
    let answer = client
        .write(&path, &body)
        .await
        .context(format!("Error writing data to {path}"))?;
    ctx.output_written(&path, answer)
}

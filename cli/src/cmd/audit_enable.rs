//! `arca audit enable [options] TYPE [K=V...]`: enables an audit device.

use serde_json::{Map, Value};

use super::mount_flags as m;
use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

const PATH: Flag = Flag::new(
    "path",
    Kind::Str,
    "Place where the audit device will be accessible. This must be unique across all \
     audit devices. This defaults to the \"type\" of the audit device.",
);

pub(crate) const SPEC: Spec = Spec {
    name: "audit enable",
    synopsis: "Enables an audit device",
    help: "Usage: arca audit enable [options] TYPE [CONFIG K=V...]\n\n  \
           Enables an audit device at a given path.\n\n  \
           This command enables an audit device of TYPE. Additional options for\n  \
           configuring the audit device can be specified after the type in the same\n  \
           format as the \"arca write\" command in key/value pairs.\n\n  \
           For example, to configure the file audit device to write audit logs at the\n  \
           path \"/var/log/audit.log\":\n\n      \
           $ arca audit enable file file_path=/var/log/audit.log",
    flags: &[m::DESCRIPTION, PATH, m::LOCAL],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    if ctx.args().is_empty() {
        return Err(Error::Usage("Error enabling audit device: audit type missing. Valid types include 'file', 'socket' and 'syslog'.".into()));
    }
    let device = ctx.args()[0].trim().to_string();
    let mut options = Map::new();
    for kv in &ctx.args()[1..] {
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            Error::Usage(format!(
                "Failed to parse K=V data: invalid key/value pair {kv:?}"
            ))
        })?;
        options.insert(k.to_string(), Value::String(v.to_string()));
    }
    let path = match ctx.flags.str("path").filter(|p| !p.trim().is_empty()) {
        Some(p) => p.trim_matches('/').to_string(),
        None => device.clone(),
    };
    let client = ctx.client()?;
    let mut body = Map::new();
    body.insert("type".into(), Value::String(device.clone()));
    body.insert(
        "description".into(),
        Value::String(ctx.flags.str("description").unwrap_or_default().to_string()),
    );
    body.insert("options".into(), Value::Object(options));
    body.insert("local".into(), Value::Bool(ctx.flags.bool("local")));
    client
        .write(&format!("sys/audit/{path}"), &Value::Object(body))
        .await
        .context("Error enabling audit device")?;
    ctx.out(&format!(
        "Success! Enabled the {device} audit device at: {path}/"
    ));
    Ok(())
}

//! `arca audit enable [options] TYPE [K=V...]`: enables an audit device.

use serde_json::{Map, Value};

use super::mount_flags as m;
use super::{Ctx, Spec};
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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if ctx.args().is_empty() {
        ctx.err("Error enabling audit device: audit type missing. Valid types include 'file', 'socket' and 'syslog'.");
        return 1;
    }
    let device = ctx.args()[0].trim().to_string();
    let mut options = Map::new();
    for kv in &ctx.args()[1..] {
        let Some((k, v)) = kv.split_once('=') else {
            ctx.err(&format!(
                "Failed to parse K=V data: invalid key/value pair {kv:?}"
            ));
            return 1;
        };
        options.insert(k.to_string(), Value::String(v.to_string()));
    }
    let path = match ctx.flags.str("path").filter(|p| !p.trim().is_empty()) {
        Some(p) => p.trim_matches('/').to_string(),
        None => device.clone(),
    };
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let mut body = Map::new();
    body.insert("type".into(), Value::String(device.clone()));
    body.insert(
        "description".into(),
        Value::String(ctx.flags.str("description").unwrap_or_default().to_string()),
    );
    body.insert("options".into(), Value::Object(options));
    body.insert("local".into(), Value::Bool(ctx.flags.bool("local")));
    match client
        .write(&format!("sys/audit/{path}"), &Value::Object(body))
        .await
    {
        Ok(_) => {
            ctx.out(&format!(
                "Success! Enabled the {device} audit device at: {path}/"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error enabling audit device: {e}"));
            2
        }
    }
}

//! `arca audit list [-detailed]`: the enabled audit devices.

use serde_json::Value;

use super::mount_flags::DETAILED;
use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::output::Format;
use crate::output::table::table;

pub(crate) const SPEC: Spec = Spec {
    name: "audit list",
    synopsis: "Lists enabled audit devices",
    help: "Usage: arca audit list [options]\n\n  \
           Lists the enabled audit devices in the Arca server. The output lists the\n  \
           enabled audit devices and the options for those devices.\n\n  \
           List all audit devices:\n\n      \
           $ arca audit list\n\n  \
           List detailed output about the audit devices:\n\n      \
           $ arca audit list -detailed",
    flags: &[DETAILED],
};

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<i32> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    let devices = client
        .read("sys/audit")
        .await
        .context("Error listing audits")?
        .and_then(|s| s.data)
        .unwrap_or_default();
    if devices.is_empty() {
        // On stdout, yet exit code 2, as in the Go CLI.
        ctx.out("No audit devices are enabled.");
        return Ok(2);
    }
    if ctx.format == Format::Json {
        ctx.output_json(&devices);
        return Ok(0);
    }
    let detailed = ctx.flags.bool("detailed");
    let rows = devices
        .iter()
        .map(|(path, d)| {
            let description = match text(d, "description") {
                s if s.is_empty() => "n/a".to_string(),
                s => s,
            };
            let mut row = vec![path.clone(), text(d, "type"), description];
            if detailed {
                let local = d.get("local").and_then(Value::as_bool).unwrap_or(false);
                row.push(if local { "local" } else { "replicated" }.to_string());
                let options: Vec<String> = d
                    .get("options")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                    .collect();
                row.push(options.join(" "));
            }
            row
        })
        .collect();
    let headers: &[&str] = if detailed {
        &["Path", "Type", "Description", "Replication", "Options"]
    } else {
        &["Path", "Type", "Description"]
    };
    ctx.out(&table(headers, rows));
    Ok(0)
}

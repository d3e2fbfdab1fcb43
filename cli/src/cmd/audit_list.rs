//! `arca audit list [-detailed]`: the enabled audit devices.

use serde_json::Value;

use super::secrets_list::DETAILED;
use super::{Ctx, Spec};
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

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(0, Some(0)) {
        return 1;
    }
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let devices = match client.read("sys/audit").await {
        Ok(s) => s.and_then(|s| s.data).unwrap_or_default(),
        Err(e) => {
            ctx.err(&format!("Error listing audits: {e}"));
            return 2;
        }
    };
    if devices.is_empty() {
        ctx.out("No audit devices are enabled.");
        return 2;
    }
    if ctx.format == Format::Json {
        return ctx.output_json(&devices);
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
    0
}

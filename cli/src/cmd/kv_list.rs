//! `arca kv list [options] PATH`: lists the secrets and folders under a
//! path (KV v2 lists `metadata/`).

use serde_json::{Map, Value};

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::output::Format;
use crate::output::json::Sorted;
use crate::output::table::table;

pub(crate) const SPEC: Spec = Spec {
    name: "kv list",
    synopsis: "List data or secrets",
    help: "Usage: arca kv list [options] PATH\n\n  \
           Lists data from Arca's key-value store at the given path.\n\n  \
           List values under the \"my-app\" folder of the key-value store:\n\n      \
           $ arca kv list secret/my-app/",
    flags: &[MOUNT_FLAG],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    let mounted = ctx.flags.str("mount").is_some_and(|m| !m.is_empty());
    let arg = match ctx.args() {
        [] if mounted => String::new(),
        [one] => one.clone(),
        _ => {
            ctx.arity(1, Some(1));
            return 1;
        }
    };
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
    let path = target.path("metadata");
    let secret = match client.list(&path).await {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error listing {path}: {e}"));
            return 2;
        }
    };
    if let Some(s) = secret.as_ref().filter(|s| s.wrap_info.is_some()) {
        return ctx.output_secret(s);
    }
    let keys = secret
        .as_ref()
        .and_then(|s| s.field("keys"))
        .and_then(Value::as_array)
        .cloned();
    if ctx.format != Format::Table {
        return match (&secret, keys) {
            (Some(s), Some(keys)) if s.data.is_some() => {
                ctx.output_json(&Sorted(&Value::Array(keys)))
            }
            _ => {
                ctx.output_json(&Map::new());
                2
            }
        };
    }
    let Some(secret) = secret.filter(|s| s.data.is_some()) else {
        ctx.err(&format!("No value found at {path}"));
        return 2;
    };
    let Some(keys) = keys else {
        ctx.err(&format!("No entries found at {path}"));
        return 2;
    };
    if let Some(w) = crate::output::secret::warnings_text(&secret) {
        ctx.err(w.trim_end_matches('\n'));
        ctx.err("");
    }
    let mut names: Vec<String> = keys
        .iter()
        .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
        .collect();
    if names.is_empty() {
        return 0;
    }
    names.sort();
    let t = table(&["Keys"], names.into_iter().map(|n| vec![n]).collect());
    ctx.out(&t);
    0
}

//! `arca list PATH`: lists the keys under a logical path.

use serde_json::{Map, Value};

use super::ctx::sanitize_path;
use super::{Ctx, Spec};
use crate::output::Format;
use crate::output::json::Sorted;
use crate::output::table::table;

pub(crate) const SPEC: Spec = Spec {
    name: "list",
    synopsis: "List data or secrets",
    help: "Usage: arca list [options] PATH\n\n  \
           Lists data from Arca at the given path. This can be used to list keys in a,\n  \
           given secrets engine.\n\n  \
           List values under the \"my-app\" folder of the KV secrets engine:\n\n      \
           $ arca list secret/metadata/my-app/",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let path = sanitize_path(&ctx.args()[0]);
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let secret = match client.list(&path).await {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error listing {path}: {e}"));
            return 2;
        }
    };
    let keys = secret
        .as_ref()
        .and_then(|s| s.field("keys"))
        .and_then(Value::as_array)
        .cloned();
    if ctx.format == Format::Json {
        return match keys {
            Some(keys) => ctx.output_json(&Sorted(&Value::Array(keys))),
            None => {
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

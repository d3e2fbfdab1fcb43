//! `arca write PATH [K=V...]`: writes any logical path (`PUT`).

use serde_json::Value;

use super::ctx::sanitize_path;
use super::{Ctx, Spec, kv_args};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "write",
    synopsis: "Write data, configuration, and secrets",
    help: "Usage: arca write [options] PATH [DATA K=V...]\n\n  \
           Writes data to Arca at the given path. The data can be credentials, secrets,\n  \
           configuration, or arbitrary data. The specific behavior of this command is\n  \
           determined at the thing mounted at the path.\n\n  \
           Data is specified as \"key=value\" pairs. If the value begins with an \"@\",\n  \
           then it is loaded from a file. If the value is \"-\", Arca will read the value\n  \
           from stdin. A lone \"-\" reads a JSON object of data from stdin.\n\n  \
           Persist data in the generic secrets engine:\n\n      \
           $ arca write secret/my-secret foo=bar\n\n  \
           Upload an AWS IAM policy from a file on disk:\n\n      \
           $ arca write aws/roles/ops policy=@policy.json\n\n  \
           Write data from stdin:\n\n      \
           $ echo $MY_TOKEN | arca write consul/config/access token=-",
    flags: &[Flag::new(
        "force",
        Kind::Bool,
        "Allow the operation to continue with no key=value pairs. This allows writing to \
         keys that do not need or expect data.",
    )
    .aliases(&["f"])
    .default("false")],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let args = ctx.args().to_vec();
    match args.len() {
        0 => {
            return Err(Error::Usage(
                "Not enough arguments (expected 1, got 0)".into(),
            ));
        }
        1 if !ctx.flags.bool("force") => {
            return Err(Error::Usage("Must supply data or use -force".into()));
        }
        _ => {}
    }
    let path = sanitize_path(&args[0]);
    let data = kv_args::data(ctx, &args[1..])?;
    let client = ctx.client()?;
    let body = data.map_or(Value::Null, Value::Object);
    let answer = client
        .write(&path, &body)
        .await
        .context(format!("Error writing data to {path}"))?;
    ctx.output_written(&path, answer)
}

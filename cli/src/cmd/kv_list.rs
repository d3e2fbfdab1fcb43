//! `arca kv list [options] PATH`: lists the secrets and folders under a
//! path (KV v2 lists `metadata/`).

use super::kv_path::{self, ArgStyle, MOUNT_FLAG};
use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "kv list",
    synopsis: "List data or secrets",
    help: "Usage: arca kv list [options] PATH\n\n  \
           Lists data from Arca's key-value store at the given path.\n\n  \
           List values under the \"my-app\" folder of the key-value store:\n\n      \
           $ arca kv list secret/my-app/",
    flags: &[MOUNT_FLAG],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<i32> {
    let mounted = ctx.flags.str("mount").is_some_and(|m| !m.is_empty());
    let arg = if mounted && ctx.args().is_empty() {
        String::new()
    } else {
        ctx.arity(1, Some(1))?;
        ctx.args()[0].clone()
    };
    let (client, target) = kv_path::connect(ctx, &arg, ArgStyle::Sanitized).await?;
    let path = target.path("metadata");
    let secret = client
        .list(&path)
        .await
        .context(format!("Error listing {path}"))?;
    if let Some(s) = secret.as_ref().filter(|s| s.wrap_info.is_some()) {
        ctx.output_secret(s);
        return Ok(0);
    }
    ctx.output_list(&path, secret)
}

//! `arca audit disable PATH`: disables an audit device.

use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "audit disable",
    synopsis: "Disables an audit device",
    help: "Usage: arca audit disable [options] PATH\n\n  \
           Disables an audit device. Once an audit device is disabled, no future audit\n  \
           logs are dispatched to it. The data associated with the audit device is not\n  \
           affected.\n\n  \
           The argument corresponds to the PATH of audit device, not the TYPE!\n\n  \
           Disable the audit device enabled at \"file/\":\n\n      \
           $ arca audit disable file/",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let path = format!("{}/", ctx.args()[0].trim().trim_matches('/'));
    let client = ctx.client()?;
    client
        .delete(&format!("sys/audit/{path}"))
        .await
        .context("Error disabling audit device")?;
    ctx.out(&format!(
        "Success! Disabled audit device (if it was enabled) at: {path}"
    ));
    Ok(())
}

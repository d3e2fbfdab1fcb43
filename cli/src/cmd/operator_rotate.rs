//! `arca operator rotate`: adds a new barrier key term (`PUT sys/rotate`)
//! and prints the new key status.

use super::operator_key_status::output_key_status;
use super::{Ctx, Spec};
use crate::error::{Context, Result};

pub(crate) const SPEC: Spec = Spec {
    name: "operator rotate",
    synopsis: "Rotates the underlying encryption key",
    help: "Usage: arca operator rotate [options]\n\n  \
           Rotates the underlying encryption key which is used to secure data written\n  \
           to the storage backend. This installs a new key in the key ring. This new\n  \
           key is used to encrypt new data, while older keys in the ring are used to\n  \
           decrypt older data.\n\n  \
           This is an online operation and does not cause downtime. This command is run\n  \
           per-cluster (not per-server), since Arca servers in HA mode share the same\n  \
           storage backend.\n\n  \
           Rotate Arca's encryption key:\n\n      \
           $ arca operator rotate",
    flags: &[],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    client.rotate().await.context("Error rotating key")?;
    output_key_status(ctx, &client, Some("Success! Rotated key")).await
}

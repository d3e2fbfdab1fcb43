//! `arca operator rotate`: adds a new barrier key term (`PUT sys/rotate`)
//! and prints the new key status.

use super::operator_key_status::key_status_table;
use super::{Ctx, Spec};
use crate::output::Format;

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
    if let Err(e) = client.rotate().await {
        ctx.err(&format!("Error rotating key: {e}"));
        return 2;
    }
    let status = match client.key_status().await {
        Ok(s) => s,
        Err(e) => {
            ctx.err(&format!("Error reading key status: {e}"));
            return 2;
        }
    };
    match ctx.format {
        Format::Json => ctx.output_json(&status),
        Format::Table => {
            ctx.out("Success! Rotated key");
            ctx.out("");
            ctx.out(&key_status_table(&status));
            0
        }
    }
}

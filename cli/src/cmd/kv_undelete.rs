//! `arca kv undelete [options] KEY`: restores soft-deleted versions of a
//! KV v2 secret.

use super::kv_path::MOUNT_FLAG;
use super::{Ctx, Spec};
use crate::error::Result;
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "kv undelete",
    synopsis: "Undeletes versions in the KV store",
    help: "Usage: arca kv undelete [options] KEY\n\n  \
           Undeletes the data for the provided version and path in the key-value store.\n  \
           This restores the data, allowing it to be returned on get requests.\n\n  \
           To undelete version 3 of key \"foo\":\n\n      \
           $ arca kv undelete -mount=secret -versions=3 foo\n\n  \
           The deprecated path-like syntax can also be used, but this should be avoided,\n  \
           as the fact that it is not actually the full API path to\n  \
           the secret (secret/data/foo) can cause confusion:\n\n      \
           $ arca kv undelete -versions=3 secret/foo",
    flags: &[
        MOUNT_FLAG,
        Flag::new(
            "versions",
            Kind::List,
            "Specifies the version numbers to undelete.",
        ),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    super::kv_destroy::version_op(ctx, "undelete", "Undelete").await
}

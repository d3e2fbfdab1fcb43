//! The secrets engines' table (`sys/mounts`) and the help and flags of
//! `secrets enable|disable|list|tune`.

use super::{Api, MountTable};
use crate::cmd::Spec;
use crate::cmd::mount_flags::{self as m, DETAILED};
use crate::flags::Flag;

pub(crate) const TABLE: MountTable = MountTable {
    api: Api::Mounts,
    noun: "secrets engine",
    kv_v2_shorthand: true,
    enabled: |engine, path| format!("Success! Enabled the {engine} secrets engine at: {path}"),
    enabling: |_| "Error enabling".to_string(),
    listing: "Error listing secrets engines",
    version_column: false,
    detail_column: ("Force No Cache", |m| m.config.force_no_cache.to_string()),
    no_ttl_types: &["system", "cubbyhole"],
};

const ENABLE_FLAGS: [Flag; 16] = m::join(m::ENABLE_COMMON, [m::FORCE_NO_CACHE]);

pub(crate) const ENABLE: Spec = Spec {
    name: "secrets enable",
    synopsis: "Enable a secrets engine",
    help: "Usage: arca secrets enable [options] TYPE\n\n  \
           Enables a secrets engine. By default, secrets engines are enabled at the path\n  \
           corresponding to their TYPE, but users can customize the path using the\n  \
           -path option.\n\n  \
           Once enabled, Arca will route all requests which begin with the path to the\n  \
           secrets engine.\n\n  \
           Enable the kv secrets engine at kv/:\n\n      \
           $ arca secrets enable kv\n\n  \
           Enable version 2 of the kv secrets engine at secret/:\n\n      \
           $ arca secrets enable -path=secret -version=2 kv\n\n  \
           Enable the transit secrets engine with an explicit maximum TTL of 30m:\n\n      \
           $ arca secrets enable -max-lease-ttl=30m transit",
    flags: &ENABLE_FLAGS,
};

pub(crate) const DISABLE: Spec = Spec {
    name: "secrets disable",
    synopsis: "Disable a secrets engine",
    help: "Usage: arca secrets disable [options] PATH\n\n  \
           Disables a secrets engine at the given PATH. The argument corresponds to the\n  \
           enabled PATH of the engine, not the TYPE! All secrets created by this engine\n  \
           are revoked and its Arca data is removed.\n\n  \
           Disable the secrets engine enabled at aws/:\n\n      \
           $ arca secrets disable aws/",
    flags: &[],
};

pub(crate) const LIST: Spec = Spec {
    name: "secrets list",
    synopsis: "List enabled secrets engines",
    help: "Usage: arca secrets list [options]\n\n  \
           Lists the enabled secret engines on the Arca server. This command also\n  \
           outputs information about the enabled path including configured TTLs and\n  \
           human-friendly descriptions. A TTL of \"system\" indicates that the system\n  \
           default is in use.\n\n  \
           List all enabled secrets engines:\n\n      \
           $ arca secrets list\n\n  \
           List all enabled secrets engines with detailed output:\n\n      \
           $ arca secrets list -detailed",
    flags: &[DETAILED],
};

pub(crate) const TUNE: Spec = Spec {
    name: "secrets tune",
    synopsis: "Tune a secrets engine configuration",
    help: "Usage: arca secrets tune [options] PATH\n\n  \
           Tunes the configuration options for the secrets engine at the given PATH.\n  \
           The argument corresponds to the PATH where the secrets engine is enabled,\n  \
           not the TYPE!\n\n  \
           Tune the default lease for the PKI secrets engine:\n\n      \
           $ arca secrets tune -default-lease-ttl=72h pki/",
    flags: &m::TUNABLES,
};

//! The auth methods' table (`sys/auth`) and the help and flags of
//! `auth enable|disable|list|tune`.

use super::{Api, MountTable};
use crate::cmd::Spec;
use crate::cmd::mount_flags::{self as m, DETAILED};
use crate::flags::Flag;

pub(crate) const TABLE: MountTable = MountTable {
    api: Api::Auth,
    noun: "auth method",
    kv_v2_shorthand: false,
    enabled: |method, path| format!("Success! Enabled {method} auth method at: {path}"),
    enabling: |method| format!("Error enabling {method} auth"),
    listing: "Error listing enabled authentications",
    version_column: true,
    detail_column: ("Token Type", |m| m.config.token_type.clone()),
    no_ttl_types: &[],
};

const ENABLE_FLAGS: [Flag; 16] = m::join(m::ENABLE_COMMON, [m::TOKEN_TYPE]);
const TUNE_FLAGS: [Flag; 12] = m::join(m::TUNABLES, [m::TOKEN_TYPE]);

pub(crate) const ENABLE: Spec = Spec {
    name: "auth enable",
    synopsis: "Enables a new auth method",
    help: "Usage: arca auth enable [options] TYPE\n\n  \
           Enables a new auth method. An auth method is responsible for authenticating\n  \
           users or machines and assigning them policies with which they can access\n  \
           Arca.\n\n  \
           Enable the userpass auth method at userpass/:\n\n      \
           $ arca auth enable userpass\n\n  \
           Enable the kubernetes auth method at k8s/:\n\n      \
           $ arca auth enable -path=k8s kubernetes",
    flags: &ENABLE_FLAGS,
};

pub(crate) const DISABLE: Spec = Spec {
    name: "auth disable",
    synopsis: "Disables an auth method",
    help: "Usage: arca auth disable [options] PATH\n\n  \
           Disables an existing auth method at the given PATH. The argument corresponds\n  \
           to the PATH of the mount, not the TYPE! Once the auth method is disabled its\n  \
           path can no longer be used to authenticate.\n\n  \
           All access tokens generated via the disabled auth method are immediately\n  \
           revoked. This command will block until all tokens are revoked.\n\n  \
           Disable the auth method at userpass/:\n\n      \
           $ arca auth disable userpass/",
    flags: &[],
};

pub(crate) const LIST: Spec = Spec {
    name: "auth list",
    synopsis: "Lists enabled auth methods",
    help: "Usage: arca auth list [options]\n\n  \
           Lists the enabled auth methods on the Arca server. This command also outputs\n  \
           information about the method including configuration and human-friendly\n  \
           descriptions. A TTL of \"system\" indicates that the system default is in use.\n\n  \
           List all enabled auth methods:\n\n      \
           $ arca auth list\n\n  \
           List all enabled auth methods with detailed output:\n\n      \
           $ arca auth list -detailed",
    flags: &[DETAILED],
};

pub(crate) const TUNE: Spec = Spec {
    name: "auth tune",
    synopsis: "Tunes an auth method configuration",
    help: "Usage: arca auth tune [options] PATH\n\n  \
           Tunes the configuration options for the auth method at the given PATH. The\n  \
           argument corresponds to the PATH where the auth method is enabled, not the\n  \
           TYPE!\n\n  \
           Tune the default lease for the userpass auth method:\n\n      \
           $ arca auth tune -default-lease-ttl=72h userpass/",
    flags: &TUNE_FLAGS,
};

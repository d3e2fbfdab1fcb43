//! Flags shared by `secrets enable|tune|list` and `auth enable|tune|list`
//! (some also by `audit enable|list`), and how they become a
//! [`MountInput`] or a [`MountConfigInput`] the way the Go CLI builds them
//! (optional settings only when their flag was given).

use std::collections::BTreeMap;

use arca_client::{MountConfigInput, MountInput};

use crate::flags::{Flag, Kind, Parsed};

pub(crate) const DESCRIPTION: Flag = Flag::new(
    "description",
    Kind::Str,
    "Human-friendly description for the purpose of this mount.",
);
pub(crate) const PATH: Flag = Flag::new(
    "path",
    Kind::Str,
    "Place where the mount will be accessible. This must be unique across all mounts. \
     This defaults to the \"type\" of the mount.",
);
pub(crate) const DEFAULT_LEASE_TTL: Flag = Flag::new(
    "default-lease-ttl",
    Kind::Duration,
    "The default lease TTL for this mount. If unspecified, this defaults to the Arca \
     server's globally configured default lease TTL.",
);
pub(crate) const MAX_LEASE_TTL: Flag = Flag::new(
    "max-lease-ttl",
    Kind::Duration,
    "The maximum lease TTL for this mount. If unspecified, this defaults to the Arca \
     server's globally configured maximum lease TTL.",
);
pub(crate) const FORCE_NO_CACHE: Flag = Flag::new(
    "force-no-cache",
    Kind::Bool,
    "Force the secrets engine to disable caching.",
)
.default("false");
pub(crate) const OPTIONS: Flag = Flag::new(
    "options",
    Kind::Map,
    "Key-value pair provided as key=value for the mount options. This can be specified \
     multiple times.",
);
pub(crate) const LOCAL: Flag = Flag::new(
    "local",
    Kind::Bool,
    "Mark the mount as a local-only mount. Local mounts are not replicated.",
)
.default("false");
pub(crate) const SEAL_WRAP: Flag = Flag::new(
    "seal-wrap",
    Kind::Bool,
    "Enable seal wrapping of critical values.",
)
.default("false");
pub(crate) const EXTERNAL_ENTROPY_ACCESS: Flag = Flag::new(
    "external-entropy-access",
    Kind::Bool,
    "Enable access to the seal's entropy source.",
)
.default("false");
pub(crate) const VERSION: Flag = Flag::new(
    "version",
    Kind::Int,
    "Select the version of the engine to run. Not supported by all engines.",
);
pub(crate) const AUDIT_NON_HMAC_REQUEST_KEYS: Flag = Flag::new(
    "audit-non-hmac-request-keys",
    Kind::List,
    "Key that will not be HMAC'd by audit devices in the request data object. To specify \
     multiple values, specify this flag multiple times.",
);
pub(crate) const AUDIT_NON_HMAC_RESPONSE_KEYS: Flag = Flag::new(
    "audit-non-hmac-response-keys",
    Kind::List,
    "Key that will not be HMAC'd by audit devices in the response data object. To specify \
     multiple values, specify this flag multiple times.",
);
pub(crate) const LISTING_VISIBILITY: Flag = Flag::new(
    "listing-visibility",
    Kind::Str,
    "Determines the visibility of the mount in the UI-specific listing endpoint.",
);
pub(crate) const PASSTHROUGH_REQUEST_HEADERS: Flag = Flag::new(
    "passthrough-request-headers",
    Kind::List,
    "Request header value that will be sent to the plugin. To specify multiple values, \
     specify this flag multiple times.",
);
pub(crate) const ALLOWED_RESPONSE_HEADERS: Flag = Flag::new(
    "allowed-response-headers",
    Kind::List,
    "Response header value that plugins will be allowed to set. To specify multiple \
     values, specify this flag multiple times.",
);
pub(crate) const PLUGIN_VERSION: Flag = Flag::new(
    "plugin-version",
    Kind::Str,
    "Select the semantic version of the plugin to enable.",
);
pub(crate) const TOKEN_TYPE: Flag = Flag::new(
    "token-type",
    Kind::Str,
    "Sets a forced token type for the mount.",
);
/// The settings `enable` and `tune` take in both tables.
pub(crate) const TUNABLES: [Flag; 11] = [
    DESCRIPTION,
    DEFAULT_LEASE_TTL,
    MAX_LEASE_TTL,
    OPTIONS,
    VERSION,
    AUDIT_NON_HMAC_REQUEST_KEYS,
    AUDIT_NON_HMAC_RESPONSE_KEYS,
    LISTING_VISIBILITY,
    PASSTHROUGH_REQUEST_HEADERS,
    ALLOWED_RESPONSE_HEADERS,
    PLUGIN_VERSION,
];
/// The flags `enable` takes in both tables.
pub(crate) const ENABLE_COMMON: [Flag; 15] =
    join(TUNABLES, [PATH, LOCAL, SEAL_WRAP, EXTERNAL_ENTROPY_ACCESS]);
/// `-detailed` of the `list` commands.
pub(crate) const DETAILED: Flag = Flag::new(
    "detailed",
    Kind::Bool,
    "Print detailed information such as TTLs and replication status about each mount.",
)
.default("false");

/// `a` then `b`, for flag lists built from shared ones (help sorts flags
/// by name, so the order is of no consequence). `L` must be `N + M`; the
/// lists are constants, so a wrong `L` fails the build.
pub(crate) const fn join<const N: usize, const M: usize, const L: usize>(
    a: [Flag; N],
    b: [Flag; M],
) -> [Flag; L] {
    assert!(L == N + M, "L must be N + M");
    let mut out = [DESCRIPTION; L];
    let mut i = 0;
    while i < L {
        out[i] = if i < N { a[i] } else { b[i - N] };
        i += 1;
    }
    out
}

/// Settings every mount input and tune request shares.
fn common_config(flags: &Parsed, config: &mut MountConfigInput) {
    let list = |name: &str| flags.is_set(name).then(|| flags.list(name));
    config.audit_non_hmac_request_keys = list("audit-non-hmac-request-keys");
    config.audit_non_hmac_response_keys = list("audit-non-hmac-response-keys");
    config.passthrough_request_headers = list("passthrough-request-headers");
    config.allowed_response_headers = list("allowed-response-headers");
    config.listing_visibility = flags.string("listing-visibility");
    config.plugin_version = flags.string("plugin-version");
    config.token_type = flags.string("token-type");
}

/// `-options`, plus `version` from `-version` (or a forced version).
fn options(flags: &Parsed, version: i64) -> Option<BTreeMap<String, String>> {
    let mut options = flags.is_set("options").then(|| flags.map("options"));
    if version > 0 {
        options
            .get_or_insert_with(BTreeMap::new)
            .insert("version".into(), version.to_string());
    }
    options
}

/// The body of an enable request for `mount_type`; `version` overrides
/// `-version` when non-zero (`kv-v2`).
pub(crate) fn mount_input(flags: &Parsed, mount_type: &str, version: i64) -> MountInput {
    let version = if version > 0 {
        version
    } else {
        flags.int("version")
    };
    let mut config = MountConfigInput {
        default_lease_ttl: flags.duration("default-lease-ttl").go_string(),
        max_lease_ttl: flags.duration("max-lease-ttl").go_string(),
        force_no_cache: flags.bool("force-no-cache"),
        ..MountConfigInput::default()
    };
    common_config(flags, &mut config);
    MountInput {
        mount_type: mount_type.to_string(),
        description: flags.string("description"),
        config,
        local: flags.bool("local"),
        seal_wrap: flags.bool("seal-wrap"),
        external_entropy_access: flags.bool("external-entropy-access"),
        options: options(flags, version),
    }
}

/// The body of a tune request: unset TTLs are sent empty (unchanged), a
/// negative one as `system`.
pub(crate) fn tune_input(flags: &Parsed) -> MountConfigInput {
    let ttl = |name: &str| {
        let d = flags.duration(name);
        match d.0 {
            0 => String::new(),
            n if n < 0 => "system".to_string(),
            _ => d.go_string(),
        }
    };
    let mut config = MountConfigInput {
        options: options(flags, flags.int("version")),
        default_lease_ttl: ttl("default-lease-ttl"),
        max_lease_ttl: ttl("max-lease-ttl"),
        description: flags
            .is_set("description")
            .then(|| flags.string("description")),
        ..MountConfigInput::default()
    };
    common_config(flags, &mut config);
    config
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::{Group, parse};

    const ALL: &[Flag] = &[
        DESCRIPTION,
        PATH,
        DEFAULT_LEASE_TTL,
        MAX_LEASE_TTL,
        FORCE_NO_CACHE,
        OPTIONS,
        LOCAL,
        SEAL_WRAP,
        EXTERNAL_ENTROPY_ACCESS,
        VERSION,
        AUDIT_NON_HMAC_REQUEST_KEYS,
        AUDIT_NON_HMAC_RESPONSE_KEYS,
        LISTING_VISIBILITY,
        PASSTHROUGH_REQUEST_HEADERS,
        ALLOWED_RESPONSE_HEADERS,
        PLUGIN_VERSION,
        TOKEN_TYPE,
    ];

    fn flags(args: &[&str]) -> Parsed {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(
            &[Group {
                title: "t",
                flags: ALL,
            }],
            &args,
        )
        .unwrap()
    }

    #[test]
    fn enable_bodies_match_bao() {
        let body = |args: &[&str], version| {
            serde_json::to_string(&mount_input(&flags(args), "kv", version)).unwrap()
        };
        assert_eq!(
            body(
                &[
                    "-description=desc",
                    "-default-lease-ttl=30m",
                    "-max-lease-ttl=2h"
                ],
                0
            ),
            r#"{"type":"kv","description":"desc","config":{"options":null,"default_lease_ttl":"30m0s","max_lease_ttl":"2h0m0s","force_no_cache":false},"local":false,"seal_wrap":false,"external_entropy_access":false,"options":null}"#
        );
        assert!(body(&["-version=2"], 0).ends_with(r#""options":{"version":"2"}}"#));
        assert!(body(&[], 2).ends_with(r#""options":{"version":"2"}}"#));
    }

    #[test]
    fn tune_bodies_match_bao() {
        let body = |args: &[&str]| serde_json::to_string(&tune_input(&flags(args))).unwrap();
        assert_eq!(
            body(&["-default-lease-ttl=1h"]),
            r#"{"options":null,"default_lease_ttl":"1h0m0s","max_lease_ttl":"","force_no_cache":false}"#
        );
        assert_eq!(
            body(&["-description=hello", "-max-lease-ttl=4h"]),
            r#"{"options":null,"default_lease_ttl":"","description":"hello","max_lease_ttl":"4h0m0s","force_no_cache":false}"#
        );
    }
}

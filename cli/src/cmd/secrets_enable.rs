//! `arca secrets enable [options] TYPE`: mounts a secrets engine.

use super::ctx::with_trailing_slash;
use super::mount_flags::{self as m, mount_input};
use super::{Ctx, Spec};

pub(crate) const SPEC: Spec = Spec {
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
    flags: &[
        m::DESCRIPTION,
        m::PATH,
        m::DEFAULT_LEASE_TTL,
        m::MAX_LEASE_TTL,
        m::FORCE_NO_CACHE,
        m::OPTIONS,
        m::LOCAL,
        m::SEAL_WRAP,
        m::EXTERNAL_ENTROPY_ACCESS,
        m::VERSION,
        m::AUDIT_NON_HMAC_REQUEST_KEYS,
        m::AUDIT_NON_HMAC_RESPONSE_KEYS,
        m::LISTING_VISIBILITY,
        m::PASSTHROUGH_REQUEST_HEADERS,
        m::ALLOWED_RESPONSE_HEADERS,
        m::PLUGIN_VERSION,
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let mut engine = ctx.args()[0].trim().to_string();
    // "kv-v2" is shorthand for version 2 of kv.
    let mut version = 0;
    if engine == "kv-v2" {
        engine = "kv".into();
        version = 2;
    }
    let path = match ctx.flags.str("path").filter(|p| !p.trim().is_empty()) {
        Some(p) => p.to_string(),
        None => engine.clone(),
    };
    let path = with_trailing_slash(&path);
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let input = mount_input(&ctx.flags, &engine, version);
    match client.enable_mount(&path, &input).await {
        Ok(()) => {
            ctx.out(&format!(
                "Success! Enabled the {engine} secrets engine at: {path}"
            ));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error enabling: {e}"));
            2
        }
    }
}

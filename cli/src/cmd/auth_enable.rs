//! `arca auth enable [options] TYPE`: enables an auth method.

use super::ctx::with_trailing_slash;
use super::mount_flags::{self as m, mount_input};
use super::{Ctx, Spec};

pub(crate) const SPEC: Spec = Spec {
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
    flags: &[
        m::DESCRIPTION,
        m::PATH,
        m::DEFAULT_LEASE_TTL,
        m::MAX_LEASE_TTL,
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
        m::TOKEN_TYPE,
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(1, Some(1)) {
        return 1;
    }
    let method = ctx.args()[0].trim().to_string();
    let path = match ctx.flags.str("path").filter(|p| !p.trim().is_empty()) {
        Some(p) => p.to_string(),
        None => method.clone(),
    };
    let path = with_trailing_slash(&path);
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let input = mount_input(&ctx.flags, &method, 0);
    match client.enable_auth(&path, &input).await {
        Ok(()) => {
            ctx.out(&format!("Success! Enabled {method} auth method at: {path}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error enabling {method} auth: {e}"));
            2
        }
    }
}

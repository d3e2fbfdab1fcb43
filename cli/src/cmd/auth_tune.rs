//! `arca auth tune [options] PATH`: changes an auth method's settings.

use super::ctx::{sanitize_path, with_trailing_slash};
use super::mount_flags::{self as m, tune_input};
use super::{Ctx, Spec};

pub(crate) const SPEC: Spec = Spec {
    name: "auth tune",
    synopsis: "Tunes an auth method configuration",
    help: "Usage: arca auth tune [options] PATH\n\n  \
           Tunes the configuration options for the auth method at the given PATH. The\n  \
           argument corresponds to the PATH where the auth method is enabled, not the\n  \
           TYPE!\n\n  \
           Tune the default lease for the userpass auth method:\n\n      \
           $ arca auth tune -default-lease-ttl=72h userpass/",
    flags: &[
        m::DESCRIPTION,
        m::DEFAULT_LEASE_TTL,
        m::MAX_LEASE_TTL,
        m::OPTIONS,
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
    let path = with_trailing_slash(&sanitize_path(&ctx.args()[0]));
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    match client.tune_auth(&path, &tune_input(&ctx.flags)).await {
        Ok(()) => {
            ctx.out(&format!("Success! Tuned the auth method at: {path}"));
            0
        }
        Err(e) => {
            ctx.err(&format!("Error tuning auth method {path}: {e}"));
            2
        }
    }
}

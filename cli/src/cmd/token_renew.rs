//! `arca token renew [TOKEN]`: renews a token's lease; the caller's own
//! token (`renew-self`) without an argument, by accessor with `-accessor`.

use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "token renew",
    synopsis: "Renew a token lease",
    help: "Usage: arca token renew [options] [TOKEN]\n\n  \
           Renews a token's lease, extending the amount of time it can be used. If a\n  \
           TOKEN is not provided, the locally authenticated token is used. A token\n  \
           accessor can be used as well. Lease renewal will fail if the token is not\n  \
           renewable, the token has already been revoked, or if the token has already\n  \
           reached its maximum TTL.\n\n  \
           Renew a token (this uses the /auth/token/renew endpoint and permission):\n\n      \
           $ arca token renew s.96ddf4bc1fbd45d9\n\n  \
           Renew the currently authenticated token (this uses the /auth/token/renew-self\n  \
           endpoint and permission):\n\n      \
           $ arca token renew\n\n  \
           Renew a token requesting a specific increment value:\n\n      \
           $ arca token renew -increment=30m s.96ddf4bc1fbd45d9",
    flags: &[
        Flag::new(
            "accessor",
            Kind::Bool,
            "Treat the argument as an accessor instead of a token.",
        )
        .default("false"),
        Flag::new(
            "increment",
            Kind::Duration,
            "Request a specific increment for renewal. This increment may not be honored, \
             for instance in the case of periodic tokens. If not supplied, the token's default \
             TTL is used.",
        )
        .aliases(&["i"]),
    ],
};

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    let accessor = ctx.flags.bool("accessor");
    ctx.arity(usize::from(accessor), Some(1))?;
    let client = ctx.client()?;
    let increment = ctx.flags.duration("increment").whole_secs();
    let arg = ctx.args().first().cloned();
    let result = match (accessor, arg) {
        (true, Some(acc)) => client.renew_accessor(&acc, increment).await,
        (false, Some(token)) => client.renew_token(&token, increment).await,
        (_, None) => client.renew_self(increment).await,
    };
    let secret = result.context("Error renewing token")?;
    ctx.output_secret_or_field(&secret)
}

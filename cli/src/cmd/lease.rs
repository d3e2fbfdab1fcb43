//! `arca lease lookup|renew|revoke`: a secret's lease (`sys/leases/*`).

use super::{Ctx, Spec};
use crate::error::{Context, Error, Result};
use crate::flags::{Flag, Kind};

pub(crate) const LOOKUP: Spec = Spec {
    name: "lease lookup",
    synopsis: "Lookup the lease of a secret",
    help: "Usage: arca lease lookup ID\n\n  \
           Lookup the lease information of a secret.\n\n  \
           Every secret in Arca has a lease associated with it. Users can look up\n  \
           information on the lease by referencing the lease ID.\n\n  \
           Lookup lease of a secret:\n\n      \
           $ arca lease lookup database/creds/readonly/2f6a614c...",
    flags: &[],
};

pub(crate) const RENEW: Spec = Spec {
    name: "lease renew",
    synopsis: "Renew the lease of a secret",
    help: "Usage: arca lease renew [options] ID\n\n  \
           Renews the lease on a secret, extending the time that it can be used before\n  \
           it is revoked by Arca.\n\n  \
           Every secret in Arca has a lease associated with it. If the owner of the\n  \
           secret wants to use it longer than the lease, then it must be renewed.\n  \
           Renewing the lease does not change the contents of the secret. The ID is the\n  \
           full path lease ID.\n\n  \
           Renew a secret:\n\n      \
           $ arca lease renew database/creds/readonly/2f6a614c...\n\n  \
           Lease renewal will fail if the secret is not renewable, the secret has already\n  \
           been revoked, or if the secret has already reached its maximum TTL.",
    flags: &[Flag::new(
        "increment",
        Kind::Duration,
        "Request a specific increment in seconds. Arca is not required to honor \
             this request.",
    )],
};

pub(crate) const REVOKE: Spec = Spec {
    name: "lease revoke",
    synopsis: "Revoke leases and secrets",
    help: "Usage: arca lease revoke [options] ID\n\n  \
           Revokes secrets by their lease ID. This command can revoke a single secret\n  \
           or multiple secrets based on a path-matched prefix.\n\n  \
           Revoke a single lease:\n\n      \
           $ arca lease revoke database/creds/readonly/2f6a614c...\n\n  \
           Revoke all leases for a role:\n\n      \
           $ arca lease revoke -prefix aws/creds/deploy\n\n  \
           Force delete leases from Arca even if secret engine revocation fails:\n\n      \
           $ arca lease revoke -force -prefix consul/creds",
    flags: &[
        Flag::new(
            "force",
            Kind::Bool,
            "Delete the lease from Arca even if the secret engine revocation fails. \
             This is meant for recovery situations where the secret in the target \
             secret engine was manually removed. If this flag is specified, -prefix \
             is also required.",
        )
        .default("false")
        .aliases(&["f"]),
        Flag::new(
            "prefix",
            Kind::Bool,
            "Treat the ID as a prefix instead of an exact lease ID. This can revoke \
             multiple leases simultaneously.",
        )
        .default("false"),
        Flag::new(
            "sync",
            Kind::Bool,
            "Make the operation synchronous instead of queuing the revocations to be \
             done in the background. Arca always revokes before it answers.",
        )
        .default("false"),
    ],
};

pub(crate) async fn lookup(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let client = ctx.client()?;
    let id = ctx.args()[0].clone();
    let secret = client
        .lookup_lease(&id)
        .await
        .context(format!("error looking up lease id {id}"))?;
    ctx.output_secret_or_field(&secret)
}

pub(crate) async fn renew(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(1, Some(1))?;
    let client = ctx.client()?;
    let id = ctx.args()[0].clone();
    let increment = ctx
        .flags
        .is_set("increment")
        .then(|| u64::try_from(ctx.flags.duration("increment").whole_secs()).unwrap_or(0));
    let secret = client
        .renew_lease(&id, increment)
        .await
        .context(format!("Error renewing {id}"))?;
    ctx.output_secret_or_field(&secret)
}

pub(crate) async fn revoke(ctx: &mut Ctx<'_>) -> Result<()> {
    let (force, prefix) = (ctx.flags.bool("force"), ctx.flags.bool("prefix"));
    if force && !prefix {
        return Err(Error::Usage(
            "Specifying -force requires also specifying -prefix".into(),
        ));
    }
    ctx.arity(1, Some(1))?;
    let client = ctx.client()?;
    let id = ctx.args()[0].clone();
    if force {
        ctx.err(
            "Warning! Force-removing leases can cause Arca to become out of sync with\nsecret engines!",
        );
        client
            .revoke_lease_prefix(&id, true)
            .await
            .context(format!("Error force revoking leases with prefix {id}"))?;
        ctx.success(&format!("Force revoked any leases with prefix: {id}"));
        return Ok(());
    }
    if prefix {
        client
            .revoke_lease_prefix(&id, false)
            .await
            .context(format!("Error revoking leases with prefix {id}"))?;
    } else {
        client
            .revoke_lease(&id)
            .await
            .context(format!("Error revoking lease {id}"))?;
    }
    ctx.out("All revocation operations queued successfully!");
    Ok(())
}

//! `arca token create`: creates a child (or orphan) token of the current
//! token (`POST auth/token/create`, or `create/<role>` with `-role`).

use arca_client::TokenCreateRequest;

use super::{Ctx, Spec};
use crate::error::{Context, Result};
use crate::flags::{Flag, Kind};

pub(crate) const SPEC: Spec = Spec {
    name: "token create",
    synopsis: "Create a new token",
    help: "Usage: arca token create [options]\n\n  \
           Creates a new token that can be used for authentication. This token will be\n  \
           created as a child of the currently authenticated token. The generated token\n  \
           will inherit all policies and permissions of the currently authenticated\n  \
           token unless you explicitly define a subset list policies to assign to the\n  \
           token.\n\n  \
           A ttl can also be associated with the token. If a ttl is not associated with\n  \
           the token, then it cannot be renewed. If a ttl is associated with the token,\n  \
           it will expire after that amount of time unless it is renewed.\n\n  \
           Metadata associated with the token (specified with \"-metadata\") is written\n  \
           to the audit log when the token is used.\n\n  \
           Create a token with the \"my-policy\" policy, valid for one hour:\n\n      \
           $ arca token create -policy=my-policy -ttl=1h",
    flags: &[
        Flag::new(
            "display-name",
            Kind::Str,
            "Name to associate with this token. This is a non-sensitive value that can be \
             used to help identify created secrets (e.g. prefixes).",
        ),
        Flag::new(
            "entity-alias",
            Kind::Str,
            "Name of the entity alias to associate with during token creation. Only works in \
             combination with -role argument.",
        ),
        Flag::new(
            "explicit-max-ttl",
            Kind::Duration,
            "Explicit maximum lifetime for the token. Unlike normal TTLs, the maximum TTL is a \
             hard limit and cannot be exceeded. Uses duration format strings like \"1h\".",
        ),
        Flag::new(
            "id",
            Kind::Str,
            "Value for the token. By default, this is an auto-generated string. Specifying \
             this value requires sudo permissions.",
        ),
        Flag::new(
            "metadata",
            Kind::Map,
            "Arbitrary key=value metadata to associate with the token. This metadata will show \
             in the audit log when the token is used. This can be specified multiple times to \
             add multiple pieces of metadata.",
        ),
        Flag::new(
            "no-default-policy",
            Kind::Bool,
            "Detach the \"default\" policy from the policy set for this token.",
        )
        .default("false"),
        Flag::new(
            "orphan",
            Kind::Bool,
            "Create the token with no parent. This prevents the token from being revoked when \
             the token which created it expires. Setting this value requires root or sudo \
             permissions.",
        )
        .default("false"),
        Flag::new(
            "period",
            Kind::Duration,
            "If specified, every renewal will use the given period. Periodic tokens do not \
             expire as long as they are actively being renewed.",
        ),
        Flag::new(
            "policy",
            Kind::List,
            "Name of a policy to associate with this token. This can be specified multiple \
             times to attach multiple policies.",
        ),
        Flag::new(
            "renewable",
            Kind::Bool,
            "Allow the token to be renewed up to it's maximum TTL.",
        )
        .default("true"),
        Flag::new(
            "role",
            Kind::Str,
            "Name of the role to create the token against. Specifying -role may override \
             other arguments.",
        ),
        Flag::new(
            "ttl",
            Kind::Duration,
            "Initial TTL to associate with the token. Token renewals may be able to extend \
             beyond this value, depending on the configured maximum TTLs. This is specified \
             as a numeric string with suffix like \"30s\" or \"5m\".",
        ),
        Flag::new(
            "type",
            Kind::Str,
            "The type of token to create. Can be \"service\" or \"batch\".",
        )
        .default("service"),
        Flag::new(
            "use-limit",
            Kind::Int,
            "Number of times this token can be used. After the last use, the token is \
             automatically revoked. By default, tokens can be used an unlimited number of \
             times until their expiration.",
        )
        .default("0"),
    ],
};

/// The request the flags describe.
fn request(ctx: &Ctx<'_>) -> TokenCreateRequest {
    let f = &ctx.flags;
    let token_type = f.str("type").unwrap_or("service").to_string();
    // Batch tokens cannot be renewed; the Go CLI forces the flag off.
    let renewable = token_type != "batch" && f.bool_or("renewable", true);
    TokenCreateRequest {
        id: f.string("id"),
        policies: f.list("policy"),
        meta: f.map("metadata"),
        ttl: f.duration("ttl").go_string(),
        explicit_max_ttl: f.duration("explicit-max-ttl").go_string(),
        period: f.duration("period").go_string(),
        no_parent: f.bool("orphan"),
        no_default_policy: f.bool("no-default-policy"),
        display_name: f.string("display-name"),
        num_uses: f.int("use-limit"),
        renewable: Some(renewable),
        token_type,
        entity_alias: f.string("entity-alias"),
    }
}

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> Result<()> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    let req = request(ctx);
    let result = match ctx.flags.str("role") {
        Some(role) if !role.is_empty() => client.create_token_with_role(role, &req).await,
        _ => client.create_token(&req).await,
    };
    let secret = result.context("Error creating token")?;
    ctx.output_secret_or_field(&secret)
}

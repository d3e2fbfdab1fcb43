//! Completing a login: an auth method answered `Response::login`, and the
//! core turns it into a token. In order:
//!
//! 1. identity: the alias (mount accessor, name) resolves to an entity,
//!    created on first sight; its policies are the token's identity
//!    policies
//! 2. policies: the method's, plus `default` unless `no_default_policy`
//! 3. TTLs: the method's, else the mount's; never past the mount's max
//!    (Vault's rules: `period` makes a periodic token, `explicit_max_ttl`
//!    is a hard cap)
//! 4. the token: an orphan whose path is the login path, remembering the
//!    issuing mount (renewal limits) and its CIDR bounds
//!
//! The response then carries Vault's `auth` block.

use std::time::Duration;

use crate::error::{Error, Result};
use crate::identity::AliasMount;
use crate::logical::{Auth, Login, Request, Response};
use crate::router::MountEntry;
use crate::token::{TokenEntry, TokenType};
use crate::ttl::Limits;

use super::Active;

/// The token type a login gets: the method's setting, within what the
/// mount's `token_type` tune allows.
fn token_type(method: &str, mount: &MountEntry) -> Result<TokenType> {
    let tuned = mount
        .config
        .token_type
        .as_deref()
        .unwrap_or("default-service");
    let t = match (method, tuned) {
        ("service", "batch") | ("batch", "service") => {
            return Err(Error::invalid(format!(
                "the mount allows only {tuned} tokens, the role asks for {method}"
            )));
        }
        ("service", _) | (_, "service") => TokenType::Service,
        ("batch", _) | (_, "batch") => TokenType::Batch,
        (_, "default-batch") | ("default-batch", _) => TokenType::Batch,
        _ => TokenType::Service,
    };
    Ok(t)
}

pub(super) async fn complete(
    active: &Active,
    req: &Request,
    mount: &MountEntry,
    login: Login,
    warnings: Vec<String>,
) -> Result<Response> {
    let params = &login.token;
    if !crate::cidr::allowed(&params.bound_cidrs, req.remote_addr) {
        return Err(Error::PermissionDenied);
    }
    let kind = token_type(&params.token_type, mount)?;
    let batch = kind == TokenType::Batch;
    // The settled type decides (a role's `default-batch` may become batch
    // here): a batch token has nothing stored to count uses against.
    if batch && params.num_uses > 0 {
        return Err(Error::invalid("batch tokens cannot have a use limit"));
    }
    if batch && params.period > 0 {
        return Err(Error::invalid("batch tokens cannot be periodic"));
    }

    // 1. Identity.
    let mount_path = mount.route_prefix();
    let entity = active
        .identity
        .resolve_login(
            &AliasMount {
                accessor: &mount.accessor,
                mount_type: &mount.mount_type,
                path: &mount_path,
            },
            &login.alias_name,
            &login.alias_metadata,
        )
        .await?;
    if entity.disabled {
        return Err(Error::ForbiddenMsg(
            "entity associated with the request is disabled".into(),
        ));
    }

    // 2. Policies.
    let mut policies: Vec<String> = params.policies.clone();
    if !params.no_default_policy && !policies.iter().any(|p| p == "default") {
        policies.push("default".into());
    }
    policies.sort();
    policies.dedup();
    if policies.iter().any(|p| p == "root") {
        return Err(Error::invalid("auth methods cannot create root tokens"));
    }

    // 3. TTLs.
    let (mount_default, mount_max) = active.mounts.ttls(mount);
    let limits = Limits {
        default: mount_default,
        max: match params.max_ttl {
            0 => mount_max,
            s => Duration::from_secs(s).min(mount_max),
        },
        explicit_max: Duration::from_secs(params.explicit_max_ttl),
        period: Duration::from_secs(params.period),
    };
    // The method's TTL, else the mount's default: a default over the max
    // is reported too, as it was asked for by the method's config.
    let asked = match params.ttl {
        0 => mount_default,
        s => Duration::from_secs(s),
    };
    let granted = limits.grant(Some(asked));
    let ttl = granted.ttl;
    let mut warnings = warnings;
    warnings.extend(granted.warning);

    // 4. The token.
    let now = active.tokens.clock().now_nanos();
    let entry = TokenEntry {
        meta: (!login.metadata.is_empty()).then(|| login.metadata.clone()),
        num_uses: params.num_uses,
        explicit_max_ttl: params.explicit_max_ttl,
        period: params.period,
        entity_id: entity.id.clone(),
        mount_accessor: mount.accessor.clone(),
        max_ttl: limits.effective_max().as_secs(),
        bound_cidrs: params.bound_cidrs.clone(),
        ..TokenEntry::new(
            kind,
            policies.clone(),
            req.path.clone(),
            crate::token::display_name(&mount.mount_type, &login.display_name),
            now,
            ttl,
        )
    };
    let token = if batch {
        active.tokens.create_batch(&entry)?
    } else {
        active.tokens.create(entry.clone(), None).await?
    };
    let identity_policies = active.identity.policies(&entity.id);
    let mut all = policies.clone();
    all.extend(identity_policies.iter().cloned());
    all.sort();
    all.dedup();
    Ok(Response {
        auth: Some(Auth {
            client_token: token,
            accessor: entry.accessor,
            policies: all,
            token_policies: policies,
            metadata: entry.meta.as_ref().map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                    .collect()
            }),
            lease_duration: ttl.as_secs(),
            renewable: entry.renewable,
            entity_id: entity.id.clone(),
            token_type: kind,
            orphan: true,
            num_uses: params.num_uses,
            identity_policies,
        }),
        warnings,
        ..Default::default()
    })
}

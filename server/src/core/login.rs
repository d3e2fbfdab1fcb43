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
use crate::token::{TokenEntry, generate_accessor};

use super::Active;

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX / 2)
}

/// The token type a login gets: the method's setting, within what the
/// mount's `token_type` tune allows.
fn token_type(method: &str, mount: &MountEntry) -> Result<&'static str> {
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
        ("service", _) | (_, "service") => "service",
        ("batch", _) | (_, "batch") => "batch",
        (_, "default-batch") | ("default-batch", _) => "batch",
        _ => "service",
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
    let batch = kind == "batch";
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
    let max = match params.max_ttl {
        0 => mount_max,
        s => Duration::from_secs(s).min(mount_max),
    };
    let explicit = Duration::from_secs(params.explicit_max_ttl);
    let max = if explicit.is_zero() {
        max
    } else {
        max.min(explicit)
    };
    let mut warnings = warnings;
    let ttl = if params.period > 0 {
        let p = Duration::from_secs(params.period);
        if explicit.is_zero() {
            p
        } else {
            p.min(explicit)
        }
    } else {
        let wanted = match params.ttl {
            0 => mount_default,
            s => Duration::from_secs(s),
        };
        if wanted > max {
            warnings.push(format!(
                "TTL of {:?} exceeded the effective max_ttl of {:?}; TTL value is capped accordingly",
                crate::duration::format_short(wanted),
                crate::duration::format_short(max)
            ));
            max
        } else {
            wanted
        }
    };

    // 4. The token.
    let now = active.tokens.clock().now_nanos();
    let entry = TokenEntry {
        accessor: generate_accessor(),
        parent: String::new(),
        policies: policies.clone(),
        path: req.path.clone(),
        meta: (!login.metadata.is_empty()).then(|| login.metadata.clone()),
        display_name: crate::token::display_name(&mount.mount_type, &login.display_name),
        num_uses: params.num_uses,
        creation_time: now / 1_000_000_000,
        issue_time: now,
        creation_ttl: ttl.as_secs(),
        explicit_max_ttl: params.explicit_max_ttl,
        period: params.period,
        renewable: !ttl.is_zero(),
        orphan: true,
        expire_time: (!ttl.is_zero()).then(|| now.saturating_add(nanos(ttl))),
        last_renewal: None,
        entity_id: entity.id.clone(),
        token_type: kind.to_owned(),
        mount_accessor: mount.accessor.clone(),
        max_ttl: max.as_secs(),
        bound_cidrs: params.bound_cidrs.clone(),
        revoking: false,
    };
    let mut entry = entry;
    let token = if batch {
        entry.accessor.clear();
        entry.renewable = false;
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
            token_type: kind.to_owned(),
            orphan: true,
            num_uses: params.num_uses,
            identity_policies,
        }),
        warnings,
        ..Default::default()
    })
}

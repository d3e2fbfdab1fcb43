//! `login` with a role-id and (when the role binds one) a secret-id. In
//! order: the role by its role-id; the role's `secret_id_bound_cidrs`;
//! the secret-id (absent, expired, or of another role: one message for
//! all, so a caller learns nothing about which part was wrong); its
//! `cidr_list`; only then is a use counted, under the secret-id's lock, so
//! that of two logins racing for a secret-id's last use exactly one wins,
//! and a refused login never spends a use.
//!
//! The login answered: metadata `role_name` plus the secret-id's
//! metadata, alias name the role-id, the role's token settings with the
//! secret-id's `token_bound_cidrs` in place of the role's when it has
//! some. The display name is the mount type alone (`approle`), as Vault's.

use std::net::IpAddr;

use crate::cidr::Cidr;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Login, Request, Response};
use crate::secret::SecretString;

use super::Inner;
use super::bounds;
use super::store::{RoleEntry, SecretIdEntry, Store};

fn invalid_login() -> Error {
    Error::invalid("invalid role or secret ID")
}

/// A required credential field, trimmed.
fn credential(req: &Request, key: &str) -> Result<SecretString> {
    let v = fields::string(&req.data, key)?.unwrap_or_default();
    let v = SecretString::new(v.trim().to_owned());
    if v.is_empty() {
        return Err(Error::invalid(format!("missing {key}")));
    }
    Ok(v)
}

fn remote(addr: Option<IpAddr>) -> Result<IpAddr> {
    addr.ok_or_else(|| Error::invalid("failed to get connection information"))
}

/// Checks the bounds a secret-id carries: still inside the role's (the
/// role may have narrowed since), and the caller inside its `cidr_list`.
fn check_bounds(role: &RoleEntry, e: &SecretIdEntry, addr: Option<IpAddr>) -> Result<()> {
    if !bounds::subset(&role.secret_id_bound_cidrs, &e.cidr_list) {
        return Err(Error::InvalidRequestWrapped(bounds::subset_error(
            &role.secret_id_bound_cidrs,
            &e.cidr_list,
        )));
    }
    if !e.cidr_list.is_empty() {
        let ip = remote(addr)?;
        if !crate::cidr::allowed(&e.cidr_list, Some(ip)) {
            return Err(Error::invalid(format!(
                "source address \"{ip}\" unauthorized by CIDR restrictions on the secret ID"
            )));
        }
    }
    Ok(())
}

/// Validates a secret-id of `role` and counts one use of it.
async fn use_secret_id(
    inner: &Inner,
    role: &RoleEntry,
    secret_id: &SecretString,
    addr: Option<IpAddr>,
) -> Result<SecretIdEntry> {
    // Too long to be one of ours: the same answer as any wrong secret-id.
    let secret_hmac = Store::secret_hmac(role, secret_id.expose()).map_err(|_| invalid_login())?;
    let role_hmac = Store::role_hmac(role);
    let store = &inner.store;
    let now = inner.clock.now_nanos();
    let entry = store
        .secret(&role_hmac, &secret_hmac)
        .await?
        .ok_or_else(invalid_login)?;
    if entry.secret_id_num_uses == 0 && !entry.expired(now) {
        // Unlimited and live: nothing to write, no lock needed.
        check_bounds(role, &entry, addr)?;
        return Ok(entry);
    }
    let _guard = store.secret_lock(&secret_hmac).lock().await;
    // Read again under the lock: a racing login may have used it up.
    let mut entry = store
        .secret(&role_hmac, &secret_hmac)
        .await?
        .ok_or_else(invalid_login)?;
    if entry.expired(now) {
        store.delete_secret(&role_hmac, &entry).await?;
        return Err(invalid_login());
    }
    check_bounds(role, &entry, addr)?;
    match entry.secret_id_num_uses {
        0 => {}
        1 => store.delete_secret(&role_hmac, &entry).await?,
        _ => {
            entry.secret_id_num_uses -= 1;
            entry.last_updated_time = now;
            store.update_secret(&role_hmac, &entry).await?;
        }
    }
    Ok(entry)
}

pub(super) async fn login(inner: &Inner, req: &Request) -> Result<Response> {
    let role_id = credential(req, "role_id")?;
    let role = inner
        .store
        .role_by_id(role_id.expose())
        .await?
        .ok_or_else(invalid_login)?;
    if !role.secret_id_bound_cidrs.is_empty() {
        let ip = remote(req.remote_addr)?;
        if !crate::cidr::allowed(&role.secret_id_bound_cidrs, Some(ip)) {
            return Err(Error::invalid(format!(
                "source address \"{ip}\" unauthorized by CIDR restrictions on the role"
            )));
        }
    }
    let mut token = role.token.clone();
    let mut metadata = std::collections::BTreeMap::new();
    if role.bind_secret_id {
        let secret_id = credential(req, "secret_id")?;
        let entry = use_secret_id(inner, &role, &secret_id, req.remote_addr).await?;
        if !entry.token_bound_cidrs.is_empty() {
            // Stored as strict blocks; tokens keep them the way
            // token_bound_cidrs are kept (a single address bare).
            token.bound_cidrs = entry
                .token_bound_cidrs
                .iter()
                .filter_map(|b| b.parse::<Cidr>().ok())
                .map(|c| c.to_string())
                .collect();
        }
        metadata = entry.metadata;
    }
    metadata.insert("role_name".into(), role.name.clone());
    Ok(Response::login(Login {
        alias_name: role.role_id.clone(),
        alias_metadata: metadata.clone(),
        display_name: String::new(),
        metadata,
        token,
    }))
}

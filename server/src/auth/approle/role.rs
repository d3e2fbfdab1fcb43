//! Roles: `role/` (list), `role/:name` (create, read, update, delete) and
//! `role/:name/role-id`. A write parses every field before anything is
//! stored, so a bad field changes nothing. Names are case-insensitive
//! (stored lowercased, as Vault does for roles created since 0.9).

use rand::RngCore;
use serde_json::{Map, Value, json};

use crate::auth::token_params::TokenParams;
use crate::duration::format_go;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};

use super::Inner;
use super::bounds;
use super::store::{MAX_HMAC_INPUT, RoleEntry};

/// The legacy `token_*` spellings approle never had: Vault ignores these
/// on a role, so they must not reach the shared parser (which takes them
/// for `token_ttl`, `token_max_ttl` and `token_bound_cidrs`).
const NOT_ROLE_FIELDS: &[&str] = &["ttl", "max_ttl", "bound_cidrs"];

/// A role that does not exist, as a read answers it.
pub(super) fn missing_role(name: &str) -> Error {
    Error::invalid(format!("role {name:?} does not exist"))
}

/// The role, for an endpoint that acts on one (Vault: a plain error).
pub(super) async fn existing(inner: &Inner, name: &str) -> Result<RoleEntry> {
    inner
        .store
        .role(name)
        .await?
        .ok_or_else(|| Error::InvalidRequestWrapped(format!("role {name:?} does not exist")))
}

fn new_role(name: &str) -> RoleEntry {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    RoleEntry {
        name: name.to_lowercase(),
        role_id: String::new(),
        hmac_key: hex::encode(key),
        bind_secret_id: true,
        secret_id_bound_cidrs: Vec::new(),
        secret_id_num_uses: 0,
        secret_id_ttl: 0,
        local_secret_ids: false,
        token: TokenParams::new(),
    }
}

/// Parses `secret_id_bound_cidrs` (or its old name `bound_cidr_list`):
/// strict `addr/prefix` blocks.
pub(super) fn secret_id_bound_cidrs(data: &Map<String, Value>) -> Result<Option<Vec<String>>> {
    let raw = match fields::string_list(data, "secret_id_bound_cidrs")? {
        Some(v) => Some(v),
        None => fields::string_list(data, "bound_cidr_list")?,
    };
    raw.map(|v| {
        bounds::validate(v).map_err(|e| {
            Error::InvalidRequestWrapped(format!("failed to validate CIDR blocks: {e}"))
        })
    })
    .transpose()
}

/// Applies the `token_*` fields of a write the way approle's Vault
/// version does: the old `token_type` values are adjusted (with a
/// warning), and a `token_X` field present retires the old spelling `X`.
pub(super) fn apply_token_fields(
    role: &mut RoleEntry,
    data: &Map<String, Value>,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let mut data: Map<String, Value> = data
        .iter()
        .filter(|(k, _)| !NOT_ROLE_FIELDS.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(Value::String(t)) = data.get("token_type") {
        let adjusted = match t.as_str() {
            "default-service" => Some("service"),
            "default-batch" => Some("batch"),
            _ => None,
        };
        if let Some(a) = adjusted {
            warnings.push(format!("{t} has no useful meaning; adjusting to {a}"));
            data.insert("token_type".into(), json!(a));
        }
    }
    role.token.update(&data)?;
    for (new, old) in [("token_policies", "policies"), ("token_period", "period")] {
        if data.contains_key(new) {
            role.token.legacy.retain(|l| l != old);
        }
    }
    Ok(())
}

/// Vault refuses a (legacy) period longer than the mount allows.
pub(super) fn check_period(inner: &Inner, period_secs: u64) -> Result<()> {
    let period = std::time::Duration::from_secs(period_secs);
    if period > inner.max_lease_ttl {
        return Err(Error::invalid(format!(
            "period of {:?} is greater than the backend's maximum lease TTL of {:?}",
            format_go(period),
            format_go(inner.max_lease_ttl)
        )));
    }
    Ok(())
}

pub(super) async fn list(inner: &Inner) -> Result<Response> {
    let mut names = inner.store.role_names().await?;
    if names.is_empty() {
        return Err(Error::NotFound);
    }
    names.sort();
    Ok(Response::list(names))
}

pub(super) async fn read(inner: &Inner, name: &str) -> Result<Response> {
    let role = inner.store.role(name).await?.ok_or(Error::NotFound)?;
    let mut data = Map::new();
    data.insert("bind_secret_id".into(), json!(role.bind_secret_id));
    data.insert("local_secret_ids".into(), json!(role.local_secret_ids));
    // Go's nil slice: an unset bound reads as null.
    let cidrs = (!role.secret_id_bound_cidrs.is_empty()).then_some(&role.secret_id_bound_cidrs);
    data.insert("secret_id_bound_cidrs".into(), json!(cidrs));
    data.insert("secret_id_num_uses".into(), json!(role.secret_id_num_uses));
    data.insert("secret_id_ttl".into(), json!(role.secret_id_ttl));
    role.token.write_to(&mut data);
    Ok(Response::data(data))
}

pub(super) async fn write(inner: &Inner, req: &Request, name: &str) -> Result<Response> {
    if name.len() > MAX_HMAC_INPUT {
        return Err(Error::invalid(format!(
            "role_name is longer than maximum of {MAX_HMAC_INPUT} bytes"
        )));
    }
    let _guard = inner.store.role_lock(name).write().await;
    let existing = inner.store.role(name).await?;
    let creating = existing.is_none();
    if creating && req.operation != Operation::Create {
        return Err(Error::UnsupportedPath);
    }
    let previous = existing.as_ref().map(|r| r.role_id.clone());
    let mut role = existing.unwrap_or_else(|| new_role(name));
    let d = &req.data;
    let mut warnings = Vec::new();

    apply_token_fields(&mut role, d, &mut warnings)?;
    if let Some(local) = fields::bool(d, "local_secret_ids")? {
        if !creating {
            return Err(Error::invalid(
                "local_secret_ids can only be modified during role creation",
            ));
        }
        role.local_secret_ids = local;
    }
    match fields::string(d, "role_id")? {
        Some(id) => role.role_id = id,
        None if creating => role.role_id = uuid::Uuid::new_v4().to_string(),
        None => {}
    }
    if role.role_id.is_empty() {
        return Err(Error::invalid(
            "invalid role_id supplied, or failed to generate a role_id",
        ));
    }
    if let Some(b) = fields::bool(d, "bind_secret_id")? {
        role.bind_secret_id = b;
    }
    if let Some(c) = secret_id_bound_cidrs(d)? {
        role.secret_id_bound_cidrs = c;
    }
    if let Some(n) = fields::int(d, "secret_id_num_uses")? {
        role.secret_id_num_uses = n;
    }
    if role.secret_id_num_uses < 0 {
        return Err(Error::invalid("secret_id_num_uses cannot be negative"));
    }
    if let Some(t) = fields::duration(d, "secret_id_ttl")? {
        role.secret_id_ttl = t.as_secs();
    }
    if role.token.legacy.iter().any(|l| l == "period") {
        check_period(inner, role.token.period)?;
    }
    if std::time::Duration::from_secs(role.token.max_ttl) > inner.max_lease_ttl {
        warnings.push(
            "token_max_ttl is greater than the backend mount's maximum TTL value; issued tokens' max TTL value will be truncated"
                .into(),
        );
    }
    inner.store.save_role(&role, previous.as_deref()).await?;
    let mut resp = Response::empty();
    resp.warnings = warnings;
    Ok(resp)
}

pub(super) async fn delete(inner: &Inner, name: &str) -> Result<Response> {
    let _guard = inner.store.role_lock(name).write().await;
    if let Some(role) = inner.store.role(name).await? {
        inner.store.delete_role(&role).await?;
    }
    Ok(Response::empty())
}

pub(super) async fn role_id(inner: &Inner, name: &str) -> Result<Response> {
    let role = inner.store.role(name).await?.ok_or(Error::NotFound)?;
    Ok(Response::from_value(json!({ "role_id": role.role_id })))
}

pub(super) async fn set_role_id(inner: &Inner, req: &Request, name: &str) -> Result<Response> {
    let _guard = inner.store.role_lock(name).write().await;
    let mut role = inner
        .store
        .role(name)
        .await?
        .ok_or(Error::UnsupportedPath)?;
    let id = fields::string(&req.data, "role_id")?.unwrap_or_default();
    if id.is_empty() {
        return Err(Error::invalid("missing role_id"));
    }
    let previous = std::mem::replace(&mut role.role_id, id);
    inner.store.save_role(&role, Some(&previous)).await?;
    Ok(Response::empty())
}

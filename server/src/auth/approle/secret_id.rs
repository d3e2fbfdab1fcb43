//! Secret-ids: issued against a role (`role/:name/secret-id`, or chosen
//! by the caller with `custom-secret-id`), listed by accessor, looked up
//! and destroyed by value or by accessor. A secret-id takes the role's
//! `secret_id_num_uses` and `secret_id_ttl` unless the request narrows
//! them, and its CIDR blocks must lie inside the role's. Its value leaves
//! the server once, in the answer to the request that issued it; only its
//! HMAC is kept. An expired secret-id reads as absent and is dropped when
//! touched.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::clock::rfc3339_nanos;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Request, Response};
use crate::secret::SecretString;

use super::Inner;
use super::bounds;
use super::role::{existing, missing_role};
use super::store::{RoleEntry, SecretIdEntry, Store};

/// How Go prints a zero `time.Time`: a secret-id that never expires.
const GO_ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX / 2)
}

/// A `*_cidrs` list of strict blocks; `what` names it in the error.
fn strict_blocks(d: &Map<String, Value>, key: &str, what: &str) -> Result<Vec<String>> {
    let v = fields::string_list(d, key)?.unwrap_or_default();
    bounds::validate(v)
        .map_err(|e| Error::InvalidRequestWrapped(format!("failed to validate {what}: {e}")))
}

/// Vault's `ParseArbitraryKeyValues`: a JSON object of strings, the same
/// base64-encoded, or `k=v` pairs separated by commas (keys lowercased).
fn parse_metadata(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut input = input.trim().to_owned();
    if input.is_empty() {
        return Ok(BTreeMap::new());
    }
    if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&input) {
        input = String::from_utf8_lossy(&bytes).into_owned();
    }
    let out = match serde_json::from_str::<Option<BTreeMap<String, String>>>(&input) {
        Ok(m) => m.unwrap_or_default(),
        Err(_) => key_values(&input).map_err(|e| format!("failed to parse the input: {e}"))?,
    };
    if let Some((k, _)) = out.iter().find(|(k, v)| !k.is_empty() && v.is_empty()) {
        return Err(format!("invalid value for key {k:?}"));
    }
    Ok(out)
}

/// `k=v,k2=v2`: trimmed, lowercased, deduplicated, as Vault's
/// `ParseKeyValues`.
fn key_values(input: &str) -> Result<BTreeMap<String, String>, String> {
    let mut pairs: Vec<String> = input
        .split(',')
        .map(|p| p.trim().to_lowercase())
        .filter(|p| !p.is_empty())
        .collect();
    pairs.sort();
    pairs.dedup();
    let mut out = BTreeMap::new();
    for pair in pairs {
        let shards: Vec<&str> = pair.split('=').collect();
        let [k, v] = shards.as_slice() else {
            return Err("invalid <key,value> format".into());
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || v.is_empty() {
            return Err(format!("invalid <key,value> pair: key: {k:?} value: {v:?}"));
        }
        out.insert(k.to_owned(), v.to_owned());
    }
    Ok(out)
}

/// A count or TTL the request may narrow but not widen (0 is the widest).
fn narrowed(asked: Option<i64>, role: i64) -> Option<i64> {
    match asked {
        None => Some(role),
        Some(n) if role > 0 && (n == 0 || n > role) => None,
        Some(n) => Some(n),
    }
}

/// The role, for an endpoint that acts on it, or Vault's plain error.
async fn role_for(inner: &Inner, name: &str) -> Result<RoleEntry> {
    inner
        .store
        .role(name)
        .await?
        .ok_or_else(|| missing_role(name))
}

pub(super) async fn issue(
    inner: &Inner,
    req: &Request,
    name: &str,
    custom: Option<String>,
) -> Result<Response> {
    let d = &req.data;
    let secret_id = match custom {
        Some(s) if s.is_empty() => return Err(Error::invalid("missing secret_id")),
        Some(s) => SecretString::new(s),
        None => SecretString::new(uuid::Uuid::new_v4().to_string()),
    };
    let _role_guard = inner.store.role_lock(name).read().await;
    let role = role_for(inner, name).await?;
    if !role.bind_secret_id {
        return Err(Error::invalid("bind_secret_id is not set on the role"));
    }
    let cidr_list = strict_blocks(d, "cidr_list", "CIDR blocks")?;
    if !bounds::subset(&role.secret_id_bound_cidrs, &cidr_list) {
        return Err(Error::InvalidRequestWrapped(bounds::subset_error(
            &role.secret_id_bound_cidrs,
            &cidr_list,
        )));
    }
    let token_cidrs = strict_blocks(d, "token_bound_cidrs", "token CIDR blocks")?;
    if !bounds::subset(&role.token.bound_cidrs, &token_cidrs) {
        return Err(Error::InvalidRequestWrapped(bounds::subset_error(
            &role.token.bound_cidrs,
            &token_cidrs,
        )));
    }
    let asked_uses = fields::int(d, "num_uses")?;
    if asked_uses.is_some_and(|n| n < 0) {
        return Err(Error::invalid("num_uses cannot be negative"));
    }
    let num_uses = narrowed(asked_uses, role.secret_id_num_uses).ok_or_else(|| {
        Error::invalid("num_uses cannot be higher than the role's secret_id_num_uses")
    })?;
    let asked_ttl =
        fields::duration(d, "ttl")?.map(|t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX));
    let role_ttl = i64::try_from(role.secret_id_ttl).unwrap_or(i64::MAX);
    let ttl = narrowed(asked_ttl, role_ttl)
        .ok_or_else(|| Error::invalid("ttl cannot be longer than the role's secret_id_ttl"))?;
    let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0));
    let metadata = parse_metadata(&fields::string(d, "metadata")?.unwrap_or_default())
        .map_err(|e| Error::invalid(format!("failed to parse metadata: {e}")))?;

    // The mount's max lease TTL caps how long a secret-id lives.
    let lives = ttl.min(inner.max_lease_ttl);
    let now = inner.clock.now_nanos();
    let entry = SecretIdEntry {
        secret_id_hmac: Store::secret_hmac(&role, secret_id.expose())?,
        secret_id_accessor: uuid::Uuid::new_v4().to_string(),
        secret_id_num_uses: num_uses,
        secret_id_ttl: ttl.as_secs(),
        creation_time: now,
        expiration_time: if lives.is_zero() {
            0
        } else {
            now.saturating_add(nanos(lives))
        },
        last_updated_time: now,
        metadata,
        cidr_list,
        token_bound_cidrs: token_cidrs,
    };
    {
        let _guard = inner.store.secret_lock(&entry.secret_id_hmac).lock().await;
        inner
            .store
            .create_secret(&Store::role_hmac(&role), &entry)
            .await?;
    }
    Ok(Response::from_value(json!({
        "secret_id": secret_id.expose(),
        "secret_id_accessor": entry.secret_id_accessor,
        "secret_id_num_uses": entry.secret_id_num_uses,
        "secret_id_ttl": lives.as_secs(),
    })))
}

pub(super) async fn list(inner: &Inner, name: &str) -> Result<Response> {
    let _role_guard = inner.store.role_lock(name).read().await;
    let role = role_for(inner, name).await?;
    let role_hmac = Store::role_hmac(&role);
    let mut accessors = Vec::new();
    for secret_hmac in inner.store.secret_hmacs(&role_hmac).await? {
        if let Some(e) = inner.store.secret(&role_hmac, &secret_hmac).await? {
            accessors.push(e.secret_id_accessor);
        }
    }
    if accessors.is_empty() {
        return Err(Error::NotFound);
    }
    accessors.sort();
    Ok(Response::list(accessors))
}

/// What a lookup shows of a secret-id.
fn describe(e: &SecretIdEntry) -> Response {
    let expiration = match e.expiration_time {
        0 => GO_ZERO_TIME.to_owned(),
        t => rfc3339_nanos(t),
    };
    Response::from_value(json!({
        "cidr_list": e.cidr_list,
        "creation_time": rfc3339_nanos(e.creation_time),
        "expiration_time": expiration,
        "last_updated_time": rfc3339_nanos(e.last_updated_time),
        "metadata": e.metadata,
        "secret_id_accessor": e.secret_id_accessor,
        "secret_id_num_uses": e.secret_id_num_uses,
        "secret_id_ttl": e.secret_id_ttl,
        "token_bound_cidrs": e.token_bound_cidrs,
    }))
}

fn required(req: &Request, key: &str) -> Result<String> {
    fields::string(&req.data, key)?
        .filter(|s| !s.is_empty())
        .ok_or_else(|| Error::invalid(format!("missing {key}")))
}

/// The live secret-id at `secret_hmac` in a role's folder; an expired one
/// is dropped and reads as absent. The caller holds its lock.
async fn live(inner: &Inner, role_hmac: &str, secret_hmac: &str) -> Result<Option<SecretIdEntry>> {
    let Some(e) = inner.store.secret(role_hmac, secret_hmac).await? else {
        return Ok(None);
    };
    if e.expired(inner.clock.now_nanos()) {
        inner.store.delete_secret(role_hmac, &e).await?;
        return Ok(None);
    }
    Ok(Some(e))
}

pub(super) async fn lookup(inner: &Inner, req: &Request, name: &str) -> Result<Response> {
    let secret_id = SecretString::new(required(req, "secret_id")?);
    let _role_guard = inner.store.role_lock(name).read().await;
    let role = existing(inner, name).await?;
    let (role_hmac, secret_hmac) = (
        Store::role_hmac(&role),
        Store::secret_hmac(&role, secret_id.expose())?,
    );
    let _guard = inner.store.secret_lock(&secret_hmac).lock().await;
    Ok(match live(inner, &role_hmac, &secret_hmac).await? {
        Some(e) => describe(&e),
        None => Response::empty(),
    })
}

pub(super) async fn destroy(inner: &Inner, req: &Request, name: &str) -> Result<Response> {
    let secret_id = SecretString::new(required(req, "secret_id")?);
    let _role_guard = inner.store.role_lock(name).read().await;
    let role = existing(inner, name).await?;
    let (role_hmac, secret_hmac) = (
        Store::role_hmac(&role),
        Store::secret_hmac(&role, secret_id.expose())?,
    );
    let _guard = inner.store.secret_lock(&secret_hmac).lock().await;
    if let Some(e) = inner.store.secret(&role_hmac, &secret_hmac).await? {
        inner.store.delete_secret(&role_hmac, &e).await?;
    }
    Ok(Response::empty())
}

fn no_accessor(accessor: &str) -> String {
    format!("failed to find accessor entry for secret_id_accessor: {accessor:?}")
}

pub(super) async fn accessor_lookup(inner: &Inner, req: &Request, name: &str) -> Result<Response> {
    let accessor = required(req, "secret_id_accessor")?;
    let _role_guard = inner.store.role_lock(name).read().await;
    let role = existing(inner, name).await?;
    let Some(index) = inner.store.accessor(&accessor).await? else {
        // Vault answers this one with a 404 that carries data.
        let mut resp = Response::from_value(json!({ "error": no_accessor(&accessor) }));
        resp.status = Some(404);
        return Ok(resp);
    };
    let _guard = inner.store.secret_lock(&index.secret_id_hmac).lock().await;
    // An accessor of another role's secret-id finds nothing in this one.
    Ok(
        match live(inner, &Store::role_hmac(&role), &index.secret_id_hmac).await? {
            Some(e) => describe(&e),
            None => Response::empty(),
        },
    )
}

pub(super) async fn accessor_destroy(inner: &Inner, req: &Request, name: &str) -> Result<Response> {
    let accessor = required(req, "secret_id_accessor")?;
    let _role_guard = inner.store.role_lock(name).read().await;
    let role = existing(inner, name).await?;
    let index = inner
        .store
        .accessor(&accessor)
        .await?
        .ok_or_else(|| Error::InvalidRequestWrapped(no_accessor(&accessor)))?;
    let role_hmac = Store::role_hmac(&role);
    let _guard = inner.store.secret_lock(&index.secret_id_hmac).lock().await;
    let entry = inner
        .store
        .secret(&role_hmac, &index.secret_id_hmac)
        .await?
        .ok_or_else(|| Error::ForbiddenMsg("invalid secret id accessor".into()))?;
    inner.store.delete_secret(&role_hmac, &entry).await?;
    Ok(Response::empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn metadata_in_every_form_vault_takes() {
        assert_eq!(parse_metadata("").unwrap(), kv(&[]));
        assert_eq!(
            parse_metadata(r#"{"team":"X","n":"1"}"#).unwrap(),
            kv(&[("team", "X"), ("n", "1")])
        );
        // base64 of {"k":"v"}
        assert_eq!(parse_metadata("eyJrIjoidiJ9").unwrap(), kv(&[("k", "v")]));
        assert_eq!(
            parse_metadata("A=B, c = d").unwrap(),
            kv(&[("a", "b"), ("c", "d")])
        );
    }

    #[test]
    fn bad_metadata_messages_match_vault() {
        let fmt = "failed to parse the input: invalid <key,value> format";
        // "null" is valid base64, so it is decoded first, as in Vault.
        for bad in [r#"{"a":1}"#, "a", "a=b=c", "5", "true", "null"] {
            assert_eq!(parse_metadata(bad).unwrap_err(), fmt, "{bad}");
        }
        assert_eq!(
            parse_metadata("=b").unwrap_err(),
            "failed to parse the input: invalid <key,value> pair: key: \"\" value: \"b\""
        );
        assert_eq!(
            parse_metadata(r#"{"a":""}"#).unwrap_err(),
            "invalid value for key \"a\""
        );
    }

    #[test]
    fn requests_narrow_but_never_widen() {
        assert_eq!(narrowed(None, 5), Some(5));
        assert_eq!(narrowed(Some(3), 5), Some(3));
        assert_eq!(narrowed(Some(5), 5), Some(5));
        assert_eq!(narrowed(Some(6), 5), None);
        assert_eq!(narrowed(Some(0), 5), None);
        assert_eq!(narrowed(Some(0), 0), Some(0));
        assert_eq!(narrowed(Some(100), 0), Some(100));
    }
}

//! The per-field role endpoints Vault keeps from before `role/:name` took
//! every field: `role/:name/<field>` reads one field, writes it (the
//! field is required), and deletes it (back to its default). A write to a
//! role that does not exist is "unsupported path"; a read of one is 404;
//! a delete of one does nothing.

use serde_json::{Map, Value, json};

use crate::auth::token_params;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};

use super::Inner;
use super::bounds;
use super::role::check_period;
use super::store::RoleEntry;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    Policies,
    SecretIdNumUses,
    SecretIdTtl,
    TokenTtl,
    TokenMaxTtl,
    TokenNumUses,
    BoundCidrList,
    SecretIdBoundCidrs,
    TokenBoundCidrs,
    Period,
    /// Read-only: set when the role is created, never after.
    LocalSecretIds,
}

impl Field {
    pub fn parse(segment: &str) -> Option<Self> {
        Some(match segment {
            "policies" => Self::Policies,
            "secret-id-num-uses" => Self::SecretIdNumUses,
            "secret-id-ttl" => Self::SecretIdTtl,
            "token-ttl" => Self::TokenTtl,
            "token-max-ttl" => Self::TokenMaxTtl,
            "token-num-uses" => Self::TokenNumUses,
            "bound-cidr-list" => Self::BoundCidrList,
            "secret-id-bound-cidrs" => Self::SecretIdBoundCidrs,
            "token-bound-cidrs" => Self::TokenBoundCidrs,
            "period" => Self::Period,
            "local-secret-ids" => Self::LocalSecretIds,
            _ => return None,
        })
    }
}

pub(super) async fn handle(
    inner: &Inner,
    req: &Request,
    name: &str,
    field: Field,
) -> Result<Response> {
    let writable = field != Field::LocalSecretIds;
    match req.operation {
        Operation::Read => {
            let role = inner.store.role(name).await?.ok_or(Error::NotFound)?;
            Ok(read(field, &role))
        }
        Operation::Create | Operation::Update if writable => {
            let _guard = inner.store.role_lock(name).write().await;
            let mut role = inner
                .store
                .role(name)
                .await?
                .ok_or(Error::UnsupportedPath)?;
            update(inner, field, &mut role, &req.data)?;
            inner.store.save_role(&role, None).await?;
            Ok(Response::empty())
        }
        Operation::Delete if writable => {
            let _guard = inner.store.role_lock(name).write().await;
            if let Some(mut role) = inner.store.role(name).await? {
                reset(field, &mut role);
                inner.store.save_role(&role, None).await?;
            }
            Ok(Response::empty())
        }
        _ => Err(Error::UnsupportedOperation),
    }
}

fn legacy(role: &RoleEntry, name: &str) -> bool {
    role.token.legacy.iter().any(|l| l == name)
}

fn set_legacy(role: &mut RoleEntry, name: &str, on: bool) {
    role.token.legacy.retain(|l| l != name);
    if on {
        role.token.legacy.push(name.to_owned());
    }
}

/// Go's nil slice: an empty list reads as null.
fn list_or_null(v: &[String]) -> Value {
    if v.is_empty() { Value::Null } else { json!(v) }
}

fn read(field: Field, role: &RoleEntry) -> Response {
    let t = &role.token;
    let data = match field {
        Field::Policies => {
            let mut m = Map::new();
            m.insert("token_policies".into(), json!(t.policies));
            if legacy(role, "policies") && !t.policies.is_empty() {
                m.insert("policies".into(), json!(t.policies));
            }
            Value::Object(m)
        }
        Field::SecretIdNumUses => json!({ "secret_id_num_uses": role.secret_id_num_uses }),
        Field::SecretIdTtl => json!({ "secret_id_ttl": role.secret_id_ttl }),
        Field::TokenTtl => json!({ "token_ttl": t.ttl }),
        Field::TokenMaxTtl => json!({ "token_max_ttl": t.max_ttl }),
        Field::TokenNumUses => json!({ "token_num_uses": t.num_uses }),
        Field::BoundCidrList => {
            // The old field was folded into secret_id_bound_cidrs; it
            // reads empty, with Vault's nudge.
            return Response::from_value(json!({ "bound_cidr_list": null })).with_warning(
                "The \"bound_cidr_list\" field is deprecated and will be removed. Please use \"secret_id_bound_cidrs\" instead.",
            );
        }
        Field::SecretIdBoundCidrs => {
            json!({ "secret_id_bound_cidrs": list_or_null(&role.secret_id_bound_cidrs) })
        }
        Field::TokenBoundCidrs => json!({ "token_bound_cidrs": list_or_null(&t.bound_cidrs) }),
        Field::Period => {
            let mut m = Map::new();
            m.insert("token_period".into(), json!(t.period));
            if legacy(role, "period") && t.period > 0 {
                m.insert("period".into(), json!(t.period));
            }
            Value::Object(m)
        }
        Field::LocalSecretIds => json!({ "local_secret_ids": role.local_secret_ids }),
    };
    Response::from_value(data)
}

fn present(d: &Map<String, Value>, key: &str) -> bool {
    d.get(key).is_some_and(|v| !v.is_null())
}

fn only(d: &Map<String, Value>, key: &str) -> Map<String, Value> {
    d.get(key)
        .map(|v| Map::from_iter([(key.to_owned(), v.clone())]))
        .unwrap_or_default()
}

fn update(inner: &Inner, field: Field, role: &mut RoleEntry, d: &Map<String, Value>) -> Result<()> {
    let missing = |name: &str| Error::invalid(format!("missing {name}"));
    match field {
        Field::Policies => {
            let (new, old) = (present(d, "token_policies"), present(d, "policies"));
            if new {
                role.token.update(&only(d, "token_policies"))?;
                set_legacy(role, "policies", old);
            } else if old {
                role.token.update(&only(d, "policies"))?;
                set_legacy(role, "policies", true);
            } else {
                return Err(missing("token_policies"));
            }
        }
        Field::SecretIdNumUses => {
            let n = fields::int(d, "secret_id_num_uses")?
                .ok_or_else(|| missing("secret_id_num_uses"))?;
            if n < 0 {
                return Err(Error::invalid("secret_id_num_uses cannot be negative"));
            }
            role.secret_id_num_uses = n;
        }
        Field::SecretIdTtl => {
            let t =
                fields::duration(d, "secret_id_ttl")?.ok_or_else(|| missing("secret_id_ttl"))?;
            role.secret_id_ttl = t.as_secs();
        }
        Field::TokenTtl => {
            let t = fields::duration(d, "token_ttl")?.ok_or_else(|| missing("token_ttl"))?;
            let max = role.token.max_ttl;
            if max > 0 && t.as_secs() > max {
                return Err(Error::invalid(
                    "token_ttl should not be greater than token_max_ttl",
                ));
            }
            role.token.ttl = t.as_secs();
        }
        Field::TokenMaxTtl => {
            let t =
                fields::duration(d, "token_max_ttl")?.ok_or_else(|| missing("token_max_ttl"))?;
            if t.as_secs() > 0 && role.token.ttl > t.as_secs() {
                return Err(Error::invalid(
                    "token_max_ttl should be greater than or equal to token_ttl",
                ));
            }
            role.token.max_ttl = t.as_secs();
        }
        Field::TokenNumUses => {
            if !present(d, "token_num_uses") {
                return Err(missing("token_num_uses"));
            }
            role.token.update(&only(d, "token_num_uses"))?;
        }
        Field::BoundCidrList | Field::SecretIdBoundCidrs => {
            let key = if field == Field::BoundCidrList {
                "bound_cidr_list"
            } else {
                "secret_id_bound_cidrs"
            };
            if let Some(v) = fields::string_list(d, key)? {
                let v = bounds::validate(v)
                    .map_err(|e| Error::invalid(format!("failed to validate CIDR blocks: {e}")))?;
                if v.is_empty() {
                    return Err(missing("bound_cidr_list"));
                }
                role.secret_id_bound_cidrs = v;
            }
        }
        Field::TokenBoundCidrs => {
            if let Some(v) = token_params::cidr_list(d, "token_bound_cidrs")? {
                role.token.bound_cidrs = v;
            }
        }
        Field::Period => {
            let (new, old) = (present(d, "token_period"), present(d, "period"));
            let key = match (new, old) {
                (true, _) => "token_period",
                (false, true) => "period",
                (false, false) => return Err(missing("period")),
            };
            let t = fields::duration(d, key)?.unwrap_or_default();
            check_period(inner, t.as_secs())?;
            role.token.period = t.as_secs();
            set_legacy(role, "period", old);
        }
        Field::LocalSecretIds => return Err(Error::UnsupportedOperation),
    }
    Ok(())
}

fn reset(field: Field, role: &mut RoleEntry) {
    let t = &mut role.token;
    match field {
        Field::Policies => {
            t.policies.clear();
            set_legacy(role, "policies", false);
        }
        Field::SecretIdNumUses => role.secret_id_num_uses = 0,
        Field::SecretIdTtl => role.secret_id_ttl = 0,
        Field::TokenTtl => t.ttl = 0,
        Field::TokenMaxTtl => t.max_ttl = 0,
        Field::TokenNumUses => t.num_uses = 0,
        // Vault clears only the retired field, which is always empty.
        Field::BoundCidrList | Field::LocalSecretIds => {}
        Field::SecretIdBoundCidrs => role.secret_id_bound_cidrs.clear(),
        Field::TokenBoundCidrs => t.bound_cidrs.clear(),
        Field::Period => {
            t.period = 0;
            set_legacy(role, "period", false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role() -> RoleEntry {
        RoleEntry {
            name: "r".into(),
            role_id: "id".into(),
            hmac_key: "k".into(),
            bind_secret_id: true,
            secret_id_bound_cidrs: vec![],
            secret_id_num_uses: 0,
            secret_id_ttl: 0,
            local_secret_ids: false,
            token: token_params::TokenParams::new(),
        }
    }

    #[test]
    fn paths_parse() {
        assert_eq!(Field::parse("token-ttl"), Some(Field::TokenTtl));
        assert_eq!(Field::parse("bind-secret-id"), None);
        assert_eq!(Field::parse("nope"), None);
    }

    #[test]
    fn reads_in_vaults_shapes() {
        let mut r = role();
        let d = read(Field::SecretIdBoundCidrs, &r).data.unwrap();
        assert_eq!(d["secret_id_bound_cidrs"], Value::Null);
        r.secret_id_bound_cidrs = vec!["10.0.0.0/8".into()];
        let d = read(Field::SecretIdBoundCidrs, &r).data.unwrap();
        assert_eq!(d["secret_id_bound_cidrs"], json!(["10.0.0.0/8"]));
        let resp = read(Field::BoundCidrList, &r);
        assert_eq!(resp.data.unwrap()["bound_cidr_list"], Value::Null);
        assert_eq!(resp.warnings.len(), 1);
        r.token.policies = vec!["a".into()];
        let d = read(Field::Policies, &r).data.unwrap();
        assert_eq!(Value::Object(d), json!({"token_policies": ["a"]}));
        set_legacy(&mut r, "policies", true);
        let d = read(Field::Policies, &r).data.unwrap();
        assert_eq!(d["policies"], json!(["a"]));
    }

    #[test]
    fn resets_clear_the_legacy_echo() {
        let mut r = role();
        r.token.period = 60;
        set_legacy(&mut r, "period", true);
        reset(Field::Period, &mut r);
        assert_eq!(r.token.period, 0);
        assert!(!legacy(&r, "period"));
        assert_eq!(
            Value::Object(read(Field::Period, &r).data.unwrap()),
            json!({"token_period": 0})
        );
    }
}

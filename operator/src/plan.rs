//! SecretEngine and Policy objects -> the HTTP API calls that apply them,
//! as pure functions (the controller makes the calls).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::crd::{Policy, SecretEngine, SecretKeyRef};

/// A Policy that cannot be applied; nothing of it is written.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// The rules do not parse: the server's own parser's message.
    #[error("{0}")]
    InvalidRules(String),
    #[error("{0}")]
    Invalid(String),
}

/// What a Policy writes: `sys/policies/acl/<name>`, and the kubernetes auth
/// role of its binding.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyPlan {
    pub name: String,
    pub rules: String,
    pub role: Option<RolePlan>,
}

/// `auth/<auth_path>/role/<name>` with `body`.
#[derive(Debug, Clone, PartialEq)]
pub struct RolePlan {
    pub auth_path: String,
    pub name: String,
    pub body: Map<String, Value>,
}

impl RolePlan {
    pub fn path(&self) -> String {
        format!("auth/{}/role/{}", self.auth_path, self.name)
    }
}

/// The policy's name on the server.
pub fn policy_name(p: &Policy) -> Option<String> {
    p.spec.name.clone().or_else(|| p.metadata.name.clone())
}

/// Checks the rules with the server's parser and builds the writes.
pub fn policy(p: &Policy) -> Result<PolicyPlan, PlanError> {
    let name = policy_name(p).ok_or_else(|| PlanError::Invalid("the Policy has no name".into()))?;
    if name == crate::context::OPERATOR_ROLE {
        return Err(PlanError::Invalid(format!(
            "the {name} policy is the operator's own identity and cannot be managed"
        )));
    }
    if name == "root" || name == "default" {
        return Err(PlanError::Invalid(format!(
            "the {name} policy is the server's own and cannot be managed"
        )));
    }
    arca_server::policy::parse::parse(&name, &p.spec.rules)
        .map_err(|e| PlanError::InvalidRules(e.to_string()))?;
    let role =
        match &p.spec.binding {
            None => None,
            Some(b) => {
                let namespaces =
                    if b.namespaces.is_empty() {
                        vec![p.metadata.namespace.clone().ok_or_else(|| {
                            PlanError::Invalid("the Policy has no namespace".into())
                        })?]
                    } else {
                        b.namespaces.clone()
                    };
                let mut body = Map::new();
                body.insert(
                    "bound_service_account_names".into(),
                    json!(b.service_accounts),
                );
                body.insert("bound_service_account_namespaces".into(), json!(namespaces));
                body.insert("token_policies".into(), json!([name]));
                body.insert(
                    "audience".into(),
                    json!(b.audience.clone().unwrap_or_default()),
                );
                if let Some(ttl) = &b.token_ttl {
                    body.insert("token_ttl".into(), json!(ttl));
                }
                if let Some(ttl) = &b.token_max_ttl {
                    body.insert("token_max_ttl".into(), json!(ttl));
                }
                let role = b.role.clone().unwrap_or_else(|| name.clone());
                if role.eq_ignore_ascii_case(crate::context::OPERATOR_ROLE) {
                    return Err(PlanError::Invalid(format!(
                        "the {role} role is the operator's own login and cannot be managed"
                    )));
                }
                Some(RolePlan {
                    auth_path: b.auth_path.trim_matches('/').to_owned(),
                    name: role,
                    body,
                })
            }
        };
    Ok(PolicyPlan {
        name,
        rules: p.spec.rules.clone(),
        role,
    })
}

/// What a SecretEngine writes, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct EnginePlan {
    /// The mount path, without slashes.
    pub path: String,
    /// `sys/mounts/<path>` body when the mount does not exist.
    pub mount: Map<String, Value>,
    /// `sys/mounts/<path>/tune` body (also the description).
    pub tune: Map<String, Value>,
    /// Writes under the mount, with the Secret keys still to fill in.
    pub writes: Vec<Write>,
}

/// A write under the mount.
#[derive(Debug, Clone, PartialEq)]
pub struct Write {
    /// Full path, `<mount>/<path>`.
    pub path: String,
    pub data: Map<String, Value>,
    /// Body field -> Secret key, read when writing.
    pub secret_data: BTreeMap<String, SecretKeyRef>,
}

/// Every Secret a SecretEngine reads, as (name, key).
pub fn referenced_secrets(e: &SecretEngine) -> Vec<(String, String)> {
    let mut refs: Vec<(String, String)> = e
        .spec
        .config
        .iter()
        .flat_map(|w| w.secret_data.values())
        .map(|r| (r.secret_key_ref.name.clone(), r.secret_key_ref.key.clone()))
        .collect();
    refs.sort();
    refs.dedup();
    refs
}

pub fn engine(e: &SecretEngine) -> Result<EnginePlan, PlanError> {
    let path = e.spec.path.trim_matches('/').to_owned();
    if path.is_empty() || path.starts_with("sys") && (path.len() == 3 || path.as_bytes()[3] == b'/')
    {
        return Err(PlanError::Invalid(format!(
            "spec.path {:?} is reserved",
            e.spec.path
        )));
    }
    if path == "auth" || path.starts_with("auth/") || path == "identity" || path == "cubbyhole" {
        return Err(PlanError::Invalid(format!(
            "spec.path {:?} is reserved",
            e.spec.path
        )));
    }
    let mut mount = Map::new();
    mount.insert("type".into(), json!(e.spec.kind));
    if let Some(d) = &e.spec.description {
        mount.insert("description".into(), json!(d));
    }
    if !e.spec.options.is_empty() {
        mount.insert("options".into(), json!(e.spec.options));
    }
    let mut tune = Map::new();
    if let Some(d) = &e.spec.description {
        tune.insert("description".into(), json!(d));
    }
    if !e.spec.options.is_empty() {
        tune.insert("options".into(), json!(e.spec.options));
    }
    if let Some(t) = &e.spec.tune {
        let put = |tune: &mut Map<String, Value>, k: &str, v: Value| {
            tune.insert(k.into(), v);
        };
        if let Some(v) = &t.default_lease_ttl {
            put(&mut tune, "default_lease_ttl", json!(v));
        }
        if let Some(v) = &t.max_lease_ttl {
            put(&mut tune, "max_lease_ttl", json!(v));
        }
        if !t.audit_non_hmac_request_keys.is_empty() {
            put(
                &mut tune,
                "audit_non_hmac_request_keys",
                json!(t.audit_non_hmac_request_keys),
            );
        }
        if !t.audit_non_hmac_response_keys.is_empty() {
            put(
                &mut tune,
                "audit_non_hmac_response_keys",
                json!(t.audit_non_hmac_response_keys),
            );
        }
        if let Some(v) = t.listing_visibility {
            put(
                &mut tune,
                "listing_visibility",
                serde_json::to_value(v).unwrap_or(Value::Null),
            );
        }
    }
    let mut writes = Vec::new();
    for w in &e.spec.config {
        writes.push(Write {
            path: format!("{path}/{}", w.path.trim_matches('/')),
            data: w.data.clone(),
            secret_data: w.secret_data.clone(),
        });
    }
    let mut seen = std::collections::BTreeSet::new();
    for r in &e.spec.roles {
        if !seen.insert(r.name.as_str()) {
            return Err(PlanError::Invalid(format!(
                "spec.roles: {:?} is listed twice",
                r.name
            )));
        }
        writes.push(Write {
            path: role_path(&path, &r.name),
            data: r.data.clone(),
            secret_data: BTreeMap::new(),
        });
    }
    Ok(EnginePlan {
        path,
        mount,
        tune,
        writes,
    })
}

/// Where a role of the engine at `mount` lives.
pub fn role_path(mount: &str, role: &str) -> String {
    format!("{mount}/roles/{role}")
}

/// `data` with the Secret values filled in (they win over `data`).
/// `lookup(name, key)` returns the key's value; a missing one is an error
/// naming it (not its value).
pub fn fill(
    w: &Write,
    mut lookup: impl FnMut(&str, &str) -> Option<String>,
) -> Result<Map<String, Value>, PlanError> {
    let mut body = w.data.clone();
    for (field, r) in &w.secret_data {
        let s = &r.secret_key_ref;
        let v = lookup(&s.name, &s.key).ok_or_else(|| {
            PlanError::Invalid(format!(
                "Secret {:?} has no key {:?} (for {field} of {})",
                s.name, s.key, w.path
            ))
        })?;
        body.insert(field.clone(), Value::String(v));
    }
    Ok(body)
}

/// Whether a policy name a Policy's status records may be deleted: never
/// the server's own policies or the operator's.
pub fn deletable_policy(name: &str) -> bool {
    !matches!(name, "root" | "default" | crate::context::OPERATOR_ROLE) && !name.is_empty()
}

/// Whether a path a Policy's status records is a kubernetes auth role
/// (`auth/<mount>/role/<name>`) other than the operator's own.
pub fn deletable_role_path(path: &str) -> bool {
    let Some(rest) = path.strip_prefix("auth/") else {
        return false;
    };
    let Some((mount, role)) = rest.rsplit_once("/role/") else {
        return false;
    };
    !mount.is_empty()
        && !role.is_empty()
        && !role.contains('/')
        && !role.eq_ignore_ascii_case(crate::context::OPERATOR_ROLE)
        && !mount.split('/').any(|seg| seg.is_empty() || seg == "..")
}

//! `sys/policy` (the legacy shape, with `rules`) and `sys/policies/acl`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};

use super::SysBackend;
use crate::clock;
use crate::error::{Error, Result};
use crate::logical::{Operation, Request, Response};

/// Vault accepts a policy body sent base64-encoded.
fn maybe_base64(raw: &str) -> String {
    match B64.decode(raw.trim()) {
        Ok(bytes) => String::from_utf8(bytes).unwrap_or_else(|_| raw.to_owned()),
        Err(_) => raw.to_owned(),
    }
}

impl SysBackend {
    pub(super) async fn handle_policies(&self, req: &Request, rel: &str) -> Result<Response> {
        let op = req.operation;
        let write = matches!(op, Operation::Update | Operation::Create);
        // Exactly `policies/acl[/NAME]` and `policy[/NAME]`.
        let (legacy, name) = if rel == "policies/acl" || rel == "policies/acl/" {
            (false, "")
        } else if let Some(rest) = rel.strip_prefix("policies/acl/") {
            (false, rest)
        } else if rel == "policy" || rel == "policy/" {
            (true, "")
        } else if let Some(rest) = rel.strip_prefix("policy/") {
            (true, rest)
        } else {
            return Err(Error::UnsupportedPath);
        };
        if name.contains('/') {
            return Err(Error::UnsupportedPath);
        }
        if name.is_empty() {
            return match (legacy, op) {
                (true, Operation::Read | Operation::List) => {
                    let names = self.policies.list().await?;
                    Ok(Response::from_value(json!({"keys": names, "policies": names})).top_level())
                }
                (false, Operation::List) => Ok(Response::list(self.policies.list().await?)),
                _ => Err(Error::UnsupportedOperation),
            };
        }
        match op {
            Operation::Read => {
                let name = name.to_lowercase();
                let mut data = Map::new();
                let text_key = if legacy { "rules" } else { "policy" };
                data.insert("allow_slashes_in_identity_templates".into(), json!(false));
                data.insert("allow_wildcards_in_identity_templates".into(), json!(false));
                data.insert("cas_required".into(), json!(false));
                if name == "root" {
                    data.insert("name".into(), json!("root"));
                    data.insert(text_key.into(), json!(""));
                    data.insert("version".into(), json!(0));
                } else {
                    let Some(p) = self.policies.stored(&name).await? else {
                        return Err(Error::NotFound);
                    };
                    data.insert("modified".into(), json!(clock::rfc3339_nanos(p.modified)));
                    data.insert("name".into(), json!(p.name));
                    data.insert(text_key.into(), json!(p.policy));
                    data.insert("version".into(), json!(p.version));
                }
                let resp = Response::data(data);
                Ok(if legacy { resp.top_level() } else { resp })
            }
            _ if write => {
                let mut warning = None;
                let text = match req.data.get("policy") {
                    Some(Value::String(s)) => s.clone(),
                    Some(Value::Null) | None => match req.data.get("rules") {
                        Some(Value::String(s)) if legacy => {
                            warning = Some("'rules' is deprecated, please use 'policy' instead");
                            s.clone()
                        }
                        _ => String::new(),
                    },
                    Some(other) => other.to_string(),
                };
                if text.is_empty() {
                    return Err(Error::invalid("'policy' parameter not supplied or empty"));
                }
                self.policies.set(name, &maybe_base64(&text)).await?;
                Ok(match warning {
                    Some(w) => Response::default().with_warning(w),
                    None => Response::empty(),
                })
            }
            Operation::Delete => {
                self.policies.delete(name).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    /// `sys/policies/password[/:name[/generate]]`.
    pub(super) async fn handle_password_policies(
        &self,
        req: &Request,
        rel: &str,
    ) -> Result<Response> {
        let op = req.operation;
        let rest = rel
            .strip_prefix("policies/password")
            .unwrap_or("")
            .trim_start_matches('/');
        if rest.is_empty() {
            return match op {
                Operation::List => {
                    let names = self.password_policies.list().await?;
                    if names.is_empty() {
                        return Err(Error::NotFound);
                    }
                    Ok(Response::list(names))
                }
                _ => Err(Error::UnsupportedOperation),
            };
        }
        if let Some(name) = rest.strip_suffix("/generate") {
            if name.is_empty() || name.contains('/') {
                return Err(Error::UnsupportedPath);
            }
            if op != Operation::Read {
                return Err(Error::UnsupportedOperation);
            }
            let password = self.password_policies.generate(name).await?;
            return Ok(Response::from_value(
                serde_json::json!({ "password": password }),
            ));
        }
        if rest.contains('/') {
            return Err(Error::UnsupportedPath);
        }
        match op {
            Operation::Read => {
                let raw = self
                    .password_policies
                    .get(rest)
                    .await?
                    .ok_or_else(|| Error::NotFoundWrapped("policy does not exist".into()))?;
                Ok(Response::from_value(serde_json::json!({ "policy": raw })))
            }
            Operation::Create | Operation::Update => {
                let raw = crate::fields::string(&req.data, "policy")?
                    .filter(|p| !p.trim().is_empty())
                    .ok_or_else(|| Error::InvalidRequestWrapped("missing policy".into()))?;
                // Vault also takes the policy base64-encoded.
                // (HCL has spaces and quotes, so it never decodes as base64.)
                let raw =
                    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, raw.trim())
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .unwrap_or(raw);
                self.password_policies.put(rest, &raw).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.password_policies.delete(rest).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

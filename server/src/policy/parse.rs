//! ACL policy text (HCL, or the JSON form of it) -> `Policy`.
//!
//! Every key is checked: an unknown key, an unknown capability or a value
//! of the wrong type is an error naming the path and the line, never
//! silently ignored (a typo in a policy must not widen or narrow access
//! unnoticed).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value as Json;

use super::{Capabilities, PathRules, Policy};
use crate::duration;
use crate::hcl::{self, Block, Item, Kind, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("failed to parse policy: {0}")]
pub struct PolicyError(pub String);

fn fail(msg: impl Into<String>) -> PolicyError {
    PolicyError(msg.into())
}

pub fn parse(name: &str, raw: &str) -> Result<Policy, PolicyError> {
    let trimmed = raw.trim_start();
    let body = if trimmed.starts_with('{') {
        json_to_body(raw)?
    } else {
        hcl::parse(raw).map_err(|e| fail(e.to_string()))?
    };
    let mut paths = Vec::new();
    for item in &body.items {
        match item {
            Item::Block(b) if b.ident == "path" => {
                if b.labels.len() != 1 {
                    return Err(fail(format!(
                        "path block on line {} needs exactly one label",
                        b.line
                    )));
                }
                if let Some(rules) = path_rules(b)? {
                    paths.push(rules);
                }
            }
            Item::Attr(a) if a.key == "name" => {}
            Item::Attr(a) => {
                return Err(fail(format!("invalid key {:?} on line {}", a.key, a.line)));
            }
            Item::Block(b) => {
                return Err(fail(format!(
                    "invalid key {:?} on line {}",
                    b.ident, b.line
                )));
            }
        }
    }
    Ok(Policy {
        name: name.to_owned(),
        raw: raw.to_owned(),
        paths,
    })
}

fn path_rules(b: &Block) -> Result<Option<PathRules>, PolicyError> {
    let key = &b.labels[0];
    let ctx = |msg: String| fail(format!("path {key:?}: {msg}"));
    let mut caps_list: Vec<String> = Vec::new();
    let mut legacy: Option<String> = None;
    let mut rules = PathRules::default();
    for item in &b.body.items {
        let (k, v, line) = match item {
            Item::Attr(a) => (a.key.as_str(), a.value.clone(), a.line),
            // `allowed_parameters { ... }` block form of an object.
            Item::Block(inner) if inner.labels.is_empty() => {
                (inner.ident.as_str(), block_as_object(inner), inner.line)
            }
            Item::Block(inner) => {
                return Err(ctx(format!(
                    "invalid key {:?} on line {}",
                    inner.ident, inner.line
                )));
            }
        };
        match k {
            "capabilities" => {
                // A lone string is a mistake OpenBao refuses; so do we.
                if !matches!(v.kind, Kind::List(_)) {
                    return Err(ctx(format!(
                        "capabilities must be a list of strings, got {} on line {line}",
                        v.type_name()
                    )));
                }
                caps_list = string_list(&v).map_err(|m| ctx(format!("{m} on line {line}")))?
            }
            "policy" => legacy = Some(string(&v).map_err(|m| ctx(format!("{m} on line {line}")))?),
            "allowed_parameters" => {
                rules.allowed_parameters =
                    Some(param_map(&v).map_err(|m| ctx(format!("{m} on line {line}")))?)
            }
            "denied_parameters" => {
                rules.denied_parameters =
                    Some(param_map(&v).map_err(|m| ctx(format!("{m} on line {line}")))?)
            }
            "required_parameters" => {
                rules.required_parameters =
                    string_list(&v).map_err(|m| ctx(format!("{m} on line {line}")))?
            }
            "min_wrapping_ttl" => {
                rules.min_wrapping_ttl =
                    ttl(&v).map_err(|m| fail(format!("error parsing min_wrapping_ttl: {m}")))?
            }
            "max_wrapping_ttl" => {
                rules.max_wrapping_ttl =
                    ttl(&v).map_err(|m| fail(format!("error parsing max_wrapping_ttl: {m}")))?
            }
            // Accepted for compatibility with Vault policies; they have no
            // effect in Arca (no MFA, no pagination limits yet).
            "comment"
            | "mfa_methods"
            | "pagination_limit"
            | "list_scan_response_keys_filter_path" => {}
            "expiration" => {
                let s = string(&v).map_err(|m| ctx(format!("{m} on line {line}")))?;
                let t =
                    time::OffsetDateTime::parse(&s, &time::format_description::well_known::Rfc3339)
                        .map_err(|_| ctx(format!("invalid expiration time {s:?}")))?;
                if t < time::OffsetDateTime::now_utc() {
                    return Ok(None);
                }
            }
            "control_group" => return Err(ctx("control groups are not supported".into())),
            other => return Err(ctx(format!("invalid key {other:?} on line {line}"))),
        }
    }
    let mut path = key.strip_prefix('/').unwrap_or(key).to_owned();
    if path.contains("+*") {
        return Err(fail(format!(
            "path {path:?}: invalid use of wildcards ('+*' is forbidden)"
        )));
    }
    rules.has_segment_wildcards = path == "+" || path.contains("/+") || path.starts_with("+/");
    if path.ends_with('*') && !rules.has_segment_wildcards {
        path.pop();
        rules.is_prefix = true;
    }
    if let Some(p) = legacy {
        match p.as_str() {
            "deny" => caps_list = vec!["deny".into()],
            "read" => caps_list.extend(["read".into(), "list".into()]),
            "write" => {
                caps_list.extend(["create", "read", "update", "delete", "list"].map(String::from))
            }
            "sudo" => caps_list
                .extend(["create", "read", "update", "delete", "list", "sudo"].map(String::from)),
            other => return Err(ctx(format!("invalid policy {other:?}"))),
        }
    }
    let mut caps = Capabilities::empty();
    for c in &caps_list {
        let bit =
            Capabilities::from_name(c).ok_or_else(|| ctx(format!("invalid capability {c:?}")))?;
        if bit == Capabilities::DENY {
            caps = Capabilities::DENY;
            break;
        }
        caps |= bit;
    }
    rules.capabilities = caps;
    if let (Some(min), Some(max)) = (rules.min_wrapping_ttl, rules.max_wrapping_ttl) {
        if max < min {
            return Err(fail(
                "max_wrapping_ttl cannot be less than min_wrapping_ttl",
            ));
        }
    }
    rules.path = path;
    Ok(Some(rules))
}

fn block_as_object(b: &Block) -> Value {
    let fields = b
        .body
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Attr(a) => Some((a.key.clone(), a.value.clone())),
            Item::Block(_) => None,
        })
        .collect();
    Value {
        kind: Kind::Object(fields),
        line: b.line,
    }
}

fn string(v: &Value) -> Result<String, String> {
    match &v.kind {
        Kind::Str(s) => Ok(s.clone()),
        _ => Err(format!("expected a string, got {}", v.type_name())),
    }
}

fn string_list(v: &Value) -> Result<Vec<String>, String> {
    match &v.kind {
        Kind::List(items) => items.iter().map(string).collect(),
        // HCL1 accepts a lone string where a list is expected.
        Kind::Str(s) => Ok(vec![s.clone()]),
        _ => Err(format!("expected a list of strings, got {}", v.type_name())),
    }
}

fn ttl(v: &Value) -> Result<Option<Duration>, String> {
    let d = match &v.kind {
        Kind::Str(s) => duration::parse(s).map_err(|e| e.to_string())?,
        Kind::Num(n) => duration::parse(n).map_err(|e| e.to_string())?,
        _ => return Err(format!("expected a duration, got {}", v.type_name())),
    };
    Ok((!d.is_zero()).then_some(d))
}

fn param_map(v: &Value) -> Result<BTreeMap<String, Vec<Json>>, String> {
    let Kind::Object(fields) = &v.kind else {
        return Err(format!("expected an object, got {}", v.type_name()));
    };
    let mut out = BTreeMap::new();
    for (k, val) in fields {
        let list = match &val.kind {
            Kind::List(items) => items.iter().map(to_json).collect(),
            _ => vec![to_json(val)],
        };
        out.insert(k.to_lowercase(), list);
    }
    Ok(out)
}

pub(crate) fn to_json(v: &Value) -> Json {
    match &v.kind {
        Kind::Str(s) => Json::String(s.clone()),
        Kind::Num(n) => n
            .parse::<i64>()
            .map(Json::from)
            .or_else(|_| n.parse::<f64>().map(Json::from))
            .unwrap_or(Json::Null),
        Kind::Bool(b) => Json::Bool(*b),
        Kind::Null => Json::Null,
        Kind::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Kind::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// The JSON form of a policy: `{"path": {"secret/*": {"capabilities": [...]}}}`,
/// turned into the same tree the HCL reader produces.
fn json_to_body(raw: &str) -> Result<hcl::Body, PolicyError> {
    let doc: Json = serde_json::from_str(raw).map_err(|e| fail(e.to_string()))?;
    let Json::Object(top) = doc else {
        return Err(fail("does not contain a root object"));
    };
    let mut items = Vec::new();
    for (k, v) in top {
        match (k.as_str(), v) {
            ("path", Json::Object(paths)) => {
                for (p, rules) in paths {
                    let Json::Object(fields) = rules else {
                        return Err(fail(format!("path {p:?}: expected an object")));
                    };
                    let body = hcl::Body {
                        items: fields
                            .into_iter()
                            .map(|(fk, fv)| {
                                Item::Attr(hcl::Attr {
                                    key: fk,
                                    value: from_json(&fv),
                                    line: 1,
                                })
                            })
                            .collect(),
                    };
                    items.push(Item::Block(Block {
                        ident: "path".into(),
                        labels: vec![p],
                        body,
                        line: 1,
                    }));
                }
            }
            ("name", v) => items.push(Item::Attr(hcl::Attr {
                key: "name".into(),
                value: from_json(&v),
                line: 1,
            })),
            (other, _) => return Err(fail(format!("invalid key {other:?} on line 1"))),
        }
    }
    Ok(hcl::Body { items })
}

fn from_json(v: &Json) -> Value {
    let kind = match v {
        Json::String(s) => Kind::Str(s.clone()),
        Json::Number(n) => Kind::Num(n.to_string()),
        Json::Bool(b) => Kind::Bool(*b),
        Json::Null => Kind::Null,
        Json::Array(a) => Kind::List(a.iter().map(from_json).collect()),
        Json::Object(o) => Kind::Object(o.iter().map(|(k, v)| (k.clone(), from_json(v))).collect()),
    };
    Value { kind, line: 1 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_globs_and_legacy() {
        let p = parse(
            "p",
            r#"
path "secret/*" { capabilities = ["read", "list"] }
path "/sys/mounts" { policy = "write" }
path "a/+/b" { capabilities = ["deny", "read"] }
path "a/+/c*" { capabilities = ["update"] }
"#,
        )
        .unwrap();
        assert_eq!(p.paths.len(), 4);
        assert_eq!(p.paths[0].path, "secret/");
        assert!(p.paths[0].is_prefix);
        assert_eq!(
            p.paths[0].capabilities,
            Capabilities::READ | Capabilities::LIST
        );
        assert_eq!(p.paths[1].path, "sys/mounts");
        assert!(p.paths[1].capabilities.contains(Capabilities::CREATE));
        assert_eq!(p.paths[2].capabilities, Capabilities::DENY);
        assert!(p.paths[2].has_segment_wildcards);
        // With segment wildcards the glob stays in the path.
        assert_eq!(p.paths[3].path, "a/+/c*");
        assert!(!p.paths[3].is_prefix);
    }

    #[test]
    fn bad_policies_are_rejected_with_a_location() {
        let e = parse("p", "path \"x\" { capabilities = [\"raed\"] }").unwrap_err();
        assert!(e.0.contains("invalid capability \"raed\""), "{e}");
        let e = parse("p", "path \"x\" {\n  capabilites = [\"read\"]\n}").unwrap_err();
        assert!(e.0.contains("invalid key \"capabilites\" on line 2"), "{e}");
        let e = parse("p", "foo = 1").unwrap_err();
        assert!(e.0.contains("invalid key \"foo\""), "{e}");
        assert!(parse("p", "path \"x\" {").is_err());
        assert!(parse("p", "path \"a/+*\" { capabilities = [\"read\"] }").is_err());
        assert!(parse("p", "path \"x\" { policy = \"admin\" }").is_err());
        // A lone string is refused, as OpenBao refuses it.
        let e = parse("p", "path \"x\" { capabilities = \"read\" }").unwrap_err();
        assert!(e.0.contains("capabilities must be a list"), "{e}");
        assert!(parse("p", "path \"x\" { capabilities = 3 }").is_err());
        let e = parse(
            "p",
            "path \"x\" {\n capabilities=[\"read\"]\n min_wrapping_ttl = \"1h\"\n max_wrapping_ttl = \"1m\" }",
        )
        .unwrap_err();
        assert!(e.0.contains("max_wrapping_ttl cannot be less"));
    }

    #[test]
    fn parameters_and_json_form() {
        let p = parse(
            "p",
            r#"path "x" {
  capabilities = ["update"]
  allowed_parameters = { "Foo" = ["bar", "baz*"], "n" = [] }
  denied_parameters { "secret" = [] }
  required_parameters = ["foo"]
}"#,
        )
        .unwrap();
        let r = &p.paths[0];
        assert_eq!(r.allowed_parameters.as_ref().unwrap()["foo"].len(), 2);
        assert!(r.denied_parameters.as_ref().unwrap().contains_key("secret"));
        assert_eq!(r.required_parameters, vec!["foo"]);

        let j = parse("p", r#"{"path": {"secret/*": {"capabilities": ["read"]}}}"#).unwrap();
        assert_eq!(j.paths[0].path, "secret/");
        assert!(parse("p", r#"{"paths": {}}"#).is_err());
        assert!(parse("p", "[]").is_err());
    }

    #[test]
    fn expired_paths_are_dropped() {
        let p = parse(
            "p",
            r#"path "x" { capabilities = ["read"]
 expiration = "2001-01-01T00:00:00Z" }"#,
        )
        .unwrap();
        assert!(p.paths.is_empty());
    }
}

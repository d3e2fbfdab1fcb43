//! Reading a verified token's claims the way Vault's jwt method does: a
//! claim name that starts with `/` is a JSON pointer into nested claims
//! (`/kubernetes.io/namespace`); `bound_claims` must all match (exactly,
//! or as `*` globs); `claim_mappings` copy string claims into metadata;
//! the user claim names the alias; the groups claim lists groups.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A claim by name, or by JSON pointer when the name starts with `/`.
/// `aud` is always a list; numbers are truncated to integers, as Vault
/// compares them.
pub fn claim(claims: &Map<String, Value>, name: &str) -> Option<Value> {
    let v = match name.strip_prefix('/') {
        None => claims.get(name)?,
        Some(_) => pointer(claims, name)?,
    };
    if name == "aud" {
        if let Value::String(s) = v {
            return Some(Value::Array(vec![Value::String(s.clone())]));
        }
    }
    Some(integers(v))
}

fn pointer<'a>(claims: &'a Map<String, Value>, ptr: &str) -> Option<&'a Value> {
    let mut segments = ptr.split('/').skip(1);
    let first = unescape(segments.next()?);
    let mut cur = claims.get(&first)?;
    for seg in segments {
        let seg = unescape(seg);
        cur = match cur {
            Value::Object(m) => m.get(&seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn unescape(seg: &str) -> String {
    seg.replace("~1", "/").replace("~0", "~")
}

/// Numbers become integers (Vault reads claims as floats and compares
/// them as truncated integers).
fn integers(v: &Value) -> Value {
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.is_finite() => Value::from(f.trunc() as i64),
            _ => v.clone(),
        },
        Value::Array(items) => Value::Array(items.iter().map(integers).collect()),
        _ => v.clone(),
    }
}

/// A string, bool or number as a one-element list; a list as itself.
fn normalize_list(v: &Value) -> Option<Vec<Value>> {
    match v {
        Value::Array(items) => Some(items.clone()),
        Value::String(_) | Value::Bool(_) | Value::Number(_) => Some(vec![v.clone()]),
        _ => None,
    }
}

/// Go's `%v` of a claim value, near enough for an error message.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `*` matches any run of characters (ryanuber/go-glob, which Vault uses).
pub fn glob(pattern: &str, subject: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return subject == pattern;
    }
    let leading = pattern.starts_with('*');
    let trailing = pattern.ends_with('*');
    let last = parts.len() - 1;
    let mut rest = subject;
    for (i, part) in parts[..last].iter().enumerate() {
        match rest.find(part) {
            Some(idx) if i > 0 || leading || idx == 0 => rest = &rest[idx + part.len()..],
            _ => return false,
        }
    }
    trailing || rest.ends_with(parts[last])
}

fn scalar_eq(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::String(a), Value::String(b)) => a == b,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => a.to_string() == b.to_string(),
        _ => false,
    }
}

/// Every bound claim must be present and match one of its values.
pub fn validate_bound_claims(
    bound: &Map<String, Value>,
    globs: bool,
    claims: &Map<String, Value>,
) -> Result<(), String> {
    for (name, expected) in bound {
        let actual = claim(claims, name).ok_or_else(|| format!("claim {name:?} is missing"))?;
        let actual = normalize_list(&actual).ok_or_else(|| {
            format!(
                "received claim is not a string, bool, int or list: {}",
                show(&actual)
            )
        })?;
        let expected = normalize_list(expected).ok_or_else(|| {
            format!(
                "bound claim is not a string, bool, int or list: {}",
                show(expected)
            )
        })?;
        let mut found = false;
        'outer: for e in &expected {
            for a in &actual {
                let hit = if globs {
                    let Value::String(pattern) = e else {
                        return Err(format!("bound claim is not a glob string: {}", show(e)));
                    };
                    matches!(a, Value::String(s) if glob(pattern, s))
                } else {
                    scalar_eq(e, a)
                };
                if hit {
                    found = true;
                    break 'outer;
                }
            }
        }
        if !found {
            return Err(format!(
                "claim {name:?} does not match any associated bound claim values"
            ));
        }
    }
    Ok(())
}

/// Metadata from `claim_mappings` (claim -> key); absent claims are
/// skipped, non-string ones are an error.
pub fn extract_metadata(
    claims: &Map<String, Value>,
    mappings: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for (source, target) in mappings {
        if let Some(v) = claim(claims, source) {
            let Value::String(s) = v else {
                return Err(format!("error converting claim '{source}' to string"));
            };
            out.insert(target.clone(), s);
        }
    }
    Ok(out)
}

/// The alias name: the user claim, which must be a string.
pub fn user_name(
    claims: &Map<String, Value>,
    user_claim: &str,
    json_pointer: bool,
) -> Result<String, String> {
    let v = if json_pointer {
        claim(claims, user_claim)
    } else {
        claims.get(user_claim).cloned()
    };
    match v {
        None | Some(Value::Null) => Err(format!("claim {user_claim:?} not found in token")),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!(
            "claim {user_claim:?} could not be converted to string"
        )),
    }
}

/// The group names in the groups claim (a list of strings, or one
/// string); empty names are dropped.
pub fn groups(claims: &Map<String, Value>, groups_claim: &str) -> Result<Vec<String>, String> {
    let raw = claim(claims, groups_claim).ok_or_else(|| {
        format!("failed to fetch groups: {groups_claim:?} claim not found in token")
    })?;
    let list = normalize_list(&raw)
        .ok_or_else(|| format!("{groups_claim:?} claim could not be converted to string list"))?;
    let mut out = Vec::new();
    for g in list {
        match g {
            Value::String(s) if s.is_empty() => {}
            Value::String(s) => out.push(s),
            other => {
                return Err(format!(
                    "value {} in groups claim could not be parsed as string",
                    show(&other)
                ));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims() -> Map<String, Value> {
        json!({
            "sub": "system:serviceaccount:team-a:builder",
            "aud": "arca",
            "n": 5.7,
            "flag": true,
            "groups": ["dev", "", "ops"],
            "kubernetes.io": {"namespace": "team-a", "serviceaccount": {"name": "builder"}},
            "a/b": {"c~d": "escaped"},
            "list": [{"x": "first"}]
        })
        .as_object()
        .cloned()
        .unwrap()
    }

    #[test]
    fn names_and_pointers() {
        let c = claims();
        assert_eq!(claim(&c, "aud"), Some(json!(["arca"])));
        assert_eq!(claim(&c, "n"), Some(json!(5)));
        assert_eq!(
            claim(&c, "/kubernetes.io/serviceaccount/name"),
            Some(json!("builder"))
        );
        assert_eq!(claim(&c, "/a~1b/c~0d"), Some(json!("escaped")));
        assert_eq!(claim(&c, "/list/0/x"), Some(json!("first")));
        assert_eq!(claim(&c, "/list/9/x"), None);
        assert_eq!(claim(&c, "/kubernetes.io/nope"), None);
        assert_eq!(claim(&c, "kubernetes.io/namespace"), None);
    }

    #[test]
    fn globs_like_go_glob() {
        assert!(glob("*", ""));
        assert!(glob("team-*", "team-a"));
        assert!(glob("*-a", "team-a"));
        assert!(glob("t*m*a", "team-a"));
        assert!(glob("team-a", "team-a"));
        assert!(!glob("team-*", "xteam-a"));
        assert!(!glob("*-b", "team-a"));
        assert!(!glob("team", "team-a"));
        assert!(glob("a*b*c", "abc"));
        assert!(!glob("a*b*c", "acb"));
    }

    #[test]
    fn bound_claims_exact_and_glob() {
        let c = claims();
        let bound = |v: Value| v.as_object().cloned().unwrap();
        assert!(
            validate_bound_claims(
                &bound(json!({"/kubernetes.io/namespace": ["x", "team-a"]})),
                false,
                &c
            )
            .is_ok()
        );
        assert!(
            validate_bound_claims(
                &bound(json!({"groups": "ops", "flag": true, "n": 5})),
                false,
                &c
            )
            .is_ok()
        );
        assert_eq!(
            validate_bound_claims(
                &bound(json!({"/kubernetes.io/namespace": "team-*"})),
                false,
                &c
            )
            .unwrap_err(),
            "claim \"/kubernetes.io/namespace\" does not match any associated bound claim values"
        );
        assert!(
            validate_bound_claims(
                &bound(json!({"/kubernetes.io/namespace": "team-*"})),
                true,
                &c
            )
            .is_ok()
        );
        assert!(validate_bound_claims(&bound(json!({"n": "5"})), false, &c).is_err());
        assert_eq!(
            validate_bound_claims(&bound(json!({"missing": "x"})), false, &c).unwrap_err(),
            "claim \"missing\" is missing"
        );
        assert!(validate_bound_claims(&bound(json!({"sub": {"a": 1}})), false, &c).is_err());
        assert!(validate_bound_claims(&bound(json!({"kubernetes.io": "x"})), false, &c).is_err());
    }

    #[test]
    fn metadata_user_and_groups() {
        let c = claims();
        let m = BTreeMap::from([
            (
                "/kubernetes.io/namespace".to_owned(),
                "namespace".to_owned(),
            ),
            ("absent".to_owned(), "skipped".to_owned()),
        ]);
        assert_eq!(
            extract_metadata(&c, &m).unwrap(),
            BTreeMap::from([("namespace".to_owned(), "team-a".to_owned())])
        );
        let bad = BTreeMap::from([("flag".to_owned(), "f".to_owned())]);
        assert_eq!(
            extract_metadata(&c, &bad).unwrap_err(),
            "error converting claim 'flag' to string"
        );
        assert_eq!(
            user_name(&c, "sub", false).unwrap(),
            "system:serviceaccount:team-a:builder"
        );
        assert_eq!(
            user_name(&c, "email", false).unwrap_err(),
            "claim \"email\" not found in token"
        );
        assert_eq!(
            user_name(&c, "n", false).unwrap_err(),
            "claim \"n\" could not be converted to string"
        );
        assert_eq!(
            user_name(&c, "/kubernetes.io/namespace", true).unwrap(),
            "team-a"
        );
        assert!(user_name(&c, "/kubernetes.io/namespace", false).is_err());
        assert_eq!(groups(&c, "groups").unwrap(), ["dev", "ops"]);
        assert_eq!(
            groups(&c, "sub").unwrap(),
            ["system:serviceaccount:team-a:builder"]
        );
        assert_eq!(
            groups(&c, "nope").unwrap_err(),
            "failed to fetch groups: \"nope\" claim not found in token"
        );
        assert!(groups(&c, "kubernetes.io").is_err());
        assert_eq!(
            groups(&c, "n").unwrap_err(),
            "value 5 in groups claim could not be parsed as string"
        );
    }
}

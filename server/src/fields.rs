//! Typed access to request fields with the conversions Vault's framework
//! performs (`"true"` is a bool, `"a,b"` is a list, `"1h"` is a duration,
//! `"5"` is a number). A field of the wrong type is a 400 naming it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::duration;
use crate::error::{Error, Result};

fn conv_err(field: &str, msg: impl std::fmt::Display) -> Error {
    Error::invalid(format!(
        "Field validation failed: error converting input for field {field:?}: {msg}"
    ))
}

pub fn string(data: &Map<String, Value>, field: &str) -> Result<Option<String>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(other) => Err(conv_err(
            field,
            format!("expected a string, got {}", kind(other)),
        )),
    }
}

pub fn bool(data: &Map<String, Value>, field: &str) -> Result<Option<bool>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) => match s.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" => Ok(Some(true)),
            "0" | "f" | "false" | "" => Ok(Some(false)),
            _ => Err(conv_err(field, format!("cannot parse {s:?} as bool"))),
        },
        Some(Value::Number(n)) => Ok(Some(n.as_f64().is_some_and(|f| f != 0.0))),
        Some(other) => Err(conv_err(
            field,
            format!("expected a bool, got {}", kind(other)),
        )),
    }
}

pub fn int(data: &Map<String, Value>, field: &str) -> Result<Option<i64>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e18)
                    .map(|f| f as i64)
            })
            .map(Some)
            .ok_or_else(|| conv_err(field, format!("cannot parse {n} as an integer"))),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| conv_err(field, format!("cannot parse {s:?} as an integer"))),
        Some(other) => Err(conv_err(
            field,
            format!("expected a number, got {}", kind(other)),
        )),
    }
}

pub fn duration(data: &Map<String, Value>, field: &str) -> Result<Option<Duration>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => duration::from_value(v)
            .map(Some)
            .map_err(|e| Error::invalid(e.to_string())),
    }
}

/// A list of strings: a JSON array, or a comma-separated string.
pub fn string_list(data: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect(),
        )),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => Ok(s.trim().to_owned()),
                Value::Number(n) => Ok(n.to_string()),
                other => Err(conv_err(
                    field,
                    format!("expected a list of strings, found {}", kind(other)),
                )),
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(other) => Err(conv_err(
            field,
            format!("expected a list of strings, got {}", kind(other)),
        )),
    }
}

/// String-to-string pairs: a JSON object, or a list of `k=v` strings.
pub fn string_map(
    data: &Map<String, Value>,
    field: &str,
) -> Result<Option<BTreeMap<String, String>>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                Value::Number(n) => Ok((k.clone(), n.to_string())),
                Value::Bool(b) => Ok((k.clone(), b.to_string())),
                other => Err(conv_err(
                    field,
                    format!("expected string values, found {}", kind(other)),
                )),
            })
            .collect::<Result<BTreeMap<_, _>>>()
            .map(Some),
        Some(Value::Array(items)) => {
            let mut out = BTreeMap::new();
            for item in items {
                let Some((k, v)) = item.as_str().and_then(|s| s.split_once('=')) else {
                    return Err(conv_err(field, "expected key=value pairs"));
                };
                out.insert(k.to_owned(), v.to_owned());
            }
            Ok(Some(out))
        }
        Some(other) => Err(conv_err(
            field,
            format!(
                "'' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
                go_kind(other)
            ),
        )),
    }
}

/// An object field (`config`, `options`); errors name the field.
pub fn object<'a>(
    data: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>> {
    match data.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(other) => Err(conv_err(
            field,
            format!(
                "'' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
                go_kind(other)
            ),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn go_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "string",
        Value::Number(_) => "float64",
        Value::Bool(_) => "bool",
        Value::Array(_) => "[]interface {}",
        _ => "map[string]interface {}",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn conversions() {
        let d = m(
            json!({"b": "true", "n": "5", "l": "a, b,", "arr": ["x", 1], "t": "1h", "kv": ["a=b"], "o": {"a": 1}}),
        );
        assert_eq!(bool(&d, "b").unwrap(), Some(true));
        assert_eq!(int(&d, "n").unwrap(), Some(5));
        assert_eq!(string_list(&d, "l").unwrap().unwrap(), vec!["a", "b"]);
        assert_eq!(string_list(&d, "arr").unwrap().unwrap(), vec!["x", "1"]);
        assert_eq!(duration(&d, "t").unwrap(), Some(Duration::from_secs(3600)));
        assert_eq!(string_map(&d, "kv").unwrap().unwrap()["a"], "b");
        assert_eq!(string_map(&d, "o").unwrap().unwrap()["a"], "1");
        assert_eq!(string(&d, "missing").unwrap(), None);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let d = m(json!({"b": "maybe", "n": "x", "l": {"a": 1}, "c": "abc"}));
        assert!(bool(&d, "b").unwrap_err().to_string().contains("\"b\""));
        assert!(int(&d, "n").is_err());
        assert!(string_list(&d, "l").is_err());
        let e = object(&d, "c").unwrap_err().to_string();
        assert!(
            e.contains("field \"config\"") || e.contains("field \"c\""),
            "{e}"
        );
    }
}

//! Request fields of the KV v2 endpoints, converted the way Vault's
//! framework (`FieldData`, mapstructure's weak decoding) converts them and
//! rejected with the words `bao server` uses, so that a client sees the
//! same 400 from Arca as from OpenBao.
//!
//! A JSON `null` counts as the field's zero value, given: Vault's framework
//! reports it as present (`custom_metadata: null` clears the map).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// How Vault words a conversion error. Writes to the paths with an
/// existence check (`data/`, `metadata/`) report the bare conversion error;
/// every other request goes through `FieldData.Validate`, which prefixes it.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields<'a> {
    data: &'a Map<String, Value>,
    validated: bool,
}

/// mapstructure's name for the Go type a JSON value decodes to.
fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(_) => "json.Number",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

const INT_SYNTAX: &str = "cannot parse value as 'int': strconv.ParseInt: invalid syntax";
const INT_RANGE: &str = "cannot parse value as 'int': strconv.ParseInt: value out of range";

/// One value as a Go `int` (weak decoding); the error names `at`
/// (`''` for the field itself, `'[0]'` for a list element).
fn weak_int(v: &Value, at: &str) -> Result<i64, String> {
    match v {
        Value::Null => Ok(0),
        Value::Bool(b) => Ok(i64::from(*b)),
        // Vault decodes numbers as json.Number and parses their text, so
        // `4.0` and `1e3` are not integers.
        Value::Number(n) => match n.as_i64() {
            Some(i) => Ok(i),
            None if n.is_u64() => Err(format!("'{at}' {INT_RANGE}")),
            None => Err(format!("'{at}' {INT_SYNTAX}")),
        },
        Value::String(s) if s.is_empty() => Ok(0),
        Value::String(s) => s.parse::<i64>().map_err(|e| match e.kind() {
            std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                format!("'{at}' {INT_RANGE}")
            }
            _ => format!("'{at}' {INT_SYNTAX}"),
        }),
        other => Err(format!(
            "'{at}' expected type 'int', got unconvertible type '{}'",
            go_type(other)
        )),
    }
}

/// Go's `strconv.ParseBool`.
fn parse_go_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl<'a> Fields<'a> {
    /// Fields of a request whose conversion errors carry the
    /// `Field validation failed: ` prefix.
    pub(super) fn validated(data: &'a Map<String, Value>) -> Self {
        Self {
            data,
            validated: true,
        }
    }

    /// Fields of a write to a path with an existence check: bare errors.
    pub(super) fn unvalidated(data: &'a Map<String, Value>) -> Self {
        Self {
            data,
            validated: false,
        }
    }

    pub(super) fn raw(&self, field: &str) -> Option<&'a Value> {
        self.data.get(field)
    }

    fn error(&self, field: &str, msg: &str) -> Error {
        let m = format!("error converting input for field {field:?}: {msg}");
        if self.validated {
            Error::invalid(format!("Field validation failed: {m}"))
        } else {
            Error::invalid(m)
        }
    }

    /// A `TypeInt` field.
    pub(super) fn int(&self, field: &str) -> Result<Option<i64>> {
        match self.data.get(field) {
            None => Ok(None),
            Some(v) => weak_int(v, "").map(Some).map_err(|m| self.error(field, &m)),
        }
    }

    /// A `TypeBool` field.
    pub(super) fn bool(&self, field: &str) -> Result<Option<bool>> {
        let bad = || {
            self.error(
                field,
                "'' cannot parse value as 'bool': strconv.ParseBool: invalid syntax",
            )
        };
        match self.data.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(false)),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(Value::String(s)) if s.is_empty() => Ok(Some(false)),
            Some(Value::String(s)) => parse_go_bool(s).map(Some).ok_or_else(bad),
            Some(Value::Number(n)) => Ok(Some(n.as_f64().is_some_and(|f| f != 0.0))),
            Some(other) => Err(self.error(
                field,
                &format!(
                    "'' expected type 'bool', got unconvertible type '{}'",
                    go_type(other)
                ),
            )),
        }
    }

    /// A `TypeDurationSecond` field (`signed`: `TypeSignedDurationSecond`),
    /// in whole seconds: a number of seconds or a Go duration string.
    pub(super) fn duration_secs(&self, field: &str, signed: bool) -> Result<Option<i64>> {
        let Some(v) = self.data.get(field) else {
            return Ok(None);
        };
        let secs = match v {
            Value::Null => 0,
            Value::Number(n) => match (n.as_i64(), n.as_f64()) {
                (Some(i), _) => i,
                (None, Some(f)) if f.is_finite() && f.abs() < 9.2e9 => f as i64,
                _ => return Err(self.error(field, &format!("time: invalid duration \"{n}\""))),
            },
            Value::String(s) => {
                let t = s.trim();
                let (negative, body) = match t.strip_prefix('-') {
                    Some(rest) => (true, rest),
                    None => (false, t),
                };
                let d = crate::duration::parse(body)
                    .map_err(|_| self.error(field, &format!("time: invalid duration {s:?}")))?;
                let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
                if negative { -secs } else { secs }
            }
            other => {
                return Err(self.error(
                    field,
                    &format!(
                        "'' expected type 'int64', got unconvertible type '{}'",
                        go_type(other)
                    ),
                ));
            }
        };
        if secs < 0 && !signed {
            return Err(self.error(field, &format!("cannot provide negative value '{secs}'")));
        }
        Ok(Some(secs))
    }

    /// A `TypeMap` field. An array is not an object: Vault's weak decoding
    /// would merge an array of objects into one, Arca rejects it.
    pub(super) fn map(&self, field: &str) -> Result<Option<Map<String, Value>>> {
        match self.data.get(field) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(Map::new())),
            Some(Value::Object(m)) => Ok(Some(m.clone())),
            Some(Value::Array(items)) => {
                let at = items
                    .iter()
                    .position(|v| !v.is_object())
                    .map(|i| (format!("[{i}]"), go_type(&items[i])))
                    .unwrap_or((String::new(), "[]interface {}"));
                Err(self.error(
                    field,
                    &format!(
                        "'{}' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
                        at.0, at.1
                    ),
                ))
            }
            Some(other) => Err(self.error(
                field,
                &format!(
                    "'' expected type 'map[string]interface {{}}', got unconvertible type '{}'",
                    go_type(other)
                ),
            )),
        }
    }

    /// A `TypeCommaIntSlice` field: a number, a list, or `"1,2,3"`.
    pub(super) fn comma_ints(&self, field: &str) -> Result<Option<Vec<i64>>> {
        let Some(v) = self.data.get(field) else {
            return Ok(None);
        };
        let items: Vec<Value> = match v {
            Value::Null => Vec::new(),
            Value::Array(a) => a.clone(),
            Value::String(s) => s
                .split(',')
                .map(|p| Value::String(p.trim().to_owned()))
                .collect(),
            other => vec![other.clone()],
        };
        let mut out = Vec::with_capacity(items.len());
        let mut errors = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match weak_int(item, &format!("[{i}]")) {
                Ok(n) => out.push(n),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(self.error(
                field,
                &format!(
                    "decoding failed due to the following error(s):\n\n{}",
                    errors.join("\n")
                ),
            ));
        }
        Ok(Some(out))
    }
}

const CUSTOM_METADATA_PREFIX: &str = "custom_metadata validation failed";
const MAX_CUSTOM_METADATA_KEYS: usize = 64;
const MAX_CUSTOM_METADATA_KEY_LEN: usize = 128;
const MAX_CUSTOM_METADATA_VALUE_LEN: usize = 512;

/// `custom_metadata` values weakly decoded to strings, as Vault stores
/// them. `skip_nulls` (PATCH): a null removes the key instead.
pub(super) fn custom_metadata(
    raw: &Map<String, Value>,
    skip_nulls: bool,
) -> Result<BTreeMap<String, Option<String>>> {
    let mut out = BTreeMap::new();
    for (k, v) in raw {
        let s = match v {
            Value::Null if skip_nulls => None,
            Value::Null => Some(String::new()),
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(if *b { "1" } else { "0" }.to_owned()),
            other => {
                return Err(Error::invalid(format!(
                    "{CUSTOM_METADATA_PREFIX}: '' expected type 'string', got unconvertible type '{}'",
                    go_type(other)
                )));
            }
        };
        out.insert(k.clone(), s);
    }
    Ok(out)
}

/// Vault's `validateCustomMetadata`: at most 64 keys; keys up to 128
/// bytes and values up to 512, neither empty, both printable. Every
/// problem is reported, in Vault's multi-error wording.
pub(super) fn validate_custom_metadata(m: &BTreeMap<String, String>) -> Result<()> {
    let mut errors = Vec::new();
    if m.len() > MAX_CUSTOM_METADATA_KEYS {
        errors.push(format!(
            "{CUSTOM_METADATA_PREFIX}: payload must contain at most {MAX_CUSTOM_METADATA_KEYS} keys, provided {}",
            m.len()
        ));
    } else {
        for (k, v) in m {
            if k.is_empty() || k.len() > MAX_CUSTOM_METADATA_KEY_LEN {
                errors.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: length of key {} is {} but must be 0 < len(key) <= {MAX_CUSTOM_METADATA_KEY_LEN}",
                    go_quote(k),
                    k.len()
                ));
            }
            if v.is_empty() || v.len() > MAX_CUSTOM_METADATA_VALUE_LEN {
                errors.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: length of value for key {} is {} but must be 0 < len(value) <= {MAX_CUSTOM_METADATA_VALUE_LEN}",
                    go_quote(k),
                    v.len()
                ));
            }
            if !printable(k) {
                errors.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: key {} ({k}) contains unprintable characters",
                    go_quote(k)
                ));
            }
            if !printable(v) {
                errors.push(format!(
                    "{CUSTOM_METADATA_PREFIX}: value for key {} contains unprintable characters",
                    go_quote(k)
                ));
            }
        }
    }
    if errors.is_empty() {
        return Ok(());
    }
    Err(Error::invalid(multi_error(&errors)))
}

/// go-multierror's list format.
pub(super) fn multi_error(errors: &[String]) -> String {
    if errors.len() == 1 {
        return format!("1 error occurred:\n\t* {}\n\n", errors[0]);
    }
    let points: Vec<String> = errors.iter().map(|e| format!("* {e}")).collect();
    format!(
        "{} errors occurred:\n\t{}\n\n",
        errors.len(),
        points.join("\n\t")
    )
}

/// Go's `unicode.IsPrint` for every character (ASCII space allowed).
fn printable(s: &str) -> bool {
    s.chars()
        .all(|c| c == ' ' || !(c.is_control() || c.is_whitespace()))
}

/// Go's `%q` of a string.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c != ' ' && (c.is_control() || c.is_whitespace()) => {
                if (c as u32) <= 0xffff {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn m(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn ints_like_the_go_framework() {
        let d = m(json!({"a": 5, "b": "7", "c": 1.5, "d": "x", "e": null, "f": true, "g": [1]}));
        let f = Fields::validated(&d);
        assert_eq!(f.int("a").unwrap(), Some(5));
        assert_eq!(f.int("b").unwrap(), Some(7));
        assert_eq!(f.int("e").unwrap(), Some(0));
        assert_eq!(f.int("f").unwrap(), Some(1));
        assert_eq!(f.int("missing").unwrap(), None);
        assert_eq!(
            f.int("c").unwrap_err().to_string(),
            "Field validation failed: error converting input for field \"c\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        );
        assert!(f.int("d").is_err());
        assert!(
            f.int("g")
                .unwrap_err()
                .to_string()
                .ends_with("'' expected type 'int', got unconvertible type '[]interface {}'")
        );
        let u = Fields::unvalidated(&d);
        assert_eq!(
            u.int("d").unwrap_err().to_string(),
            "error converting input for field \"d\": '' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        );
    }

    #[test]
    fn bools_durations_and_maps() {
        let d = m(json!({
            "t": "true", "x": "x", "n": 0, "d1": "1h", "d2": 90, "neg": "-1h", "bad": "abc",
            "s": "str", "arr": ["s"], "objs": [{}], "obj": {"a": 1}, "nul": null
        }));
        let f = Fields::unvalidated(&d);
        assert_eq!(f.bool("t").unwrap(), Some(true));
        assert_eq!(f.bool("n").unwrap(), Some(false));
        assert_eq!(
            f.bool("x").unwrap_err().to_string(),
            "error converting input for field \"x\": '' cannot parse value as 'bool': strconv.ParseBool: invalid syntax"
        );
        assert_eq!(f.duration_secs("d1", false).unwrap(), Some(3600));
        assert_eq!(f.duration_secs("d2", false).unwrap(), Some(90));
        assert_eq!(f.duration_secs("neg", true).unwrap(), Some(-3600));
        assert_eq!(
            f.duration_secs("neg", false).unwrap_err().to_string(),
            "error converting input for field \"neg\": cannot provide negative value '-3600'"
        );
        assert_eq!(
            f.duration_secs("bad", false).unwrap_err().to_string(),
            "error converting input for field \"bad\": time: invalid duration \"abc\""
        );
        assert_eq!(
            f.map("s").unwrap_err().to_string(),
            "error converting input for field \"s\": '' expected type 'map[string]interface {}', got unconvertible type 'string'"
        );
        assert_eq!(
            f.map("arr").unwrap_err().to_string(),
            "error converting input for field \"arr\": '[0]' expected type 'map[string]interface {}', got unconvertible type 'string'"
        );
        assert!(f.map("objs").is_err());
        assert_eq!(f.map("obj").unwrap().unwrap()["a"], 1);
        assert!(f.map("nul").unwrap().unwrap().is_empty());
    }

    #[test]
    fn comma_int_slices() {
        let d = m(json!({"a": "1, 2", "b": 3, "c": [4, "5"], "d": ["x", 1.5], "e": [{"a": 1}]}));
        let f = Fields::validated(&d);
        assert_eq!(f.comma_ints("a").unwrap(), Some(vec![1, 2]));
        assert_eq!(f.comma_ints("b").unwrap(), Some(vec![3]));
        assert_eq!(f.comma_ints("c").unwrap(), Some(vec![4, 5]));
        assert_eq!(
            f.comma_ints("d").unwrap_err().to_string(),
            "Field validation failed: error converting input for field \"d\": decoding failed due to the following error(s):\n\n'[0]' cannot parse value as 'int': strconv.ParseInt: invalid syntax\n'[1]' cannot parse value as 'int': strconv.ParseInt: invalid syntax"
        );
        assert!(f.comma_ints("e").unwrap_err().to_string().ends_with(
            "'[0]' expected type 'int', got unconvertible type 'map[string]interface {}'"
        ));
    }

    #[test]
    fn custom_metadata_rules() {
        let raw = m(json!({"a": 1.5, "b": false, "c": null}));
        let put = custom_metadata(&raw, false).unwrap();
        assert_eq!(put["a"].as_deref(), Some("1.5"));
        assert_eq!(put["b"].as_deref(), Some("0"));
        assert_eq!(put["c"].as_deref(), Some(""));
        assert_eq!(custom_metadata(&raw, true).unwrap()["c"], None);
        assert_eq!(
            custom_metadata(&m(json!({"x": ["y"]})), false)
                .unwrap_err()
                .to_string(),
            "custom_metadata validation failed: '' expected type 'string', got unconvertible type '[]interface {}'"
        );
        let bad: BTreeMap<String, String> = [
            ("".to_string(), "x".to_string()),
            ("k".into(), "\u{1}".into()),
        ]
        .into();
        assert_eq!(
            validate_custom_metadata(&bad).unwrap_err().to_string(),
            "2 errors occurred:\n\t* custom_metadata validation failed: length of key \"\" is 0 but must be 0 < len(key) <= 128\n\t* custom_metadata validation failed: value for key \"k\" contains unprintable characters\n\n"
        );
        let many: BTreeMap<String, String> = (0..65)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert_eq!(
            validate_custom_metadata(&many).unwrap_err().to_string(),
            "1 error occurred:\n\t* custom_metadata validation failed: payload must contain at most 64 keys, provided 65\n\n"
        );
        assert_eq!(go_quote("a\"\u{1}\n"), "\"a\\\"\\x01\\n\"");
    }
}

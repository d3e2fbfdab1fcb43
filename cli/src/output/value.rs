//! JSON values printed the way Go's `fmt` prints what `encoding/json`
//! decoded: `%v` (`map[k:v]`, `[a b]`, `<nil>`) and `%q` of string lists.

use serde_json::Value;

use arca_client::duration::human_secs;

/// Go's `%v` of a decoded JSON value.
pub(crate) fn go_v(v: &Value) -> String {
    match v {
        Value::Null => "<nil>".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(go_v).collect::<Vec<_>>().join(" ")),
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let parts: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{k}:{}", go_v(&m[k])))
                .collect();
            format!("map[{}]", parts.join(" "))
        }
    }
}

/// Go's `%q` of a string slice: `["a" "b"]`, `[]` for none.
pub(crate) fn go_q_list(list: Option<&Vec<String>>) -> String {
    let items: Vec<String> = list
        .map(|l| l.iter().map(|s| go_quote(s)).collect())
        .unwrap_or_default();
    format!("[{}]", items.join(" "))
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether a field name "looks like" a TTL, which tables print humanized.
pub(crate) fn looks_like_duration(k: &str) -> bool {
    k == "period"
        || k.ends_with("_period")
        || k == "ttl"
        || k.ends_with("_ttl")
        || k == "duration"
        || k.ends_with("_duration")
        || k == "lease_max"
        || k == "ttl_max"
}

/// A table cell for field `k`: TTL-like integers humanized, anything else `%v`.
pub(crate) fn cell(k: &str, v: &Value) -> String {
    if looks_like_duration(k) {
        if let Some(secs) = v.as_i64() {
            return human_secs(secs);
        }
    }
    go_v(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_like_go_fmt() {
        assert_eq!(go_v(&json!(null)), "<nil>");
        assert_eq!(go_v(&json!(["default", "p1"])), "[default p1]");
        assert_eq!(
            go_v(&json!({"b": {"x": null}, "a": 1, "c": [], "d": ""})),
            "map[a:1 b:map[x:<nil>] c:[] d:]"
        );
        assert_eq!(
            go_q_list(Some(&vec!["default".into(), "p1".into()])),
            "[\"default\" \"p1\"]"
        );
        assert_eq!(go_q_list(None), "[]");
        assert_eq!(go_quote("a\"b\n"), "\"a\\\"b\\n\"");
    }

    #[test]
    fn humanizes_ttl_fields_only() {
        assert_eq!(cell("creation_ttl", &json!(3600)), "1h");
        assert_eq!(cell("explicit_max_ttl", &json!(0)), "0s");
        assert_eq!(cell("ttl", &json!("768h")), "768h");
        assert_eq!(cell("num_uses", &json!(3600)), "3600");
    }
}

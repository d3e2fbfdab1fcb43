//! `toYAML` as consul-template prints it (Go's `gopkg.in/yaml.v2`
//! `Marshal`, trimmed): maps with sorted keys, sequences not indented under
//! their key, strings quoted exactly when yaml.v2 quotes them. Checked
//! against `bao agent`'s output (agent/tests/bao_agent.rs).

use gotmpl::Value;

pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Map(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::List(l) if !l.is_empty() => list(&mut out, l, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out.trim().to_owned()
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, m: &std::collections::BTreeMap<std::sync::Arc<str>, Value>, depth: usize) {
    for (k, v) in m {
        indent(out, depth);
        out.push_str(&string(k));
        out.push(':');
        value_after_key(out, v, depth);
    }
}

fn list(out: &mut String, l: &[Value], depth: usize) {
    for v in l {
        indent(out, depth);
        out.push('-');
        match v {
            Value::Map(m) if !m.is_empty() => {
                // The first key on the dash's line, the rest under it.
                let mut inner = String::new();
                map(&mut inner, m, depth + 2);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            Value::List(l) if !l.is_empty() => {
                let mut inner = String::new();
                list(&mut inner, l, depth + 2);
                out.push(' ');
                out.push_str(inner.trim_start());
            }
            other => {
                out.push(' ');
                push_scalar(out, other, depth + 2);
            }
        }
    }
}

fn value_after_key(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Map(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, depth + 2);
        }
        // yaml.v2 does not indent a sequence under its key.
        Value::List(l) if !l.is_empty() => {
            out.push('\n');
            list(out, l, depth);
        }
        other => {
            out.push(' ');
            push_scalar(out, other, depth + 2);
        }
    }
}

/// A scalar and its line end; multi-line strings in literal style.
fn push_scalar(out: &mut String, v: &Value, depth: usize) {
    if let Value::String(s) = v {
        if s.contains('\n') && plain_chars(s) {
            let keep = if s.ends_with('\n') { "" } else { "-" };
            out.push('|');
            out.push_str(keep);
            if s.starts_with(' ') {
                out.push('2');
            }
            out.push('\n');
            for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
                if !line.is_empty() {
                    indent(out, depth);
                    out.push_str(line);
                }
                out.push('\n');
            }
            return;
        }
    }
    out.push_str(&scalar(v));
    out.push('\n');
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Nil => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(i) => i.to_string(),
        Value::Uint(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::String(s) => string(s),
        Value::Map(_) => "{}".into(),
        Value::List(_) => "[]".into(),
        other => string(&other.to_string()),
    }
}

/// A string as yaml.v2 writes it: plain when it reads back as that string,
/// double-quoted when plain would read as another type, single-quoted when
/// plain is not allowed by its characters.
fn string(s: &str) -> String {
    if s.is_empty() {
        return "\"\"".into();
    }
    if resolves_to_non_string(s) {
        return double_quoted(s);
    }
    if s.contains('\n') {
        return double_quoted(s);
    }
    if plain_allowed(s) {
        return s.to_owned();
    }
    if plain_chars(s) {
        format!("'{}'", s.replace('\'', "''"))
    } else {
        double_quoted(s)
    }
}

fn double_quoted(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Printable characters only (else yaml.v2 double-quotes).
fn plain_chars(s: &str) -> bool {
    s.chars()
        .all(|c| c == '\n' || !(c.is_control() || c == '\u{FEFF}'))
}

/// yaml.v2's emitter rules for a plain scalar (yaml_emitter_analyze_scalar).
fn plain_allowed(s: &str) -> bool {
    if !plain_chars(s) {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    let last = s.chars().last().unwrap_or(' ');
    if first == ' ' || last == ' ' || first == '\t' {
        return false;
    }
    if s.starts_with("---") || s.starts_with("...") {
        return false;
    }
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "-?:".contains(first) {
        // Allowed only when followed by a non-space.
        match s.chars().nth(1) {
            None => return false,
            Some(c) if c == ' ' || c == '\t' => return false,
            _ => {}
        }
    }
    let chars: Vec<char> = s.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let prev = if i > 0 { Some(chars[i - 1]) } else { None };
        match c {
            ':' if next.is_none_or(|n| n == ' ' || n == '\t') => return false,
            '#' if prev.is_some_and(|p| p == ' ' || p == '\t') => return false,
            ',' | '[' | ']' | '{' | '}' if false => return false,
            _ => {}
        }
    }
    true
}

/// Whether yaml.v2 would read the plain text as something other than a
/// string (null, bool of YAML 1.1, int, float, timestamp, merge key).
fn resolves_to_non_string(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "~", "null", "Null", "NULL", "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
        "true", "True", "TRUE", "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF",
        ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan",
        ".NaN", ".NAN", "<<",
    ];
    if WORDS.contains(&s) {
        return true;
    }
    let plain = s.replace('_', "");
    let body = plain.strip_prefix(['+', '-']).unwrap_or(&plain);
    let int = !body.is_empty()
        && (body.bytes().all(|b| b.is_ascii_digit())
            || body
                .strip_prefix("0x")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
            || body
                .strip_prefix("0b")
                .is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b == b'0' || b == b'1')));
    let float = body.parse::<f64>().is_ok()
        && body
            .bytes()
            .all(|b| b.is_ascii_digit() || b"eE.+-".contains(&b))
        && body.bytes().any(|b| b.is_ascii_digit());
    let timestamp = {
        // YYYY-MM-DD, optionally followed by a time.
        let b = s.as_bytes();
        b.len() >= 10
            && b[..4].iter().all(u8::is_ascii_digit)
            && b[4] == b'-'
            && b[5..7].iter().all(u8::is_ascii_digit)
            && b[7] == b'-'
            && b[8..10].iter().all(u8::is_ascii_digit)
            && (b.len() == 10 || matches!(b[10], b'T' | b't' | b' '))
    };
    int || float || timestamp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::to_value;
    use serde_json::json;

    #[test]
    fn prints_as_yaml_v2() {
        let v = to_value(&json!({
            "n": "3", "password": "s3cret", "user": "app", "on": "yes", "empty": "",
            "when": "2026-12-03", "url": "http://x:1/a", "colon": "a: b", "hash": "a #b",
            "dash": "-x", "list": ["a", 1, {"k": "v", "j": true}], "nested": {"a": {"b": null}},
            "multi": "line1\nline2\n", "multi2": "a\nb", "quote": "it's", "lead": " x"
        }));
        let want = "colon: 'a: b'\ndash: -x\nempty: \"\"\nhash: 'a #b'\nlead: ' x'\nlist:\n- a\n- 1\n- j: true\n  k: v\nmulti: |\n  line1\n  line2\nmulti2: |-\n  a\n  b\n\"n\": \"3\"\nnested:\n  a:\n    b: null\n\"on\": \"yes\"\npassword: s3cret\nquote: it's\nurl: http://x:1/a\nuser: app\nwhen: \"2026-12-03\"";
        assert_eq!(to_yaml(&v), want);
    }
}

//! JSONx (IBM's XML encoding of JSON), the audit `format=jsonx`: each
//! entry becomes one line, `<?xml …?><json:object …>…</json:object>`,
//! object members in key order, text XML-escaped.

use std::fmt::Write;

use serde_json::Value;

const ROOT_ATTRS: &str = r#" xsi:schemaLocation="http://www.datapower.com/schemas/json jsonx.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:json="http://www.ibm.com/xmlns/prod/2009/jsonx""#;

/// The JSONx document of a JSON value, without a trailing newline.
pub fn encode(v: &Value) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    element(&mut out, v, None, true);
    out
}

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            '\t' => out.push_str("&#x9;"),
            c if (c as u32) < 0x20 => {
                // Not representable in XML 1.0: replaced, as Go's encoder does.
                out.push('\u{FFFD}');
            }
            c => out.push(c),
        }
    }
}

fn open(out: &mut String, tag: &str, name: Option<&str>, root: bool) {
    out.push_str("<json:");
    out.push_str(tag);
    if let Some(n) = name {
        out.push_str(" name=\"");
        escape(out, n);
        out.push('"');
    }
    if root {
        out.push_str(ROOT_ATTRS);
    }
    out.push('>');
}

fn element(out: &mut String, v: &Value, name: Option<&str>, root: bool) {
    let tag = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    open(out, tag, name, root);
    match v {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => escape(out, s),
        Value::Array(items) => {
            for item in items {
                element(out, item, None, false);
            }
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for k in keys {
                element(out, &map[k], Some(k), false);
            }
        }
    }
    out.push_str("</json:");
    out.push_str(tag);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn encodes_every_json_type() {
        let x = encode(&json!({"b": [1, "a<b", null], "a": true, "c": {"d": "x\"y"}}));
        assert!(x.starts_with(
            r#"<?xml version="1.0" encoding="UTF-8"?><json:object xsi:schemaLocation="#
        ));
        assert!(x.contains(r#"<json:boolean name="a">true</json:boolean><json:array name="b"><json:number>1</json:number><json:string>a&lt;b</json:string><json:null></json:null></json:array>"#));
        assert!(x.ends_with(r#"<json:object name="c"><json:string name="d">x&quot;y</json:string></json:object></json:object>"#));
        assert!(!x.contains('\n'));
    }
}

//! JSON printed like Go's `json.MarshalIndent(v, "", "  ")`: two-space
//! indent, map keys sorted, and `<`, `>`, `&`, U+2028, U+2029 escaped as
//! `\u003c`… (Go's HTML-safe default), so that output diffs cleanly
//! against `vault`/`bao`.

use std::io;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;
use serde_json::ser::{Formatter, PrettyFormatter};

/// A JSON value whose objects serialize with sorted keys whatever the
/// `serde_json` map implementation is.
pub(crate) struct Sorted<'a>(pub(crate) &'a Value);

impl Serialize for Sorted<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                let mut map = s.serialize_map(Some(keys.len()))?;
                for k in keys {
                    map.serialize_entry(k, &Sorted(&m[k]))?;
                }
                map.end()
            }
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Sorted(v))?;
                }
                seq.end()
            }
            other => other.serialize(s),
        }
    }
}

/// serde_json's pretty printer with Go's string escaping.
struct GoFormatter(PrettyFormatter<'static>);

impl Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let esc = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            w.write_all(&fragment.as_bytes()[start..i])?;
            w.write_all(esc.as_bytes())?;
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }

    fn begin_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

/// `value` as indented Go-style JSON, without a trailing newline.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T) -> String {
    let mut buf = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut buf,
        GoFormatter(PrettyFormatter::with_indent(b"  ")),
    );
    // Serializing plain data into a Vec cannot fail; an error would mean a
    // non-string map key, which none of our types have.
    if value.serialize(&mut ser).is_err() {
        return "null".into();
    }
    String::from_utf8_lossy(&buf).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value_to_json(value: &Value) -> String {
        to_json(&Sorted(value))
    }

    #[test]
    fn indents_sorts_and_escapes_like_go() {
        let v = json!({"b": [], "a": {"y": 1, "x": "<&>"}, "c": {}});
        assert_eq!(
            value_to_json(&v),
            "{\n  \"a\": {\n    \"x\": \"\\u003c\\u0026\\u003e\",\n    \"y\": 1\n  },\n  \"b\": [],\n  \"c\": {}\n}"
        );
        assert_eq!(to_json(&vec!["read"]), "[\n  \"read\"\n]");
        assert_eq!(to_json("a\"\n"), "\"a\\\"\\n\"");
    }
}

//! `key=value` arguments of `write`, `read` and `delete`, read like the Go
//! CLI's kv-builder: `k=v`, `k=@file` (file contents), `k=\@x` (a literal
//! `@x`), `k=-` (all of stdin), and a bare `-` or `@file` holding a JSON
//! object to merge. A key given twice becomes a list.

use serde_json::{Map, Value};

use super::Ctx;
use super::ctx::go_io_error;
use crate::error::{Error, Result};

/// Parses `args` into a JSON object; `None` when no data was given.
pub(crate) fn parse(
    ctx: &mut Ctx<'_>,
    args: &[String],
) -> Result<Option<Map<String, Value>>, String> {
    let mut out: Option<Map<String, Value>> = None;
    let mut stdin_used = false;
    let mut read_stdin = |ctx: &mut Ctx<'_>| -> Result<String, String> {
        if stdin_used {
            return Err("stdin already consumed".into());
        }
        stdin_used = true;
        ctx.io.read_stdin().map_err(|e| e.to_string())
    };
    for raw in args {
        if raw.is_empty() {
            continue;
        }
        let Some((key, value)) = raw.split_once('=') else {
            let json = if raw == "-" {
                read_stdin(ctx)?
            } else if let Some(path) = raw.strip_prefix('@') {
                std::fs::read_to_string(path).map_err(|e| go_io_error("open", path, &e))?
            } else {
                return Err(format!(
                    "invalid key/value pair {}: format must be key=value",
                    crate::output::value::go_quote(raw)
                ));
            };
            let map: Map<String, Value> = serde_json::from_str(&json).map_err(|e| e.to_string())?;
            out.get_or_insert_with(Map::new).extend(map);
            continue;
        };
        let value = if let Some(path) = value.strip_prefix('@') {
            std::fs::read_to_string(path)
                .map_err(|e| format!("error reading file: {}", go_io_error("open", path, &e)))?
        } else if let Some(literal) = value.strip_prefix('\\').filter(|v| v.starts_with('@')) {
            literal.to_string()
        } else if value == "-" {
            read_stdin(ctx)?
        } else {
            value.to_string()
        };
        let map = out.get_or_insert_with(Map::new);
        match map.get_mut(key) {
            Some(Value::Array(list)) => list.push(Value::from(value)),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::from(value)]);
            }
            None => {
                map.insert(key.to_string(), Value::from(value));
            }
        }
    }
    Ok(out)
}

/// [`parse`], failing as the commands report bad data.
pub(crate) fn data(ctx: &mut Ctx<'_>, args: &[String]) -> Result<Option<Map<String, Value>>> {
    parse(ctx, args).map_err(|e| Error::Usage(format!("Failed to parse K=V data: {e}")))
}

/// The data as query parameters (`read`/`delete` with data).
pub(crate) fn to_query(data: Option<Map<String, Value>>) -> Vec<(String, String)> {
    let mut query = Vec::new();
    for (k, v) in data.into_iter().flatten() {
        match v {
            Value::Array(items) => {
                for item in items {
                    query.push((k.clone(), scalar(item)));
                }
            }
            other => query.push((k, scalar(other))),
        }
    }
    query
}

fn scalar(v: Value) -> String {
    match v {
        Value::String(s) => s,
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flags::Parsed;
    use crate::io::Io;
    use crate::output::Format;

    fn run(args: &[&str], stdin: &[u8]) -> Result<Option<Map<String, Value>>, String> {
        let mut io = Io::memory(&[], stdin);
        let mut ctx = Ctx {
            io: &mut io,
            flags: Parsed::default(),
            format: Format::Table,
        };
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&mut ctx, &args)
    }

    #[test]
    fn reads_like_kv_builder() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.hcl");
        std::fs::write(&file, "path \"x\" {}\n").unwrap();
        let at = format!("policy=@{}", file.display());
        let m = run(
            &["a=1", "a=2", &at, "lit=\\@x", "s=-", "eq=a=b"],
            b"from stdin",
        )
        .unwrap()
        .unwrap();
        assert_eq!(m["a"], serde_json::json!(["1", "2"]));
        assert_eq!(m["policy"], "path \"x\" {}\n");
        assert_eq!(m["lit"], "@x");
        assert_eq!(m["s"], "from stdin");
        assert_eq!(m["eq"], "a=b");
        let m = run(&["-"], br#"{"n": 1, "t": true}"#).unwrap().unwrap();
        assert_eq!(m["n"], 1);
        assert_eq!(run(&[], b"").unwrap(), None);
        assert_eq!(
            run(&["novalue"], b"").unwrap_err(),
            "invalid key/value pair \"novalue\": format must be key=value"
        );
        assert_eq!(
            run(&["a=-", "b=-"], b"x").unwrap_err(),
            "stdin already consumed"
        );
        assert!(
            run(&["k=@/nonexistent/file"], b"")
                .unwrap_err()
                .contains("no such file")
        );
    }

    #[test]
    fn query_parameters() {
        let m = run(&["a=1", "a=2", "b=x"], b"").unwrap();
        assert_eq!(
            to_query(m),
            vec![
                ("a".to_string(), "1".to_string()),
                ("a".to_string(), "2".to_string()),
                ("b".to_string(), "x".to_string())
            ]
        );
    }
}

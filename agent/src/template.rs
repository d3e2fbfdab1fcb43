//! Templates: Go's text/template (through `gotmpl`) with consul-template's
//! functions. Rendering never touches the network: `secret` answers from
//! the agent's cache and records what it did not find; the caller fetches
//! that and renders again (consul-template's design). A render that needed
//! something missing is not a result.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gotmpl::{MissingKey, Template, TemplateError, Value};
use serde_json::Value as Json;

/// What a template reads: a path, and for a write (`secret "pki/issue/web"
/// "common_name=a"`) its parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dep {
    pub path: String,
    pub params: Vec<(String, String)>,
}

impl std::fmt::Display for Dep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)?;
        for (k, v) in &self.params {
            write!(f, " {k}={v}")?;
        }
        Ok(())
    }
}

/// The answers the agent holds, as templates see them (consul-template's
/// `Secret`: `LeaseID`, `LeaseDuration`, `Renewable`, `Data`, `Warnings`).
pub type Cache = HashMap<Dep, Value>;

/// What a render made, and what it read.
#[derive(Debug)]
pub struct Rendered {
    pub text: String,
    pub deps: Vec<Dep>,
}

/// Why a render gave nothing.
#[derive(Debug, PartialEq)]
pub enum RenderError {
    /// Not in the cache yet: fetch these, then render again.
    Missing(Vec<Dep>),
    /// The template itself is wrong, or reads a key that is not there.
    Failed(String),
}

/// Renders `src` against `cache`.
pub fn render(
    src: &str,
    delims: (&str, &str),
    error_on_missing_key: bool,
    cache: &Arc<Cache>,
) -> Result<Rendered, RenderError> {
    let seen: Arc<Mutex<Vec<(Dep, bool)>>> = Arc::default();
    let lookup = {
        let cache = Arc::clone(cache);
        let seen = Arc::clone(&seen);
        move |args: &[Value]| -> gotmpl::Result<Value> {
            let dep = dep_of(args)?;
            let found = cache.get(&dep).cloned();
            seen.lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((dep, found.is_some()));
            Ok(found.unwrap_or(Value::Nil))
        }
    };
    let tmpl = Template::new("template")
        .delims(delims.0, delims.1)
        .missing_key(if error_on_missing_key {
            MissingKey::Error
        } else {
            MissingKey::Invalid
        })
        .funcs(functions())
        .func("secret", lookup)
        .parse(src)
        .map_err(|e| RenderError::Failed(e.to_string()))?;
    let out = tmpl.execute_to_string(&Value::Nil);
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(|p| p.into_inner()));
    let mut missing: Vec<Dep> = seen
        .iter()
        .filter(|(_, f)| !f)
        .map(|(d, _)| d.clone())
        .collect();
    missing.sort();
    missing.dedup();
    if !missing.is_empty() {
        return Err(RenderError::Missing(missing));
    }
    let text = out.map_err(|e| RenderError::Failed(e.to_string()))?;
    let mut deps: Vec<Dep> = seen.into_iter().map(|(d, _)| d).collect();
    deps.sort();
    deps.dedup();
    Ok(Rendered { text, deps })
}

/// The template for Arca's plain output (`secret` + `format` in a template
/// block): the secret's data (a KV v2 secret's `data`) as JSON, YAML,
/// dotenv or Java properties.
pub fn plain(path: &str, format: &str) -> Option<String> {
    let f = match format {
        "json" => "toJSONPretty",
        "yaml" => "toYAML",
        "dotenv" => "toDotenv",
        "properties" => "toProperties",
        _ => return None,
    };
    let path = path.replace('\\', "\\\\").replace('"', "\\\"");
    Some(format!(
        "{{{{ with secret \"{path}\" }}}}{{{{ secretData . | {f} }}}}{{{{ end }}}}\n"
    ))
}

/// A value as one line of text: strings as they are, the rest as JSON.
fn flat(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string(),
        Value::Nil => String::new(),
        other => go_json(serde_json::to_string(&to_json(other)).unwrap_or_default()),
    }
}

/// `KEY="value"` lines, keys sorted; a key's characters outside
/// `[A-Za-z0-9_]` become `_`; values double-quoted with `\`, `"`, `$`, and
/// newlines escaped.
fn dotenv(v: &Value) -> gotmpl::Result<String> {
    let Value::Map(m) = v else {
        return Err(exec_err("toDotenv: wants a map"));
    };
    let mut out = Vec::with_capacity(m.len());
    for (k, v) in m.iter() {
        let mut key: String = k
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        if key.starts_with(|c: char| c.is_ascii_digit()) {
            key.insert(0, '_');
        }
        let mut val = String::new();
        for c in flat(v).chars() {
            match c {
                '\\' => val.push_str("\\\\"),
                '"' => val.push_str("\\\""),
                '$' => val.push_str("\\$"),
                '\n' => val.push_str("\\n"),
                '\r' => val.push_str("\\r"),
                c => val.push(c),
            }
        }
        out.push(format!("{key}=\"{val}\""));
    }
    Ok(out.join("\n"))
}

/// Java `.properties` lines (`key=value`), keys sorted, escaped as
/// `Properties.store` does (`\\`, `\n`, `=`, `:`, `#`, `!`, leading spaces,
/// non-ASCII as `\uXXXX`).
fn properties(v: &Value) -> gotmpl::Result<String> {
    fn esc(s: &str, key: bool) -> String {
        let mut out = String::new();
        for (i, c) in s.chars().enumerate() {
            match c {
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '=' | ':' | '#' | '!' => {
                    out.push('\\');
                    out.push(c);
                }
                ' ' if key || i == 0 => out.push_str("\\ "),
                c if !c.is_ascii() || c.is_ascii_control() => {
                    let mut buf = [0u16; 2];
                    for u in c.encode_utf16(&mut buf) {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
                c => out.push(c),
            }
        }
        out
    }
    let Value::Map(m) = v else {
        return Err(exec_err("toProperties: wants a map"));
    };
    Ok(m.iter()
        .map(|(k, v)| format!("{}={}", esc(k, true), esc(&flat(v), false)))
        .collect::<Vec<_>>()
        .join("\n"))
}

/// `secret "path" "k=v" ...`.
fn dep_of(args: &[Value]) -> gotmpl::Result<Dep> {
    let mut it = args.iter();
    let path = match it.next() {
        Some(Value::String(p)) => p.trim_matches('/').to_owned(),
        _ => return Err(TemplateError::Exec("secret: wants a path".into())),
    };
    let mut params = Vec::new();
    for a in it {
        let Value::String(kv) = a else {
            return Err(TemplateError::Exec(
                "secret: parameters are \"key=value\" strings".into(),
            ));
        };
        let (k, v) = kv.split_once('=').ok_or_else(|| {
            TemplateError::Exec(format!("secret: invalid parameter {kv:?}, wants key=value"))
        })?;
        params.push((k.to_owned(), v.to_owned()));
    }
    Ok(Dep { path, params })
}

/// A server answer as templates see it.
pub fn secret_value(answer: &arca_client::Secret) -> Value {
    let mut m = BTreeMap::new();
    m.insert(
        Arc::from("LeaseID"),
        Value::String(answer.lease_id.as_str().into()),
    );
    m.insert(
        Arc::from("LeaseDuration"),
        Value::Int(answer.lease_duration),
    );
    m.insert(Arc::from("Renewable"), Value::Bool(answer.renewable));
    m.insert(
        Arc::from("Data"),
        to_value(&Json::Object(answer.data.clone().unwrap_or_default())),
    );
    m.insert(
        Arc::from("Warnings"),
        Value::List(
            answer
                .warnings
                .iter()
                .flatten()
                .map(|w| Value::String(w.as_str().into()))
                .collect(),
        ),
    );
    Value::Map(Arc::new(m))
}

/// JSON into a template value.
pub fn to_value(j: &Json) -> Value {
    match j {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .or_else(|| n.as_u64().map(Value::Uint))
            .or_else(|| n.as_f64().map(Value::Float))
            .unwrap_or(Value::Nil),
        Json::String(s) => Value::String(s.as_str().into()),
        Json::Array(a) => Value::List(a.iter().map(to_value).collect()),
        Json::Object(o) => Value::Map(Arc::new(
            o.iter()
                .map(|(k, v)| (Arc::from(k.as_str()), to_value(v)))
                .collect(),
        )),
    }
}

/// A template value as JSON (`toJSON`).
fn to_json(v: &Value) -> Json {
    match v {
        Value::Nil => Json::Null,
        Value::Bool(b) => Json::Bool(*b),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Float(f) => Json::from(*f),
        Value::String(s) => Json::String(s.to_string()),
        Value::List(l) => Json::Array(l.iter().map(to_json).collect()),
        Value::Map(m) => Json::Object(m.iter().map(|(k, v)| (k.to_string(), to_json(v))).collect()),
        _ => Json::Null,
    }
}

/// Go's `json.Marshal` escapes what HTML would read (`<`, `>`, `&`) and
/// the JavaScript line separators; those only occur inside strings.
fn go_json(s: String) -> String {
    if !s.contains(['<', '>', '&', '\u{2028}', '\u{2029}']) {
        return s;
    }
    s.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

fn arg(args: &[Value], i: usize, name: &str) -> gotmpl::Result<Value> {
    args.get(i)
        .cloned()
        .ok_or_else(|| TemplateError::Exec(format!("{name}: missing argument")))
}

fn string(args: &[Value], i: usize, name: &str) -> gotmpl::Result<String> {
    match arg(args, i, name)? {
        Value::String(s) => Ok(s.to_string()),
        Value::Nil => Ok(String::new()),
        other => Ok(other.to_string()),
    }
}

fn text(s: impl AsRef<str>) -> gotmpl::Result<Value> {
    Ok(Value::String(s.as_ref().into()))
}

fn exec_err(e: impl std::fmt::Display) -> TemplateError {
    TemplateError::Exec(e.to_string())
}

/// consul-template's functions (those that do not reach the network),
/// and a few of sprig's basics.
fn functions() -> gotmpl::FuncMap {
    let mut f: gotmpl::FuncMap = BTreeMap::new();
    let mut add = |name: &str, func: fn(&[Value]) -> gotmpl::Result<Value>| {
        f.insert(name.to_owned(), Arc::new(func));
    };
    add("env", |a| {
        text(std::env::var(string(a, 0, "env")?).unwrap_or_default())
    });
    add("file", |a| {
        let p = string(a, 0, "file")?;
        std::fs::read_to_string(&p)
            .map(Value::from)
            .map_err(|e| exec_err(format!("file: {p}: {e}")))
    });
    add("timestamp", |a| {
        let now = time::OffsetDateTime::now_utc();
        let s = match a.first() {
            None => now
                .format(&time::format_description::well_known::Rfc3339)
                .map_err(exec_err)?,
            Some(Value::String(layout)) if &**layout == "unix" => now.unix_timestamp().to_string(),
            Some(Value::String(layout)) => crate::golayout::format(now, layout),
            Some(_) => return Err(exec_err("timestamp wants a layout string")),
        };
        text(s)
    });
    add("toJSON", |a| {
        let json = serde_json::to_string(&to_json(&arg(a, 0, "toJSON")?)).map_err(exec_err)?;
        text(go_json(json))
    });
    add("toJSONPretty", |a| {
        let json = serde_json::to_string_pretty(&to_json(&arg(a, 0, "toJSONPretty")?))
            .map_err(exec_err)?;
        text(go_json(json))
    });
    add("toYAML", |a| {
        text(crate::yaml::to_yaml(&arg(a, 0, "toYAML")?))
    });
    add("toDotenv", |a| text(dotenv(&arg(a, 0, "toDotenv")?)?));
    add("toProperties", |a| {
        text(properties(&arg(a, 0, "toProperties")?)?)
    });
    // A secret's data: a KV v2 answer's `data`, else its `Data`.
    add("secretData", |a| {
        let Value::Map(secret) = arg(a, 0, "secretData")? else {
            return Err(exec_err("secretData: wants a secret"));
        };
        let data = secret.get("Data").cloned().unwrap_or(Value::Nil);
        if let Value::Map(d) = &data {
            if let (Some(inner @ Value::Map(_)), Some(Value::Map(_))) =
                (d.get("data"), d.get("metadata"))
            {
                return Ok(inner.clone());
            }
        }
        Ok(data)
    });
    add("base64Encode", |a| {
        text(STANDARD.encode(string(a, 0, "base64Encode")?))
    });
    add("base64Decode", |a| {
        let bytes = STANDARD
            .decode(string(a, 0, "base64Decode")?)
            .map_err(|e| exec_err(format!("base64Decode: {e}")))?;
        text(String::from_utf8_lossy(&bytes))
    });
    add("base64URLEncode", |a| {
        text(base64::engine::general_purpose::URL_SAFE.encode(string(a, 0, "base64URLEncode")?))
    });
    // consul-template's argument orders: `split sep s`, `join sep list`,
    // `contains needle s`... as its pipelines read (`s | split ","`).
    add("split", |a| {
        let (sep, s) = (string(a, 0, "split")?, string(a, 1, "split")?);
        if s.is_empty() {
            return Ok(Value::List(Arc::from(Vec::new())));
        }
        Ok(Value::List(
            s.split(sep.as_str()).map(Value::from).collect(),
        ))
    });
    add("join", |a| {
        let sep = string(a, 0, "join")?;
        match arg(a, 1, "join")? {
            Value::List(l) => text(
                l.iter()
                    .map(|v| match v {
                        Value::String(s) => s.to_string(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(&sep),
            ),
            other => Err(exec_err(format!("join: wants a list, got {other}"))),
        }
    });
    add("contains", |a| {
        Ok(Value::Bool(
            string(a, 1, "contains")?.contains(&string(a, 0, "contains")?),
        ))
    });
    add("replaceAll", |a| {
        let (from, to, s) = (
            string(a, 0, "replaceAll")?,
            string(a, 1, "replaceAll")?,
            string(a, 2, "replaceAll")?,
        );
        text(s.replace(&from, &to))
    });
    add("trimSpace", |a| text(string(a, 0, "trimSpace")?.trim()));
    add("toUpper", |a| text(string(a, 0, "toUpper")?.to_uppercase()));
    add("toLower", |a| text(string(a, 0, "toLower")?.to_lowercase()));
    add("trimPrefix", |a| {
        let (p, s) = (string(a, 0, "trimPrefix")?, string(a, 1, "trimPrefix")?);
        text(s.strip_prefix(p.as_str()).unwrap_or(&s))
    });
    add("trimSuffix", |a| {
        let (p, s) = (string(a, 0, "trimSuffix")?, string(a, 1, "trimSuffix")?);
        text(s.strip_suffix(p.as_str()).unwrap_or(&s))
    });
    add("parseJSON", |a| {
        serde_json::from_str::<Json>(&string(a, 0, "parseJSON")?)
            .map(|j| to_value(&j))
            .map_err(|e| exec_err(format!("parseJSON: {e}")))
    });
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache(entries: &[(&str, Json)]) -> Arc<Cache> {
        Arc::new(
            entries
                .iter()
                .map(|(p, data)| {
                    let s = arca_client::Secret {
                        lease_id: "lease/1".into(),
                        lease_duration: 60,
                        renewable: true,
                        data: data.as_object().cloned(),
                        ..Default::default()
                    };
                    (
                        Dep {
                            path: (*p).into(),
                            params: vec![],
                        },
                        secret_value(&s),
                    )
                })
                .collect(),
        )
    }

    #[test]
    fn secrets_come_from_the_cache_and_missing_ones_are_named() {
        let t = r#"{{ with secret "database/creds/app" }}{{ .Data.username }}:{{ .Data.password }}{{ end }} {{ with secret "secret/data/app" }}{{ .Data.data.x }}{{ end }}"#;
        let empty = Arc::new(Cache::new());
        let Err(RenderError::Missing(m)) = render(t, ("{{", "}}"), false, &empty) else {
            panic!("nothing was fetched yet");
        };
        assert_eq!(
            m.iter().map(|d| d.path.as_str()).collect::<Vec<_>>(),
            ["database/creds/app", "secret/data/app"]
        );
        let c = cache(&[
            (
                "database/creds/app",
                json!({"username": "u", "password": "p"}),
            ),
            ("secret/data/app", json!({"data": {"x": 1}, "metadata": {}})),
        ]);
        let r = render(t, ("{{", "}}"), false, &c).unwrap();
        assert_eq!(r.text, "u:p 1");
        assert_eq!(r.deps.len(), 2);
        let r = render(
            r#"[[ with secret "secret/data/app" ]][[ .LeaseDuration ]] [[ .Renewable ]][[ end ]]"#,
            ("[[", "]]"),
            false,
            &c,
        )
        .unwrap();
        assert_eq!(r.text, "60 true");
    }

    #[test]
    fn write_parameters_are_part_of_what_is_read() {
        let t = r#"{{ with secret "pki/issue/web" "common_name=a.example" "ttl=1h" }}{{ .Data.certificate }}{{ end }}"#;
        let Err(RenderError::Missing(m)) = render(t, ("{{", "}}"), false, &Arc::new(Cache::new()))
        else {
            panic!()
        };
        assert_eq!(
            m[0].params,
            [
                ("common_name".to_owned(), "a.example".to_owned()),
                ("ttl".into(), "1h".into())
            ]
        );
        assert!(matches!(
            render(
                r#"{{ secret "p" "nokey" }}"#,
                ("{{", "}}"),
                false,
                &Arc::new(Cache::new())
            ),
            Err(RenderError::Failed(_))
        ));
    }

    #[test]
    fn plain_formats_of_a_secrets_data() {
        let c = cache(&[
            (
                "secret/data/app",
                json!({"data": {"user": "app", "pass word": "a\"b$c\nd", "n": 3, "url": "x=y: é"},
                       "metadata": {"version": 1}}),
            ),
            (
                "database/creds/app",
                json!({"username": "u", "password": "p"}),
            ),
        ]);
        let r = |path: &str, f: &str| {
            render(&plain(path, f).unwrap(), ("{{", "}}"), true, &c)
                .unwrap()
                .text
        };
        assert_eq!(
            r("secret/data/app", "dotenv"),
            "n=\"3\"\npass_word=\"a\\\"b\\$c\\nd\"\nurl=\"x=y: é\"\nuser=\"app\"\n"
        );
        assert_eq!(
            r("secret/data/app", "properties"),
            "n=3\npass\\ word=a\"b$c\\nd\nurl=x\\=y\\: \\u00E9\nuser=app\n"
        );
        assert_eq!(
            r("database/creds/app", "json"),
            "{\n  \"password\": \"p\",\n  \"username\": \"u\"\n}\n"
        );
        assert_eq!(
            r("database/creds/app", "yaml"),
            "password: p\nusername: u\n"
        );
        assert!(plain("x", "toml").is_none());
    }

    #[test]
    fn consul_template_functions() {
        let c = cache(&[("kv/app", json!({"list": "a,b,c", "n": 3, "blob": "aGk="}))]);
        let r = |t: &str| render(t, ("{{", "}}"), false, &c).unwrap().text;
        assert_eq!(
            r(r#"{{ with secret "kv/app" }}{{ .Data | toJSON }}{{ end }}"#),
            r#"{"blob":"aGk=","list":"a,b,c","n":3}"#
        );
        assert_eq!(
            r(r#"{{ with secret "kv/app" }}{{ .Data.list | split "," | join ";" }}{{ end }}"#),
            "a;b;c"
        );
        assert_eq!(
            r(r#"{{ with secret "kv/app" }}{{ .Data.blob | base64Decode }}{{ end }}"#),
            "hi"
        );
        assert_eq!(r(r#"{{ "hi" | base64Encode }}"#), "aGk=");
        assert_eq!(
            r(
                r#"{{ "a-b" | replaceAll "-" "_" }} {{ "  x " | trimSpace }} {{ "abc" | contains "b" }}"#
            ),
            "a_b x true"
        );
        assert_eq!(
            r(
                r#"{{ with secret "kv/app" }}{{ index .Data "n" }} {{ printf "%03d" .Data.n }}{{ end }}"#
            ),
            "3 003"
        );
        assert_eq!(
            r(r#"{{ with secret "kv/app" }}{{ .Data | toYAML }}{{ end }}"#),
            "blob: aGk=\nlist: a,b,c\n\"n\": 3"
        );
        assert_eq!(
            r(r#"{{ with secret "kv/app" }}{{ .Data | toJSONPretty }}{{ end }}"#),
            "{\n  \"blob\": \"aGk=\",\n  \"list\": \"a,b,c\",\n  \"n\": 3\n}"
        );
        // missingkey=error: a key that is not there fails the render.
        let e = render(
            r#"{{ with secret "kv/app" }}{{ .Data.nope }}{{ end }}"#,
            ("{{", "}}"),
            true,
            &c,
        );
        assert!(matches!(e, Err(RenderError::Failed(_))), "{e:?}");
        assert_eq!(
            r(r#"{{ with secret "kv/app" }}[{{ .Data.nope }}]{{ end }}"#),
            "[<no value>]"
        );
    }
}

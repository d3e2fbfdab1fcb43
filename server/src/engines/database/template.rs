//! The text a role's statements and usernames are made from.
//!
//! Statements: `{{name}}` (and `{{username}}`), `{{password}}` and
//! `{{expiration}}` are replaced, as Vault does, by plain substitution.
//!
//! Usernames: Vault's default template for PostgreSQL,
//! `v-{{.DisplayName | truncate 8}}-{{.RoleName | truncate 8}}-{{random 20}}-{{unix_time}}`
//! cut to 63 characters (the longest role name PostgreSQL keeps).

use rand::Rng;
use time::OffsetDateTime;

/// Base62, as Vault's `random`.
const ALPHANUMERIC: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
/// PostgreSQL's NAMEDATALEN - 1.
pub const POSTGRES_MAX_NAME: usize = 63;

pub fn random(n: usize) -> String {
    let mut rng = rand::rngs::OsRng;
    (0..n)
        .map(|_| ALPHANUMERIC[rng.gen_range(0..ALPHANUMERIC.len())] as char)
        .collect()
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// How a plugin's usernames are made (Vault's default template for it):
/// `v-<display name>-<role>-<20 random>-<unix time>`, each name cut to its
/// length (0: left out), the whole cut to `max`.
#[derive(Debug, Clone, Copy)]
pub struct NameShape {
    pub display: usize,
    pub role: usize,
    pub unix_time: bool,
    pub max: usize,
    pub upper: bool,
    pub sep: char,
}

/// PostgreSQL: names up to NAMEDATALEN - 1.
pub const POSTGRES_NAME: NameShape = NameShape {
    display: 8,
    role: 8,
    unix_time: true,
    max: POSTGRES_MAX_NAME,
    upper: false,
    sep: '-',
};
/// MySQL 5.7+ and MariaDB: 32 characters.
pub const MYSQL_NAME: NameShape = NameShape {
    display: 10,
    role: 10,
    unix_time: true,
    max: 32,
    upper: false,
    sep: '-',
};
/// Older MySQL, RDS and Aurora: 16 characters.
pub const MYSQL_LEGACY_NAME: NameShape = NameShape {
    display: 0,
    role: 4,
    unix_time: false,
    max: 16,
    upper: false,
    sep: '-',
};
/// Redis ACL users, as OpenBao's plugin makes them:
/// `V_<DISPLAY>_<ROLE>_<RANDOM>_<TIME>`.
pub const REDIS_NAME: NameShape = NameShape {
    display: 64,
    role: 64,
    unix_time: true,
    max: usize::MAX,
    upper: true,
    sep: '_',
};

/// A new database username for a role, from the token's display name.
pub fn username(display_name: &str, role: &str, now: OffsetDateTime, shape: NameShape) -> String {
    let mut name = String::from("v");
    if shape.display > 0 {
        name.push(shape.sep);
        name.push_str(truncate(display_name, shape.display));
    }
    if shape.role > 0 {
        name.push(shape.sep);
        name.push_str(truncate(role, shape.role));
    }
    name.push(shape.sep);
    name.push_str(&random(20));
    if shape.unix_time {
        name.push(shape.sep);
        name.push_str(&now.unix_timestamp().to_string());
    }
    let name = truncate(&name, shape.max);
    if shape.upper {
        name.to_uppercase()
    } else {
        name.to_owned()
    }
}

/// A `username_template` (Go text/template, as Vault's) rendered for a
/// new user: `.DisplayName`, `.RoleName`, and Vault's functions `random`,
/// `truncate`, `truncate_sha256`, `uppercase`, `lowercase`, `replace`,
/// `sha256`, `base64`, `unix_time`, `unix_time_millis`, `timestamp`,
/// `uuid`. An error says what is wrong with the template.
pub fn render_username(
    template: &str,
    display_name: &str,
    role: &str,
    now: OffsetDateTime,
) -> Result<String, String> {
    use gotmpl::{Template, Value};
    use sha2::Digest;
    fn s(v: &Value) -> String {
        match v {
            Value::String(s) => s.to_string(),
            other => other.to_string(),
        }
    }
    fn n(v: &Value) -> gotmpl::Result<usize> {
        v.as_int()
            .and_then(|i| usize::try_from(i).ok())
            .ok_or_else(|| gotmpl::TemplateError::Exec("expected a number".into()))
    }
    fn arg(args: &[Value], i: usize) -> gotmpl::Result<Value> {
        args.get(i)
            .cloned()
            .ok_or_else(|| gotmpl::TemplateError::Exec("missing argument".into()))
    }
    fn text(v: String) -> gotmpl::Result<Value> {
        Ok(Value::String(v.into()))
    }
    let unix = now.unix_timestamp();
    let millis = i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
    let tmpl = Template::new("username")
        .missing_key(gotmpl::MissingKey::Error)
        .func("random", |a| text(random(n(&arg(a, 0)?)?)))
        .func("truncate", |a| {
            let len = n(&arg(a, 0)?)?;
            text(truncate(&s(&arg(a, 1)?), len).to_owned())
        })
        .func("truncate_sha256", |a| {
            let len = n(&arg(a, 0)?)?;
            let v = s(&arg(a, 1)?);
            if v.chars().count() <= len {
                return text(v);
            }
            let digest = hex::encode(sha2::Sha256::digest(v.as_bytes()));
            let tail = &digest[..8.min(len)];
            text(format!("{}{tail}", truncate(&v, len - tail.len())))
        })
        .func("uppercase", |a| text(s(&arg(a, 0)?).to_uppercase()))
        .func("lowercase", |a| text(s(&arg(a, 0)?).to_lowercase()))
        .func("replace", |a| {
            let (from, to, v) = (s(&arg(a, 0)?), s(&arg(a, 1)?), s(&arg(a, 2)?));
            text(v.replace(&from, &to))
        })
        .func("sha256", |a| {
            text(hex::encode(sha2::Sha256::digest(s(&arg(a, 0)?).as_bytes())))
        })
        .func("base64", |a| {
            use base64::Engine;
            text(base64::engine::general_purpose::STANDARD.encode(s(&arg(a, 0)?)))
        })
        // Strings, as Vault's (`printf "%s" (unix_time)` works).
        .func("unix_time", move |_| text(unix.to_string()))
        .func("unix_time_millis", move |_| text(millis.to_string()))
        .func("timestamp", move |_| text(crate::clock::rfc3339(now)))
        .func("uuid", |_| text(uuid::Uuid::new_v4().to_string()))
        .parse(template)
        .map_err(|e| format!("unable to initialize username template: {e}"))?;
    let data = gotmpl::tmap! { "DisplayName" => display_name, "RoleName" => role };
    let out = tmpl
        .execute_to_string(&data)
        .map_err(|e| format!("unable to generate username: {e}"))?;
    if out.is_empty() {
        return Err("unable to generate username: the template produced an empty name".into());
    }
    Ok(out)
}

/// A password as Vault's default policy makes them: 20 characters of
/// letters, digits and `-`, at least one of each kind of letter and digit.
pub fn password() -> String {
    const CHARSET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-";
    let mut rng = rand::rngs::OsRng;
    loop {
        let p: String = (0..20)
            .map(|_| CHARSET[rng.gen_range(0..CHARSET.len())] as char)
            .collect();
        if p.chars().any(|c| c.is_ascii_lowercase())
            && p.chars().any(|c| c.is_ascii_uppercase())
            && p.chars().any(|c| c.is_ascii_digit())
        {
            return p;
        }
    }
}

/// `2006-01-02 15:04:05-0700`, the timestamp Vault fills `{{expiration}}`
/// with (UTC).
pub fn expiration(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}+0000",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

/// A statement with its placeholders filled.
pub fn fill(statement: &str, name: &str, password: &str, expiration: &str) -> String {
    statement
        .replace("{{name}}", name)
        .replace("{{username}}", name)
        .replace("{{password}}", password)
        .replace("{{expiration}}", expiration)
}

/// A role's statements, each split at `;` into the statements it holds
/// (Vault accepts both one statement per list item and several per item).
pub fn split(statements: &[String]) -> Vec<String> {
    statements
        .iter()
        .flat_map(|s| s.split(';'))
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_have_vaults_shape() {
        let now = OffsetDateTime::from_unix_timestamp(1_796_306_103).unwrap();
        let u = username("token", "app", now, POSTGRES_NAME);
        let parts: Vec<&str> = u.split('-').collect();
        assert_eq!(parts[..3], ["v", "token", "app"]);
        assert_eq!(parts[3].len(), 20);
        assert_eq!(parts[4], "1796306103");
        let long = username(
            "a-very-long-display-name",
            "a-very-long-role-name",
            now,
            POSTGRES_NAME,
        );
        assert!(long.starts_with("v-a-very-l-a-very-l-"));
        assert!(long.len() <= 63);
        assert_eq!(
            username("ü".repeat(20).as_str(), "r", now, POSTGRES_NAME)
                .chars()
                .nth(2),
            Some('ü')
        );
        let m = username("token", "readonly-app", now, MYSQL_NAME);
        assert!(m.starts_with("v-token-readonly-a-"), "{m}");
        assert_eq!(m.len(), 32);
        let l = username("token", "readonly", now, MYSQL_LEGACY_NAME);
        assert!(l.starts_with("v-read-"), "{l}");
        assert_eq!(l.len(), 16);
        let r = username("token", "cache", now, REDIS_NAME);
        assert!(r.starts_with("V_TOKEN_CACHE_"), "{r}");
        assert!(r.ends_with("_1796306103"));
        assert_eq!(r, r.to_uppercase());
    }

    #[test]
    fn username_templates_render_as_vaults() {
        let now = OffsetDateTime::from_unix_timestamp(1_796_306_103).unwrap();
        let u = render_username(
            "{{ printf \"v-%s-%s-%s\" (.RoleName | truncate 4) (random 6) (unix_time) }}",
            "token",
            "readonly",
            now,
        )
        .unwrap();
        assert!(u.starts_with("v-read-"), "{u}");
        assert!(u.ends_with("-1796306103"), "{u}");
        assert_eq!(u.len(), "v-read-".len() + 6 + 1 + 10);
        assert_eq!(
            render_username(
                "{{.DisplayName | uppercase}}_{{.RoleName | replace \"-\" \"_\"}}",
                "tok",
                "my-app",
                now
            )
            .unwrap(),
            "TOK_my_app"
        );
        let long = render_username(
            "{{ truncate_sha256 12 .RoleName }}",
            "",
            "a-very-long-role-name",
            now,
        )
        .unwrap();
        assert_eq!(long.len(), 12);
        assert!(long.starts_with("a-ve"));
        for (bad, says) in [
            ("{{ .RoleName", "unable to initialize username template"),
            ("{{ .Nope }}", "unable to generate username"),
            (
                "{{ nosuchfunc 1 }}",
                "unable to generate username: undefined function",
            ),
            ("", "unable to generate username"),
        ] {
            let e = render_username(bad, "t", "r", now).unwrap_err();
            assert!(e.starts_with(says), "{bad}: {e}");
        }
    }

    #[test]
    fn passwords_and_expirations() {
        for _ in 0..100 {
            let p = password();
            assert_eq!(p.len(), 20);
            assert!(p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        }
        let at = OffsetDateTime::from_unix_timestamp(1_796_306_103).unwrap();
        assert_eq!(expiration(at), "2026-12-03 13:55:03+0000");
    }

    #[test]
    fn statements_are_split_and_filled() {
        let s = vec![
            "CREATE ROLE \"{{name}}\" WITH LOGIN PASSWORD '{{password}}' VALID UNTIL '{{expiration}}';\n GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"{{username}}\";".to_owned(),
            " ".to_owned(),
        ];
        let parts = split(&s);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            fill(&parts[0], "v-x", "pw", "2026-01-01 00:00:00+0000"),
            "CREATE ROLE \"v-x\" WITH LOGIN PASSWORD 'pw' VALID UNTIL '2026-01-01 00:00:00+0000'"
        );
        assert_eq!(
            fill(&parts[1], "v-x", "", ""),
            "GRANT SELECT ON ALL TABLES IN SCHEMA public TO \"v-x\""
        );
    }
}

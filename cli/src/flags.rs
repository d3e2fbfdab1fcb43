//! Go-style flag parsing: `-flag=value`, `-flag value`, `--flag=value`,
//! boolean `-flag` / `-flag=false`, repeatable list and `k=v` flags, `--`
//! ending the flags. Like the Go CLI, values are checked while parsing and
//! errors use Go's `flag` package wording; unlike it, flags may also follow
//! positional arguments.

use std::collections::BTreeMap;

use crate::wrap::wrap;
use arca_client::duration::GoDuration;

/// What a flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `-flag` or `-flag=true|false`.
    Bool,
    /// Any string.
    Str,
    /// A signed integer.
    Int,
    /// A duration (`1h`, `90s`, `90`).
    Duration,
    /// Repeatable; each value is also split on commas.
    List,
    /// Repeatable `key=value`.
    Map,
}

/// One flag a command accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    pub(crate) name: &'static str,
    pub(crate) aliases: &'static [&'static str],
    pub(crate) kind: Kind,
    pub(crate) usage: &'static str,
    pub(crate) default: Option<&'static str>,
    pub(crate) env: Option<&'static str>,
}

impl Flag {
    pub(crate) const fn new(name: &'static str, kind: Kind, usage: &'static str) -> Self {
        Self {
            name,
            aliases: &[],
            kind,
            usage,
            default: None,
            env: None,
        }
    }

    /// The default shown in help.
    pub(crate) const fn default(mut self, default: &'static str) -> Self {
        self.default = Some(default);
        self
    }

    /// Other names for the same flag.
    pub(crate) const fn aliases(mut self, aliases: &'static [&'static str]) -> Self {
        self.aliases = aliases;
        self
    }

    /// The environment variable shown in help.
    pub(crate) const fn env(mut self, env: &'static str) -> Self {
        self.env = Some(env);
        self
    }

    fn matches(&self, name: &str) -> bool {
        self.name == name || self.aliases.contains(&name)
    }
}

/// A titled group of flags, for help output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Group {
    pub(crate) title: &'static str,
    pub(crate) flags: &'static [Flag],
}

/// Why parsing stopped.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FlagError {
    /// `-h`, `-help` or `--help` was given.
    #[error("help requested")]
    Help,
    /// A flag is unknown or has a bad value; the message is Go's.
    #[error("{0}")]
    Invalid(String),
}

/// Parsed flags and the positional arguments left over.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    values: BTreeMap<&'static str, Vec<String>>,
    pub(crate) args: Vec<String>,
}

const HELP_FLAGS: [&str; 4] = ["-h", "-help", "--help", "--h"];

/// Parses `args` against the flags of `groups`.
pub(crate) fn parse(groups: &[Group], args: &[String]) -> Result<Parsed, FlagError> {
    let mut parsed = Parsed::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        i += 1;
        if arg == "--" {
            parsed.args.extend(args[i..].iter().cloned());
            break;
        }
        if arg.len() < 2 || !arg.starts_with('-') {
            parsed.args.push(arg.clone());
            continue;
        }
        if HELP_FLAGS.contains(&arg.as_str()) {
            return Err(FlagError::Help);
        }
        let body = arg.strip_prefix("--").unwrap_or(&arg[1..]);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(FlagError::Invalid(format!("bad flag syntax: {arg}")));
        }
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (body, None),
        };
        let flag = groups
            .iter()
            .flat_map(|g| g.flags.iter())
            .find(|f| f.matches(name))
            .ok_or_else(|| FlagError::Invalid(format!("flag provided but not defined: -{name}")))?;
        let value = match (flag.kind, inline) {
            (Kind::Bool, None) => "true".to_string(),
            (Kind::Bool, Some(v)) => match parse_bool(&v) {
                Some(b) => b.to_string(),
                None => {
                    return Err(FlagError::Invalid(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    )));
                }
            },
            (_, Some(v)) => v,
            (_, None) => match args.get(i) {
                Some(v) => {
                    i += 1;
                    v.clone()
                }
                None => {
                    return Err(FlagError::Invalid(format!(
                        "flag needs an argument: -{name}"
                    )));
                }
            },
        };
        check_value(flag, name, &value)?;
        parsed.values.entry(flag.name).or_default().push(value);
    }
    Ok(parsed)
}

fn check_value(flag: &Flag, name: &str, value: &str) -> Result<(), FlagError> {
    let invalid = |why: String| {
        FlagError::Invalid(format!("invalid value {value:?} for flag -{name}: {why}"))
    };
    match flag.kind {
        // The Go CLI's own int flags report strconv's error, not the flag
        // package's "parse error".
        Kind::Int => value.parse::<i64>().map(|_| ()).map_err(|e| {
            let why = match e.kind() {
                std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                    "value out of range"
                }
                _ => "invalid syntax",
            };
            invalid(format!(
                "strconv.ParseInt: parsing {}: {why}",
                crate::output::value::go_quote(value)
            ))
        }),
        Kind::Duration => GoDuration::parse(value).map(|_| ()).map_err(invalid),
        Kind::Map => match value.split_once('=') {
            Some(_) => Ok(()),
            None => Err(invalid(format!("missing = in KV pair: {value:?}"))),
        },
        Kind::Bool | Kind::Str | Kind::List => Ok(()),
    }
}

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

impl Parsed {
    /// Whether the flag was given at all.
    pub(crate) fn is_set(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    fn last(&self, name: &str) -> Option<&str> {
        self.values
            .get(name)
            .and_then(|v| v.last())
            .map(String::as_str)
    }

    /// A boolean flag (false when absent).
    pub(crate) fn bool(&self, name: &str) -> bool {
        self.last(name).and_then(parse_bool).unwrap_or(false)
    }

    /// A boolean flag with its default when absent.
    pub(crate) fn bool_or(&self, name: &str, default: bool) -> bool {
        self.last(name).and_then(parse_bool).unwrap_or(default)
    }

    /// A string flag, if given.
    pub(crate) fn str(&self, name: &str) -> Option<&str> {
        self.last(name)
    }

    /// A string flag, or "" when absent.
    pub(crate) fn string(&self, name: &str) -> String {
        self.last(name).unwrap_or_default().to_string()
    }

    /// An integer flag, or 0 (values were checked while parsing).
    pub(crate) fn int(&self, name: &str) -> i64 {
        self.last(name).and_then(|v| v.parse().ok()).unwrap_or(0)
    }

    /// A duration flag, or zero.
    pub(crate) fn duration(&self, name: &str) -> GoDuration {
        self.last(name)
            .and_then(|v| GoDuration::parse(v).ok())
            .unwrap_or_default()
    }

    /// Every value of a list flag, split on commas and trimmed.
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.values
            .get(name)
            .map(|vs| {
                vs.iter()
                    .flat_map(|v| v.split(','))
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// A `key=value` flag as a map (later keys win).
    pub(crate) fn map(&self, name: &str) -> BTreeMap<String, String> {
        self.values
            .get(name)
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The flag section of a command's help.
pub(crate) fn help(groups: &[Group]) -> String {
    let mut out = String::new();
    for group in groups.iter().filter(|g| !g.flags.is_empty()) {
        out.push_str(group.title);
        out.push_str(":\n");
        let mut flags: Vec<&Flag> = group.flags.iter().collect();
        flags.sort_by_key(|f| f.name);
        for f in flags {
            let placeholder = match f.kind {
                Kind::Bool => "",
                Kind::Str | Kind::List => "=<string>",
                Kind::Int => "=<int>",
                Kind::Duration => "=<duration>",
                Kind::Map => "=<key=value>",
            };
            out.push_str(&format!("\n  -{}{placeholder}\n", f.name));
            let mut text = f.usage.to_string();
            if let Some(d) = f.default {
                text.push_str(&format!(" The default is {d}."));
            }
            if let Some(env) = f.env {
                text.push_str(&format!(
                    " This can also be specified via the {env} environment variable."
                ));
            }
            for line in wrap(&text, 72).lines() {
                out.push_str("      ");
                out.push_str(line);
                out.push('\n');
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const FLAGS: &[Flag] = &[
        Flag::new("policy", Kind::List, "Policies."),
        Flag::new("ttl", Kind::Duration, "TTL."),
        Flag::new("orphan", Kind::Bool, "Orphan."),
        Flag::new("use-limit", Kind::Int, "Uses."),
        Flag::new("metadata", Kind::Map, "Metadata."),
        Flag::new("key-shares", Kind::Int, "Shares.").aliases(&["n"]),
        Flag::new("format", Kind::Str, "Format.").default("table"),
    ];
    const GROUPS: &[Group] = &[Group {
        title: "Command Options",
        flags: FLAGS,
    }];

    fn p(args: &[&str]) -> Result<Parsed, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(GROUPS, &args)
    }

    #[test]
    fn parses_go_style_flags() {
        let r = p(&[
            "-policy=a,b",
            "--policy",
            "c",
            "-ttl",
            "1h",
            "-orphan",
            "-use-limit=3",
            "-metadata=k=v=w",
            "-n",
            "5",
            "pos1",
            "-format=json",
            "pos2",
        ])
        .unwrap();
        assert_eq!(r.list("policy"), vec!["a", "b", "c"]);
        assert_eq!(r.duration("ttl").whole_secs(), 3600);
        assert!(r.bool("orphan"));
        assert_eq!(r.int("use-limit"), 3);
        assert_eq!(r.map("metadata")["k"], "v=w");
        assert_eq!(r.int("key-shares"), 5);
        assert_eq!(r.str("format"), Some("json"));
        assert_eq!(r.args, vec!["pos1", "pos2"]);
    }

    #[test]
    fn bool_flags_do_not_take_the_next_argument() {
        let r = p(&["-orphan", "value", "-orphan=false"]).unwrap();
        assert!(!r.bool("orphan"));
        assert!(r.is_set("orphan"));
        assert_eq!(r.args, vec!["value"]);
    }

    #[test]
    fn dash_alone_and_double_dash_are_positional() {
        let r = p(&["-", "--", "-orphan"]).unwrap();
        assert_eq!(r.args, vec!["-", "-orphan"]);
        assert!(!r.is_set("orphan"));
    }

    #[test]
    fn errors_use_go_wording() {
        let msg = |args: &[&str]| match p(args) {
            Err(FlagError::Invalid(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            msg(&["-accessor"]),
            "flag provided but not defined: -accessor"
        );
        assert_eq!(msg(&["-ttl"]), "flag needs an argument: -ttl");
        assert_eq!(
            msg(&["-use-limit=x"]),
            "invalid value \"x\" for flag -use-limit: strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            msg(&["-orphan=maybe"]),
            "invalid boolean value \"maybe\" for -orphan: parse error"
        );
        assert!(msg(&["-ttl=bogus"]).starts_with("invalid value \"bogus\" for flag -ttl: "));
        assert!(msg(&["-metadata=x"]).contains("missing = in KV pair"));
        assert_eq!(msg(&["---x"]), "bad flag syntax: ---x");
        assert_eq!(p(&["pos", "-h"]).unwrap_err(), FlagError::Help);
        assert_eq!(p(&["--help"]).unwrap_err(), FlagError::Help);
    }

    #[test]
    fn help_lists_flags_with_defaults() {
        let h = help(GROUPS);
        assert!(h.starts_with(
            "Command Options:\n\n  -format=<string>\n      Format. The default is table.\n"
        ));
        assert!(h.contains("  -orphan\n"));
    }
}

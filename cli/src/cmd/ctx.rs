//! What a running command has at hand: its parsed flags, the output format,
//! the I/O streams, and the shared ways of building a client and printing
//! results.

use arca_client::{Client, Secret};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::flags::{Parsed, parse_bool};
use crate::io::Io;
use crate::output::Format;
use crate::output::json::{Sorted, to_json};
use crate::output::secret::{field_text, raw_field, secret_json, secret_table, warnings_text};
use crate::output::table::table;
use crate::token_helper;

/// Used when neither `-address` nor `ARCA_ADDR`/`VAULT_ADDR` is given, like Vault.
pub(crate) const DEFAULT_ADDRESS: &str = "https://127.0.0.1:8200";

/// Environment variables, Arca's first, then Vault's.
pub(crate) const ENV_ADDR: &[&str] = &["ARCA_ADDR", "VAULT_ADDR"];
pub(crate) const ENV_TOKEN: &[&str] = &["ARCA_TOKEN", "VAULT_TOKEN"];
pub(crate) const ENV_CACERT: &[&str] = &["ARCA_CACERT", "VAULT_CACERT"];
pub(crate) const ENV_SKIP_VERIFY: &[&str] = &["ARCA_SKIP_VERIFY", "VAULT_SKIP_VERIFY"];
pub(crate) const ENV_FORMAT: &[&str] = &["ARCA_FORMAT", "VAULT_FORMAT"];

/// A running command.
pub(crate) struct Ctx<'a> {
    pub(crate) io: &'a mut Io,
    pub(crate) flags: Parsed,
    pub(crate) format: Format,
}

impl Ctx<'_> {
    /// Positional arguments.
    pub(crate) fn args(&self) -> &[String] {
        &self.flags.args
    }

    /// Checks the number of positional arguments: a usage error in the Go
    /// CLI's words when it is wrong. `max` of `None` means no upper bound.
    pub(crate) fn arity(&self, min: usize, max: Option<usize>) -> Result<()> {
        let got = self.flags.args.len();
        let expected = match max {
            Some(m) if m == min => min.to_string(),
            Some(m) => format!("{min}-{m}"),
            None => format!("at least {min}"),
        };
        if got < min {
            return Err(Error::Usage(format!(
                "Not enough arguments (expected {expected}, got {got})"
            )));
        }
        if max.is_some_and(|m| got > m) {
            return Err(Error::Usage(format!(
                "Too many arguments (expected {expected}, got {got})"
            )));
        }
        Ok(())
    }

    /// The client the global flags and environment describe: `-address`,
    /// `-ca-cert`, `-tls-skip-verify`, then `ARCA_*`/`VAULT_*`, and the
    /// token from `ARCA_TOKEN`/`VAULT_TOKEN` or the token helper.
    pub(crate) fn client(&self) -> Result<Client> {
        let address = self
            .flags
            .str("address")
            .map(str::to_string)
            .or_else(|| self.io.first_var(ENV_ADDR).map(|(_, v)| v))
            .unwrap_or_else(|| DEFAULT_ADDRESS.to_string());
        let mut builder = Client::builder(address);
        let ca = self
            .flags
            .str("ca-cert")
            .map(str::to_string)
            .or_else(|| self.io.first_var(ENV_CACERT).map(|(_, v)| v));
        if let Some(ca) = ca {
            builder = builder.ca_cert(ca);
        }
        let skip = if self.flags.is_set("tls-skip-verify") {
            self.flags.bool("tls-skip-verify")
        } else {
            match self.io.first_var(ENV_SKIP_VERIFY) {
                Some((name, v)) => parse_bool(&v)
                    .ok_or_else(|| Error::Client(format!("could not parse {name}")))?,
                None => false,
            }
        };
        builder = builder.tls_skip_verify(skip);
        let token = match self.io.first_var(ENV_TOKEN) {
            Some((_, t)) => Some(t),
            None => token_helper::get(self.io).map_err(|e| {
                Error::Client(format!("failed to get token from token helper: {e}"))
            })?,
        };
        if let Some(token) = token {
            builder = builder.token(token);
        }
        builder.build().map_err(|e| Error::Client(e.to_string()))
    }

    /// The `-field` flag, if given.
    pub(crate) fn field(&self) -> Option<String> {
        self.flags
            .str("field")
            .filter(|f| !f.is_empty())
            .map(str::to_string)
    }

    /// A line on stdout.
    pub(crate) fn out(&mut self, line: &str) {
        self.io.out(line);
    }

    /// A line on stderr.
    pub(crate) fn err(&mut self, line: &str) {
        self.io.err(line);
    }

    /// A success line, printed in table format only so that JSON output
    /// stays parseable.
    pub(crate) fn success(&mut self, line: &str) {
        if self.format == Format::Table {
            self.out(line);
        }
    }

    /// Prints a secret in the chosen format (`-field` aside).
    pub(crate) fn output_secret(&mut self, secret: &Secret) {
        match self.format {
            Format::Json => {
                let json = secret_json(secret);
                self.out(&json);
            }
            Format::Table => {
                self.output_warnings(secret);
                if let Some(t) = secret_table(secret) {
                    self.out(&t);
                }
            }
        }
    }

    /// A secret's warnings, on stderr, in table format.
    pub(crate) fn output_warnings(&mut self, secret: &Secret) {
        if let Some(w) = warnings_text(secret) {
            self.io.err(w.trim_end_matches('\n'));
            self.io.err("");
        }
    }

    /// The answer of a LIST: its keys, sorted, as JSON or a `Keys` table
    /// under the answer's warnings. Nothing to list is exit code 2: an
    /// empty JSON object, or the Go CLI's error in table format.
    pub(crate) fn output_list(&mut self, path: &str, answer: Option<Secret>) -> Result<i32> {
        let keys = answer
            .as_ref()
            .and_then(|s| s.field("keys"))
            .and_then(Value::as_array)
            .cloned();
        if self.format == Format::Json {
            return Ok(match keys {
                Some(keys) => {
                    self.output_json(&Sorted(&Value::Array(keys)));
                    0
                }
                None => {
                    self.output_json(&Map::new());
                    2
                }
            });
        }
        let secret = answer
            .filter(|s| s.data.is_some())
            .ok_or_else(|| Error::Response(format!("No value found at {path}")))?;
        let keys = keys.ok_or_else(|| Error::Response(format!("No entries found at {path}")))?;
        self.output_warnings(&secret);
        let mut names: Vec<String> = keys
            .iter()
            .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
            .collect();
        if names.is_empty() {
            return Ok(0);
        }
        names.sort();
        let t = table(&["Keys"], names.into_iter().map(|n| vec![n]).collect());
        self.out(&t);
        Ok(0)
    }

    /// Prints `-field` if given, the whole secret otherwise.
    pub(crate) fn output_secret_or_field(&mut self, secret: &Secret) -> Result<()> {
        match self.field() {
            Some(field) => self.print_field(secret, &field),
            None => {
                self.output_secret(secret);
                Ok(())
            }
        }
    }

    /// What a write answered: the secret (or its `-field`), or the Go
    /// CLI's success line when nothing came back.
    pub(crate) fn output_written(&mut self, path: &str, answer: Option<Secret>) -> Result<()> {
        match answer {
            Some(secret) => self.output_secret_or_field(&secret),
            None => {
                self.success(&format!("Success! Data written to: {path}"));
                Ok(())
            }
        }
    }

    /// Prints one field of a secret raw: no trailing newline unless stdout
    /// is a terminal, so it pipes cleanly.
    pub(crate) fn print_field(&mut self, secret: &Secret, field: &str) -> Result<()> {
        let v = raw_field(secret, field).ok_or_else(|| Error::NoField {
            field: field.to_string(),
            container: "secret",
        })?;
        self.print_raw(&v);
        Ok(())
    }

    /// Prints a field's value raw (see [`Ctx::print_field`]).
    pub(crate) fn print_raw(&mut self, v: &Value) {
        let text = field_text(v, self.format == Format::Json);
        if self.io.is_terminal() {
            self.out(&text);
        } else {
            self.io.out_raw(&text);
        }
    }

    /// Prints any serializable value as Go-style JSON.
    pub(crate) fn output_json<T: Serialize + ?Sized>(&mut self, value: &T) {
        let json = to_json(value);
        self.out(&json);
    }

    /// Reads a file, or stdin for `-`.
    pub(crate) fn read_file_or_stdin(&mut self, path: &str) -> Result<String, String> {
        if path == "-" {
            return self.io.read_stdin().map_err(|e| e.to_string());
        }
        std::fs::read_to_string(path).map_err(|e| go_io_error("open", path, &e))
    }
}

/// An I/O error worded like Go's `*PathError` (`open x: no such file or directory`).
pub(crate) fn go_io_error(op: &str, path: &str, e: &std::io::Error) -> String {
    let what = match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "is a directory".to_string(),
        _ => e.to_string(),
    };
    format!("{op} {path}: {what}")
}

/// Vault's `sanitizePath`: no leading or trailing slashes.
pub(crate) fn sanitize_path(p: &str) -> String {
    p.trim().trim_matches('/').to_string()
}

/// Vault's `ensureTrailingSlash`.
pub(crate) fn with_trailing_slash(p: &str) -> String {
    let p = p.trim();
    if p.is_empty() || p.ends_with('/') {
        p.to_string()
    } else {
        format!("{p}/")
    }
}

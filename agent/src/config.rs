//! The agent's configuration: Vault Agent's HCL (or its JSON form, which
//! the injector passes in an environment variable), read into typed
//! settings. A key Vault Agent does not have is an error naming the file
//! and line; a key it has that Arca does not act on is a warning naming it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use arca_client::duration;
use arca_client::hcl::{self, Block, Body, Item, Kind, Value};
use serde_json::Value as Json;

/// Everything `arca-agent` was told.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub vault: VaultConf,
    pub auto_auth: Option<AutoAuth>,
    pub templates: Vec<Template>,
    pub template_config: TemplateConfig,
    pub env_templates: Vec<EnvTemplate>,
    pub exec: Option<Exec>,
    pub exit_after_auth: bool,
    pub pid_file: Option<PathBuf>,
    /// Arca's: written (empty) once every template has rendered; the
    /// readiness marker where no listener serves `/agent/v1/health`.
    pub ready_file: Option<PathBuf>,
    /// Arca's: on SIGTERM in sidecar mode, revoke the leases held and the
    /// agent's token (vault-k8s's `agent-revoke-on-shutdown`).
    pub revoke_on_shutdown: bool,
    /// Arca's: where the init container leaves its token and secrets for
    /// the sidecar (see `handoff`).
    pub handoff_file: Option<PathBuf>,
    /// `api_proxy { use_auto_auth_token }`: `Some(force)` when the proxy
    /// adds the agent's token (to every request when `force`).
    pub proxy_token: Option<bool>,
    /// Whether `api_proxy` or `cache` is configured (the listener proxies).
    pub proxy: bool,
    /// `cache {}`: leased answers are served again from memory.
    pub cache: bool,
    pub listeners: Vec<Listener>,
    /// Keys Vault Agent knows and Arca does not act on, with where.
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct VaultConf {
    /// Else `VAULT_ADDR`, else `https://127.0.0.1:8200`.
    pub address: Option<String>,
    pub ca_cert: Option<PathBuf>,
    pub tls_skip_verify: bool,
    /// `retry { num_retries }`: attempts of a request before it fails
    /// (Vault Agent's default 12).
    pub num_retries: u32,
}

#[derive(Debug, Clone)]
pub struct AutoAuth {
    pub method: Method,
    pub sinks: Vec<Sink>,
}

#[derive(Debug, Clone)]
pub struct Method {
    /// kubernetes, approle, jwt, token_file.
    pub kind: String,
    /// `auth/<kind>` unless given.
    pub mount_path: String,
    /// The method's `config` map (role, token_path, role_id_file_path, ...).
    pub config: BTreeMap<String, Json>,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    pub exit_on_err: bool,
}

impl Method {
    /// A string setting of the method's `config`.
    pub fn setting(&self, key: &str) -> Option<String> {
        match self.config.get(key)? {
            Json::String(s) => Some(s.clone()),
            Json::Bool(b) => Some(b.to_string()),
            Json::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Sink {
    pub path: PathBuf,
    pub mode: u32,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub source: Option<PathBuf>,
    pub contents: Option<String>,
    pub destination: PathBuf,
    pub perms: u32,
    /// A command run after the file changed (a shell line, or argv).
    pub command: Option<Vec<String>>,
    pub command_timeout: Duration,
    pub error_on_missing_key: bool,
    pub left_delimiter: String,
    pub right_delimiter: String,
    pub create_dest_dirs: bool,
    /// Arca's: a signal sent after the file changed (`signal = "SIGHUP"`),
    /// to the process of `signal_pid_file`, or to every process named
    /// `signal_process` (with a shared process namespace).
    pub signal: Option<Signal>,
    /// Arca's: the command and signal run this long after the file
    /// changed, once for whatever changed meanwhile (default 0: at once).
    pub min_interval: Duration,
    /// Where it was configured (`agent.hcl:12`), for messages.
    pub origin: String,
    /// consul-template's `user`/`uid` and `group`/`gid`.
    pub owner: crate::files::Owner,
}

/// A template's signal and whom it goes to.
#[derive(Debug, Clone)]
pub struct Signal {
    pub name: String,
    pub pid_file: Option<PathBuf>,
    pub process: Option<String>,
}

#[derive(Debug, Clone)]
pub struct TemplateConfig {
    pub static_secret_render_interval: Duration,
    pub exit_on_retry_failure: bool,
    pub max_connections_per_host: u32,
    /// Fraction of a lease after which it is renewed (Vault's default 0.9;
    /// Arca renews at two thirds unless told).
    pub lease_renewal_threshold: f64,
    /// Arca: listen to the server's event stream and re-render on a
    /// change (default true; polling stays the fallback).
    pub event_stream: bool,
}

impl Default for TemplateConfig {
    fn default() -> Self {
        Self {
            static_secret_render_interval: Duration::from_secs(300),
            exit_on_retry_failure: false,
            max_connections_per_host: 10,
            lease_renewal_threshold: 2.0 / 3.0,
            event_stream: true,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EnvTemplate {
    pub name: String,
    pub contents: String,
    pub error_on_missing_key: bool,
}

#[derive(Debug, Clone)]
pub struct Exec {
    pub command: Vec<String>,
    /// `restart_on_secret_changes = "always"` (default) or `"never"`.
    pub restart_on_secret_changes: bool,
    pub restart_stop_signal: String,
    /// Arca's: a change restarts the application this long after it, with
    /// whatever changed meanwhile: a burst makes one restart (default 1s).
    pub min_interval: Duration,
    /// Arca's: how long the stop signal has before SIGKILL (default 30s).
    pub restart_grace: Duration,
}

#[derive(Debug, Clone)]
pub struct Listener {
    pub kind: String,
    pub address: String,
    pub tls_disable: bool,
    /// PEM files; needed unless `tls_disable`, as in Vault Agent.
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// `unix` listeners: the socket's mode (`socket_mode = "0600"`).
    pub socket_mode: Option<u32>,
}

/// The id of a user or group by name, from `/etc/passwd` or `/etc/group`
/// (`name:x:id:…`).
fn lookup_id(db: &str, name: &str) -> Option<u32> {
    std::fs::read_to_string(db).ok()?.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == name).then(|| f.nth(1)?.parse().ok())?
    })
}

/// A configuration that cannot be used, with where.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

type Result<T> = std::result::Result<T, ConfigError>;

/// Reads a Vault Agent configuration from HCL (`origin` names the file in
/// messages).
pub fn from_hcl(src: &str, origin: &str) -> Result<Config> {
    let body = hcl::parse(src).map_err(|e| ConfigError(format!("{origin}: {e}")))?;
    decode(&body, origin)
}

/// Reads the JSON form (plain, or base64 of it: what the injector passes).
pub fn from_json(src: &str, origin: &str) -> Result<Config> {
    let text = src.trim();
    let decoded;
    let text = if text.starts_with('{') {
        text
    } else {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| ConfigError(format!("{origin}: neither JSON nor base64 of JSON")))?;
        decoded = String::from_utf8(bytes)
            .map_err(|_| ConfigError(format!("{origin}: the base64 is not of UTF-8 text")))?;
        decoded.as_str()
    };
    let json: Json = serde_json::from_str(text)
        .map_err(|e| ConfigError(format!("{origin}: invalid JSON: {e}")))?;
    let Json::Object(map) = json else {
        return Err(ConfigError(format!(
            "{origin}: the configuration must be a JSON object"
        )));
    };
    decode(&json_body(&map, 1), origin)
}

/// The JSON form as an HCL body: objects are blocks, arrays of objects
/// repeated blocks, the rest attributes. A block kind that takes a label
/// (`env_template "NAME"`, `method "kubernetes"`) may be written with the
/// label as the object's one key, as HCL's JSON syntax does.
fn json_body(map: &serde_json::Map<String, Json>, depth: usize) -> Body {
    let mut items = Vec::new();
    for (k, v) in map {
        let block = |obj: &serde_json::Map<String, Json>| Item::Block(labelled(k, obj, depth));
        match v {
            // `config = {...}` stays a value: decoded as a map either way.
            Json::Object(obj) if k != "config" => items.push(block(obj)),
            Json::Array(list)
                if !list.is_empty() && list.iter().all(Json::is_object) && k != "command" =>
            {
                for o in list {
                    if let Json::Object(obj) = o {
                        items.push(block(obj));
                    }
                }
            }
            other => items.push(Item::Attr(hcl::Attr {
                key: k.clone(),
                value: json_value(other),
                line: 0,
            })),
        }
    }
    Body { items }
}

fn labelled(ident: &str, obj: &serde_json::Map<String, Json>, depth: usize) -> Block {
    let takes_label = matches!(ident, "env_template");
    if takes_label && obj.len() == 1 {
        if let Some((label, Json::Object(inner))) = obj.iter().next() {
            return Block {
                ident: ident.into(),
                labels: vec![label.clone()],
                body: json_body(inner, depth + 1),
                line: 0,
            };
        }
    }
    Block {
        ident: ident.into(),
        labels: Vec::new(),
        body: json_body(obj, depth + 1),
        line: 0,
    }
}

fn json_value(v: &Json) -> Value {
    let kind = match v {
        Json::Null => Kind::Null,
        Json::Bool(b) => Kind::Bool(*b),
        Json::Number(n) => Kind::Num(n.to_string()),
        Json::String(s) => Kind::Str(s.clone()),
        Json::Array(a) => Kind::List(a.iter().map(json_value).collect()),
        Json::Object(o) => {
            Kind::Object(o.iter().map(|(k, v)| (k.clone(), json_value(v))).collect())
        }
    };
    Value { kind, line: 0 }
}

/// One block's items, taken by name; whatever is left at `finish` is
/// unknown.
struct Section<'a> {
    origin: &'a str,
    what: String,
    items: Vec<Option<&'a Item>>,
}

fn at(origin: &str, line: usize) -> String {
    if line == 0 {
        origin.to_owned()
    } else {
        format!("{origin}:{line}")
    }
}

impl<'a> Section<'a> {
    fn new(body: &'a Body, origin: &'a str, what: impl Into<String>) -> Self {
        Self {
            origin,
            what: what.into(),
            items: body.items.iter().map(Some).collect(),
        }
    }

    fn key(item: &Item) -> &str {
        match item {
            Item::Attr(a) => &a.key,
            Item::Block(b) => &b.ident,
        }
    }

    /// Every item named `key`, taken.
    fn take_all(&mut self, key: &str) -> Vec<&'a Item> {
        self.items
            .iter_mut()
            .filter(|i| i.is_some_and(|i| Self::key(i) == key))
            .filter_map(Option::take)
            .collect()
    }

    fn attr(&mut self, key: &str) -> Result<Option<&'a Value>> {
        let mut found = self.take_all(key).into_iter();
        let first = found.next();
        if let Some(dup) = found.next() {
            return Err(self.err(line_of(dup), format!("{key} given twice in {}", self.what)));
        }
        match first {
            None => Ok(None),
            Some(Item::Attr(a)) => Ok(Some(&a.value)),
            Some(Item::Block(b)) => Err(self.err(
                b.line,
                format!("{key} in {} is a value, not a block", self.what),
            )),
        }
    }

    fn string(&mut self, key: &str) -> Result<Option<String>> {
        match self.attr(key)? {
            None => Ok(None),
            Some(v) => match &v.kind {
                Kind::Str(s) | Kind::Num(s) => Ok(Some(s.clone())),
                Kind::Bool(b) => Ok(Some(b.to_string())),
                Kind::Null => Ok(None),
                _ => Err(self.err(
                    v.line,
                    format!(
                        "{key} in {} must be a string, not a {}",
                        self.what,
                        v.type_name()
                    ),
                )),
            },
        }
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>> {
        match self.attr(key)? {
            None => Ok(None),
            Some(v) => match &v.kind {
                Kind::Bool(b) => Ok(Some(*b)),
                Kind::Str(s) if s == "true" || s == "false" => Ok(Some(s == "true")),
                Kind::Null => Ok(None),
                _ => Err(self.err(
                    v.line,
                    format!("{key} in {} must be true or false", self.what),
                )),
            },
        }
    }

    fn duration(&mut self, key: &str) -> Result<Option<Duration>> {
        let line = self.line_of_key(key);
        match self.string(key)? {
            None => Ok(None),
            Some(s) => duration::parse(&s)
                .map(Some)
                .map_err(|e| self.err(line, format!("{key} in {}: {e}", self.what))),
        }
    }

    /// A file mode: `0640` (octal, as Vault's configs write it), or a string.
    fn mode(&mut self, key: &str) -> Result<Option<u32>> {
        let line = self.line_of_key(key);
        match self.string(key)? {
            None => Ok(None),
            Some(s) => {
                let digits = s.trim().trim_start_matches("0o");
                u32::from_str_radix(digits, 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .map(Some)
                    .ok_or_else(|| {
                        self.err(
                            line,
                            format!("{key} in {}: {s:?} is not an octal file mode", self.what),
                        )
                    })
            }
        }
    }

    /// A string, or a list of strings (a command's argv).
    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>> {
        match self.attr(key)? {
            None => Ok(None),
            Some(v) => {
                match &v.kind {
                    Kind::Str(s) => Ok(Some(vec![s.clone()])),
                    Kind::List(items) => items
                        .iter()
                        .map(|i| match &i.kind {
                            Kind::Str(s) => Ok(s.clone()),
                            _ => Err(self
                                .err(i.line, format!("{key} in {} must list strings", self.what))),
                        })
                        .collect::<Result<Vec<_>>>()
                        .map(Some),
                    Kind::Null => Ok(None),
                    _ => Err(self.err(
                        v.line,
                        format!(
                            "{key} in {} must be a string or a list of strings",
                            self.what
                        ),
                    )),
                }
            }
        }
    }

    /// A map given as `key = { ... }` or as a block `key { ... }`.
    fn map(&mut self, key: &str) -> Result<BTreeMap<String, Json>> {
        let mut out = BTreeMap::new();
        for item in self.take_all(key) {
            match item {
                Item::Attr(a) => match &a.value.kind {
                    Kind::Object(fields) => {
                        for (k, v) in fields {
                            out.insert(k.clone(), to_json(v));
                        }
                    }
                    _ => {
                        return Err(
                            self.err(a.line, format!("{key} in {} must be an object", self.what))
                        );
                    }
                },
                Item::Block(b) => {
                    for i in &b.body.items {
                        if let Item::Attr(a) = i {
                            out.insert(a.key.clone(), to_json(&a.value));
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    fn blocks(&mut self, key: &str) -> Vec<&'a Block> {
        self.take_all(key)
            .into_iter()
            .filter_map(|i| match i {
                Item::Block(b) => Some(b),
                Item::Attr(_) => None,
            })
            .collect()
    }

    /// Keys Vault Agent has that Arca does not act on: taken, with a warning.
    fn unsupported(&mut self, keys: &[&str], warnings: &mut Vec<String>) {
        for key in keys {
            for item in self.take_all(key) {
                warnings.push(format!(
                    "{}: {key} in {} is not supported by arca-agent and is ignored",
                    at(self.origin, line_of(item)),
                    self.what
                ));
            }
        }
    }

    fn line_of_key(&self, key: &str) -> usize {
        self.items
            .iter()
            .flatten()
            .find(|i| Self::key(i) == key)
            .map_or(0, |i| line_of(i))
    }

    fn err(&self, line: usize, msg: String) -> ConfigError {
        ConfigError(format!("{}: {msg}", at(self.origin, line)))
    }

    /// Whatever was not taken is a key Vault Agent does not have.
    fn finish(self) -> Result<()> {
        match self.items.iter().flatten().next() {
            None => Ok(()),
            Some(item) => Err(self.err(
                line_of(item),
                format!("unknown key {:?} in {}", Self::key(item), self.what),
            )),
        }
    }
}

fn line_of(item: &Item) -> usize {
    match item {
        Item::Attr(a) => a.line,
        Item::Block(b) => b.line,
    }
}

fn to_json(v: &Value) -> Json {
    match &v.kind {
        Kind::Str(s) => Json::String(s.clone()),
        // HCL's leading zero is octal (`mode = 0640`).
        Kind::Num(n)
            if n.len() > 1 && n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit()) =>
        {
            i64::from_str_radix(n, 8).map_or_else(|_| Json::String(n.clone()), Json::from)
        }
        Kind::Num(n) => n
            .parse::<i64>()
            .map(Json::from)
            .or_else(|_| n.parse::<f64>().map(Json::from))
            .unwrap_or_else(|_| Json::String(n.clone())),
        Kind::Bool(b) => Json::Bool(*b),
        Kind::Null => Json::Null,
        Kind::List(items) => Json::Array(items.iter().map(to_json).collect()),
        Kind::Object(fields) => Json::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
    }
}

/// The block's one label, or its `type` attribute.
fn kind_of(b: &Block, s: &mut Section<'_>) -> Result<String> {
    let typed = s.string("type")?;
    match (b.labels.first(), typed) {
        (Some(l), None) => Ok(l.clone()),
        (None, Some(t)) => Ok(t),
        (Some(l), Some(t)) if *l == t => Ok(t),
        _ => Err(s.err(
            b.line,
            format!("{} needs one type: a label or `type`", b.ident),
        )),
    }
}

fn decode(body: &Body, origin: &str) -> Result<Config> {
    let mut c = Config::default();
    let mut top = Section::new(body, origin, "the configuration");
    c.exit_after_auth = top.bool("exit_after_auth")?.unwrap_or(false);
    c.pid_file = top
        .string("pid_file")?
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    c.ready_file = top
        .string("ready_file")?
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    c.revoke_on_shutdown = top.bool("revoke_on_shutdown")?.unwrap_or(false);
    for b in top.blocks("api_proxy") {
        let mut s = Section::new(&b.body, origin, "api_proxy");
        c.proxy = true;
        c.proxy_token = match s.string("use_auto_auth_token")?.as_deref() {
            None | Some("false") => None,
            Some("true") => Some(false),
            Some("force") => Some(true),
            Some(other) => {
                return Err(s.err(
                    b.line,
                    format!("use_auto_auth_token must be true, false or \"force\", not {other:?}"),
                ));
            }
        };
        s.unsupported(
            &["enforce_consistency", "when_inconsistent"],
            &mut c.warnings,
        );
        s.finish()?;
    }
    for b in top.blocks("cache") {
        let mut s = Section::new(&b.body, origin, "cache");
        c.proxy = true;
        c.cache = true;
        // Vault 1.x's place for the token setting.
        if let Some(v) = s.string("use_auto_auth_token")? {
            if c.proxy_token.is_none() && v != "false" {
                c.proxy_token = Some(v == "force");
            }
        }
        s.unsupported(
            &[
                "persist",
                "cache_static_secrets",
                "disable_caching_dynamic_secrets",
                "static_secret_token_capability_refresh_interval",
            ],
            &mut c.warnings,
        );
        s.finish()?;
    }
    c.handoff_file = top
        .string("handoff_file")?
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    top.unsupported(
        &[
            "telemetry",
            "log_level",
            "log_file",
            "log_format",
            "disable_idle_connections",
            "disable_keep_alives",
            "template_retry",
            "auto_auth_token",
        ],
        &mut c.warnings,
    );
    for b in top.blocks("vault") {
        let mut s = Section::new(&b.body, origin, "vault");
        c.vault.address = s.string("address")?;
        c.vault.ca_cert = s.string("ca_cert")?.map(PathBuf::from);
        c.vault.tls_skip_verify = s.bool("tls_skip_verify")?.unwrap_or(false);
        c.vault.num_retries = 12;
        for r in s.blocks("retry") {
            let mut rs = Section::new(&r.body, origin, "vault.retry");
            if let Some(n) = rs.string("num_retries")? {
                // Vault's -1 is "no retries".
                c.vault.num_retries = n
                    .parse::<i64>()
                    .map_err(|_| rs.err(r.line, format!("num_retries {n:?} is not a number")))?
                    .max(0) as u32;
            }
            rs.finish()?;
        }
        s.unsupported(
            &[
                "ca_path",
                "client_cert",
                "client_key",
                "tls_server_name",
                "namespace",
            ],
            &mut c.warnings,
        );
        s.finish()?;
    }
    for b in top.blocks("auto_auth") {
        let mut s = Section::new(&b.body, origin, "auto_auth");
        let methods = s.blocks("method");
        let method = match methods.as_slice() {
            [m] => m,
            [] => return Err(s.err(b.line, "auto_auth needs a method".into())),
            [_, second, ..] => return Err(s.err(second.line, "auto_auth takes one method".into())),
        };
        let mut ms = Section::new(&method.body, origin, "auto_auth.method");
        let kind = kind_of(method, &mut ms)?;
        if !matches!(
            kind.as_str(),
            "kubernetes" | "approle" | "jwt" | "token_file"
        ) {
            return Err(ms.err(
                method.line,
                format!(
                    "auth method {kind:?} is not supported (kubernetes, approle, jwt, token_file)"
                ),
            ));
        }
        let mount_path = ms
            .string("mount_path")?
            .unwrap_or_else(|| format!("auth/{kind}"));
        let config = ms.map("config")?;
        let min_backoff = ms
            .duration("min_backoff")?
            .unwrap_or(Duration::from_secs(1));
        let max_backoff = ms
            .duration("max_backoff")?
            .unwrap_or(Duration::from_secs(300));
        let exit_on_err = ms.bool("exit_on_err")?.unwrap_or(false);
        ms.unsupported(&["namespace", "wrap_ttl", "max_ttl"], &mut c.warnings);
        ms.finish()?;
        let mut sinks = Vec::new();
        for sink in s.blocks("sink") {
            let mut ss = Section::new(&sink.body, origin, "auto_auth.sink");
            let kind = kind_of(sink, &mut ss)?;
            if kind != "file" {
                return Err(ss.err(
                    sink.line,
                    format!("sink type {kind:?} is not supported (file)"),
                ));
            }
            let mut config = ss.map("config")?;
            let path = match config.remove("path") {
                Some(Json::String(p)) if !p.is_empty() => PathBuf::from(p),
                _ => return Err(ss.err(sink.line, "a file sink needs config.path".into())),
            };
            let mode = match config.remove("mode") {
                None => 0o640,
                Some(Json::Number(n)) => n
                    .as_u64()
                    .and_then(|m| u32::try_from(m).ok())
                    .ok_or_else(|| {
                        ss.err(sink.line, format!("sink mode {n} is not a file mode"))
                    })?,
                Some(Json::String(m)) => u32::from_str_radix(&m, 8).map_err(|_| {
                    ss.err(
                        sink.line,
                        format!("sink mode {m:?} is not an octal file mode"),
                    )
                })?,
                Some(other) => {
                    return Err(ss.err(sink.line, format!("sink mode {other} is not a file mode")));
                }
            };
            if let Some(k) = config.keys().next() {
                return Err(ss.err(
                    sink.line,
                    format!("unknown key {k:?} in auto_auth.sink.config"),
                ));
            }
            ss.unsupported(
                &[
                    "wrap_ttl",
                    "dh_type",
                    "dh_path",
                    "derive_key",
                    "aad",
                    "aad_env_var",
                ],
                &mut c.warnings,
            );
            ss.finish()?;
            sinks.push(Sink { path, mode });
        }
        s.finish()?;
        c.auto_auth = Some(AutoAuth {
            method: Method {
                kind,
                mount_path,
                config,
                min_backoff,
                max_backoff,
                exit_on_err,
            },
            sinks,
        });
    }
    for b in top.blocks("template") {
        let mut s = Section::new(&b.body, origin, "template");
        let source = s.string("source")?.map(PathBuf::from);
        let mut contents = s.string("contents")?;
        let destination = s
            .string("destination")?
            .filter(|d| !d.is_empty())
            .ok_or_else(|| s.err(b.line, "a template needs a destination".into()))?;
        // Arca's plain output: a secret's data as a file, no template.
        let secret = s.string("secret")?.filter(|p| !p.is_empty());
        let format = s.string("format")?;
        match (&secret, format) {
            (Some(path), format) => {
                if source.is_some() || contents.is_some() {
                    return Err(s.err(
                        b.line,
                        "a template takes secret, or source or contents, not both".into(),
                    ));
                }
                let format = format.unwrap_or_else(|| "json".into());
                contents = Some(crate::template::plain(path, &format).ok_or_else(|| {
                    s.err(
                        b.line,
                        format!("format {format:?}: json, yaml, dotenv or properties"),
                    )
                })?);
            }
            (None, Some(_)) => return Err(s.err(b.line, "format goes with secret (a path)".into())),
            (None, None) => {}
        }
        if source.is_some() == contents.is_some() {
            return Err(s.err(
                b.line,
                "a template needs one of source, contents or secret".into(),
            ));
        }
        let mut command = s.strings("command")?;
        let mut command_timeout = Duration::from_secs(30);
        for e in s.blocks("exec") {
            let mut es = Section::new(&e.body, origin, "template.exec");
            command = es.strings("command")?;
            command_timeout = es.duration("timeout")?.unwrap_or(command_timeout);
            es.finish()?;
        }
        if let Some(t) = s.duration("command_timeout")? {
            command_timeout = t;
        }
        let mut t = Template {
            source,
            contents,
            destination: PathBuf::from(destination),
            perms: s.mode("perms")?.unwrap_or(0o644),
            command,
            command_timeout,
            error_on_missing_key: s.bool("error_on_missing_key")?.unwrap_or(false),
            left_delimiter: s
                .string("left_delimiter")?
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "{{".into()),
            right_delimiter: s
                .string("right_delimiter")?
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| "}}".into()),
            create_dest_dirs: s.bool("create_dest_dirs")?.unwrap_or(true),
            signal: None,
            min_interval: s.duration("min_interval")?.unwrap_or(Duration::ZERO),
            origin: at(origin, b.line),
            owner: crate::files::Owner::default(),
        };
        for (name_key, id_key, db) in [
            ("user", "uid", "/etc/passwd"),
            ("group", "gid", "/etc/group"),
        ] {
            let by_name = s.string(name_key)?;
            let by_id = s.string(id_key)?;
            let id = match (by_name, by_id) {
                (Some(_), Some(_)) => {
                    return Err(s.err(b.line, format!("{name_key} and {id_key} both set")));
                }
                (None, Some(n)) => Some(
                    n.parse::<u32>()
                        .map_err(|_| s.err(b.line, format!("{id_key} {n:?} is not a number")))?,
                ),
                (Some(n), None) => Some(match n.parse::<u32>() {
                    Ok(id) => id,
                    Err(_) => lookup_id(db, &n)
                        .ok_or_else(|| s.err(b.line, format!("{name_key} {n:?} is not in {db}")))?,
                }),
                (None, None) => None,
            };
            if name_key == "user" {
                t.owner.uid = id;
            } else {
                t.owner.gid = id;
            }
        }
        let pid_file = s.string("signal_pid_file")?.map(PathBuf::from);
        let process = s.string("signal_process")?.filter(|p| !p.is_empty());
        match s.string("signal")? {
            Some(name) => {
                if crate::exec::signal(&name).is_none() {
                    return Err(s.err(
                        b.line,
                        format!("signal {name:?} is not a signal arca-agent knows"),
                    ));
                }
                if pid_file.is_some() == process.is_some() {
                    return Err(s.err(
                        b.line,
                        "signal needs one of signal_pid_file or signal_process".into(),
                    ));
                }
                t.signal = Some(Signal {
                    name,
                    pid_file,
                    process,
                });
            }
            None if pid_file.is_some() || process.is_some() => {
                return Err(s.err(
                    b.line,
                    "signal_pid_file and signal_process go with signal".into(),
                ));
            }
            None => {}
        }
        s.unsupported(
            &["backup", "wait", "sandbox_path", "function_denylist"],
            &mut c.warnings,
        );
        s.finish()?;
        c.templates.push(t);
    }
    for b in top.blocks("template_config") {
        let mut s = Section::new(&b.body, origin, "template_config");
        let d = TemplateConfig::default();
        c.template_config = TemplateConfig {
            static_secret_render_interval: s
                .duration("static_secret_render_interval")?
                .unwrap_or(d.static_secret_render_interval),
            exit_on_retry_failure: s.bool("exit_on_retry_failure")?.unwrap_or(false),
            max_connections_per_host: s
                .string("max_connections_per_host")?
                .map(|n| {
                    n.parse().map_err(|_| {
                        s.err(
                            b.line,
                            format!("max_connections_per_host {n:?} is not a number"),
                        )
                    })
                })
                .transpose()?
                .unwrap_or(d.max_connections_per_host),
            lease_renewal_threshold: s
                .string("lease_renewal_threshold")?
                .map(|n| {
                    n.parse::<f64>()
                        .ok()
                        .filter(|f| *f > 0.0 && *f < 1.0)
                        .ok_or_else(|| {
                            s.err(
                                b.line,
                                format!("lease_renewal_threshold {n:?} must be between 0 and 1"),
                            )
                        })
                })
                .transpose()?
                .unwrap_or(d.lease_renewal_threshold),
            event_stream: s.bool("event_stream")?.unwrap_or(d.event_stream),
        };
        s.finish()?;
    }
    for b in top.blocks("env_template") {
        let mut s = Section::new(&b.body, origin, "env_template");
        let name = b.labels.first().cloned().ok_or_else(|| {
            s.err(
                b.line,
                "env_template needs the variable's name as its label".into(),
            )
        })?;
        let contents = s
            .string("contents")?
            .ok_or_else(|| s.err(b.line, format!("env_template {name:?} needs contents")))?;
        let error_on_missing_key = s.bool("error_on_missing_key")?.unwrap_or(false);
        s.unsupported(&["left_delimiter", "right_delimiter"], &mut c.warnings);
        s.finish()?;
        c.env_templates.push(EnvTemplate {
            name,
            contents,
            error_on_missing_key,
        });
    }
    for b in top.blocks("exec") {
        let mut s = Section::new(&b.body, origin, "exec");
        let command = s
            .strings("command")?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| s.err(b.line, "exec needs a command".into()))?;
        let restart = s
            .string("restart_on_secret_changes")?
            .unwrap_or_else(|| "always".into());
        let restart_on_secret_changes =
            match restart.as_str() {
                "always" => true,
                "never" => false,
                other => return Err(s.err(
                    b.line,
                    format!(
                        "restart_on_secret_changes must be \"always\" or \"never\", not {other:?}"
                    ),
                )),
            };
        let restart_stop_signal = s
            .string("restart_stop_signal")?
            .unwrap_or_else(|| "SIGTERM".into());
        if crate::exec::signal(&restart_stop_signal).is_none() {
            return Err(s.err(
                b.line,
                format!(
                    "restart_stop_signal {restart_stop_signal:?} is not a signal arca-agent knows"
                ),
            ));
        }
        let min_interval = s
            .duration("min_interval")?
            .unwrap_or(Duration::from_secs(1));
        let restart_grace = s
            .duration("restart_grace")?
            .unwrap_or(Duration::from_secs(30));
        s.unsupported(
            &[
                "restart_kill_timeout",
                "child_process_stdout",
                "child_process_stderr",
            ],
            &mut c.warnings,
        );
        s.finish()?;
        c.exec = Some(Exec {
            command,
            restart_on_secret_changes,
            restart_stop_signal,
            min_interval,
            restart_grace,
        });
    }
    for b in top.blocks("listener") {
        let mut s = Section::new(&b.body, origin, "listener");
        let kind = kind_of(b, &mut s)?;
        let address = s
            .string("address")?
            .unwrap_or_else(|| "127.0.0.1:8200".into());
        let tls_disable = s.bool("tls_disable")?.unwrap_or(false);
        if kind != "tcp" && kind != "unix" {
            return Err(s.err(b.line, format!("listener {kind:?}: tcp or unix")));
        }
        let socket_mode = s
            .string("socket_mode")?
            .map(|m| {
                u32::from_str_radix(m.trim_start_matches("0o"), 8)
                    .ok()
                    .filter(|m| *m <= 0o7777)
                    .ok_or_else(|| s.err(b.line, format!("socket_mode {m:?} is not an octal mode")))
            })
            .transpose()?;
        let tls_cert_file = s.string("tls_cert_file")?.map(PathBuf::from);
        let tls_key_file = s.string("tls_key_file")?.map(PathBuf::from);
        if !tls_disable && (tls_cert_file.is_none() || tls_key_file.is_none()) {
            return Err(s.err(
                b.line,
                "listener: tls_cert_file and tls_key_file are needed unless tls_disable = true"
                    .into(),
            ));
        }
        s.unsupported(
            &[
                "role",
                "agent_api",
                "proxy_api",
                "require_request_header",
                "socket_user",
                "socket_group",
            ],
            &mut c.warnings,
        );
        s.finish()?;
        c.listeners.push(Listener {
            kind,
            address,
            tls_disable,
            tls_cert_file,
            tls_key_file,
            socket_mode,
        });
    }
    top.finish()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    const AGENT_HCL: &str = r#"
pid_file = "/home/vault/.pid"
exit_after_auth = false

vault {
  address = "https://arca.arca.svc:8200"
  ca_cert = "/vault/tls/ca.crt"
  retry {
    num_retries = 5
  }
}

auto_auth {
  method "kubernetes" {
    mount_path = "auth/kubernetes"
    config = {
      role = "app"
    }
  }
  sink "file" {
    config = {
      path = "/home/vault/.vault-token"
      mode = 0600
    }
  }
}

template_config {
  static_secret_render_interval = "30s"
  exit_on_retry_failure = true
}

template {
  destination = "/vault/secrets/db"
  perms = "0640"
  contents = <<EOT
{{ with secret "database/creds/app" }}{{ .Data.username }}{{ end }}
EOT
  command = "pkill -HUP app"
}

template {
  source = "/etc/templates/kv.ctmpl"
  destination = "/vault/secrets/kv"
  error_on_missing_key = true
  left_delimiter = "[["
  right_delimiter = "]]"
  backup = true
}

env_template "DB_USER" {
  contents = "{{ with secret \"database/creds/app\" }}{{ .Data.username }}{{ end }}"
}

exec {
  command = ["/app/run", "--serve"]
  restart_on_secret_changes = "always"
  restart_stop_signal = "SIGINT"
}
"#;

    #[test]
    fn a_vault_agent_config_reads_unchanged() {
        let c = from_hcl(AGENT_HCL, "agent.hcl").unwrap();
        assert_eq!(c.pid_file, Some(PathBuf::from("/home/vault/.pid")));
        assert_eq!(
            c.vault.address.as_deref(),
            Some("https://arca.arca.svc:8200")
        );
        assert_eq!(c.vault.num_retries, 5);
        let a = c.auto_auth.as_ref().unwrap();
        assert_eq!(a.method.kind, "kubernetes");
        assert_eq!(a.method.mount_path, "auth/kubernetes");
        assert_eq!(a.method.setting("role").as_deref(), Some("app"));
        assert_eq!(a.sinks[0].path, PathBuf::from("/home/vault/.vault-token"));
        assert_eq!(a.sinks[0].mode, 0o600);
        assert_eq!(
            c.template_config.static_secret_render_interval,
            Duration::from_secs(30)
        );
        assert!(c.template_config.exit_on_retry_failure);
        assert_eq!(c.templates.len(), 2);
        assert_eq!(c.templates[0].perms, 0o640);
        assert_eq!(
            c.templates[0].command.as_deref(),
            Some(&["pkill -HUP app".to_owned()][..])
        );
        assert!(
            c.templates[0]
                .contents
                .as_deref()
                .unwrap()
                .contains("database/creds/app")
        );
        assert_eq!(c.templates[1].left_delimiter, "[[");
        assert!(c.templates[1].error_on_missing_key);
        assert_eq!(c.templates[1].perms, 0o644);
        assert_eq!(c.env_templates[0].name, "DB_USER");
        let e = c.exec.as_ref().unwrap();
        assert_eq!(e.command, ["/app/run", "--serve"]);
        assert_eq!(e.restart_stop_signal, "SIGINT");
        // `backup` is Vault Agent's, not acted on: a warning with its line.
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        assert!(
            c.warnings[0].starts_with("agent.hcl:48: backup in template"),
            "{:?}",
            c.warnings
        );
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_line() {
        let e = from_hcl("vault {\n  adress = \"x\"\n}\n", "a.hcl").unwrap_err();
        assert_eq!(e.to_string(), "a.hcl:2: unknown key \"adress\" in vault");
        let e = from_hcl("bogus = 1\n", "a.hcl").unwrap_err();
        assert_eq!(
            e.to_string(),
            "a.hcl:1: unknown key \"bogus\" in the configuration"
        );
        let e = from_hcl("template {\n  contents = \"x\"\n}\n", "a.hcl").unwrap_err();
        assert_eq!(e.to_string(), "a.hcl:1: a template needs a destination");
        let e = from_hcl(
            "template {\n destination = \"/x\"\n contents = \"x\"\n perms = \"9\"\n}\n",
            "a.hcl",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("a.hcl:4: perms in template"),
            "{e}"
        );
        let e = from_hcl("auto_auth {\n method \"ldap\" {\n }\n}\n", "a.hcl").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.hcl:2: auth method \"ldap\" is not supported"),
            "{e}"
        );
        let e = from_hcl(
            "template_config {\n static_secret_render_interval = \"soon\"\n}\n",
            "a.hcl",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("a.hcl:2: static_secret_render_interval"),
            "{e}"
        );
        assert!(
            from_hcl("vault {", "a.hcl")
                .unwrap_err()
                .to_string()
                .starts_with("a.hcl: line")
        );
    }

    #[test]
    fn plain_output_is_a_secret_and_a_format() {
        let c = from_hcl(
            "template {\n destination = \"/x\"\n secret = \"database/creds/app\"\n format = \"dotenv\"\n}\n",
            "a.hcl",
        )
        .unwrap();
        let t = c.templates[0].contents.as_deref().unwrap();
        assert!(
            t.contains("secret \"database/creds/app\"") && t.contains("toDotenv"),
            "{t}"
        );
        for (body, says) in [
            (
                "secret = \"p\"\n format = \"toml\"",
                "a.hcl:1: format \"toml\": json, yaml, dotenv or properties",
            ),
            (
                "format = \"json\"",
                "a.hcl:1: format goes with secret (a path)",
            ),
            (
                "secret = \"p\"\n contents = \"x\"",
                "a.hcl:1: a template takes secret, or source or contents, not both",
            ),
        ] {
            let e = from_hcl(
                &format!("template {{\n destination = \"/x\"\n {body}\n}}\n"),
                "a.hcl",
            )
            .unwrap_err();
            assert_eq!(e.to_string(), says);
        }
    }

    #[test]
    fn the_injectors_json_form_plain_or_base64() {
        let json = r#"{
          "auto_auth": {"method": {"type": "kubernetes", "mount_path": "auth/k8s",
                                    "config": {"role": "app", "token_path": "/t"}},
                        "sink": [{"type": "file", "config": {"path": "/home/vault/.vault-token"}}]},
          "exit_after_auth": true,
          "vault": {"address": "http://arca:8200"},
          "template": [{"destination": "/vault/secrets/a", "contents": "{{ .x }}",
                        "left_delimiter": "{{", "right_delimiter": "}}"},
                       {"destination": "/vault/secrets/b", "contents": "b"}],
          "template_config": {"exit_on_retry_failure": true},
          "env_template": {"DB": {"contents": "x"}}
        }"#;
        let c = from_json(json, "env").unwrap();
        assert!(c.exit_after_auth);
        let a = c.auto_auth.as_ref().unwrap();
        assert_eq!(
            (a.method.kind.as_str(), a.method.mount_path.as_str()),
            ("kubernetes", "auth/k8s")
        );
        assert_eq!(a.method.setting("token_path").as_deref(), Some("/t"));
        assert_eq!(a.sinks[0].mode, 0o640);
        assert_eq!(c.templates.len(), 2);
        assert_eq!(c.env_templates[0].name, "DB");
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(from_json(&b64, "env").unwrap().templates.len(), 2);
        let e = from_json(r#"{"vault": {"adress": "x"}}"#, "env").unwrap_err();
        assert_eq!(e.to_string(), "env: unknown key \"adress\" in vault");
        assert!(from_json("not base64 !", "env").is_err());
    }

    #[test]
    fn template_owner_by_name_or_id() {
        let hcl = |owner: &str| {
            format!("template {{\n  destination = \"/tmp/x\"\n  contents = \"x\"\n  {owner}\n}}\n")
        };
        let c = from_hcl(&hcl("user = \"nobody\"\n  gid = 65534"), "a.hcl").unwrap();
        assert_eq!(
            c.templates[0].owner,
            crate::files::Owner {
                uid: Some(65534),
                gid: Some(65534)
            }
        );
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        let c = from_hcl(&hcl("uid = 1000"), "a.hcl").unwrap();
        assert_eq!(c.templates[0].owner.uid, Some(1000));
        let e = from_hcl(&hcl("user = \"no-such-user-here\""), "a.hcl").unwrap_err();
        assert!(
            e.to_string().contains("a.hcl:1") && e.to_string().contains("/etc/passwd"),
            "{e}"
        );
        let e = from_hcl(&hcl("user = \"nobody\"\n  uid = 3"), "a.hcl").unwrap_err();
        assert!(e.to_string().contains("both set"), "{e}");
    }
}

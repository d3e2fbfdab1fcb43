//! The server configuration file -> typed `Config`. The file is HCL in the
//! shape Vault's config uses, so a Vault user's file works:
//!
//! ```hcl
//! storage "file" { path = "/var/lib/arca" }
//! listener "tcp" {
//!   address       = "0.0.0.0:8200"
//!   tls_cert_file = "/etc/arca/tls.crt"
//!   tls_key_file  = "/etc/arca/tls.key"
//! }
//! api_addr = "https://arca.example:8200"
//! ```
//!
//! Unknown stanzas and keys are errors naming the file and line: a typo in
//! a security setting must not be silently ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use arca_client::hcl::{self, Attr, Block, Item, Kind};

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub listeners: Vec<Listener>,
    pub storage: Storage,
    pub api_addr: Option<String>,
    pub cluster_addr: Option<String>,
    pub cluster_name: Option<String>,
    pub ui: bool,
    pub log_level: Option<String>,
    pub log_format: Option<String>,
    pub disable_mlock: bool,
    pub default_lease_ttl: Option<Duration>,
    pub max_lease_ttl: Option<Duration>,
    pub pid_file: Option<PathBuf>,
    pub unauthenticated_metrics_access: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub address: String,
    pub tls_disable: bool,
    pub tls_cert_file: Option<PathBuf>,
    pub tls_key_file: Option<PathBuf>,
    /// `tls_min_version`, `tls_max_version`, `tls_cipher_suites` and
    /// client certificates.
    pub tls: ListenerTls,
    /// `max_request_size`, `max_request_duration` and the `http_*_timeout`
    /// options, Vault's defaults where absent.
    pub limits: crate::http::Limits,
    /// `telemetry { unauthenticated_metrics_access }` inside the listener.
    pub unauthenticated_metrics_access: bool,
}

impl Default for Listener {
    fn default() -> Self {
        Self {
            address: "127.0.0.1:8200".into(),
            tls_disable: false,
            tls_cert_file: None,
            tls_key_file: None,
            tls: ListenerTls::default(),
            limits: crate::http::Limits::default(),
            unauthenticated_metrics_access: false,
        }
    }
}

/// The TLS versions Arca speaks (Vault's `tls10`/`tls11` are refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

/// A listener's TLS options beyond its certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerTls {
    /// `tls_min_version`, default `tls12` (Vault's).
    pub min_version: TlsVersion,
    /// `tls_max_version`, default `tls13`.
    pub max_version: TlsVersion,
    /// `tls_cipher_suites`: the TLS 1.2 suites allowed, by their IANA
    /// names; empty: rustls's defaults. (TLS 1.3 suites are not
    /// configurable, as in Go.)
    pub cipher_suites: Vec<String>,
    /// `tls_require_and_verify_client_cert`, against `tls_client_ca_file`.
    pub require_client_cert: bool,
    pub client_ca_file: Option<PathBuf>,
}

impl Default for ListenerTls {
    fn default() -> Self {
        Self {
            min_version: TlsVersion::Tls12,
            max_version: TlsVersion::Tls13,
            cipher_suites: Vec::new(),
            require_client_cert: false,
            client_ca_file: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Storage {
    Inmem,
    /// The embedded single-file store, in this directory.
    File {
        path: PathBuf,
    },
}

impl Storage {
    pub fn type_name(&self) -> &'static str {
        match self {
            Self::Inmem => "inmem",
            Self::File { .. } => "file",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{file}:{line}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn err(&self, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError {
            file: self.file.to_owned(),
            line,
            message: message.into(),
        }
    }

    fn string(&self, a: &Attr) -> Result<String, ConfigError> {
        match &a.value.kind {
            Kind::Str(s) => Ok(s.clone()),
            Kind::Num(n) => Ok(n.clone()),
            _ => Err(self.err(
                a.line,
                format!(
                    "{:?} must be a string, not a {}",
                    a.key,
                    a.value.type_name()
                ),
            )),
        }
    }

    fn boolean(&self, a: &Attr) -> Result<bool, ConfigError> {
        match &a.value.kind {
            Kind::Bool(b) => Ok(*b),
            Kind::Str(s) | Kind::Num(s) => match s.as_str() {
                "true" | "1" => Ok(true),
                "false" | "0" | "" => Ok(false),
                _ => Err(self.err(
                    a.line,
                    format!("{:?} must be true or false, not {s:?}", a.key),
                )),
            },
            _ => Err(self.err(a.line, format!("{:?} must be a bool", a.key))),
        }
    }

    fn duration(&self, a: &Attr) -> Result<Duration, ConfigError> {
        let s = self.string(a)?;
        crate::duration::parse(&s).map_err(|e| self.err(a.line, format!("{:?}: {e}", a.key)))
    }

    fn tls_version(&self, a: &Attr) -> Result<TlsVersion, ConfigError> {
        match self.string(a)?.as_str() {
            "tls12" => Ok(TlsVersion::Tls12),
            "tls13" => Ok(TlsVersion::Tls13),
            v @ ("tls10" | "tls11") => Err(self.err(
                a.line,
                format!(
                    "{:?} = {v:?} is not supported: Arca speaks TLS 1.2 and 1.3",
                    a.key
                ),
            )),
            v => Err(self.err(
                a.line,
                format!("{:?} = {v:?}: want \"tls12\" or \"tls13\"", a.key),
            )),
        }
    }

    fn size(&self, a: &Attr) -> Result<usize, ConfigError> {
        let s = self.string(a)?;
        s.parse::<usize>()
            .map_err(|_| self.err(a.line, format!("{:?} must be a number of bytes", a.key)))
    }

    fn attrs<'b>(&self, b: &'b Block) -> Result<Vec<&'b Attr>, ConfigError> {
        b.body
            .items
            .iter()
            .map(|i| match i {
                Item::Attr(a) => Ok(a),
                Item::Block(inner) => Err(self.err(
                    inner.line,
                    format!("unknown stanza {:?} in {} block", inner.ident, b.ident),
                )),
            })
            .collect()
    }
}

fn unknown_key(ctx: &Ctx, a: &Attr, within: &str) -> ConfigError {
    ctx.err(a.line, format!("unknown key {:?} in {within}", a.key))
}

/// Reads and parses a config file.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let file = path.display().to_string();
    if path.is_dir() {
        return Err(ConfigError {
            file,
            line: 0,
            message: "is a directory: Arca reads one configuration file".into(),
        });
    }
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read: {e}"),
    })?;
    parse(&file, &text)
}

pub fn parse(file: &str, text: &str) -> Result<Config, ConfigError> {
    let ctx = Ctx { file };
    let body = hcl::parse(text)
        .map_err(|e| ctx.err(e.line, format!("column {}: {}", e.col, e.message)))?;
    let mut cfg = Config {
        listeners: Vec::new(),
        storage: Storage::Inmem,
        api_addr: None,
        cluster_addr: None,
        cluster_name: None,
        ui: false,
        log_level: None,
        log_format: None,
        disable_mlock: false,
        default_lease_ttl: None,
        max_lease_ttl: None,
        pid_file: None,
        unauthenticated_metrics_access: false,
    };
    let mut storage_seen = false;
    for item in &body.items {
        match item {
            Item::Attr(a) => match a.key.as_str() {
                "api_addr" => cfg.api_addr = Some(ctx.string(a)?),
                "cluster_addr" => cfg.cluster_addr = Some(ctx.string(a)?),
                "cluster_name" => cfg.cluster_name = Some(ctx.string(a)?),
                "ui" => cfg.ui = ctx.boolean(a)?,
                "log_level" => {
                    let l = ctx.string(a)?.to_lowercase();
                    if !matches!(
                        l.as_str(),
                        "trace" | "debug" | "info" | "warn" | "error" | ""
                    ) {
                        return Err(ctx.err(a.line, format!("unknown log_level {l:?}")));
                    }
                    cfg.log_level = Some(l);
                }
                "log_format" => {
                    let f = ctx.string(a)?.to_lowercase();
                    if !matches!(f.as_str(), "standard" | "json" | "") {
                        return Err(ctx.err(
                            a.line,
                            format!("unknown log_format {f:?} (standard or json)"),
                        ));
                    }
                    cfg.log_format = Some(f);
                }
                // Accepted for Vault compatibility: Arca never swaps (its
                // keys are zeroized and it holds no mlock'd pages).
                "disable_mlock" => cfg.disable_mlock = ctx.boolean(a)?,
                "disable_cache" => {
                    ctx.boolean(a)?;
                }
                "default_lease_ttl" => cfg.default_lease_ttl = Some(ctx.duration(a)?),
                "max_lease_ttl" => cfg.max_lease_ttl = Some(ctx.duration(a)?),
                "pid_file" => cfg.pid_file = Some(PathBuf::from(ctx.string(a)?)),
                _ => return Err(ctx.err(a.line, format!("unknown key {:?}", a.key))),
            },
            Item::Block(b) => match b.ident.as_str() {
                "listener" => cfg.listeners.push(listener(&ctx, b)?),
                "storage" | "backend" => {
                    if storage_seen {
                        return Err(ctx.err(b.line, "only one storage stanza is allowed"));
                    }
                    storage_seen = true;
                    cfg.storage = storage(&ctx, b)?;
                }
                "telemetry" => {
                    for a in ctx.attrs(b)? {
                        match a.key.as_str() {
                            "unauthenticated_metrics_access" => {
                                cfg.unauthenticated_metrics_access = ctx.boolean(a)?
                            }
                            "prometheus_retention_time"
                            | "disable_hostname"
                            | "usage_gauge_period" => {
                                ctx.string(a)
                                    .or_else(|_| ctx.boolean(a).map(|b| b.to_string()))?;
                            }
                            _ => return Err(unknown_key(&ctx, a, "telemetry")),
                        }
                    }
                }
                other => return Err(ctx.err(b.line, format!("unknown stanza {other:?}"))),
            },
        }
    }
    if !storage_seen {
        return Err(ctx.err(
            0,
            "a storage stanza is required (storage \"file\" { path = \"...\" })",
        ));
    }
    if cfg.listeners.is_empty() {
        return Err(ctx.err(
            0,
            "at least one listener stanza is required (listener \"tcp\" { ... })",
        ));
    }
    if cfg
        .listeners
        .iter()
        .any(|l| l.unauthenticated_metrics_access)
    {
        cfg.unauthenticated_metrics_access = true;
    }
    if let (Some(d), Some(m)) = (cfg.default_lease_ttl, cfg.max_lease_ttl) {
        if d > m {
            return Err(ctx.err(0, "default_lease_ttl cannot be larger than max_lease_ttl"));
        }
    }
    Ok(cfg)
}

fn one_label<'a>(ctx: &Ctx, b: &'a Block) -> Result<&'a str, ConfigError> {
    match b.labels.as_slice() {
        [l] => Ok(l),
        _ => Err(ctx.err(
            b.line,
            format!("{} stanza needs exactly one label, its type", b.ident),
        )),
    }
}

fn listener(ctx: &Ctx, b: &Block) -> Result<Listener, ConfigError> {
    let kind = one_label(ctx, b)?;
    if kind != "tcp" {
        return Err(ctx.err(
            b.line,
            format!("listener type {kind:?} is not supported (only \"tcp\")"),
        ));
    }
    let mut l = Listener::default();
    let mut disable_client_certs = false;
    let mut attrs = Vec::new();
    for item in &b.body.items {
        match item {
            Item::Attr(a) => attrs.push(a),
            // Where Vault puts it: per listener.
            Item::Block(t) if t.ident == "telemetry" => {
                for a in ctx.attrs(t)? {
                    match a.key.as_str() {
                        "unauthenticated_metrics_access" => {
                            l.unauthenticated_metrics_access = ctx.boolean(a)?
                        }
                        _ => return Err(unknown_key(ctx, a, "listener telemetry")),
                    }
                }
            }
            Item::Block(inner) => {
                return Err(ctx.err(
                    inner.line,
                    format!("unknown stanza {:?} in {} block", inner.ident, b.ident),
                ));
            }
        }
    }
    for a in attrs {
        match a.key.as_str() {
            "address" => {
                let addr = match &a.value.kind {
                    Kind::Str(s) => s.clone(),
                    _ => {
                        return Err(ctx.err(
                            a.line,
                            format!(
                                "\"address\" must be a string, not a {}",
                                a.value.type_name()
                            ),
                        ));
                    }
                };
                if addr
                    .rsplit_once(':')
                    .is_none_or(|(_, port)| port.parse::<u16>().is_err())
                {
                    return Err(ctx.err(
                        a.line,
                        format!("invalid listener address {addr:?}: expected host:port"),
                    ));
                }
                l.address = addr;
            }
            "tls_disable" => l.tls_disable = ctx.boolean(a)?,
            "tls_cert_file" => l.tls_cert_file = Some(PathBuf::from(ctx.string(a)?)),
            "tls_key_file" => l.tls_key_file = Some(PathBuf::from(ctx.string(a)?)),
            "max_request_size" => l.limits.max_request_size = ctx.size(a)?,
            "max_request_duration" => l.limits.max_request_duration = ctx.duration(a)?,
            "http_read_header_timeout" => l.limits.read_header_timeout = ctx.duration(a)?,
            "http_read_timeout" => l.limits.read_timeout = ctx.duration(a)?,
            "http_write_timeout" => l.limits.write_timeout = ctx.duration(a)?,
            "http_idle_timeout" => l.limits.idle_timeout = ctx.duration(a)?,
            "tls_min_version" => l.tls.min_version = ctx.tls_version(a)?,
            "tls_max_version" => l.tls.max_version = ctx.tls_version(a)?,
            "tls_cipher_suites" => {
                l.tls.cipher_suites = ctx
                    .string(a)?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
            }
            "tls_require_and_verify_client_cert" => l.tls.require_client_cert = ctx.boolean(a)?,
            "tls_client_ca_file" => l.tls.client_ca_file = Some(PathBuf::from(ctx.string(a)?)),
            // Arca asks for a client certificate only when it requires one,
            // so this changes nothing; true with the requirement is refused
            // below, as in Vault.
            "tls_disable_client_certs" => disable_client_certs = ctx.boolean(a)?,
            // Accepted with Vault's meaning where Arca's behaviour already
            // matches: cluster traffic is not separate in Arca, and Go
            // itself ignores tls_prefer_server_cipher_suites.
            "cluster_address" => {
                ctx.string(a)?;
            }
            "tls_prefer_server_cipher_suites" => {
                ctx.boolean(a)?;
            }
            _ => return Err(unknown_key(ctx, a, "listener \"tcp\"")),
        }
    }
    if !l.tls_disable && (l.tls_cert_file.is_none() || l.tls_key_file.is_none()) {
        return Err(ctx.err(
            b.line,
            "listener \"tcp\": tls_cert_file and tls_key_file are required unless tls_disable = true",
        ));
    }
    if l.tls.min_version > l.tls.max_version {
        return Err(ctx.err(
            b.line,
            "listener \"tcp\": tls_min_version is above tls_max_version",
        ));
    }
    if l.tls.require_client_cert && disable_client_certs {
        return Err(ctx.err(
            b.line,
            "listener \"tcp\": 'tls_disable_client_certs' and 'tls_require_and_verify_client_cert' are mutually exclusive",
        ));
    }
    if l.tls.require_client_cert && l.tls.client_ca_file.is_none() {
        return Err(ctx.err(
            b.line,
            "listener \"tcp\": tls_require_and_verify_client_cert needs tls_client_ca_file",
        ));
    }
    Ok(l)
}

fn storage(ctx: &Ctx, b: &Block) -> Result<Storage, ConfigError> {
    let kind = one_label(ctx, b)?;
    let attrs = ctx.attrs(b)?;
    match kind {
        "inmem" => match attrs.first() {
            Some(a) => Err(unknown_key(ctx, a, "storage \"inmem\"")),
            None => Ok(Storage::Inmem),
        },
        "file" => {
            let mut path = None;
            for a in attrs {
                match a.key.as_str() {
                    "path" => path = Some(PathBuf::from(ctx.string(a)?)),
                    _ => return Err(unknown_key(ctx, a, "storage \"file\"")),
                }
            }
            match path {
                Some(p) if !p.as_os_str().is_empty() => Ok(Storage::File { path: p }),
                _ => Err(ctx.err(b.line, "storage \"file\": path is required")),
            }
        }
        other => Err(ctx.err(
            b.line,
            format!("storage type {other:?} is not supported (use \"file\" or \"inmem\")"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
storage "file" {
  path = "/tmp/arca-data"
}

listener "tcp" {
  address     = "127.0.0.1:8200"
  tls_disable = true
}

api_addr      = "http://127.0.0.1:8200"
cluster_addr  = "https://127.0.0.1:8201"
ui            = true
log_level     = "Info"
disable_mlock = true
"#;

    #[test]
    fn vault_shaped_file() {
        let c = parse("arca.hcl", GOOD).unwrap();
        assert_eq!(
            c.storage,
            Storage::File {
                path: "/tmp/arca-data".into()
            }
        );
        assert_eq!(c.listeners.len(), 1);
        assert!(c.listeners[0].tls_disable);
        assert_eq!(c.api_addr.as_deref(), Some("http://127.0.0.1:8200"));
        assert!(c.ui && c.disable_mlock);
        assert_eq!(c.log_level.as_deref(), Some("info"));
    }

    #[test]
    fn tls_listener_options_are_read_or_refused() {
        let listener = |body: &str| {
            parse(
                "a.hcl",
                &format!(
                    "storage \"inmem\" {{}}\nlistener \"tcp\" {{\n  tls_cert_file = \"c\"\n  tls_key_file = \"k\"\n{body}\n}}\n"
                ),
            )
        };
        let c = listener(
            "  tls_min_version = \"tls13\"\n  tls_cipher_suites = \"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\"\n  tls_prefer_server_cipher_suites = true\n  tls_disable_client_certs = true",
        )
        .unwrap();
        let tls = &c.listeners[0].tls;
        assert_eq!(tls.min_version, TlsVersion::Tls13);
        assert_eq!(tls.max_version, TlsVersion::Tls13);
        assert_eq!(tls.cipher_suites.len(), 2);
        for (body, wants) in [
            (
                "  tls_min_version = \"tls10\"",
                "is not supported: Arca speaks TLS 1.2 and 1.3",
            ),
            ("  tls_max_version = \"tls11\"", "is not supported"),
            (
                "  tls_min_version = \"ssl3\"",
                "want \"tls12\" or \"tls13\"",
            ),
            (
                "  tls_min_version = \"tls13\"\n  tls_max_version = \"tls12\"",
                "tls_min_version is above tls_max_version",
            ),
            (
                "  tls_require_and_verify_client_cert = true",
                "needs tls_client_ca_file",
            ),
            (
                "  tls_require_and_verify_client_cert = true\n  tls_client_ca_file = \"ca\"\n  tls_disable_client_certs = true",
                "mutually exclusive",
            ),
            (
                "  tls_client_auth = \"x\"",
                "unknown key \"tls_client_auth\"",
            ),
        ] {
            let e = listener(body).unwrap_err();
            assert!(e.message.contains(wants), "{body}: {e}");
        }
    }

    #[test]
    fn unknown_keys_and_stanzas_name_file_and_line() {
        let e = parse(
            "a.hcl",
            "storage \"inmem\" {}\nlistener \"tcp\" {\n  tls_disable = true\n  adress = \"x\"\n}\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 4);
        assert_eq!(
            e.to_string(),
            "a.hcl:4: unknown key \"adress\" in listener \"tcp\""
        );
        let e = parse("a.hcl", "storage \"inmem\" {}\nseal \"awskms\" {}\n").unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (2, "unknown stanza \"seal\""));
        let e = parse("a.hcl", "storage \"raft\" { path = \"x\" }\n").unwrap_err();
        assert!(e.message.contains("not supported"));
        let e = parse(
            "a.hcl",
            "storage \"file\" {}\nlistener \"tcp\" { tls_disable = true }",
        )
        .unwrap_err();
        assert!(e.message.contains("path is required"));
        let e = parse("a.hcl", "storage \"inmem\" {}\nlistener \"tcp\" {}").unwrap_err();
        assert!(e.message.contains("tls_cert_file"));
        let e = parse("a.hcl", "storage \"inmem\" {\nfoo {\n").unwrap_err();
        assert!(e.line >= 2);
        assert!(parse("a.hcl", "listener \"tcp\" { tls_disable = true }").is_err());
        assert!(parse("a.hcl", "storage \"inmem\" {}").is_err());
        let e = parse(
            "a.hcl",
            "storage \"inmem\" {}\nlistener \"tcp\" { tls_disable = \"maybe\" }",
        )
        .unwrap_err();
        assert!(e.message.contains("true or false"));
    }
}

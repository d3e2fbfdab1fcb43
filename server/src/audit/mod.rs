//! Audit: the devices (`file`, `socket`, `syslog`), the table of enabled
//! ones (stored through the barrier at `core/audit`, each device's HMAC
//! salt beside it), and the broker the request path calls twice per
//! request: once with the request before its backend runs, once with the
//! outcome before the answer leaves.
//!
//! The rule is Vault's: with devices enabled, an entry counts as written
//! when at least one device wrote it; when none could, the request fails
//! (500) and, for the request entry, its backend never runs. No audit, no
//! answer. With no device enabled the broker costs one atomic load.
//!
//! entry.rs renders entries (hashing as it serializes), jsonx.rs the XML
//! format, file.rs / socket.rs / syslog.rs the sinks.

pub mod entry;
mod file;
mod jsonx;
mod socket;
mod syslog;
mod writer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::barrier::{Barrier, View};
use crate::clock::{self, Clock};
use crate::error::{Error, Result};
use crate::logical::{Operation, Request};
use crate::secret::SecretBytes;

pub use entry::{CallerHashes, Hasher, Outcome, Record};

/// The table of enabled devices.
const AUDIT_TABLE_PATH: &str = "core/audit";
/// `<uuid>` -> the device's HMAC salt, under the audit view.
const SALT_KEY: &str = "salt";

/// Where an entry goes: one line (or datagram) per entry.
#[async_trait]
pub trait Sink: Send + Sync {
    /// Writes rendered entries (newlines included) in order, kept
    /// together. An error means this device did not record them. Never
    /// waits much longer than the device's `write_timeout`.
    async fn write(&self, entries: &[&[u8]]) -> std::io::Result<()>;

    /// Lets go of and reacquires what the sink holds (SIGHUP).
    async fn reopen(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An enabled device as stored and as `sys/audit` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceEntry {
    /// With its trailing slash (`file/`).
    pub path: String,
    #[serde(rename = "type")]
    pub device_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    #[serde(default)]
    pub local: bool,
    pub uuid: String,
}

impl DeviceEntry {
    /// The JSON of one device in `sys/audit`.
    pub fn to_api(&self) -> Value {
        json!({
            "description": self.description,
            "local": self.local,
            "options": self.options,
            "path": self.path,
            "type": self.device_type,
        })
    }
}

#[derive(Serialize, Deserialize, Default)]
struct StoredTable {
    entries: Vec<DeviceEntry>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Jsonx,
}

/// What a device's options say, checked.
struct Settings {
    format: Format,
    prefix: String,
    log_raw: bool,
    hmac_accessor: bool,
    sink: Box<dyn Sink>,
}

/// Callers whose hashes are kept per device; past this the cache starts
/// over.
const CALLER_CACHE_LIMIT: usize = 4096;

struct Device {
    entry: DeviceEntry,
    hasher: Hasher,
    settings: Settings,
    /// Token store hash -> the caller's token and accessor as this device
    /// logs them: most requests come from a few tokens, and hashing them
    /// anew twice per entry was most of an entry's cost.
    callers: std::sync::Mutex<std::collections::HashMap<String, Arc<CallerHashes>>>,
}

impl Device {
    fn new(entry: DeviceEntry, hasher: Hasher, settings: Settings) -> Self {
        Self {
            entry,
            hasher,
            settings,
            callers: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    fn caller(&self, record: &Record<'_>) -> Option<Arc<CallerHashes>> {
        if self.settings.log_raw {
            return None;
        }
        let req = record.req;
        let (key, token, entry) = (
            req.token_hash.as_ref()?,
            req.client_token.as_ref()?,
            req.token_entry.as_ref()?,
        );
        let mut cache = self.callers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cache.get(key) {
            return Some(Arc::clone(c));
        }
        let accessor = if self.settings.hmac_accessor {
            self.hasher.hash(&entry.accessor)
        } else {
            entry.accessor.clone()
        };
        let c = Arc::new(CallerHashes::new(
            self.hasher.hash(token.expose()),
            accessor,
            entry::issue_time(entry),
        ));
        if cache.len() >= CALLER_CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key.clone(), Arc::clone(&c));
        Some(c)
    }

    /// Renders `records` one after another into `out`, each with the
    /// prefix and a newline, and returns where each one ends.
    fn render(
        &self,
        records: &[&Record<'_>],
        out: &mut Vec<u8>,
    ) -> std::result::Result<Vec<usize>, serde_json::Error> {
        let s = &self.settings;
        let mut shared = entry::Shared::default();
        let mut ends = Vec::with_capacity(records.len());
        // A request's entries have the same caller: looked up once.
        let mut last: Option<(&Request, Option<Arc<CallerHashes>>)> = None;
        for record in records {
            if !last
                .as_ref()
                .is_some_and(|(req, _)| std::ptr::eq(*req, record.req))
            {
                last = Some((record.req, self.caller(record)));
            }
            let caller = last.as_ref().and_then(|(_, c)| c.as_deref());
            let policy = entry::Policy {
                hasher: (!s.log_raw).then_some(&self.hasher),
                hmac_accessor: s.hmac_accessor,
                caller,
            };
            out.extend_from_slice(s.prefix.as_bytes());
            match s.format {
                Format::Json => entry::render_json(record, policy, out, &mut shared)?,
                Format::Jsonx => {
                    let v = serde_json::to_value(entry::Rendered { record, policy })?;
                    out.extend_from_slice(jsonx::encode(&v).as_bytes());
                }
            }
            out.push(b'\n');
            ends.push(out.len());
        }
        Ok(ends)
    }

    async fn write(&self, records: &[&Record<'_>]) -> std::result::Result<(), String> {
        let mut out = RenderBuf::take(self.settings.log_raw);
        let ends = self
            .render(records, &mut out.0)
            .map_err(|e| e.to_string())?;
        let out = &out.0;
        let sink = &self.settings.sink;
        match ends.as_slice() {
            [_] => sink.write(&[out]).await,
            _ => {
                let mut start = 0;
                let parts: Vec<&[u8]> = ends
                    .iter()
                    .map(|&end| {
                        let part = &out[start..end];
                        start = end;
                        part
                    })
                    .collect();
                sink.write(&parts).await
            }
        }
        .map_err(|e| e.to_string())
    }
}

thread_local! {
    /// The buffer entries were last rendered into on this thread: a new
    /// one per entry cost more in the allocator than the rendering.
    static RENDER_BUF: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// A render buffer, back to the thread's slot when dropped (on whichever
/// thread the task is by then); zeroed first if it held clear values
/// (`log_raw`).
struct RenderBuf(Vec<u8>, bool);

/// Buffers larger than this go back to the allocator.
const RENDER_BUF_LIMIT: usize = 64 << 10;

impl RenderBuf {
    fn take(raw: bool) -> Self {
        let mut buf = RENDER_BUF.take();
        buf.clear();
        if buf.capacity() == 0 {
            buf.reserve(4096);
        }
        Self(buf, raw)
    }
}

impl Drop for RenderBuf {
    fn drop(&mut self) {
        if self.1 {
            zeroize::Zeroize::zeroize(&mut self.0);
        }
        if self.0.capacity() <= RENDER_BUF_LIMIT {
            RENDER_BUF.set(std::mem::take(&mut self.0));
        }
    }
}

fn bool_option(options: &BTreeMap<String, String>, key: &str, default: bool) -> Result<bool> {
    match options.get(key).map(|s| s.trim()) {
        None | Some("") => Ok(default),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True") => Ok(true),
        Some("0" | "f" | "F" | "false" | "FALSE" | "False") => Ok(false),
        Some(other) => Err(Error::invalid(format!(
            "unable to parse {key:?} option {other:?} as a boolean"
        ))),
    }
}

/// The options each device type takes (beyond the common ones).
fn known_options(device_type: &str) -> &'static [&'static str] {
    match device_type {
        "file" => &["file_path", "path", "mode", "write_timeout"],
        "socket" => &["address", "socket_type", "write_timeout"],
        "syslog" => &["facility", "tag", "socket_path", "write_timeout"],
        _ => &[],
    }
}
const COMMON_OPTIONS: &[&str] = &["format", "prefix", "log_raw", "hmac_accessor"];

/// How long a `file` or `syslog` device may take to write an entry before
/// its request fails (`write_timeout`; the socket device's default is
/// Vault's, in socket.rs).
const DEFAULT_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// Checks a device's options and builds its sink (for a `file` or
/// `syslog` device, that starts its writer thread, named after `path`).
fn settings(
    device_path: &str,
    device_type: &str,
    options: &BTreeMap<String, String>,
) -> Result<Settings> {
    if !matches!(device_type, "file" | "socket" | "syslog") {
        return Err(Error::invalid(format!(
            "unknown backend type: {device_type:?}"
        )));
    }
    if let Some(unknown) = options.keys().find(|k| {
        !COMMON_OPTIONS.contains(&k.as_str()) && !known_options(device_type).contains(&k.as_str())
    }) {
        return Err(Error::invalid(format!(
            "unknown option {unknown:?} for a {device_type} audit device"
        )));
    }
    let format = match options.get("format").map(String::as_str) {
        None | Some("" | "json") => Format::Json,
        Some("jsonx") => Format::Jsonx,
        Some(other) => return Err(Error::invalid(format!("unknown format type {other:?}"))),
    };
    let opt = |k: &str| options.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let log_raw = bool_option(options, "log_raw", false)?;
    let write_timeout = match opt("write_timeout") {
        None => None,
        Some(t) => Some(
            crate::duration::parse(t)
                .map_err(|e| Error::invalid(format!("invalid write_timeout: {e}")))?,
        ),
    };
    if write_timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::invalid("write_timeout must be positive"));
    }
    let started = |e: std::io::Error| Error::internal(format!("audit writer thread: {e}"));
    let sink: Box<dyn Sink> = match device_type {
        "file" => {
            let file_path = opt("file_path")
                .or_else(|| opt("path"))
                .ok_or_else(|| Error::invalid("file_path is required"))?;
            let mode = match opt("mode") {
                None => Some(file::DEFAULT_MODE),
                Some(m) => match u32::from_str_radix(m, 8) {
                    Ok(0) => None,
                    Ok(m) if m <= 0o777 && m & 0o200 != 0 => Some(m),
                    Ok(_) => {
                        return Err(Error::invalid(format!(
                            "invalid mode {m:?}: an octal file mode that lets the owner write"
                        )));
                    }
                    Err(_) => {
                        return Err(Error::invalid(format!(
                            "unable to parse mode {m:?} as an octal file mode"
                        )));
                    }
                },
            };
            let timeout = write_timeout.unwrap_or(DEFAULT_WRITE_TIMEOUT);
            file::sink(device_path, file_path, mode, log_raw, timeout).map_err(started)?
        }
        "socket" => {
            let address = opt("address").ok_or_else(|| Error::invalid("address is required"))?;
            let kind = match opt("socket_type") {
                None | Some("tcp") => socket::SocketType::Tcp,
                Some("udp") => socket::SocketType::Udp,
                Some(other) => {
                    return Err(Error::invalid(format!(
                        "unsupported socket_type {other:?} (tcp or udp)"
                    )));
                }
            };
            let timeout = write_timeout.unwrap_or(socket::DEFAULT_WRITE_TIMEOUT);
            Box::new(socket::SocketSink::new(address.to_owned(), kind, timeout))
        }
        _ => {
            let facility_name = opt("facility").unwrap_or("AUTH");
            let facility = syslog::facility(facility_name).ok_or_else(|| {
                Error::invalid(format!("unknown syslog facility {facility_name:?}"))
            })?;
            let sink = syslog::SyslogSink::new(
                opt("socket_path").map(str::to_owned),
                facility,
                opt("tag").unwrap_or("vault").to_owned(),
            );
            let timeout = write_timeout.unwrap_or(DEFAULT_WRITE_TIMEOUT);
            Box::new(writer::Writer::start(device_path, sink, timeout, log_raw).map_err(started)?)
        }
    };
    Ok(Settings {
        format,
        prefix: options.get("prefix").cloned().unwrap_or_default(),
        log_raw,
        hmac_accessor: bool_option(options, "hmac_accessor", true)?,
        sink,
    })
}

pub struct AuditBroker {
    barrier: Arc<Barrier>,
    /// Salts, one per device uuid.
    view: View,
    clock: Clock,
    /// Copy-on-write, so logging never waits for an enable or disable.
    devices: RwLock<Arc<Vec<Arc<Device>>>>,
    enabled: AtomicBool,
    /// Serializes table changes.
    change: tokio::sync::Mutex<()>,
}

impl AuditBroker {
    /// Loads the stored table and opens every device. A device whose sink
    /// cannot be reached now stays enabled and retries on every entry: an
    /// audit file on a disk that comes back is picked up again.
    ///
    /// A device whose stored settings no longer validate is left out and
    /// logged; if that leaves none of the table's devices, loading fails
    /// (and with it the unseal), naming them, as Vault does: a server with
    /// devices configured never serves unaudited.
    pub async fn load(barrier: Arc<Barrier>, view: View, clock: Clock) -> Result<Self> {
        let table = match barrier.get(AUDIT_TABLE_PATH).await? {
            Some(bytes) => serde_json::from_slice::<StoredTable>(&bytes)
                .map_err(|e| Error::internal(format!("audit table is corrupt: {e}")))?,
            None => StoredTable::default(),
        };
        let broker = Self {
            barrier,
            view,
            clock,
            devices: RwLock::new(Arc::new(Vec::new())),
            enabled: AtomicBool::new(false),
            change: tokio::sync::Mutex::new(()),
        };
        let mut devices = Vec::new();
        let mut failed = Vec::new();
        for entry in table.entries {
            let settings = match settings(&entry.path, &entry.device_type, &entry.options) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(path = %entry.path, error = %e, "audit device cannot be set up");
                    failed.push(format!("{} ({})", entry.path, e));
                    continue;
                }
            };
            let hasher = broker.salt(&entry.uuid).await?;
            devices.push(Arc::new(Device::new(entry, hasher, settings)));
        }
        if devices.is_empty() && !failed.is_empty() {
            return Err(Error::AuditSetup(format!(
                "no audit device could be set up: {}",
                failed.join(", ")
            )));
        }
        broker.publish(devices);
        Ok(broker)
    }

    fn publish(&self, devices: Vec<Arc<Device>>) {
        self.enabled.store(!devices.is_empty(), Ordering::Release);
        *self.devices.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(devices);
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Device>>> {
        Arc::clone(&self.devices.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The device's hasher, its salt created on first use.
    async fn salt(&self, uuid: &str) -> Result<Hasher> {
        let key = format!("{uuid}/{SALT_KEY}");
        let salt = match self.view.get(&key).await? {
            Some(s) => SecretBytes::new(s),
            None => {
                let s = crate::barrier::keyring::random_key();
                self.view.put(&key, s.expose()).await?;
                s
            }
        };
        Ok(Hasher::new(&salt))
    }

    /// Whether any device is enabled (the request path skips all audit
    /// work otherwise).
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Acquire)
    }

    pub fn list(&self) -> Vec<DeviceEntry> {
        let mut v: Vec<DeviceEntry> = self.snapshot().iter().map(|d| d.entry.clone()).collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// Enables a device at `path` after it has written a test entry.
    pub async fn enable(
        &self,
        path: &str,
        device_type: &str,
        description: String,
        options: BTreeMap<String, String>,
        local: bool,
    ) -> Result<()> {
        let path = normalize(path)?;
        let _guard = self.change.lock().await;
        let current = self.snapshot();
        if current.iter().any(|d| d.entry.path == path) {
            return Err(Error::invalid("path already in use"));
        }
        let settings = settings(&path, device_type, &options)?;
        let entry = DeviceEntry {
            path,
            device_type: device_type.to_owned(),
            description,
            options,
            local,
            uuid: uuid::Uuid::new_v4().to_string(),
        };
        let hasher = self.salt(&entry.uuid).await?;
        let device = Device::new(entry, hasher, settings);
        let probe = Request::new(Operation::Update, "sys/audit/test");
        let record = Record {
            time: clock::rfc3339_nanos(self.clock.now_nanos()),
            req: &probe,
            mount: None,
            outcome: None,
            error: None,
            allowed: true,
        };
        if let Err(e) = device.write(&[&record]).await {
            let _ = self
                .view
                .sub(&format!("{}/", device.entry.uuid))
                .clear()
                .await;
            return Err(Error::invalid(format!(
                "audit backend failed test message: {e}"
            )));
        }
        let mut next: Vec<Arc<Device>> = current.iter().cloned().collect();
        tracing::info!(path = %device.entry.path, device_type = %device.entry.device_type, "audit device enabled");
        next.push(Arc::new(device));
        self.persist(&next).await?;
        self.publish(next);
        Ok(())
    }

    /// Disables the device at `path`; nothing there is not an error.
    pub async fn disable(&self, path: &str) -> Result<()> {
        let path = normalize(path)?;
        let _guard = self.change.lock().await;
        let current = self.snapshot();
        let Some(gone) = current.iter().find(|d| d.entry.path == path).cloned() else {
            return Ok(());
        };
        let next: Vec<Arc<Device>> = current
            .iter()
            .filter(|d| d.entry.path != path)
            .cloned()
            .collect();
        self.persist(&next).await?;
        self.publish(next);
        self.view
            .sub(&format!("{}/", gone.entry.uuid))
            .clear()
            .await?;
        tracing::info!(path = %gone.entry.path, "audit device disabled");
        Ok(())
    }

    async fn persist(&self, devices: &[Arc<Device>]) -> Result<()> {
        let table = StoredTable {
            entries: devices.iter().map(|d| d.entry.clone()).collect(),
        };
        self.barrier
            .put(AUDIT_TABLE_PATH, &crate::barrier::view::to_json(&table))
            .await?;
        Ok(())
    }

    /// `sys/audit-hash`: the value as the device at `path` logs it.
    pub fn hash(&self, path: &str, input: &str) -> Result<String> {
        let path = normalize(path)?;
        self.snapshot()
            .iter()
            .find(|d| d.entry.path == path)
            .map(|d| d.hasher.hash(input))
            .ok_or_else(|| Error::invalid(format!("unknown audit backend {path:?}")))
    }

    /// Writes one entry to every device. Ok when at least one device wrote
    /// it (or none is enabled).
    pub async fn log(&self, record: &Record<'_>) -> Result<()> {
        self.log_all(&[record]).await
    }

    /// Writes several entries (a request and its response) to every
    /// device, in one write per device where the device allows. Ok when at
    /// least one device wrote them all.
    pub async fn log_all(&self, records: &[&Record<'_>]) -> Result<()> {
        let devices = self.snapshot();
        if devices.is_empty() {
            return Ok(());
        }
        let mut written = 0usize;
        for d in devices.iter() {
            match d.write(records).await {
                Ok(()) => written += 1,
                Err(e) => {
                    tracing::error!(device = %d.entry.path, error = %e, "audit device failed to write");
                }
            }
        }
        if written == 0 {
            return Err(Error::internal("no audit device could write the entry"));
        }
        Ok(())
    }

    /// The timestamp of an entry written now.
    pub fn now(&self) -> String {
        clock::rfc3339_nanos(self.clock.now_nanos())
    }

    /// SIGHUP: every device lets go of its file or connection and opens it
    /// again.
    pub async fn reopen(&self) {
        for d in self.snapshot().iter() {
            if let Err(e) = d.settings.sink.reopen().await {
                tracing::error!(device = %d.entry.path, error = %e, "audit device failed to reopen");
            }
        }
    }
}

fn normalize(path: &str) -> Result<String> {
    let p = path.trim_matches('/');
    if p.is_empty() || p.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(Error::invalid(format!("invalid audit path {path:?}")));
    }
    Ok(format!("{p}/"))
}

/// The body of `sys/audit`: each device under its path.
pub fn list_body(entries: &[DeviceEntry]) -> Map<String, Value> {
    entries
        .iter()
        .map(|e| (e.path.clone(), e.to_api()))
        .collect()
}

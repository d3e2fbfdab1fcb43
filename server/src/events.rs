//! Event notifications, in the shape of Vault's `sys/events/subscribe/
//! :event_type`: what changed (a KV secret written or deleted, database
//! credentials minted, a lease revoked or expired), never the secret
//! itself. Requests publish after they succeed (core/handle.rs), the
//! revocation path when a lease goes (core/revocations.rs); subscribers
//! are WebSocket connections (http/events.rs), each filtered by its
//! token's ACL.
//!
//! Publishing costs nothing while nobody listens: the event is not even
//! built.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::{broadcast, watch};

use crate::logical::{Operation, Request, Response};
use crate::router::MountEntry;

/// Events a slow subscriber may fall behind by before it misses some
/// (it is then told to resynchronize by a closed stream).
const BACKLOG: usize = 1024;

/// One event, as Vault's CloudEvents JSON carries it.
#[derive(Debug)]
pub struct Event {
    pub id: String,
    /// `kv-v2/data-write`, `lease/revoke`, …
    pub event_type: String,
    /// Free-form strings, as in Vault (`path`, `data_path`, `operation`,
    /// `modified`, …).
    pub metadata: BTreeMap<&'static str, String>,
    pub mount_class: &'static str,
    pub mount_accessor: String,
    pub mount_path: String,
    pub plugin: String,
    /// Unix nanoseconds.
    pub time: i64,
}

impl Event {
    /// The path a subscriber must be able to read to hear of it: the
    /// secret's data path when there is one, else the request's.
    pub fn acl_path(&self) -> &str {
        self.metadata
            .get("data_path")
            .or_else(|| self.metadata.get("path"))
            .map_or("", String::as_str)
    }

    /// Vault's JSON form (`json=true`).
    pub fn to_json(&self, source: &str) -> Vec<u8> {
        let time = crate::clock::rfc3339_nanos(self.time);
        let v = json!({
            "id": self.id,
            "source": source,
            "specversion": "1.0",
            "type": "*",
            "data": {
                "event": {"id": self.id, "metadata": self.metadata},
                "event_type": self.event_type,
                "plugin_info": {
                    "mount_class": self.mount_class,
                    "mount_accessor": self.mount_accessor,
                    "mount_path": self.mount_path,
                    "plugin": self.plugin,
                },
            },
            "datacontentype": "application/cloudevents",
            "time": time,
        });
        serde_json::to_vec(&v).unwrap_or_default()
    }
}

/// The server's event bus.
pub struct Events {
    tx: broadcast::Sender<Arc<Event>>,
    /// Bumped at seal: every open stream ends.
    epoch: watch::Sender<u64>,
    /// `vault://<hostname>`, as Vault names an event's source.
    pub source: String,
}

impl Default for Events {
    fn default() -> Self {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_default();
        Self {
            tx: broadcast::channel(BACKLOG).0,
            epoch: watch::channel(0).0,
            source: format!("vault://{host}"),
        }
    }
}

impl Events {
    /// Whether anyone listens (publishers skip building events if not).
    pub fn listened(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn publish(&self, event: Event) {
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Event>>, watch::Receiver<u64>) {
        (self.tx.subscribe(), self.epoch.subscribe())
    }

    /// Ends every open stream (the server is sealing).
    pub fn close_all(&self) {
        self.epoch.send_modify(|e| *e += 1);
    }

    /// What a successful request published, if anything.
    pub fn after_request(&self, entry: &MountEntry, req: &Request, resp: &Response, now: i64) {
        if !self.listened() {
            return;
        }
        if let Some(e) = from_request(entry, req, resp, now) {
            self.publish(e);
        }
    }
}

fn new_event(
    entry: &MountEntry,
    event_type: String,
    metadata: BTreeMap<&'static str, String>,
    now: i64,
) -> Event {
    Event {
        id: uuid::Uuid::new_v4().to_string(),
        event_type,
        metadata,
        mount_class: if entry.table == crate::router::Table::Auth {
            "auth"
        } else {
            "secret"
        },
        mount_accessor: entry.accessor.clone(),
        mount_path: entry.path.clone(),
        plugin: entry.mount_type.clone(),
        time: now,
    }
}

fn kv_version(entry: &MountEntry) -> Option<u8> {
    match entry.mount_type.as_str() {
        "kv-v2" => Some(2),
        "kv" => match entry.options.as_ref().and_then(|o| o.get("version")) {
            Some(v) if v == "2" => Some(2),
            _ => Some(1),
        },
        _ => None,
    }
}

/// Vault's event for a request that succeeded on `entry`.
fn from_request(entry: &MountEntry, req: &Request, resp: &Response, now: i64) -> Option<Event> {
    let rel = req.path.strip_prefix(entry.path.as_str())?;
    let write = matches!(req.operation, Operation::Create | Operation::Update);
    let (event_type, data_path) = match kv_version(entry) {
        Some(2) => {
            let (first, name) = rel.split_once('/').unwrap_or((rel, ""));
            let op = match (first, req.operation) {
                ("config", _) if write && name.is_empty() => "config-write",
                (_, _) if name.is_empty() => return None,
                ("data", _) if write => "data-write",
                ("data", Operation::Patch) => "data-patch",
                ("data", Operation::Delete) => "data-delete",
                ("metadata", _) if write => "metadata-write",
                ("metadata", Operation::Patch) => "metadata-patch",
                ("metadata", Operation::Delete) => "metadata-delete",
                ("delete", _) if write => "delete",
                ("undelete", _) if write => "undelete",
                ("destroy", _) if write => "destroy",
                _ => return None,
            };
            let data_path = (!name.is_empty()).then(|| format!("{}data/{name}", entry.path));
            (format!("kv-v2/{op}"), data_path)
        }
        Some(_) => match req.operation {
            _ if write => ("kv-v1/write".to_owned(), Some(req.path.clone())),
            Operation::Delete => ("kv-v1/delete".to_owned(), None),
            _ => return None,
        },
        None if entry.mount_type == "database"
            && req.operation == Operation::Read
            && rel.starts_with("creds/") =>
        {
            ("database/creds-create".to_owned(), None)
        }
        None => return None,
    };
    let operation = event_type.split_once('/').map_or("", |(_, o)| o).to_owned();
    let mut md = BTreeMap::new();
    md.insert("modified", "true".to_owned());
    md.insert("operation", operation);
    md.insert("path", req.path.clone());
    if let Some(d) = data_path {
        md.insert("data_path", d);
    }
    if event_type == "database/creds-create" {
        md.insert("name", rel.trim_start_matches("creds/").to_owned());
    }
    if let Some(v) = resp
        .data
        .as_ref()
        .and_then(|d| d.get("version"))
        .and_then(Value::as_u64)
    {
        md.insert("current_version", v.to_string());
    }
    Some(new_event(entry, event_type, md, now))
}

/// A lease went: `lease/revoke` (asked for, or its token went) or
/// `lease/expire` (its deadline passed). Its path is the request that
/// made it, so whoever may read that path hears of it.
pub fn lease_gone(
    entry: &MountEntry,
    lease_id: &str,
    path: &str,
    expired: bool,
    now: i64,
) -> Event {
    let op = if expired { "expire" } else { "revoke" };
    let mut md = BTreeMap::new();
    md.insert("lease_id", lease_id.to_owned());
    md.insert("modified", "true".to_owned());
    md.insert("operation", op.to_owned());
    md.insert("path", path.to_owned());
    new_event(entry, format!("lease/{op}"), md, now)
}

/// A subscription's `filter`: the part of go-bexpr's language Vault's
/// examples use: `selector == value`, `!=`, `and`, `or`, `not`,
/// parentheses; values bare or double-quoted. Selectors are the event's
/// metadata keys, `event_type`, and `plugin_info.<field>`; a missing one
/// equals nothing.
#[derive(Debug, PartialEq)]
pub enum Filter {
    Eq(String, String, bool),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

impl Filter {
    pub fn parse(src: &str) -> Result<Filter, String> {
        let tokens = tokenize(src)?;
        let mut at = 0;
        let f = parse_or(&tokens, &mut at)?;
        match tokens.get(at) {
            None => Ok(f),
            Some(t) => Err(format!("unexpected {t:?} in filter")),
        }
    }

    pub fn matches(&self, e: &Event) -> bool {
        match self {
            Filter::Eq(sel, val, eq) => (selector(e, sel) == Some(val.as_str())) == *eq,
            Filter::And(a, b) => a.matches(e) && b.matches(e),
            Filter::Or(a, b) => a.matches(e) || b.matches(e),
            Filter::Not(a) => !a.matches(e),
        }
    }
}

fn selector<'a>(e: &'a Event, sel: &str) -> Option<&'a str> {
    Some(match sel {
        "event_type" => &e.event_type,
        "plugin_info.mount_path" => &e.mount_path,
        "plugin_info.mount_accessor" => &e.mount_accessor,
        "plugin_info.mount_class" => e.mount_class,
        "plugin_info.plugin" => &e.plugin,
        other => e.metadata.get(other)?,
    })
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Op(&'static str),
}

fn tokenize(src: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut chars = src.char_indices().peekable();
    while let Some(&(i, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' => {
                chars.next();
                out.push(Tok::Op(if c == '(' { "(" } else { ")" }));
            }
            '=' | '!' => {
                chars.next();
                if chars.next_if(|&(_, n)| n == '=').is_none() {
                    return Err(format!("expected '=' after {c:?} at {i}"));
                }
                out.push(Tok::Op(if c == '=' { "==" } else { "!=" }));
            }
            '"' => {
                chars.next();
                let mut v = String::new();
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, e)) => v.push(e),
                            None => return Err("unterminated string in filter".into()),
                        },
                        Some((_, ch)) => v.push(ch),
                        None => return Err("unterminated string in filter".into()),
                    }
                }
                out.push(Tok::Quoted(v));
            }
            _ => {
                let mut w = String::new();
                while let Some(&(_, ch)) = chars.peek() {
                    if ch.is_whitespace() || matches!(ch, '(' | ')' | '=' | '!' | '"') {
                        break;
                    }
                    w.push(ch);
                    chars.next();
                }
                out.push(Tok::Word(w));
            }
        }
    }
    Ok(out)
}

fn keyword(t: Option<&Tok>, k: &str) -> bool {
    matches!(t, Some(Tok::Word(w)) if w == k)
}

fn parse_or(t: &[Tok], at: &mut usize) -> Result<Filter, String> {
    let mut left = parse_and(t, at)?;
    while keyword(t.get(*at), "or") {
        *at += 1;
        left = Filter::Or(Box::new(left), Box::new(parse_and(t, at)?));
    }
    Ok(left)
}

fn parse_and(t: &[Tok], at: &mut usize) -> Result<Filter, String> {
    let mut left = parse_term(t, at)?;
    while keyword(t.get(*at), "and") {
        *at += 1;
        left = Filter::And(Box::new(left), Box::new(parse_term(t, at)?));
    }
    Ok(left)
}

fn parse_term(t: &[Tok], at: &mut usize) -> Result<Filter, String> {
    if keyword(t.get(*at), "not") {
        *at += 1;
        return Ok(Filter::Not(Box::new(parse_term(t, at)?)));
    }
    if t.get(*at) == Some(&Tok::Op("(")) {
        *at += 1;
        let f = parse_or(t, at)?;
        if t.get(*at) != Some(&Tok::Op(")")) {
            return Err("missing ')' in filter".into());
        }
        *at += 1;
        return Ok(f);
    }
    let sel = match t.get(*at) {
        Some(Tok::Word(w) | Tok::Quoted(w)) => w.clone(),
        other => return Err(format!("expected a selector in filter, found {other:?}")),
    };
    let eq = match t.get(*at + 1) {
        Some(Tok::Op("==")) => true,
        Some(Tok::Op("!=")) => false,
        _ => return Err(format!("expected == or != after {sel:?} in filter")),
    };
    let val = match t.get(*at + 2) {
        Some(Tok::Word(w) | Tok::Quoted(w)) => w.clone(),
        _ => return Err(format!("expected a value after {sel:?} in filter")),
    };
    *at += 3;
    Ok(Filter::Eq(sel, val, eq))
}

/// Vault's event-type patterns: `*` matches any run of characters.
pub fn glob(pattern: &str, s: &str) -> bool {
    let Some((head, rest)) = pattern.split_once('*') else {
        return pattern == s;
    };
    let Some(mut s) = s.strip_prefix(head) else {
        return false;
    };
    let parts: Vec<&str> = rest.split('*').collect();
    let (last, middle) = parts.split_last().unwrap_or((&"", &[]));
    for p in middle {
        match s.find(p) {
            Some(i) => s = &s[i + p.len()..],
            None => return false,
        }
    }
    s.len() >= last.len() && s.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::Table;

    fn mount(kind: &str, path: &str, version: Option<&str>) -> MountEntry {
        MountEntry {
            table: Table::Mounts,
            path: path.into(),
            mount_type: kind.into(),
            description: String::new(),
            uuid: "u".into(),
            accessor: format!("{kind}_1234"),
            config: Default::default(),
            options: version.map(|v| [("version".to_owned(), v.to_owned())].into()),
            local: false,
            seal_wrap: false,
            external_entropy_access: false,
            builtin: false,
        }
    }

    fn event(entry: &MountEntry, op: Operation, path: &str, resp: &Response) -> Option<Event> {
        from_request(entry, &Request::new(op, path), resp, 0)
    }

    #[test]
    fn kv_v2_events() {
        let kv = mount("kv", "secret/", Some("2"));
        let written = Response::from_value(json!({"version": 3}));
        let e = event(&kv, Operation::Create, "secret/data/app/db", &written).unwrap();
        assert_eq!(e.event_type, "kv-v2/data-write");
        assert_eq!(e.acl_path(), "secret/data/app/db");
        assert_eq!(e.metadata["current_version"], "3");
        assert_eq!(e.metadata["operation"], "data-write");
        let v: Value = serde_json::from_slice(&e.to_json("vault://h")).unwrap();
        assert_eq!(v["data"]["event_type"], "kv-v2/data-write");
        assert_eq!(v["data"]["plugin_info"]["mount_path"], "secret/");
        assert_eq!(v["data"]["plugin_info"]["mount_class"], "secret");
        assert_eq!(v["data"]["event"]["metadata"]["path"], "secret/data/app/db");
        assert_eq!(v["specversion"], "1.0");
        let none = Response::empty();
        for (op, path, ty) in [
            (Operation::Delete, "secret/data/a", "kv-v2/data-delete"),
            (Operation::Patch, "secret/data/a", "kv-v2/data-patch"),
            (
                Operation::Update,
                "secret/metadata/a",
                "kv-v2/metadata-write",
            ),
            (
                Operation::Delete,
                "secret/metadata/a",
                "kv-v2/metadata-delete",
            ),
            (Operation::Update, "secret/destroy/a", "kv-v2/destroy"),
            (Operation::Update, "secret/delete/a", "kv-v2/delete"),
            (Operation::Update, "secret/undelete/a", "kv-v2/undelete"),
        ] {
            let e = event(&kv, op, path, &none).unwrap();
            assert_eq!(e.event_type, ty, "{path}");
            assert_eq!(e.acl_path(), "secret/data/a", "{path}");
        }
        let e = event(&kv, Operation::Update, "secret/config", &none).unwrap();
        assert_eq!(
            (e.event_type.as_str(), e.acl_path()),
            ("kv-v2/config-write", "secret/config")
        );
        // Reads and lists change nothing: no event.
        assert!(event(&kv, Operation::Read, "secret/data/a", &written).is_none());
        assert!(event(&kv, Operation::List, "secret/metadata/", &none).is_none());
    }

    #[test]
    fn kv_v1_database_and_others() {
        let kv = mount("kv", "kv/", None);
        let e = event(&kv, Operation::Update, "kv/a/b", &Response::empty()).unwrap();
        assert_eq!(
            (e.event_type.as_str(), e.acl_path()),
            ("kv-v1/write", "kv/a/b")
        );
        let db = mount("database", "database/", None);
        let e = event(
            &db,
            Operation::Read,
            "database/creds/app",
            &Response::empty(),
        )
        .unwrap();
        assert_eq!(e.event_type, "database/creds-create");
        assert_eq!(e.metadata["name"], "app");
        assert!(
            event(
                &db,
                Operation::Read,
                "database/roles/app",
                &Response::empty()
            )
            .is_none()
        );
        let transit = mount("transit", "transit/", None);
        assert!(
            event(
                &transit,
                Operation::Update,
                "transit/keys/k",
                &Response::empty()
            )
            .is_none()
        );
        let gone = lease_gone(&db, "database/creds/app/x", "database/creds/app", true, 0);
        assert_eq!(
            (gone.event_type.as_str(), gone.acl_path()),
            ("lease/expire", "database/creds/app")
        );
    }

    #[test]
    fn filters() {
        let kv = mount("kv", "secret/", Some("2"));
        let e = event(
            &kv,
            Operation::Update,
            "secret/data/foo",
            &Response::empty(),
        )
        .unwrap();
        for (f, m) in [
            ("data_path == secret/data/foo", true),
            ("data_path == \"secret/data/bar\"", false),
            (
                "data_path == secret/data/foo and operation != \"data-write\"",
                false,
            ),
            (
                "operation == data-delete or plugin_info.mount_path == secret/",
                true,
            ),
            ("not (event_type == kv-v2/data-write)", false),
            ("nosuch != x", true),
            ("nosuch == x", false),
        ] {
            assert_eq!(Filter::parse(f).unwrap().matches(&e), m, "{f}");
        }
        for bad in [
            "data_path",
            "a = b",
            "a == ",
            "(a == b",
            "a == \"b",
            "a == b c",
        ] {
            assert!(Filter::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn globs() {
        for (p, s, m) in [
            ("*", "kv-v2/data-write", true),
            ("kv*", "kv-v2/data-write", true),
            ("kv-v2/data-write", "kv-v2/data-write", true),
            ("kv-v2/data-write", "kv-v2/data-delete", false),
            ("kv-v2/*-write", "kv-v2/metadata-write", true),
            ("kv-v2/*-write", "kv-v2/data-delete", false),
            ("*write", "kv-v1/write", true),
            ("lease/*", "kv-v1/write", false),
            ("a*b*c", "abbc", true),
            ("a*b*c", "acb", false),
        ] {
            assert_eq!(glob(p, s), m, "{p} {s}");
        }
    }
}

//! The ACL: a token's policies merged into one matcher, with Vault's
//! precedence. An exact path wins; otherwise the most specific glob or
//! segment-wildcard path wins (later first wildcard, then non-prefix, then
//! fewer `+`, then longer, then lexicographic order). Capabilities of the
//! same path from several policies are merged; `deny` in any of them wins.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Map, Value};

use super::{Capabilities, Policy};
use crate::logical::Operation;

#[derive(Debug, Clone, Default)]
struct Permissions {
    caps: Capabilities,
    allowed: Option<BTreeMap<String, Vec<Value>>>,
    denied: Option<BTreeMap<String, Vec<Value>>>,
    required: Vec<String>,
    min_wrap: Option<Duration>,
    max_wrap: Option<Duration>,
}

impl Permissions {
    fn merge(&mut self, other: &Permissions) {
        if self.caps.contains(Capabilities::DENY) {
            return;
        }
        if other.caps.contains(Capabilities::DENY) {
            *self = Permissions {
                caps: Capabilities::DENY,
                ..Default::default()
            };
            return;
        }
        self.caps |= other.caps;
        self.max_wrap = min_some(self.max_wrap, other.max_wrap);
        self.min_wrap = min_some(self.min_wrap, other.min_wrap);
        merge_params(&mut self.allowed, &other.allowed);
        merge_params(&mut self.denied, &other.denied);
        for r in &other.required {
            if !self.required.contains(r) {
                self.required.push(r.clone());
            }
        }
    }
}

fn min_some(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

fn merge_params(
    into: &mut Option<BTreeMap<String, Vec<Value>>>,
    from: &Option<BTreeMap<String, Vec<Value>>>,
) {
    let Some(from) = from.as_ref().filter(|m| !m.is_empty()) else {
        return;
    };
    let Some(into) = into.as_mut() else {
        *into = Some(from.clone());
        return;
    };
    for (k, v) in from {
        let existing_empty = into.get(k).is_some_and(Vec::is_empty);
        if v.is_empty() || existing_empty {
            into.insert(k.clone(), Vec::new());
        } else {
            into.entry(k.clone()).or_default().extend(v.iter().cloned());
        }
    }
}

#[derive(Debug)]
struct WildcardRule {
    /// The path without a trailing `*`.
    path: String,
    segments: Vec<String>,
    is_prefix: bool,
    first_wildcard: usize,
    perms: Permissions,
}

/// What the ACL decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AclResult {
    pub allowed: bool,
    /// The matching rule grants `sudo` (or the token is root).
    pub root_privs: bool,
    pub is_root: bool,
}

#[derive(Debug, Default)]
pub struct Acl {
    root: bool,
    exact: HashMap<String, Permissions>,
    /// Prefix rules, longest first.
    prefixes: Vec<(String, Permissions)>,
    wildcards: Vec<WildcardRule>,
}

impl Acl {
    /// Merges `policies` into one ACL. It grants everything only when
    /// `root_token` says the token itself is a root token and `root` is
    /// among the policies: a policy named `root` that arrives any other
    /// way (an entity's policies, a future group) grants nothing, so no
    /// path that attaches policy names can mint a root.
    pub fn new(policies: &[std::sync::Arc<Policy>], root_token: bool) -> Self {
        let mut acl = Acl::default();
        let mut prefixes: HashMap<String, Permissions> = HashMap::new();
        let mut wildcards: HashMap<String, Permissions> = HashMap::new();
        for policy in policies {
            if policy.name == "root" && root_token {
                acl.root = true;
            }
            for rule in &policy.paths {
                let perms = Permissions {
                    caps: rule.capabilities,
                    allowed: rule.allowed_parameters.clone(),
                    denied: rule.denied_parameters.clone(),
                    required: rule.required_parameters.clone(),
                    min_wrap: rule.min_wrapping_ttl,
                    max_wrap: rule.max_wrapping_ttl,
                };
                let table = if rule.has_segment_wildcards {
                    &mut wildcards
                } else if rule.is_prefix {
                    &mut prefixes
                } else {
                    &mut acl.exact
                };
                match table.get_mut(&rule.path) {
                    Some(existing) => existing.merge(&perms),
                    None => {
                        table.insert(rule.path.clone(), perms);
                    }
                }
            }
        }
        let mut prefixes: Vec<_> = prefixes.into_iter().collect();
        prefixes.sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        acl.prefixes = prefixes;
        acl.wildcards = wildcards
            .into_iter()
            .map(|(full, perms)| {
                let is_prefix = full.ends_with('*');
                let path = if is_prefix {
                    full[..full.len() - 1].to_owned()
                } else {
                    full.clone()
                };
                WildcardRule {
                    segments: path.split('/').map(String::from).collect(),
                    first_wildcard: full.find('+').unwrap_or(full.len()),
                    path,
                    is_prefix,
                    perms,
                }
            })
            .collect();
        acl
    }

    pub fn is_root(&self) -> bool {
        self.root
    }

    fn lookup(&self, path: &str, op: Operation) -> Option<&Permissions> {
        let path = path.trim_start_matches('/');
        if let Some(p) = self.exact.get(path) {
            return Some(p);
        }
        let is_list = op == Operation::List;
        if is_list {
            if let Some(p) = self.exact.get(path.trim_end_matches('/')) {
                return Some(p);
            }
            if let Some(stripped) = path.strip_suffix('/') {
                if let Some(p) = self.non_exact(stripped) {
                    return Some(p);
                }
            }
        }
        self.non_exact(path)
    }

    fn non_exact(&self, path: &str) -> Option<&Permissions> {
        let prefix = self
            .prefixes
            .iter()
            .find(|(p, _)| path.starts_with(p.as_str()));
        if self.wildcards.is_empty() {
            return prefix.map(|(_, perms)| perms);
        }
        // Candidates as (first wildcard position, is_prefix, wildcards, len, path, perms).
        let mut best: Option<(usize, bool, usize, usize, &str, &Permissions)> =
            prefix.map(|(p, perms)| (p.len(), true, 0, p.len(), p.as_str(), perms));
        let parts: Vec<&str> = path.split('/').collect();
        'rules: for rule in &self.wildcards {
            if parts.len() < rule.segments.len() {
                continue;
            }
            if !rule.is_prefix && parts.len() != rule.segments.len() {
                continue;
            }
            let mut wild = 0;
            let last = rule.segments.len() - 1;
            for (i, seg) in rule.segments.iter().enumerate() {
                let exact = seg == parts[i];
                let last_prefix = rule.is_prefix && i == last && parts[i].starts_with(seg.as_str());
                if seg == "+" {
                    wild += 1;
                } else if !exact && !last_prefix {
                    continue 'rules;
                }
            }
            let cand = (
                rule.first_wildcard,
                rule.is_prefix,
                wild,
                rule.path.len(),
                rule.path.as_str(),
                &rule.perms,
            );
            best = match best {
                None => Some(cand),
                Some(b) => Some(if higher_priority(&cand, &b) { cand } else { b }),
            };
        }
        best.map(|b| b.5)
    }

    /// Does any rule grant something (not deny) on a path under `mount`?
    /// Decides which mounts `sys/internal/ui/mounts` shows a token.
    pub fn has_access_under(&self, mount: &str) -> bool {
        if self.root {
            return true;
        }
        let grants = |p: &Permissions| !p.caps.is_empty() && !p.caps.contains(Capabilities::DENY);
        if self
            .exact
            .iter()
            .any(|(path, p)| grants(p) && path.starts_with(mount))
        {
            return true;
        }
        if self.prefixes.iter().any(|(path, p)| {
            grants(p) && (path.starts_with(mount) || mount.starts_with(path.as_str()))
        }) {
            return true;
        }
        let mount_parts: Vec<&str> = mount.trim_end_matches('/').split('/').collect();
        self.wildcards.iter().any(|r| {
            grants(&r.perms)
                && mount_parts
                    .iter()
                    .zip(&r.segments)
                    .enumerate()
                    .all(|(i, (m, seg))| {
                        seg == "+"
                            || seg == m
                            || (r.is_prefix
                                && i == r.segments.len() - 1
                                && m.starts_with(seg.as_str()))
                    })
        })
    }

    /// Is `op` on `path` allowed, with these request parameters?
    pub fn allow(
        &self,
        path: &str,
        op: Operation,
        data: &Map<String, Value>,
        wrap_ttl: Option<Duration>,
    ) -> AclResult {
        if self.root {
            return AclResult {
                allowed: true,
                root_privs: true,
                is_root: true,
            };
        }
        let mut res = AclResult {
            allowed: false,
            root_privs: false,
            is_root: false,
        };
        let Some(perms) = self.lookup(path, op) else {
            return res;
        };
        let caps = perms.caps;
        res.root_privs = caps.contains(Capabilities::SUDO);
        let needed = match op {
            Operation::Read => Capabilities::READ,
            Operation::List => Capabilities::LIST,
            Operation::Update | Operation::Renew | Operation::Revoke => Capabilities::UPDATE,
            Operation::Create => Capabilities::CREATE,
            Operation::Delete => Capabilities::DELETE,
            Operation::Patch => Capabilities::PATCH,
        };
        if caps.contains(Capabilities::DENY) || !caps.contains(needed) {
            return res;
        }
        if let Some(max) = perms.max_wrap {
            if wrap_ttl.is_none_or(|t| t > max) {
                return res;
            }
        }
        if let Some(min) = perms.min_wrap {
            if wrap_ttl.is_none_or(|t| t < min) {
                return res;
            }
        }
        if matches!(
            op,
            Operation::Read | Operation::Update | Operation::Create | Operation::Patch
        ) && !params_allowed(perms, data)
        {
            return res;
        }
        res.allowed = true;
        res
    }

    /// The capabilities a token has on `path`, as `sys/capabilities` reports.
    pub fn capabilities(&self, path: &str) -> Vec<&'static str> {
        if self.root {
            return vec!["root"];
        }
        match self.lookup(path, Operation::List) {
            // Sorted, as Vault lists them.
            Some(p) => {
                let mut names = p.caps.names();
                names.sort_unstable();
                names
            }
            None => vec!["deny"],
        }
    }
}

fn higher_priority(
    a: &(usize, bool, usize, usize, &str, &Permissions),
    b: &(usize, bool, usize, usize, &str, &Permissions),
) -> bool {
    if a.0 != b.0 {
        return a.0 > b.0;
    }
    if a.1 != b.1 {
        return !a.1;
    }
    if a.2 != b.2 {
        return a.2 < b.2;
    }
    if a.3 != b.3 {
        return a.3 > b.3;
    }
    a.4 > b.4
}

fn params_allowed(perms: &Permissions, data: &Map<String, Value>) -> bool {
    for p in &perms.required {
        if !data.contains_key(&p.to_lowercase()) {
            return false;
        }
    }
    if data.is_empty() {
        return true;
    }
    if let Some(denied) = perms.denied.as_ref().filter(|d| !d.is_empty()) {
        if denied.contains_key("*") {
            return false;
        }
        for (k, v) in data {
            if let Some(list) = denied.get(&k.to_lowercase()) {
                if value_in_list(v, list) {
                    return false;
                }
            }
        }
    }
    let Some(allowed) = perms.allowed.as_ref().filter(|a| !a.is_empty()) else {
        return true;
    };
    let allow_all = allowed.contains_key("*");
    if allow_all && allowed.len() == 1 {
        return true;
    }
    for (k, v) in data {
        match allowed.get(&k.to_lowercase()) {
            None if !allow_all => return false,
            Some(list) if !value_in_list(v, list) => return false,
            _ => {}
        }
    }
    true
}

fn value_in_list(v: &Value, list: &[Value]) -> bool {
    if list.is_empty() {
        return true;
    }
    list.iter().any(|el| match (el, v) {
        (Value::String(pattern), Value::String(s)) => glob_match(pattern, s),
        _ => el == v,
    })
}

/// Vault's `GlobbedStringsMatch`: a `*` at either end of the pattern.
fn glob_match(pattern: &str, s: &str) -> bool {
    let (starts, ends) = (
        pattern.starts_with('*'),
        pattern.ends_with('*') && pattern.len() > 1,
    );
    match (starts, ends) {
        (true, true) => s.contains(&pattern[1..pattern.len() - 1]),
        (true, false) => s.ends_with(&pattern[1..]),
        (false, true) => s.starts_with(&pattern[..pattern.len() - 1]),
        (false, false) => pattern == s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse::parse;
    use serde_json::json;
    use std::sync::Arc;

    fn acl(srcs: &[&str]) -> Acl {
        let policies: Vec<_> = srcs
            .iter()
            .enumerate()
            .map(|(i, s)| Arc::new(parse(&format!("p{i}"), s).unwrap()))
            .collect();
        Acl::new(&policies, false)
    }

    fn allowed(a: &Acl, path: &str, op: Operation) -> bool {
        a.allow(path, op, &Map::new(), None).allowed
    }

    #[test]
    fn default_deny_exact_and_glob() {
        let a = acl(&[r#"path "secret/*" { capabilities = ["read"] }
path "secret/exact" { capabilities = ["update"] }"#]);
        assert!(allowed(&a, "secret/foo", Operation::Read));
        assert!(allowed(&a, "secret/a/b/c", Operation::Read));
        assert!(!allowed(&a, "secret/foo", Operation::Update));
        // Exact beats glob, without merging with it.
        assert!(!allowed(&a, "secret/exact", Operation::Read));
        assert!(allowed(&a, "secret/exact", Operation::Update));
        assert!(!allowed(&a, "other/foo", Operation::Read));
        assert!(!allowed(&a, "secre", Operation::Read));
    }

    #[test]
    fn deny_wins_across_policies_and_longest_prefix_wins() {
        let a = acl(&[
            r#"path "secret/*" { capabilities = ["read", "list"] }"#,
            r#"path "secret/*" { capabilities = ["deny"] }
path "secret/open/*" { capabilities = ["read"] }"#,
        ]);
        assert!(!allowed(&a, "secret/foo", Operation::Read));
        assert!(allowed(&a, "secret/open/x", Operation::Read));
        assert_eq!(a.capabilities("secret/foo"), vec!["deny"]);
    }

    #[test]
    fn merged_capabilities_from_two_policies() {
        let a = acl(&[
            r#"path "kv/x" { capabilities = ["read"] }"#,
            r#"path "kv/x" { capabilities = ["update"] }"#,
        ]);
        assert!(allowed(&a, "kv/x", Operation::Read));
        assert!(allowed(&a, "kv/x", Operation::Update));
        assert_eq!(a.capabilities("kv/x"), vec!["read", "update"]);
    }

    #[test]
    fn segment_wildcards_and_priority() {
        let a = acl(&[r#"
path "secret/+/config" { capabilities = ["read"] }
path "secret/*" { capabilities = ["list"] }
path "secret/team/+" { capabilities = ["update"] }
path "secret/+/+" { capabilities = ["delete"] }
path "secret/+/pre*" { capabilities = ["create"] }
"#]);
        // secret/+/config vs secret/* : first wildcard later in "secret/+/config"? No:
        // both at index 7; non-prefix wins.
        assert!(allowed(&a, "secret/a/config", Operation::Read));
        assert!(!allowed(&a, "secret/a/config", Operation::List));
        // secret/team/+ has its wildcard later than secret/+/+.
        assert!(allowed(&a, "secret/team/x", Operation::Update));
        assert!(!allowed(&a, "secret/team/x", Operation::Delete));
        assert!(allowed(&a, "secret/other/x", Operation::Delete));
        // "secret/*" and "secret/+/pre*" tie on the first wildcard and are
        // both prefixes; the glob has fewer `+` and wins.
        assert!(!allowed(&a, "secret/other/prefix/deep", Operation::Create));
        assert!(allowed(&a, "secret/other/prefix/deep", Operation::List));
        // Without the glob, the wildcard rule's last segment matches as a prefix.
        let b = acl(&[r#"path "secret/+/pre*" { capabilities = ["create"] }"#]);
        assert!(allowed(&b, "secret/other/prefix/deep", Operation::Create));
        assert!(!allowed(&b, "secret/other/nope", Operation::Create));
        // Segment count must match for non-prefix rules; the glob catches the rest.
        assert!(allowed(&a, "secret/a/b/c", Operation::List));
        assert!(allowed(&a, "secret/x", Operation::List));
    }

    #[test]
    fn list_on_folder_path_checks_without_slash() {
        let a = acl(&[r#"path "secret/metadata" { capabilities = ["list"] }"#]);
        assert!(allowed(&a, "secret/metadata/", Operation::List));
        assert!(!allowed(&a, "secret/metadata/", Operation::Read));
    }

    #[test]
    fn sudo_and_root() {
        let a = acl(&[r#"path "sys/rotate" { capabilities = ["update", "sudo"] }"#]);
        let r = a.allow("sys/rotate", Operation::Update, &Map::new(), None);
        assert!(r.allowed && r.root_privs && !r.is_root);
        let root_policy = [Arc::new(Policy {
            name: "root".into(),
            raw: String::new(),
            paths: vec![],
        })];
        let root = Acl::new(&root_policy, true);
        assert!(
            root.allow("anything", Operation::Delete, &Map::new(), None)
                .is_root
        );
        assert_eq!(root.capabilities("x"), vec!["root"]);
    }

    #[test]
    fn a_policy_named_root_without_a_root_token_grants_nothing() {
        let root_policy = [Arc::new(Policy {
            name: "root".into(),
            raw: String::new(),
            paths: vec![],
        })];
        let acl = Acl::new(&root_policy, false);
        assert!(!acl.is_root());
        let r = acl.allow("sys/audit/x", Operation::Update, &Map::new(), None);
        assert!(!r.allowed && !r.is_root && !r.root_privs);
        assert!(acl.capabilities("sys/audit/x") == vec!["deny"]);
        assert!(!acl.has_access_under("sys/"));
    }

    #[test]
    fn parameter_constraints() {
        let a = acl(&[r#"path "x" {
  capabilities = ["update", "create"]
  allowed_parameters = { "name" = ["ab*", "exact"], "free" = [] }
  denied_parameters = { "free" = ["forbidden"] }
  required_parameters = ["name"]
}"#]);
        let data = |v: Value| v.as_object().unwrap().clone();
        let ok = |d: Value| a.allow("x", Operation::Update, &data(d), None).allowed;
        assert!(ok(json!({"name": "abc"})));
        assert!(ok(json!({"name": "exact", "free": "anything"})));
        assert!(!ok(json!({"name": "zzz"})));
        assert!(!ok(json!({"free": "x"})));
        assert!(!ok(json!({"name": "abc", "other": 1})));
        assert!(!ok(json!({"name": "abc", "free": "forbidden"})));
    }

    #[test]
    fn wrapping_ttl_bounds() {
        let a = acl(&[r#"path "x" { capabilities = ["read"]
 min_wrapping_ttl = "1m"
 max_wrapping_ttl = "1h" }"#]);
        let m = Map::new();
        assert!(!a.allow("x", Operation::Read, &m, None).allowed);
        assert!(
            !a.allow("x", Operation::Read, &m, Some(Duration::from_secs(10)))
                .allowed
        );
        assert!(
            a.allow("x", Operation::Read, &m, Some(Duration::from_secs(300)))
                .allowed
        );
        assert!(
            !a.allow("x", Operation::Read, &m, Some(Duration::from_secs(7200)))
                .allowed
        );
    }

    #[test]
    fn glob_values() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("a*", "abc"));
        assert!(glob_match("*c", "abc"));
        assert!(glob_match("*b*", "abc"));
        assert!(!glob_match("x*", "abc"));
    }
}

//! Roles: which service accounts (`bound_service_account_names`) in which
//! namespaces (`bound_service_account_namespaces`, or a namespace label
//! selector) may log in, the `audience` their token must carry, what the
//! identity alias is named after, and the token they get (`token_*`).
//! Role names are case-insensitive (stored lowercased, as Vault does).
//!
//! Bounds use Vault's glob (go-glob): `*` matches any run of characters,
//! anywhere in the pattern, and nothing else is special; a lone `*` allows
//! everything and may not be mixed with other values.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::selector::LabelSelector;
use crate::auth::token_params::TokenParams;
use crate::error::{Error, Result};
use crate::fields;

/// `role/<lowercased name>` -> Role.
pub const ROLE_PREFIX: &str = "role/";

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AliasNameSource {
    /// The service account's uid: survives renames, never reused.
    #[default]
    ServiceaccountUid,
    /// `namespace/name`: readable, but a recreated account inherits it.
    ServiceaccountName,
}

impl AliasNameSource {
    fn parse(s: &str) -> Result<Self> {
        match s {
            "" | "serviceaccount_uid" => Ok(Self::ServiceaccountUid),
            "serviceaccount_name" => Ok(Self::ServiceaccountName),
            _ => Err(Error::invalid(
                "invalid alias_name_source, must be one of: serviceaccount_uid, serviceaccount_name",
            )),
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::ServiceaccountUid => "serviceaccount_uid",
            Self::ServiceaccountName => "serviceaccount_name",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub bound_service_account_names: Vec<String>,
    #[serde(default)]
    pub bound_service_account_namespaces: Vec<String>,
    /// JSON or YAML label selector as written; empty: none.
    #[serde(default)]
    pub bound_service_account_namespace_selector: String,
    /// Empty: no audience required.
    #[serde(default)]
    pub audience: String,
    #[serde(default)]
    pub alias_name_source: AliasNameSource,
    #[serde(default)]
    pub token: TokenParams,
    /// The legacy `num_uses` field was used (echoed on read, as Vault does;
    /// TokenParams handles the other legacy names).
    #[serde(default)]
    pub legacy_num_uses: bool,
}

/// Vault's `framework.GenericNameRegex`: word characters, `-` and `.`,
/// starting and ending with a word character.
pub fn valid_name(name: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let (Some(first), Some(last)) = (name.chars().next(), name.chars().last()) else {
        return false;
    };
    word(first) && word(last) && name.chars().all(|c| word(c) || c == '-' || c == '.')
}

pub fn key(name: &str) -> String {
    format!("{ROLE_PREFIX}{}", name.to_lowercase())
}

fn list_field(d: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>> {
    Ok(fields::string_list(d, field)?.map(|v| {
        v.into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }))
}

fn no_mixed_star(list: &[String]) -> Result<()> {
    if list.len() > 1 && list.iter().any(|s| s == "*") {
        return Err(Error::invalid("can not mix \"*\" with values"));
    }
    Ok(())
}

impl Role {
    /// Applies a write to the role (`existing`, or a new one): the fields
    /// present change, the others keep their value. Nothing is returned
    /// unless the whole result is valid.
    pub fn from_write(existing: Option<Role>, d: &Map<String, Value>) -> Result<Role> {
        let mut role = existing.unwrap_or_else(|| Role {
            bound_service_account_names: Vec::new(),
            bound_service_account_namespaces: Vec::new(),
            bound_service_account_namespace_selector: String::new(),
            audience: String::new(),
            alias_name_source: AliasNameSource::default(),
            token: TokenParams::new(),
            legacy_num_uses: false,
        });

        // `num_uses` is the one legacy token field TokenParams does not
        // take; map it onto `token_num_uses` when that is absent.
        let mut token_fields = d.clone();
        if !d.contains_key("token_num_uses") {
            if let Some(n) = d.get("num_uses") {
                token_fields.insert("token_num_uses".into(), n.clone());
                role.legacy_num_uses = true;
            }
        }
        role.token.update(&token_fields)?;

        if let Some(names) = list_field(d, "bound_service_account_names")? {
            role.bound_service_account_names = names;
        }
        if role.bound_service_account_names.is_empty() {
            return Err(Error::invalid(
                "\"bound_service_account_names\" can not be empty",
            ));
        }
        no_mixed_star(&role.bound_service_account_names)?;

        if let Some(ns) = list_field(d, "bound_service_account_namespaces")? {
            role.bound_service_account_namespaces = ns;
        }
        if let Some(sel) = fields::string(d, "bound_service_account_namespace_selector")? {
            role.bound_service_account_namespace_selector = sel;
        }
        if role.bound_service_account_namespaces.is_empty()
            && role.bound_service_account_namespace_selector.is_empty()
        {
            return Err(Error::invalid(
                "\"bound_service_account_namespaces\" can not be empty if \"bound_service_account_namespace_selector\" is not set",
            ));
        }
        if !role.bound_service_account_namespace_selector.is_empty()
            && LabelSelector::parse(&role.bound_service_account_namespace_selector).is_err()
        {
            return Err(Error::invalid(
                "invalid \"bound_service_account_namespace_selector\" configured",
            ));
        }
        no_mixed_star(&role.bound_service_account_namespaces)?;

        if let Some(aud) = fields::string(d, "audience")? {
            role.audience = aud;
        }
        if let Some(src) = fields::string(d, "alias_name_source")? {
            role.alias_name_source = AliasNameSource::parse(&src)?;
        }
        Ok(role)
    }

    /// Vault's read shape.
    pub fn to_read(&self) -> Map<String, Value> {
        let mut d = Map::new();
        d.insert(
            "bound_service_account_names".into(),
            json!(self.bound_service_account_names),
        );
        d.insert(
            "bound_service_account_namespaces".into(),
            json!(self.bound_service_account_namespaces),
        );
        d.insert(
            "bound_service_account_namespace_selector".into(),
            json!(self.bound_service_account_namespace_selector),
        );
        if !self.audience.is_empty() {
            d.insert("audience".into(), json!(self.audience));
        }
        self.token.write_to(&mut d);
        if self.legacy_num_uses && self.token.num_uses > 0 {
            d.insert("num_uses".into(), json!(self.token.num_uses));
        }
        d.insert(
            "alias_name_source".into(),
            json!(self.alias_name_source.as_str()),
        );
        d
    }

    /// The service account name is bound by the role.
    pub fn allows_name(&self, name: &str) -> bool {
        match self.bound_service_account_names.as_slice() {
            [only] if only == "*" => true,
            names => contains_glob(names, name),
        }
    }

    /// The namespace is in the role's list (the label selector, checked
    /// against the API server, is the other way in).
    pub fn lists_namespace(&self, namespace: &str) -> bool {
        match self.bound_service_account_namespaces.first() {
            None => false,
            Some(first) if first == "*" => true,
            Some(_) => contains_glob(&self.bound_service_account_namespaces, namespace),
        }
    }

    /// The alias name for a service account, per `alias_name_source`.
    pub fn alias_name(&self, namespace: &str, name: &str, uid: &str) -> Option<String> {
        match self.alias_name_source {
            AliasNameSource::ServiceaccountUid => Some(uid.to_owned()),
            AliasNameSource::ServiceaccountName if namespace.is_empty() || name.is_empty() => None,
            AliasNameSource::ServiceaccountName => Some(format!("{namespace}/{name}")),
        }
    }
}

fn contains_glob(patterns: &[String], subject: &str) -> bool {
    patterns.iter().any(|p| glob(p, subject))
}

/// ryanuber/go-glob, line for line: the first piece must be a prefix
/// unless the pattern starts with `*`, each middle piece is found left to
/// right, and the last must be a suffix of what remains unless the
/// pattern ends with `*`.
pub fn glob(pattern: &str, subject: &str) -> bool {
    if pattern.is_empty() {
        return subject.is_empty();
    }
    if pattern == "*" {
        return true;
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return subject == pattern;
    }
    let leading = pattern.starts_with('*');
    let trailing = pattern.ends_with('*');
    let end = parts.len() - 1;
    let mut rest = subject;
    for (i, part) in parts[..end].iter().enumerate() {
        let Some(idx) = rest.find(part) else {
            return false;
        };
        if i == 0 && !leading && idx != 0 {
            return false;
        }
        rest = &rest[idx + part.len()..];
    }
    trailing || rest.ends_with(parts[end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn go_glob_semantics() {
        for (p, s, want) in [
            ("*", "anything", true),
            ("", "", true),
            ("", "a", false),
            ("app", "app", true),
            ("app", "app2", false),
            ("web-*", "web-1", true),
            ("web-*", "xweb-1", false),
            ("*-prod", "api-prod", true),
            ("*-prod", "api-prod2", false),
            ("a*b*c", "a-b-c", true),
            ("a*b*c", "acb", false),
            ("*mid*", "xxmidyy", true),
            ("team-*-ns", "team-a-ns", true),
            ("team-*-ns", "team-a-nsx", false),
            ("App", "app", false),
        ] {
            assert_eq!(glob(p, s), want, "{p:?} vs {s:?}");
        }
    }

    #[test]
    fn names() {
        for ok in ["a", "my-role", "r.1", "R_2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-a", "a-", "a b", "a/b", ".a"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn writes_validate_like_vault() {
        let e = |v: Value| Role::from_write(None, &map(v)).unwrap_err().to_string();
        assert_eq!(
            e(json!({})),
            "\"bound_service_account_names\" can not be empty"
        );
        assert!(e(json!({"bound_service_account_names": "a"})).contains("can not be empty if"));
        assert_eq!(
            e(
                json!({"bound_service_account_names": "a,*", "bound_service_account_namespaces": "n"})
            ),
            "can not mix \"*\" with values"
        );
        assert_eq!(
            e(
                json!({"bound_service_account_names": "a", "bound_service_account_namespaces": ["n", "*"]})
            ),
            "can not mix \"*\" with values"
        );
        assert!(
            e(
                json!({"bound_service_account_names": "a", "bound_service_account_namespaces": "n",
                     "alias_name_source": "bad"})
            )
            .starts_with("invalid alias_name_source")
        );
        assert!(
            e(json!({"bound_service_account_names": "a",
                     "bound_service_account_namespace_selector": "{not json"}))
            .contains("selector")
        );
    }

    #[test]
    fn updates_keep_what_is_not_written_and_read_echoes() {
        let r = Role::from_write(
            None,
            &map(json!({"bound_service_account_names": "app, web-*",
                        "bound_service_account_namespaces": "default",
                        "policies": "p1", "num_uses": 3})),
        )
        .unwrap();
        let r = Role::from_write(Some(r), &map(json!({"audience": "vault"}))).unwrap();
        assert_eq!(r.bound_service_account_names, ["app", "web-*"]);
        assert!(r.allows_name("web-7") && !r.allows_name("db"));
        assert!(r.lists_namespace("default") && !r.lists_namespace("kube-system"));
        let read = r.to_read();
        assert_eq!(read["audience"], "vault");
        assert_eq!(read["policies"], json!(["p1"]));
        assert_eq!(read["token_num_uses"], 3);
        assert_eq!(read["num_uses"], 3);
        assert_eq!(read["alias_name_source"], "serviceaccount_uid");
        assert_eq!(read["bound_service_account_namespace_selector"], "");
        assert_eq!(r.alias_name("ns", "sa", "u"), Some("u".into()));

        let star = Role::from_write(
            None,
            &map(
                json!({"bound_service_account_names": "*", "bound_service_account_namespaces": "*",
                        "alias_name_source": "serviceaccount_name"}),
            ),
        )
        .unwrap();
        assert!(star.allows_name("x") && star.lists_namespace("y"));
        assert!(!star.to_read().contains_key("audience"));
        assert_eq!(star.alias_name("ns", "sa", "u"), Some("ns/sa".into()));
        assert_eq!(star.alias_name("", "sa", "u"), None);
    }
}

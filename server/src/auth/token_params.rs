//! The `token_*` fields every auth method's roles and users share
//! (Vault's tokenutil): what a login's token gets. Parsed from a write,
//! echoed on read in Vault's shape, and turned into the login's token
//! settings. The legacy names (`policies`, `ttl`, `max_ttl`, `period`,
//! `bound_cidrs`) are accepted and, once used, echoed back as Vault does.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::cidr::Cidr;
use crate::error::{Error, Result};
use crate::fields;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenParams {
    #[serde(default)]
    pub policies: Vec<String>,
    /// Seconds.
    #[serde(default)]
    pub ttl: u64,
    #[serde(default)]
    pub max_ttl: u64,
    #[serde(default)]
    pub period: u64,
    #[serde(default)]
    pub explicit_max_ttl: u64,
    #[serde(default)]
    pub num_uses: i64,
    #[serde(default)]
    pub bound_cidrs: Vec<String>,
    /// `default`, `service`, `batch`, `default-service`, `default-batch`.
    #[serde(default = "default_type")]
    pub token_type: String,
    #[serde(default)]
    pub no_default_policy: bool,
    /// Legacy field names the client used, echoed on read.
    #[serde(default)]
    pub legacy: Vec<String>,
}

fn default_type() -> String {
    "default".into()
}

impl Default for TokenParams {
    fn default() -> Self {
        Self {
            policies: Vec::new(),
            ttl: 0,
            max_ttl: 0,
            period: 0,
            explicit_max_ttl: 0,
            num_uses: 0,
            bound_cidrs: Vec::new(),
            token_type: default_type(),
            no_default_policy: false,
            legacy: Vec::new(),
        }
    }
}

fn secs(d: Duration) -> u64 {
    d.as_secs()
}

/// A comma-separated string or a list, trimmed, empties dropped.
fn list(d: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    Ok(fields::string_list(d, key)?.map(|v| {
        v.into_iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    }))
}

fn cidrs(d: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    let Some(v) = list(d, key)? else {
        return Ok(None);
    };
    v.iter()
        .map(|s| {
            s.parse::<Cidr>()
                .map(|c| c.to_string())
                .map_err(|e| Error::invalid(format!("invalid {key}: {e}")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

/// Parses a `*_bound_cidrs` list field (also for secret-id and login
/// bounds of the methods).
pub fn cidr_list(d: &Map<String, Value>, key: &str) -> Result<Option<Vec<String>>> {
    cidrs(d, key)
}

impl TokenParams {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies the fields present in `d`; absent ones keep their value.
    /// On error nothing changes.
    pub fn update(&mut self, d: &Map<String, Value>) -> Result<()> {
        let mut next = self.clone();
        next.apply(d)?;
        *self = next;
        Ok(())
    }

    fn apply(&mut self, d: &Map<String, Value>) -> Result<()> {
        let legacy = |name: &str, present: bool, this: &mut Vec<String>| {
            if present && !this.iter().any(|l| l == name) {
                this.push(name.to_owned());
            }
        };
        let mut used = std::mem::take(&mut self.legacy);
        // Writing the `token_` form retires the legacy echo, as in Vault.
        for (new, old) in [
            ("token_policies", "policies"),
            ("token_ttl", "ttl"),
            ("token_max_ttl", "max_ttl"),
            ("token_period", "period"),
            ("token_bound_cidrs", "bound_cidrs"),
        ] {
            if d.contains_key(new) {
                used.retain(|l| l != old);
            }
        }
        if let Some(p) = list(d, "token_policies")? {
            self.policies = p;
        } else if let Some(p) = list(d, "policies")? {
            self.policies = p;
            legacy("policies", true, &mut used);
        }
        for p in &mut self.policies {
            *p = p.to_lowercase();
        }
        if let Some(t) = fields::duration(d, "token_ttl")? {
            self.ttl = secs(t);
        } else if let Some(t) = fields::duration(d, "ttl")? {
            self.ttl = secs(t);
            legacy("ttl", true, &mut used);
        }
        if let Some(t) = fields::duration(d, "token_max_ttl")? {
            self.max_ttl = secs(t);
        } else if let Some(t) = fields::duration(d, "max_ttl")? {
            self.max_ttl = secs(t);
            legacy("max_ttl", true, &mut used);
        }
        if let Some(t) = fields::duration(d, "token_period")? {
            self.period = secs(t);
        } else if let Some(t) = fields::duration(d, "period")? {
            self.period = secs(t);
            legacy("period", true, &mut used);
        }
        if let Some(t) = fields::duration(d, "token_explicit_max_ttl")? {
            self.explicit_max_ttl = secs(t);
        }
        if let Some(n) = fields::int(d, "token_num_uses")? {
            if n < 0 {
                return Err(Error::invalid("token_num_uses cannot be negative"));
            }
            self.num_uses = n;
        }
        if let Some(c) = cidrs(d, "token_bound_cidrs")? {
            self.bound_cidrs = c;
        } else if let Some(c) = cidrs(d, "bound_cidrs")? {
            self.bound_cidrs = c;
            legacy("bound_cidrs", true, &mut used);
        }
        if let Some(t) = fields::string(d, "token_type")? {
            let t = if t.is_empty() { default_type() } else { t };
            if !matches!(
                t.as_str(),
                "default" | "service" | "batch" | "default-service" | "default-batch"
            ) {
                return Err(Error::invalid(format!("invalid 'token_type' value {t:?}")));
            }
            self.token_type = t;
        }
        if let Some(b) = fields::bool(d, "token_no_default_policy")? {
            self.no_default_policy = b;
        }
        self.legacy = used;
        if self.max_ttl > 0 && self.ttl > self.max_ttl {
            return Err(Error::invalid(
                "\"token_ttl\" value must be less than \"token_max_ttl\" value",
            ));
        }
        if self.is_batch() && self.period > 0 {
            return Err(Error::invalid("batch tokens cannot be periodic"));
        }
        if self.is_batch() && self.num_uses > 0 {
            return Err(Error::invalid("batch tokens cannot have a use limit"));
        }
        Ok(())
    }

    pub fn is_batch(&self) -> bool {
        self.token_type == "batch"
    }

    /// Adds the `token_*` fields (and legacy echoes) to a read response.
    pub fn write_to(&self, out: &mut Map<String, Value>) {
        out.insert("token_bound_cidrs".into(), json!(self.bound_cidrs));
        out.insert(
            "token_explicit_max_ttl".into(),
            json!(self.explicit_max_ttl),
        );
        out.insert("token_max_ttl".into(), json!(self.max_ttl));
        out.insert(
            "token_no_default_policy".into(),
            json!(self.no_default_policy),
        );
        out.insert("token_num_uses".into(), json!(self.num_uses));
        out.insert("token_period".into(), json!(self.period));
        out.insert("token_policies".into(), json!(self.policies));
        out.insert("token_strictly_bind_ip".into(), json!(false));
        out.insert("token_ttl".into(), json!(self.ttl));
        out.insert("token_type".into(), json!(self.token_type));
        for l in &self.legacy {
            let v = match l.as_str() {
                "policies" => json!(self.policies),
                "ttl" => json!(self.ttl),
                "max_ttl" => json!(self.max_ttl),
                "period" => json!(self.period),
                "bound_cidrs" => json!(self.bound_cidrs),
                _ => continue,
            };
            out.insert(l.clone(), v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn parses_both_spellings_and_echoes_like_vault() {
        let mut p = TokenParams::new();
        p.update(&map(json!({"token_policies": "a, B", "token_ttl": "1h",
                              "token_bound_cidrs": "127.0.0.1/32,10.0.0.0/8"})))
            .unwrap();
        assert_eq!(p.policies, ["a", "b"]);
        assert_eq!(p.ttl, 3600);
        assert_eq!(p.bound_cidrs, ["127.0.0.1", "10.0.0.0/8"]);
        let mut out = Map::new();
        p.write_to(&mut out);
        assert_eq!(out["token_type"], "default");
        assert!(!out.contains_key("policies"));

        let mut l = TokenParams::new();
        l.update(&map(json!({"policies": ["c"], "ttl": 60})))
            .unwrap();
        let mut out = Map::new();
        l.write_to(&mut out);
        assert_eq!(out["policies"], json!(["c"]));
        assert_eq!(out["ttl"], 60);
        assert_eq!(out["token_policies"], json!(["c"]));
    }

    #[test]
    fn rejects_bad_values_and_changes_nothing_it_should_not() {
        let mut p = TokenParams::new();
        for bad in [
            json!({"token_type": "weird"}),
            json!({"token_bound_cidrs": "10.0.0.0/99"}),
            json!({"token_num_uses": -1}),
            json!({"token_ttl": "2h", "token_max_ttl": "1h"}),
            json!({"token_ttl": "soon"}),
        ] {
            let mut q = p.clone();
            assert!(q.update(&map(bad.clone())).is_err(), "{bad}");
        }
        p.update(&map(json!({"token_type": "batch"}))).unwrap();
        assert!(p.is_batch());
        assert!(p.update(&map(json!({"token_period": "1h"}))).is_err());
    }
}

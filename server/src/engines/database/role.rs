//! `database/roles/:name`: which connection a role's users are made on,
//! with which statements, for how long.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::plugin::Statements;
use crate::error::{Error, Result};
use crate::fields;

#[derive(Clone, Serialize, Deserialize)]
pub struct Role {
    pub db_name: String,
    #[serde(default)]
    pub creation_statements: Vec<String>,
    #[serde(default)]
    pub revocation_statements: Vec<String>,
    #[serde(default)]
    pub rollback_statements: Vec<String>,
    #[serde(default)]
    pub renew_statements: Vec<String>,
    /// Seconds; 0: the mount's.
    #[serde(default)]
    pub default_ttl: u64,
    #[serde(default)]
    pub max_ttl: u64,
}

/// A statements field: a list, or one string (kept whole: it is split at
/// `;` when run).
fn statements(d: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>> {
    match d.get(field) {
        Some(Value::String(s)) => Ok(Some(if s.trim().is_empty() {
            Vec::new()
        } else {
            vec![s.clone()]
        })),
        _ => fields::string_list(d, field),
    }
}

impl Role {
    /// A write: the fields given, over `existing` if there is one.
    pub fn from_write(existing: Option<Role>, d: &Map<String, Value>) -> Result<Self> {
        let db_name = fields::string(d, "db_name")?
            .filter(|n| !n.is_empty())
            .or_else(|| existing.as_ref().map(|r| r.db_name.clone()))
            .ok_or_else(|| Error::invalid("database name is required"))?;
        let old = existing.unwrap_or(Role {
            db_name: String::new(),
            creation_statements: Vec::new(),
            revocation_statements: Vec::new(),
            rollback_statements: Vec::new(),
            renew_statements: Vec::new(),
            default_ttl: 0,
            max_ttl: 0,
        });
        let secs = |field: &str, old: u64| -> Result<u64> {
            Ok(fields::duration(d, field)?.map_or(old, |t| t.as_secs()))
        };
        Ok(Role {
            db_name,
            creation_statements: statements(d, "creation_statements")?
                .unwrap_or(old.creation_statements),
            revocation_statements: statements(d, "revocation_statements")?
                .unwrap_or(old.revocation_statements),
            rollback_statements: statements(d, "rollback_statements")?
                .unwrap_or(old.rollback_statements),
            renew_statements: statements(d, "renew_statements")?.unwrap_or(old.renew_statements),
            default_ttl: secs("default_ttl", old.default_ttl)?,
            max_ttl: secs("max_ttl", old.max_ttl)?,
        })
    }

    pub fn to_read(&self) -> Map<String, Value> {
        let v = json!({
            "creation_statements": self.creation_statements,
            "credential_type": "password",
            "db_name": self.db_name,
            "default_ttl": self.default_ttl,
            "max_ttl": self.max_ttl,
            "renew_statements": self.renew_statements,
            "revocation_statements": self.revocation_statements,
            "rollback_statements": self.rollback_statements,
        });
        match v {
            Value::Object(m) => m,
            _ => Map::new(),
        }
    }

    pub fn statements(&self) -> Statements {
        Statements {
            creation: self.creation_statements.clone(),
            revocation: self.revocation_statements.clone(),
            rollback: self.rollback_statements.clone(),
            renew: self.renew_statements.clone(),
        }
    }

    pub fn ttls(&self) -> (Option<Duration>, Option<Duration>) {
        let d = |s: u64| (s > 0).then(|| Duration::from_secs(s));
        (d(self.default_ttl), d(self.max_ttl))
    }
}

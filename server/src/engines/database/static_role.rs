//! Static roles (`static-roles/:name`): an existing database user whose
//! password Arca changes every `rotation_period` (and on
//! `rotate-role/:name`), handed out by `static-creds/:name` without a
//! lease. OpenBao's fields, answers and errors; like OpenBao 2.7, only
//! `rotation_period` (no `rotation_schedule`).
//!
//! The password is set in the database when the role is made (a user that
//! does not exist fails the write), then by a ticker of the mount once a
//! rotation is due. It is kept through the barrier with the role, never
//! logged.

use std::sync::{Arc, Weak};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::{Database, redact, template};
use crate::clock::rfc3339_nanos;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use crate::secret::SecretString;

/// `static-role/<name>` -> StaticRole.
pub(super) const STATIC_PREFIX: &str = "static-role/";
/// The shortest rotation period OpenBao takes.
const MIN_PERIOD: u64 = 5;
/// How often the ticker looks for due rotations.
const TICK: Duration = Duration::from_secs(1);

#[derive(Clone, Serialize, Deserialize)]
pub(super) struct StaticRole {
    pub db_name: String,
    pub username: String,
    /// Seconds.
    pub rotation_period: u64,
    #[serde(default)]
    pub rotation_statements: Vec<String>,
    #[serde(with = "crate::secret::stored")]
    pub password: SecretString,
    /// Unix nanoseconds of the last rotation.
    pub last_vault_rotation: i64,
    /// A rotation under way: the new password, stored before the database
    /// is told, so that a crash in between loses neither (`settle`).
    #[serde(default, with = "crate::secret::stored_opt")]
    pub pending_password: Option<SecretString>,
}

impl StaticRole {
    fn next_rotation(&self) -> i64 {
        let period = i64::try_from(self.rotation_period).unwrap_or(i64::MAX / 2_000_000_000);
        self.last_vault_rotation
            .saturating_add(period.saturating_mul(1_000_000_000))
    }
}

fn map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

impl Database {
    pub(super) async fn static_role(&self, name: &str) -> Result<Option<StaticRole>> {
        Ok(self
            .view
            .get_json(&format!("{STATIC_PREFIX}{name}"))
            .await?)
    }

    /// Sets a new password for the role's user in its database and keeps
    /// it; the role as it is after. The new password is stored (pending)
    /// before the database is told.
    async fn rotate_static(&self, name: &str, mut role: StaticRole) -> Result<StaticRole> {
        let key = format!("{STATIC_PREFIX}{name}");
        let (plugin, config) = self.connection(&role.db_name).await?;
        let password = SecretString::new(template::password());
        let known = !role.password.expose().is_empty();
        role.pending_password = Some(password.clone());
        if known {
            self.view.put_json(&key, &role).await?;
        }
        if let Err(e) = plugin
            .set_root_password(&role.rotation_statements, &role.username, password.expose())
            .await
        {
            // The database kept the old password.
            role.pending_password = None;
            if known {
                self.view.put_json(&key, &role).await?;
            }
            let msg = redact(&e.0, password.expose());
            let msg = redact(&msg, config.password.expose());
            return Err(Error::Upstream(format!(
                "error setting credentials: {}",
                crate::error::wrapped(&msg)
            )));
        }
        role.password = password;
        role.pending_password = None;
        role.last_vault_rotation = self.clock.now_nanos();
        self.view.put_json(&key, &role).await?;
        Ok(role)
    }

    /// A rotation a crash interrupted: keep whichever password the
    /// database takes for the role's user. The caller holds `rotating`.
    pub(super) async fn settle(&self, name: &str, mut role: StaticRole) -> Result<StaticRole> {
        let Some(pending) = role.pending_password.take() else {
            return Ok(role);
        };
        let Some(mut config) = self.config(&role.db_name).await? else {
            return Ok(role);
        };
        config.username = role.username.clone();
        config.password = pending.clone();
        config.rotating_password = None;
        let works = match super::plugin::open(&config) {
            Ok(p) => {
                let ok = p.verify().await.is_ok();
                p.reset().await;
                ok
            }
            Err(_) => false,
        };
        if works {
            role.password = pending;
            role.last_vault_rotation = self.clock.now_nanos();
        }
        self.view
            .put_json(&format!("{STATIC_PREFIX}{name}"), &role)
            .await?;
        Ok(role)
    }

    pub(super) async fn handle_static_role(&self, req: &Request, name: &str) -> Result<Response> {
        let key = format!("{STATIC_PREFIX}{name}");
        match req.operation {
            Operation::Read => {
                let r = self.static_role(name).await?.ok_or(Error::NotFound)?;
                Ok(Response::data(map(json!({
                    "credential_type": "password",
                    "db_name": r.db_name,
                    "last_vault_rotation": rfc3339_nanos(r.last_vault_rotation),
                    "rotation_period": r.rotation_period,
                    "rotation_statements": r.rotation_statements,
                    "username": r.username,
                }))))
            }
            Operation::Create | Operation::Update => {
                let _one = self.rotating.lock().await;
                let d = &req.data;
                let old = self.static_role(name).await?;
                let username = fields::string(d, "username")?.filter(|u| !u.is_empty());
                if let (Some(old), Some(u)) = (&old, &username) {
                    if *u != old.username {
                        return Err(Error::invalid("cannot update static account username"));
                    }
                }
                let db_name = fields::string(d, "db_name")?
                    .filter(|n| !n.is_empty())
                    .or_else(|| old.as_ref().map(|r| r.db_name.clone()))
                    .ok_or_else(|| Error::invalid("database name is a required field"))?;
                let Some(username) = username.or_else(|| old.as_ref().map(|r| r.username.clone()))
                else {
                    return Err(Error::invalid(
                        "username is a required field to create a static account",
                    ));
                };
                let rotation_period = match fields::duration(d, "rotation_period")? {
                    Some(p) => p.as_secs(),
                    None => old.as_ref().map_or(0, |r| r.rotation_period),
                };
                if rotation_period == 0 {
                    return Err(Error::invalid(
                        "rotation_period is required to create static accounts",
                    ));
                }
                if rotation_period < MIN_PERIOD {
                    return Err(Error::invalid("rotation_period must be 5 seconds or more"));
                }
                if fields::string(d, "rotation_schedule")?.is_some_and(|s| !s.is_empty()) {
                    return Err(Error::invalid(
                        "rotation_schedule is not supported (as in OpenBao 2.7): use rotation_period",
                    ));
                }
                let rotation_statements = match fields::string_list(d, "rotation_statements")? {
                    Some(s) => s,
                    None => old
                        .as_ref()
                        .map(|r| r.rotation_statements.clone())
                        .unwrap_or_default(),
                };
                let config = self.config(&db_name).await?.ok_or_else(|| {
                    Error::invalid(format!("could not find database named: {db_name}"))
                })?;
                if !config.allows(name) {
                    return Err(Error::invalid(format!("{name:?} is not an allowed role")));
                }
                match old {
                    Some(mut r) => {
                        r.db_name = db_name;
                        r.rotation_period = rotation_period;
                        r.rotation_statements = rotation_statements;
                        self.view.put_json(&key, &r).await?;
                    }
                    None => {
                        // A new static account: its password is set now.
                        let r = StaticRole {
                            db_name,
                            username,
                            rotation_period,
                            rotation_statements,
                            password: SecretString::new(String::new()),
                            last_vault_rotation: 0,
                            pending_password: None,
                        };
                        self.rotate_static(name, r).await?;
                    }
                }
                Ok(Response::empty())
            }
            Operation::Delete => {
                self.view.delete(&key).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }

    pub(super) async fn static_creds(&self, req: &Request, name: &str) -> Result<Response> {
        if req.operation != Operation::Read {
            return Err(Error::UnsupportedOperation);
        }
        let mut r = self
            .static_role(name)
            .await?
            .ok_or_else(|| Error::invalid(format!("unknown role: {name}")))?;
        if r.pending_password.is_some() {
            let _one = self.rotating.lock().await;
            if let Some(now) = self.static_role(name).await? {
                r = self.settle(name, now).await?;
            }
        }
        let ttl = (r.next_rotation() - self.clock.now_nanos()).max(0) / 1_000_000_000;
        Ok(Response::data(map(json!({
            "last_vault_rotation": rfc3339_nanos(r.last_vault_rotation),
            "password": r.password.expose(),
            "rotation_period": r.rotation_period,
            "ttl": ttl,
            "username": r.username,
        }))))
    }

    pub(super) async fn rotate_role(&self, name: &str) -> Result<Response> {
        let _one = self.rotating.lock().await;
        let r = self
            .static_role(name)
            .await?
            .ok_or_else(|| Error::invalid("no static role found for role name"))?;
        let r = self.settle(name, r).await?;
        self.rotate_static(name, r).await?;
        Ok(Response::empty())
    }

    /// Rotates every static role that is due.
    async fn rotate_due(&self) -> Result<()> {
        let now = self.clock.now_nanos();
        for name in self.view.list(STATIC_PREFIX).await? {
            let _one = self.rotating.lock().await;
            let Some(r) = self.static_role(&name).await? else {
                continue;
            };
            let r = self.settle(&name, r).await?;
            if r.next_rotation() <= now {
                if let Err(e) = self.rotate_static(&name, r).await {
                    tracing::warn!(role = %name, error = %e, "static role rotation failed; will retry");
                }
            }
        }
        Ok(())
    }
}

/// The mount's rotation ticker: runs while the mount exists.
pub(super) async fn ticker(db: Weak<Database>) {
    loop {
        tokio::time::sleep(TICK).await;
        let Some(db) = db.upgrade() else {
            return;
        };
        if let Err(e) = db.rotate_due().await {
            // Sealed, typically: nothing to do until unsealed.
            tracing::debug!(error = %e, "static role rotations skipped");
        }
        drop::<Arc<Database>>(db);
    }
}

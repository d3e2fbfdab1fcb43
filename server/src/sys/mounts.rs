//! `sys/mounts`, `sys/mounts/:path`, `sys/mounts/:path/tune`, and the same
//! for auth methods under `sys/auth`.

use serde_json::{Map, Value, json};

use super::SysBackend;
use crate::error::{Error, Result};
use crate::fields;
use crate::logical::{Operation, Request, Response};
use crate::router::mounts::MountRequest;
use crate::router::{MountConfig, MountEntry, Table};

fn ttl_secs(data: &Map<String, Value>, field: &str) -> Result<Option<u64>> {
    match data.get(field) {
        // "system" means: fall back to the system default; "" means: leave
        // it as it is (what the CLI sends for a flag it was not given).
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if s == "system" => Ok(Some(0)),
        _ => Ok(fields::duration(data, field)?.map(|d| d.as_secs())),
    }
}

fn apply_config(config: &mut MountConfig, data: &Map<String, Value>, table: Table) -> Result<()> {
    if let Some(v) = ttl_secs(data, "default_lease_ttl")? {
        config.default_lease_ttl = v;
    }
    if let Some(v) = ttl_secs(data, "max_lease_ttl")? {
        config.max_lease_ttl = v;
    }
    if let Some(v) = fields::bool(data, "force_no_cache")? {
        config.force_no_cache = v;
    }
    if let Some(v) = fields::string(data, "listing_visibility")? {
        if !matches!(v.as_str(), "" | "hidden" | "unauth") {
            return Err(Error::invalid("invalid listing_visibility"));
        }
        config.listing_visibility = v;
    }
    if let Some(v) = fields::string(data, "token_type")? {
        if table != Table::Auth {
            return Err(Error::invalid(
                "'token_type' can only be modified on auth mounts",
            ));
        }
        if !matches!(
            v.as_str(),
            "default-service" | "service" | "default" | "batch" | "default-batch" | ""
        ) {
            return Err(Error::invalid(format!(
                "token type {v:?} is not supported by Arca"
            )));
        }
        config.token_type = (!v.is_empty()).then_some(v);
    }
    for (field, target) in [
        (
            "passthrough_request_headers",
            &mut config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &mut config.allowed_response_headers,
        ),
        (
            "audit_non_hmac_request_keys",
            &mut config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &mut config.audit_non_hmac_response_keys,
        ),
    ] {
        if let Some(v) = fields::string_list(data, field)? {
            *target = v;
        }
    }
    Ok(())
}

fn tune_view(entry: &MountEntry, (d, m): (std::time::Duration, std::time::Duration)) -> Response {
    let mut data = Map::new();
    data.insert("default_lease_ttl".into(), json!(d.as_secs()));
    data.insert("description".into(), json!(entry.description));
    data.insert("force_no_cache".into(), json!(entry.config.force_no_cache));
    data.insert("max_lease_ttl".into(), json!(m.as_secs()));
    if entry.table == Table::Auth {
        data.insert(
            "token_type".into(),
            json!(
                entry
                    .config
                    .token_type
                    .as_deref()
                    .unwrap_or("default-service")
            ),
        );
    }
    if let Some(o) = entry.options.as_ref().filter(|o| !o.is_empty()) {
        data.insert("options".into(), json!(o));
    }
    for (k, v) in [
        (
            "passthrough_request_headers",
            &entry.config.passthrough_request_headers,
        ),
        (
            "allowed_response_headers",
            &entry.config.allowed_response_headers,
        ),
        (
            "audit_non_hmac_request_keys",
            &entry.config.audit_non_hmac_request_keys,
        ),
        (
            "audit_non_hmac_response_keys",
            &entry.config.audit_non_hmac_response_keys,
        ),
    ] {
        if !v.is_empty() {
            data.insert(k.into(), json!(v));
        }
    }
    if !entry.config.listing_visibility.is_empty() {
        data.insert(
            "listing_visibility".into(),
            json!(entry.config.listing_visibility),
        );
    }
    Response::data(data).top_level()
}

impl SysBackend {
    pub(super) async fn handle_mounts(&self, req: &Request, rel: &str) -> Result<Response> {
        let sub = rel.strip_prefix("mounts").unwrap_or("");
        // `sys/mounts/auth/<p>/tune` is how the CLI tunes auth methods.
        if let Some(auth) = sub.strip_prefix("/auth/") {
            if auth.ends_with("/tune") {
                return self.table_op(Table::Auth, req, auth).await;
            }
        }
        self.table_op(Table::Mounts, req, sub.trim_start_matches('/'))
            .await
    }

    pub(super) async fn handle_auth(&self, req: &Request, rel: &str) -> Result<Response> {
        let sub = rel.strip_prefix("auth").unwrap_or("");
        self.table_op(Table::Auth, req, sub.trim_start_matches('/'))
            .await
    }

    async fn table_op(&self, table: Table, req: &Request, sub: &str) -> Result<Response> {
        let op = req.operation;
        let write = matches!(op, Operation::Update | Operation::Create);
        if sub.is_empty() {
            return match op {
                Operation::Read => {
                    let data: Map<String, Value> = self
                        .mounts
                        .list(table)
                        .iter()
                        .map(|e| (e.path.clone(), Value::Object(e.to_api())))
                        .collect();
                    Ok(Response::data(data).top_level())
                }
                Operation::List => Err(Error::UnsupportedPath),
                _ => Err(Error::UnsupportedOperation),
            };
        }
        if let Some(path) = sub.strip_suffix("/tune") {
            return match op {
                Operation::Read => {
                    let entry = self.mounts.get(table, path).ok_or_else(|| {
                        Error::invalid(format!(
                            "cannot fetch sysview for path {:?}",
                            match table {
                                Table::Mounts => crate::router::mounts::normalize(path),
                                Table::Auth =>
                                    format!("auth/{}", crate::router::mounts::normalize(path)),
                            }
                        ))
                    })?;
                    let ttls = self.mounts.ttls(&entry);
                    Ok(tune_view(&entry, ttls))
                }
                _ if write => {
                    let data = req.data.clone();
                    self.mounts
                        .tune(table, path, |e| {
                            if let Some(d) = fields::string(&data, "description")? {
                                e.description = d;
                            }
                            if let Some(o) = fields::string_map(&data, "options")? {
                                let mut merged = e.options.clone().unwrap_or_default();
                                if let (Some(old), Some(new)) =
                                    (merged.get("version"), o.get("version"))
                                {
                                    if old.as_str() > new.as_str() {
                                        return Err(Error::invalid(
                                            "cannot downgrade mount from KV version 2 to 1",
                                        ));
                                    }
                                }
                                merged.extend(o);
                                e.options = Some(merged);
                            }
                            apply_config(&mut e.config, &data, table)
                        })
                        .await?;
                    Ok(Response::empty())
                }
                _ => Err(Error::UnsupportedOperation),
            };
        }
        match op {
            Operation::Read => {
                let entry = self.mounts.get(table, sub).ok_or_else(|| match table {
                    Table::Mounts => Error::invalid(format!(
                        "No secret engine mount at {}",
                        crate::router::mounts::normalize(sub)
                    )),
                    Table::Auth => Error::invalid(format!(
                        "No auth engine at {}",
                        crate::router::mounts::normalize(sub)
                    )),
                })?;
                Ok(Response::data(entry.to_api()).top_level())
            }
            _ if write => {
                if sub.ends_with('/') {
                    return Err(Error::invalid("cannot write to a path ending in '/'"));
                }
                let d = &req.data;
                let mount_type = fields::string(d, "type")?
                    .or(fields::string(d, "plugin_name")?)
                    .unwrap_or_default();
                let mut config = MountConfig::default();
                if let Some(c) = fields::object(d, "config")? {
                    apply_config(&mut config, c, table)?;
                }
                let request = MountRequest {
                    mount_type,
                    description: fields::string(d, "description")?.unwrap_or_default(),
                    config,
                    options: fields::string_map(d, "options")?,
                    local: fields::bool(d, "local")?.unwrap_or(false),
                    seal_wrap: fields::bool(d, "seal_wrap")?.unwrap_or(false),
                };
                self.mounts.mount(table, sub, request).await?;
                Ok(Response::empty())
            }
            Operation::Delete => {
                // An auth method's tokens and identity aliases go with it,
                // as in Vault; first, so that a crash half-way leaves the
                // method enabled (and the request can be repeated), never
                // its tokens alive without it.
                let gone = self.mounts.get(table, sub);
                // A secrets engine's leases are revoked first (their
                // database users dropped): if one cannot be, the mount
                // stays, as in Vault.
                if let Some(entry) = gone.as_ref().filter(|e| e.table == Table::Mounts) {
                    let ids = self.leases.ids_under(&entry.route_prefix()).await?;
                    for id in &ids {
                        self.issuers.revoke_lease(id).await.map_err(|e| {
                            Error::invalid(format!(
                                "failed to revoke the leases of {}: {e}",
                                entry.path
                            ))
                        })?;
                    }
                    if !ids.is_empty() {
                        tracing::info!(path = %entry.path, revoked = ids.len(), "secrets engine leases revoked");
                    }
                }
                if let Some(entry) = gone.filter(|e| e.table == Table::Auth && !e.builtin) {
                    let revoked = self.tokens.revoke_issued_by(&entry.accessor).await?;
                    self.identity.drop_mount(&entry.accessor).await?;
                    tracing::info!(path = %entry.path, revoked, "auth method tokens revoked");
                }
                self.mounts.unmount(table, sub).await?;
                Ok(Response::empty())
            }
            _ => Err(Error::UnsupportedOperation),
        }
    }
}

//! `secrets list [-detailed]` and `auth list [-detailed]`: the mounts of
//! a table, as JSON or as the Go CLI's tables.

use std::collections::BTreeMap;

use arca_client::MountOutput;

use super::MountTable;
use crate::cmd::Ctx;
use crate::error::{Context, Result};
use crate::output::Format;
use crate::output::table::table;

/// `list [-detailed]`.
pub(crate) async fn list(ctx: &mut Ctx<'_>, mounts: &MountTable) -> Result<()> {
    ctx.arity(0, Some(0))?;
    let client = ctx.client()?;
    let entries = mounts.api.list(&client).await.context(mounts.listing)?;
    match ctx.format {
        Format::Json => ctx.output_json(&entries),
        Format::Table => {
            let t = if ctx.flags.bool("detailed") {
                detailed(mounts, &entries)
            } else {
                simple(mounts, &entries)
            };
            ctx.out(&t);
        }
    }
    Ok(())
}

fn simple(mounts: &MountTable, entries: &BTreeMap<String, MountOutput>) -> String {
    let rows = entries
        .iter()
        .map(|(path, m)| {
            let mut row = vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                m.description.clone(),
            ];
            if mounts.version_column {
                row.push(m.plugin_version.clone());
            }
            row
        })
        .collect();
    let headers: &[&str] = if mounts.version_column {
        &["Path", "Type", "Accessor", "Description", "Version"]
    } else {
        &["Path", "Type", "Accessor", "Description"]
    };
    table(headers, rows)
}

/// A TTL cell: empty for the types without TTLs, 0 means the system default.
fn ttl(mounts: &MountTable, mount_type: &str, secs: i64) -> String {
    match secs {
        _ if mounts.no_ttl_types.contains(&mount_type) => String::new(),
        0 => "system".into(),
        n => n.to_string(),
    }
}

/// Go's `%v` of a `map[string]string`.
fn options_cell(options: Option<&BTreeMap<String, String>>) -> String {
    let parts: Vec<String> = options
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("map[{}]", parts.join(" "))
}

fn detailed(mounts: &MountTable, entries: &BTreeMap<String, MountOutput>) -> String {
    let (detail_header, detail_cell) = mounts.detail_column;
    let rows = entries
        .iter()
        .map(|(path, m)| {
            vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                ttl(mounts, &m.mount_type, m.config.default_lease_ttl),
                ttl(mounts, &m.mount_type, m.config.max_lease_ttl),
                detail_cell(m),
                if m.local { "local" } else { "replicated" }.to_string(),
                m.seal_wrap.to_string(),
                m.external_entropy_access.to_string(),
                options_cell(m.options.as_ref()),
                m.description.clone(),
                m.uuid.clone(),
                m.plugin_version.clone(),
                m.running_plugin_version.clone(),
                m.running_sha256.clone(),
                m.deprecation_status.clone(),
            ]
        })
        .collect();
    table(
        &[
            "Path",
            "Plugin",
            "Accessor",
            "Default TTL",
            "Max TTL",
            detail_header,
            "Replication",
            "Seal Wrap",
            "External Entropy Access",
            "Options",
            "Description",
            "UUID",
            "Version",
            "Running Version",
            "Running SHA256",
            "Deprecation Status",
        ],
        rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cmd::mounts::{auth, secrets};

    fn mounts() -> BTreeMap<String, MountOutput> {
        serde_json::from_str(r#"{
          "sys/":{"accessor":"system_68c4f278","config":{"default_lease_ttl":0,"force_no_cache":false,"max_lease_ttl":0},"description":"system endpoints used for control, policy and debugging","local":false,"options":null,"running_plugin_version":"v2.7.2+builtin.bao","seal_wrap":true,"type":"system","uuid":"cc81"},
          "bar/":{"accessor":"kv_5c4dd552","config":{"default_lease_ttl":1800,"force_no_cache":false,"max_lease_ttl":7200},"deprecation_status":"supported","description":"desc","local":false,"options":{"version":"2"},"running_plugin_version":"v2.7.2+builtin.bao","type":"kv","uuid":"628b"}
        }"#).unwrap()
    }

    #[test]
    fn simple_table_matches_bao() {
        assert_eq!(
            simple(&secrets::TABLE, &mounts()),
            "Path    Type      Accessor           Description\n\
             ----    ----      --------           -----------\n\
             bar/    kv        kv_5c4dd552        desc\n\
             sys/    system    system_68c4f278    system endpoints used for control, policy and debugging"
        );
    }

    #[test]
    fn detailed_table_matches_bao() {
        let t = detailed(&secrets::TABLE, &mounts());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[2].starts_with("bar/    kv        kv_5c4dd552        1800           7200       false             replicated     false        false                      map[version:2]    desc"), "{t}");
        assert!(
            lines[3].contains("system_68c4f278    n/a            n/a        false"),
            "{t}"
        );
    }

    #[test]
    fn tables_match_bao() {
        let auths: BTreeMap<String, MountOutput> = serde_json::from_str(r#"{"token/":{"accessor":"auth_token_245092ea","config":{"default_lease_ttl":0,"force_no_cache":false,"max_lease_ttl":0,"token_type":"default-service"},"description":"token based credentials","local":false,"options":null,"plugin_version":"","running_plugin_version":"v2.7.2+builtin.bao","type":"token","uuid":"be5e"}}"#).unwrap();
        assert_eq!(
            simple(&auth::TABLE, &auths),
            "Path      Type     Accessor               Description                Version\n\
             ----      ----     --------               -----------                -------\n\
             token/    token    auth_token_245092ea    token based credentials    n/a"
        );
        assert!(detailed(&auth::TABLE, &auths).contains(
            "auth_token_245092ea    system         system     default-service    replicated"
        ));
    }
}

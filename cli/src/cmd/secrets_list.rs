//! `arca secrets list [-detailed]`: the enabled secrets engines.

use std::collections::BTreeMap;

use arca_client::MountOutput;

use super::{Ctx, Spec};
use crate::flags::{Flag, Kind};
use crate::output::Format;
use crate::output::table::table;

pub(crate) const SPEC: Spec = Spec {
    name: "secrets list",
    synopsis: "List enabled secrets engines",
    help: "Usage: arca secrets list [options]\n\n  \
           Lists the enabled secret engines on the Arca server. This command also\n  \
           outputs information about the enabled path including configured TTLs and\n  \
           human-friendly descriptions. A TTL of \"system\" indicates that the system\n  \
           default is in use.\n\n  \
           List all enabled secrets engines:\n\n      \
           $ arca secrets list\n\n  \
           List all enabled secrets engines with detailed output:\n\n      \
           $ arca secrets list -detailed",
    flags: &[DETAILED],
};

/// `-detailed`, shared with `auth list`.
pub(crate) const DETAILED: Flag = Flag::new(
    "detailed",
    Kind::Bool,
    "Print detailed information such as TTLs and replication status about each mount.",
)
.default("false");

pub(crate) async fn run(ctx: &mut Ctx<'_>) -> i32 {
    if !ctx.arity(0, Some(0)) {
        return 1;
    }
    let client = match ctx.client() {
        Ok(c) => c,
        Err(e) => {
            ctx.err(&e);
            return 2;
        }
    };
    let mounts = match client.list_mounts().await {
        Ok(m) => m,
        Err(e) => {
            ctx.err(&format!("Error listing secrets engines: {e}"));
            return 2;
        }
    };
    match ctx.format {
        Format::Json => ctx.output_json(&mounts),
        Format::Table => {
            let t = if ctx.flags.bool("detailed") {
                detailed(&mounts)
            } else {
                simple(&mounts)
            };
            ctx.out(&t);
            0
        }
    }
}

fn simple(mounts: &BTreeMap<String, MountOutput>) -> String {
    let rows = mounts
        .iter()
        .map(|(path, m)| {
            vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                m.description.clone(),
            ]
        })
        .collect();
    table(&["Path", "Type", "Accessor", "Description"], rows)
}

/// A TTL cell: system mounts have none, 0 means the system default.
fn ttl(mount_type: &str, secs: i64) -> String {
    match (mount_type, secs) {
        ("system" | "cubbyhole", _) => String::new(),
        (_, 0) => "system".into(),
        (_, n) => n.to_string(),
    }
}

/// Go's `%v` of a `map[string]string`.
pub(crate) fn options_cell(options: Option<&BTreeMap<String, String>>) -> String {
    let parts: Vec<String> = options
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}:{v}"))
        .collect();
    format!("map[{}]", parts.join(" "))
}

fn detailed(mounts: &BTreeMap<String, MountOutput>) -> String {
    let rows = mounts
        .iter()
        .map(|(path, m)| {
            vec![
                path.clone(),
                m.mount_type.clone(),
                m.accessor.clone(),
                ttl(&m.mount_type, m.config.default_lease_ttl),
                ttl(&m.mount_type, m.config.max_lease_ttl),
                m.config.force_no_cache.to_string(),
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
            "Force No Cache",
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

    fn mounts() -> BTreeMap<String, MountOutput> {
        serde_json::from_str(r#"{
          "sys/":{"accessor":"system_68c4f278","config":{"default_lease_ttl":0,"force_no_cache":false,"max_lease_ttl":0},"description":"system endpoints used for control, policy and debugging","local":false,"options":null,"running_plugin_version":"v2.7.2+builtin.bao","seal_wrap":true,"type":"system","uuid":"cc81"},
          "bar/":{"accessor":"kv_5c4dd552","config":{"default_lease_ttl":1800,"force_no_cache":false,"max_lease_ttl":7200},"deprecation_status":"supported","description":"desc","local":false,"options":{"version":"2"},"running_plugin_version":"v2.7.2+builtin.bao","type":"kv","uuid":"628b"}
        }"#).unwrap()
    }

    #[test]
    fn simple_table_matches_bao() {
        assert_eq!(
            simple(&mounts()),
            "Path    Type      Accessor           Description\n\
             ----    ----      --------           -----------\n\
             bar/    kv        kv_5c4dd552        desc\n\
             sys/    system    system_68c4f278    system endpoints used for control, policy and debugging"
        );
    }

    #[test]
    fn detailed_table_matches_bao() {
        let t = detailed(&mounts());
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[2].starts_with("bar/    kv        kv_5c4dd552        1800           7200       false             replicated     false        false                      map[version:2]    desc"), "{t}");
        assert!(
            lines[3].contains("system_68c4f278    n/a            n/a        false"),
            "{t}"
        );
    }
}
